"""Store.energy's numpy path and the monthly rollups: hand-worked totals at every frequency; the measured and
flagged minutes models read (Store.measured_days, Store.flagged_minutes)."""

import datetime as dt

import numpy as np
import pytest

from workspace.store import Store

UTC = dt.timezone.utc
START = dt.datetime(2026, 1, 30, 14, 0, tzinfo=UTC)  # local 2026-01-30 22:00, Asia/Shanghai (UTC+8)
MINUTES = 53 * 60  # readings up to local 2026-02-02 03:00 inclusive


@pytest.fixture
def steady(store_cfg):
    """M-TR-1 uses exactly 1 kWh and M-TR-2 0.5 kWh every minute from local 30 Jan 22:00 to 2 Feb 03:00
    (the store on a folder, then on S3)."""
    s = Store.open(store_cfg.paths.store, store_cfg.site, create=True)
    c = np.full((MINUTES + 1, len(s.meters)), np.nan)
    k = np.arange(MINUTES + 1, dtype=float)
    c[:, s.meters.index("M-TR-1")] = 1000.0 + k
    c[:, s.meters.index("M-TR-2")] = 500.0 + 0.5 * k
    s.bulk_load([(START, {"counter": c})], message="steady load", author="test")
    return s


def _series(a):
    return {str(t)[:16]: v for t, v in zip(a.time.values, a.values[:, 0])}


def test_energy_at_every_frequency_gives_hand_worked_sums(steady):
    s = steady
    both = ["M-TR-1", "M-TR-2"]
    # one total: 24.5 h of 1 kWh/min and 0.5 kWh/min
    e = s.energy("2026-01-31 12:00", "2026-02-01 12:30", meters=both, freq=None)
    assert e.dims == ("group",) and e.values.tolist() == [1470.0, 735.0]
    assert e.attrs["coverage"] == 1.0 and e.attrs["units"] == "kWh" and e.attrs["timezone"] == "Asia/Shanghai"
    # quarter hours with partial ones at both edges (labels at the local quarter's start)
    q = s.energy("2026-02-01 00:05", "2026-02-01 00:50", meters=["M-TR-1"], freq="15min")
    assert _series(q) == {"2026-02-01T00:00": 10.0, "2026-02-01T00:15": 15.0, "2026-02-01T00:30": 15.0,
                          "2026-02-01T00:45": 5.0}
    # hours, the first one partial; before the first reading: no value (NaN), not 0
    h = s.energy("2026-01-30 20:30", "2026-01-31 00:00", meters=["M-TR-1"], freq="1h")
    assert list(_series(h)) == ["2026-01-30T20:00", "2026-01-30T21:00", "2026-01-30T22:00", "2026-01-30T23:00"]
    assert np.isnan(h.values[:2, 0]).all() and h.values[2:, 0].tolist() == [60.0, 60.0]
    assert h.attrs["coverage"] == pytest.approx(120 / 210)
    # local days, both partial, and two-day bins starting at the first day's midnight
    d = s.energy("2026-01-31 06:00", "2026-02-01 12:00", meters=["M-TR-1"], freq="1D")
    assert _series(d) == {"2026-01-31T00:00": 1080.0, "2026-02-01T00:00": 720.0}
    d2 = s.energy("2026-01-30", "2026-02-02 02:00", meters=["M-TR-2"], freq="2D")
    # 30 Jan 22:00 .. 1 Feb 00:00 = 26 h; 1 Feb 00:00 .. 2 Feb 02:00 = 26 h (0.5 kWh/min)
    assert _series(d2) == {"2026-01-30T00:00": 780.0, "2026-02-01T00:00": 780.0}
    # local months: January from 30 Jan 22:00 (2 h + 24 h), February up to 2 Feb 03:00 (27 h)
    m = s.energy("2026-01-01", "2026-03-01", meters=["M-TR-1"], freq="MS")
    assert _series(m) == {"2026-01-01T00:00": 1560.0, "2026-02-01T00:00": 1620.0}
    # the plant total sums the top meters (both transformers' incomers)
    p = s.energy("2026-02-01", "2026-02-02", by="plant", freq="1D")
    assert p.values.tolist() == [[2160.0]]


