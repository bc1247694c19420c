"""Sensitivity of the plan to its uncertain prices (a tornado): each price's whole series is scaled to the low
and the high end of its range (the scenario's ``low``/``high``, else half and one and a half times the value),
the plan re-solved, and the change of net present cost and of the main decisions recorded.
"""

from __future__ import annotations

import pandas as pd

from .inputs import Inputs
from .scenario import Scenario
from .solve import Infeasible, solve

#: the prices varied: name -> (scenario attribute path, Inputs field)
PRICES = {
    "carbon price": (("carbon_price",), "carbon_price"),
    "GEC price": (("purchases", "gec", "price"), "gec_price"),
    "PV capex": (("pv", "capex"), "pv_capex"),
    "CCER price": (("purchases", "ccer", "price"), "ccer_price"),
    "green power premium": (("purchases", "green_power", "price"), "gp_premium"),
}


def _price(sc: Scenario, path: tuple[str, ...]):
    obj = sc
    for k in path:
        obj = getattr(obj, k, None)
        if obj is None:
            return None
    return obj


def tornado(sc: Scenario, d: Inputs, *, base_npv: float | None = None) -> pd.DataFrame:
    """Per price: its low and high value, NPV at each [CNY], the swing, and the PV built and offsets bought
    at each end; sorted by swing (largest first). An end where the targets become infeasible shows NaN."""
    base = solve(d).npv if base_npv is None else base_npv
    rows = []
    for name, (path, field) in PRICES.items():
        pr = _price(sc, path)
        if pr is None or pr.value == 0:
            continue
        out = {"price": name, "unit": pr.unit, "value": pr.value}
        for end, v in (("low", pr.low if pr.low is not None else pr.value * 0.5),
                       ("high", pr.high if pr.high is not None else pr.value * 1.5)):
            ratio = v / pr.value
            series = {y: x * ratio for y, x in getattr(d, field).items()}
            try:
                p = solve(d.with_(**{field: series}))
                npv, pv, off = p.npv, p.pv["capacity_kwp"].max(), p.purchases["ccer_t"].sum()
            except Infeasible:
                npv = pv = off = float("nan")
            out.update({end: v, f"npv_{end}": npv, f"pv_kwp_{end}": pv, f"ccer_t_{end}": off})
        out["swing"] = abs(out["npv_high"] - out["npv_low"])
        rows.append(out)
    df = pd.DataFrame(rows)
    if len(df):
        df["npv_base"] = base
        df = df.sort_values("swing", ascending=False).set_index("price")
    return df
