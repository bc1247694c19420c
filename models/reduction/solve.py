"""Solving the reduction model with HiGHS (Pyomo's ``highs`` interface over ``highspy``) and reading the plan
out of it: decisions, pathway by lever, purchases, costs by year and the state of every target.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pandas as pd
import pyomo.environ as pyo

from workspace.errors import TanjianError

from .inputs import Inputs
from .model import VIEWS, build_model

#: a target whose room is below this [t] binds
BINDS_T = 1e-4


class Infeasible(TanjianError):
    """The targets cannot all be met within the budget (``relax`` tells by how much)."""


@dataclass
class Plan:
    """A solved plan. Tables are indexed by year unless said otherwise."""

    name: str
    status: str
    npv: float  #: net present cost [CNY]
    decisions: pd.DataFrame  #: per project: built (year or None), share, capex, saves_mwh, saves_gj
    pathway: pd.DataFrame  #: baseline, reduction by lever, compliance/market/net emissions [t]
    purchases: pd.DataFrame  #: green_power_mwh, gec_mwh, ccer_t
    pv: pd.DataFrame  #: added_kwp, capacity_kwp, self_consumed_mwh, exported_mwh, imported_mwh
    costs: pd.DataFrame  #: capex, opex, energy, purchases, carbon, total, discounted [CNY]
    targets: pd.DataFrame  #: per target: view, year, value, limit, room, binds, slack
    timings: dict[str, float] = field(default_factory=dict)
    slack: dict[str, float] = field(default_factory=dict)

    def built(self) -> dict[str, int | None]:
        """Project id -> the year it is built (None: not built)."""
        return {k: (None if pd.isna(v) else int(v)) for k, v in self.decisions["built"].items()}

    def binding(self) -> list[str]:
        return list(self.targets.index[self.targets["binds"]])


def highs():
    """Pyomo's HiGHS solver (the ``highs`` interface of pyomo.contrib.solver, persistent over highspy)."""
    from pyomo.contrib.solver.common.factory import SolverFactory

    return SolverFactory("highs")


def run(m: pyo.ConcreteModel, *, gap: float = 1e-6, time_limit: float | None = None):
    """Solve ``m``; returns (termination condition text, wall seconds, of them HiGHS's own). Nothing loaded
    when infeasible. The rest of the wall time is Pyomo handing the model to HiGHS."""
    from pyomo.contrib.solver.common.results import TerminationCondition

    opt = highs()
    t = time.perf_counter()
    res = opt.solve(m, load_solutions=False, raise_exception_on_nonoptimal_result=False, rel_gap=gap,
                    time_limit=time_limit)
    dt_ = time.perf_counter() - t
    hs = getattr(res.timing_info, "highs_time", None)
    hs = float(hs) if isinstance(hs, (int, float)) else float("nan")
    tc = res.termination_condition
    if tc == TerminationCondition.convergenceCriteriaSatisfied:
        res.solution_loader.load_vars()
        return "optimal", dt_, hs
    if tc in (TerminationCondition.provenInfeasible, TerminationCondition.infeasibleOrUnbounded):
        return "infeasible", dt_, hs
    if res.solution_loader is not None and res.incumbent_objective is not None:
        res.solution_loader.load_vars()
        return f"stopped ({tc.name}), best found", dt_, hs
    return tc.name, dt_, hs


def _v(x) -> float:
    v = pyo.value(x, exception=False)
    return 0.0 if v is None or abs(v) < 1e-9 else float(v)


