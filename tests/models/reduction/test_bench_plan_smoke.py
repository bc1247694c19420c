"""benchmarks/bench_plan.py at its smallest size: the harness builds, solves and prints its table (no timing
asserted; the big sizes are for `python -m benchmarks.bench_plan`, not the test run)."""

from __future__ import annotations

from benchmarks import bench_plan


def test_smoke_table(capsys):
    assert bench_plan.main(["--smoke"]) == 0
    out = capsys.readouterr().out
    row = next(ln for ln in out.splitlines() if ln.startswith("| 2 x 3 x 24"))
    assert "| optimal |" in row


def test_synthetic_inputs_have_the_asked_size():
    d = bench_plan.synthetic(3, 5, 48)
    assert (len(d.years), len(d.projects), len(d.weight)) == (3, 5, 48)
    assert (d.weight * d.shape).sum() == 1.0 or abs((d.weight * d.shape).sum() - 1.0) < 1e-12
