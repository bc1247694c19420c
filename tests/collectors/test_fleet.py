"""Collection status of the fleet: the states' thresholds worked by hand, and a dead and a stale meter read back
from what a real collector wrote (the pymodbus simulator with meters switched off)."""

from __future__ import annotations

import asyncio
import math

import pytest

from collectors.fleet import classify, device_status, gateway_status, thresholds
from tests.collectors.test_collector import plant  # noqa: F401 - the real simulator, journal and store

TH = {"stale_after_periods": 3.0, "dead_after_periods": 15.0, "flapping_min_errors": 3.0, "flapping_min_share": 0.2}


def test_the_data_file_holds_the_documented_thresholds():
    assert thresholds() == TH


@pytest.mark.parametrize("age,period,failing,reads,errors,state", [
    (math.nan, 60, 0, 0, 0, "dead"),        # never read
    (900.0, 60, 0, 10, 0, "dead"),          # 900 s / 60 s = 15 periods ≥ 15
    (899.0, 60, 0, 10, 0, "stale"),         # 14.98 periods: below dead, ≥ 3
    (180.0, 60, 0, 10, 0, "stale"),         # 3 periods exactly
    (179.0, 60, 0, 10, 0, "ok"),            # 2.98 periods
    (60.0, 60, 1, 10, 1, "stale"),          # failing now, seen a period ago
    (60.0, 60, 1, 0, 1, "dead"),            # failing, and not one answer since the collector started
    (60.0, 60, 0, 12, 3, "flapping"),       # 3 of 15 attempts failed = 20 % ≥ 20 %, 3 ≥ 3 errors
    (60.0, 60, 0, 13, 3, "ok"),             # 3 of 16 = 18.75 % < 20 %
    (60.0, 60, 0, 3, 2, "ok"),              # 2 of 5 = 40 %, but only 2 errors < 3
    (1800.0, 900, 0, 5, 0, "ok"),           # a 15-minute meter: 1800 / 900 = 2 periods
])
def test_classify_by_hand(age, period, failing, reads, errors, state):
    assert classify(age, period, failing, reads, errors, TH)[0] == state


async def test_a_dead_and_a_stale_meter_from_a_real_collector(plant, plant_cfg, capsys):  # noqa: F811
    sim, svc, j, st, clock = plant
    svc.health_path = plant_cfg.paths.run / "health.json"
    sim.kill("M-WR-03")  # switched off before the first poll: never answered this collector
    await svc.poll_once()
    sim.kill("M-WR-01")  # answered once, then switched off
    await asyncio.sleep(1.05)
    await svc.poll_once()
    svc.write_health()
    df = device_status(plant_cfg.paths.data_dir, plant_cfg.site)
    assert len(df) == len(plant_cfg.site.meters)
    assert df.loc["M-WR-03", "state"] == "dead" and df.loc["M-WR-03", "reason"].startswith("never read")
    assert "exception 11" in df.loc["M-WR-03", "reason"]
    assert df.loc["M-WR-01", "state"] == "stale" and df.loc["M-WR-01", "reads"] == 1
    assert df.loc["M-WR-01", "age_s"] < 60  # read a few seconds ago, failing since
    ok = df.drop(["M-WR-03", "M-WR-01"])
    assert (ok["state"] == "ok").all() and (ok["protocol"] == "modbus_tcp").all()
    gw = gateway_status(df)
    wr = plant_cfg.site.meter("M-WR-03").gateway
    assert gw.loc[wr, "dead"] == 1 and gw["meters"].sum() == len(plant_cfg.site.meters)
    assert gw[["dead", "stale", "flapping", "ok"]].sum(axis=1).equals(gw["meters"])
    # `tanjian status` counts the same states
    from tanjian.cli import main

    assert main(["--data-dir", str(plant_cfg.paths.data_dir), "status"]) == 0
    n = len(plant_cfg.site.meters)
    assert f"devices: {n} seen, 2 failing; 1 dead, 1 stale, 0 flapping, {n - 2} ok" in capsys.readouterr().out
