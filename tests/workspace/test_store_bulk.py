"""Store.bulk_load: history in one commit, continued by journal folds; hand-worked totals."""

import datetime as dt

import numpy as np
import pytest

from workspace.batch import Reading, encode_batch_columnar
from workspace.errors import StoreError
from workspace.quality import Q
from workspace.store import Store

UTC = dt.timezone.utc
MIDNIGHT = dt.datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # local midnight 24 Nov, Asia/Shanghai


def _block(s, rows):
    """(minutes, meters) counters, NaN but for M-TR-1 and M-TR-2."""
    c = np.full((len(rows), len(s.meters)), np.nan)
    c[:, s.meters.index("M-TR-1")] = [r[0] for r in rows]
    c[:, s.meters.index("M-TR-2")] = [r[1] for r in rows]
    return c


def test_bulk_history_then_journal_fold_gives_hand_worked_energy(fresh):
    cfg, j, s = fresh
    # local 00:00, 00:01, 00:02: M-TR-1 1000, 1010, 1030; M-TR-2 50, 52, 52.5; then local 00:05 (gap of
    # two minutes before it) from a second block: 1060 and 60
    snap = s.bulk_load([(MIDNIGHT, {"counter": _block(s, [(1000, 50), (1010, 52), (1030, 52.5)])}),
                        (MIDNIGHT + dt.timedelta(minutes=5), {"counter": _block(s, [(1060, 60)])})],
                       message="import of last month's export", author="li.wei")
    v = s.versions()[0]
    assert v["id"] == snap and v["metadata"]["author"] == "li.wei" and v["metadata"]["readings"] == 8
    assert v["message"] == "import of last month's export (8 readings)"
    # the journal continues at 00:06
    j.append(encode_batch_columnar(cfg.site.plant.id, 0, "t", [
        Reading("M-TR-1", MIDNIGHT + dt.timedelta(minutes=6, seconds=1), 1065.0),
        Reading("M-TR-2", MIDNIGHT + dt.timedelta(minutes=6, seconds=1), 61.0)]))
    assert s.fold(j).readings == 2
    e = s.energy("2026-11-24 00:00", "2026-11-24 00:06", meters=["M-TR-1", "M-TR-2"], freq=None)
    # M-TR-1: 10 + 20 + (1060 - 1030 = 30 over the gap) + 5 = 65; M-TR-2: 2 + 0.5 + 7.5 + 1 = 11
    assert e.sel(group="M-TR-1").item() == 65.0 and e.sel(group="M-TR-2").item() == 11.0
    m1 = s.energy("2026-11-24 00:00", "2026-11-24 00:06", meters=["M-TR-1"], freq="1min").values[:, 0]
    assert m1[:2].tolist() == [10.0, 20.0] and m1[5] == 5.0
    assert m1[2:5].sum() == pytest.approx(30.0, abs=1e-9)
    rep = s.quality_report("2026-11-24 00:00", "2026-11-24 00:07", meters=["M-TR-1"])
    assert rep.loc["M-TR-1", "gap"] == 2 and rep.loc["M-TR-1", "readings"] == 5
    # hourly and daily rollups hold the same sums
    day = s.energy("2026-11-24", "2026-11-25", meters=["M-TR-1"], freq="1D").values[0, 0]
    assert day == pytest.approx(65.0, abs=1e-9)


def test_bulk_load_refuses_what_it_cannot_do(fresh):
    cfg, j, s = fresh
    c = _block(s, [(1000, 50), (1010, 52)])
    with pytest.raises(StoreError, match="no 'counter' array"):
        s.bulk_load([(MIDNIGHT, {"rate": c})])
    with pytest.raises(StoreError, match=r"expected \(minutes, "):
        s.bulk_load([(MIDNIGHT, {"counter": c[:, :3]})])
    with pytest.raises(StoreError, match="before the end of the previous block"):
        s.bulk_load([(MIDNIGHT, {"counter": c}), (MIDNIGHT + dt.timedelta(minutes=1), {"counter": c})])
    s.bulk_load([(MIDNIGHT, {"counter": c, "quality": np.full(c.shape, int(Q.MANUAL))})])
    with pytest.raises(StoreError, match="needs an empty store"):
        s.bulk_load([(MIDNIGHT + dt.timedelta(hours=1), {"counter": c})])


def test_cached_rollups_follow_late_data_and_corrections(fresh):
    """Queries read rollups cached per snapshot; a later fold that changes an old hour is seen."""
    cfg, j, s = fresh
    pid = cfg.site.plant.id
    rows = [(1000 + 10 * k, 50 + k) for k in range(0, 180)]  # three hours: 10 kWh and 1 kWh a minute
    rows[90] = (np.nan, np.nan)  # local 01:30 missing: the gap is spread (estimated)
    s.bulk_load([(MIDNIGHT, {"counter": _block(s, rows)})])
    assert s.energy("2026-11-24", "2026-11-25", meters=["M-TR-1"], freq=None).item() == pytest.approx(1790.0)
    # the late reading for 01:30 arrives from a gateway's buffer, off by +3 kWh against the spread
    j.append(encode_batch_columnar(pid, 0, "t", [Reading("M-TR-1", MIDNIGHT + dt.timedelta(minutes=90, seconds=2),
                                                         1903.0)]))
    s.fold(j)
    h = s.energy("2026-11-24 01:00", "2026-11-24 02:00", meters=["M-TR-1"], freq="1h").values[0, 0]
    assert h == pytest.approx(600.0)  # the hour's total is unchanged: the counter delta is exact
    m = s.energy("2026-11-24 01:29", "2026-11-24 01:31", meters=["M-TR-1"], freq="1min").values[:, 0]
    assert m.tolist() == pytest.approx([13.0, 7.0])  # 1903 - 1890 and 1910 - 1903, no longer estimated
    again = Store.open(cfg.paths.store, cfg.site)  # a fresh process's view: no cache
    for a, b in (("2026-11-24", "2026-11-25"), ("2026-11-24 01:00", "2026-11-24 02:00")):
        assert s.energy(a, b, meters=["M-TR-1"], freq="1h").equals(again.energy(a, b, meters=["M-TR-1"], freq="1h"))
    cov = s.energy("2026-11-24 00:00", "2026-11-24 03:00", meters=["M-TR-1"], freq=None).attrs["coverage"]
    assert cov == again.energy("2026-11-24 00:00", "2026-11-24 03:00", meters=["M-TR-1"], freq=None).attrs["coverage"]
