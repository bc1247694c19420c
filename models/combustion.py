"""Combustion of fuels: stationary and mobile (scope 1) and their upstream emissions (scope 3).

E = FC x NCV x CC x OF x 44/12 per fuel and year, from fuel records (stock balance or quantity
used) or from the store's gas meters (:mod:`models.metered`); an invoice in GJ skips the NCV, a
liquid fuel invoiced by volume goes through its density. Where the methodology counts scope 3,
each fuel adds its upstream line (category 3a). Formulas and sources: ``docs/accounting.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from models.activity_input import ActivityFileError
from models.factors.uncertainty import pct
from models.lines import Line, make_line
from models.records import balance, origin_of, yearly
from workspace.units import CO2_PER_C, apply, parse, quantity

if TYPE_CHECKING:
    from models.inventory import Context

__all__ = ["MOBILE_FUELS", "fuel_lines"]

#: fuels counted as mobile combustion when a record does not say its use
MOBILE_FUELS = ("diesel", "gasoline")


def fuel_lines(ctx: Context, df: pd.DataFrame, store_gas: list[dict]) -> list[Line]:
    rules = ctx.m.rules
    lines = []
    groups = [(k[:4], g) for k, g in yearly(df).groupby(["item", "workshop", "device", "use", "year"], dropna=False,
                                                              sort=True)]
    recs = []
    for (item, ws, dev, use), g in groups:
        if item not in rules.FUEL_FACTOR_PREFIX:
            r0 = g.iloc[0]
            raise ActivityFileError([(str(r0.source_file), int(r0.row), "item",
                                      f"unknown fuel {item!r}; expected one of {', '.join(rules.FUEL_FACTOR_PREFIX)}")])
        unit = g["unit"].iloc[0]
        qty, how = balance(g, unit, f"fuel {item}")
        recs.append(dict(item=item, workshop=None if pd.isna(ws) else ws, device=None if pd.isna(dev) else dev,
                         use=use, period_start=min(g["period_start"]), period_end=max(g["period_end"]),
                         qty=qty, unit=unit, origin=origin_of(g) + f" [{how}]", u_key="activity:fuel_invoice",
                         dq=(None, None)))
    recs.extend(store_gas)
    for rec in recs:
        item = rec["item"]
        prefix = rules.FUEL_FACTOR_PREFIX[item]
        s, e = rec["period_start"], rec["period_end"]
        what = f"{item} {rec['origin']}"
        act = quantity(rec["qty"], rec["unit"])
        if act.dimensionality == parse("GJ").dimensionality:
            # the activity is already heat (an invoice in GJ): E = AD x CC x OF x 44/12, no NCV
            heat_params = []
            formula = "E = AD [GJ] x CC x OF x 44/12"
        elif act.dimensionality == parse("L").dimensionality and item != "natural_gas":
            # a liquid fuel invoiced by volume: mass = V x density, then as usual
            heat_params = [ctx.r.get(f"{item}_density", s, e), ctx.r.get(f"{prefix}_ncv", s, e)]
            formula = "E = V x density x NCV x CC x OF x 44/12"
        else:
            heat_params = [ctx.r.get(f"{prefix}_ncv", s, e)]
            formula = "E = FC x NCV x CC x OF x 44/12"
        cc = ctx.r.get(f"{prefix}_carbon_content", s, e)
        of = ctx.r.get(f"{prefix}_oxidation", s, e)
        params = heat_params + [cc, of]
        t = apply(act, *[(p.id, p.q) for p in params], ("44/12", CO2_PER_C), to="tCO2e", what=what)
        mobile = item in MOBILE_FUELS if rec["use"] not in ("stationary", "mobile") else rec["use"] == "mobile"
        source = "mobile_combustion" if mobile else "stationary_combustion"
        lines.append(make_line(source, item, "CO2", rec, rec["qty"], rec["unit"], rec["origin"], params, t,
                           f"tCO2/{rec['unit']}", pct(ctx.u, rec["u_key"]), [pct(ctx.u, f"factor:{item}")],
                           formula=formula, dq=rec["dq"]))
        if rules.SCOPE3:
            up = ctx.r.get(f"upstream_{item}", s, e, allow_unverified=True)
            tu = apply(act, *[(p.id, p.q) for p in heat_params], (up.id, up.q), to="tCO2e", what=what)
            lines.append(make_line("upstream_fuel", item, "CO2e", rec, rec["qty"], rec["unit"], rec["origin"],
                               heat_params + [up], tu, f"tCO2e/{rec['unit']}", pct(ctx.u, rec["u_key"]),
                               [pct(ctx.u, "factor:upstream")],
                               formula="E = FC x NCV x EF_upstream (scope 3 category 3a)", dq=rec["dq"],
                               scope3_category=3))
    return lines
