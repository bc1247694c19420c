"""Store benchmark: ingest, fold, Q1-Q5 against DuckDB (Parquet and tables with rollups), numpy and the disk.

Run ``python -m benchmarks.bench_store --help``; see benchmarks/README.md for how to read the table.

Every phase runs in a child process of its own (``--phase``), so that each engine's peak RSS is its
own and "cold" means a freshly opened store or connection. Answers of every engine are checked
against tanjian's to 1e-9 relative; a mismatch aborts the run (exit status 3).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import os
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RTOL = 1e-9
TZ = "Asia/Shanghai"
#: Hunan time-of-use periods by local hour (REFERENCE-FACTS.md, from third-party code: UNVERIFIED)
TOU = {"sharp": range(19, 22), "peak": [8, 9, 10, 15, 16, 17, 18], "flat": [7, 11, 12, 13, 14, 22],
       "valley": [23, 0, 1, 2, 3, 4, 5, 6]}
TOU_NAMES = list(TOU)
HOUR_CLASS = {h: k for k, hs in TOU.items() for h in hs}
DEFAULT_END = "2026-10-15T14:37"  # local: mid-month, mid-afternoon, a partial hour (exercises every path)
QUERIES = ("Q1", "Q2", "Q3", "Q4", "Q5")
DUCK_BUILD_MEMORY = f"{max(2, int(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30 * 0.4))}GB"


# ------------------------------------------------------------------------------------------------
# shared set-up
# ------------------------------------------------------------------------------------------------
def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def du_mb(path: Path) -> float:
    if not path.exists():
        return float("nan")
    if path.is_file():
        return path.stat().st_size / 2**20
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


class Setup:
    """Everything the phases share: the site, the data's bounds, the query parameters."""

    def __init__(self, work: Path, meters: int, days: float, end: str, journal_minutes: int, seed: int):
        import pandas as pd

        from benchmarks._plantgen import PlantData, make_site
        from workspace.site import Medium

        self.work = work
        self.site = make_site(meters)
        self.end_local = pd.Timestamp(end)
        end_utc = self.end_local.tz_localize(TZ).tz_convert("UTC").to_pydatetime()
        start_utc = end_utc - dt.timedelta(days=days)
        self.data = PlantData(self.site, start_utc, end_utc, seed)
        self.slice_start = max(self.data.m0, self.data.m1 - journal_minutes)  # journaled minutes [m]
        self.paths = {k: work / v for k, v in (("store", "store"), ("journal", "journal"),
                                                ("parquet", "minutes.parquet"), ("duckdb", "tables.duckdb"),
                                                ("binjournal", "journal-binary"), ("duckingest", "ingest.duckdb"))}
        s = self.site
        now = self.end_local  # newest reading at end - 1 min: plant_kpis's "now" is end
        hour = now.floor("h")
        elec, gas = s.top_meters(Medium.electricity), s.top_meters(Medium.natural_gas)
        devices = [m.id for m in s.meters if m.device is not None and m.medium == Medium.electricity]
        from models.kpi import periods
        from zoneinfo import ZoneInfo

        p = periods(now.tz_localize(TZ).to_pydatetime(), ZoneInfo(TZ))
        self.q = {
            "Q1": {"periods": {k: (str(a.tz_localize(None)), str(b.tz_localize(None))) for k, (a, b) in p.items()},
                   "elec": elec, "gas": gas},
            "Q2": {"meter": devices[0], "lo": str(hour - pd.Timedelta(days=365)), "hi": str(hour)},
            "Q3": {"lo": str(now.replace(month=1, day=1).normalize()), "hi": str(now),
                   "groups": {w.id: s.top_meters(Medium.electricity, w.id) for w in s.workshops
                              if s.top_meters(Medium.electricity, w.id)}},
            "Q4": {"meters": devices[:10], "lo": str(hour - pd.Timedelta(hours=12)), "hi": str(hour)},
            "Q5": {"lo": str(now.replace(day=1).normalize()), "hi": str(hour), "meters": elec},
        }
        # canonical labels every engine's answer is aligned to
        self.labels = {
            "Q1": list(p),
            "Q2": [str(t) for t in pd.date_range(self.q["Q2"]["lo"], self.q["Q2"]["hi"], freq="1h", inclusive="left")],
            "Q3": [str(t) for t in pd.date_range(pd.Timestamp(self.q["Q3"]["lo"]), now, freq="MS")],
            "Q4": [str(t) for t in pd.date_range(self.q["Q4"]["lo"], self.q["Q4"]["hi"], freq="1h", inclusive="left")],
            "Q5": TOU_NAMES,
        }

    def readings(self) -> int:
        return self.data.minutes * len(self.site.meters)


def utc_literal(local: str) -> str:
    import pandas as pd

    return pd.Timestamp(local).tz_localize(TZ).tz_convert("UTC").strftime("%Y-%m-%d %H:%M:%S+00")


def timed(fn, repeat: int) -> tuple[float, float, object]:
    """Cold (first call) and warm (median of ``repeat`` further calls) seconds, and the answer."""
    t = time.perf_counter()
    ans = fn()
    cold = time.perf_counter() - t
    warm = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        warm.append(time.perf_counter() - t)
    return cold, statistics.median(warm), ans


def tolist(a) -> list:
    return [None if (x is None or not np.isfinite(x)) else float(x) for x in np.asarray(a, dtype=float).ravel()]


