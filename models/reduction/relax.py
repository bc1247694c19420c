"""An infeasible plan answered: which targets bind, and the cheapest relaxation of each kind.

Two relaxations are solved, each lexicographically (first the least slack, then the least cost with that
slack): (1) the targets' emission slack freed, the budget kept: the tonnes each target misses, i.e. the extra
offsets (net view) or the extra reduction (compliance and market views, where offsets do not count); (2) the
budget's slack freed, the targets kept: the extra capital needed, or "no budget is enough" when even unlimited
capital cannot meet the targets. The answer reads like "the 2030 compliance cap can be met with 20 t more
reduction, or 1.1 M CNY more budget".
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pyomo.environ as pyo

from .inputs import Inputs
from .model import build_model
from .solve import Plan, read_plan, run


@dataclass
class Relaxation:
    """The two relaxations: ``emissions`` / ``budget`` plans (None where that relaxation is infeasible too)
    and the sentences that report them."""

    emissions: Plan | None
    budget: Plan | None
    messages: list[str]

    @property
    def extra_budget(self) -> float | None:
        return None if self.budget is None else sum(v for k, v in self.budget.slack.items()
                                                     if k.startswith("budget"))


def _lexicographic(d: Inputs, free: tuple[str, ...]) -> Plan | None:
    t = time.perf_counter()
    m = build_model(d, free=free)
    build = time.perf_counter() - t
    m.obj.deactivate()
    m.obj_slack = pyo.Objective(expr=m.slack_total, sense=pyo.minimize)
    status, s1, _ = run(m)
    if status != "optimal":
        return None
    best = pyo.value(m.slack_total)
    m.obj_slack.deactivate()
    m.c_slack = pyo.Constraint(expr=m.slack_total <= best * (1 + 1e-7) + 1e-6)
    m.obj.activate()
    status, s2, _ = run(m)
    if status != "optimal":
        return None
    return read_plan(m, d, "relaxed", {"build_s": build, "solve_s": s1 + s2})


def _money(x: float) -> str:
    return f"{x / 1e6:,.2f} M CNY" if abs(x) >= 1e5 else f"{x:,.0f} CNY"


def relax(d: Inputs) -> Relaxation:
    """Both relaxations of an infeasible scenario, with one sentence per target missed (see module docstring)."""
    em = _lexicographic(d, ("emissions",))
    bu = _lexicographic(d, ("budget",))
    msgs = []
    extra = None if bu is None else sum(v for k, v in bu.slack.items() if k.startswith("budget"))
    money = (f"{_money(extra)} more budget" if extra is not None
             else "no budget is enough (even unlimited capital cannot meet it with the levers given)")
    if em is not None:
        for t, s in em.slack.items():
            if s < 0.05:  # solver tolerance, not a shortfall
                continue
            row = em.targets.loc[t]
            what = "more offsets" if row["view"] == "net" else \
                "more reduction (offsets and, in the compliance view, certificates do not count)"
            msgs.append(f"the {t} target can be met with {s:,.1f} t {what}, or {money}")
    elif bu is not None:
        msgs.append(f"the targets can be met with {money}")
    if em is not None and bu is not None:
        binds = bu.binding()
        if binds:
            msgs.append("with the extra budget, these targets bind: " + ", ".join(binds))
    return Relaxation(em, bu, msgs)
