"""The big screen's tiles: trends, allowance, time of use, alarms and the floor plan (issue 16, item 2).

Without a browser: the tiles' fragments against hand-worked figures, the shared cache (one computation per
snapshot for every session), the floor plan's geometry and the alarm-to-position mapping.

In Debian's Chromium against a running server (a copy of the seeded workspace, anchored, with an allowance
entered): every tile present; the figures shown (``data-value``) equal the query API's and the models' at the
snapshot the tile names; an alarm raised in the alarm log appears on the screen and marks its device on the floor
plan; a click on a device of the floor plan opens its drill-down; screenshots at the three sizes.
"""

from __future__ import annotations

import datetime as dt
import time

import numpy as np
import pandas as pd
import pytest

from tests.conftest import ARTIFACTS
from tests.dashboards.test_dashboards import dashboard_server, make_workspace
from workspace.config import EXAMPLE, load_config

from dashboards import bigscreen_data as data
from dashboards.bigscreen_tiles import PLAN_W, QuotaTile, floor_svg

SHOTS = ARTIFACTS / "pages"
#: the allowance entered in the fixture [t CO2e]
ALLOWANCE_T = 9_000
TILES = ("[data-trends]", "[data-quota]", ".tj-tou", ".tj-alarm-tile", "[data-floor-plan]", ".tj-cards",
         "tr[data-workshop]", ".tj-anchor", ".tj-methodology")


class _Ctx:
    """The part of a page context the tiles use."""

    def __init__(self, cfg=None):
        self.cfg = cfg or load_config(EXAMPLE)
        self._ = lambda s: s
        self.lang = "en"


# -- without a browser ---------------------------------------------------------------------------------------
def test_allowance_tile_shows_the_figures_with_units_and_interval():
    tile = QuotaTile(_Ctx())
    q = data.QuotaFigures(year=2026, quota_kg=50_000_000.0, emitted_kg=12_345_678.0, forecast_kg=48_000_000.0,
                          lower_kg=45_500_000.0, upper_kg=50_250_000.0, level=0.9, green_share=0.125, note="",
                          alarm=None, snapshot="S1")
    out = tile.render(q)
    # 50,000,000 kg = 50,000 t; 12,345,678 kg = 12,345.7 t, 12,345,678 / 50,000,000 = 24.69 % -> 24.7 %
    assert ">50,000</b>" in out and ">12,345.7</b>" in out and "(24.7%)" in out
    # forecast 48,000 t, its 90 % interval 45,500–50,250 t; green share 0.125 -> 12.5 %
    assert ">48,000</b>" in out and "45,500–50,250" in out and "interval 90%" in out and "12.5%" in out
    assert 'data-emitted-kg="12345678.0"' in out and 'data-forecast-kg="48000000.0"' in out
    assert out.count("tCO₂e") == 4 and 'data-snapshot="S1"' in out
    # no forecast yet: said so, no number made up
    none = tile.render(data.QuotaFigures(2026, 5e7, 1e6, None, None, None, None, None, "2 day(s) ...", None, "S1"))
    assert "not enough days yet" in none and 'data-forecast-kg=""' in none


def test_floor_plan_places_and_colours_the_devices():
    cfg = load_config(EXAMPLE)
    plan = cfg.site.floor_plan
    assert len(plan.positions) == 78
    states = {pid: {"state": "no data", "kw": None, "kind": "device", "name": pid, "alarms": []}
              for pid in plan.positions}
    states["D-LC-01"] = {"state": "alarm", "kw": 12.5, "kind": "device", "name": "cutter", "alarms": ["M-LC-01"]}
    states["D-LC-02"] = {"state": "running", "kw": 30.0, "kind": "device", "name": "cutter 2", "alarms": []}
    svg = floor_svg(cfg.site, {"states": states}, lambda s: s)
    assert svg.count("data-node=") == 78
    # D-LC-01 at (16.0, 18.5) m of a 300 x 120 m plan drawn 760 px wide: 760 / 300 = 2.5333 px/m;
    # x = 16.0 * 2.5333 = 40.5 px, y = (120 - 18.5) * 2.5333 = 257.1 px (north up)
    assert PLAN_W == 760
    assert '<circle cx="40.5" cy="257.1" r="7" fill="#ff5c5c"' in svg
    assert 'href="/drill?node=D-LC-01" data-node="D-LC-01" data-state="alarm" data-value="12.5" data-unit="kW"' in svg
    assert 'data-node="D-LC-02" data-state="running"' in svg
    # a distribution room is not a drill-down level: it links to its place in the topology
    assert 'href="/topology?node=DR-1" data-node="DR-1"' in svg


