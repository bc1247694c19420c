"""The store: folding exactly once, flags, local-time queries checked against hand-worked values.

The tests that depend on where the store lives (open, fold, versions and ``as_of``, queries, compaction)
run twice through the ``store_backend`` fixture: on a folder and on S3 (moto's S3 server over HTTP, as
MinIO or Ceph RGW speak it). The S3-only ones are at the end: locations and credentials, an outage of the
object store survived with nothing lost."""

import datetime as dt
import math
import shutil

import numpy as np
import pytest

from workspace.batch import Reading, encode_batch
from workspace.errors import StoreError, UnknownMeter
from workspace.quality import Q
from workspace.store import Store

UTC = dt.timezone.utc
# local midnight 2026-11-24 in Asia/Shanghai is 16:00 UTC the day before
MIDNIGHT = dt.datetime(2026, 11, 23, 16, 0, tzinfo=UTC)


def _t(minutes, ms=300):
    return MIDNIGHT + dt.timedelta(minutes=minutes, milliseconds=ms)


def _append(j, plant, rows):
    j.append(encode_batch(plant, j.next_seq, "test", [Reading(m, _t(k), c) for m, k, c in rows]))


def _cells(s, meter, n=8):
    """counter, quality, energy of a meter from the first slot holding data (reading the raw grid)."""
    ds = s.dataset()
    first = int(ds.attrs["fold"]["first_slot"])
    sub = ds.sel(meter=meter).isel(time=slice(first, first + n))
    return sub.counter.values, sub.quality.values, sub.energy.values


def test_open_missing_store_says_what_to_do(store_cfg):
    with pytest.raises(StoreError, match="no store here yet.*tanjian collect"):
        Store.open(store_cfg.paths.store, store_cfg.site)


def test_plant_energy_in_local_days(store_fresh):
    cfg, j, s = store_fresh
    pid = cfg.site.plant.id
    # transformer incomers: counters at local 23:58, 23:59, 00:00, 00:01, 00:02 (minutes -2..2)
    _append(j, pid, [("M-TR-1", k, 1000.0 + 10 * (k + 2)) for k in range(-2, 3)])
    _append(j, pid, [("M-TR-2", k, 500.0 + 4 * (k + 2)) for k in range(-2, 3)])
    _append(j, pid, [("M-TR-3", k, 200.0 + 1.5 * (k + 2)) for k in range(-2, 3)])
    r = s.fold(j)
    assert (r.seq_from, r.seq_to, r.readings) == (0, 2, 15)
    # 24 Nov (local): the minutes ending 00:01 and 00:02 -> 2 × (10 + 4 + 1.5) = 31 kWh
    day = s.energy("2026-11-24", "2026-11-25", freq=None)
    assert day.sel(group=pid).item() == pytest.approx(31.0)
    assert day.attrs["units"] == "kWh" and day.attrs["timezone"] == "Asia/Shanghai"
    # 23 Nov: the minutes ending 23:59 and 00:00 -> 31 kWh too; the first reading has no delta
    assert s.energy("2026-11-23", "2026-11-24", freq=None).sel(group=pid).item() == pytest.approx(31.0)
    # per minute, labelled by the minute's local start
    per_min = s.energy("2026-11-23 23:58", "2026-11-24 00:02", freq="1min").sel(group=pid).to_pandas()
    assert list(per_min.index.strftime("%H:%M")) == ["23:58", "23:59", "00:00", "00:01"]
    assert np.allclose(per_min.values, [15.5, 15.5, 15.5, 15.5])
    by_meter = s.energy("2026-11-24", "2026-11-25", by="meter", freq=None)
    assert by_meter.sel(group="M-TR-2").item() == pytest.approx(8.0)


