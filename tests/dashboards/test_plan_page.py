"""The plan page's view-model (dashboards.plan_page): its numbers are the library's Plan for the same scenario,
the edits reach the model, purchases entered are set against the plan, and the page builds without a browser."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboards import plan_page as pp
from models.reduction.inputs import build_inputs
from models.reduction.scenario import load_scenario
from models.reduction.solve import solve


@pytest.fixture(scope="module")
def plant18():
    return pp.plan_view("plant18")


def test_view_is_the_librarys_plan(plant18):
    ref = solve(build_inputs(load_scenario("plant18")))
    assert plant18.plan.npv == pytest.approx(ref.npv, rel=1e-6)
    pd.testing.assert_frame_equal(plant18.plan.purchases, ref.purchases, atol=1e-3, rtol=1e-6)
    pd.testing.assert_frame_equal(plant18.plan.pathway, ref.pathway, atol=1e-3, rtol=1e-6)
    # docs/reduction.md, the Plant 18 default: 70.7 M CNY, 4,000 kWp of PV, six of seven projects, pays back 2032
    assert plant18.plan.npv / 1e6 == pytest.approx(70.7, abs=0.05)
    assert plant18.plan.pv["capacity_kwp"].iloc[-1] == pytest.approx(4000, abs=1)
    assert int((plant18.plan.decisions["share"] > 1e-6).sum()) == 6
    assert plant18.payback == 2032


def test_edits_reach_the_scenario():
    sc = load_scenario("plant18")
    base = pp.editable(sc)
    # the packaged file: carbon 95.8 CNY/t, GEC 4.0 CNY/MWh, CCER 70 CNY/t, green power +20 CNY/MWh,
    # 2030 compliance cap 5,200 t, net zero in 2035
    assert base["carbon"] == 95.8 and base["gec"] == 4.0 and base["ccer"] == 70 and base["green_power"] == 20
    assert base["cap"] == 5200 and base["neutrality"] == 2035
    edited = pp.apply_edits(sc, {"gec": 8.0, "cap": 5000, "neutrality": 2034})
    d = build_inputs(edited)
    assert d.gec_price[2026] == 8.0  # escalation (if any) starts from the edited first-year value
    assert edited.targets.caps[0].max_t == 5000 and edited.targets.neutrality.year == 2034
    assert sc.purchases.gec.price.value == 4.0  # the loaded scenario itself is untouched
    with pytest.raises(Exception, match="nothing to edit"):
        pp.apply_edits(sc, {"roof": 1})


def test_edited_view_equals_library_on_the_same_edit():
    v = pp.plan_view("plant18", {"ccer": 140.0})
    sc = load_scenario("plant18")
    sc.purchases.ccer.price.value = 140.0
    sc.purchases.ccer.price.by_year = {}
    ref = solve(build_inputs(sc))
    assert v.plan.npv == pytest.approx(ref.npv, rel=1e-6)
    pd.testing.assert_frame_equal(v.plan.purchases, ref.purchases, atol=1e-3, rtol=1e-6)


def test_plan_against_actual(plant18):
    act = pd.DataFrame([{"kind": "gec", "period_end": "2026-12-31", "quantity": 1000.0, "unit": "MWh"},
                        {"kind": "offset", "period_end": "2027-06-30", "quantity": 50.0, "unit": "tCO2e"}])
    v = pp.plan_view("plant18", activity=act)
    planned = plant18.plan.purchases
    # 2026: 1,000 MWh of certificates bought against the plan's figure; 2027: 50 t of offsets
    assert v.actual.loc[2026, ("gec_mwh", "actual")] == 1000.0
    assert v.actual.loc[2026, ("gec_mwh", "difference")] == pytest.approx(1000.0 - planned.loc[2026, "gec_mwh"])
    assert v.actual.loc[2027, ("ccer_t", "actual")] == 50.0
    assert v.actual.loc[2030, ("ccer_t", "actual")] == 0.0


def test_page_builds_without_a_browser():
    import panel as pn

    from dashboards.registry import PageContext, pages

    pn.extension()  # what dashboards.app does per server (loads HoloViews' Bokeh backend for the charts)

    page = next(p for p in pages() if p.slug == "plan")
    assert page.permission() == "page.plan"
    ui = pp.view(PageContext(cfg=None, page=page, lang="en"))
    assert "Net present cost" in ui.status.object and "70.7 M CNY" in ui.status.object
    assert len(ui.out.objects) == 4  # pathway, MACC, purchases, costs (no purchases entered: no plan vs actual)
    assert ui.busy.visible is False and ui.solve_button.disabled is False
    # the button's path: the solver in a thread; a cap of 0 t in the compliance view cannot be met (certificates
    # and offsets never reduce it), so the page says infeasible in one line and shows no charts
    import asyncio

    ui.inputs["cap"].value = 0
    asyncio.run(ui._clicked())
    assert "Infeasible" in ui.status.object and ui.out.objects == []
    assert ui.busy.visible is False and ui.solve_button.disabled is False


def test_deep_link_to_the_ets_variant():
    import panel as pn

    from dashboards.registry import PageContext, pages

    pn.extension()
    page = next(p for p in pages() if p.slug == "plan")
    ui = pp.view(PageContext(cfg=None, page=page, lang="en", query={"scenario": "plant18-ets-offsets"}))
    # docs/reduction.md: under the ETS's 5 % offset cap net zero in 2035 is infeasible
    assert ui.scenario == "plant18-ets-offsets" and ui.pick.value == "plant18-ets-offsets"
    assert "Infeasible" in ui.status.object and ui.out.objects == []


def test_solved_once_per_scenario_and_edits(plant18):
    """Sessions share a solved plan: the same scenario, edits and purchases give the same PlanView object (no
    second solve); other edits solve again. Its numbers are plan_view's (70.7 M CNY as above)."""
    pp.forget()
    first = pp.kept_plan_view("plant18")
    assert pp.kept_plan_view("plant18", {}) is first
    assert first.plan.npv == pytest.approx(plant18.plan.npv, rel=1e-9)
    other = pp.kept_plan_view("plant18", {"ccer": 140.0})
    assert other is not first and pp.kept_plan_view("plant18", {"ccer": 140}) is other
    act = pd.DataFrame([{"kind": "gec", "period_end": "2026-12-31", "quantity": 1000.0, "unit": "MWh"}])
    with_act = pp.kept_plan_view("plant18", activity=act)
    assert with_act is not first and with_act.actual.loc[2026, ("gec_mwh", "actual")] == 1000.0
    assert pp.kept_plan_view("plant18", activity=act.assign(quantity=500.0)).actual.loc[
        2026, ("gec_mwh", "actual")] == 500.0  # other purchases: not the kept plan's
