"""Inventory and report benchmark: a year's device-level inventory from the store's rollups, and its XLSX+PDF
reports, against the same sums in plain pandas over the raw minutes (the naive peer).

Run ``python -m benchmarks.bench_inventory --help``; see benchmarks/README.md. Goals (issue #6): inventory
under 2 s at 1,000 meters x 365 days, the XLSX+PDF reports under 10 s.

Set-up (not timed): a Plant-18-like site of ``--meters`` meters (:mod:`benchmarks._plantgen`) and ``--days``
days of minutes from 1 January of ``--year`` (local), bulk-loaded into a store (:mod:`benchmarks._bulk`,
which builds the same rollups a fold does) and written to a Parquet file of minute rows
``(time UTC, meter, energy)`` for the peer. Each measured phase runs in a child process of its own, so its peak
RSS is its own and "cold" means a freshly opened store:

* ``inventory``: :func:`models.inventory.compute_inventory` (``ghg-protocol-corporate``, ``level="device"``),
  then ``to_canonical()``;
* ``report``: :func:`models.reports.write_reports` of that canonical inventory, XLSX and PDF in both layouts;
* ``naive``: pandas reads the Parquet file (row group by row group; a whole year at 1,000 meters does not fit
  in memory as one frame), sums each meter's minutes per local month, groups the meters as the inventory does
  (plant incomers, gas main) and multiplies by the same factors. Its electricity, gas and tCO2e totals must
  agree with the inventory's (exit status 3 otherwise).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

from benchmarks._phases import TZ, parser, peak_rss_mb, run, site_and_data

METHODOLOGY = "ghg-protocol-corporate"


def _period(args) -> tuple[dt.date, dt.date]:
    a = dt.date(args.year, 1, 1)
    return a, a + dt.timedelta(days=args.days - 1)


def phase_setup(args, work: Path) -> dict:
    """Bulk-load the store and write the Parquet minutes."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from benchmarks._bulk import bulk_load
    from workspace.store import Store

    site, data = site_and_data(args)
    schema = pa.schema([("time", pa.timestamp("us", tz="UTC")), ("meter", pa.dictionary(pa.int32(), pa.string())),
                        ("energy", pa.float64())])
    writer = pq.ParquetWriter(work / "minutes.parquet", schema, compression="zstd")
    meters = pa.array(np.array(data.meter_ids))

    def to_parquet(b):
        n, m = b.energy.shape
        e = b.energy.ravel()
        writer.write_table(pa.Table.from_arrays(
            [pa.array(np.repeat(b.times(), m), pa.timestamp("us", tz="UTC")),
             pa.DictionaryArray.from_arrays(pa.array(np.tile(np.arange(m, dtype=np.int32), n)), meters),
             pa.array(e, mask=~np.isfinite(e))], schema=schema))

    t = time.perf_counter()
    store = Store.open(work / "store", site, create=True)
    n = bulk_load(store, data, data.m1, on_block=to_parquet)
    writer.close()
    return {"readings": n, "setup_s": time.perf_counter() - t}


def phase_inventory(args, work: Path) -> dict:
    from models.inventory import compute_inventory
    from workspace.store import Store

    site, _ = site_and_data(args)
    start, end = _period(args)
    times, canon = [], None
    for i in range(1 + args.repeat):
        t = time.perf_counter()
        store = Store.open(work / "store", site)
        inv = compute_inventory(start, end, methodology=METHODOLOGY, store=store, site=site, level="device")
        canon = inv.to_canonical()
        times.append(time.perf_counter() - t)
    (work / "inventory.json").write_text(json.dumps(canon))
    return {"cold_s": times[0], "warm_s": statistics.median(times[1:]) if len(times) > 1 else float("nan"),
            "rss_mb": peak_rss_mb(), "lines": len(canon["lines"]), **_inventory_totals(canon)}


def _inventory_totals(canon: dict) -> dict:
    el = [ln for ln in canon["lines"] if ln["source"] == "purchased_electricity"]
    gas = [ln for ln in canon["lines"] if ln["source"] == "stationary_combustion"]
    return {"elec_mwh": sum(float(ln["activity"]["quantity"]) for ln in el),
            "elec_t": sum(float(ln["tco2e"]) for ln in el), "elec_lines": len(el),
            "gas_nm3": sum(float(ln["activity"]["quantity"]) for ln in gas),
            "gas_t": sum(float(ln["tco2e"]) for ln in gas), "gas_lines": len(gas),
            "elec_factor": float(el[0]["factor"]["value"]) if el else float("nan"),
            "elec_factor_unit": el[0]["factor"]["unit"] if el else "",
            "gas_factor": float(gas[0]["factor"]["value"]) if gas else float("nan"),
            "gas_factor_unit": gas[0]["factor"]["unit"] if gas else ""}


def phase_report(args, work: Path) -> dict:
    from models.reports import write_reports

    site, _ = site_and_data(args)
    canon = json.loads((work / "inventory.json").read_text())
    times, sizes = [], {}
    for i in range(1 + args.repeat):
        out = work / f"reports-{i}"
        t = time.perf_counter()
        files = write_reports(canon, out, formats=("xlsx", "pdf"), layouts=("cn", "iso"),
                              report_date=f"{args.year + 1}-01-05", author="benchmark", site=site)
        times.append(time.perf_counter() - t)
        sizes = {p.name: p.stat().st_size for p in files}
    import hashlib

    same = all(hashlib.sha256((work / "reports-0" / n).read_bytes()).digest()
               == hashlib.sha256((work / f"reports-{i}" / n).read_bytes()).digest()
               for n in sizes for i in range(1, 1 + args.repeat))
    return {"cold_s": times[0], "warm_s": statistics.median(times[1:]) if len(times) > 1 else float("nan"),
            "rss_mb": peak_rss_mb(), "bytes": sum(sizes.values()), "identical": same}