def test_fold_is_exactly_once_and_versioned(store_fresh):
    cfg, j, s = store_fresh
    _append(j, cfg.site.plant.id, [("M-TR-1", k, 100.0 + k) for k in range(3)])
    first = s.fold(j)
    assert s.fold(j).readings == 0  # nothing new: no commit
    n_versions = len(s.versions())
    _append(j, cfg.site.plant.id, [("M-TR-1", k, 100.0 + k) for k in range(3, 6)])
    second = s.fold(j)
    assert second.seq_from == first.seq_to + 1
    assert len(s.versions()) == n_versions + 1
    assert s.versions()[0]["metadata"]["journal_seq_from"] == 1
    assert "fold journal batches 1..1" in s.versions()[0]["message"]
    total = s.energy("2026-11-24", "2026-11-25", meters=["M-TR-1"], freq=None).item()
    assert total == pytest.approx(5.0)
    # time travel: as of the first fold, only two minutes of energy existed
    old = s.energy("2026-11-24", "2026-11-25", meters=["M-TR-1"], freq=None, as_of=first.snapshot)
    assert old.item() == pytest.approx(2.0) and old.attrs["snapshot"] == first.snapshot


def test_gap_spreads_the_counter_delta_exactly(fresh):
    cfg, j, s = fresh
    _append(j, cfg.site.plant.id, [("M-WR-01", 0, 50.0), ("M-WR-01", 1, 50.2), ("M-WR-01", 6, 51.2)])
    s.fold(j)
    e = s.energy("2026-11-24 00:00", "2026-11-24 00:06", meters=["M-WR-01"], freq="1min").to_pandas()["M-WR-01"]
    assert e.values == pytest.approx([0.2, 0.2, 0.2, 0.2, 0.2, 0.2])  # 1.0 kWh over 5 missing minutes
    c, flags, _ = _cells(s, "M-WR-01")
    assert c[0] == 50.0 and flags[1] == 0
    assert all(f == Q.GAP | Q.ESTIMATED for f in flags[2:6])
    assert flags[6] == Q.ESTIMATED
    cov = s.energy("2026-11-24 00:00", "2026-11-24 00:06", meters=["M-WR-01"], freq=None).attrs["coverage"]
    assert cov == pytest.approx(1 / 6)


def test_reset_spike_late_and_duplicate_are_flagged(fresh):
    cfg, j, s = fresh
    pid = cfg.site.plant.id
    # M-WR-01 is rated 22 kW: the meter allows 28.6 kW; 1.5 × that per minute is 0.715 kWh
    _append(j, pid, [("M-WR-01", 0, 80.0), ("M-WR-01", 1, 80.3), ("M-WR-01", 2, 0.4),  # reset to 0
                     ("M-WR-01", 3, 900.0), ("M-WR-01", 4, 1.0)])  # spike, then back
    s.fold(j)
    _append(j, pid, [("M-WR-01", 5, 1.3), ("M-WR-01", 5, 1.35)])  # duplicate slot
    _append(j, pid, [("M-WR-01", 3, 0.7)])  # a late reading for a slot already folded
    s.fold(j)
    c, q, e = _cells(s, "M-WR-01")
    i0 = 0
    assert c[0] == 80.0
    assert q[i0 + 2] & Q.COUNTER_RESET and e[i0 + 2] == pytest.approx(0.4)
    assert q[i0 + 3] & Q.SPIKE and c[i0 + 3] == 900.0  # raw value kept
    assert q[i0 + 3] & Q.DUPLICATE  # the late reading found the spike's slot taken
    assert e[i0 + 4] == pytest.approx(0.3) and e[i0 + 3] == pytest.approx(0.3)  # 0.6 spread over 2 slots
    assert q[i0 + 5] & Q.DUPLICATE and c[i0 + 5] == 1.3  # the first reading of the slot is kept
    # the total over the period is what the counters say: 0.3 + 0.4 + 0.6 + 0.3
    total = s.energy("2026-11-24 00:00", "2026-11-24 00:06", meters=["M-WR-01"], freq=None).item()
    assert total == pytest.approx(1.6)


