"""The drill-down: levels, breadcrumb and children from the site model; its figures equal the query API's for the
same node and period; the children add up where the site model says they should; links go one level down."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import holoviews as hv
import pandas as pd
import panel as pn
import pytest

from dashboards import ems_data as E
from dashboards.drill import DrillPage, Level, breadcrumb, children, drill_view, link, resolve, similar
from workspace.store import Store


def test_levels_and_breadcrumb(plant_cfg):
    site = plant_cfg.site
    lv, note = resolve(site, "D-LC-01")
    assert lv.kind == "device" and note == ""
    assert [c.id for c in breadcrumb(site, lv)] == [site.plant.id, "WS-CW", "L-CW-1", "D-LC-01"]
    assert [c.id for c in breadcrumb(site, resolve(site, "WS-CW")[0])] == [site.plant.id, "WS-CW"]
    assert resolve(site, "TR-2")[0] == Level("meter", "M-TR-2", "Transformer TR-2 LV incomer")  # its incomer
    lv, note = resolve(site, "<b>")
    assert lv.kind == "plant" and "'<b>'" in note
    assert [c.id for c in children(site, resolve(site, site.plant.id)[0])] == [w.id for w in site.workshops]
    dev_kind = site.device("D-LC-01").kind
    assert {x.id for x in similar(site, resolve(site, "D-LC-01")[0])} == \
        {d.id for d in site.devices if d.kind == dev_kind}
    p = E.Period("week", pd.Timestamp("2026-12-05").date(), "year")
    assert link("WS-CW", p) == "/drill?node=WS-CW&period=week&date=2026-12-05&against=year"


@pytest.fixture(scope="module")
def seeded(seeded_dir):
    from workspace.config import EXAMPLE, load_config

    cfg = load_config(EXAMPLE, data_dir=seeded_dir)
    store = Store.open(cfg.paths.store, cfg.site)
    latest = pd.Timestamp(store.latest_time())
    day = latest.tz_convert(ZoneInfo(cfg.site.plant.timezone)).date()
    return cfg, store, store.tip(), E.Period("day", day, "day")


def test_figures_equal_the_query_api(seeded):
    cfg, store, snap, p = seeded
    ws = store.energy(p.start, p.end, by="workshop", freq=None, as_of=snap).to_pandas()
    lines = store.energy(p.start, p.end, by="line", freq=None, as_of=snap).to_pandas()
    v = drill_view(store, cfg, resolve(cfg.site, "WS-CW")[0], p, as_of=snap)
    assert v.kpis["this_kwh"] == pytest.approx(ws["WS-CW"], rel=1e-12)
    pw = store.power(p.start, p.end, by="workshop", freq="15min", as_of=snap).to_pandas()["WS-CW"]
    assert v.kpis["peak_kw"] == pytest.approx(pw.max()) and v.kpis["mean_kw"] == pytest.approx(pw.mean())
    assert v.kpis["load_factor"] == pytest.approx(pw.mean() / pw.max())
    for ln in (c for c in v.children.index if c in lines.index):
        assert v.children.loc[ln, "this_kwh"] == pytest.approx(lines[ln], rel=1e-12)
    assert list(v.similar.index) == [w.id for w in cfg.site.workshops]
    # TOU parts of the workshop add up to its energy
    parts = sum(v.tou.iloc[0][f"{x}_kwh"] for x in ("sharp", "peak", "flat", "valley"))
    assert parts == pytest.approx(ws["WS-CW"], rel=1e-6)
    q = store.quality_report(p.start, p.end, meters=list(cfg.site.top_meters("electricity", "WS-CW")), as_of=snap)
    pd.testing.assert_series_equal(v.quality["completeness_pct"], q["completeness_pct"])


def test_plant_children_are_its_workshops(seeded):
    cfg, store, snap, p = seeded
    v = drill_view(store, cfg, resolve(cfg.site, None)[0], p, as_of=snap)
    plant = store.energy(p.start, p.end, by="plant", freq=None, as_of=snap).to_pandas()[cfg.site.plant.id]
    assert v.kpis["this_kwh"] == pytest.approx(plant, rel=1e-12)
    assert list(v.children.index) == [w.id for w in cfg.site.workshops]


def test_page_links_down_and_up(seeded):
    cfg, store, snap, p = seeded
    hv.extension("bokeh")
    page = DrillPage(cfg, {"node": [b"L-CW-1"], **{k: [v.encode()] for k, v in p.query().items()}}, store=store)
    col = page._body()
    for o in col.objects:
        if isinstance(o, pn.pane.HoloViews):
            hv.render(o.object)
    html = "".join(o.object for o in col.objects if isinstance(o, pn.pane.HTML))
    assert re.findall(r'data-crumb="([\w-]+)"', html) == [cfg.site.plant.id, "WS-CW", "L-CW-1"]
    devs = [d.id for d in cfg.site.devices if d.line == "L-CW-1"]
    assert set(re.findall(r'<table class="tj-t" data-table="children">.*?</table>', html, re.S)[0].count(
        "data-drill=") for _ in [0]) == {len(devs)}
    assert f'href="{link(devs[0], p).replace("&", "&amp;")}"' in html


def test_sessions_share_the_drill_down(seeded):
    """The same node, period and snapshot read once for every session; the page's note (an unknown node) goes on
    a copy, never into the shared view; the merged comparisons equal one comparison per group."""
    from dashboards import drill

    cfg, store, snap, p = seeded
    drill.forget()
    lv = resolve(cfg.site, "WS-CW")[0]
    v = drill.kept_drill_view(store, cfg, lv, p, as_of=snap)
    assert drill.kept_drill_view(store, cfg, lv, p, as_of=snap) is v
    ref = drill_view(store, cfg, lv, p, as_of=snap)
    pd.testing.assert_frame_equal(v.children, drill.comparison(store, children(cfg.site, lv), p, as_of=snap))
    pd.testing.assert_frame_equal(v.similar, drill.comparison(store, similar(cfg.site, lv), p, as_of=snap))
    pd.testing.assert_frame_equal(v.similar, ref.similar)
    assert v.kpis == ref.kpis
    page = DrillPage(cfg, {"node": [b"<b>"], **{k: [x.encode()] for k, x in p.query().items()}}, store=store)
    assert "'<b>'" in page.view().notes[0] and "'<b>'" in page.view().notes[0]
    plant = drill.kept_drill_view(store, cfg, resolve(cfg.site, None)[0], p, as_of=store.tip())
    assert not any("'<b>'" in n for n in plant.notes) and len(page.view().notes) == len(plant.notes) + 1
