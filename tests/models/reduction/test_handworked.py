"""Small reduction plans whose optimum is worked out by hand (arithmetic in each test's comment).

One year (2026), discount rate 0 (so a project's yearly capital charge is capex / lifetime), 1,000 MWh of
electricity at a flat 500 CNY/MWh, both grid factors 0.5 t/MWh: 500 t before anything is done.
Project A saves 200 MWh for 100,000 CNY over 10 years (10,000 CNY/yr, earns 100,000 CNY/yr: always worth it);
project B saves 100 MWh for 2,000,000 CNY over 10 years (200,000 CNY/yr for 50,000 CNY/yr: only if forced).
"""

from __future__ import annotations

import copy

import pandas as pd
import pytest

from models.reduction.inputs import build_inputs
from models.reduction.relax import relax
from models.reduction.scenario import Scenario
from models.reduction.solve import Infeasible, solve


def P(value, unit="CNY"):
    return {"value": value, "unit": unit, "source": "hand-worked test", "date": "2026"}


BASE = {"schema": "tanjian.reduction-scenario/1", "name": "hand", "horizon": {"first": 2026, "last": 2026},
        "discount_rate": 0.0,
        "baseline": {"year": 2026, "electricity_mwh": 1000, "source": "hand-worked"},
        "grid": {"compliance_factor": P(0.5, "t/MWh"), "market_factor": P(0.5, "t/MWh")},
        "electricity_price": P(500, "CNY/MWh"),
        "projects": [{"id": "A", "saves_mwh": 200, "capex": 100000, "lifetime": 10},
                     {"id": "B", "saves_mwh": 100, "capex": 2000000, "lifetime": 10}],
        "purchases": {"gec": {"price": P(10, "CNY/MWh"), "max_per_year": 10000}}}


def scenario(**changes) -> Scenario:
    doc = copy.deepcopy(BASE)
    for k, v in changes.items():
        doc[k] = v
    return Scenario.model_validate(doc)


def test_market_cap_met_with_certificates_one_project_built_one_not():
    # cap 350 t market-based. A: 500 - 0.5 x 200 = 400 t. The last 50 t: certificates at 10 CNY/MWh are
    # 10 / 0.5 = 20 CNY/t (100 MWh = 1,000 CNY); B would cost 200,000 - 50,000 = 150,000 CNY/yr. So A + 100 GEC:
    # NPV = bill (1000 - 200) x 500 = 400,000 + A 100,000 / 10 = 10,000 + 100 x 10 = 1,000 -> 411,000 CNY.
    p = solve(build_inputs(scenario(targets={"caps": [{"year": 2026, "view": "market", "max_t": 350}]})))
    assert p.npv == pytest.approx(411_000, abs=1e-3)
    assert p.decisions.loc["A", "built"] == 2026 and p.decisions.loc["A", "share"] == 1
    assert pd.isna(p.decisions.loc["B", "built"]) and p.decisions.loc["B", "share"] == 0
    assert p.purchases.loc[2026, "gec_mwh"] == pytest.approx(100)
    assert p.pathway.loc[2026, "market"] == pytest.approx(350)
    assert p.pathway.loc[2026, "compliance"] == pytest.approx(400)  # certificates do not count there
    assert p.binding() == ["cap 2026 market"]


def test_compliance_cap_certificates_do_not_count_integer_project_forced():
    # cap 380 t compliance: certificates do not reduce it, so B must be built whole: 0.5 x (1000-300) = 350 t.
    # NPV = 700 x 500 = 350,000 + 10,000 + 200,000 = 560,000 CNY; no certificate is bought (it would only cost).
    p = solve(build_inputs(scenario(targets={"caps": [{"year": 2026, "view": "compliance", "max_t": 380}]})))
    assert p.npv == pytest.approx(560_000, abs=1e-3)
    assert p.decisions["share"].to_dict() == {"A": 1.0, "B": 1.0}
    assert p.purchases.loc[2026, "gec_mwh"] == pytest.approx(0)
    assert p.targets.loc["cap 2026 compliance", "room"] == pytest.approx(30)
    assert p.binding() == []


def test_divisible_project_is_built_in_part():
    # B divisible: 0.5 x (800 - 100 x) <= 380 -> x = 0.4; NPV = (800 - 40) x 500 = 380,000 + 10,000
    # + 0.4 x 200,000 = 80,000 -> 470,000 CNY (below the 560,000 of the all-or-nothing B).
    doc = copy.deepcopy(BASE["projects"])
    doc[1]["integer"] = False
    p = solve(build_inputs(scenario(projects=doc,
                                    targets={"caps": [{"year": 2026, "view": "compliance", "max_t": 380}]})))
    assert p.npv == pytest.approx(470_000, abs=1e-2)
    assert p.decisions.loc["B", "share"] == pytest.approx(0.4)
    assert p.binding() == ["cap 2026 compliance"]


