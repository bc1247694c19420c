"""The pages benchmark's harness at a tiny scale: a generated 12-meter store of one day, the big screen in a real
browser, the table and the memory lines printed, the store made once. Correctness of the harness only, never
timing (the 1,000-meter run is ``python -m benchmarks.bench_pages``, outside the suite)."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest

from benchmarks import bench_pages
from benchmarks._bulk import plant_workspace
from dashboards import registry


def test_every_figure_selector_names_a_registered_page():
    assert set(bench_pages.FIGURES) <= {p.slug for p in registry.pages()}


@pytest.mark.requires_chromium
def test_harness_prints_the_table_and_keeps_the_store(tmp_path, capsys):
    argv = ["--meters", "12", "--days", "1", "--work", str(tmp_path), "--pages", "bigscreen", "--runs", "1",
            "--sessions", "1,2", "--timeout", "90"]
    assert bench_pages.main(argv) == 0
    out = capsys.readouterr().out
    rows = [ln for ln in out.splitlines() if ln.startswith("| bigscreen |")]
    assert len(rows) == 1 and "failed" not in rows[0], out
    assert "12 m: server RSS idle" in out and "2 sessions" in out, out
    assert "big screen live refresh" in out, out
    # the store: 12 meters x 1,440 minutes of one day = 17,280 readings, stamped once made
    (folder,) = [p for p in tmp_path.iterdir() if p.name.startswith("plant-12m-1d-")]
    assert json.loads((folder / "done.json").read_text())["readings"] == 12 * 1440
    stamp = (folder / "done.json").stat().st_mtime_ns
    end = dt.datetime(2026, 12, 1, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert plant_workspace(tmp_path, 12, 1, end) == (folder / "tanjian.yaml", folder / "var")  # found, not made
    assert (folder / "done.json").stat().st_mtime_ns == stamp


def test_an_unknown_page_is_one_clear_line(tmp_path):
    with pytest.raises(SystemExit, match="--pages: no such page: nosuchpage"):
        bench_pages.main(["--meters", "12", "--days", "1", "--work", str(tmp_path), "--pages", "nosuchpage"])
