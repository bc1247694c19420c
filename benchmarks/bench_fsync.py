"""What this disk allows a journal: latency of a durable append, by size and by way of syncing.

Run ``python -m benchmarks.bench_fsync --help``. Each row appends ``--count`` records of one size to a fresh
file in ``--dir`` (default: a temporary folder under the current directory, i.e. the disk the journal uses)
and times each write + sync:

- ``append+fsync``: ``os.pwrite`` at the end of the file, then ``os.fsync`` (what ``Journal.append`` does);
- ``append+fdatasync``: the same with ``os.fdatasync`` (skips timestamps, still writes the new size);
- ``append O_DSYNC``: the file opened with ``O_DSYNC``, every ``pwrite`` durable when it returns;
- ``fallocate+fdatasync``: the file first extended with ``os.posix_fallocate`` (allocated, unwritten
  extents), then overwritten in place: the size no longer changes, but the extents still turn "written";
- ``zero-filled+fdatasync``: the file first written with zeros and fsync'd (as a database preallocates its
  log), then overwritten in place: only data blocks go to the device.

Latencies are per durable append [ms]: p50, p90, p99 and max; the last column is the throughput the size
allows when every append waits for its own sync. With group commit the writer syncs everything waiting at
once, so what one sync can carry (the bandwidth column) bounds ingest, and its latency bounds the ack delay.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

MODES = ("append+fsync", "append+fdatasync", "append O_DSYNC", "fallocate+fdatasync", "zero-filled+fdatasync")


def _percentile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def sync_latencies(folder: Path, mode: str, size: int, count: int) -> list[float]:
    """Seconds of each of ``count`` durable appends of ``size`` bytes in ``mode`` (see the module docstring),
    into a fresh file in ``folder`` (removed afterwards)."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: one of {', '.join(MODES)}")
    path = folder / f"fsync-probe-{os.getpid()}.bin"
    flags = os.O_RDWR | os.O_CREAT | os.O_TRUNC | (os.O_DSYNC if mode == "append O_DSYNC" else 0)
    fd = os.open(path, flags, 0o600)
    try:
        total = size * count
        if mode == "fallocate+fdatasync":
            os.posix_fallocate(fd, 0, total)
            os.fsync(fd)
        elif mode == "zero-filled+fdatasync":
            chunk = b"\0" * (1 << 20)
            for pos in range(0, total, len(chunk)):
                os.pwrite(fd, chunk[:min(len(chunk), total - pos)], pos)
            os.fsync(fd)
        sync = {"append+fsync": os.fsync, "append O_DSYNC": lambda fd: None}.get(mode, os.fdatasync)
        data = os.urandom(size)
        out = []
        for k in range(count):
            t = time.perf_counter()
            os.pwrite(fd, data, k * size)
            sync(fd)
            out.append(time.perf_counter() - t)
        return out
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)


def summary(lat: list[float], size: int) -> dict:
    """p50/p90/p99/max [s] and the bandwidth [B/s] of one durable append after the other."""
    return {"p50": statistics.median(lat), "p90": _percentile(lat, 0.90), "p99": _percentile(lat, 0.99),
            "max": max(lat), "bytes_per_s": size * len(lat) / sum(lat), "n": len(lat)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_fsync", description=__doc__.splitlines()[0],
                                 epilog="Numbers depend on what else writes to the disk: repeat before concluding.")
    ap.add_argument("--dir", help="folder on the disk to measure (default: a temporary folder in the current one)")
    ap.add_argument("--sizes", default="4,16,64,256", help="append sizes [KiB], comma-separated (default 4,16,64,256)")
    ap.add_argument("--count", type=int, default=200, help="appends per row (default 200)")
    ap.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of: {', '.join(MODES)}")
    ap.add_argument("--reading-bytes", type=float, default=48.5,
                    help="bytes a reading takes in the journal, for the readings/s column (default 48.5: "
                         "tanjian.batch/2 at 1,000 meters a batch)")
    args = ap.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",")]
    for m in modes:
        if m not in MODES:
            ap.error(f"--modes: unknown mode {m!r}")
    sizes = [int(float(s) * 1024) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="tanjian-fsync-", dir=args.dir or ".") as d:
        print(f"# durable appends on {os.path.realpath(d)} ({args.count} per row), load average "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
        print("| mode | size [KiB] | p50 [ms] | p90 [ms] | p99 [ms] | max [ms] | MB/s, one sync per append | "
              "readings/s at that rate |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for mode in modes:
            for size in sizes:
                s = summary(sync_latencies(Path(d), mode, size, args.count), size)
                print(f"| {mode} | {size // 1024} | {s['p50'] * 1e3:.2f} | {s['p90'] * 1e3:.2f} | "
                      f"{s['p99'] * 1e3:.2f} | {s['max'] * 1e3:.2f} | {s['bytes_per_s'] / 1e6:.1f} | "
                      f"{s['bytes_per_s'] / args.reading_bytes:,.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
