"""What a plan is worth in cash: the do-nothing costs, the plan's cash flow against them year by year with the
year it pays back, and each project's simple payback.
"""

from __future__ import annotations

import pandas as pd

from .inputs import Inputs
from .solve import Plan


def baseline_costs(d: Inputs) -> pd.DataFrame:
    """Doing nothing, per year: energy bill (electricity at the tariff's load-weighted price, gas) and the
    internal carbon price on its view [CNY]."""
    avg = float((d.weight * d.price * d.shape).sum())
    rows = []
    for y in d.years:
        s1 = d.gas_gj[y] * d.gas_factor[y] + d.other_t[y]
        view = {"compliance": s1 + d.electricity_mwh[y] * d.f_compliance[y],
                "market": s1 + d.electricity_mwh[y] * d.f_market[y]}
        view["net"] = view["market"]
        carbon = d.carbon_price[y] * view[d.carbon_view] if d.carbon_view != "none" else 0.0
        rows.append({"year": y, "energy": d.price_factor[y] * avg * d.electricity_mwh[y] + d.gas_price[y] * d.gas_gj[y],
                     "carbon": carbon})
    return pd.DataFrame(rows).set_index("year")


def cash_flow(plan: Plan, d: Inputs) -> pd.DataFrame:
    """Per year: capex, running savings against doing nothing (energy, carbon, less opex and purchases), net
    cash and its cumulative sum [CNY]."""
    b = baseline_costs(d)
    c = plan.costs
    out = pd.DataFrame(index=c.index)
    out["capex"] = c["capex"]
    out["savings"] = (b["energy"] + b["carbon"]) - (c["opex"] + c["energy"] + c["purchases"] + c["carbon"])
    out["net"] = out["savings"] - out["capex"]
    out["cumulative"] = out["net"].cumsum()
    return out


def payback_year(plan: Plan, d: Inputs) -> int | None:
    """The first year whose cumulative net cash is not negative after capital was spent (None: not within the
    horizon)."""
    cf = cash_flow(plan, d)
    spent = cf.index[cf["capex"] > 0]
    if len(spent) == 0:
        return None
    after = cf.loc[cf.index >= spent[0]]
    ok = after.index[after["cumulative"] >= 0]
    return int(ok[0]) if len(ok) else None


def project_payback(d: Inputs) -> pd.DataFrame:
    """Simple payback of each project [years]: capex / (energy cost saved in the first year - opex)."""
    y = d.years[0]
    avg = float((d.weight * d.price * d.shape).sum()) * d.price_factor[y]
    rows = []
    for p in d.projects:
        saved = p.saves_mwh * avg + p.saves_gj * d.gas_price[y] - p.opex
        rows.append({"project": p.id, "capex": p.capex, "saving_per_year": saved,
                     "payback_years": p.capex / saved if saved > 0 else float("inf")})
    return pd.DataFrame(rows).set_index("project")
