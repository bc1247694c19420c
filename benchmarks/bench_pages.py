"""How fast the dashboards' pages are in a real browser on a large store, and the server's memory.

Run ``python -m benchmarks.bench_pages --help`` with the project's venv python, from the repository root.

The stores (made once, then reused from ``--work``): a Plant-18-like site of each of ``--meters`` meters
(:func:`benchmarks._plantgen.make_site`) with ``--days`` days of minutes ending at ``--end`` (local midnight),
bulk-loaded (:func:`benchmarks._bulk.plant_workspace`). A year at 1,000 meters takes about 6 minutes to make
and 13 GB of disk; a second run finds it in ``--work`` and starts at once. ``--plant18`` measures the demo store
of Plant 18's own 90 meters (``seed_history`` over ``--hours``) instead of the generated ones.

For each store it starts ``tanjian serve`` and drives Debian's Chromium with Playwright. For every page of the
registry (``dashboards/pages.yaml``, or ``--pages``), at 1920x1080:

- **first render**: a new browser context, from ``goto`` to the page's figures in the DOM (:data:`FIGURES`: a
  selector per page that appears only once the page's numbers or charts are drawn, not DOMContentLoaded);
- **refresh**: the page reloaded (F5) in the same context, again until its figures are drawn;

the first load of each page warms the server's imports and is not counted. Then a fresh server for the memory
(psutil, resident set of the server and its children): idle after a first session, with 1 and with 10
concurrent sessions of
``--memory-page`` (the 10 opened together: the time until the last shows its figures is printed too). For the
big screen, **live refresh** is the server's work when the collector commits: ``BigScreen.refresh`` reading a
new snapshot (:func:`dashboards.feeds.read_plant`), timed in this process on the same store (a new snapshot
is simulated by forgetting the views read: every query runs again, on the session's Store with its chunk
caches, as after a fold that changed only the newest minutes).

Goals (issue 16, at 1,000 meters x one year): big screen first render <= 2 s and refresh <= 300 ms with one
session; every page <= 3 s; 10 sessions within 1.5 GB. The table marks each figure against its goal.
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
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READY = ".tj-shell-status"
TZ = "Asia/Shanghai"
#: the first element that shows a page's figures (CSS; Playwright's selectors pierce the panes' shadow roots).
#: Pages with nothing to compute (a form) wait for their form; a page not listed waits for the shell's status line.
FIGURES = {
    "bigscreen": '[data-kpi="co2e-year"]',  # the KPI cards (render.kpi_cards)
    "verify": "[data-upload]",  # the upload form: the page computes nothing before a file is dropped
    "readings": "[data-meter]",  # the meter card
    "ems": "canvas",  # the load curve / TOU charts
    "drill": "[data-kpi]",  # the level's KPIs
    "topology": "[data-node][data-value]",  # live values on the diagram's nodes
    "alarms": "[data-alarms]",  # the alarm list
    "quota": "[data-kpi], [data-note]",  # the year's figures, or the note that no allowance is set
    "data": "[data-table]",  # the collection-status table
    "plan": "canvas",  # the reduction path chart
}  # reports, park: lists that are empty on a generated plant: the shell's status line
GOAL_WALL_S, GOAL_WALL_REFRESH_S, GOAL_PAGE_S, GOAL_MEM_MB = 2.0, 0.3, 3.0, 1.5 * 1024


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


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def rss_mb(pid: int) -> float:
    import psutil

    p = psutil.Process(pid)
    return sum(q.memory_info().rss for q in [p, *p.children(recursive=True)]) / 2**20


def _browser(pw):
    from tests.conftest import CHROMIUM, CHROMIUM_ARGS

    return pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def _figures(pg, slug: str, timeout_s: float) -> None:
    """Wait until ``slug``'s figures are in the page (:data:`FIGURES`), else its shell's status line."""
    pg.locator(FIGURES.get(slug, READY)).first.wait_for(state="attached", timeout=timeout_s * 1000)


def time_pages(url: str, slugs: list[str], runs: int, timeout_s: float) -> list[dict]:
    """Per page: median and max first render, median refresh [s] over ``runs`` (after one warm-up load)."""
    from playwright.sync_api import sync_playwright

    rows = []
    with sync_playwright() as pw:
        b = _browser(pw)
        for slug in slugs:
            first, again, err = [], [], ""
            for _ in range(runs + 1):
                ctx = b.new_context(viewport={"width": 1920, "height": 1080})
                pg = ctx.new_page()
                try:
                    t0 = time.perf_counter()
                    pg.goto(f"{url}/{slug}?lang=en", wait_until="commit", timeout=timeout_s * 1000)
                    _figures(pg, slug, timeout_s)
                    t1 = time.perf_counter()
                    pg.reload(wait_until="commit", timeout=timeout_s * 1000)
                    _figures(pg, slug, timeout_s)
                    t2 = time.perf_counter()
                    first.append(t1 - t0)
                    again.append(t2 - t1)
                except Exception as exc:  # noqa: BLE001 - a page that never shows its figures is a row, not a crash
                    err = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
                    ctx.close()
                    break
                ctx.close()
            if err or len(first) < 2:
                rows.append({"page": slug, "first": None, "max": None, "refresh": None, "error": err})
            else:
                rows.append({"page": slug, "first": statistics.median(first[1:]), "max": max(first[1:]),
                             "refresh": statistics.median(again[1:]), "error": ""})
    return rows


def memory(url: str, pid: int, slug: str, sessions: list[int], timeout_s: float) -> dict:
    """Server RSS [MB] idle and with each count of concurrent ``slug`` sessions; seconds until the last of the
    sessions opened together showed its figures."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = _browser(pw)
        ctx = b.new_context(viewport={"width": 1920, "height": 1080})  # a first session warms the imports
        pg = ctx.new_page()
        pg.goto(f"{url}/{slug}?lang=en", wait_until="commit", timeout=timeout_s * 1000)
        _figures(pg, slug, timeout_s)
        ctx.close()
        time.sleep(2)
        out = {"idle": rss_mb(pid)}
        ctxs = []
        for n in sessions:
            new = []
            t0 = time.perf_counter()
            while len(ctxs) + len(new) < n:  # asked for together: the server builds one session after another
                ctx = b.new_context(viewport={"width": 1920, "height": 1080})
                pg = ctx.new_page()
                new.append((ctx, pg))
            for _, pg in new:
                pg.evaluate(f"window.location.href = {f'{url}/{slug}?lang=en'!r}")
            try:
                for _, pg in new:
                    _figures(pg, slug, timeout_s)
                out[f"open{n}"] = time.perf_counter() - t0
            except Exception:  # noqa: BLE001 - too slow is a result: the sessions that did not show in time
                out[f"open{n}"] = None
            ctxs += [c for c, _ in new]
            time.sleep(2)
            out[n] = rss_mb(pid)
        for c in ctxs:
            c.close()
        b.close()
    return out


