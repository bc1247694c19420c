"""How quickly ``tanjian`` commands answer: whole-process seconds of each, beside the import floor.

Run ``python -m benchmarks.bench_cli --help`` with the project's venv python, from the repository root. Each row
starts the command ``--runs`` times (after one warm-up run that is not counted) as a new process, as a person
or cron would, and prints min / median / max wall seconds from start to exit. The floor rows are what any
command that reads the store pays before doing anything: ``python -c "import numpy, zarr, icechunk"`` (the
floor the issue names) and the same with pandas and xarray (the store's query API returns their objects).

The rows:

- ``tanjian --help`` and every command's ``--help`` (one row each with ``--all-help``; otherwise a few and
  the slowest of them all in one row);
- ``tanjian kpi`` and ``tanjian query energy`` (the last two days, by workshop, hourly) on a demo store: the one
  at ``--data-dir``, else one made first in a temporary folder with ``tanjian history --days 3`` (about a minute).

``--before DIR`` adds a column: the same commands run as ``python -m workspace.cli`` from a checkout ``DIR``
of the layout before the app package (for the before/after of issue 12). Whether the interpreter may write
bytecode matters a lot here (a process that must compile every module it imports spends most of its start
doing that): the header says which; ``--pycache-prefix DIR`` runs everything with compiled bytecode kept in
``DIR`` (as an installation with compiled ``.pyc`` files).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLOORS = {"import numpy, zarr, icechunk": "import numpy, zarr, icechunk",
          "import numpy, pandas, xarray, zarr, icechunk": "import numpy, pandas, xarray, zarr, icechunk"}
#: the commands whose --help is measured without --all-help (each group's module once)
SOME_HELP = ("kpi", "inventory", "report", "query", "serve", "anchor", "allowance")


def _env(pythonpath: Path, pycache: Path | None) -> dict:
    env = dict(os.environ, PYTHONPATH=str(pythonpath))
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def time_runs(cmd: list[str], env: dict, runs: int, warmup: int = 1, cwd: Path = ROOT) -> list[float]:
    """Wall seconds of ``runs`` runs of ``cmd`` in ``cwd`` (after ``warmup`` uncounted ones); fails on a
    non-zero exit."""
    times = []
    for i in range(warmup + runs):
        t0 = time.perf_counter()
        r = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, cwd=cwd)
        t = time.perf_counter() - t0
        if r.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stderr.decode(errors='replace')[-2000:]}")
        if i >= warmup:
            times.append(t)
    return times


def _cell(ts: list[float] | None) -> str:
    if not ts:
        return f"{'':>23}"
    return f"{min(ts):7.3f} {statistics.median(ts):7.3f} {max(ts):7.3f}"


def make_demo_store(data_dir: Path, env: dict) -> None:
    """Three days of the simulator's history in ``data_dir`` (``tanjian history --days 3``)."""
    subprocess.run([sys.executable, "-m", "tanjian", "--data-dir", str(data_dir), "history", "--days", "3"],
                   env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _query_days(data_dir: Path, env: dict) -> tuple[str, str]:
    """(start, end) local dates of the store's last two days, from ``tanjian versions``'s newest commit date."""
    out = subprocess.run([sys.executable, "-m", "tanjian", "--data-dir", str(data_dir), "versions", "--limit", "1"],
                         env=env, check=True, cwd=ROOT, capture_output=True, text=True).stdout
    last = dt.date.fromisoformat(out.split()[1])
    return (last - dt.timedelta(days=2)).isoformat(), last.isoformat()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_cli", description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="counted runs per row (default 5)")
    ap.add_argument("--data-dir", type=Path, default=None,
                    help="a workspace data folder with a store (default: a 3-day demo store made first)")
    ap.add_argument("--all-help", action="store_true", help="one row per command's --help")
    ap.add_argument("--before", type=Path, default=None,
                    help="a checkout of the layout before the app package: adds its times (python -m workspace.cli)")
    ap.add_argument("--pycache-prefix", type=Path, default=None,
                    help="keep compiled bytecode in this folder (PYTHONPYCACHEPREFIX) instead of compiling each run")
    args = ap.parse_args(argv)

    env = _env(ROOT, args.pycache_prefix)
    before_env = _env(args.before.resolve(), args.pycache_prefix) if args.before else None
    py = sys.executable
    tmp = None
    data_dir = args.data_dir
    if data_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench-cli-")
        data_dir = Path(tmp.name) / "var"
        print(f"making a 3-day demo store in {data_dir} ...", file=sys.stderr, flush=True)
        make_demo_store(data_dir, env)
    start, end = _query_days(data_dir, env)

    from tanjian.cli import COMMANDS

    helps = [c.name for c in COMMANDS] if args.all_help else list(SOME_HELP)
    rows: list[tuple[str, list[str] | None, list[str] | None]] = [
        (f"python -c '{code}'", [py, "-c", code], None)
        for code in FLOORS.values()]
    rows.append(("tanjian --help", [py, "-m", "tanjian", "--help"],
                 [py, "-m", "workspace.cli", "--help"] if before_env else None))
    for name in helps:
        rows.append((f"tanjian {name} --help", [py, "-m", "tanjian", name, "--help"],
                     [py, "-m", "workspace.cli", name, "--help"] if before_env else None))
    data = ["--data-dir", str(data_dir)]
    for label, words in (("tanjian kpi", ["kpi"]),
                         (f"tanjian query energy --start {start} --end {end} --by workshop",
                          ["query", "energy", "--start", start, "--end", end, "--by", "workshop"])):
        rows.append((label, [py, "-m", "tanjian", *data, *words],
                     [py, "-m", "workspace.cli", *data, *words] if before_env else None))

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    bytecode = ("kept in " + str(args.pycache_prefix) if args.pycache_prefix else
                "not written (PYTHONDONTWRITEBYTECODE)" if os.environ.get("PYTHONDONTWRITEBYTECODE")
                else "written beside the sources where allowed")
    print(f"# tanjian commands, whole process [s], {args.runs} runs after 1 warm-up; {os.cpu_count()} cores, "
          f"load {load}; bytecode {bytecode}; {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC")
    width = max(len(r[0]) for r in rows)
    head = f"{'command':<{width}}  {'min':>7} {'median':>7} {'max':>7}"
    if before_env:
        head += f"   {'before: min':>11} {'median':>7} {'max':>7}  {'after/before':>12}"
    print(head)
    help_medians = []
    for label, cmd, before_cmd in rows:
        ts = time_runs(cmd, env, args.runs)
        line = f"{label:<{width}}  {_cell(ts)}"
        if before_env and before_cmd:
            bs = time_runs(before_cmd, before_env, args.runs, cwd=args.before.resolve())
            line += f"   {_cell(bs):>27}  {statistics.median(ts) / statistics.median(bs):12.2f}"
        if label.endswith("--help"):
            help_medians.append((statistics.median(ts), label))
        print(line, flush=True)
    worst = max(help_medians)
    print(f"# slowest --help: {worst[1]} ({worst[0]:.3f} s median)")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
