"""benchmarks/bench_park.py runs end to end on a tiny park (3 enterprises, one dask worker) and prints its table."""

from __future__ import annotations

import pytest

from tanjian.simulator.anvil import find_anvil
from workspace.errors import ChainError

pytestmark = [pytest.mark.requires_anvil, pytest.mark.slow]


def test_bench_park_small(capsys):
    try:
        find_anvil()
    except ChainError as exc:
        pytest.skip(str(exc))
    from benchmarks import bench_park

    assert bench_park.main(["--enterprises", "3", "--workers", "1", "--chunk", "2"]) == 0
    out = capsys.readouterr().out
    assert "verified: {'one by one': 3, 'batched': 3, 'dask': 3}" in out
    for row in ("one by one", "batched", "dask (1 workers)"):
        assert row in out