def test_pv_fills_the_roof_when_it_pays():
    # 300 kWp roof, 1,000 kWh/kWp, 4,000 CNY/kWp over 25 years = 160 CNY/kWp/yr against 1 MWh x 500 = 500
    # CNY/kWp/yr saved: the roof is filled. A is built too; imports 1000 - 200 - 300 = 500 MWh = 250 t <= 350.
    # NPV = 500 x 500 = 250,000 + 10,000 + 300 x 160 = 48,000 -> 308,000 CNY; no certificate needed.
    sc = scenario(site={"name": "test", "latitude": 28.2, "longitude": 112.9,
                        "roof": {"area_m2": 1500, "kwp_per_m2": 0.2, "tilt": 10}},
                  pv={"capex": P(4000, "CNY/kWp"), "om": P(0, "CNY/kWp/yr"), "degradation": 0,
                      "yield_kwh_per_kwp": 1000},
                  targets={"caps": [{"year": 2026, "view": "market", "max_t": 350}]})
    p = solve(build_inputs(sc))
    assert p.npv == pytest.approx(308_000, abs=1e-2)
    assert p.pv.loc[2026, "capacity_kwp"] == pytest.approx(300)
    assert p.pv.loc[2026, "self_consumed_mwh"] == pytest.approx(300)
    assert p.pathway.loc[2026, "compliance"] == pytest.approx(250)  # self-consumed PV counts zero
    assert p.costs.loc[2026, "capex"] == pytest.approx(100_000 + 300 * 4000)


def test_infeasible_cap_answered_with_its_relaxations():
    # cap 360 t compliance, budget 1,000,000 CNY in 2026: B (2,000,000) cannot be afforded; A alone leaves 400 t.
    # (1) targets relaxed: 400 - 360 = 40 t more reduction. (2) budget relaxed: A + B = 2,100,000 capex ->
    # 1,100,000 CNY more budget, and then the compliance cap holds with 10 t room (350 t).
    sc = scenario(budget={"capex_per_year": 1_000_000},
                  targets={"caps": [{"year": 2026, "view": "compliance", "max_t": 360}]})
    d = build_inputs(sc)
    with pytest.raises(Infeasible):
        solve(d)
    r = relax(d)
    assert r.emissions.slack == pytest.approx({"cap 2026 compliance": 40.0})
    assert r.extra_budget == pytest.approx(1_100_000)
    assert r.messages[0] == ("the cap 2026 compliance target can be met with 40.0 t more reduction (offsets "
                             "and, in the compliance view, certificates do not count), or 1.10 M CNY more budget")


def test_neutrality_needs_offsets_beyond_what_is_available():
    # net zero in 2026: the market view goes to 0 with 1000 - 300 = 700 MWh of certificates... so make them
    # unavailable: market after A + B = 350 t; offsets at most 100 t -> 250 t more offsets; no budget helps.
    sc = scenario(purchases={"ccer": {"price": P(60, "CNY/t"), "max_per_year": 100}},
                  targets={"neutrality": {"year": 2026}})
    d = build_inputs(sc)
    r = relax(d)
    assert r.emissions.slack == pytest.approx({"neutral 2026 net (2026)": 250.0})
    assert r.budget is None
    assert "250.0 t more offsets, or no budget is enough" in r.messages[0]


def test_pv_surplus_exported_only_when_priced():
    # 1,500 kWp roof at 1,000 kWh/kWp = 1,500 MWh; A built (load 800 MWh). PV costs 160 CNY/kWp/yr.
    # Surplus not priced: PV stops at the load, 800 kWp: NPV = 10,000 + 800 x 160 = 138,000 CNY (bill 0).
    # Surplus sold at 300 CNY/MWh (> 160 per kWp-MWh): the roof is filled, 700 MWh exported:
    # NPV = 10,000 + 1,500 x 160 - 700 x 300 = 10,000 + 240,000 - 210,000 = 40,000 CNY.
    site = {"name": "test", "latitude": 28.2, "longitude": 112.9, "roof": {"area_m2": 7500, "kwp_per_m2": 0.2,
                                                                           "tilt": 10}}
    pv = {"capex": P(4000, "CNY/kWp"), "om": P(0, "CNY/kWp/yr"), "degradation": 0, "yield_kwh_per_kwp": 1000}
    p = solve(build_inputs(scenario(site=site, pv=pv)))
    assert p.npv == pytest.approx(138_000, abs=1e-2)
    assert p.pv.loc[2026, "capacity_kwp"] == pytest.approx(800)
    p = solve(build_inputs(scenario(site=site, pv={**pv, "export_price": P(300, "CNY/MWh")})))
    assert p.npv == pytest.approx(40_000, abs=1e-2)
    assert p.pv.loc[2026, "capacity_kwp"] == pytest.approx(1500)
    assert p.pv.loc[2026, "exported_mwh"] == pytest.approx(700)
    assert p.pv.loc[2026, "imported_mwh"] == pytest.approx(0, abs=1e-6)