# ------------------------------------------------------------------------------------------------
# phases (each in its own process)
# ------------------------------------------------------------------------------------------------
def phase_load(st: Setup, args) -> dict:
    """Bulk-load the history before the journal slice into the store; write all minutes to Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from benchmarks._bulk import bulk_load
    from workspace.store import Store

    meters = np.array(st.data.meter_ids)
    schema = pa.schema([("time", pa.timestamp("us", tz="UTC")), ("meter", pa.dictionary(pa.int32(), pa.string())),
                        ("counter", pa.float64()), ("energy", pa.float64()), ("power", pa.float64()),
                        ("quality", pa.uint16())])
    reuse = _peers_reusable(st, args)
    if reuse:  # the same generated data's Parquet file and DuckDB tables from an earlier run: keep them
        os.replace(st.paths["parquet"].with_suffix(".kept"), st.paths["parquet"])
    writer = None if reuse else pq.ParquetWriter(st.paths["parquet"], schema, compression="zstd")
    pq_time = [0.0]
    dict_meters = pa.array(meters)

    def to_parquet(b):
        t = time.perf_counter()
        n, m = b.counter.shape
        e = b.energy.ravel()
        cols = [pa.array(np.repeat(b.times(), m), pa.timestamp("us", tz="UTC")),
                pa.DictionaryArray.from_arrays(pa.array(np.tile(np.arange(m, dtype=np.int32), n)), dict_meters),
                pa.array(b.counter.ravel()), pa.array(e, mask=~np.isfinite(e)), pa.array(b.rate.ravel()),
                pa.array(np.zeros(n * m, np.uint16))]
        writer.write_table(pa.Table.from_arrays(cols, schema=schema))
        pq_time[0] += time.perf_counter() - t

    store = Store.open(st.paths["store"], st.site, create=True)
    t = time.perf_counter()
    n_bulk = bulk_load(store, st.data, st.slice_start, on_block=None if reuse else to_parquet)
    bulk_s = time.perf_counter() - t - pq_time[0]
    if reuse:
        return {**reuse["load"], "bulk_readings": n_bulk, "bulk_s": bulk_s, "rss_load_mb": peak_rss_mb(),
                "peers_reused_from": reuse["stamp"]}
    for b in st.data.blocks(start=st.slice_start):
        to_parquet(b)
    writer.close()
    rss = peak_rss_mb()
    # DuckDB tables with the same rollups (hourly, daily, monthly; local time), from the Parquet file
    import duckdb

    t = time.perf_counter()
    # DuckDB's default limit is 80 % of RAM; building a year at 1,000 meters (526 M rows sorted) reached 20 GiB
    # on a 24 GiB machine shared with other work. It spills to disk beyond the limit (slower build, same tables).
    con = duckdb.connect(str(st.paths["duckdb"]), config={"memory_limit": DUCK_BUILD_MEMORY})
    pqf = str(st.paths["parquet"])
    con.execute(f"CREATE TABLE minute AS SELECT * FROM read_parquet('{pqf}') ORDER BY meter, time")
    con.execute(f"""CREATE TABLE energy_1h AS SELECT meter, date_trunc('hour', timezone('{TZ}', time - INTERVAL 1 MINUTE))
                    AS hour, sum(energy) AS energy FROM minute GROUP BY ALL ORDER BY meter, hour""")
    con.execute("""CREATE TABLE energy_1d AS SELECT meter, date_trunc('day', hour) AS day, sum(energy) AS energy
                   FROM energy_1h GROUP BY ALL ORDER BY meter, day""")
    con.execute("""CREATE TABLE energy_1mo AS SELECT meter, date_trunc('month', day) AS month, sum(energy) AS energy
                   FROM energy_1d GROUP BY ALL ORDER BY meter, month""")
    con.execute("CHECKPOINT")
    con.close()
    duck_s = time.perf_counter() - t
    return {"bulk_readings": n_bulk, "bulk_s": bulk_s, "parquet_rows": st.readings(), "parquet_s": pq_time[0],
            "duck_tables_s": duck_s, "rss_load_mb": rss, "rss_mb": peak_rss_mb()}


def _stamp(st: Setup, args) -> dict:
    """What the generated data depend on: a kept Parquet file / DuckDB file is reusable only for the same."""
    return {"meters": len(st.site.meters), "m0": st.data.m0, "m1": st.data.m1, "seed": args.seed,
            "slice_start": st.slice_start}


def _peers_reusable(st: Setup, args) -> dict | None:
    """With ``--reuse-peers``: the earlier run's load result when its Parquet file and DuckDB tables were
    made from the same data (same stamp), else None (everything is rebuilt)."""
    if not getattr(args, "reuse_peers", False):
        return None
    kept = st.paths["parquet"].with_suffix(".kept")
    prev = st.work / "results-peers.json"
    if not ((kept.exists() or st.paths["parquet"].exists()) and st.paths["duckdb"].exists() and prev.exists()):
        return None
    old = json.loads(prev.read_text())
    return old if old.get("stamp") == _stamp(st, args) else None


def _slice_readings(st: Setup) -> list[tuple[dt.datetime, list]]:
    """The journal slice as the collector would hold it: one list of Readings per poll cycle."""
    from workspace.batch import Reading

    out = []
    ids = st.data.meter_ids
    for b in st.data.blocks(start=st.slice_start):
        for i in range(len(b)):
            when = dt.datetime.fromtimestamp((b.t0 + i) * 60 + 0.3, dt.timezone.utc)  # a poll just past the minute
            row = [Reading(m, when, c, r, v, a, pf, 0) for m, c, r, v, a, pf in zip(
                ids, b.counter[i].tolist(), b.rate[i].tolist(), b.voltage[i].tolist(), b.current[i].tolist(),
                b.power_factor[i].tolist())]
            out.append((when, row, b.rows(i, i + 1)))
    return out


def _gateway_cycles(cycles, gateways: int) -> list[list[list]]:
    """Each poll cycle's Readings dealt round-robin to ``gateways`` gateways (at most one a meter):
    [gateway][cycle] -> Readings."""
    gateways = max(1, min(gateways, min(len(rs) for _, rs, _ in cycles)))
    return [[rs[g::gateways] for _, rs, _ in cycles] for g in range(gateways)]


def _backfill(gw: list[list[list]], minutes: int) -> list[list[list]]:
    """A gateway's buffer arriving at once: ``minutes`` consecutive cycles of its meters per batch."""
    return [[[r for c in cyc[a:a + minutes] for r in c] for a in range(0, len(cyc), minutes)] for cyc in gw]


def _group_commit_run(folder: Path, plant: str, gw: list[list[list]], window: int) -> dict:
    """One producer thread per gateway: prepare each batch (``prepare_batch_columnar``), ``Journal.submit``
    it, keep at most ``window`` batches awaiting their acknowledgement. Readings/s from the start until the
    last acknowledgement, and each batch's ack latency (submit -> its fsync returned) [s]."""
    import collections
    import threading

    from workspace.batch import prepare_batch_columnar
    from workspace.journal import Journal

    journal = Journal(folder, writer=True)
    lat: list[float] = []
    start = threading.Barrier(len(gw) + 1)
    errors: list[BaseException] = []

    def producer(g: int, batches: list[list]) -> None:
        pending = collections.deque()
        source = f"gw-{g}"
        try:
            start.wait()
            for rs in batches:
                p = prepare_batch_columnar(plant, source, rs)
                t0 = time.perf_counter()
                fut = journal.submit(p)
                fut.add_done_callback(lambda f, t0=t0: lat.append(time.perf_counter() - t0))
                pending.append(fut)
                if len(pending) >= window:
                    pending.popleft().result()
            for fut in pending:
                fut.result()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=producer, args=(g, b)) for g, b in enumerate(gw)]
    for th in threads:
        th.start()
    start.wait()
    t, cpu = time.perf_counter(), time.process_time()
    for th in threads:
        th.join()
    s, cpu = time.perf_counter() - t, time.process_time() - cpu
    syncs, batches = journal.syncs, len(journal)
    journal.close()
    if errors:
        raise errors[0]
    n = sum(len(rs) for b in gw for rs in b)
    return {"readings": n, "s": s, "cpu_s": cpu, "batches": batches, "syncs": syncs, "gateways": len(gw),
            "batch_readings": n / max(batches, 1), "window": window,
            "lat_p50": statistics.median(lat), "lat_p99": sorted(lat)[min(len(lat) - 1, int(0.99 * len(lat)))]}


