"""The collection benchmark's harness at a tiny scale: every reader reads every meter (no timing asserted)."""

from __future__ import annotations

import re

import pytest

from benchmarks import bench_collect


def test_bench_site_deals_meters_round_robin():
    site = bench_collect.make_bench_site(10, 3, 40000)
    assert [g.port for g in site.gateways] == [40000, 40001, 40002]
    # meter k on gateway k mod 3 with unit id k div 3 + 1, counted by hand
    assert [(m.gateway, m.unit_id) for m in site.meters[:5]] == [("gw-00", 1), ("gw-01", 1), ("gw-02", 1),
                                                                  ("gw-00", 2), ("gw-01", 2)]


@pytest.mark.slow
def test_harness_reads_every_meter_three_ways(capsys):
    assert bench_collect.main(["--meters", "12", "--gateways", "2", "--cycles", "1", "--gateway-ms", "1"]) == 0
    out = capsys.readouterr().out
    for name in ("collector (PolledReader + GatewayPool)", "naive sequential pymodbus client",
                 "ceiling: raw frames, many connections"):
        row = next(ln for ln in out.splitlines() if ln.startswith(name))
        assert re.search(r"\s12$", row), row  # all 12 meters read
    assert "12 register reads" in out and "goal:" in out