def phase_naive(args, work: Path) -> dict:
    """Plain pandas over the raw minutes (see module docstring)."""
    import pandas as pd
    import pyarrow.parquet as pq

    from workspace.site import Medium

    site, _ = site_and_data(args)
    canon = json.loads((work / "inventory.json").read_text())
    tot = _inventory_totals(canon)
    t = time.perf_counter()
    parts = []
    f = pq.ParquetFile(work / "minutes.parquet")
    for i in range(f.num_row_groups):
        df = f.read_row_group(i).to_pandas()
        df = df.dropna(subset=["energy"])
        # the energy of a reading is the minute ENDING at it: date it by its start, in local time
        df["month"] = (df["time"] - pd.Timedelta(minutes=1)).dt.tz_convert(TZ).dt.strftime("%Y-%m")
        parts.append(df.groupby(["meter", "month"], observed=True)["energy"].sum())
    by_meter_month = pd.concat(parts).groupby(level=[0, 1], observed=True).sum()
    by_meter = by_meter_month.groupby(level=0, observed=True).sum()
    elec_kwh = float(by_meter.reindex(site.top_meters(Medium.electricity)).fillna(0).sum())
    gas_m3 = float(by_meter.reindex(site.top_meters(Medium.natural_gas)).fillna(0).sum())
    # the same factors the inventory applied (a naive peer keeps one static factor per medium)
    ef = {"tCO2/MWh": 1e-3, "kgCO2/kWh": 1e-3, "tCO2/kWh": 1.0}
    elec_t = elec_kwh * tot["elec_factor"] * ef.get(tot["elec_factor_unit"], float("nan"))
    gas_t = gas_m3 * tot["gas_factor"] * {"tCO2/Nm3": 1.0, "kgCO2/Nm3": 1e-3, "tCO2e/Nm3": 1.0}.get(
        tot["gas_factor_unit"], float("nan"))
    return {"s": time.perf_counter() - t, "rss_mb": peak_rss_mb(), "elec_mwh": elec_kwh / 1000, "gas_nm3": gas_m3,
            "elec_t": elec_t, "gas_t": gas_t, "rows": int(f.metadata.num_rows)}


PHASES = {"setup": phase_setup, "inventory": phase_inventory, "report": phase_report, "naive": phase_naive}


def _agree(a: float, b: float, lines: int) -> bool:
    """Equal up to the inventory's rounding (tCO2e to 3 decimals, activity to 6, per line) and 1e-9 relative."""
    return abs(a - b) <= 0.0005 * max(lines, 1) + 1e-9 * max(abs(a), abs(b))


def main(argv: list[str] | None = None) -> int:
    args = parser("benchmarks.bench_inventory", __doc__, PHASES, year=2025,
                  year_help="the inventory's year").parse_args(argv)
    res = run("benchmarks.bench_inventory", args, PHASES, ["setup", "inventory", "report", "naive"], "bench-inventory-")
    if res is None:
        return 0
    setup, inv, rep, nai = res.values()
    ok = (_agree(inv["elec_mwh"], nai["elec_mwh"], inv["elec_lines"]) and _agree(inv["gas_nm3"], nai["gas_nm3"],
                                                                                  inv["gas_lines"])
          and _agree(inv["elec_t"], nai["elec_t"], inv["elec_lines"]) and _agree(inv["gas_t"], nai["gas_t"],
                                                                                  inv["gas_lines"]))
    la = os.getloadavg()
    print(f"\n{args.meters} meters x {args.days} days from {args.year}-01-01 ({setup['readings']:,} readings; "
          f"set-up {setup['setup_s']:.1f} s, not timed); {os.cpu_count()} cores, load average "
          f"{la[0]:.2f} {la[1]:.2f} {la[2]:.2f}\n")
    print("| | tanjian | naive pandas over minutes | goal |")
    print("| --- | --- | --- | --- |")
    print(f"| inventory, cold [s] | {inv['cold_s']:.3f} | {nai['s']:.3f} | < 2 |")
    print(f"| inventory, warm median [s] | {inv['warm_s']:.3f} | — | |")
    print(f"| peak RSS, inventory [MB] | {inv['rss_mb']:.0f} | {nai['rss_mb']:.0f} | |")
    print(f"| XLSX+PDF reports (cn, iso), cold [s] | {rep['cold_s']:.3f} | — | < 10 |")
    print(f"| XLSX+PDF reports, warm median [s] | {rep['warm_s']:.3f} | — | |")
    print(f"| peak RSS, reports [MB] | {rep['rss_mb']:.0f} | — | |")
    print(f"| inventory lines / report bytes | {inv['lines']} / {rep['bytes']:,} | — | |")
    print(f"| electricity [MWh] | {inv['elec_mwh']:,.6f} | {nai['elec_mwh']:,.6f} | |")
    print(f"| natural gas [Nm3] | {inv['gas_nm3']:,.6f} | {nai['gas_nm3']:,.6f} | |")
    print(f"| tCO2e electricity + gas | {inv['elec_t'] + inv['gas_t']:,.3f} | {nai['elec_t'] + nai['gas_t']:,.3f} | |")
    print(f"\nreports byte-identical across the {1 + args.repeat} runs: {rep['identical']}")
    if not ok or not rep["identical"]:
        print("MISMATCH: the inventory and the naive peer disagree (or the reports differ)", file=sys.stderr)
        return 3
    print("inventory and naive peer agree (to the inventory's rounding)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