def phase_ingest(st: Setup, args) -> dict:
    """Journal the slice (columnar canonical batches, fsync'd appends), then fold it; plus the comparisons
    (the JSON batch it replaced, the columns encoded without Reading objects, the store's growth)."""
    from workspace.batch import encode_batch, encode_batch_columnar, encode_columns
    from workspace.journal import Journal
    from workspace.store import Store

    plant = st.site.plant.id
    t = time.perf_counter()
    cycles = _slice_readings(st)
    build_s = time.perf_counter() - t
    # The collector holds one poll cycle of Readings, the harness the whole slice (--journal-minutes × meters
    # objects): keep the cyclic garbage collector from traversing them at every full collection (harness-only).
    import gc

    gc.freeze()
    n = sum(len(c[1]) for c in cycles)
    prof = cProfile.Profile() if args.profile else None
    journal = Journal(st.paths["journal"], writer=True)
    enc_s = app_s = 0.0
    payloads = []
    if prof:
        prof.enable()
    t_all = time.perf_counter()
    for _, readings, _ in cycles:
        t = time.perf_counter()
        payload = encode_batch_columnar(plant, journal.next_seq, "modbus-tcp", readings)
        t2 = time.perf_counter()
        journal.append(payload)
        t3 = time.perf_counter()
        enc_s += t2 - t
        app_s += t3 - t2
        payloads.append(payload)
    ack_s = time.perf_counter() - t_all
    rss_ack = peak_rss_mb()
    store = Store.open(st.paths["store"], st.site)
    size0 = du_mb(st.paths["store"])
    t = time.perf_counter()
    folds = 0
    while store.fold(journal, max_batches=args.fold_batches).readings:
        folds += 1
    fold_s = time.perf_counter() - t
    if prof:
        prof.disable()
        prof.dump_stats(str(st.work / "ingest.prof"))
    journal.close()
    rss_fold = peak_rss_mb()
    size1 = du_mb(st.paths["store"])
    t = time.perf_counter()
    store.compact(keep_days=0)  # what the collector's scheduled compaction reclaims
    compact_s = time.perf_counter() - t
    size2 = du_mb(st.paths["store"])
    # the canonical JSON batch (tanjian.batch/1) the columnar one replaced: encoding alone
    t = time.perf_counter()
    json_bytes = sum(len(encode_batch(plant, k, "modbus-tcp", c[1])) for k, c in enumerate(cycles))
    json_enc_s = time.perf_counter() - t
    # the columnar batch straight from arrays (a reader that fills columns, no Reading objects)
    ids = st.data.meter_ids
    idx = np.arange(len(ids))
    with tempfile.TemporaryDirectory(dir=st.work) as d:
        jc = Journal(Path(d) / "cols", writer=True)
        t = time.perf_counter()
        for when, _, b in cycles:
            ms = np.full(len(ids), int(when.timestamp() * 1000))
            jc.append(encode_columns(plant, jc.next_seq, "modbus-tcp", ids, idx, ms, b.counter[0], b.rate[0],
                                     b.voltage[0], b.current[0], b.power_factor[0]))
        cols_s = time.perf_counter() - t
        jc.close()
        # group commit: 10 poll cycles per fsync (what the collector does when cycles wait in memory)
        jg = Journal(Path(d) / "group", writer=True)
        t = time.perf_counter()
        for k in range(0, len(cycles), 10):
            seq = jg.next_seq
            jg.append_many([encode_batch_columnar(plant, seq + i, "modbus-tcp", c[1])
                            for i, c in enumerate(cycles[k:k + 10])])
        group_s = time.perf_counter() - t
        jg.close()
        # group commit: --gateways producer threads, each a gateway's share of every poll cycle, submitted
        # with Journal.submit (up to --window cycles awaiting their ack), and the backfill of a gateway's
        # buffer (--backfill-minutes × its meters per batch, each producer waiting for every ack)
        gw = _gateway_cycles(cycles, args.gateways)
        whole = _group_commit_run(Path(d) / "whole", plant, [[rs for _, rs, _ in cycles]], args.window)
        conc = _group_commit_run(Path(d) / "conc", plant, gw, args.window)
        back = _group_commit_run(Path(d) / "back", plant, _backfill(gw, args.backfill_minutes), 1)
        # the disk's own limit: latency of one durable append of a poll cycle's size and of a group's
        from benchmarks.bench_fsync import summary, sync_latencies

        cyc_bytes = max(4096, sum(map(len, payloads)) // max(len(payloads), 1))
        disk_fsync = {"cycle_bytes": cyc_bytes,
                      "cycle": summary(sync_latencies(Path(d), "append+fsync", cyc_bytes, 100), cyc_bytes),
                      "mib": summary(sync_latencies(Path(d), "append+fsync", 1 << 20, 30), 1 << 20)}
    # the limits: the same bytes appended and fsync'd with encoding free (disk), and a binary batch
    # (numpy tobytes of the poll cycle: what a binary canonical variant could cost)
    with tempfile.TemporaryDirectory(dir=st.work) as d:
        jr = Journal(Path(d) / "raw", writer=True)
        t = time.perf_counter()
        for p in payloads:
            jr.append(p)
        raw_s = time.perf_counter() - t
        jr.close()
        jb = Journal(Path(d) / "bin", writer=True)
        t = time.perf_counter()
        bin_bytes = 0
        for when, _, b in cycles:
            p = b"".join(x.tobytes() for x in (b.counter, b.rate, b.voltage, b.current, b.power_factor))
            bin_bytes += len(p)
            jb.append(p)
        bin_s = time.perf_counter() - t
        jb.close()
    # DuckDB: each poll cycle INSERTed and committed (durable) into a table
    import duckdb
    import pyarrow as pa

    con = duckdb.connect(str(st.paths["duckingest"]))
    con.execute("CREATE TABLE minute (time TIMESTAMPTZ, meter VARCHAR, counter DOUBLE, power DOUBLE, "
                "voltage DOUBLE, current DOUBLE, power_factor DOUBLE, quality USMALLINT)")
    ids = pa.array(ids)
    k = max(1, min(len(cycles), args.duck_ingest_cycles))
    t = time.perf_counter()
    for when, _, b in cycles[:k]:
        m = len(ids)
        tbl = pa.table({"time": pa.array(np.repeat(b.times(), m), pa.timestamp("us", tz="UTC")), "meter": ids,
                        "counter": b.counter[0], "power": b.rate[0], "voltage": b.voltage[0],
                        "current": b.current[0], "power_factor": b.power_factor[0],
                        "quality": np.zeros(m, np.uint16)})
        con.execute("INSERT INTO minute SELECT * FROM tbl")  # autocommit: one durable commit per cycle
    duck_s = time.perf_counter() - t
    # DuckDB, backfill: a gateway's buffer of --backfill-minutes per INSERT + commit
    k = max(1, min(len(cycles), args.duck_ingest_cycles))
    t = time.perf_counter()
    duck_back = 0
    n_gw = max(1, min(args.gateways, len(ids)))
    for g in range(n_gw):
        for a in range(0, k, args.backfill_minutes):
            rows = [(when, c) for when, _, c in cycles[a:min(k, a + args.backfill_minutes)]]
            cols = np.arange(g, len(ids), n_gw)
            m = len(cols)
            tbl = pa.table({
                "time": pa.array(np.concatenate([np.repeat(b.times(), m) for _, b in rows]), pa.timestamp("us", tz="UTC")),
                "meter": pa.array(np.tile(np.asarray(ids.to_pylist(), dtype=object)[cols], len(rows))),
                **{name: np.concatenate([getattr(b, attr)[0][cols] for _, b in rows])
                   for name, attr in (("counter", "counter"), ("power", "rate"), ("voltage", "voltage"),
                                      ("current", "current"), ("power_factor", "power_factor"))},
                "quality": np.zeros(m * len(rows), np.uint16)})
            con.execute("INSERT INTO minute SELECT * FROM tbl")  # one durable commit per gateway buffer
            duck_back += m * len(rows)
    duck_back_s = time.perf_counter() - t
    con.close()
    return {"whole": whole, "conc": conc, "back": back, "disk_fsync": disk_fsync, "duck_back_readings": duck_back,
            "duck_back_s": duck_back_s, "readings": n, "cycles": len(cycles), "build_s": build_s, "encode_s": enc_s, "append_s": app_s,
            "ack_s": ack_s, "fold_s": fold_s, "folds": folds, "raw_s": raw_s, "bin_s": bin_s,
            "json_bytes": json_bytes, "json_enc_s": json_enc_s, "cols_s": cols_s, "group_s": group_s, "tjb_bytes": sum(map(len, payloads)),
            "store_mb": [size0, size1, size2], "compact_s": compact_s,
            "bin_bytes": bin_bytes, "duck_readings": k * len(ids),
            "duck_s": duck_s, "rss_ack_mb": rss_ack, "rss_fold_mb": rss_fold, "rss_mb": peak_rss_mb()}


_CLASS_OF_HOUR = np.array([TOU_NAMES.index(HOUR_CLASS[h]) for h in range(24)])


def _tou(labels_hours, values) -> list[float]:
    """kWh and share per time-of-use period from hourly values labelled by local hour starts, in numpy as
    an analyst would (a Python loop over the labels cost more than the store's query; bincount adds in
    label order, so the sums equal the loop's)."""
    hours = np.asarray(labels_hours, dtype="datetime64[h]").astype(np.int64) % 24
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v)
    sums = np.bincount(_CLASS_OF_HOUR[hours[ok]], weights=v[ok], minlength=len(TOU_NAMES))
    total = float(sums.sum())
    return [float(x) for x in sums] + [float(x) / total for x in sums]


