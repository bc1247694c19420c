"""The store benchmark's harness at a tiny scale: every row is there and the engines agree.

Correctness only, never timing: 5 meters × 1 day through the whole harness (bulk load, journal slice,
fold, Q1-Q5 on tanjian, DuckDB on Parquet, DuckDB tables with rollups and numpy), and the bulk loader
giving exactly the store that journal + fold gives.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

pytest.importorskip("duckdb")
pytest.importorskip("pyarrow")

from benchmarks import bench_store  # noqa: E402
from benchmarks._bulk import bulk_load  # noqa: E402
from benchmarks._plantgen import PlantData, make_site  # noqa: E402

ROWS = [
    "ingest acknowledged, fsync'd [readings/s]",
    "of which columnar encode (tanjian.batch/2) [readings/s]",
    "of which Journal.append+fsync alone [readings/s]",
    "ingest ack'd from columns, no Reading objects [readings/s]",
    "ingest ack'd, 10 cycles per fsync [readings/s]",
    "ingest ack'd, group commit, whole poll cycles [readings/s]",
    "ingest ack'd, group commit, gateway threads [readings/s]",
    "ingest ack'd, backfill of gateway buffers [readings/s]",
    "disk: durable append p50 / p99 [milliseconds]",
    "JSON tanjian.batch/1 encode alone (before) [readings/s]",
    "fold journal -> store [readings/s]",
    "store growth per fold / after compaction [MB]",
    "bulk load history / build [readings/s]",
    *[f"{q} {k} [ms]" for k in ("cold", "warm") for q in bench_store.QUERIES],
    "peak RSS, queries [MB]",
    "peak RSS, ingest+fold / DuckDB ingest [MB]",
    "peak RSS, bulk load+Parquet / tables build [MB]",
    "size on disk: store / Parquet / DuckDB db [MB]",
    "size on disk: journal (slice only) [MB]",
    "disk sequential read, page cache / dropped [MB/s]",
]


@pytest.mark.slow
def test_harness_prints_every_row_and_the_engines_agree(tmp_path, capsys):
    rc = bench_store.main(["--meters", "5", "--days", "1", "--journal-minutes", "60", "--repeat", "1",
                           "--duck-ingest-cycles", "5", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0, out
    table = [ln for ln in out.splitlines() if ln.startswith("| ")]
    labels = [ln.split("|")[1].strip() for ln in table[1:]]
    assert labels == ROWS
    for ln in table[1:]:
        cells = [c.strip() for c in ln.split("|")[1:-1]]
        if "[ms]" in cells[0]:
            assert all(c not in ("", "—") for c in cells[1:5]), ln  # every engine answered every query
    assert "agree across the 4 engines to 1e-09 relative" in out
    assert "load average" in out
    assert not any(tmp_path.iterdir()), "without --keep the work folder is removed"


def test_answers_disagreeing_abort_the_run(tmp_path):
    st = bench_store.Setup(tmp_path, 5, 1, bench_store.DEFAULT_END, 60, 18)
    ans = {q: [1.0, 2.0] for q in bench_store.QUERIES}
    other = {q: [1.0, 2.0 * (1 + 1e-6)] if q == "Q3" else [1.0, 2.0] for q in bench_store.QUERIES}
    with pytest.raises(AssertionError, match="Q3: duck disagrees"):
        bench_store.check_answers(st, {"tanjian": {"answers": ans}, "duck": {"answers": other}})
    same = {q: [1.0, 2.0 * (1 + 1e-12)] for q in bench_store.QUERIES}
    assert bench_store.check_answers(st, {"tanjian": {"answers": ans}, "duck": {"answers": same}}) == 20


def test_decompose_uses_the_coarsest_whole_periods():
    import pandas as pd

    parts = bench_store.decompose("2026-01-01 00:00", "2026-10-15 14:37")
    assert parts == [("month", pd.Timestamp("2026-01-01"), pd.Timestamp("2026-10-01")),
                     ("day", pd.Timestamp("2026-10-01"), pd.Timestamp("2026-10-15")),
                     ("hour", pd.Timestamp("2026-10-15"), pd.Timestamp("2026-10-15 14:00")),
                     ("minute", pd.Timestamp("2026-10-15 14:00"), pd.Timestamp("2026-10-15 14:37"))]


def test_bulk_load_then_journal_equals_journal_only(tmp_path):
    """The benchmark's shortcut (bulk history + journaled slice) builds the store journal + fold builds."""
    import zarr

    from workspace.batch import Reading, encode_batch
    from workspace.journal import Journal
    from workspace.store import Store

    site = make_site(5)
    end = dt.datetime(2026, 10, 15, 6, 37, tzinfo=dt.timezone.utc)
    data = PlantData(site, end - dt.timedelta(hours=20), end)  # crosses a UTC midnight and a local one
    cut = data.m1 - 90

    def journal_minutes(journal, start):
        for b in data.blocks(start=start):
            for i in range(len(b)):
                when = dt.datetime.fromtimestamp((b.t0 + i) * 60 + 0.3, dt.timezone.utc)
                rs = [Reading(m, when, float(b.counter[i, k]), float(b.rate[i, k]), float(b.voltage[i, k]),
                              float(b.current[i, k]), float(b.power_factor[i, k]), 0)
                      for k, m in enumerate(data.meter_ids)]
                journal.append(encode_batch(site.plant.id, journal.next_seq, "test", rs))

    a = Store.open(tmp_path / "a", site, create=True)
    with Journal(tmp_path / "ja", writer=True) as ja:
        journal_minutes(ja, data.m0)
        while a.fold(ja, max_batches=200).readings:
            pass
    b = Store.open(tmp_path / "b", site, create=True)
    assert bulk_load(b, data, cut) == (cut - data.m0) * 5
    with Journal(tmp_path / "jb", writer=True) as jb:
        journal_minutes(jb, cut)
        while b.fold(jb, max_batches=200).readings:
            pass
    ga = zarr.open_group(store=a.repo.readonly_session(branch="main").store, mode="r")
    gb = zarr.open_group(store=b.repo.readonly_session(branch="main").store, mode="r")
    names = sorted(k for k in ga.array_keys())
    assert "energy_1h" in names and "counter" in names
    for name in names:
        x, y = ga[name][...], gb[name][...]
        assert x.shape == y.shape, name
        if x.dtype.kind == "f":
            np.testing.assert_array_equal(x, y, err_msg=name)  # NaN where NaN, bit-equal elsewhere
        else:
            assert (x == y).all(), name
    sa, sb = dict(ga.attrs["fold"]), dict(gb.attrs["fold"])
    for key in ("origin", "prev", "first_slot", "events"):
        assert sa.get(key) == sb.get(key), key
    assert np.isfinite(ga["energy"][...]).sum() == 20 * 60 * 5 - 5  # every minute but each meter's first
