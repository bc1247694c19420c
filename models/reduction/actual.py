"""The closed loop: an accepted plan's purchases against the purchases actually made (the activity records of
data-collection management: green power contracts, certificates, offsets, with their evidence), per year, and
re-planning from the actual state (what was bought and built is fixed, the rest re-optimised).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from workspace.units import convert

from .inputs import Inputs
from .model import build_model
from .solve import Infeasible, Plan, read_plan, run

#: activity kind -> (plan column, unit)
KINDS = {"green_power": ("green_power_mwh", "MWh"), "gec": ("gec_mwh", "MWh"), "offset": ("ccer_t", "t")}


def actual_purchases(activity: pd.DataFrame) -> pd.DataFrame:
    """Purchases per year (of each record's period end) from activity records (columns kind, period_end,
    quantity, unit): green_power_mwh, gec_mwh, ccer_t."""
    rows = []
    for _, r in activity[activity["kind"].isin(KINDS)].iterrows():
        col, unit = KINDS[r["kind"]]
        u = "t" if str(r["unit"]).lower() in ("tco2e", "tco2", "t") else str(r["unit"])
        rows.append({"year": pd.Timestamp(r["period_end"]).year, "col": col,
                     "value": convert(float(r["quantity"]), u, unit)})
    df = pd.DataFrame(rows, columns=["year", "col", "value"])
    out = df.pivot_table(index="year", columns="col", values="value", aggfunc="sum", fill_value=0.0)
    return out.reindex(columns=[c for c, _ in KINDS.values()], fill_value=0.0)


def plan_vs_actual(plan: Plan, activity: pd.DataFrame) -> pd.DataFrame:
    """Per year and purchase: planned, actual and actual - planned (years of the plan only)."""
    act = actual_purchases(activity).reindex(plan.purchases.index, fill_value=0.0)
    cols = {}
    for c in act.columns:
        cols[(c, "planned")] = plan.purchases[c]
        cols[(c, "actual")] = act[c]
        cols[(c, "difference")] = act[c] - plan.purchases[c]
    return pd.DataFrame(cols)


@dataclass
class State:
    """What has happened up to and including ``through``: purchases per year, projects built (id -> year),
    PV added per year [kWp]."""

    through: int
    purchases: pd.DataFrame
    built: dict[str, int] = field(default_factory=dict)
    pv_added: dict[int, float] = field(default_factory=dict)


def replan(d: Inputs, state: State) -> Plan:
    """Re-optimise the years after ``state.through`` with the years up to it fixed to what happened."""
    m = build_model(d)
    for y in m.Y:
        if y > state.through:
            continue
        row = state.purchases.loc[y] if y in state.purchases.index else None
        m.gp[y].fix(0.0 if row is None else float(row.get("green_power_mwh", 0.0)))
        m.gec[y].fix(0.0 if row is None else float(row.get("gec_mwh", 0.0)))
        m.off[y].fix(0.0 if row is None else float(row.get("ccer_t", 0.0)))
        m.pv_add[y].fix(state.pv_added.get(y, 0.0))
        for p in m.P:
            m.build[p, y].fix(1.0 if state.built.get(p) == y else 0.0)
    status, secs, _ = run(m)
    if status != "optimal":
        raise Infeasible(f"scenario {d.name!r}: from the actual state through {state.through} the targets "
                         f"cannot all be met ({status})")
    return read_plan(m, d, "replanned", {"solve_s": secs})
