"""What the pages read is read once per store snapshot for the whole server: the big screen's PlantView
(:func:`dashboards.feeds.read_plant`) and the newest reading (:func:`workspace.store.query.latest_time`) are
shared by every session's own Store, and a new snapshot is read afresh."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from benchmarks._bulk import plant_workspace
from dashboards import feeds
from workspace.config import load_config
from workspace.store import Store


@pytest.fixture(scope="module")
def plant(tmp_path_factory):
    # a generated 12-meter plant, one day of minutes ending at 2026-12-01 00:00 Asia/Shanghai
    end = dt.datetime(2026, 12, 1, tzinfo=ZoneInfo("Asia/Shanghai"))
    config, data = plant_workspace(tmp_path_factory.mktemp("feeds"), 12, 1, end)
    return load_config(config, data_dir=data)


def test_two_sessions_share_one_view_of_a_snapshot(plant):
    feeds.forget()
    a, b = Store.open(plant.paths.store, plant.site), Store.open(plant.paths.store, plant.site)
    va = feeds.read_plant(a, a.tip())
    assert feeds.read_plant(b, b.tip()) is va  # the second session reads nothing
    assert feeds.read_plant(b, b.tip(), load_freq="15min") is not va  # another interval is another view
    feeds.forget()
    again = feeds.read_plant(b, b.tip())
    assert again is not va and again.kpis.equals(va.kpis)
    # the history's last minute is 23:59 local on 30 November (it ends at midnight, exclusive)
    assert va.as_of == dt.datetime(2026, 11, 30, 23, 59, tzinfo=ZoneInfo("Asia/Shanghai"))
    # "now" is the end of that last minute, 1 December 00:00: today has no minute yet, yesterday (30 November)
    # is whole: 24 h at 5 min = 288 load points
    assert va.today[0] == dt.datetime(2026, 12, 1, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert len(va.load_today) == 0 and len(va.load_yesterday) == 288


def test_newest_reading_and_quality_name_the_snapshot_read(plant):
    a, b = Store.open(plant.paths.store, plant.site), Store.open(plant.paths.store, plant.site)
    snap = a.tip()
    assert a.latest_time(snap) == b.latest_time(snap) == dt.datetime(2026, 11, 30, 23, 59,
                                                                      tzinfo=ZoneInfo("Asia/Shanghai"))
    q = b.quality_report("2026-11-30", "2026-12-01", as_of=snap)
    assert q.attrs["snapshot"] == snap
    # every meter read every minute of the day: 1,440 readings of 1,440 minutes = 100 %
    assert (q["readings"] == 1440).all() and (q["completeness_pct"] == 100.0).all()
    t = b.tariff_energy("2026-11-30", "2026-12-01", as_of=snap)
    assert t.attrs["snapshot"] == snap and t.isna().all().all()  # generated meters have no tariff registers


def test_the_methodology_is_read_once_for_every_session(plant):
    feeds.forget()
    first = feeds.methodology_status(plant)
    # the generated plant pins no methodology: the packaged default, not checked on chain
    assert (first["status"], first["label"]) == ("offline", "offline, not checked")
    assert feeds.methodology_status(plant) is first  # within METHODOLOGY_TTL_S: the same answer
    again = feeds.methodology_status(plant, fresh=True)
    assert again is not first and again["sha256"] == first["sha256"]