def _monthly_rows(s, meter):
    """The stored monthly rollup of one meter: {months since 1970-01: kWh}."""
    import zarr

    g = zarr.open_group(store=s.repo.readonly_session(branch="main").store, mode="r")
    i = s.meters.index(meter)
    return {int(m): float(v) for m, v in zip(g["month"][:], g["energy_1mo"][:, i])}


JAN, FEB = (2026 - 1970) * 12, (2026 - 1970) * 12 + 1


def test_monthly_rollups_follow_late_data_and_corrections(plant_cfg):
    from workspace.batch import Reading, encode_batch_columnar
    from workspace.inbox import drain, submit
    from workspace.journal import Journal

    s = Store.open(plant_cfg.paths.store, plant_cfg.site, create=True)
    c = np.full((MINUTES + 1, len(s.meters)), np.nan)
    c[:, s.meters.index("M-TR-1")] = 1000.0 + np.arange(MINUTES + 1)
    first = s.bulk_load([(START, {"counter": c})])
    # local months of Asia/Shanghai, not UTC ones: January holds 30 Jan 22:00 .. 1 Feb 00:00 local (26 h),
    # February 1 Feb 00:00 .. 2 Feb 03:00 (27 h); in UTC months January would hold 34 h
    rows = _monthly_rows(s, "M-TR-1")
    assert rows[JAN] == 1560.0 and rows[FEB] == 1620.0
    m = s.energy("2026-01-01", "2026-03-01", meters=["M-TR-1"], freq="MS")
    assert m.values[:, 0].tolist() == [1560.0, 1620.0] and m.attrs["coverage"] == pytest.approx(3180 / (59 * 1440))
    assert s.energy("2026-01-01", "2026-03-01", meters=["M-TR-1"], freq=None).item() == 3180.0
    # a gateway's buffer delivers the reading of local 30 Jan 21:00 late: one more hour in January (1000 - 940)
    j = Journal(plant_cfg.paths.journal, writer=True)
    try:
        late = dt.datetime(2026, 1, 30, 13, 0, 3, tzinfo=UTC)
        j.append(encode_batch_columnar(plant_cfg.site.plant.id, 0, "gw", [Reading("M-TR-1", late, 940.0)]))
        before_fix = s.fold(j).snapshot
        assert _monthly_rows(s, "M-TR-1")[JAN] == pytest.approx(1620.0, abs=1e-9)
        assert _monthly_rows(s, "M-TR-1")[FEB] == 1620.0
        # the last reading (local 2 Feb 03:00) was misread: 4210, not 4180, so February gains 30 kWh
        submit(plant_cfg.paths.inbox, {"kind": "correction", "author": "li.wei", "reason": "misread",
                                       "readings": [{"meter": "M-TR-1", "counter": 4210.0,
                                                     "time": dt.datetime(2026, 2, 1, 19, 0, tzinfo=UTC).isoformat()}]})
        assert drain(plant_cfg.paths.inbox, j, plant_cfg.site.plant.id) == 1
        s.fold(j)
    finally:
        j.close()
    assert _monthly_rows(s, "M-TR-1")[FEB] == 1650.0
    m = s.energy("2026-01-01", "2026-03-01", meters=["M-TR-1"], freq="MS").values[:, 0]
    assert m[0] == pytest.approx(1620.0, abs=1e-9) and m[1] == 1650.0
    # earlier versions keep their totals
    assert s.energy("2026-02-01", "2026-03-01", meters=["M-TR-1"], freq="MS", as_of=before_fix).item() == 1620.0
    assert s.energy("2026-01-01", "2026-02-01", meters=["M-TR-1"], freq=None, as_of=first).item() == 1560.0
    # a fresh process (no cache) reads the same
    again = Store.open(plant_cfg.paths.store, plant_cfg.site)
    assert again.energy("2026-02-01", "2026-03-01", meters=["M-TR-1"], freq=None).item() == 1650.0


def test_stores_without_monthly_rollups_sum_the_days(plant_cfg):
    import zarr

    s = Store.open(plant_cfg.paths.store, plant_cfg.site, create=True)
    w = s.repo.writable_session("main")  # a store made before the monthly rollups existed
    g = zarr.open_group(store=w.store, mode="r+")
    for name in ("month", "energy_1mo", "measured_1mo"):
        del g[name]
    w.commit("as before the monthly rollups")
    c = np.full((MINUTES + 1, len(s.meters)), np.nan)
    c[:, s.meters.index("M-TR-1")] = 1000.0 + np.arange(MINUTES + 1)
    s.bulk_load([(START, {"counter": c})])
    m = s.energy("2026-01-01", "2026-03-01", meters=["M-TR-1"], freq="MS")
    assert m.values[:, 0].tolist() == [1560.0, 1620.0]


