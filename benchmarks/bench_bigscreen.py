"""How long the big screen takes on the server: a session's first render with nothing computed yet, a second
session (the figures shared), a refresh with nothing new, and a refresh after a fold (new snapshot: every tile's
figures read again; ``--slow-age 0`` makes the slow tiles recompute too).

Run ``python -m benchmarks.bench_bigscreen --help`` with the project's venv python, from the repository root. On a
workspace's data folder (``--data-dir``, with ``--config``), else on a demo store of Plant 18 made first with
``seed_history`` over ``--hours`` hours (then a fold of one more minute is made for the refresh after a fold).
Timings are in-process (:class:`dashboards.bigscreen.BigScreen` without a browser: what the server spends per
session and per refresh); ``benchmarks.bench_pages`` measures the pages in a browser. Goal (issue 16): a refresh
<= 300 ms with one session.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_bigscreen", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, help="a workspace's data folder (default: a demo store made first)")
    ap.add_argument("--config", type=Path, help="its tanjian.yaml (default: the example Plant 18)")
    ap.add_argument("--hours", type=float, default=30, help="hours of demo history to make [h] (default 30)")
    ap.add_argument("--runs", type=int, default=5, help="refreshes measured (default 5)")
    ap.add_argument("--slow-age", type=float, default=None,
                    help="how old the slow tiles' figures may be [s] (default: the page's, 60)")
    a = ap.parse_args(argv)

    from dashboards import bigscreen_data as data
    from dashboards.bigscreen import BigScreen, tiles
    from dashboards.registry import PageContext, page
    from workspace.config import EXAMPLE, load_config

    with tempfile.TemporaryDirectory() as tmp:
        demo = a.data_dir is None
        data_dir = Path(tmp) / "var" if demo else a.data_dir
        cfg = load_config(a.config or EXAMPLE, data_dir=data_dir)
        if demo:
            from benchmarks.bench_pages import seed

            print(f"making a demo store: Plant 18, {a.hours:g} h ...", flush=True)
            seed(data_dir, a.hours)
        ctx = PageContext(cfg=cfg, page=page("bigscreen"))

        def session():
            s = BigScreen(cfg, tiles=tiles(ctx))
            if a.slow_age is not None:
                s.slow_age_s = a.slow_age
            return s

        rows = []
        data.clear_cache()
        holder = {}
        rows.append(("first session, nothing computed", _timed(lambda: holder.update(s=session()))))
        rows.append(("second session (figures shared)", _timed(session)))
        s = holder["s"]
        if a.slow_age is not None:
            s.slow_age_s = a.slow_age
        again = [_timed(s.refresh) for _ in range(a.runs)]
        rows.append(("refresh, nothing new (median)", statistics.median(again)))
        if demo:
            from tanjian.demo.history import seed_history

            fold = []
            for _ in range(a.runs):
                start = (s.view.as_of + dt.timedelta(minutes=1)).astimezone(dt.timezone.utc)
                seed_history(cfg, start, start + dt.timedelta(minutes=1))  # the collector folds a minute
                fold.append(_timed(s.refresh))
            rows.append(("refresh after a fold (median)", statistics.median(fold)))
            rows.append(("refresh after a fold (max)", max(fold)))
        meters = len(cfg.site.meters)
    print(f"\nbig screen on the server, {meters} meters, slow tiles reused up to "
          f"{a.slow_age if a.slow_age is not None else 60:g} s [s]")
    print(f"{'step':<36} {'time':>8}")
    for name, t in rows:
        print(f"{name:<36} {t:>8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
