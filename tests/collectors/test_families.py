"""Meter families as a sourced library: each register map against rows copied by hand from its source,
the simulator's per-phase values against its totals, and a third-party Modbus client (Debian's
``mbpoll``) reading the simulator over TCP: values as the load model says, exception 0x02 outside a
map and 0x0B for a unit the gateway does not have."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import shutil

import pytest

from tanjian.simulator import PlantSimulator
from tanjian.simulator.model import phase_values
from tests.conftest import free_port
from tests.small_sites import load_site, meter
from workspace.clock import Clock
from workspace.meters import FAMILIES, MAP_VALUES, map_problems

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 in Changsha, inside the day shift

# (register as the source prints it, zero-based hex address, what it holds), copied by hand
MANUAL_ROWS = {
    # Eastron "SDM630 Protocol" 2018 v2.0, 1.2.1 SDM630 Input Registers
    "sdm630": [(30001, 0x0000, "voltage_a"), (30007, 0x0006, "current_a"), (30013, 0x000C, "power_a"),
               (30017, 0x0010, "power_c"), (30031, 0x001E, "pf_a"), (30043, 0x002A, "voltage_ln"),
               (30053, 0x0034, "power"), (30057, 0x0038, "va"), (30061, 0x003C, "var"),
               (30063, 0x003E, "pf"), (30071, 0x0046, "frequency"), (30073, 0x0048, "import_kwh"),
               (30075, 0x004A, "export_kwh"), (30201, 0x00C8, "voltage_ab"), (30225, 0x00E0, "current_n"),
               (30343, 0x0156, "total_kwh"), (30345, 0x0158, "total_kvarh"),
               (30347, 0x015A, "import_kwh_a"), (30381, 0x017C, "total_kvarh_c")],
    # Eastron SDM120M Modbus Protocol Implementation V2.5, register map, function code 04
    "sdm120": [(30001, 0x0000, "voltage_a"), (30007, 0x0006, "current_a"), (30013, 0x000C, "power_a"),
               (30031, 0x001E, "pf_a"), (30071, 0x0046, "frequency"), (30073, 0x0048, "import_kwh"),
               (30075, 0x004A, "export_kwh"), (30343, 0x0156, "total_kwh")],
    # transcriptions of the CHINT DTSU666 manual (volkszaehler/mbmd dtsu666.go)
    "dtsu666": [(None, 0x2006, "voltage_a"), (None, 0x200C, "current_a"), (None, 0x2012, "power"),
                (None, 0x202A, "pf"), (None, 0x2044, "frequency"), (None, 0x101E, "import_kwh"),
                (None, 0x1028, "export_kwh")],
    # transcription of Schneider DOCA0005 (volkszaehler/mbmd iem3000.go); register = address + 1
    "iem3255": [(3000, 0x0BB7, "current_a"), (3028, 0x0BD3, "voltage_a"), (3060, 0x0BF3, "power"),
                (3110, 0x0C25, "frequency"), (3204, 0x0C83, "import_kwh"), (3208, 0x0C87, "export_kwh")],
    # one open-source ADL400 reader (unverified)
    "adl400": [(None, 0x0800, "voltage_a"), (None, 0x080C, "current_a"), (None, 0x0834, "frequency"),
               (None, 0x084C, "import_kwh")],
}
VENDOR_FAMILIES = tuple(MANUAL_ROWS)


@pytest.mark.parametrize("name", VENDOR_FAMILIES)
def test_map_matches_the_rows_copied_from_its_source(name):
    fam = FAMILIES[name]
    assert fam.source and fam.status in ("verified", "unverified") and map_problems(fam) == []
    by_address = {(r.address): r for r in fam.map}
    for register, address, value in MANUAL_ROWS[name]:
        assert by_address[address].value == value, (name, hex(address))
        if register is not None and register >= 30001:  # Eastron's 3X numbering
            assert address == register - 30001
        elif register is not None:  # Schneider's 1-based register numbers
            assert address == register - 1
    if fam.status == "unverified":
        assert "Unverified" in fam.source or "unverified" in fam.source.lower()


def test_sdm630_map_is_the_whole_table():
    fam = FAMILIES["sdm630"]
    assert len(fam.map) == 86  # every row of 1.2.1, 30001..30381
    assert {r.table for r in fam.map} == {"input"} and {r.dtype for r in fam.map} == {"float32"}
    assert fam.map_span("input") == 0x017E
    assert fam.status == "verified" and FAMILIES["sdm120"].status == "verified"
    for f in ("dtsu666", "iem3255", "adl400"):
        assert FAMILIES[f].status == "unverified"


@pytest.mark.parametrize("phases,key", [(3, 0), (3, 7), (1, 2)])
def test_per_phase_values_sum_to_the_totals(phases, key):
    v = phase_values(37.5, 12345.6, 229.4, 0.88, phases=phases, key=key, minute=13)
    assert set(v) == set(MAP_VALUES)
    ph = "abc"
    assert sum(v[f"power_{c}"] for c in ph) == pytest.approx(v["power"]) == pytest.approx(37500.0)
    assert sum(v[f"va_{c}"] for c in ph) == pytest.approx(v["va"])
    assert sum(v[f"var_{c}"] for c in ph) == pytest.approx(v["var"])
    assert v["power"] / v["va"] == pytest.approx(v["pf"]) == pytest.approx(0.88)
    assert v["va"] ** 2 == pytest.approx(v["power"] ** 2 + v["var"] ** 2)
    for c in ph[:phases]:
        assert v[f"va_{c}"] == pytest.approx(v[f"voltage_{c}"] * v[f"current_{c}"])
        assert v[f"power_{c}"] ** 2 + v[f"var_{c}"] ** 2 == pytest.approx(v[f"va_{c}"] ** 2)
    assert sum(v[f"import_kwh_{c}"] for c in ph) == pytest.approx(v["import_kwh"]) == pytest.approx(12345.6)
    assert v["total_kwh"] == pytest.approx(v["import_kwh"] + v["export_kwh"])
    assert v["current_sum"] == pytest.approx(sum(v[f"current_{c}"] for c in ph))
    assert 49.9 < v["frequency"] < 50.1
    if phases == 3:
        assert v["current_avg"] == pytest.approx(37500.0 / (3 * 229.4 * 0.88))  # LoadModel.electrical's
        assert v["voltage_ab"] == pytest.approx(229.4 * 3 ** 0.5)


SITE = [("M-1", "D-WELD", "sdm630", 1), ("M-2", "D-CNC", "sdm120", 2), ("M-3", "D-PUMP", "dtsu666", 3),
        ("M-4", "D-LIGHT", "iem3255", 4), ("M-5", "D-WELD", "adl400", 5)]


@pytest.fixture
async def plant(tmp_path):
    port = free_port()
    gw = {"id": "gw-1", "protocol": "modbus_tcp", "host": "127.0.0.1", "port": port}
    cfg = load_site(tmp_path, [gw], [meter(m, "gw-1", d, f, unit_id=u) for m, d, f, u in SITE])
    clock = Clock.simulated(T0, speed=0)  # frozen: mbpoll and the model see the same instant
    async with PlantSimulator(cfg.site, clock) as sim:
        yield sim, port


def test_served_values_are_consistent_per_meter(plant):
    sim, _ = plant
    for m, _, fam, _ in SITE:
        v = sim.register_values(m, sim.clock.now())
        truth = sim.values(m, sim.clock.now())
        assert v["power"] == pytest.approx(truth["rate"] * 1000)
        assert v["import_kwh"] == pytest.approx(truth["counter"])
        assert sum(v[f"power_{c}"] for c in "abc") == pytest.approx(v["power"])
        if FAMILIES[fam].phases == 1:
            assert v["current_a"] == pytest.approx(truth["current"])


async def _mbpoll(port: int, unit: int, kind: str, address: int, count: int, *, big: bool = True):
    """Run mbpoll once (zero-based addresses, verbose: the frames are printed) and return
    (exit status, {address: value}, output)."""
    args = ["mbpoll", "-m", "tcp", "-p", str(port), "-a", str(unit), "-t", kind, "-0", "-1", "-v",
            "-o", "2", "-r", str(address), "-c", str(count)] + (["-B"] if big else []) + ["127.0.0.1"]
    proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    text = out.decode(errors="replace")
    values = {int(a): float(v) for a, v in re.findall(r"^\[(\d+)\]:\s+(\S+)\s*$", text, re.M)}
    return proc.returncode, values, text


needs_mbpoll = pytest.mark.skipif(shutil.which("mbpoll") is None, reason="mbpoll (Debian) not installed")


@needs_mbpoll
@pytest.mark.parametrize("name,unit,kind,rows", [
    ("sdm630", 1, "3:float", [(0x0000, 6), (0x0034, 1), (0x003E, 1), (0x0046, 3), (0x0156, 2), (0x015A, 3)]),
    ("sdm120", 2, "3:float", [(0x0000, 1), (0x0006, 1), (0x000C, 1), (0x0048, 1), (0x0156, 1)]),
    ("dtsu666", 3, "4:float", [(0x2006, 6), (0x2012, 4), (0x202A, 1), (0x2044, 1), (0x101E, 1)]),
    ("iem3255", 4, "4:float", [(0x0BB7, 3), (0x0BD3, 3), (0x0BED, 4), (0x0C25, 1)]),
    ("adl400", 5, "4:float", [(0x0800, 3), (0x080C, 3), (0x0834, 1)]),
])
async def test_mbpoll_reads_what_the_load_model_says(plant, name, unit, kind, rows):
    """mbpoll prints 6 significant digits; word order high word first, as every one of these manuals."""
    sim, port = plant
    m = next(m for m, _, f, _ in SITE if f == name)
    truth = sim.register_values(m, sim.clock.now())
    fam = FAMILIES[name]
    for start, n in rows:
        status, got, text = await _mbpoll(port, unit, kind, start, n)
        assert status == 0, text
        assert len(got) == n, text
        for address, value in got.items():
            row = fam.map_row(kind.startswith("3") and "input" or "holding", address)
            assert row is not None, (name, hex(address))
            want = truth[row.value] / row.scale
            assert value == pytest.approx(want, rel=1e-5, abs=1e-3), (name, hex(address), row.value)


@needs_mbpoll
async def test_mbpoll_sees_0x02_outside_the_map_and_0x0b_for_an_unknown_unit(plant):
    _, port = plant
    # 0x002C lies between two rows of the SDM630 table (30043 at 0x2A, 30047 at 0x2E)
    status, _, text = await _mbpoll(port, 1, "3:float", 0x002C, 1)
    assert status != 0 and "<01><84><02>" in text, text
    # past the last row of the SDM630 table
    status, _, text = await _mbpoll(port, 1, "3:float", 0x017E, 1)
    assert status != 0 and "<01><84><02>" in text, text
    # unit 9 is not on the gateway
    status, _, text = await _mbpoll(port, 9, "3:float", 0x0046, 1)
    assert status != 0 and "<09><84><0B>" in text, text
    # a real reading still works after the exceptions
    status, got, text = await _mbpoll(port, 1, "3:float", 0x0046, 1)
    assert status == 0 and 49.9 < got[0x46] < 50.1, text
    # mbpoll's default (low word first) is not the manual's word order: the same words read otherwise
    status, got, text = await _mbpoll(port, 1, "3:float", 0x0046, 1, big=False)
    assert status == 0 and not 49.9 < got[0x46] < 50.1, text


async def test_the_collector_reads_every_family_from_the_simulator(plant):
    """Our own Modbus TCP collector reads each family's fields (rows of its map) as the model says."""
    from collectors.readers import reader_for

    sim, _ = plant
    reader = reader_for(sim.site.gateways, sim.clock)
    try:
        got = await reader.read(sim.site.meters)
    finally:
        reader.close()
    assert sorted(r.meter for r in got) == [m for m, *_ in SITE]
    for r in got:
        fam = FAMILIES[sim.site.meter(r.meter).family]
        truth = sim.values(r.meter, r.time)
        served = sim.register_values(r.meter, r.time)
        # float32 counters resolve ~0.01 kWh at 10^5 kWh; ADL400 counts 0.1 kWh
        assert r.counter == pytest.approx(truth["counter"], abs=0.1 if fam.name == "adl400" else 0.02)
        for f in fam.fields:  # each field reads its row of the map (a DTSU666's current is phase A's)
            row = fam.map_row(f.table, f.address)
            want = served[row.value] / row.scale * f.scale
            if f.quantity != "counter":
                assert getattr(r, f.quantity) == pytest.approx(want, rel=1e-5), (fam.name, f.quantity)
        assert r.voltage == pytest.approx(truth["voltage"], rel=1e-5)
        if fam.name in ("sdm630", "sdm120", "iem3255"):  # average (or the only) phase current
            assert r.current == pytest.approx(truth["current"], rel=1e-5)
        if any(f.quantity == "rate" for f in fam.fields):
            assert r.rate == pytest.approx(truth["rate"], rel=1e-5)
