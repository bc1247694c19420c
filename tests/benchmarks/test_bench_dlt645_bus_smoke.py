"""benchmarks/bench_dlt645_bus.py, small: the harness runs and its two modes compare as they should."""

import pytest


@pytest.mark.slow
async def test_the_bus_benchmark_reads_more_meters_a_minute_with_blocks():
    """benchmarks/bench_dlt645_bus.py at 9,600 baud and 3 meters (one of each kind): every meter is
    read in both modes, and blocks with unsupported items skipped carry fewer requests and bytes."""
    from benchmarks.bench_dlt645_bus import run

    before, after = await run(3, 9600, 0.02, 1)
    assert before["readings"] == after["readings"] == 3
    assert before["requests"] == 3 * 16  # every item of every meter, refused ones included
    # complete: 5 requests (4 blocks and the power factor); no blocks: its 16 items; single-phase: 5
    assert after["requests"] == 5 + 16 + 5
    assert after["bytes"] < before["bytes"] and after["per_min"] > 1.4 * before["per_min"]
    for r in (before, after):
        assert r["took_s"] == pytest.approx(r["bus_s"], rel=0.25)