def read_plan(m: pyo.ConcreteModel, d: Inputs, status: str, timings: dict | None = None) -> Plan:
    """The plan's tables from a solved model (see :class:`Plan`)."""
    Y = list(m.Y)
    rows = []
    for p in d.projects:
        shares = {y: _v(m.build[p.id, y]) for y in Y}
        built = [y for y in Y if shares[y] > 1e-6]
        share = sum(shares.values())
        rows.append({"project": p.id, "name": p.name, "built": built[0] if built else None,
                     "share": round(share, 6), "capex": p.capex * share, "saves_mwh": p.saves_mwh * share,
                     "saves_gj": p.saves_gj * share, "lifetime": p.lifetime, "integer": p.integer})
    decisions = pd.DataFrame(rows, columns=["project", "name", "built", "share", "capex", "saves_mwh", "saves_gj",
                                            "lifetime", "integer"]).set_index("project")
    decisions["built"] = decisions["built"].astype("Int64")
    pw, pu, pvt, co = [], [], [], []
    for y in Y:
        s1_base = d.gas_gj[y] * d.gas_factor[y] + d.other_t[y]
        fm, fc = d.f_market[y], d.f_compliance[y]
        used, exp = _v(m.pv_used[y]), _v(m.pv_export[y])
        saved_mwh, saved_gj = _v(m.saved_mwh[y]), _v(m.saved_gj[y])
        gp, gec, off = _v(m.gp[y]), _v(m.gec[y]), _v(m.off[y])
        pw.append({"year": y, "baseline_compliance": s1_base + d.electricity_mwh[y] * fc,
                   "baseline_market": s1_base + d.electricity_mwh[y] * fm,
                   "efficiency": saved_mwh * fm + saved_gj * d.gas_factor[y], "pv": used * fm,
                   "green_power": gp * fm, "gec": gec * fm, "offsets": off,
                   **{v: _v(m.e[v, y]) for v in VIEWS}})
        pu.append({"year": y, "green_power_mwh": gp, "gec_mwh": gec, "ccer_t": off})
        pvt.append({"year": y, "added_kwp": _v(m.pv_add[y]), "capacity_kwp": _v(m.pv_cap[y]),
                    "self_consumed_mwh": used, "exported_mwh": exp, "imported_mwh": _v(m.imp[y])})
        proj_opex = sum(p.opex * _v(m.on[p.id, y]) for p in d.projects)
        energy = d.price_factor[y] * (float((d.weight * d.price * d.shape).sum()) * _v(m.enet[y])
                                      - sum(d.weight[h] * d.price[h] * _v(m.pv_self[y, h]) for h in m.HS))
        energy -= (d.export_price[y] * exp) if d.export_price is not None else 0.0
        energy += d.gas_price[y] * (d.gas_gj[y] - saved_gj)
        buy = d.gp_premium[y] * gp + d.gec_price[y] * gec + d.ccer_price[y] * off
        carbon = d.carbon_price[y] * _v(m.e[d.carbon_view, y]) if d.carbon_view != "none" else 0.0
        co.append({"year": y, "capex": _v(m.capex[y]), "opex": proj_opex + d.pv_om[y] * _v(m.pv_cap[y]),
                   "energy": energy, "purchases": buy, "carbon": carbon, "annualised": _v(m.cost[y]),
                   "discount": _v(m.df[y])})
    targets = []
    for t in m.T:
        v, y, ref, limit = m.target_rows[t]
        lim = _v(m.e[v, ref]) if ref is not None else limit
        val, s = _v(m.e[v, y]), _v(m.s_t[t])
        targets.append({"target": t, "view": v, "year": y, "value": val, "limit": lim,
                        "room": lim - (val - s), "binds": abs(lim - (val - s)) <= BINDS_T, "slack": s})
    tdf = pd.DataFrame(targets, columns=["target", "view", "year", "value", "limit", "room", "binds", "slack"]) \
        .set_index("target")
    slack = {t: _v(m.s_t[t]) for t in m.T if _v(m.s_t[t]) > 1e-6}
    slack.update({f"budget {y}": _v(m.s_b[y]) for y in Y if _v(m.s_b[y]) > 1e-3})
    if _v(m.s_bt) > 1e-3:
        slack["budget total"] = _v(m.s_bt)
    return Plan(d.name, status, _v(m.npv), decisions, pd.DataFrame(pw).set_index("year"),
                pd.DataFrame(pu).set_index("year"), pd.DataFrame(pvt).set_index("year"),
                pd.DataFrame(co).set_index("year"), tdf, timings or {}, slack)


def solve(d: Inputs, *, gap: float = 1e-6, time_limit: float | None = None) -> Plan:
    """Build and solve; :class:`Infeasible` when the targets cannot be met (see :mod:`.relax`)."""
    t = time.perf_counter()
    m = build_model(d)
    build = time.perf_counter() - t
    status, secs, hs = run(m, gap=gap, time_limit=time_limit)
    if status == "infeasible":
        raise Infeasible(f"scenario {d.name!r}: the targets cannot all be met within the budget "
                         f"(run the relaxation: tanjian plan solve --relax)")
    if status not in ("optimal",) and not status.startswith("stopped"):
        raise TanjianError(f"scenario {d.name!r}: HiGHS ended with {status}")
    return read_plan(m, d, status, {"build_s": build, "solve_s": secs, "highs_s": hs})
