"""The marginal abatement cost curve: each lever's yearly abatement [t] and its cost per tonne [CNY/t], cheapest
first, from the inputs of the horizon's first year (a static curve: what the optimiser chooses over time is
the plan; the curve explains the order).

Cost per tonne = (capital as an annuity over the lifetime + running cost - energy cost saved) / tonnes a year,
in the market-based view (the view where every lever counts; compliance-view abatement is given too: zero for
green power and certificates). PV is one step at the roof's full size, valued at its self-consumption in the
representative hours at the time-of-use prices.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .inputs import Inputs
from .model import crf


def macc(d: Inputs) -> pd.DataFrame:
    """One row per lever: abatement_t (market view, per year), compliance_t, cost_per_t, potential_cost
    (CNY/yr), then the cumulative abatement; sorted by cost per tonne."""
    y = d.years[0]
    fm, fc, fg = d.f_market[y], d.f_compliance[y], d.gas_factor[y]
    avg = float((d.weight * d.price * d.shape).sum()) * d.price_factor[y]
    rows = []
    for p in d.projects:
        t = p.saves_mwh * fm + p.saves_gj * fg
        tc = p.saves_mwh * fc + p.saves_gj * fg
        cost = p.capex * crf(d.discount_rate, p.lifetime) + p.opex - p.saves_mwh * avg - p.saves_gj * d.gas_price[y]
        rows.append({"lever": p.id, "kind": "efficiency", "abatement_t": t, "compliance_t": tc, "cost": cost})
    if d.roof_kwp > 0:
        load = d.shape * d.electricity_mwh[y]
        used = np.minimum(load, d.pv_yield * d.roof_kwp)
        mwh = float((d.weight * used).sum())
        value = float((d.weight * d.price * used).sum()) * d.price_factor[y]
        cost = d.roof_kwp * (d.pv_capex[y] * crf(d.discount_rate, d.pv_lifetime) + d.pv_om[y]) - value
        rows.append({"lever": "pv", "kind": "pv", "abatement_t": mwh * fm, "compliance_t": mwh * fc, "cost": cost})
    imports = d.electricity_mwh[y]
    if d.gp_max:
        mwh = min(d.gp_max, imports)
        rows.append({"lever": "green_power", "kind": "purchase", "abatement_t": mwh * fm, "compliance_t": 0.0,
                     "cost": mwh * d.gp_premium[y]})
    if d.gec_max is None or d.gec_max > 0:
        mwh = imports if d.gec_max is None else min(d.gec_max, imports)
        rows.append({"lever": "gec", "kind": "purchase", "abatement_t": mwh * fm, "compliance_t": 0.0,
                     "cost": mwh * d.gec_price[y]})
    if d.ccer_max is None or d.ccer_max > 0:
        t = d.ccer_max if d.ccer_max is not None else imports * fm
        rows.append({"lever": "ccer", "kind": "offset", "abatement_t": t, "compliance_t": 0.0,
                     "cost": t * d.ccer_price[y]})
    df = pd.DataFrame(rows, columns=["lever", "kind", "abatement_t", "compliance_t", "cost"])
    df["cost_per_t"] = df["cost"] / df["abatement_t"].where(df["abatement_t"] > 0)
    df = df.sort_values(["cost_per_t", "lever"]).set_index("lever")
    df["cumulative_t"] = df["abatement_t"].cumsum()
    return df
