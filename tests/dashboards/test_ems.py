"""The EMS page: its period from the URL, its tables equal to the query API's and the models' for the same
period, the load-move calculator against a hand-worked saving, and every tab drawn without an error."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import pytest

from dashboards import ems_data as E
from dashboards.ems import EmsPage
from dashboards.tables import csv_bytes, table_html, xlsx_bytes
from workspace.errors import TanjianError
from workspace.store import Store


# -- the period --------------------------------------------------------------------------------------------------
def test_week_month_and_before():
    # 2026-12-05 is a Saturday: its ISO week runs Monday 11-30 .. Sunday 12-06, so [11-30, 12-07)
    p = E.Period("week", dt.date(2026, 12, 5), "year")
    assert (p.start, p.end) == (pd.Timestamp("2026-11-30"), pd.Timestamp("2026-12-07"))
    assert p.before == (pd.Timestamp("2025-11-30"), pd.Timestamp("2025-12-07"))
    m = E.Period("month", dt.date(2026, 2, 17), "month")
    assert (m.start, m.end) == (pd.Timestamp("2026-02-01"), pd.Timestamp("2026-03-01"))
    assert m.before == (pd.Timestamp("2026-01-01"), pd.Timestamp("2026-02-01"))
    d = E.Period("day", dt.date(2026, 3, 1), "day")
    assert d.before == (pd.Timestamp("2026-02-28"), pd.Timestamp("2026-03-01"))


def test_period_from_url_refuses_each_bad_value_in_one_line():
    p, notes = E.period_from_query({"period": [b"month"], "date": [b"2026-07-09"], "against": [b"year"]},
                                   dt.date(2026, 12, 5))
    assert p == E.Period("month", dt.date(2026, 7, 9), "year") and notes == []
    p, notes = E.period_from_query({"period": "fortnight", "date": "9 July", "against": "decade"},
                                   dt.date(2026, 12, 5))
    assert p == E.Period("day", dt.date(2026, 12, 5), "day")
    lines = [E.note_text(n) for n in notes]
    assert len(lines) == 3 and "period='fortnight'" in lines[0] and "against='decade'" in lines[1] \
        and "date='9 July'" in lines[2]
    # the same refusal in Chinese: the catalogue's sentence with the same value
    from dashboards.i18n import gettext_for

    zh = E.note_text(notes[0], gettext_for("zh"))
    assert zh == "网址 period='fortnight'：不是 day, week, month 之一；显示一天"


def test_parse_hours():
    assert E.parse_hours("8-11, 14", "from") == [8, 9, 10, 11, 14]
    assert E.parse_hours("22，23", "to") == [22, 23]  # a Chinese comma as typed on a phone
    for bad in ("", "7-", "24", "11-8", "noon"):
        with pytest.raises(TanjianError, match="^from"):
            E.parse_hours(bad, "from")


def test_load_move_hand_worked(plant_cfg):
    # Tariff CN-HN-large-industrial-1-10kV: flat 0.65 CNY/kWh of which 0.038 does not float; December schedule
    # CN-HN-tou-2025: 18-22 h sharp (ratio 1.92), 0-6 h valley (0.4).
    #   sharp  = (0.65 - 0.038) x 1.92 + 0.038 = 1.21304 CNY/kWh
    #   valley = (0.65 - 0.038) x 0.40 + 0.038 = 0.28280 CNY/kWh
    # 100 kW in hours 18 and 19 = 200 kWh: before 242.608, after 56.56, saving 186.048 CNY
    r = E.load_move(plant_cfg, dt.date(2026, 12, 7), [18, 19], [2, 3], 100.0)
    assert r["kwh"] == pytest.approx(200.0)
    assert r["cost_before_cny"] == pytest.approx(242.608)
    assert r["cost_after_cny"] == pytest.approx(56.56)
    assert r["saving_cny"] == pytest.approx(186.048)


# -- against the query API, on 30 hours of simulated Plant 18 ----------------------------------------------------
@pytest.fixture(scope="module")
def seeded(seeded_dir):
    from workspace.config import EXAMPLE, load_config

    cfg = load_config(EXAMPLE, data_dir=seeded_dir)  # read only
    store = Store.open(cfg.paths.store, cfg.site)
    latest = store.latest_time()
    day = pd.Timestamp(latest).tz_convert(ZoneInfo(cfg.site.plant.timezone)).date() if latest.tzinfo \
        else latest.date()
    return cfg, store, store.tip(), E.Period("day", day, "day")


def test_tables_equal_the_query_api(seeded):
    cfg, store, snap, p = seeded
    plant = cfg.site.plant.id
    kwh = store.energy(p.start, p.end, by="plant", freq=None, as_of=snap).to_pandas()[plant]
    ws = store.energy(p.start, p.end, by="workshop", freq=None, as_of=snap).to_pandas()
    assert kwh > 0
    cmp_ = E.section("compare", store, cfg, p, as_of=snap).table
    assert cmp_.loc[plant, "this_kwh"] == pytest.approx(kwh, rel=1e-9)
    for w in cfg.site.workshops:
        assert cmp_.loc[w.id, "this_kwh"] == pytest.approx(ws[w.id], rel=1e-9)
    tou = E.section("tou", store, cfg, p, as_of=snap).table
    # the four periods add up to the day's energy, and the shares to 100 %
    parts = sum(tou.loc[plant, f"{x}_kwh"] for x in ("sharp", "peak", "flat", "valley"))
    assert parts == pytest.approx(kwh, rel=1e-6) and tou.loc[plant, "total_kwh"] == pytest.approx(kwh, rel=1e-6)
    assert sum(tou.loc[plant, f"{x}_share_pct"] for x in ("sharp", "peak", "flat", "valley")) == pytest.approx(100)
    load = E.section("load", store, cfg, p, as_of=snap).table
    pw = store.power(p.start, p.end, by="plant", freq="15min", as_of=snap).to_pandas()[plant]
    np.testing.assert_allclose(load["this_kw"].to_numpy(), pw.to_numpy(), rtol=1e-12)
    # the period before, moved a day on: its 12:00 value is yesterday's 12:00 interval
    b = store.power(*p.before, by="plant", freq="15min", as_of=snap).to_pandas()[plant]
    noon = p.start + pd.Timedelta(hours=12)
    assert load.loc[noon, "before_kw"] == pytest.approx(b.loc[noon - pd.Timedelta(days=1)])


def test_transformers_and_states_are_the_models(seeded):
    from models.energy.states import device_states
    from models.energy.transformers import transformer_report

    cfg, store, snap, p = seeded
    tr = E.section("transformers", store, cfg, p, as_of=snap).table
    ref = transformer_report(store, cfg.site, p.start, p.end, as_of=snap)
    assert list(tr.index) == [t.id for t in cfg.site.transformers]
    pd.testing.assert_series_equal(tr["peak_rate"], ref["peak_rate"])
    st = E.section("states", store, cfg, p, as_of=snap).table
    pd.testing.assert_series_equal(st["standby_kwh"], device_states(store, cfg.site, p.start, p.end,
                                                                    as_of=snap)["standby_kwh"])


def test_unit_without_production_says_what_to_do(seeded):
    cfg, store, snap, p = seeded
    s = E.section("unit", store, cfg, p, as_of=snap)
    assert s.table.empty and "import the ERP output" in s.note_text()


def test_every_tab_draws_and_shows_the_models_numbers(seeded):
    cfg, store, snap, p = seeded
    hv.extension("bokeh")
    page = EmsPage(cfg, p.query(), store=store)
    for name in E.SECTIONS:
        page.tab = name
        col = page._active()
        for o in col.objects:
            if isinstance(o, pn.pane.HoloViews):
                hv.render(o.object)  # draws without an error
        html = "".join(o.object for o in col.objects if isinstance(o, pn.pane.HTML))
        if name in ("compare", "tou", "transformers", "states", "demand"):
            assert f'data-table="{name}"' in html, name
    page.tab = "tou"
    html = "".join(o.object for o in page._active().objects if isinstance(o, pn.pane.HTML))
    tou = E.section("tou", store, cfg, p, as_of=snap).table
    total = float(tou.loc[cfg.site.plant.id, "total_kwh"])
    assert f'data-value="{total!r}"' in html
    assert 'data-move="refused"' in page.move("18-19", "19-20", 50)  # overlapping hours: refused in one line


def test_table_html_and_csv():
    df = pd.DataFrame({"kwh": [1234.5, float("nan")], "name": ["焊接", "b"]}, index=pd.Index(["a", "b"], name="g"))
    h = table_html(df, "x")
    assert 'data-value="1234.5"' in h and "1,234.5" in h and "–" in h and "焊接" in h
    assert csv_bytes(df).getvalue().decode("utf-8-sig").splitlines()[1] == "a,1234.5,焊接"
    back = pd.read_excel(xlsx_bytes(df, "tou"), index_col=0)
    assert list(back.columns) == ["kwh", "name"] and back.loc["a", "kwh"] == 1234.5 and back.loc["a", "name"] == "焊接"
    units = pd.read_excel(xlsx_bytes(pd.DataFrame({"peak_kwh": [1.0], "flat_share_pct": [2.0]}), "x"), index_col=0)
    assert list(units.columns) == ["peak [kWh]", "flat share [%]"]  # the unit travels with the number


def test_demand_names_a_month_without_readings(seeded):
    cfg, store, snap, p = seeded
    empty = E.Period("month", p.date - dt.timedelta(days=40), "day")  # the 30 h of history are not in it
    s = E.section("demand", store, cfg, empty, as_of=snap)
    assert s.table.empty and s.note_text() == f"No readings in {empty.start:%Y-%m}."
    full = E.section("demand", store, cfg, E.Period("month", p.date, "day"), as_of=snap)
    assert len(full.table) == 1 and full.note == ""
    # the month's maximum 15-min demand is the highest 15-min mean plant power of the query API
    pw = store.power(full.table.index[0], p.end, by="plant", freq="15min", as_of=snap).to_pandas()[cfg.site.plant.id]
    assert full.table["max_kw"].iloc[0] == pytest.approx(pw.max())


def test_every_tab_in_chinese_and_in_english(seeded):
    import re

    from dashboards import tables

    cfg, store, snap, p = seeded
    hv.extension("bokeh")
    cjk = re.compile(r"[\u3400-\u9fff\uff00-\uffef]")
    tables.UNTRANSLATED.clear()
    zh, en = EmsPage(cfg, p.query(), store=store, lang="zh"), EmsPage(cfg, p.query(), store=store, lang="en")
    for name in E.SECTIONS:
        zh.tab = en.tab = name
        html_zh = "".join(o.object for o in zh._active().objects if isinstance(o, pn.pane.HTML))
        html_en = "".join(o.object for o in en._active().objects if isinstance(o, pn.pane.HTML))
        heads = re.findall(r'<th data-col="[^"]*">([^<]*)</th>', html_zh)
        assert all(cjk.search(h) for h in heads), (name, heads)  # every header Chinese, its unit kept
        assert not cjk.search(re.sub(r'data-[a-z-]+="[^"]*"', "", html_en)), name  # no Chinese on the English page
    assert not tables.UNTRANSLATED.get("zh")
    # the time-of-use title, as the catalogue's sentence with the tariff of the configuration and the day
    from workspace.tariffs import config_tariff

    t = config_tariff(cfg)
    zh.tab = "tou"
    html_zh = "".join(o.object for o in zh._active().objects if isinstance(o, pn.pane.HTML))
    status = {"primary": "一手来源", "secondary": "二手来源", "unverified": "未核实", "illustrative": "示例数据"}[t.status]
    assert f'<h3 data-title="tou">峰谷分时电量与电费，电价 {t.id}（{status}），{p.date:%Y-%m-%d}</h3>' in html_zh
    assert "尖峰 [kWh]" in html_zh and "平段占比 [%]" in html_zh