def test_measured_days_and_flagged_minutes_give_hand_worked_counts(store_cfg):
    """Minute k is local 30 Jan 22:00 + k min; the energy of the minute ending at reading k sits at k."""
    from workspace.errors import UnknownMeter
    from workspace.quality import Q

    s = Store.open(store_cfg.paths.store, store_cfg.site, create=True)
    empty = s.tip()
    c = np.full((MINUTES + 1, len(s.meters)), np.nan)
    q = np.zeros(c.shape, np.uint16)
    k = np.arange(MINUTES + 1, dtype=float)
    a, b = s.meters.index("M-TR-1"), s.meters.index("M-TR-2")
    c[:, a] = 1000.0 + k
    c[:, b] = 500.0 + 0.5 * k
    c[60:70, b] = np.nan  # M-TR-2 not read 30 Jan 23:00 .. 23:09: the 11 minutes ending 23:01 .. 23:10 estimated
    # read by hand: 30 Jan 22:05 and 22:06, 31 Jan 00:30, 1 Feb 00:00 (the instant of the reading, local)
    q[[5, 6, 150, 26 * 60], a] = int(Q.MANUAL)
    s.bulk_load([(START, {"counter": c, "quality": q})], message="flags", author="test")
    both = ["M-TR-1", "M-TR-2"]
    d30, d31, f1, f2 = (dt.date(2026, 1, 30), dt.date(2026, 1, 31), dt.date(2026, 2, 1), dt.date(2026, 2, 2))
    # 30 Jan: the minutes ending 22:01 .. 24:00 (120); M-TR-2 less its 11 estimated ones
    assert s.measured_days(d30, d30, both) == {"M-TR-1": 120, "M-TR-2": 109}
    assert s.measured_days(d31, f1, both) == {"M-TR-1": 2880, "M-TR-2": 2880}
    # 2 Feb: the minutes ending 00:01 .. 03:00
    assert s.measured_days(d30, f2, both) == {"M-TR-1": 3180, "M-TR-2": 3169}
    assert s.measured_days(dt.date(2025, 12, 1), dt.date(2025, 12, 31), both) == {"M-TR-1": 0, "M-TR-2": 0}
    # the count energy's coverage comes from
    cov = s.energy("2026-01-30", "2026-01-31", meters=["M-TR-2"], freq=None).attrs["coverage"]
    assert cov * 1440 == pytest.approx(109)
    assert s.flagged_minutes(d30, d30, both, Q.MANUAL) == {"M-TR-1": 2, "M-TR-2": 0}
    assert s.flagged_minutes(d30, d31, both, Q.MANUAL) == {"M-TR-1": 3, "M-TR-2": 0}
    assert s.flagged_minutes(d30, f1, both, Q.MANUAL) == {"M-TR-1": 4, "M-TR-2": 0}
    assert s.flagged_minutes(f1, f1, ["M-TR-1"], Q.MANUAL) == {"M-TR-1": 1}
    assert s.flagged_minutes(d30, d30, ["M-TR-2"], Q.GAP) == {"M-TR-2": 10}
    assert s.flagged_minutes(d30, d30, ["M-TR-2"], Q.ESTIMATED | Q.MANUAL) == {"M-TR-2": 11}
    # the same counts as the quality report's flag columns over the same local days
    rep = s.quality_report("2026-01-30", "2026-02-02", meters=both)
    assert rep["manual"].tolist() == [4, 0] and rep["gap"].tolist() == [0, 10]
    # as of the empty store: nothing; unknown meters are refused
    assert s.measured_days(d30, f2, both, as_of=empty) == {"M-TR-1": 0, "M-TR-2": 0}
    assert s.flagged_minutes(d30, f2, both, Q.MANUAL, as_of=empty) == {"M-TR-1": 0, "M-TR-2": 0}
    with pytest.raises(UnknownMeter, match="M-NOPE"):
        s.measured_days(d30, d30, ["M-NOPE"])
    with pytest.raises(UnknownMeter, match="M-NOPE"):
        s.flagged_minutes(d30, d30, ["M-NOPE"], Q.MANUAL)
