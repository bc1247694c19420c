"""Plant 18's PV inverters and battery as electricity meters: their SunSpec energy registers read through the
real pymodbus simulator as meter readings, the load model's counters agreeing with them, the transformer
incomer showing the net import and the export meter the surplus; and the on-site quantities worked from a
store collected from the simulator."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from collectors.modbus.tcp import GatewayPool
from tanjian.simulator import PlantSimulator
from tanjian.simulator.model import LoadModel
from tests.conftest import free_port_block
from workspace.clock import Clock
from workspace.meters import counter_wrap

UTC = dt.timezone.utc
# 2026-07-15 07:00 UTC = 15:00 local (Asia/Shanghai); 195 local days after 2026-01-01
T = dt.datetime(2026, 7, 15, 7, 0, tzinfo=UTC)
# PV-1 (400 kW): peak 0.8 x 400 = 320 kW; a day's energy 320 kW x 24 h / pi = 2,444.620 kWh; 15:00 is 9 h
# into the 12 h curve: today 320 x 12 / pi x (1 - cos(3 pi / 4)) = 1,222.310 x 1.707107 = 2,086.622 kWh
PV1_KWH = 195 * 320 * 24 / math.pi + 320 * 12 / math.pi * (1 - math.cos(3 * math.pi / 4))


async def test_pv_inverter_read_as_a_meter(plant_cfg):
    site = plant_cfg.site
    gws = site.gateways
    offset = free_port_block(len(gws)) - min(g.port for g in gws)
    gw = next(g for g in gws if g.id == "gw-points")
    async with PlantSimulator(site, Clock.simulated(T, speed=0.0), plant_cfg.simulation.seed, offset):
        pool = GatewayPool(gw, offset)
        try:
            v = await pool.read(site.meter("M-PV-1"))
            bat = await pool.read(site.meter("M-BAT-1-OUT"))
        finally:
            pool.close()
    assert PV1_KWH == pytest.approx(478_787.5, abs=0.1)
    assert v["counter"] == pytest.approx(PV1_KWH, abs=0.001)  # WH is whole Wh (WH_SF 0)
    # W: 320 kW x sin(3 pi / 4) = 226.274 kW, held as 2,263 x 10^2 W (W_SF 2) = 226.3 kW
    assert v["rate"] == pytest.approx(226.3)
    # A (total): 226,274 W / 230 V = 983.8 A (A_SF -1); a reading's current the phase average 983.8 / 3
    assert v["current"] == pytest.approx(983.8 / 3, abs=1e-9)
    assert (v["voltage"], v["power_factor"]) == (pytest.approx(230.0), pytest.approx(1.0))
    # BAT-1 (250 kW, 1,000 kWh) moves 4 h x 125 kW = 500 kWh a day; 15:00 is before today's discharge
    assert bat["counter"] == pytest.approx(195 * 500.0) and bat["rate"] == 0.0
    assert counter_wrap("sunspec") == pytest.approx(2 ** 32 / 1000)  # acc32 Wh


def test_load_model_agrees_with_the_inverters(plant_cfg):
    site = plant_cfg.site
    m = LoadModel(site, plant_cfg.simulation.seed)
    c, r = m.at(T)
    i = m._midx
    assert c[i["M-PV-1"]] == pytest.approx(PV1_KWH, abs=1e-6)
    # the minute 15:00-15:01's mean power: its energy over the minute x 60
    x0, x1 = 3 * math.pi / 4, math.pi * (9 + 1 / 60) / 12
    assert r[i["M-PV-1"]] == pytest.approx(320 * 12 / math.pi * (math.cos(x0) - math.cos(x1)) * 60)
    # BAT-1's charge meter: 10:00-14:00 at 125 kW: 500 kWh a day; none at 15:00
    assert r[i["M-BAT-1-IN"]] == 0.0 and r[i["M-BAT-1-OUT"]] == 0.0
    # the TR-2 incomer shows its loads minus PV-1 and PV-2 (TR-2's feeder), never below zero; what is left
    # over goes out through M-EXPORT: every minute of the day, incomer - export = loads - pv
    day = T.astimezone(m.tz).date()
    rates = m.meter_rates(day)
    kids = [i[k.id] for k in site.children("M-TR-2")]
    loads = rates[:, kids].sum(axis=1) * 1.02 + 0.01 * 1900.0  # the model's incomer: its feeders + 2 % + 1 %
    pv = rates[:, i["M-PV-1"]] + rates[:, i["M-PV-2"]]
    tr2 = rates[:, i["M-TR-2"]]
    assert (tr2 >= 0).all() and pv.max() > 700  # 0.8 x 1,000 kW at noon, less the minute's mean
    # TR-3 (the battery's) never runs short in the model, so the export is TR-2's surplus alone
    np.testing.assert_allclose(tr2 - rates[:, i["M-EXPORT"]], loads - pv, atol=1e-9)