def test_an_alarm_on_a_meter_marks_the_device_it_measures():
    cfg = load_config(EXAMPLE)
    got = data.alarm_positions(cfg.site, ["M-LC-01", "DR-1", "NOT-A-THING"])
    assert got == {"D-LC-01": ["M-LC-01"], "DR-1": ["DR-1"]}


def test_the_cache_computes_once_per_key_for_every_session():
    data.clear_cache()
    calls = []

    def compute():
        calls.append(1)
        return object()

    a = data.cached("t", "/w", "S1", compute)
    assert data.cached("t", "/w", "S1", compute) is a and len(calls) == 1  # a second session: the same object
    b = data.cached("t", "/w", "S2", compute)
    assert b is not a and len(calls) == 2  # a new snapshot: computed again
    # a slow tile keeps the figures of an older snapshot up to max_age_s
    assert data.cached("t", "/w", "S3", compute, max_age_s=3600) is b and len(calls) == 2
    assert data.peek("t", "/w", "S2") is b and data.peek("t", "/w", "S3") is None
    data.clear_cache()


def test_two_sessions_share_the_figures_and_a_refresh_without_news_sends_nothing(seeded_cfg):
    from dashboards.bigscreen import BigScreen, tiles
    from dashboards.registry import PageContext, page

    data.clear_cache()
    ctx = PageContext(cfg=seeded_cfg, page=page("bigscreen"))
    one = BigScreen(seeded_cfg, tiles=tiles(ctx))
    two = BigScreen(seeded_cfg, tiles=tiles(ctx))
    assert one.view is two.view  # computed once, for both sessions
    for a, b in zip(one._tiles, two._tiles):
        assert a._shown is b._shown and a._shown is not None, type(a).__name__
    before = {id(t): t.panel.object if hasattr(t.panel, "object") else t.head.object for t in one._tiles}
    one.refresh()  # nothing new in the store: no tile is re-rendered
    after = {id(t): t.panel.object if hasattr(t.panel, "object") else t.head.object for t in one._tiles}
    assert before == after
    data.clear_cache()


# -- in the browser ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def workspace(seeded_dir, tmp_path_factory):
    from chain.node import connect
    from chain.quota import QuotaBook
    from tests.conftest import free_port

    ws = make_workspace(seeded_dir, tmp_path_factory.mktemp("bigscreen"), f"http://127.0.0.1:{free_port()}",
                        connect("tester"))
    cfg = ws["cfg"]
    from workspace.store import Store

    year = Store.open(cfg.paths.store, cfg.site).latest_time().year
    QuotaBook(cfg.paths.chain, None).set(cfg.site.enterprise.credit_code or cfg.site.plant.id, year,
                                         ALLOWANCE_T * 1000, author="Li Na", reason="test allowance")
    return ws


@pytest.fixture(scope="module")
def server(workspace):
    with dashboard_server(workspace) as url:
        yield url


def _open(browser, url, size=(1920, 1080)):
    from tests.dashboards.test_pages import open_page

    ctx, p = open_page(browser, url, size)
    for sel in TILES:
        p.locator(sel).first.wait_for(timeout=60_000)
    p.locator("[data-tou-cost]").first.wait_for(timeout=60_000)
    return ctx, p


def _value(p, sel: str) -> float:
    return float(p.locator(sel).first.get_attribute("data-value"))


