"""Modbus RTU on a virtual serial pair (socat) and through a transparent serial server (RTU over TCP),
against pymodbus RTU servers whose values come from the load model; register tables checked at load."""

import asyncio
import dataclasses
import datetime as dt

import pytest

from collectors.readers import reader_for
from collectors.service import CollectionService
from tanjian.simulator import PlantSimulator
from tanjian.simulator.pty import VirtualSerialPair
from tanjian.simulator.rtu import RtuBusSimulator
from tests.conftest import free_port
from tests.small_sites import load_site, meter, write_site
from workspace import meters
from workspace.batch import decode_batch
from workspace.clock import Clock
from workspace.config import load_config
from workspace.errors import ConfigError
from workspace.journal import Journal
from workspace.meters import FAMILIES, Family, Field, family_problems, table_problems

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 in Changsha, inside the day shift


def _bus(device, **kw):
    # a pty refuses parity (tcsetattr EINVAL), so the virtual bus runs 8N1; generous 0.5 s timeout
    return {"id": "bus-1", "protocol": "modbus_rtu", "device": device, "parity": "N", "timeout_s": 0.5, **kw}


METERS = [meter("M-WELD", "bus-1", "D-WELD", "sdm630", unit_id=1),
          meter("M-CNC", "bus-1", "D-CNC", "cn3p-int32", unit_id=2),
          meter("M-PUMP", "bus-1", "D-PUMP", "cn3p-int32", unit_id=3)]


@pytest.fixture
async def serial_pair(tmp_path):
    async with VirtualSerialPair(tmp_path) as pair:
        yield pair


def _check(reading, truth, family):
    """A reading against the meter model's values at the reading's instant."""
    if family == "sdm630":  # float32 counter: 24-bit mantissa
        assert reading.counter == pytest.approx(truth["counter"], abs=0.02)
        assert reading.voltage == pytest.approx(truth["voltage"], rel=1e-6)
    else:  # scaled integers: 0.01 kWh, 0.1 V, 0.001 A
        # half a 0.01 kWh step, plus what the counter advances between the simulator's register update and
        # the reading's time stamp (a few ms of wall time at 60x on a loaded machine: up to 0.0025 kWh)
        assert reading.counter == pytest.approx(truth["counter"], abs=0.0075)
        assert reading.voltage == pytest.approx(truth["voltage"], abs=0.051)
        assert reading.current == pytest.approx(truth["current"], abs=0.00051)


async def test_two_meters_on_a_serial_bus(tmp_path, serial_pair):
    a, b = serial_pair
    cfg = load_site(tmp_path, [_bus(a)], METERS[:2])
    clock = Clock.simulated(T0, speed=60)
    plant = PlantSimulator(cfg.site, clock)
    async with RtuBusSimulator(plant, "bus-1", serial_port=b) as sim:
        reader = reader_for(cfg.site.gateways, clock)
        try:
            got = await reader.read(cfg.site.meters)
        finally:
            reader.close()
    assert sorted(r.meter for r in got) == ["M-CNC", "M-WELD"]
    for r in got:
        _check(r, plant.values(r.meter, r.time), cfg.site.meter(r.meter).family)
        assert reader.health[r.meter].reads == 1 and reader.health[r.meter].errors == 0
    assert sim.requests == 2  # one block per family (sdm630: input 42..73, cn3p-int32: holding 0..33)
    # a welding robot at 10:00 on a Tuesday draws something, and not more than its rating
    weld = next(r for r in got if r.meter == "M-WELD")
    assert 0 < weld.rate <= 40


async def test_a_dead_meter_times_out_and_the_others_still_read(tmp_path, serial_pair):
    a, b = serial_pair
    cfg = load_site(tmp_path, [_bus(a)], METERS)
    clock = Clock.simulated(T0, speed=60)
    plant = PlantSimulator(cfg.site, clock)
    plant.kill("M-CNC", silent=True)  # on the bus but mute
    async with RtuBusSimulator(plant, "bus-1", serial_port=b, absent={"M-PUMP"}) as sim:  # not wired
        reader = reader_for(cfg.site.gateways, clock, backoff_initial_s=60)
        try:
            got = await reader.read(cfg.site.meters)
            assert [r.meter for r in got] == ["M-WELD"]
            _check(got[0], plant.values("M-WELD", got[0].time), "sdm630")
            for mid, unit in (("M-CNC", 2), ("M-PUMP", 3)):
                h = reader.health[mid]
                assert h.errors == 1 and h.next_attempt > 0
                assert h.last_error == f"meter {mid} (unit {unit} on bus-1 {a}): no answer within 0.5 s"
            asked = sim.requests
            got = await reader.read(cfg.site.meters)  # the dead ones back off: only M-WELD is asked
            assert [r.meter for r in got] == ["M-WELD"] and sim.requests == asked + 1
            plant.revive("M-CNC")
            reader.health["M-CNC"].next_attempt = 0  # its back-off has expired
            got = await reader.read(cfg.site.meters)
            assert sorted(r.meter for r in got) == ["M-CNC", "M-WELD"]
            assert reader.health["M-CNC"].consecutive_failures == 0 and reader.health["M-CNC"].errors == 1
        finally:
            reader.close()


