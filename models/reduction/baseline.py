"""The plan's baseline read from the accounting engine's inventory (models.inventory): purchased electricity,
natural gas and the other direct emissions of a whole year, so the plan starts from the plant's own books.

Electricity is the activity of the purchased-electricity lines [MWh]; natural gas the gas-combustion lines'
emissions divided by the scenario's gas factor (so the plan's baseline emissions equal the inventory's);
every other scope-1 line (mobile combustion, welding CO2, SF6, refrigerants) is ``other_scope1_t``.
"""

from __future__ import annotations

from dataclasses import dataclass

from workspace.errors import TanjianError
from workspace.units import convert

#: package rule ids of the purchased-electricity lines (others: scope-2 lines whose activity is energy)
ELECTRICITY_RULES = ("purchased_electricity",)


@dataclass(frozen=True)
class InventoryBaseline:
    electricity_mwh: float
    natural_gas_gj: float
    other_scope1_t: float
    source: str


def baseline_from_inventory(inv, gas_factor_t_per_gj: float) -> InventoryBaseline:
    """The baseline figures of an :class:`models.lines.Inventory` (see the module docstring)."""
    days = (inv.period_end - inv.period_start).days + 1
    if days < 365:
        raise TanjianError(f"inventory {inv.period_start}…{inv.period_end}: a baseline needs a whole year "
                           f"({days} days given)")
    elec = gas_t = other = 0.0
    for ln in inv.lines:
        if ln.scope == 2 and (ln.rule in ELECTRICITY_RULES or ln.item == "electricity"):
            elec += convert(ln.quantity, ln.unit, "MWh")
        elif ln.scope == 1 and ln.item == "natural_gas":
            gas_t += ln.tco2e
        elif ln.scope == 1:
            other += ln.tco2e
    return InventoryBaseline(elec, gas_t / gas_factor_t_per_gj if gas_t else 0.0, other,
                             f"inventory {inv.period_start}…{inv.period_end}, methodology {inv.methodology.id} "
                             f"{inv.methodology.version}")
