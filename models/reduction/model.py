"""The reduction plan as a Pyomo model, built from small ``define_*`` functions (the shape of PyPSA's
optimisation code): each adds its named sets, variables, constraints and cost terms to one ConcreteModel.

Units: energy MWh, gas GJ, emissions tCO2(e), money CNY, PV capacity kWp. Years ``Y``, projects ``P``,
representative hours ``H`` (each standing for ``weight[h]`` hours of the year).

The three views of emissions, per year (see docs/reduction.md):

* compliance = direct + imported electricity x the compliance grid factor (green power and certificates are
  not deducted; self-consumed PV counts zero, as the Chinese reporting rules say);
* market = direct + (imported electricity - green power - certificates) x the market factor (GHG Protocol
  market-based scope 2);
* net = market - offsets (CCER), never netted into the other two.

Targets are constraints on one view each; every target and the budget have a slack variable, fixed at zero
unless :func:`define_slack` frees it for the relaxation (:mod:`models.reduction.relax`).
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from .inputs import Inputs

VIEWS = ("compliance", "market", "net")


def crf(rate: float, years: int) -> float:
    """Capital recovery factor: the yearly payment that repays 1 over ``years`` at ``rate``."""
    return 1.0 / years if rate == 0 else rate / (1.0 - (1.0 + rate) ** -years)


def define_sets(m: pyo.ConcreteModel, d: Inputs) -> None:
    """Years, projects, representative hours, and the hours where PV can produce at all."""
    m.Y = pyo.Set(initialize=d.years, ordered=True)
    m.P = pyo.Set(initialize=[p.id for p in d.projects], ordered=True)
    m.H = pyo.RangeSet(0, len(d.weight) - 1)
    m.HS = pyo.Set(initialize=[int(h) for h in np.flatnonzero(d.pv_yield > 0)], ordered=True)
    first = d.years[0]
    m.df = pyo.Param(m.Y, initialize={y: (1 + d.discount_rate) ** -(y - first) for y in d.years})


def define_variables(m: pyo.ConcreteModel, d: Inputs) -> None:
    """Electricity after projects, imports, and the emissions of each view, per year."""
    m.enet = pyo.Var(m.Y, doc="electricity used after efficiency projects [MWh]")
    m.imp = pyo.Var(m.Y, within=pyo.NonNegativeReals, doc="electricity imported from the grid [MWh]")
    m.s1 = pyo.Var(m.Y, doc="direct emissions [t]")
    m.e = pyo.Var(VIEWS, m.Y, doc="emissions by view [t]")


def define_projects(m: pyo.ConcreteModel, d: Inputs) -> None:
    """Efficiency projects: build[p, y] (binary where all-or-nothing), active while within their lifetime."""
    proj = {p.id: p for p in d.projects}
    m.proj_data = proj

    def dom(_m, p, y):
        return pyo.Binary if proj[p].integer else pyo.UnitInterval

    m.build = pyo.Var(m.P, m.Y, within=dom, doc="project p built (share built) in year y")
    for p in m.P:
        for y in m.Y:
            if y < proj[p].earliest:
                m.build[p, y].fix(0)
    m.once = pyo.Constraint(m.P, rule=lambda _m, p: sum(_m.build[p, y] for y in _m.Y) <= 1)

    def active(_m, p, y):
        life = proj[p].lifetime
        return sum(_m.build[p, b] for b in _m.Y if b <= y and y - b < life)

    m.on = pyo.Expression(m.P, m.Y, rule=active)
    m.saved_mwh = pyo.Expression(m.Y, rule=lambda _m, y: sum(proj[p].saves_mwh * _m.on[p, y] for p in _m.P))
    m.saved_gj = pyo.Expression(m.Y, rule=lambda _m, y: sum(proj[p].saves_gj * _m.on[p, y] for p in _m.P))
    m.c_enet = pyo.Constraint(m.Y, rule=lambda _m, y: _m.enet[y] == d.electricity_mwh[y] - _m.saved_mwh[y])


def define_pv(m: pyo.ConcreteModel, d: Inputs) -> None:
    """Rooftop PV: capacity added per year up to the roof; self-consumption per representative hour up to the
    load of that hour (the year's electricity after projects x the hour's share), surplus exported if priced."""
    m.pv_add = pyo.Var(m.Y, within=pyo.NonNegativeReals, doc="PV capacity added [kWp]")
    if d.pv_max_per_year is not None:
        for y in m.Y:
            m.pv_add[y].setub(d.pv_max_per_year)
    life, deg = d.pv_lifetime, d.pv_degradation
    m.pv_cap = pyo.Var(m.Y, within=pyo.NonNegativeReals, bounds=(0, d.roof_kwp), doc="PV capacity [kWp]")
    m.pv_eff = pyo.Var(m.Y, within=pyo.NonNegativeReals, doc="PV capacity after degradation [kWp]")
    m.c_pv_cap = pyo.Constraint(m.Y, rule=lambda _m, y: _m.pv_cap[y] == sum(
        _m.pv_add[b] for b in _m.Y if b <= y and y - b < life))
    m.c_pv_eff = pyo.Constraint(m.Y, rule=lambda _m, y: _m.pv_eff[y] == sum(
        _m.pv_add[b] * (1 - deg) ** (y - b) for b in _m.Y if b <= y and y - b < life))
    m.pv_self = pyo.Var(m.Y, m.HS, within=pyo.NonNegativeReals, doc="PV used on site in hour h [MWh]")
    shape, yld = d.shape, d.pv_yield
    m.c_pv_load = pyo.Constraint(m.Y, m.HS, rule=lambda _m, y, h: _m.pv_self[y, h] <= shape[h] * _m.enet[y])
    if d.export_price is not None:
        m.pv_exp = pyo.Var(m.Y, m.HS, within=pyo.NonNegativeReals, doc="PV exported in hour h [MWh]")
        m.c_pv_gen = pyo.Constraint(m.Y, m.HS, rule=lambda _m, y, h:
                                    _m.pv_self[y, h] + _m.pv_exp[y, h] <= yld[h] * _m.pv_eff[y])
        m.pv_export = pyo.Expression(m.Y, rule=lambda _m, y: sum(d.weight[h] * _m.pv_exp[y, h] for h in _m.HS))
    else:
        m.c_pv_gen = pyo.Constraint(m.Y, m.HS, rule=lambda _m, y, h: _m.pv_self[y, h] <= yld[h] * _m.pv_eff[y])
        m.pv_export = pyo.Expression(m.Y, rule=lambda _m, y: 0.0)
    m.pv_used = pyo.Expression(m.Y, rule=lambda _m, y: sum(d.weight[h] * _m.pv_self[y, h] for h in _m.HS))
    m.c_import = pyo.Constraint(m.Y, rule=lambda _m, y: _m.imp[y] == _m.enet[y] - _m.pv_used[y])


def define_purchases(m: pyo.ConcreteModel, d: Inputs) -> None:
    """Green power contracts and certificates (together at most the imports), CCER offsets (at most their
    availability and the share cap of market-based emissions)."""
    m.gp = pyo.Var(m.Y, within=pyo.NonNegativeReals, bounds=(0, d.gp_max), doc="green power [MWh]")
    m.gec = pyo.Var(m.Y, within=pyo.NonNegativeReals, bounds=(0, d.gec_max), doc="certificates [MWh]")
    m.off = pyo.Var(m.Y, within=pyo.NonNegativeReals, bounds=(0, d.ccer_max), doc="offsets [t]")
    m.c_claims = pyo.Constraint(m.Y, rule=lambda _m, y: _m.gp[y] + _m.gec[y] <= _m.imp[y])
    if d.ccer_share is not None:
        m.c_offset_share = pyo.Constraint(m.Y, rule=lambda _m, y: _m.off[y] <= d.ccer_share * _m.e["market", y])


def define_emissions(m: pyo.ConcreteModel, d: Inputs) -> None:
    """The three views (see the module docstring)."""
    m.c_s1 = pyo.Constraint(m.Y, rule=lambda _m, y: _m.s1[y] == (d.gas_gj[y] - _m.saved_gj[y]) * d.gas_factor[y]
                            + d.other_t[y])
    m.c_e_comp = pyo.Constraint(m.Y, rule=lambda _m, y: _m.e["compliance", y]
                                == _m.s1[y] + d.f_compliance[y] * _m.imp[y])
    m.c_e_mkt = pyo.Constraint(m.Y, rule=lambda _m, y: _m.e["market", y]
                               == _m.s1[y] + d.f_market[y] * (_m.imp[y] - _m.gp[y] - _m.gec[y]))
    m.c_e_net = pyo.Constraint(m.Y, rule=lambda _m, y: _m.e["net", y] == _m.e["market", y] - _m.off[y])


def define_slack(m: pyo.ConcreteModel, d: Inputs, free: tuple[str, ...] = ()) -> None:
    """Slack variables of the targets [t] and the budget [CNY]; fixed at zero unless named in ``free``
    ("emissions", "budget")."""
    m.T = pyo.Set(initialize=target_names(d), ordered=True)
    m.s_t = pyo.Var(m.T, within=pyo.NonNegativeReals, doc="emissions above a target [t]")
    m.s_b = pyo.Var(m.Y, within=pyo.NonNegativeReals, doc="capex above the year's budget [CNY]")
    m.s_bt = pyo.Var(within=pyo.NonNegativeReals, doc="capex above the total budget [CNY]")
    if "emissions" not in free:
        for t in m.T:
            m.s_t[t].fix(0)
    if "budget" not in free:
        for y in m.Y:
            m.s_b[y].fix(0)
        m.s_bt.fix(0)


def target_names(d: Inputs) -> list[str]:
    """Names of the target constraints, e.g. ``cap 2030 compliance``, ``peak 2028 market``, ``neutral 2035 net``."""
    out = [f"cap {y} {v}" for y, v, _ in d.caps]
    if d.peak:
        out += [f"peak {d.peak[0]} {d.peak[1]} ({y})" for y in d.years if y > d.peak[0]]
    if d.neutrality:
        out += [f"neutral {d.neutrality[0]} {d.neutrality[1]} ({y})" for y in d.years if y >= d.neutrality[0]]
    return out


def define_targets(m: pyo.ConcreteModel, d: Inputs) -> None:
    """Caps per year, the peak year (no later year above it) and neutrality (zero from its year on)."""
    rows = {}
    for y, v, cap in d.caps:
        rows[f"cap {y} {v}"] = (v, y, None, cap)
    if d.peak:
        py, pv = d.peak
        for y in d.years:
            if y > py:
                rows[f"peak {py} {pv} ({y})"] = (pv, y, py, 0.0)
    if d.neutrality:
        ny, nv = d.neutrality
        for y in d.years:
            if y >= ny:
                rows[f"neutral {ny} {nv} ({y})"] = (nv, y, None, 0.0)
    m.target_rows = rows

    def rule(_m, t):
        v, y, ref, limit = rows[t]
        rhs = _m.e[v, ref] if ref is not None else limit
        return _m.e[v, y] - _m.s_t[t] <= rhs

    m.c_target = pyo.Constraint(m.T, rule=rule)


def define_budget(m: pyo.ConcreteModel, d: Inputs) -> None:
    """Capital spent per year (projects and PV, in the year built) within the year's and the total budget."""
    proj = m.proj_data
    m.capex = pyo.Expression(m.Y, rule=lambda _m, y: sum(proj[p].capex * _m.build[p, y] for p in _m.P)
                             + d.pv_capex[y] * _m.pv_add[y])
    years = [y for y in d.years if d.budget.get(y) is not None]
    m.c_budget = pyo.Constraint(years, rule=lambda _m, y: _m.capex[y] <= d.budget[y] + _m.s_b[y])
    if d.budget_total is not None:
        m.c_budget_total = pyo.Constraint(expr=sum(m.capex[y] for y in m.Y) <= d.budget_total + m.s_bt)


