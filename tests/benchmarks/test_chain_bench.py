"""The Merkle benchmark at a tiny scale: every row is printed and the engines agree (never timing)."""

from __future__ import annotations

import pytest

from benchmarks import bench_merkle


@pytest.mark.slow
def test_bench_merkle_prints_every_row(capsys):
    pytest.importorskip("pymerkle")
    assert bench_merkle.main(["--leaves", "3000", "--repeat", "1", "--proofs", "50", "--gas-max", "100"]) == 0
    out = capsys.readouterr().out
    rows = [ln.split("|")[1].strip() for ln in out.splitlines() if ln.startswith("| ")]
    assert rows[1:10] == ["leaf hashing [leaves/s]", "root from leaf hashes [ms]",
                          "leaves -> root, total [ms]", "tree build, all subtrees kept [ms]",
                          "inclusion proof, built tree [µs]",
                          "verify inclusion [µs]", "consistency proof, built tree [µs]",
                          "verify consistency [µs]", ""]
    assert rows[10:] == ["anchor covering 1 batches [gas]", "anchor covering 100 batches [gas]"]
    assert "different root" not in out and "not installed" not in out  # pymerkle's root is ours


def test_gas_per_anchor_does_not_grow_with_the_batches_covered():
    rows = bench_merkle.bench_gas(10_000)
    gas = [int(r[1].replace(",", "")) for r in rows]
    assert len(gas) == 3 and abs(gas[1] - gas[2]) < 100  # only the calldata's zero bytes differ
    per_batch = [int(r[2].replace(",", "")) for r in rows]
    assert per_batch[2] > 1000 * gas[2]