def test_out_of_order_reading_is_merged_into_its_slot(fresh):
    cfg, j, s = fresh
    pid = cfg.site.plant.id
    _append(j, pid, [("M-WR-02", 0, 10.0), ("M-WR-02", 3, 10.6)])
    s.fold(j)
    c, q, e = _cells(s, "M-WR-02")
    assert e[1:4] == pytest.approx([0.2, 0.2, 0.2]) and q[1] == Q.GAP | Q.ESTIMATED
    _append(j, pid, [("M-WR-02", 1, 10.4)])  # a gateway's buffer, late
    s.fold(j)
    c, q, e = _cells(s, "M-WR-02")
    assert c[0] == 10.0 and c[1] == 10.4
    # the late reading splits the gap: minute 1 is now measured, minutes 2-3 share the rest
    assert q[1] == Q.OUT_OF_ORDER and e[1] == pytest.approx(0.4)
    assert q[2] == Q.GAP | Q.ESTIMATED and e[2] == pytest.approx(0.1)
    assert q[3] == Q.ESTIMATED and e[3] == pytest.approx(0.1)
    assert math.isfinite(e[3])


def test_unknown_meter_names_the_batch(fresh):
    cfg, j, s = fresh
    _append(j, cfg.site.plant.id, [("M-NOPE", 0, 1.0)])
    with pytest.raises(UnknownMeter, match="batch 0: unknown meter 'M-NOPE'"):
        s.fold(j)


def test_damaged_store_is_detected_when_opened(fresh):
    cfg, j, s = fresh
    _append(j, cfg.site.plant.id, [("M-TR-1", 0, 1.0)])
    s.fold(j)
    shutil.rmtree(cfg.paths.store / "snapshots")  # a disk or a hand that lost files
    with pytest.raises(StoreError, match="damaged|cannot read"):
        Store.open(cfg.paths.store, cfg.site)


def test_quality_report_counts_flags_and_completeness(fresh):
    cfg, j, s = fresh
    pid = cfg.site.plant.id
    # 6 minutes 00:00..00:05 of M-WR-01: readings at 0, 1, 4 (a gap of 2), a reset at 5
    _append(j, pid, [("M-WR-01", 0, 50.0), ("M-WR-01", 1, 50.2), ("M-WR-01", 4, 50.8), ("M-WR-01", 5, 0.1)])
    s.fold(j)
    rep = s.quality_report("2026-11-24 00:00", "2026-11-24 00:06", meters=["M-WR-01", "M-WR-02"])
    a, b = rep.loc["M-WR-01"], rep.loc["M-WR-02"]
    assert a["minutes"] == 6 and a["readings"] == 4
    assert a["completeness_pct"] == pytest.approx(100 * 4 / 6)
    assert a["gap"] == 2 and a["estimated"] == 3 and a["counter_reset"] == 1 and a["spike"] == 0
    assert a["estimated_pct"] == pytest.approx(50.0)
    assert b["readings"] == 0 and b["completeness_pct"] == 0.0


def test_hourly_rollups_follow_the_minutes_across_an_hour_boundary(fresh):
    cfg, j, s = fresh
    pid = cfg.site.plant.id
    # (a transformer incomer: 2 kWh in a minute is plausible for it, a spike for a welding robot)
    # counters at local 00:58, 00:59, 01:00, 01:01 -> minutes ending 00:59 (1), 01:00 (2), 01:01 (3)
    _append(j, pid, [("M-TR-1", 58, 0.0), ("M-TR-1", 59, 1.0), ("M-TR-1", 60, 3.0)])
    s.fold(j)
    _append(j, pid, [("M-TR-1", 61, 6.0)])
    s.fold(j)  # a later fold touches the next hour only
    hourly = s.energy("2026-11-24 00:00", "2026-11-24 02:00", meters=["M-TR-1"], freq="1h")
    assert hourly.to_pandas()["M-TR-1"].tolist() == [3.0, 3.0]
    # the same period read minute by minute (no rollup) agrees, and an edge inside an hour mixes both
    assert s.energy("2026-11-24 00:00", "2026-11-24 02:00", meters=["M-TR-1"], freq="20min").sum().item() == 6.0
    assert s.energy("2026-11-24 00:59", "2026-11-24 02:00", meters=["M-TR-1"], freq=None).item() == 5.0
    ds = s.dataset()
    h = ds.energy_1h.sel(meter="M-TR-1").sel(hour=slice("2026-11-23T16:00", "2026-11-23T17:00")).values
    assert h.tolist() == [3.0, 3.0] and ds.measured_1h.sel(meter="M-TR-1").max().item() == 2


