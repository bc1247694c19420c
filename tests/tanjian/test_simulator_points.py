"""Distribution-room points and SunSpec inverters read through the real pymodbus simulator, with a
frozen clock so that every value is worked by hand."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from pymodbus.client import AsyncModbusTcpClient

from collectors.points import PointReadError, read_room, read_sunspec, room_values, room_words
from tanjian.simulator import PlantSimulator
from tests.conftest import free_port_block
from workspace.clock import Clock

UTC = dt.timezone.utc
# 2026-07-15 07:00 UTC = 15:00 local (Asia/Shanghai); 195 days after 2026-01-01
T = dt.datetime(2026, 7, 15, 7, 0, tzinfo=UTC)


@pytest.fixture
async def points(plant_cfg):
    gws = plant_cfg.site.gateways
    base = free_port_block(len(gws))
    offset = base - min(g.port for g in gws)
    sim = PlantSimulator(plant_cfg.site, Clock.simulated(T, speed=0.0), plant_cfg.simulation.seed, offset)
    await sim.start()
    gw = next(g for g in gws if g.id == "gw-points")
    client = AsyncModbusTcpClient(gw.host, port=gw.port + offset, timeout=2)
    await client.connect()
    yield sim, client
    client.close()
    await sim.stop()


def test_room_codec_round_trip():
    v = {"temperature": -5.3, "humidity": 81.2, "switch": 1, "leak": 0, "smoke": 1, "door": 0}
    assert room_words(v)[:2] == [0x10000 - 53, 812]  # int16 -53 (0.1 degC), uint16 812 (0.1 %RH)
    assert room_values(room_words(v)) == pytest.approx(v)


async def test_room_points_over_modbus(points):
    sim, client = points
    # 15:00 local: 24 + 4 sin(2 pi (15 - 9) / 24) = 24 + 4 sin(pi/2) = 28.0 degC; the rest at rest
    v = await read_room(client, 1)
    assert v == pytest.approx({"temperature": 28.0, "humidity": 55.0, "switch": 1.0, "leak": 0.0, "smoke": 0.0,
                               "door": 0.0})
    sim.points.set("DR-2", "leak", 1)
    sim.points.set("DR-2", "switch", 0)
    sim.points.set("DR-2", "temperature", 41.7)
    v = await read_room(client, 2)
    assert (v["leak"], v["switch"], v["temperature"]) == (1.0, 0.0, pytest.approx(41.7))


async def test_sunspec_inverter_read(points):
    sim, client = points
    got = await read_sunspec(client, 11)  # PV-1, 400 kW
    assert sorted(got) == [1, 103]
    assert got[1]["Mn"] == "tanjian-sim" and got[1]["SN"] == "PV-1"
    # 15:00 local: W = 0.8 x 400 kW x sin(pi (15 - 6) / 12) = 320 kW x sin(3 pi / 4) = 226,274 W; an int16
    # register holds it with W_SF = 2 (400,000 W / 100 = 4,000 <= 32,767): 2,263 x 100 W = 226,300 W
    assert got[103]["W"] == pytest.approx(226_300)
    # WH: 195 whole days x 320 kW x 24 / pi h (= 2,444.6 kWh a day) + today 320 x 12 / pi x (1 - cos(3 pi/4)) kWh
    day = 320_000 * 24 / math.pi
    assert got[103]["WH"] == pytest.approx(195 * day + 320_000 * 12 / math.pi * (1 - math.cos(3 * math.pi / 4)), abs=1)
    assert got[103]["Hz"] == pytest.approx(50.0)


async def test_sunspec_battery_read(points):
    sim, client = points
    got = await read_sunspec(client, 21)  # BAT-1: 1,000 kWh, 250 kW; 15:00 is between charging and discharging
    assert sorted(got) == [1, 103, 124]
    # holding at 20 % + 4 h x 125 kW = 20 % + 500 kWh = 70 % of 1,000 kWh; ChaSt 6 = HOLDING
    assert got[124]["ChaState"] == pytest.approx(70.0) and got[124]["ChaSt"] == 6
    assert got[103]["W"] == 0 and got[103]["WH"] == pytest.approx(195 * 500_000)


async def test_not_sunspec_refused(points):
    sim, client = points
    with pytest.raises(PointReadError):
        await read_sunspec(client, 1)  # the room block has no SunSpec marker (and no register 40000)
