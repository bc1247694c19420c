"""The harness that bench_energy and bench_inventory share: one generated plant (``--meters`` × ``--days`` of
minutes from 1 January of ``--year``), and each measured phase in a child process of its own, so that its cold
time and its peak RSS are its own (a phase in the same process would find the previous one's caches and memory).

The parent parses the options, makes a work folder, runs ``python -m <module> --phase NAME --work DIR`` for each
phase in order and reads the JSON the child prints last; the work folder is removed unless ``--keep``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

TZ = "Asia/Shanghai"


def peak_rss_mb() -> float:
    """This process's peak resident set [MB]."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def site_and_data(args):
    """The generated site of ``args.meters`` meters and its minute data from 1 January of ``args.year``."""
    from zoneinfo import ZoneInfo

    from benchmarks._plantgen import PlantData, make_site

    site = make_site(args.meters)
    start = dt.datetime(args.year, 1, 1, tzinfo=ZoneInfo(TZ)).astimezone(dt.timezone.utc)
    end = start + dt.timedelta(days=args.days)
    return site, PlantData(site, start, end, args.seed)


def parser(module: str, doc: str, phases: dict, *, year: int, year_help: str) -> argparse.ArgumentParser:
    """The options every phased benchmark takes (the hidden ``--phase``/``--work`` are the child's)."""
    p = argparse.ArgumentParser(prog=f"python -m {module}", description=doc.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--meters", type=int, default=1000, help="meters of the generated plant (default 1000)")
    p.add_argument("--days", type=int, default=365, help="days of minutes from 1 January (default 365)")
    p.add_argument("--year", type=int, default=year, help=f"{year_help} (default {year})")
    p.add_argument("--seed", type=int, default=18)
    p.add_argument("--repeat", type=int, default=3, help="warm repetitions after the cold run (default 3)")
    p.add_argument("--out", type=Path, default=None, help="work folder (default: a temporary one)")
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    p.add_argument("--phase", choices=sorted(phases), help=argparse.SUPPRESS)
    p.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    return p


def child(module: str, args, work: Path, phase: str) -> dict:
    """Run one phase in a child process; its last line of output is its JSON result."""
    cmd = [sys.executable, "-m", module, "--phase", phase, "--work", str(work),
           "--meters", str(args.meters), "--days", str(args.days), "--year", str(args.year),
           "--seed", str(args.seed), "--repeat", str(args.repeat)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    if r.returncode != 0:
        raise RuntimeError(f"phase {phase} failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def run(module: str, args, phases: dict, order: list[str], prefix: str) -> dict[str, dict] | None:
    """In a child (``--phase``): print that phase's JSON and return None. In the parent: run ``order`` in a work
    folder and return each phase's result by name."""
    if args.phase:
        print(json.dumps(phases[args.phase](args, args.work)))
        return None
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=args.out))
    try:
        return {name: child(module, args, work, name) for name in order}
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work folder kept: {work}")