def tanjian_queries(st: Setup):
    """Query closures over a freshly opened Store (the query API, as dashboards call it)."""
    import pandas as pd

    from models.kpi import plant_kpis
    from workspace.store import Store

    q = st.q
    # the canonical labels parsed once: harness work, not the query (DuckDB's shape_duck keys its rows by the
    # same strings)
    idx = {k: pd.DatetimeIndex(st.labels[k]) for k in ("Q2", "Q3", "Q4")}

    def make(store):
        def q1():
            df = plant_kpis(store)  # "now" = the newest reading + 1 min, as on the big screen
            return [df.loc[p, c] for p in st.labels["Q1"] for c in ("electricity_kWh", "natural_gas_m3")]

        def q2():
            a = store.energy(q["Q2"]["lo"], q["Q2"]["hi"], meters=[q["Q2"]["meter"]], freq="1h")
            s = pd.Series(a.values[:, 0], index=pd.DatetimeIndex(a.time.values))
            return s.reindex(idx["Q2"]).to_numpy()

        def q3():
            a = store.energy(q["Q3"]["lo"], q["Q3"]["hi"], by="workshop", freq="MS")
            df = pd.DataFrame(a.values, index=pd.DatetimeIndex(a.time.values), columns=a.group.values)
            return df.reindex(index=idx["Q3"], columns=list(q["Q3"]["groups"])).to_numpy()

        def q4():
            a = store.power(q["Q4"]["lo"], q["Q4"]["hi"], meters=q["Q4"]["meters"], freq="1h", how="max")
            df = pd.DataFrame(a.values, index=pd.DatetimeIndex(a.time.values), columns=a.group.values)
            return df.reindex(index=idx["Q4"], columns=q["Q4"]["meters"]).to_numpy()

        def q5():
            a = store.energy(q["Q5"]["lo"], q["Q5"]["hi"], by="plant", freq="1h")
            return _tou(a.time.values, a.values[:, 0])

        return {"Q1": q1, "Q2": q2, "Q3": q3, "Q4": q4, "Q5": q5}

    return lambda: make(Store.open(st.paths["store"], st.site))


def _duck_groups(st: Setup) -> str:
    rows = ", ".join(f"('{m}', '{g}')" for g, ms in st.q["Q3"]["groups"].items() for m in ms)
    return f"(VALUES {rows}) AS grp(meter, g)"


def _inlist(ms) -> str:
    return "(" + ", ".join(f"'{m}'" for m in ms) + ")"


def duck_parquet_sql(st: Setup) -> dict[str, str]:
    """The queries on the minute Parquet file (energy at ``time`` is the minute ending at ``time``)."""
    q, src = st.q, f"read_parquet('{st.paths['parquet']}')"
    per = q["Q1"]["periods"]
    p_rows = ", ".join(f"('{k}', TIMESTAMPTZ '{utc_literal(a)}', TIMESTAMPTZ '{utc_literal(b)}')" for k, (a, b) in per.items())
    lo1 = min(utc_literal(a) for a, _ in per.values())
    e = "energy"
    local = f"timezone('{TZ}', time - INTERVAL 1 MINUTE)"
    return {
        "Q1": f"""WITH p(name, lo, hi) AS (VALUES {p_rows}),
                   m AS (SELECT time, meter, {e} FROM {src} WHERE meter IN {_inlist(q['Q1']['elec'] + q['Q1']['gas'])}
                         AND time > TIMESTAMPTZ '{lo1}')
                 SELECT p.name, sum({e}) FILTER (WHERE meter IN {_inlist(q['Q1']['elec'])}),
                        sum({e}) FILTER (WHERE meter IN {_inlist(q['Q1']['gas'])})
                 FROM m JOIN p ON m.time > p.lo AND m.time <= p.hi GROUP BY p.name""",
        "Q2": f"""SELECT date_trunc('hour', {local}) AS h, sum({e}) FROM {src}
                 WHERE meter = '{q['Q2']['meter']}' AND time > TIMESTAMPTZ '{utc_literal(q['Q2']['lo'])}'
                 AND time <= TIMESTAMPTZ '{utc_literal(q['Q2']['hi'])}' GROUP BY h""",
        "Q3": f"""SELECT grp.g, date_trunc('month', {local}) AS mo, sum({e}) FROM {src} JOIN {_duck_groups(st)}
                 USING (meter) WHERE time > TIMESTAMPTZ '{utc_literal(q['Q3']['lo'])}'
                 AND time <= TIMESTAMPTZ '{utc_literal(q['Q3']['hi'])}' GROUP BY ALL""",
        "Q4": f"""SELECT meter, date_trunc('hour', timezone('{TZ}', time)) AS h, max(power) FROM {src}
                 WHERE meter IN {_inlist(q['Q4']['meters'])} AND time >= TIMESTAMPTZ '{utc_literal(q['Q4']['lo'])}'
                 AND time < TIMESTAMPTZ '{utc_literal(q['Q4']['hi'])}' GROUP BY ALL""",
        "Q5": f"""SELECT hour({local}) AS h, sum({e}) FROM {src} WHERE meter IN {_inlist(q['Q5']['meters'])}
                 AND time > TIMESTAMPTZ '{utc_literal(q['Q5']['lo'])}' AND time <= TIMESTAMPTZ '{utc_literal(q['Q5']['hi'])}'
                 GROUP BY h""",
    }


def decompose(lo, hi) -> list[tuple[str, object, object]]:
    """Split local ``[lo, hi)`` into whole months, days and hours and the minutes at the edges."""
    import pandas as pd

    levels = [("month", lambda t: t.to_period("M").to_timestamp(),
               lambda t: t if t == t.to_period("M").to_timestamp() else (t.to_period("M") + 1).to_timestamp()),
              ("day", lambda t: t.floor("D"), lambda t: t.ceil("D")),
              ("hour", lambda t: t.floor("h"), lambda t: t.ceil("h"))]

    def go(a, b, k):
        if a >= b:
            return []
        if k == len(levels):
            return [("minute", a, b)]
        name, floor, ceil = levels[k]
        ca, fb = ceil(a), floor(b)
        if ca < fb:
            return go(a, ca, k + 1) + [(name, ca, fb)] + go(fb, b, k + 1)
        return go(a, b, k + 1)

    return go(pd.Timestamp(lo), pd.Timestamp(hi), 0)


