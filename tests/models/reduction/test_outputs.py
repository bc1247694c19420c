"""MACC, payback, plan files, plan against actual and re-planning, on the hand-worked instance of
test_handworked.py (1,000 MWh at 500 CNY/MWh, 0.5 t/MWh; A: 200 MWh for 100,000 CNY / 10 yr; B: 100 MWh for
2,000,000 CNY / 10 yr; certificates 10 CNY/MWh; cap 350 t market-based)."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.models.reduction.test_handworked import scenario

from models.reduction.actual import State, actual_purchases, plan_vs_actual, replan
from models.reduction.files import compare, load_plan, save_plan
from models.reduction.inputs import build_inputs
from models.reduction.macc import macc
from models.reduction.outputs import cash_flow, payback_year, project_payback
from models.reduction.solve import solve

CAP = {"caps": [{"year": 2026, "view": "market", "max_t": 350}]}


@pytest.fixture(scope="module")
def solved():
    d = build_inputs(scenario(targets=CAP))
    return d, solve(d)


def test_macc_by_hand(solved):
    # A: (10,000 - 200 x 500) / (200 x 0.5) = -90,000 / 100 = -900 CNY/t
    # GEC: 10 / 0.5 = 20 CNY/t on at most 1,000 MWh = 500 t
    # B: (200,000 - 100 x 500) / 50 = 3,000 CNY/t
    d, _ = solved
    m = macc(d)
    assert list(m.index) == ["A", "gec", "B"]
    assert m["cost_per_t"].tolist() == pytest.approx([-900, 20, 3000])
    assert m["cumulative_t"].tolist() == pytest.approx([100, 600, 650])
    assert m.loc["gec", "compliance_t"] == 0


def test_payback_by_hand(solved):
    # A: 100,000 / (200 x 500) = 1 year; B: 2,000,000 / (100 x 500) = 40 years.
    # The plan's year: do nothing costs 500,000; the plan 400,000 + 1,000 of certificates: savings 99,000,
    # capex 100,000 -> net -1,000: not paid back within the one-year horizon.
    d, p = solved
    assert project_payback(d)["payback_years"].to_dict() == pytest.approx({"A": 1.0, "B": 40.0})
    cf = cash_flow(p, d)
    assert cf.loc[2026, "savings"] == pytest.approx(99_000)
    assert cf.loc[2026, "net"] == pytest.approx(-1_000)
    assert payback_year(p, d) is None


def test_plan_file_round_trip_and_compare(solved, tmp_path):
    d, p = solved
    f = save_plan(p, tmp_path / "a.json")
    q = load_plan(f)
    assert q.npv == p.npv
    for t in ("decisions", "pathway", "purchases", "pv", "costs"):
        pd.testing.assert_frame_equal(getattr(q, t), getattr(p, t), check_dtype=False, check_names=False)
    other = solve(build_inputs(scenario(targets={"caps": [{"year": 2026, "view": "compliance", "max_t": 380}]})))
    c = compare({"market": q, "compliance": other})
    assert c.loc["npv_mcny"].tolist() == pytest.approx([0.411, 0.560])
    assert c.loc["projects", "compliance"] == "A@2026, B@2026"


def test_plan_against_actual(solved):
    # planned 100 MWh of certificates; 60 bought and 5 t of offsets, recorded in the activity file
    d, p = solved
    act = pd.DataFrame([{"kind": "gec", "item": "gec", "period_start": "2026-01-01", "period_end": "2026-12-31",
                         "quantity": 60, "unit": "MWh"},
                        {"kind": "offset", "item": "ccer", "period_start": "2026-01-01", "period_end": "2026-12-31",
                         "quantity": 5, "unit": "tCO2e"},
                        {"kind": "fuel", "item": "diesel", "period_start": "2026-01-01", "period_end": "2026-12-31",
                         "quantity": 5, "unit": "t"}])
    pva = plan_vs_actual(p, act)
    assert pva.loc[2026, ("gec_mwh", "planned")] == pytest.approx(100)
    assert pva.loc[2026, ("gec_mwh", "actual")] == pytest.approx(60)
    assert pva.loc[2026, ("gec_mwh", "difference")] == pytest.approx(-40)
    assert pva.loc[2026, ("ccer_t", "actual")] == pytest.approx(5)
    assert pva.loc[2026, ("green_power_mwh", "actual")] == 0


def test_replanning_from_the_actual_state():
    # two years, cap 350 t market-based in 2027 only. Plan: A in 2026 (it pays), 100 GEC in 2027:
    # 2026 400,000 + 10,000; 2027 400,000 + 10,000 + 1,000 -> 821,000 CNY.
    # Actually A was not built in 2026 and nothing bought: re-planned, A in 2027 and 100 GEC in 2027:
    # 2026 1,000 x 500 = 500,000; 2027 411,000 -> 911,000 CNY.
    d = build_inputs(scenario(horizon={"first": 2026, "last": 2027},
                              targets={"caps": [{"year": 2027, "view": "market", "max_t": 350}]}))
    p = solve(d)
    assert p.npv == pytest.approx(821_000, abs=1e-2)
    assert p.decisions.loc["A", "built"] == 2026
    r = replan(d, State(2026, actual_purchases(pd.DataFrame(columns=["kind", "period_end", "quantity", "unit"])),
                        {}, {}))
    assert r.npv == pytest.approx(911_000, abs=1e-2)
    assert r.decisions.loc["A", "built"] == 2027
    assert r.purchases.loc[2027, "gec_mwh"] == pytest.approx(100)
