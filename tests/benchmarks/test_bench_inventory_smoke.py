"""The inventory benchmark's harness at a tiny scale: every row printed, inventory and naive peer agree, the
reports are byte-identical across runs. Correctness only, never timing."""

from __future__ import annotations

import pytest

pytest.importorskip("pyarrow")

from benchmarks import bench_inventory  # noqa: E402

ROWS = ["inventory, cold [s]", "inventory, warm median [s]", "peak RSS, inventory [MB]",
        "XLSX+PDF reports (cn, iso), cold [s]", "XLSX+PDF reports, warm median [s]", "peak RSS, reports [MB]",
        "inventory lines / report bytes", "electricity [MWh]", "natural gas [Nm3]", "tCO2e electricity + gas"]


@pytest.mark.slow
def test_harness_prints_every_row_and_agrees_with_the_naive_peer(tmp_path, capsys):
    rc = bench_inventory.main(["--meters", "12", "--days", "2", "--repeat", "1", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0, out
    table = [ln for ln in out.splitlines() if ln.startswith("| ")]
    assert [ln.split("|")[1].strip() for ln in table[1:]][1:] == ROWS
    assert "inventory and naive peer agree" in out
    assert "reports byte-identical across the 2 runs: True" in out
    assert not any(tmp_path.iterdir()), "without --keep the work folder is removed"