def _rollup_parts(lo, hi, meters: str, label: str) -> str:
    """SQL rows (label, meter, energy) for local ``[lo, hi)`` from the coarsest rollups that fit."""
    table = {"month": "energy_1mo", "day": "energy_1d", "hour": "energy_1h"}
    out = []
    for level, a, b in decompose(lo, hi):
        if level == "minute":
            out.append(f"SELECT {label.format(t=f'timezone({chr(39)}{TZ}{chr(39)}, time - INTERVAL 1 MINUTE)')} AS lab, "
                       f"meter, energy FROM minute WHERE meter IN {meters} AND time > TIMESTAMPTZ "
                       f"'{utc_literal(a)}' AND time <= TIMESTAMPTZ '{utc_literal(b)}'")
        else:
            out.append(f"SELECT {label.format(t=level)} AS lab, meter, energy FROM {table[level]} WHERE meter IN "
                       f"{meters} AND {level} >= TIMESTAMP '{a}' AND {level} < TIMESTAMP '{b}'")
    return " UNION ALL ".join(out) if out else "SELECT NULL AS lab, NULL AS meter, NULL::DOUBLE AS energy WHERE false"


def duck_tables_sql(st: Setup) -> dict[str, str]:
    """The queries on DuckDB tables: minutes sorted by (meter, time) and hourly/daily/monthly rollups."""
    q = st.q
    both = _inlist(q["Q1"]["elec"] + q["Q1"]["gas"])
    q1 = " UNION ALL ".join(
        f"SELECT '{k}' AS name, meter, energy FROM ({_rollup_parts(a, b, both, chr(39) + k + chr(39))})"
        for k, (a, b) in q["Q1"]["periods"].items())
    ws = _inlist([m for ms in q["Q3"]["groups"].values() for m in ms])
    return {
        "Q1": f"""SELECT name, sum(energy) FILTER (WHERE meter IN {_inlist(q['Q1']['elec'])}),
                  sum(energy) FILTER (WHERE meter IN {_inlist(q['Q1']['gas'])}) FROM ({q1}) GROUP BY name""",
        "Q2": f"""SELECT hour, energy FROM energy_1h WHERE meter = '{q['Q2']['meter']}'
                  AND hour >= TIMESTAMP '{q['Q2']['lo']}' AND hour < TIMESTAMP '{q['Q2']['hi']}'""",
        "Q3": f"""SELECT grp.g, date_trunc('month', lab) AS mo, sum(energy) FROM
                  ({_rollup_parts(q['Q3']['lo'], q['Q3']['hi'], ws, '{t}')}) JOIN {_duck_groups(st)} USING (meter)
                  GROUP BY ALL""",
        "Q4": f"""SELECT meter, date_trunc('hour', timezone('{TZ}', time)) AS h, max(power) FROM minute
                 WHERE meter IN {_inlist(q['Q4']['meters'])} AND time >= TIMESTAMPTZ '{utc_literal(q['Q4']['lo'])}'
                 AND time < TIMESTAMPTZ '{utc_literal(q['Q4']['hi'])}' GROUP BY ALL""",
        "Q5": f"""SELECT hour(hour) AS h, sum(energy) FROM energy_1h WHERE meter IN {_inlist(q['Q5']['meters'])}
                  AND hour >= TIMESTAMP '{q['Q5']['lo']}' AND hour < TIMESTAMP '{q['Q5']['hi']}' GROUP BY h""",
    }


def shape_duck(st: Setup, name: str, rows: list[tuple]):
    """DuckDB rows -> the canonical answer layout (NaN where an engine has no value)."""
    import pandas as pd

    L = st.labels[name]
    if name == "Q1":
        d = {r[0]: r[1:] for r in rows}
        return [(d.get(p) or (None, None))[k] for p in L for k in (0, 1)]
    if name == "Q2":
        d = {str(pd.Timestamp(r[0])): r[1] for r in rows}
        return [d.get(t) for t in L]
    if name == "Q3":
        g = list(st.q["Q3"]["groups"])
        d = {(r[0], str(pd.Timestamp(r[1]))): r[2] for r in rows}
        return [[d.get((w, t)) for w in g] for t in L]
    if name == "Q4":
        d = {(r[0], str(pd.Timestamp(r[1]))): r[2] for r in rows}
        return [[d.get((m, t)) for m in st.q["Q4"]["meters"]] for t in L]
    if name == "Q5":
        sums = dict.fromkeys(TOU_NAMES, 0.0)
        for h, v in rows:
            if v is not None:
                sums[HOUR_CLASS[int(h)]] += v
        total = sum(sums.values())
        return [sums[k] for k in TOU_NAMES] + [sums[k] / total for k in TOU_NAMES]
    raise KeyError(name)


def duck_queries(st: Setup, kind: str):
    import duckdb

    sql = duck_parquet_sql(st) if kind == "parquet" else duck_tables_sql(st)

    def make():
        con = duckdb.connect(str(st.paths["duckdb"]), read_only=True) if kind == "tables" else duckdb.connect()
        return {k: (lambda k=k: shape_duck(st, k, con.execute(sql[k]).fetchall())) for k in QUERIES}

    return make