def define_objective(m: pyo.ConcreteModel, d: Inputs) -> None:
    """Net present cost: capital as annuities over each asset's lifetime (so an asset built late is not charged
    for years past the horizon), running costs, the electricity bill at the time-of-use prices, gas, purchases
    and the internal carbon price on its view."""
    r, proj = d.discount_rate, m.proj_data
    avg_price = float((d.weight * d.price * d.shape).sum())  # CNY/MWh of the load's hourly shape
    pv_ann = crf(r, d.pv_lifetime)
    life = d.pv_lifetime

    def year_cost(_m, y):
        projects = sum((proj[p].capex * crf(r, proj[p].lifetime) + proj[p].opex) * _m.on[p, y] for p in _m.P)
        pv = sum(pv_ann * d.pv_capex[b] * _m.pv_add[b] for b in _m.Y if b <= y and y - b < life) \
            + d.pv_om[y] * _m.pv_cap[y]
        bill = d.price_factor[y] * (avg_price * _m.enet[y]
                                    - sum(d.weight[h] * d.price[h] * _m.pv_self[y, h] for h in _m.HS))
        if d.export_price is not None:
            bill = bill - d.export_price[y] * _m.pv_export[y]
        gas = d.gas_price[y] * (d.gas_gj[y] - _m.saved_gj[y])
        buy = d.gp_premium[y] * _m.gp[y] + d.gec_price[y] * _m.gec[y] + d.ccer_price[y] * _m.off[y]
        carbon = d.carbon_price[y] * _m.e[d.carbon_view, y] if d.carbon_view != "none" else 0.0
        return projects + pv + bill + gas + buy + carbon

    m.cost = pyo.Expression(m.Y, rule=year_cost)
    m.npv = pyo.Expression(expr=sum(m.df[y] * m.cost[y] for y in m.Y))
    m.slack_total = pyo.Expression(expr=sum(m.s_t[t] for t in m.T) + sum(m.s_b[y] for y in m.Y) + m.s_bt)
    m.obj = pyo.Objective(expr=m.npv, sense=pyo.minimize)


def build_model(d: Inputs, *, free: tuple[str, ...] = ()) -> pyo.ConcreteModel:
    """The whole model: every ``define_*`` in order (``free``: slack kinds to free, see :func:`define_slack`)."""
    m = pyo.ConcreteModel(name=f"reduction:{d.name}")
    define_sets(m, d)
    define_variables(m, d)
    define_projects(m, d)
    define_pv(m, d)
    define_purchases(m, d)
    define_emissions(m, d)
    define_slack(m, d, free)
    define_targets(m, d)
    define_budget(m, d)
    define_objective(m, d)
    return m