def live_refresh(config: Path, data: Path, runs: int) -> tuple[float, float]:
    """Median seconds of the big screen's data read on a new snapshot (``read_plant`` with its shared views
    forgotten, :func:`dashboards.feeds.forget`), in this process: (a session's own Store kept between refreshes,
    as ``BigScreen`` keeps it: the live refresh; a newly opened Store: a new session's first read). The first
    call is not counted (imports, the store's first open)."""
    from dashboards import feeds
    from workspace.config import load_config
    from workspace.store import Store

    cfg = load_config(config, data_dir=data)
    meth = feeds.methodology_status(cfg)
    kept = Store.open(cfg.paths.store, cfg.site)
    out = []
    for fresh in (False, True):
        times = []
        for _ in range(runs + 1):
            feeds.forget()
            store = Store.open(cfg.paths.store, cfg.site) if fresh else kept
            t = time.perf_counter()
            feeds.read_plant(store, store.tip(), methodology=meth)
            times.append(time.perf_counter() - t)
        out.append(statistics.median(times[1:]))
    return out[0], out[1]


def workspaces(a) -> list[tuple[str, Path, Path]]:
    """(label, tanjian.yaml, data dir) of each store to measure, made when missing."""
    from zoneinfo import ZoneInfo

    from benchmarks._bulk import plant_workspace
    from workspace.config import EXAMPLE

    if a.plant18:
        data = a.work / f"plant18-{a.hours:g}h" / "var"
        if not (data.parent / "done").exists():
            print(f"making a demo store: Plant 18, {a.hours:g} h ...", flush=True)
            seed(data, a.hours)
            (data.parent / "done").write_text("")
        return [("Plant 18 (90)", EXAMPLE, data)]
    end = dt.datetime.combine(a.end, dt.time(), tzinfo=ZoneInfo(TZ))
    out = []
    for m in a.meters:
        t = time.perf_counter()
        config, data = plant_workspace(a.work, m, a.days, end, log=lambda s: print(s, flush=True))
        took = time.perf_counter() - t
        if took > 5:
            print(f"made the store of {m} meters x {a.days:g} days in {took:.0f} s", flush=True)
        out.append((f"{m} m", config, data))
    return out


def _cell(x: float | None, goal: float | None, fmt: str = "{:.2f}", unit: str = "") -> str:
    if x is None:
        return "failed"
    s = fmt.format(x) + unit
    return s if goal is None else f"{s} {'ok' if x <= goal else 'MISSED'}"


def _shown(s: float | None, timeout: float) -> str:
    return f"all shown in {s:.1f} s" if s is not None else f"NOT all shown within {timeout:g} s"