def test_rollups_agree_with_minutes_on_a_day_of_plant_data(seeded_cfg):
    s = Store.open(seeded_cfg.paths.store, seeded_cfg.site)
    end = s.latest_time().replace(minute=0, second=0, microsecond=0, tzinfo=None)
    start = end - dt.timedelta(hours=20)
    via_rollup = s.energy(start, end, by="workshop", freq="1h")
    via_minutes = s.energy(start, end, by="workshop", freq="15min").resample(time="1h").sum()
    assert np.allclose(via_rollup.values, via_minutes.values, rtol=1e-12)
    assert via_rollup.attrs["coverage"] == pytest.approx(1.0)
    # a whole local day from the daily rollups, against the same day from hourly and minute rows
    day = (end - dt.timedelta(days=1)).replace(hour=0)
    daily = s.energy(day - dt.timedelta(hours=3), day + dt.timedelta(days=1), by="workshop", freq=None)
    parts = s.energy(day - dt.timedelta(hours=3), day + dt.timedelta(days=1), by="workshop", freq="30min").sum("time")
    assert np.allclose(daily.values, parts.values, rtol=1e-12)
    ds = s.dataset()
    assert ds.energy_1d.sel(day=np.datetime64(day.strftime("%Y-%m-%d"))).notnull().all()


def test_correction_is_a_new_version_with_author_and_reason(fresh):
    from workspace.inbox import drain, submit

    cfg, j, s = fresh
    pid = cfg.site.plant.id
    _append(j, pid, [("M-WR-05", 0, 20.0), ("M-WR-05", 1, 20.3), ("M-WR-05", 2, 20.35), ("M-WR-05", 3, 20.6)])
    before = s.fold(j).snapshot
    # the reading at 00:02 was misread; the right value is 20.5
    submit(cfg.paths.inbox, {"kind": "correction", "author": "li.wei", "reason": "misread at commissioning",
                             "readings": [{"meter": "M-WR-05", "time": _t(2).isoformat(), "counter": 20.5}]})
    assert drain(cfg.paths.inbox, j, pid) == 1 and not list(cfg.paths.inbox.glob("*.json"))
    r = s.fold(j)
    assert (r.seq_from, r.seq_to) == (1, 1)
    v = s.versions()[0]
    assert v["message"].startswith("correction by li.wei: misread at commissioning")
    assert v["metadata"]["author"] == "li.wei" and v["metadata"]["reason"] == "misread at commissioning"
    c, q, e = _cells(s, "M-WR-05")
    assert c[2] == 20.5 and q[2] & Q.MANUAL
    assert e[2] == pytest.approx(0.2) and e[3] == pytest.approx(0.1)  # both intervals re-derived
    # the original stays in the version before: nothing is overwritten
    old = s.energy("2026-11-24 00:01", "2026-11-24 00:02", meters=["M-WR-05"], freq=None, as_of=before)
    assert old.item() == pytest.approx(0.05)
    assert s.energy("2026-11-24 00:01", "2026-11-24 00:02", meters=["M-WR-05"], freq=None).item() == \
        pytest.approx(0.2)


