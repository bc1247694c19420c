"""Energy analytics benchmark: a year's time-of-use energy and cost, and a year's unit consumption by shift, at
1,000 meters, from the store's rollups.

Run ``python -m benchmarks.bench_energy --help``; see benchmarks/README.md. Goal (issue #15): the year's TOU
cost <= 1 s at 1,000 meters.

Set-up (not timed): a Plant-18-like site of ``--meters`` meters (:mod:`benchmarks._plantgen`) and ``--days``
days of minutes from 1 January of ``--year`` (local; the Hunan 2025 schedule is valid from 2026), bulk-loaded
into a store (:mod:`benchmarks._bulk`); and one production record per workshop, shift window and day (a
deterministic mix of two products). Each measured phase runs in a child process of its own ("cold" = a freshly
opened store and a fresh interpreter):

* ``tou``: :func:`models.energy.tou.tou_cost` over the whole period for the plant (the goal's figure: a fresh
  process opens the store and prices the plant's year), then for every electricity meter (``by="meter"``) in
  the same process; checked against a peer that walks the same hourly energy with a pandas ``groupby``
  over a period label per hour made from the schedule's hour dictionaries (a second path, not the
  one-hot matrix), and against the store's plain total;
* ``unit``: :func:`models.energy.unit_consumption.unit_consumption` over the period at workshop level,
  hourly (``exact=False``), with the grid factor per day.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

from benchmarks._phases import parser, peak_rss_mb, run, site_and_data

def _period(args):
    a = dt.datetime(args.year, 1, 1)
    return a, a + dt.timedelta(days=args.days)


def phase_setup(args, work: Path) -> dict:
    import numpy as np
    import pandas as pd

    from benchmarks._bulk import bulk_load
    from models.energy.unit_consumption import shift_windows
    from workspace.store import Store

    site, data = site_and_data(args)
    t = time.perf_counter()
    store = Store.open(work / "store", site, create=True)
    n = bulk_load(store, data, data.m1)
    a, b = _period(args)
    win = shift_windows(site.shifts, a.date(), (b - dt.timedelta(days=1)).date())
    rng = np.random.default_rng(args.seed)
    rows = []
    for w in site.workshops:
        pumps = rng.integers(0, 4, len(win))
        cranes = rng.integers(0, 2, len(win))
        for (d, s), p, c in zip(zip(win["date"], win["shift"]), pumps, cranes):
            for item, q in (("P-PUMP", p), ("P-CRANE", c)):
                if q:
                    rows.append({"kind": "production", "item": item, "period_start": d.isoformat(),
                                 "period_end": d.isoformat(), "quantity": float(q), "unit": "pcs",
                                 "workshop": w.id, "shift": s, "team": f"{w.id}-{s}"})
    pd.DataFrame(rows).to_parquet(work / "production.parquet")
    return {"readings": n, "records": len(rows), "setup_s": time.perf_counter() - t}


def phase_tou(args, work: Path) -> dict:
    from models.energy.tou import tou_cost
    from workspace.store import Store
    from workspace.tariffs import load_tariff

    site, _ = site_and_data(args)
    tariff = load_tariff("CN-HN-large-industrial-1-10kV")
    a, b = _period(args)
    plant_t, meter_t, opens, out, plant = [], [], [], None, None
    for _ in range(1 + args.repeat):
        t = time.perf_counter()
        store = Store.open(work / "store", site)
        opens.append(time.perf_counter() - t)
        plant = tou_cost(store, tariff, a, b, by="plant")
        plant_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        out = tou_cost(store, tariff, a, b, by="meter")
        meter_t.append(time.perf_counter() - t)
    # the peer: the same hourly energy, each hour labelled from the schedule's hour dictionaries, pandas groupby
    peer_t = time.perf_counter()
    store = Store.open(work / "store", site)
    e = store.energy(a, b, by="meter", freq="1h").to_pandas()
    label = [tariff.schedule.hours(ts.month)[ts.hour] for ts in e.index]
    per = e.groupby(label).sum()
    peer_cost = float(sum(per.loc[p].sum() * tariff.price(p) for p in per.index))
    peer_s = time.perf_counter() - peer_t
    total = float(store.energy(a, b, by="plant", freq=None).to_pandas().sum())
    def warm(x):
        return statistics.median(x[1:]) if len(x) > 1 else float("nan")

    return {"cold_s": plant_t[0], "warm_s": warm(plant_t), "meters_cold_s": meter_t[0], "meters_warm_s": warm(meter_t),
            "open_s": opens[0], "rss_mb": peak_rss_mb(), "meters": len(out), "cny": float(out["energy_cny"].sum()),
            "kwh": float(out["total_kwh"].sum()), "plant_kwh": float(plant["total_kwh"].sum()),
            "plant_cny": float(plant["energy_cny"].sum()), "store_plant_kwh": total, "peer_cny": peer_cost,
            "peer_kwh": float(per.to_numpy().sum()), "peer_s": peer_s,
            "sharp_pct": float(plant["sharp_share_pct"].iloc[0])}


def phase_unit(args, work: Path) -> dict:
    import pandas as pd

    from models.energy.unit_consumption import unit_consumption
    from workspace.store import Store

    site, _ = site_and_data(args)
    a, b = _period(args)
    prod = pd.read_parquet(work / "production.parquet")
    first, last = a.date(), (b - dt.timedelta(days=1)).date()
    times, r = [], None
    for _ in range(1 + args.repeat):
        t = time.perf_counter()
        store = Store.open(work / "store", site)
        r = unit_consumption(store, site, prod, first, last, by="workshop", exact=False)
        times.append(time.perf_counter() - t)
    return {"cold_s": times[0], "warm_s": statistics.median(times[1:]) if len(times) > 1 else float("nan"),
            "rss_mb": peak_rss_mb(), "windows": len(r.windows), "r2": r.explained_share,
            "pump_kwh_per_unit": float(r.products.loc["P-PUMP", "kwh_per_unit"])}


PHASES = {"setup": phase_setup, "tou": phase_tou, "unit": phase_unit}


def main(argv: list[str] | None = None) -> int:
    args = parser("benchmarks.bench_energy", __doc__, PHASES, year=2026,
                  year_help="the year (the schedule starts then)").parse_args(argv)
    res = run("benchmarks.bench_energy", args, PHASES, ["setup", "tou", "unit"], "bench-energy-")
    if res is None:
        return 0
    setup, tou, unit = res.values()
    la = os.getloadavg()
    print(f"\n{args.meters} meters x {args.days} days from {args.year}-01-01 ({setup['readings']:,} readings, "
          f"{setup['records']:,} production records; set-up {setup['setup_s']:.1f} s, not timed); "
          f"{os.cpu_count()} cores, load average {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}\n")
    print("| | tanjian | peer | goal |")
    print("| --- | --- | --- | --- |")
    print(f"| plant's TOU cost, cold [s] (of which opening the store) | {tou['cold_s']:.3f} "
          f"({tou['open_s']:.3f}) | — | <= 1 |")
    print(f"| plant's TOU cost, warm median [s] | {tou['warm_s']:.3f} | — | |")
    print(f"| TOU cost of every electricity meter, first / warm median [s] | {tou['meters_cold_s']:.3f} / "
          f"{tou['meters_warm_s']:.3f} | {tou['peer_s']:.3f} (pandas groupby, warm) | |")
    print(f"| peak RSS, TOU [MB] | {tou['rss_mb']:.0f} | — | |")
    print(f"| meters priced / cost of all meters [CNY] | {tou['meters']} / {tou['cny']:,.2f} | {tou['peer_cny']:,.2f} | |")
    print(f"| plant energy [kWh] (TOU / store total) | {tou['plant_kwh']:,.3f} | {tou['store_plant_kwh']:,.3f} | |")
    print(f"| plant sharp share [%] | {tou['sharp_pct']:.2f} | — | |")
    print(f"| unit consumption, a year by shift, cold [s] | {unit['cold_s']:.3f} | — | |")
    print(f"| unit consumption, warm median [s] | {unit['warm_s']:.3f} | — | |")
    print(f"| peak RSS, unit [MB] | {unit['rss_mb']:.0f} | — | |")
    print(f"| shift windows x workshops / R² of the mix | {unit['windows']} / {unit['r2']:.3f} | — | |")
    ok_tou = (abs(tou["cny"] - tou["peer_cny"]) <= 1e-6 * max(abs(tou["peer_cny"]), 1)
              and abs(tou["plant_kwh"] - tou["store_plant_kwh"]) <= 1e-6 * max(tou["store_plant_kwh"], 1)
              and abs(tou["kwh"] - tou["peer_kwh"]) <= 1e-6 * max(tou["peer_kwh"], 1))
    if not ok_tou:
        print("MISMATCH: the TOU split and its peer (or the store's total) disagree", file=sys.stderr)
        return 3
    print("\nTOU cost and the pandas peer agree; the plant's TOU energy equals the store's total")
    return 0


if __name__ == "__main__":
    sys.exit(main())