def table(results: list[dict], runs: int, timeout: float = 120) -> str:
    """The results side by side (one column pair per store), goals marked at the largest store."""
    labels = [r["label"] for r in results]
    lines = [f"pages at 1920x1080, median of {runs} loads [s] (max = slowest first render); "
             f"goals: big screen first render <= {GOAL_WALL_S:g} s, "
             f"refresh <= {GOAL_WALL_REFRESH_S * 1000:.0f} ms; "
             f"every page <= {GOAL_PAGE_S:g} s; 10 sessions <= {GOAL_MEM_MB:.0f} MB (marked at {labels[-1]})",
             f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores", ""]
    head = "| page | " + " | ".join(f"{lb} first | {lb} max | {lb} refresh (F5)" for lb in labels) + " |"
    lines += [head, "|" + " --- |" * (1 + 3 * len(labels))]
    slugs = [row["page"] for row in results[0]["pages"]]
    for i, slug in enumerate(slugs):
        cells = []
        for k, r in enumerate(results):
            row = r["pages"][i]
            last = k == len(results) - 1
            goal = (GOAL_WALL_S if slug == "bigscreen" else GOAL_PAGE_S) if last else None
            cells += [_cell(row["first"], goal), _cell(row["max"], None), _cell(row["refresh"], None)]
        lines.append(f"| {slug} | " + " | ".join(cells) + " |")
    lines.append("")
    for k, r in enumerate(results):
        last = k == len(results) - 1
        m = r["memory"]
        lr = r.get("live")
        sess = [n for n in m if isinstance(n, int)]
        mem = ", ".join(f"{n} session{'s' if n > 1 else ''} "
                        f"{_cell(m[n], GOAL_MEM_MB if last and n == 10 else None, '{:.0f}', ' MB')}"
                        f" ({_shown(m[f'open{n}'], timeout)})" for n in sess)
        lines.append(f"{r['label']}: server RSS idle {m['idle']:.0f} MB, {mem}")
        if lr is not None:
            lines.append(f"{r['label']}: big screen live refresh (read_plant of a new snapshot, its Store) "
                         f"{_cell(lr[0], GOAL_WALL_REFRESH_S if last else None, '{:.3f}', ' s')}; "
                         f"with a newly opened Store {lr[1]:.3f} s; same snapshot (any session) 0 reads")
        for row in r["pages"]:
            if row["error"]:
                lines.append(f"{r['label']}: {row['page']} did not show its figures: {row['error']}")
    return "\n".join(lines)


def run(a) -> list[dict]:
    from dashboards import registry

    slugs = [p.slug for p in registry.pages()]
    if a.pages:
        unknown = sorted(set(a.pages) - set(slugs))
        if unknown:
            raise SystemExit(f"--pages: no such page: {', '.join(unknown)} (pages: {', '.join(slugs)})")
        slugs = [s for s in slugs if s in a.pages]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, config, data in workspaces(a):
            print(f"measuring {label} ...", flush=True)
            port = _free_port()
            proc = start_server(config, data, port, Path(tmp) / f"server-{port}.log")
            try:
                pages = time_pages(f"http://127.0.0.1:{port}", slugs, a.runs, a.timeout)
            finally:
                stop_server(proc)
            port = _free_port()
            proc = start_server(config, data, port, Path(tmp) / f"server-{port}.log")
            try:
                mem = memory(f"http://127.0.0.1:{port}", proc.pid, a.memory_page, a.sessions, a.timeout)
            finally:
                stop_server(proc)
            live = live_refresh(config, data, a.runs) if "bigscreen" in slugs else None
            results.append({"label": label, "pages": pages, "memory": mem, "live": live})
    return results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_pages", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--meters", type=lambda s: [int(x) for x in s.split(",")], default=[90, 1000],
                    help="comma-separated meter counts of the generated stores (default 90,1000)")
    ap.add_argument("--days", type=float, default=365, help="days of history [d] (default 365)")
    ap.add_argument("--end", type=dt.date.fromisoformat, default=dt.date(2026, 12, 1),
                    help="the history ends at this local midnight (default 2026-12-01: a fixed date, so the "
                         "stores are made once)")
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    ap.add_argument("--work", type=Path, default=cache / "tanjian-bench-pages",
                    help="folder the stores are kept in (default ~/.cache/tanjian-bench-pages)")
    ap.add_argument("--plant18", action="store_true", help="measure Plant 18's demo store instead")
    ap.add_argument("--hours", type=float, default=30, help="with --plant18: hours of demo history [h] (default 30)")
    ap.add_argument("--pages", type=lambda s: s.split(","), help="comma-separated page slugs (default: every page)")
    ap.add_argument("--runs", type=int, default=3, help="measured loads per page (default 3)")
    ap.add_argument("--sessions", type=lambda s: [int(x) for x in s.split(",")], default=[1, 10],
                    help="concurrent session counts for the memory (default 1,10)")
    ap.add_argument("--memory-page", default="bigscreen", help="the page the sessions open (default bigscreen)")
    ap.add_argument("--timeout", type=float, default=120, help="longest wait for a page's figures [s] (default 120)")
    a = ap.parse_args(argv)
    if a.runs < 1:
        ap.error("--runs must be at least 1")
    results = run(a)
    print()
    print(table(results, a.runs, a.timeout))
    return 0


if __name__ == "__main__":
    sys.exit(main())
