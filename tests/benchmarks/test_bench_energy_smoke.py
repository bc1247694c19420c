"""The energy benchmark's harness at a tiny scale: every row printed, the TOU split agrees with its pandas peer
and the store's total. Correctness only, never timing."""

from __future__ import annotations

import pytest

pytest.importorskip("pyarrow")

from benchmarks import bench_energy  # noqa: E402


@pytest.mark.slow
def test_harness_prints_every_row_and_agrees_with_its_peer(tmp_path, capsys):
    rc = bench_energy.main(["--meters", "12", "--days", "3", "--repeat", "1", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0, out
    table = [ln for ln in out.splitlines() if ln.startswith("| ")]
    assert len(table) == 13 and table[2].startswith("| plant's TOU cost, cold [s]")
    assert "TOU cost and the pandas peer agree" in out
    assert not any(tmp_path.iterdir()), "without --keep the work folder is removed"
