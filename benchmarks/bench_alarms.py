"""Alarm evaluation for a plant of N meters each minute: the time of one cycle and per meter.

Run ``python -m benchmarks.bench_alarms --help`` from the repository root with the project's venv python.

Two rows, each over ``--cycles`` simulated minutes (median, 95th percentile and max of the cycles):

- ``evaluate``: :meth:`models.alarms.AlarmEngine.evaluate` with the packaged Plant 18 rules (15 rules) on a
  snapshot of every quantity for every target of a generated plant (``benchmarks._plantgen.make_site``):
  power, power share, age, day energy, quality flags, key equipment in peak, transformer load, anomaly
  score, and 20 distribution rooms. Each minute about 1 % of the values move across their limit, so the
  alarm log (SQLite, WAL, synchronous FULL) takes real raises, clears and repeats: the commit's fsync is in
  the time. Goal (issue 15): <= 50 ms a cycle at 2,000 meters.
- ``gather``: :func:`models.alarms.inputs.gather`, the snapshot from a store holding ``--hours`` of
  generated history of the same plant (bulk-loaded): what the collector's loop adds before evaluating.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def _stats(ms: list[float]) -> tuple[float, float, float]:
    s = sorted(ms)
    return statistics.median(s), s[min(len(s) - 1, int(0.95 * len(s)))], s[-1]


def bench_evaluate(site, cycles: int, work: Path, seed: int) -> dict:
    from models.alarms import AlarmDB, AlarmEngine, load_rules

    rng = np.random.default_rng(seed)
    elec = [m.id for m in site.meters if m.medium.value == "electricity"]
    every = [m.id for m in site.meters]
    trs = [t.id for t in site.transformers]
    rooms = [f"DR-{k}" for k in range(1, 21)]
    key = elec[::10]
    db = AlarmDB(work / "alarms.sqlite")
    engine = AlarmEngine(load_rules(), db)
    # values that sit near their limits so that ~1 % cross each minute
    base = {
        "power_share": (elec, 0.9, 0.1), "age_s": (every, 60.0, 60.0), "energy_day": (elec, 5000.0, 3000.0),
        "flagged_minutes": (every, 0.0, 0.6), "on_in_peak": (key, 0.0, 0.3), "load_rate": (trs, 0.7, 0.12),
        "anomaly_score": (elec, 0.0, 2.0), "room.temperature": (rooms, 26.0, 1.5), "room.humidity": (rooms, 60, 6),
        "room.leak": (rooms, 0.0, 0.25), "room.smoke": (rooms, 0.0, 0.25), "room.door": (rooms, 0.0, 0.25),
        "room.switch": (rooms, 1.0, 0.25),
    }
    state = {q: rng.normal(mu, sd, len(ids)) for q, (ids, mu, sd) in base.items()}
    t0 = dt.datetime(2026, 7, 15, 0, 0, tzinfo=dt.timezone.utc)
    times, moved = [], []
    for k in range(cycles + 1):
        snap = {}
        for q, (ids, mu, sd) in base.items():
            v = state[q]
            v += rng.normal(0, sd * 0.6, len(v)) - 0.3 * (v - mu)  # a mean-reverting walk
            snap[q] = pd.Series(v.copy() if not q.startswith("room.") or q in ("room.temperature", "room.humidity")
                                else (v > 0.5).astype(float), index=ids)
        snap["power"] = snap["power_share"] * 50.0
        a = time.perf_counter()
        out = engine.evaluate(t0 + dt.timedelta(minutes=k), snap)
        if k:  # the first cycle lays the rules out (once per process): not a minute's work
            times.append(1000 * (time.perf_counter() - a))
            moved.append(len(out))
    points = len(engine.target_of)
    db.close()
    med, p95, mx = _stats(times)
    return {"row": "evaluate", "meters": len(every), "points": points, "median_ms": med, "p95_ms": p95,
            "max_ms": mx, "per_meter_us": 1000 * med / len(every), "transitions": statistics.mean(moved)}


def bench_gather(site, cycles: int, work: Path, hours: float, seed: int) -> dict:
    from benchmarks._bulk import bulk_load
    from benchmarks._plantgen import PlantData
    from models.alarms.inputs import gather
    from tanjian.startup import lazy_duck_arrays
    from workspace.store import Store

    lazy_duck_arrays()
    end = dt.datetime(2026, 7, 15, 6, 0, tzinfo=dt.timezone.utc)
    start = end - dt.timedelta(hours=hours)
    data = PlantData(site, start, end, seed)
    store = Store.open(work / "store", site, create=True)
    bulk_load(store, data, data.m1)
    store = Store.open(work / "store", site)
    times = []
    for k in range(cycles + 1):
        now = end - dt.timedelta(minutes=cycles - k, seconds=-1)
        a = time.perf_counter()
        gather(store, now, tariff=None)
        if k:
            times.append(1000 * (time.perf_counter() - a))
    med, p95, mx = _stats(times)
    n = len(site.meters)
    return {"row": "gather", "meters": n, "points": n, "median_ms": med, "p95_ms": p95, "max_ms": mx,
            "per_meter_us": 1000 * med / n, "transitions": float("nan")}


def main(argv=None) -> int:
    from benchmarks._plantgen import make_site

    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_alarms", description=__doc__.split("\n\n")[0])
    p.add_argument("--meters", type=int, default=2000, help="meters of the generated plant (default 2000)")
    p.add_argument("--cycles", type=int, default=60, help="simulated minutes evaluated (default 60)")
    p.add_argument("--hours", type=float, default=2.0, help="history in the store for the gather row (default 2)")
    p.add_argument("--no-gather", action="store_true", help="only the evaluate row")
    p.add_argument("--seed", type=int, default=18)
    args = p.parse_args(argv)
    site = make_site(args.meters)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-alarms-") as d:
        rows.append(bench_evaluate(site, args.cycles, Path(d), args.seed))
        if not args.no_gather:
            rows.append(bench_gather(site, args.cycles, Path(d), args.hours, args.seed))
    print(f"alarm evaluation, {args.meters} meters, {args.cycles} cycles; {os.cpu_count()} cores, load "
          f"{os.getloadavg()[0]:.2f}")
    print(f"| row | meters | points | median ms | p95 ms | max ms | per meter µs | transitions/cycle |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['row']} | {r['meters']} | {r['points']} | {r['median_ms']:.1f} | {r['p95_ms']:.1f} | "
              f"{r['max_ms']:.1f} | {r['per_meter_us']:.1f} | {r['transitions']:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