def test_meter_replaced_counts_both_meters(fresh):
    from workspace.inbox import drain, submit

    cfg, j, s = fresh
    pid = cfg.site.plant.id
    _append(j, pid, [("M-WR-06", 0, 5000.0), ("M-WR-06", 1, 5000.4)])
    # the meter is swapped during minute 2: the old one ends at 5000.6, the new one starts at 0.0
    submit(cfg.paths.inbox, {"kind": "meter_replaced", "author": "zhang.min", "reason": "meter failed",
                             "meter": "M-WR-06", "time": _t(2).isoformat(), "old_final": 5000.6,
                             "new_initial": 0.0})
    drain(cfg.paths.inbox, j, pid)
    _append(j, pid, [("M-WR-06", 2, 0.1), ("M-WR-06", 3, 0.5)])
    while s.fold(j).readings or s.last_folded_seq < len(j) - 1:
        pass
    c, q, e = _cells(s, "M-WR-06")
    # minute 2: 0.2 on the old meter (5000.4 -> 5000.6) + 0.1 on the new one (0.0 -> 0.1)
    assert e[2] == pytest.approx(0.3) and q[2] & Q.METER_REPLACED and not q[2] & Q.COUNTER_RESET
    assert e[3] == pytest.approx(0.4)
    total = s.energy("2026-11-24 00:00", "2026-11-24 00:03", meters=["M-WR-06"], freq=None).item()
    assert total == pytest.approx(0.4 + 0.3 + 0.4)
    assert any(v["metadata"].get("kind") == "meter_replaced" for v in s.versions())


def test_counter_rollover_of_an_integer_register(fresh):
    cfg, j, s = fresh
    # M-TR-2 is a cn3p-int32 meter: uint32 at 0.01 kWh wraps at 42,949,672.96 kWh
    _append(j, cfg.site.plant.id, [("M-TR-2", 0, 42949660.00), ("M-TR-2", 1, 42949670.96), ("M-TR-2", 2, 9.00)])
    s.fold(j)
    c, q, e = _cells(s, "M-TR-2")
    assert e[1] == pytest.approx(10.96)
    assert q[2] & Q.ROLLOVER and not q[2] & Q.COUNTER_RESET
    assert e[2] == pytest.approx(2.00 + 9.00)


