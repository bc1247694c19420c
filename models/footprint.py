"""Product carbon footprint (gate to gate) from a computed inventory.

:func:`footprint` allocates an inventory's scope 1 and location-based scope 2 emissions to the
products made in the period: by workshop, then by produced quantity.
"""

from __future__ import annotations

import math

import pandas as pd

from models.activity_input import ActivityFileError, validate_activity
from models.errors import InventoryError
from models.lines import Inventory
from models.records import in_period
from workspace.units import convert

__all__ = ["footprint"]


def footprint(inv: Inventory, production: pd.DataFrame | None = None) -> pd.DataFrame:
    """Gate-to-gate carbon footprint per unit of each product.

    Allocation: a workshop's lines go to the products made in it; lines with no workshop (plant
    level: heat, switchgear SF6, the part of the main meters not metered by workshop) are first
    spread over the workshops by their share of metered electricity [MWh]. Within a workshop, the
    emissions are split over its products by produced quantity (exact when a workshop makes one
    product). Scope 1 and location-based scope 2 only (scope 3 excluded: gate to gate).

    Parameters
    ----------
    inv : Inventory
        Computed at level ``workshop`` or ``device``.
    production : pandas.DataFrame, optional
        ``kind == "production"`` records (item = product id, quantity, unit, workshop); default: the
        production records of the inventory's activity.

    Returns
    -------
    pandas.DataFrame
        product, workshop(s), quantity, unit, energy_mwh [MWh], tco2e [tCO2e], tco2e_per_unit [tCO2e/unit].
    """
    if production is None:
        a = inv.inputs.get("activity")
        if a is None:
            raise InventoryError("footprint: no production records (give an activity file with kind=production)")
        a = validate_activity(a)
        production = a[a["kind"] == "production"]
    production = in_period(validate_activity(production), inv.period_start, inv.period_end)
    if production.empty:
        raise InventoryError(f"footprint: no production records for {inv.period_start}..{inv.period_end}")
    if production["workshop"].isna().any():
        r = production[production["workshop"].isna()].iloc[0]
        raise ActivityFileError([(str(r.source_file), int(r.row), "workshop",
                                  "production record without workshop: cannot allocate")])
    lines = [ln for ln in inv.lines if ln.scope in (1, 2)]
    elec = {}
    for ln in lines:
        if ln.source == "purchased_electricity" and ln.workshop:
            elec[ln.workshop] = elec.get(ln.workshop, 0.0) + convert(ln.quantity, ln.unit, "MWh")
    made_in = set(production["workshop"])
    e_made = {w: elec.get(w, 0.0) for w in made_in}
    e_sum = sum(e_made.values())
    ws_t = {w: 0.0 for w in made_in}
    unallocated = 0.0
    for ln in lines:
        if ln.workshop in ws_t:
            ws_t[ln.workshop] += ln.tco2e
        elif ln.workshop is None:
            unallocated += ln.tco2e
        else:
            unallocated += ln.tco2e  # a workshop that made nothing in the period: shared like plant lines
    for w in ws_t:
        ws_t[w] += unallocated * (e_made[w] / e_sum if e_sum else 1.0 / len(ws_t))
    rows = {}
    for w, g in production.groupby("workshop"):
        tot_q = g["quantity"].sum()
        for r in g.itertuples():
            share = r.quantity / tot_q if tot_q else 0.0
            row = rows.setdefault(r.item, {"product": r.item, "workshops": set(), "quantity": 0.0, "unit": r.unit,
                                           "energy_mwh": 0.0, "tco2e": 0.0})
            row["workshops"].add(w)
            row["quantity"] += r.quantity
            row["energy_mwh"] += e_made.get(w, 0.0) * share
            row["tco2e"] += ws_t[w] * share
    out = pd.DataFrame([{**r, "workshops": ",".join(sorted(r["workshops"])),
                         "tco2e_per_unit": r["tco2e"] / r["quantity"] if r["quantity"] else math.nan}
                        for r in rows.values()])
    return out.sort_values("product").reset_index(drop=True)