@pytest.mark.requires_chromium
@pytest.mark.slow
def test_every_tile_shows_the_query_apis_and_the_models_figures(server, browser, workspace):
    from chain.quota import QuotaBook
    from models.alarms import AlarmDB, shown
    from models.energy.states import classify, thresholds
    from models.energy.tou import tou_cost
    from models.quota import quota_status
    from workspace.store import Store
    from workspace.tariffs import config_tariff

    cfg = workspace["cfg"]
    ctx, p = _open(browser, f"{server}/bigscreen?lang=en")
    try:
        store = Store.open(cfg.paths.store, cfg.site)
        # KPIs: electricity of each period = the query API's plant energy over the card's [start, end)
        snap = p.locator(".tj-cards").get_attribute("data-snapshot")
        for period in ("today", "yesterday", "month", "year"):
            card = p.locator(f'.tj-card[data-period="{period}"]')
            a = pd.Timestamp(card.get_attribute("data-start")).tz_localize(None)
            b = pd.Timestamp(card.get_attribute("data-end")).tz_localize(None)
            e = store.energy(a, b, by="plant", freq="1D", as_of=snap)
            assert _value(p, f'[data-kpi="electricity-{period}"]') == pytest.approx(float(np.nansum(e.values)),
                                                                                  rel=1e-9), period
            # CO2e, location-based, by hand: the national grid factor of 2023 (valid to 2026) 0.5306 tCO2/MWh
            # = 0.5306 kg/kWh, and natural gas 389.31 GJ/10^4 Nm3 x 15.3 tC/TJ x 99 % x 44/12
            # = 3.8931e-5 TJ/m3 x 15.3 x 0.99 x 3.6667 = 2.16217e-3 t/m3 = 2.16217 kg/m3 (models/data/emission-factors.csv)
            kwh, m3 = _value(p, f'[data-kpi="electricity-{period}"]'), _value(p, f'[data-kpi="natural-gas-{period}"]')
            assert _value(p, f'[data-kpi="co2e-{period}"]') == pytest.approx(kwh * 0.5306 + m3 * 2.16217, rel=1e-4)
        # trends: the year to date = the query API's plant energy from 1 January to the newest reading
        tr = p.locator("[data-trends]")
        snap = tr.get_attribute("data-snapshot")
        ytd = p.locator('[data-ytd="this"]')
        a, b = pd.Timestamp(ytd.get_attribute("data-start")), pd.Timestamp(ytd.get_attribute("data-end"))
        e = store.energy(a, b, by="plant", freq="1D", as_of=snap)
        assert _value(p, '[data-ytd="this"] [data-unit="kWh"]') == pytest.approx(float(np.nansum(e.values)), rel=1e-9)
        assert p.locator('[data-ytd="last"]').inner_text().count("no readings") == 2  # the store starts yesterday
        # allowance: the figures of models.quota.quota_status at the tile's snapshot
        q = p.locator("[data-quota]")
        year = int(q.get_attribute("data-quota"))
        st = quota_status(store, QuotaBook(cfg.paths.chain, None), cfg.site.enterprise.credit_code or
                          cfg.site.plant.id, year, as_of=q.get_attribute("data-snapshot"))
        assert float(p.locator("[data-quota-kg]").get_attribute("data-quota-kg")) == ALLOWANCE_T * 1000
        assert float(p.locator("[data-emitted-kg]").get_attribute("data-emitted-kg")) == pytest.approx(
            float(st.settlement["emissions_kg"].sum()), rel=1e-9)
        if st.forecast is None:  # 30 hours of history: fewer days than a forecast needs, and the tile says so
            assert p.locator("[data-forecast-kg]").get_attribute("data-forecast-kg") == ""
        else:
            assert float(p.locator("[data-forecast-kg]").get_attribute("data-forecast-kg")) == pytest.approx(
                st.forecast.total_kg, rel=1e-9)
        # time of use: models.energy.tou.tou_cost of the plant over the tile's periods
        tou = p.locator(".tj-tou")
        snap = tou.get_attribute("data-snapshot")
        tariff = config_tariff(cfg)
        for key in ("today", "month"):
            per = p.locator(f'[data-tou-period="{key}"]')
            a, b = pd.Timestamp(per.get_attribute("data-start")), pd.Timestamp(per.get_attribute("data-end"))
            want = tou_cost(store, tariff, a, b, as_of=snap).iloc[0]
            assert _value(p, f'[data-tou-cost="{key}"]') == pytest.approx(want["energy_cny"], rel=1e-9)
            shares = {s: _value(p, f'[data-tou-share="{key}-{s}"]') for s in ("sharp", "peak", "flat", "valley")}
            assert sum(shares.values()) == pytest.approx(100.0)
            # the cost is the energy priced per period: sum(total kWh x share x price) with the Hunan prices
            # sharp 1.21304, peak 1.0172, flat 0.65, valley 0.2828 CNY/kWh (workspace/data/tariffs)
            prices = {"sharp": 1.21304, "peak": 1.0172, "flat": 0.65, "valley": 0.2828}
            by_hand = sum(want["total_kwh"] * shares[s] / 100 * prices[s] for s in prices)
            assert _value(p, f'[data-tou-cost="{key}"]') == pytest.approx(by_hand, rel=1e-6)
        # alarms: none in the log yet
        with AlarmDB.in_data_dir(cfg.paths.data_dir) as db:
            assert int(p.locator(".tj-alarm-tile").get_attribute("data-alarm-count")) == len(shown(db)) == 0
        # floor plan: the 78 positions, each device's state from its newest minute (models.energy.states)
        plan = p.locator("[data-floor-plan]")
        assert p.locator("[data-floor-plan] a[data-node]").count() == 78
        snap = plan.get_attribute("data-snapshot")
        at = pd.Timestamp(plan.get_attribute("data-at"))
        for dev in ("D-LC-01", "D-AC-01", "D-CR-01"):
            now = pd.Timestamp(f"{store.latest_time(snap):%Y-%m-%d %H:%M}") + pd.Timedelta(minutes=1)
            minutes = store.power(now - pd.Timedelta(hours=24), now, by="device", freq="1min", as_of=snap).to_pandas()
            th = thresholds(cfg.site.device(dev), minutes[dev].to_numpy())
            last = minutes[dev].dropna().iloc[-1:]
            assert f"{last.index[0]:%H:%M}" == f"{at:%H:%M}"
            code = int(classify(last, th).iloc[0])
            want = {0: "off", 1: "running", 2: "standby", 3: "running"}[code]
            node = p.locator(f'[data-floor-plan] a[data-node="{dev}"]')
            assert node.get_attribute("data-state") == want, dev
            assert float(node.get_attribute("data-value")) == pytest.approx(float(last.iloc[0]), rel=1e-9)
        counts = {s: int(p.locator(f'[data-state-count="{s}"]').get_attribute("data-value"))
                  for s in data.FLOOR_STATES}
        assert sum(counts.values()) == 78 and counts["alarm"] == 0
        assert not p.errors, p.errors
    finally:
        ctx.close()


