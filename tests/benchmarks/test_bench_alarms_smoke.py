"""benchmarks/bench_alarms.py, small: the harness runs and prints both rows."""

from __future__ import annotations

from benchmarks import bench_alarms


def test_harness_prints_both_rows(capsys):
    assert bench_alarms.main(["--meters", "60", "--cycles", "3", "--hours", "0.5"]) == 0
    out = capsys.readouterr().out
    rows = [ln for ln in out.splitlines() if ln.startswith("| evaluate") or ln.startswith("| gather")]
    assert len(rows) == 2 and all("| 60 |" in r for r in rows)
