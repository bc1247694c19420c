"""Process and fugitive emissions (scope 1): welding CO2 and fluorinated gases.

Welding: E = (opening + purchased - closing - sold) x CO2 mass share of the gas. Refrigerants,
SF6 in switchgear and F-gases in products: E = (opening + purchased - closing - sold -
recovered) x GWP (the methodology's GWP set); Montreal Protocol gases are memo items only.
Formulas and sources: ``docs/accounting.md``.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

import pandas as pd

from models.activity_input import ActivityFileError
from models.factors.use import FactorUse
from models.factors.uncertainty import pct
from models.lines import Line, make_line
from models.records import balance, origin_of, yearly
from models.rounding import dec
from workspace.units import apply, quantity

if TYPE_CHECKING:
    from models.context import Context

__all__ = ["MONTREAL_PREFIXES", "fgas_lines", "gwp_row", "welding_lines"]

log = logging.getLogger(__name__)


def gwp_row(ctx: Context, gas: str, start, end) -> FactorUse:
    """The GWP row of ``gas`` in the methodology's GWP set, for [start, end]."""
    return ctx.r.get(f"gwp_{ctx.m.rules.GWP_SET}_{gas}", start, end, "GLOBAL")



def welding_lines(ctx: Context, df: pd.DataFrame) -> list[Line]:
    lines = []
    for (item, ws, dev, _y), g in yearly(df).groupby(["item", "workshop", "device", "year"], dropna=False, sort=True):
        used, how = balance(g, "kg", f"welding gas {item}")
        s, e = min(g["period_start"]), max(g["period_end"])
        shares = {float(x) for x in g["co2_share"] if not math.isnan(x)}
        rec = dict(workshop=None if pd.isna(ws) else ws, device=None if pd.isna(dev) else dev, period_start=s,
                   period_end=e)
        if len(shares) > 1:
            r0 = g.iloc[0]
            raise ActivityFileError([(str(r0.source_file), int(r0.row), "co2_share",
                                      f"welding gas {item}: different co2_share values {sorted(shares)} in one group")])
        if shares:
            share = shares.pop()
            p = FactorUse(f"record:co2_share:{item}", "co2_share", share, "1", f"activity record {origin_of(g)}",
                          s, e, "record")
        else:
            p = ctx.r.get(f"{ctx.m.rules.WELDING_SHARE_PREFIX}{item}", s, e)
        t = apply(quantity(used, "kg"), (p.id, p.q), ("CO2 mass", quantity(1.0, "tCO2e/t")), to="tCO2e",
                  what=f"welding gas {item} {origin_of(g)}")
        origin = origin_of(g) + f" [{how}]"
        lines.append(make_line("process_welding_co2", item, "CO2", rec, used, "kg", origin, [p], t, "tCO2/kg",
                           pct(ctx.u, "activity:stock_balance"), [pct(ctx.u, "factor:welding_share")],
                           formula="E = (opening + purchased - closing - sold) x CO2 mass share"))
    return lines



#: ozone-depleting gases (Montreal Protocol): outside the Kyoto basket, reported as memo items only
MONTREAL_PREFIXES = ("cfc_", "hcfc_", "halon_")


def fgas_lines(ctx: Context, df: pd.DataFrame, memo: list[dict]) -> list[Line]:
    lines = []
    for (item, use, ws, dev, _y), g in yearly(df).groupby(["item", "use", "workshop", "device", "year"], dropna=False,
                                                         sort=True):
        used, how = balance(g, "kg", f"{item} ({use})", recovered=True)
        if str(item).startswith(MONTREAL_PREFIXES):
            log.warning("%s: %.3f kg emitted is a Montreal Protocol gas, outside the Kyoto basket: memo item only",
                        item, used)
            memo.append({"item": item, "quantity": dec(used, 6), "unit": "kg", "origin": origin_of(g) + f" [{how}]",
                         "note": "Montreal Protocol gas: not part of scopes 1-3 (GHG Protocol: report separately)"})
            continue
        s, e = min(g["period_start"]), max(g["period_end"])
        rec = dict(workshop=None if pd.isna(ws) else ws, device=None if pd.isna(dev) else dev, period_start=s,
                   period_end=e)
        gwp = gwp_row(ctx, item, s, e)
        t = apply(quantity(used, "kgGHG"), (gwp.id, gwp.q), to="tCO2e", what=f"{item} {origin_of(g)}")
        if use == "product":
            source = "process_fgas_products"
        else:
            source = "fugitive_sf6_switchgear" if item == "sf6" else "fugitive_refrigerant"
        lines.append(make_line(source, item, item.upper(), rec, used, "kg", origin_of(g) + f" [{how}]", [gwp], t,
                           "tCO2e/kg", pct(ctx.u, "activity:stock_balance"), [pct(ctx.u, "factor:gwp")], gwp=gwp.value,
                           formula="E = (opening + purchased - closing - sold - recovered) x GWP"))
    return lines