async def test_a_late_reply_is_not_taken_for_the_next_meters(tmp_path, serial_pair):
    """The RTU trap: a reply after the timeout must not become the next request's answer."""
    a, b = serial_pair
    cfg = load_site(tmp_path, [_bus(a, timeout_s=0.3)], METERS[:2])
    clock = Clock.simulated(T0, speed=60)
    plant = PlantSimulator(cfg.site, clock)
    async with RtuBusSimulator(plant, "bus-1", serial_port=b) as sim:
        sim.late("M-WELD", 0.45)  # answers 0.15 s after the collector gave up
        reader = reader_for(cfg.site.gateways, clock, backoff_initial_s=0.01, backoff_max_s=0.01)
        try:
            for _ in range(4):
                got = await reader.read(cfg.site.meters)
                for r in got:
                    assert r.meter == "M-CNC"  # never a reading for the late meter...
                    _check(r, plant.values(r.meter, r.time), "cn3p-int32")  # ...nor its words for another
                await asyncio.sleep(0.3)  # let the late replies arrive between cycles too
            assert reader.health["M-WELD"].reads == 0 and reader.health["M-WELD"].errors == 4
            assert reader.health["M-CNC"].reads >= 3
        finally:
            reader.close()


async def test_rtu_over_tcp_through_a_serial_server(tmp_path):
    port = free_port()
    gw = {"id": "srv-1", "protocol": "modbus_rtu_over_tcp", "host": "127.0.0.1", "port": port,
          "timeout_s": 0.5}
    ms = [meter("M-WELD", "srv-1", "D-WELD", "sdm630", unit_id=1),
          meter("M-CNC", "srv-1", "D-CNC", "cn3p-int32", unit_id=7),
          meter("M-PUMP", "srv-1", "D-PUMP", "cn3p-int32", unit_id=9)]
    cfg = load_site(tmp_path, [gw], ms)
    clock = Clock.simulated(T0, speed=60)
    plant = PlantSimulator(cfg.site, clock)
    async with RtuBusSimulator(plant, "srv-1", absent={"M-PUMP"}):
        reader = reader_for(cfg.site.gateways, clock)
        try:
            got = await reader.read(cfg.site.meters)
        finally:
            reader.close()
    assert sorted(r.meter for r in got) == ["M-CNC", "M-WELD"]
    for r in got:
        _check(r, plant.values(r.meter, r.time), cfg.site.meter(r.meter).family)
    assert "no answer within 0.5 s" in reader.health["M-PUMP"].last_error
    assert "RTU over TCP" in reader.health["M-PUMP"].last_error


async def test_collection_service_journals_a_serial_bus(tmp_path, serial_pair):
    a, b = serial_pair
    cfg = load_site(tmp_path, [_bus(a)], METERS[:2])
    clock = Clock.simulated(T0, speed=60)
    plant = PlantSimulator(cfg.site, clock)
    async with RtuBusSimulator(plant, "bus-1", serial_port=b):
        j = Journal(cfg.paths.journal, writer=True)
        svc = CollectionService(cfg.site, j, None, clock, source="modbus-rtu")
        try:
            assert await svc.poll_once() == 2
        finally:
            svc.reader.close()
            j.close()
    (_, payload), = Journal(cfg.paths.journal).records()
    batch = decode_batch(payload)
    assert batch.source == "modbus-rtu" and {r.meter for r in batch.readings} == {"M-WELD", "M-CNC"}