def test_gap_is_shared_by_the_meters_typical_profile(fresh):
    cfg, j, s = fresh
    pid = cfg.site.plant.id
    # two days of a transformer incomer drawing 1 kWh a minute from 08:00 to 16:00 local, nothing else
    day0 = -2 * 24 * 60
    counter, rows = 1000.0, []
    for k in range(day0, 0):
        hour = (k // 60) % 24
        rows.append(("M-TR-3", k, counter))
        counter += 1.0 if 8 <= hour < 16 else 0.0
    _append(j, pid, rows)
    s.fold(j)
    # today the meter is silent from 07:00 to 09:00 (last reading at 07:00, next at 09:00): 60 kWh
    _append(j, pid, [("M-TR-3", 0, counter), ("M-TR-3", 7 * 60, counter)])
    s.fold(j)
    _append(j, pid, [("M-TR-3", 9 * 60, counter + 60.0)])
    s.fold(j)
    e = s.energy("2026-11-24 07:00", "2026-11-24 09:00", meters=["M-TR-3"], freq="1h").to_pandas()["M-TR-3"]
    # the typical profile puts all of it between 08:00 and 09:00, none in the 07:00 hour
    assert e.loc["2026-11-24 07:00"] == pytest.approx(0.0, abs=1e-9)
    assert e.loc["2026-11-24 08:00"] == pytest.approx(60.0)
    rep = s.quality_report("2026-11-24 07:00", "2026-11-24 09:00", meters=["M-TR-3"])
    assert rep.loc["M-TR-3", "gap"] == 119 and rep.loc["M-TR-3", "estimated"] == 120


def test_stuck_counter_is_flagged_while_the_meter_reports_load(fresh):
    cfg, j, s = fresh
    pid = cfg.site.plant.id
    # M-LC-01 (45 kW rated): its counter freezes at 10.0 for 6 readings while the meter says 30 kW
    rows = [Reading("M-LC-01", _t(k), 9.5 + 0.5 * k if k < 1 else 10.0, 30.0) for k in range(7)]
    rows += [Reading("M-LC-02", _t(k), 10.0, 0.0) for k in range(7)]  # idle and still: fine
    j.append(encode_batch(pid, j.next_seq, "test", rows))
    s.fold(j)
    rep = s.quality_report("2026-11-24 00:00", "2026-11-24 00:07", meters=["M-LC-01", "M-LC-02"])
    assert rep.loc["M-LC-01", "stuck"] == 6 and rep.loc["M-LC-02", "stuck"] == 0


def test_stuck_counter_is_found_across_folds(fresh):
    cfg, j, s = fresh
    pid = cfg.site.plant.id
    # live collection folds one reading at a time: the frozen run builds up over several folds
    for k in range(7):
        j.append(encode_batch(pid, j.next_seq, "test",
                              [Reading("M-LC-03", _t(k), 9.5 if k < 1 else 10.0, 30.0)]))
        s.fold(j)
    rep = s.quality_report("2026-11-24 00:00", "2026-11-24 00:07", meters=["M-LC-03"])
    assert rep.loc["M-LC-03", "stuck"] == 6


def test_power_mean_and_peak_per_interval(fresh):
    cfg, j, s = fresh
    rows = [Reading("M-WR-07", _t(k), 1.0 + k / 100, rate) for k, rate in enumerate([10.0, 20.0, 30.0, 0.0])]
    j.append(encode_batch(cfg.site.plant.id, j.next_seq, "test", rows))
    s.fold(j)
    kw = dict(meters=["M-WR-07"], freq="2min")
    assert s.power("2026-11-24 00:00", "2026-11-24 00:04", **kw).values[:, 0].tolist() == [15.0, 15.0]
    assert s.power("2026-11-24 00:00", "2026-11-24 00:04", how="max", **kw).values[:, 0].tolist() == [20.0, 30.0]
    with pytest.raises(ValueError, match="how must be"):
        s.power("2026-11-24 00:00", "2026-11-24 00:04", how="median", **kw)


def test_compaction_keeps_tagged_versions_and_the_data(store_fresh):
    cfg, j, s = store_fresh
    pid = cfg.site.plant.id
    _append(j, pid, [("M-TR-1", k, 100.0 + k) for k in range(3)])
    first = s.fold(j).snapshot
    s.tag("report-2026-11", first)
    for n in range(3):  # later folds rewrite the same chunks: the old copies become garbage
        _append(j, pid, [("M-TR-1", k, 100.0 + k) for k in range(3 + 3 * n, 6 + 3 * n)])
        s.fold(j)
    middle = s.versions()[1]["id"]
    before = s.energy("2026-11-24", "2026-11-25", meters=["M-TR-1"], freq=None).item()
    out = s.compact(keep_days=0)
    assert out["expired"] >= 3 and out["deleted_snapshots"] >= 3 and out["deleted_bytes"] > 0
    assert s.energy("2026-11-24", "2026-11-25", meters=["M-TR-1"], freq=None).item() == before == 11.0
    # the tagged version still answers, by tag or id; an untagged old one is gone, with a clear error
    assert s.energy("2026-11-24", "2026-11-25", meters=["M-TR-1"], freq=None, as_of="report-2026-11").item() == 2.0
    assert s.energy("2026-11-24", "2026-11-25", meters=["M-TR-1"], freq=None, as_of=first).item() == 2.0
    with pytest.raises(StoreError, match="expired by compaction"):
        s.energy("2026-11-24", "2026-11-25", meters=["M-TR-1"], freq=None, as_of=middle)
    # and folding goes on after it
    _append(j, pid, [("M-TR-1", 12, 112.0)])
    assert s.fold(j).readings == 1


def test_hourly_peak_rollup_follows_late_readings_and_edges(fresh):
    cfg, j, s = fresh
    pid = cfg.site.plant.id
    kw = dict(meters=["M-WR-07"], freq="1h", how="max")

    def put(rows):  # (local minute after midnight, counter [kWh], rate [kW])
        j.append(encode_batch(pid, j.next_seq, "test", [Reading("M-WR-07", _t(k), c, r) for k, c, r in rows]))
        return s.fold(j).snapshot

    # 00:58 10 kW, 00:59 12, 01:00 15 (read at 01:00: the 01:00 hour's), 01:30 9, 02:00 5
    first = put([(58, 1.00, 10.0), (59, 1.01, 12.0), (60, 1.02, 15.0), (90, 1.20, 9.0), (120, 1.30, 5.0)])
    assert s.power("2026-11-24 00:00", "2026-11-24 03:00", **kw).values[:, 0].tolist() == [12.0, 15.0, 5.0]
    # a gateway's buffer brings 01:15 at 25 kW hours later: that hour's peak rises, the others stay
    put([(75, 1.10, 25.0)])
    assert s.power("2026-11-24 00:00", "2026-11-24 03:00", **kw).values[:, 0].tolist() == [12.0, 25.0, 5.0]
    assert s.power("2026-11-24 00:00", "2026-11-24 03:00", as_of=first, **kw).values[:, 0].tolist() == \
        [12.0, 15.0, 5.0]
    # a fold holding only a reading on the hour (03:00) rolls up the 03:00 hour, not 02:00
    put([(180, 1.40, 6.0)])
    ds = s.dataset()
    peaks = ds.power_max_1h.sel(meter="M-WR-07").sel(hour=slice("2026-11-23T16:00", "2026-11-23T19:00")).values
    assert peaks.tolist() == [12.0, 25.0, 5.0, 6.0]
    # partial hours at the edges come from the minutes: 00:30-00:59 -> 12, 02:00-02:29 -> 5; 03:00 alone -> 6
    assert s.power("2026-11-24 00:30", "2026-11-24 02:30", **kw).values[:, 0].tolist() == [12.0, 25.0, 5.0]
    # 01:20-01:59 holds only 01:30 (9 kW; the late 25 kW at 01:15 is before it), 03:00-03:00:59 only 6 kW
    assert s.power("2026-11-24 01:20", "2026-11-24 03:01", **kw).values[:, 0].tolist() == [9.0, 5.0, 6.0]
    # an hour without readings is NaN, as from the minutes
    late = s.power("2026-11-24 02:00", "2026-11-24 05:00", **kw).values[:, 0].tolist()
    assert late[:2] == [5.0, 6.0] and math.isnan(late[2])


def test_tip_is_the_newest_version_and_as_of_resolves_to_snapshots(store_fresh):
    cfg, j, s = store_fresh
    created = s.tip()
    assert created == s.versions()[0]["id"] == s.snapshot()
    _append(j, cfg.site.plant.id, [("M-TR-1", k, 100.0 + k) for k in range(3)])
    first = s.fold(j).snapshot
    assert s.tip() == first != created
    s.tag("first-fold", first)
    assert s.snapshot("first-fold") == s.snapshot(first) == first
    when = s.versions()[0]["time"]
    assert s.snapshot(when) == first and s.snapshot(when - dt.timedelta(microseconds=1)) == created
    with pytest.raises(StoreError, match="no version of the store as of"):
        s.snapshot(dt.datetime(2000, 1, 1, tzinfo=UTC))


# -- object storage only ---------------------------------------------------------------------------------------
T0 = dt.datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # local midnight, 24 Nov (Asia/Shanghai)


def _by_hand(cfg, hours):
    from tests.handworked import plant_electricity_from_counters

    return plant_electricity_from_counters(cfg, T0, hours)


def test_locations_are_checked():
    from workspace.storage import parse_location

    assert parse_location("var/store").is_local
    loc = parse_location("s3://plants/p18/store?endpoint_url=http://10.0.0.5:9000&allow_http=true")
    assert (loc.bucket, loc.prefix, dict(loc.options)) == ("plants", "p18/store",
                                                           {"endpoint_url": "http://10.0.0.5:9000",
                                                            "allow_http": True})
    with pytest.raises(StoreError, match="unknown option 'endpoint'"):
        parse_location("s3://plants/p?endpoint=http://x")
    with pytest.raises(StoreError, match="allow_http='maybe' must be true or false"):
        parse_location("s3://plants/p?allow_http=maybe")
    with pytest.raises(StoreError, match="not gs://"):
        parse_location("gs://plants/p")


def test_s3_options_without_a_url_name_the_line(tmp_path):
    from workspace.config import EXAMPLE, load_config
    from workspace.errors import ConfigError

    text = EXAMPLE.read_text().replace("paths:\n", "paths:\n  s3: {region: us-east-1}\n", 1)
    (tmp_path / "tanjian.yaml").write_text(text)
    with pytest.raises(ConfigError, match=r"tanjian\.yaml:\d+: paths: .*s3 options given without store_url"):
        load_config(tmp_path / "tanjian.yaml")


def test_missing_credentials_say_where_they_come_from(tmp_path, monkeypatch):
    from tests.objectstore import s3_config

    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    cfg = s3_config(tmp_path, "http://127.0.0.1:9")
    with pytest.raises(StoreError, match="AWS_ACCESS_KEY_ID"):
        Store.open(cfg.paths.store, cfg.site, create=True)


def test_store_on_s3_folds_queries_and_survives_an_outage(tmp_path, s3):
    from collectors.service import backfill
    from tanjian.simulator.model import LoadModel
    from tests.objectstore import s3_config, start_s3_server
    from tanjian.demo.history import seed_history
    from workspace.journal import Journal

    cfg = s3_config(tmp_path, s3["endpoint"])
    assert str(cfg.paths.store).startswith("s3://plants/plant-18/store?")
    seed_history(cfg, T0, T0 + dt.timedelta(hours=2, minutes=1))  # readings 00:00 .. 02:00
    assert not (cfg.paths.data_dir / "store").exists()  # nothing of the store on the local disk
    store = Store.open(cfg.paths.store, cfg.site)
    e = store.energy("2026-11-24 00:00", "2026-11-24 02:00", freq="1h")
    assert float(e.sum()) == pytest.approx(_by_hand(cfg, 2), rel=1e-12)
    v1 = store.versions()[0]["id"]

    # the object store goes away: the journal keeps acknowledging, the fold fails with the location named
    folded = store.last_folded_seq
    s3["server"].stop()
    journal = Journal(cfg.paths.journal, writer=True)
    n = backfill(cfg.site, journal, LoadModel(cfg.site, cfg.simulation.seed),
                 T0 + dt.timedelta(hours=2, minutes=1), T0 + dt.timedelta(hours=3, minutes=1))
    assert n > 0 and journal.next_seq > folded + 1
    with pytest.raises(StoreError, match=r"s3://plants/plant-18/store: the fold could not .* journal keeps "
                                         r"every batch.*Connection refused"):
        store.fold(journal)
    with pytest.raises(StoreError, match="s3://plants/plant-18/store: .*unreachable"):
        Store.open(cfg.paths.store, cfg.site)

    # it comes back (same server state, same port): the fold catches up, totals exact, old version intact
    s3["server"] = start_s3_server(s3["port"])
    while store.fold(journal, max_batches=30).readings:
        pass
    journal.close()
    again = Store.open(cfg.paths.store, cfg.site)
    e = again.energy("2026-11-24 00:00", "2026-11-24 03:00", freq="1h")
    assert float(e.sum()) == pytest.approx(_by_hand(cfg, 3), rel=1e-12)
    assert float(again.energy("2026-11-24 00:00", "2026-11-24 03:00", freq=None, as_of=v1).sum()) == \
        pytest.approx(_by_hand(cfg, 2), rel=1e-12)