@pytest.mark.requires_chromium
@pytest.mark.slow
def test_an_alarm_raised_appears_and_marks_its_device_and_a_click_opens_the_drill_down(server, browser, workspace):
    from models.alarms import AlarmDB, State

    cfg = workspace["cfg"]
    ctx, p = _open(browser, f"{server}/bigscreen?lang=en")
    try:
        assert p.locator('[data-floor-plan] a[data-node="D-LC-01"]').get_attribute("data-state") != "alarm"
        with AlarmDB.in_data_dir(cfg.paths.data_dir) as db, db.transaction():
            db.insert(rule="test-overload", target="M-LC-01", kind="threshold", priority="high", state=State.UNACK,
                      message="laser cutter 1 above 40 kW", value=41.0, at=time.time())
        # the page refreshes in place (refresh_s = 1 in the fixture): no reload
        p.locator('.tj-alarm-tile tr[data-target="M-LC-01"]').wait_for(timeout=30_000)
        assert p.locator('[data-priority-count="high"]').get_attribute("data-value") == "1"
        assert "laser cutter 1 above 40 kW" in p.locator(".tj-alarm-tile").inner_text()
        node = p.locator('[data-floor-plan] a[data-node="D-LC-01"][data-state="alarm"]')
        node.wait_for(timeout=30_000)
        assert p.locator('[data-state-count="alarm"]').get_attribute("data-value") == "1"
        SHOTS.mkdir(parents=True, exist_ok=True)
        p.wait_for_timeout(1000)
        p.screenshot(path=str(SHOTS / "bigscreen-alarm-1920x1080.png"))
        # a click on the device opens its drill-down
        node.click()
        p.wait_for_url("**/drill?node=D-LC-01*", timeout=30_000)
        p.locator(".tj-shell-status").first.wait_for(timeout=60_000)
        p.locator(':text("D-LC-01")').first.wait_for(timeout=60_000)  # the drill-down of that device
        assert not p.errors, p.errors
    finally:
        ctx.close()