# -- gateway and meter fields ---------------------------------------------------------------------
def test_serial_gateway_needs_its_device_and_meters_their_addresses(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_site(tmp_path, [{"id": "bus-1", "protocol": "modbus_rtu"}], METERS[:1])
    (_, line, field, msg), = e.value.problems
    assert field == "site.gateways[0]" and "needs 'device'" in msg and "bus-1" in msg
    with pytest.raises(ConfigError) as e:
        load_site(tmp_path, [_bus("/dev/ttyUSB0")], [meter("M-X", "bus-1", "D-WELD", "sdm630")])
    (_, _, field, msg), = e.value.problems
    assert field == "site.meters[0].unit_id"
    assert msg == "meter 'M-X' on modbus_rtu gateway 'bus-1' needs a unit_id"
    with pytest.raises(ConfigError) as e:
        load_site(tmp_path, [{"id": "tcp-1", "port": 502}],
                  [meter("M-X", "tcp-1", "D-WELD", "sdm630", unit_id=1),
                   meter("M-Y", "tcp-1", "D-CNC", "sdm630", unit_id=1)])
    assert any("unit id 1 already used by meter 'M-X' on gateway 'tcp-1'" in p[3] for p in e.value.problems)


# -- register tables, checked when the configuration loads -----------------------------------------
def test_shipped_register_tables_are_clean():
    for fam in FAMILIES.values():
        assert table_problems(fam) == [], fam.name


@pytest.mark.parametrize("fields, problem", [
    ((Field("counter", "holding", 0, "uint32"), Field("rate", "holding", 1, "float32")),
     "fields 'counter' (holding 0..1) and 'rate' (holding 1..2) overlap"),
    ((Field("counter", "holding", 0, "uint32", registers=1),),
     "field 'counter' (holding 0): uint32 takes 2 register(s), the table says 1"),
    ((Field("counter", "holding", 0, "uint32", scale=0.0),),
     "field 'counter' (holding 0): scale must be a finite number other than 0, not 0.0"),
    ((Field("counter", "holding", 0, "uint32", word_order="middle"),),
     "field 'counter' (holding 0): word order must be 'big' or 'little', not 'middle'"),
    ((Field("counter", "holding", 0, "uint32"), Field("voltage", "holding", 4, "uint16", "little")),
     "field 'voltage' (holding 4): word order 'little' needs a value of 2 or more registers, uint16 has 1"),
    ((Field("counter", "input", 0, "int24"),),
     "field 'counter' (input 0): unknown data type 'int24'"),
    ((Field("rate", "input", 0, "float32"),),
     "no 'counter' field: every meter needs its cumulative register"),
    ((Field("counter", "input", 65535, "uint32"),),
     "field 'counter' (input 65535): registers must lie within 0..65535"),
])
def test_broken_register_table_is_named(fields, problem):
    probs = table_problems(Family("broken", ("electricity",), fields, "test"))
    assert any(p.startswith(problem) for p in probs), probs


def test_same_address_in_two_tables_is_not_an_overlap():
    fam = Family("ok", ("electricity",), (Field("counter", "input", 0, "uint32"),
                                          Field("rate", "holding", 0, "float32")), "test")
    assert table_problems(fam) == []


def test_broken_family_stops_the_config_load_naming_the_meter(tmp_path):
    """A table registered with an overlap is refused at load, on the line of each meter that uses it."""
    bad = Family("bad-map", ("electricity",), (Field("counter", "holding", 0, "uint32"),
                                               Field("voltage", "holding", 1, "uint16", scale=0.1)), "test")
    path = write_site(tmp_path, [{"id": "tcp-1", "port": 502}],
                      [meter("M-A", "tcp-1", "D-WELD", "bad-map", unit_id=1),
                       meter("M-B", "tcp-1", "D-CNC", "sdm630", unit_id=2)])
    meters.FAMILIES["bad-map"] = bad
    try:
        with pytest.raises(ConfigError) as e:
            load_config(path)
    finally:
        del meters.FAMILIES["bad-map"]
    (f, line, field, msg), = e.value.problems
    assert field == "site.meters[0].family" and line is not None
    assert msg == ("meter 'M-A': register family 'bad-map': fields 'counter' (holding 0..1) and 'voltage' "
                   "(holding 1..1) overlap")


def test_family_must_suit_medium_and_protocol(tmp_path):
    water = dict(meter("M-W", "tcp-1", "D-PUMP", "sdm630", unit_id=3), medium="water")
    with pytest.raises(ConfigError) as e:
        load_site(tmp_path, [{"id": "tcp-1", "port": 502}],
                  [meter("M-A", "tcp-1", "D-WELD", "dlt645-2007", unit_id=1), water])
    msgs = [p[3] for p in e.value.problems]
    assert any("meter 'M-A': unknown register family 'dlt645-2007' (a DL/T 645 family needs a dlt645_* "
               "gateway)" in m for m in msgs)
    assert any("meter 'M-W': family 'sdm630' meters electricity, not water" in m for m in msgs)


def test_family_problems_takes_other_tables(plant_cfg):
    # the Plant 18 site against tables where sdm630 lost its counter
    fams = dict(FAMILIES)
    fams["sdm630"] = dataclasses.replace(FAMILIES["sdm630"], fields=FAMILIES["sdm630"].fields[:4])
    probs = family_problems(plant_cfg.site, fams)
    users = [m.id for m in plant_cfg.site.meters if m.family == "sdm630"]
    assert len(probs) == len(users) > 0
    assert all("no 'counter' field" in msg for _, msg in probs)
    assert family_problems(plant_cfg.site) == []