def numpy_queries(st: Setup):
    """The limit: the same minutes as in-memory arrays (UTC minute x meter), plain slicing and nansum."""
    import pandas as pd

    d = st.data
    ids = d.meter_ids
    q = st.q
    need = sorted({ids.index(m) for m in q["Q1"]["elec"] + q["Q1"]["gas"] + [q["Q2"]["meter"]] + q["Q4"]["meters"]
                   + [m for ms in q["Q3"]["groups"].values() for m in ms]})
    full = d.minutes * len(ids) * 8 <= 2 * 2**30
    cols = np.arange(len(ids)) if full else np.array(need)
    pos = {ids[c]: k for k, c in enumerate(cols)}
    E = np.empty((d.minutes, len(cols)))
    P = np.empty((d.minutes, len(cols)))
    for b in d.blocks():
        a = b.t0 - d.m0
        E[a:a + len(b)] = b.energy[:, cols]
        P[a:a + len(b)] = b.rate[:, cols]
    off = 8 * 60  # Asia/Shanghai, no DST

    def row(local) -> int:  # row of the slot at local minute ``local``
        t = pd.Timestamp(local)
        return int((t.value // 60_000_000_000) - off - d.m0)

    def esum(lo, hi, ms):  # energy of minutes [lo, hi): slots (lo, hi]
        a, b = max(row(lo) + 1, 0), min(row(hi) + 1, d.minutes)
        if a >= b:
            return np.nan
        blk = E[a:b][:, [pos[m] for m in ms]]
        return np.nansum(blk) if np.isfinite(blk).any() else np.nan

    def hourly(lo, hi, c):  # energy per hour of column c over whole hours [lo, hi); only the held hours read
        a, b = row(lo) + 1, row(hi) + 1
        out = np.full((b - a) // 60, np.nan)
        h0, h1 = max(0, -(-(0 - a) // 60)), min(len(out), (d.minutes - a) // 60)
        if h0 < h1:
            x = E[a + 60 * h0:a + 60 * h1, c].reshape(-1, 60)
            out[h0:h1] = np.where(np.isfinite(x).any(axis=1), np.nansum(x, axis=1), np.nan)
        for h in {max(0, h0 - 1), h1} - set(range(h0, h1)):  # hours only partly held
            if 0 <= h < len(out):
                x = E[max(a + 60 * h, 0):max(min(a + 60 * h + 60, d.minutes), 0), c]
                out[h] = np.nansum(x) if np.isfinite(x).any() else np.nan
        return out

    def q1():
        out = []
        for p in st.labels["Q1"]:
            a, b = q["Q1"]["periods"][p]
            out += [esum(a, b, q["Q1"]["elec"]), esum(a, b, q["Q1"]["gas"])]
        return out

    def q2():
        return hourly(q["Q2"]["lo"], q["Q2"]["hi"], pos[q["Q2"]["meter"]])

    def q3():
        months = list(pd.DatetimeIndex(st.labels["Q3"])) + [pd.Timestamp(q["Q3"]["hi"])]
        return [[esum(max(a, pd.Timestamp(q["Q3"]["lo"])), b, ms) for ms in q["Q3"]["groups"].values()]
                for a, b in zip(months[:-1], months[1:])]

    def q4():
        a, b = row(q["Q4"]["lo"]), row(q["Q4"]["hi"])
        k = len(q["Q4"]["meters"])
        x = np.full((b - a, k), np.nan)
        s0, s1 = max(a, 0), min(b, d.minutes)
        if s0 < s1:
            x[s0 - a:s1 - a] = P[s0:s1][:, [pos[m] for m in q["Q4"]["meters"]]]
        x = x.reshape(-1, 60, k)
        return np.where(np.isfinite(x).any(axis=1), np.nanmax(np.where(np.isfinite(x), x, -np.inf), axis=1), np.nan)

    def q5():
        lo, hi = q["Q5"]["lo"], q["Q5"]["hi"]
        a, b = row(lo) + 1, row(hi) + 1
        s0, s1 = max(a, 0), min(b, d.minutes)
        x = np.full((b - a, len(q["Q5"]["meters"])), np.nan)
        x[s0 - a:s1 - a] = E[s0:s1][:, [pos[m] for m in q["Q5"]["meters"]]]
        x = x.reshape(-1, 60, x.shape[1])
        fin = np.isfinite(x)
        per_meter_hour = np.where(fin.any(axis=1), np.nansum(x, axis=1), np.nan)
        h = np.where(np.isfinite(per_meter_hour).any(axis=1), np.nansum(per_meter_hour, axis=1), np.nan)
        hours = pd.date_range(lo, hi, freq="1h", inclusive="left")
        return _tou(hours, h)

    fns = {"Q1": q1, "Q2": q2, "Q3": q3, "Q4": q4, "Q5": q5}
    return (lambda: fns), ("full grid" if full else f"{len(cols)} columns the queries touch")


def phase_queries(st: Setup, args, engine: str) -> dict:
    note = None
    if engine == "tanjian":
        make = tanjian_queries(st)
    elif engine in ("parquet", "tables"):
        make = duck_queries(st, engine)
    else:
        make, note = numpy_queries(st)
    rss0 = peak_rss_mb()
    out = {"engine": engine, "note": note, "times": {}, "answers": {}}
    for name in QUERIES:
        fns = make()  # freshly opened store / connection per query: its first call is "cold"
        cold, warm, ans = timed(fns[name], args.repeat)
        out["times"][name] = [cold, warm]
        out["answers"][name] = tolist(ans)
    out["rss_mb"] = peak_rss_mb()
    out["rss_start_mb"] = rss0
    return out


def phase_disk(st: Setup, args) -> dict:
    """Sequential read of the largest file written (the Parquet): as it is (page cache warm) and after
    ``posix_fadvise(DONTNEED)`` has evicted that file's pages (the device itself, nearly)."""
    f = st.paths["parquet"]
    size = f.stat().st_size
    out = {"file": str(f), "bytes": size}
    for label in ("cached", "dropped"):
        fd = os.open(f, os.O_RDONLY)
        if label == "dropped":
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        t = time.perf_counter()
        while os.read(fd, 8 << 20):
            pass
        out[label] = size / (time.perf_counter() - t) / 2**20
        os.close(fd)
    return out


PHASES = {"load": phase_load, "ingest": phase_ingest, "disk": phase_disk,
          "q-tanjian": lambda st, a: phase_queries(st, a, "tanjian"),
          "q-parquet": lambda st, a: phase_queries(st, a, "parquet"),
          "q-tables": lambda st, a: phase_queries(st, a, "tables"),
          "q-numpy": lambda st, a: phase_queries(st, a, "numpy")}


# ------------------------------------------------------------------------------------------------
# the parent: runs the phases, checks the answers, prints the table
# ------------------------------------------------------------------------------------------------
def run_phase(name: str, work: Path, args, meters: int, days: float) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.bench_store", "--phase", name, "--work", str(work),
           "--meters", str(meters), "--days", str(days), "--end", args.end, "--journal-minutes",
           str(args.journal_minutes), "--seed", str(args.seed), "--repeat", str(args.repeat),
           "--fold-batches", str(args.fold_batches), "--duck-ingest-cycles", str(args.duck_ingest_cycles),
           "--gateways", str(args.gateways), "--window", str(args.window),
           "--backfill-minutes", str(args.backfill_minutes)]
    if args.profile:
        cmd.append("--profile")
    if args.reuse_peers:
        cmd.append("--reuse-peers")
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parents[1])
    if r.returncode != 0:
        sys.stderr.write(r.stdout + r.stderr)
        raise SystemExit(f"phase {name} failed (exit {r.returncode})")
    return json.loads(r.stdout.strip().splitlines()[-1])


def check_answers(st: Setup, results: dict[str, dict]) -> int:
    """Assert every engine's answers equal tanjian's to RTOL; returns the number of values compared."""
    ref = results["tanjian"]["answers"]
    n = 0
    for eng, res in results.items():
        for q in QUERIES:
            a = np.array([np.nan if x is None else x for x in ref[q]])
            b = np.array([np.nan if x is None else x for x in res["answers"][q]])
            if a.shape != b.shape:
                raise AssertionError(f"{q}: tanjian gives {a.shape} values, {eng} {b.shape}")
            nan_a, nan_b = np.isnan(a), np.isnan(b)
            bad = (nan_a != nan_b) | (~nan_a & ~nan_b & (np.abs(a - b) > RTOL * np.maximum(np.abs(a), np.abs(b))))
            if bad.any():
                i = int(np.nonzero(bad)[0][0])
                raise AssertionError(f"{q}: {eng} disagrees with tanjian at value {i}: {b[i]!r} vs {a[i]!r} "
                                     f"({int(bad.sum())} of {len(a)} values differ)")
            if not (~nan_a).any() and q != "Q4":
                raise AssertionError(f"{q}: no value at all (empty history for this query?)")
            n += len(a)
    return n


def fmt(x, unit="") -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "—"
    if unit == "ms":
        return f"{x * 1e3:.1f}" if x < 10 else f"{x * 1e3:.0f}"
    if isinstance(x, str):
        return x
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def build_table(st: Setup, meters: int, days: float, R: dict, args) -> tuple[str, dict]:
    ing, load, disk = R["ingest"], R["load"], R["disk"]
    qt = {e: R[f"q-{e}"] for e in ("tanjian", "parquet", "tables", "numpy")}
    big = meters >= 1000
    rows = []
    verdicts = {}

    def goal_vs_duck(q, kind):
        t = qt["tanjian"]["times"][q][1 if kind == "warm" else 0]
        faster = all(t < qt[e]["times"][q][1 if kind == "warm" else 0] for e in ("parquet", "tables"))
        bits = []
        if kind == "warm" and q in ("Q1", "Q2"):
            lim = {"Q1": 0.020, "Q2": 0.050}[q]
            if big:
                bits.append(f"≤{lim * 1e3:.0f} ms {'met' if t <= lim else 'MISSED'}")
            else:
                bits.append(f"≤{lim * 1e3:.0f} ms (at 1,000 m): {'met' if t <= lim else 'over'} here")
        bits.append(f"< DuckDB {'met' if faster else 'MISSED'}")
        verdicts[f"{q} {kind}"] = bits
        return "; ".join(bits)

    ack = ing["readings"] / ing["ack_s"]
    rows.append(("ingest acknowledged, fsync'd [readings/s]", ack, None, ing["duck_readings"] / ing["duck_s"],
                 ing["readings"] / ing["bin_s"], ing["readings"] / ing["raw_s"],
                 f"one fsync a poll cycle: ≥1,000,000 {'met' if ack >= 1e6 else 'MISSED'}"))
    rows.append(("  of which columnar encode (tanjian.batch/2) [readings/s]", ing["readings"] / ing["encode_s"],
                 None, None, None, None, "from Reading objects, as the collector holds them"))
    rows.append(("  of which Journal.append+fsync alone [readings/s]", ing["readings"] / ing["append_s"],
                 None, None, None, None, ""))
    if "cols_s" in ing:
        rows.append(("ingest ack'd from columns, no Reading objects [readings/s]", ing["readings"] / ing["cols_s"],
                     None, None, None, None, "encode_columns + Journal.append"))
        rows.append(("ingest ack'd, 10 cycles per fsync [readings/s]", ing["readings"] / ing["group_s"],
                     None, None, None, None, "Journal.append_many (group commit)"))
    if "conc" in ing:
        for key, label in (("whole", "ingest ack'd, group commit, whole poll cycles [readings/s]"),
                           ("conc", "ingest ack'd, group commit, gateway threads [readings/s]"),
                           ("back", "ingest ack'd, backfill of gateway buffers [readings/s]")):
            c = ing[key]
            r = c["readings"] / c["s"]
            duck = ing["duck_back_readings"] / ing["duck_back_s"] if key == "back" else None
            rows.append((label, r, None, duck, None, None,
                         f"≥1,000,000 {'met' if r >= 1e6 else 'MISSED'}; {c['gateways']} producer thread"
                         f"{'s' if c['gateways'] > 1 else ''}, "
                         f"{c['batch_readings']:,.0f} readings a batch, window {c['window']}; ack p50 "
                         f"{c['lat_p50'] * 1e3:.1f} / p99 {c['lat_p99'] * 1e3:.1f} ms; "
                         f"{c['batches'] / max(c['syncs'], 1):.1f} batches a fsync; "
                         f"{c['readings'] / max(c['cpu_s'], 1e-9):,.0f} readings a CPU-second"))
        f = ing["disk_fsync"]
        rows.append(("disk: durable append p50 / p99 [milliseconds]", None, None, None, None,
                     f"{f['cycle']['p50'] * 1e3:.1f} / {f['cycle']['p99'] * 1e3:.1f}",
                     f"pwrite+fsync of {f['cycle_bytes'] / 1024:.0f} KiB (a cycle); of 1 MiB: "
                     f"{f['mib']['p50'] * 1e3:.1f} / {f['mib']['p99'] * 1e3:.1f} ms: one cycle a fsync caps "
                     f"ingest at {ing['readings'] / ing['cycles'] / f['cycle']['p50']:,.0f} readings/s"))
    if "cols_s" in ing:
        rows.append(("JSON tanjian.batch/1 encode alone (before) [readings/s]", ing["readings"] / ing["json_enc_s"],
                     None, None, None, None, "RFC 8785, pure Python"))
    rows.append(("fold journal -> store [readings/s]", ing["readings"] / ing["fold_s"], None, None, None, None, ""))
    if "store_mb" in ing:
        s0, s1, s2 = ing["store_mb"]
        folds = max(ing["folds"], 1)
        raw = ing["readings"] * 42 / 2**20  # 5 float64 + uint16 quality per reading
        rows.append(("store growth per fold / after compaction [MB]", (s1 - s0) / folds, None, None, None, None,
                     f"write amplification ×{(s1 - s0) / max(raw, 1e-9):.1f} of 42 B/reading; compaction "
                     f"(keep_days=0) left +{s2 - s0:.1f} MB in {ing['compact_s']:.1f} s"))
    rows.append(("bulk load history / build [readings/s]", load["bulk_readings"] / load["bulk_s"]
                 if load["bulk_s"] > 0 and load["bulk_readings"] else None,
                 load["parquet_rows"] / load["parquet_s"], load["parquet_rows"] / load["duck_tables_s"], None, None,
                 ""))
    for kind, k in (("cold", 0), ("warm", 1)):
        for q in QUERIES:
            rows.append((f"{q} {kind} [ms]", *(qt[e]["times"][q][k] for e in ("tanjian", "parquet", "tables", "numpy")),
                         None, goal_vs_duck(q, kind)))
    rss_t = max(qt["tanjian"]["rss_mb"], ing["rss_fold_mb"])
    rows.append(("peak RSS, queries [MB]", *(qt[e]["rss_mb"] for e in ("tanjian", "parquet", "tables", "numpy")), None,
                 f"<1024 {'met' if rss_t < 1024 else 'MISSED'} (tanjian)"))
    rows.append(("peak RSS, ingest+fold / DuckDB ingest [MB]", ing["rss_fold_mb"], None, None, None, None, ""))
    rows.append(("peak RSS, bulk load+Parquet / tables build [MB]", load["rss_load_mb"], None, load["rss_mb"], None,
                 None, ""))
    rows.append(("size on disk: store / Parquet / DuckDB db [MB]", du_mb(st.paths["store"]), du_mb(st.paths["parquet"]),
                 du_mb(st.paths["duckdb"]), st.data.minutes * len(st.site.meters) * 8 * 2 / 2**20, None,
                 "numpy: energy+power float64"))
    rows.append(("size on disk: journal (slice only) [MB]", du_mb(st.paths["journal"]), None, None,
                 ing["bin_bytes"] / 2**20, None, f"batch/2 {ing.get('tjb_bytes', 0) / ing['readings']:.0f} B/reading, "
                 f"JSON {ing['json_bytes'] / ing['readings']:.0f}, bare columns {ing['bin_bytes'] / ing['readings']:.0f}"))
    rows.append(("disk sequential read, page cache / dropped [MB/s]", None, None, None, None,
                 f"{disk['cached']:,.0f} / {disk['dropped']:,.0f}", f"{disk['bytes'] / 2**20:.0f} MB Parquet file"))
    head = ("measurement", "tanjian", "DuckDB Parquet", "DuckDB tables", "numpy (limit)", "disk (limit)", "goal")
    out = [head] + [tuple(fmt(v, "ms" if "[ms]" in r[0] and i in (1, 2, 3, 4) else "") if i else v
                          for i, v in enumerate(r)) for r in rows]
    w = [max(len(str(r[i])) for r in out) for i in range(len(head))]
    lines = []
    la = os.getloadavg()
    lines.append(f"## {meters} meters × {days:g} days ({st.readings():,} readings, 1-min; history ends "
                 f"{st.end_local} {TZ}; journaled slice: last {(st.data.m1 - st.slice_start)} min = "
                 f"{ing['readings']:,} readings in {ing['cycles']} batches, fold max {args.fold_batches} batches/commit)")
    lines.append(f"load average {la[0]:.2f} {la[1]:.2f} {la[2]:.2f} on {os.cpu_count()} cores; "
                 f"warm = median of {args.repeat}; numpy holds {qt['numpy']['note']}")
    lines.append("| " + " | ".join(str(h).ljust(w[i]) for i, h in enumerate(head)) + " |")
    lines.append("|" + "|".join("-" * (x + 2) for x in w) + "|")
    for r in out[1:]:
        lines.append("| " + " | ".join(str(v).ljust(w[i]) if i == 0 or i == 6 else str(v).rjust(w[i])
                                       for i, v in enumerate(r)) + " |")
    lines.append(f"answers: {R['compared']:,} values of Q1–Q5 agree across the 4 engines to {RTOL:g} relative")
    return "\n".join(lines), verdicts


def run_size(meters: int, days: float, args) -> tuple[str, dict]:
    base = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="tanjian-bench-"))
    work = base / f"m{meters}-d{days:g}"
    if args.rerun:  # re-measure some read-only phases on kept data; the rest of the table from results.json
        st = Setup(work, meters, days, args.end, args.journal_minutes, args.seed)
        R = json.loads((work / "results.json").read_text())
        for ph in args.rerun.split(","):
            if ph not in ("q-tanjian", "q-parquet", "q-tables", "q-numpy", "disk"):
                raise SystemExit(f"--rerun: {ph!r} is not a read-only phase (q-tanjian, q-parquet, q-tables, "
                                 f"q-numpy, disk)")
            t = time.perf_counter()
            R[ph] = run_phase(ph, work, args, meters, days)
            print(f"  [{meters} m × {days:g} d] {ph} again: {time.perf_counter() - t:.1f} s", file=sys.stderr,
                  flush=True)
        R["compared"] = check_answers(st, {k[2:]: v for k, v in R.items() if k.startswith("q-")})
        table, verdicts = build_table(st, meters, days, R, args)
        (work / "results.json").write_text(json.dumps(R, indent=1, default=str))
        return table, {"R": R, "verdicts": verdicts}
    st = Setup(work, meters, days, args.end, args.journal_minutes, args.seed) if work.exists() else None
    reuse = _peers_reusable(st, args) if st is not None else None
    if reuse:  # keep the peers' files; everything of tanjian's is rebuilt
        os.replace(st.paths["parquet"], st.paths["parquet"].with_suffix(".kept"))
        for p in work.iterdir():
            if p.name not in ("minutes.kept", "tables.duckdb", "results-peers.json"):
                shutil.rmtree(p) if p.is_dir() else p.unlink()
        print(f"  [{meters} m × {days:g} d] reusing the Parquet file, DuckDB tables and their query "
              f"results of {reuse['stamp']}", file=sys.stderr, flush=True)
    elif work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    st = Setup(work, meters, days, args.end, args.journal_minutes, args.seed)
    R = {}
    try:
        for ph in ("load", "ingest", "q-tanjian", "q-parquet", "q-tables", "q-numpy", "disk"):
            t = time.perf_counter()
            if reuse and ph in ("q-parquet", "q-numpy", "disk"):  # read-only phases on unchanged files
                R[ph] = reuse[ph]
                continue
            R[ph] = run_phase(ph, work, args, meters, days)
            print(f"  [{meters} m × {days:g} d] {ph}: {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)
        R["compared"] = check_answers(st, {k[2:]: v for k, v in R.items() if k.startswith("q-")})
        table, verdicts = build_table(st, meters, days, R, args)
        (work / "results.json").write_text(json.dumps(R, indent=1, default=str))
        if not reuse:
            peers = {k: R[k] for k in ("load", "q-parquet", "q-numpy", "disk")}
            (work / "results-peers.json").write_text(json.dumps({**peers, "stamp": _stamp(st, args)}, default=str))
        return table, {"R": R, "verdicts": verdicts}
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
            if not args.out:
                shutil.rmtree(base, ignore_errors=True)


def growth_lines(results: dict) -> list[str]:
    """Warm tanjian query time at the longest vs the shortest history, per size."""
    out = []
    for m in sorted({k[0] for k in results}):
        ds = sorted(d for mm, d in results if mm == m)
        if len(ds) < 2:
            continue
        a, b = results[(m, ds[0])]["R"]["q-tanjian"]["times"], results[(m, ds[-1])]["R"]["q-tanjian"]["times"]
        ratio = ds[-1] / ds[0]
        parts = []
        for q in QUERIES:
            g = b[q][1] / a[q][1]
            parts.append(f"{q} ×{g:.2f}")
        ok = all(b[q][1] / a[q][1] < ratio ** 0.5 for q in QUERIES)
        out.append(f"{m} meters, history ×{ratio:g} ({ds[0]:g} -> {ds[-1]:g} days): warm time " + ", ".join(parts)
                   + f" — goal 'grows far slower than history' (< ×{ratio ** 0.5:.2f}): {'met' if ok else 'MISSED'}")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_store", description=__doc__.splitlines()[0])
    ap.add_argument("--meters", default="100,1000", help="comma-separated plant sizes [meters] (default 100,1000)")
    ap.add_argument("--days", default="365", help="history length(s) [d], comma-separated (default 365)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every size by K")
    ap.add_argument("--out", help="work folder (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the generated store, journal, Parquet and DuckDB files")
    ap.add_argument("--journal-minutes", type=int, default=120,
                    help="newest minutes ingested through the journal and folded (the rest is bulk-loaded)")
    ap.add_argument("--fold-batches", type=int, default=60, help="batches per fold commit (default 60)")
    ap.add_argument("--duck-ingest-cycles", type=int, default=60, help="poll cycles INSERTed into DuckDB")
    ap.add_argument("--gateways", type=int, default=20,
                    help="ingest: gateway producer threads of the group-commit and backfill rows (default 20)")
    ap.add_argument("--window", type=int, default=8,
                    help="ingest: poll cycles a gateway producer keeps awaiting their ack (default 8)")
    ap.add_argument("--backfill-minutes", type=int, default=60,
                    help="ingest: minutes of a gateway's buffer in one backfill batch (default 60)")
    ap.add_argument("--repeat", type=int, default=7, help="warm runs per query (median)")
    ap.add_argument("--end", default=DEFAULT_END, help=f"local end of the history (default {DEFAULT_END})")
    ap.add_argument("--seed", type=int, default=18)
    ap.add_argument("--reuse-peers", action="store_true",
                    help="with --out and --keep: rebuild and measure tanjian again but keep the DuckDB/Parquet files "
                         "and the Parquet/numpy/disk results of an earlier run on the same data (DuckDB tables are "
                         "queried again)")
    ap.add_argument("--rerun", metavar="PHASES",
                    help="with --out: on data kept by an earlier --keep run, run only these read-only phases again "
                         "(comma-separated: q-tanjian, q-tables, q-parquet, q-numpy, disk) and print the table with "
                         "the other rows from that run (e.g. queries again on a quiet machine)")
    ap.add_argument("--profile", action="store_true", help="cProfile the ingest phase (work/ingest.prof); implies --keep")
    ap.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.phase:
        st = Setup(Path(args.work), int(args.meters), float(args.days), args.end, args.journal_minutes, args.seed)
        print(json.dumps(PHASES[args.phase](st, args)))
        return 0
    if args.profile:
        args.keep = True
    sizes = [int(round(int(m) * args.scale)) for m in args.meters.split(",")]
    days = [float(d) for d in args.days.split(",")]
    print(f"# tanjian store benchmark — python -m benchmarks.bench_store {' '.join(argv or sys.argv[1:])}")
    results = {}
    try:
        for m in sizes:
            for d in days:
                table, res = run_size(m, d, args)
                results[(m, d)] = res
                print(table, flush=True)
                print()
    except AssertionError as exc:
        print(f"ANSWERS DISAGREE — run aborted: {exc}", file=sys.stderr)
        return 3
    for line in growth_lines(results):
        print(line)
    if args.profile:
        for (m, d) in results:
            p = Path(args.out or ".") / f"m{m}-d{d:g}" / "ingest.prof"
            if p.exists():
                pstats.Stats(str(p)).sort_stats("cumulative").print_stats(25)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
