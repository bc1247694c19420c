"""How fast the dashboards' pages are in a real browser, and how much memory the server takes.

Run ``python -m benchmarks.bench_pages --help`` with the project's venv python, from the repository root.
It starts ``tanjian serve`` on a workspace (``--data-dir``, else a demo store of Plant 18's 90 meters made first
with ``seed_history`` over ``--hours`` hours) and drives Debian's Chromium with Playwright. For every page of
the registry (``dashboards/pages.yaml``), at 1920x1080:

- **first render**: from ``goto`` to the shell's status line visible and the network idle (a new session);
- **refresh**: the page reloaded in the same browser context (the server builds a new session again);

then the server's resident memory (psutil, the server process and its children) with 1 and with 10 open
sessions of the big screen. Goals (issue 16, at 1,000 meters x one year): big screen first render <= 2 s,
every page <= 3 s, 10 sessions within 1.5 GB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READY = ".tj-shell-status"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(data_dir: Path, hours: float) -> None:
    from tanjian.demo.history import seed_history
    from workspace.config import EXAMPLE, load_config

    cfg = load_config(EXAMPLE, data_dir=data_dir)
    end = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
    seed_history(cfg, end - dt.timedelta(hours=hours), end)


def start_server(config: Path, data_dir: Path, port: int, log: Path) -> subprocess.Popen:
    out = open(log, "wb")
    proc = subprocess.Popen([sys.executable, "-m", "tanjian", "--config", str(config), "--data-dir", str(data_dir),
                             "serve", "--port", str(port)], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/liveness", timeout=2):
                return proc
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"the server did not come up; see {log}")


def rss_mb(pid: int) -> float:
    import psutil

    p = psutil.Process(pid)
    return sum(q.memory_info().rss for q in [p, *p.children(recursive=True)]) / 2**20


def measure(url: str, runs: int, pid: int) -> tuple[list[tuple], dict[int, float]]:
    from playwright.sync_api import sync_playwright

    from dashboards import registry
    from tests.conftest import CHROMIUM, CHROMIUM_ARGS

    rows = []
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        for page in registry.pages():
            first, again = [], []
            for _ in range(runs + 1):  # the first run warms the server's imports and is not counted
                ctx = b.new_context(viewport={"width": 1920, "height": 1080})
                pg = ctx.new_page()
                t0 = time.perf_counter()
                pg.goto(f"{url}/{page.slug}")
                pg.locator(READY).first.wait_for(timeout=120_000)
                pg.wait_for_load_state("networkidle")
                t1 = time.perf_counter()
                pg.reload()
                pg.locator(READY).first.wait_for(timeout=120_000)
                pg.wait_for_load_state("networkidle")
                t2 = time.perf_counter()
                first.append(t1 - t0)
                again.append(t2 - t1)
                ctx.close()
            rows.append((page.slug, statistics.median(first[1:]), max(first[1:]), statistics.median(again[1:])))
        mem = {}
        ctxs = []
        for n in (1, 10):
            while len(ctxs) < n:
                ctx = b.new_context(viewport={"width": 1920, "height": 1080})
                pg = ctx.new_page()
                pg.goto(f"{url}/bigscreen")
                pg.locator(READY).first.wait_for(timeout=120_000)
                ctxs.append(ctx)
            time.sleep(2)
            mem[n] = rss_mb(pid)
        for c in ctxs:
            c.close()
        b.close()
    return rows, mem


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_pages", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, help="a workspace's data folder (default: a demo store made first)")
    ap.add_argument("--config", type=Path, help="its tanjian.yaml (default: the example Plant 18)")
    ap.add_argument("--hours", type=float, default=30, help="hours of demo history to make [h] (default 30)")
    ap.add_argument("--runs", type=int, default=3, help="measured loads per page (default 3)")
    a = ap.parse_args(argv)
    from workspace.config import EXAMPLE, load_config

    with tempfile.TemporaryDirectory() as tmp:
        data = a.data_dir
        if data is None:
            data = Path(tmp) / "var"
            print(f"making a demo store: Plant 18, {a.hours:g} h ...", flush=True)
            seed(data, a.hours)
        config = a.config or EXAMPLE
        meters = len(load_config(config, data_dir=data).site.meters)
        port = _free_port()
        proc = start_server(config, data, port, Path(tmp) / "server.log")
        try:
            rows, mem = measure(f"http://127.0.0.1:{port}", a.runs, proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(f"\npages at 1920x1080, {meters} meters, median of {a.runs} (max of first render too) [s]")
    print(f"{'page':<12} {'first render':>13} {'max':>7} {'refresh':>9}")
    for slug, first, worst, again in rows:
        print(f"{slug:<12} {first:>13.2f} {worst:>7.2f} {again:>9.2f}")
    print(f"\nserver memory (RSS, with children): 1 session {mem[1]:.0f} MB, 10 sessions {mem[10]:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