@pytest.mark.requires_chromium
@pytest.mark.slow
@pytest.mark.parametrize("size", [(1920, 1080), (1366, 768), (390, 844)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_wall_fits_the_laptop_scrolls_and_the_phone_stacks(server, browser, size):
    ctx, p = _open(browser, f"{server}/bigscreen", size)
    try:
        p.wait_for_timeout(1000)  # let the canvases paint
        SHOTS.mkdir(parents=True, exist_ok=True)
        p.screenshot(path=str(SHOTS / f"bigscreen-tiles-{size[0]}x{size[1]}.png"), full_page=True)
        boxes = {sel: p.locator(sel).first.bounding_box() for sel in TILES}
        for sel, box in boxes.items():  # nothing is cut off sideways
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= size[0] + 1, (sel, box)
        if size == (1920, 1080):  # the wall: every tile ends inside the screen, nothing to scroll
            for sel, box in boxes.items():
                assert box["y"] + box["height"] <= 1080, (sel, box)
        elif size[0] < 500:  # the phone: one column, each tile below the one before
            plan, tou = boxes["[data-floor-plan]"], boxes[".tj-tou"]
            assert plan["width"] <= size[0] and tou["y"] >= plan["y"] + plan["height"]
        else:  # the laptop: the last tile is below the fold and reachable by scrolling
            last = max(b["y"] + b["height"] for b in boxes.values())
            assert last > size[1]
            p.locator(".tj-methodology").scroll_into_view_if_needed()
            assert p.locator(".tj-methodology").is_visible()
        if size != (1920, 1080):  # the shell scrolls inside its main area: a picture of all of it, for a person
            last = max(b["y"] + b["height"] for b in boxes.values())
            p.evaluate("() => { const e = document.scrollingElement; e.scrollTop = 0; }")
            p.set_viewport_size({"width": size[0], "height": int(last) + 400})
            p.wait_for_timeout(1000)
            p.screenshot(path=str(SHOTS / f"bigscreen-tiles-{size[0]}x{size[1]}-whole.png"))
        assert not p.errors, p.errors
    finally:
        ctx.close()


def test_a_new_fold_updates_the_panes_in_place(seeded_cfg):
    """A refresh with a new fold updates the figures in place: the same panes, new objects."""
    from tanjian.demo.history import seed_history

    from dashboards.bigscreen import BigScreen, tiles
    from dashboards.registry import PageContext, page

    data.clear_cache()
    screen = BigScreen(seeded_cfg, tiles=tiles(PageContext(cfg=seeded_cfg, page=page("bigscreen"))))
    layout = screen.__panel__()
    panes = [t.panel for t in screen._tiles]
    first = screen.view
    start = (first.as_of + dt.timedelta(minutes=1)).astimezone(dt.timezone.utc)
    seed_history(seeded_cfg, start, start + dt.timedelta(minutes=3))
    screen.refresh()
    assert screen.view.snapshot != first.snapshot
    assert screen.__panel__() is layout and [t.panel for t in screen._tiles] == panes
    fl = [t for t in screen._tiles if type(t).__name__ == "FloorPlanTile"][0]
    assert f'data-snapshot="{screen.view.snapshot}"' in fl.panel.object
    data.clear_cache()
