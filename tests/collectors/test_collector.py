"""The Modbus TCP collector against the real pymodbus simulator over loopback TCP."""

import asyncio
import datetime as dt

import numpy as np
import pytest
from pymodbus.client.mixin import ModbusClientMixin

from collectors.modbus.registers import decode, encode
from collectors.service import CollectionService
from tanjian.simulator import PlantSimulator
from tests.conftest import free_port_block
from workspace.batch import decode_batch
from workspace.clock import Clock
from workspace.journal import Journal
from workspace.meters import FAMILIES
from workspace.quality import Q
from workspace.store import Store

UTC = dt.timezone.utc


def test_register_tables_decode_known_words():
    # words as a meter puts them on the wire (hand-encoded IEEE-754 and integers)
    sdm = FAMILIES["sdm630"]
    regs = [0] * 32
    regs[0:2] = [0x4366, 0x0000]  # 42: 230.0 V
    regs[4:6] = [0x41A0, 0x0000]  # 46: 20.0 A
    regs[10:12] = [0x45FA, 0x0000]  # 52: 8000.0 W -> 8 kW
    regs[20:22] = [0x3F80, 0x0000]  # 62: PF 1.0
    regs[30:32] = [0x47C3, 0x5000]  # 72: 100000.0 kWh
    v = decode(sdm, {("input", 42): regs})
    assert v == {"voltage": 230.0, "current": 20.0, "rate": 8.0, "power_factor": 1.0, "counter": 100000.0}
    cn = FAMILIES["cn3p-int32"]
    regs = [0] * 34
    regs[0] = 2301  # 230.1 V
    regs[2:4] = [0x3039, 0x0000]  # 12345 mA, low word first
    regs[8:10] = [0xFFFF, 0xFFFF]  # -1 W·1000 -> -0.001 kW (export)
    regs[14] = 0xFC4A  # -950 -> -0.95
    regs[32:34] = [0xCD15, 0x075B]  # 0x075BCD15 = 123456789 -> 1234567.89 kWh, low word first
    v = decode(cn, {("holding", 0): regs})
    assert v["voltage"] == pytest.approx(230.1) and v["current"] == pytest.approx(12.345)
    assert v["rate"] == pytest.approx(-0.001) and v["power_factor"] == pytest.approx(-0.95)
    assert v["counter"] == pytest.approx(1234567.89)
    # the simulator's encoder produces the same words
    assert encode(cn, {"counter": 1234567.89})[("holding", 32)] == [0xCD15, 0x075B]
    assert ModbusClientMixin.convert_to_registers(230.0, ModbusClientMixin.DATATYPE.FLOAT32) == [0x4366, 0]


@pytest.fixture
async def plant(plant_cfg):
    """Plant 18's simulator on free loopback ports, a fast clock, a journal and a store."""
    base = free_port_block(len(plant_cfg.site.gateways))
    offset = base - min(g.port for g in plant_cfg.site.gateways)
    clock = Clock.simulated(dt.datetime(2026, 11, 24, 2, 0, tzinfo=UTC), speed=60)  # 10:00 local, Tuesday
    sim = PlantSimulator(plant_cfg.site, clock, plant_cfg.simulation.seed, offset)
    await sim.start()
    j = Journal(plant_cfg.paths.journal, writer=True)
    st = Store.open(plant_cfg.paths.store, plant_cfg.site, create=True)
    svc = CollectionService(plant_cfg.site, j, st, clock, port_offset=offset, backoff_initial_s=30,
                            backoff_max_s=60)
    for g in plant_cfg.site.gateways:
        object.__setattr__(g, "timeout_s", 0.5)  # quicker timeouts for the silent meter
    yield sim, svc, j, st, clock
    svc.reader.close()
    j.close()
    await sim.stop()


async def _cycles(svc, n, clock):
    for _ in range(n):
        await svc.poll_once()
        await asyncio.sleep(1.05)  # one simulated minute


async def test_every_meter_is_read_and_stored(plant, plant_cfg):
    sim, svc, j, st, clock = plant
    await _cycles(svc, 3, clock)
    assert len(j) == 3
    batches = [decode_batch(p) for _, p in j.records()]
    assert all(len(b.readings) == len(plant_cfg.site.meters) for b in batches)
    st.fold(j)
    ds = st.dataset()
    first = int(ds.attrs["fold"]["first_slot"])
    for r in batches[-1].readings[:20]:
        slot = int((r.time - dt.datetime.fromisoformat(ds.attrs["fold"]["origin"])) // dt.timedelta(minutes=1))
        assert ds.counter.isel(time=slot).sel(meter=r.meter).item() == r.counter
    # what the collector decoded is what the meter model shows at that instant (float32 on sdm630)
    r = next(x for x in batches[-1].readings if x.meter == "M-WR-01")
    truth = sim.values("M-WR-01", r.time)
    assert r.counter == pytest.approx(truth["counter"], abs=0.02)
    assert r.voltage == pytest.approx(truth["voltage"], rel=1e-6)
    # energy from counter deltas equals the counter difference, meter by meter
    sub = ds.isel(time=slice(first, first + 5))
    c = sub.counter.sel(meter="M-TR-1").values
    ok = np.isfinite(c)
    assert np.nansum(sub.energy.sel(meter="M-TR-1").values) == pytest.approx(c[ok][-1] - c[ok][0])


async def test_dead_and_silent_meters_do_not_stall_the_others(plant, plant_cfg):
    sim, svc, j, st, clock = plant
    sim.kill("M-WR-03")  # gateway answers 0x0B
    sim.kill("M-LC-01", silent=True)  # no answer at all
    acked = await svc.poll_once()
    assert acked == len(plant_cfg.site.meters) - 2
    h = svc.reader.health
    assert "exception 11" in h["M-WR-03"].last_error
    assert "no answer within 0.5 s" in h["M-LC-01"].last_error
    assert h["M-WR-03"].backoff_s == 30 and h["M-LC-01"].backoff_s == 30  # backing off (backoff_initial_s)
    before = sim.requests
    await asyncio.sleep(1.05)
    acked = await svc.poll_once()
    # the two failing meters were not even asked this time; every other meter was
    assert acked == len(plant_cfg.site.meters) - 2
    reads_per_meter = {f.name: len(f.blocks()) for f in FAMILIES.values()}
    expected = sum(reads_per_meter[m.family] for m in plant_cfg.site.meters if m.id not in ("M-WR-03", "M-LC-01"))
    assert sim.requests - before == expected
    sim.revive("M-WR-03")
    h["M-WR-03"].next_attempt = 0  # the back-off has expired
    await asyncio.sleep(1.05)
    await svc.poll_once()
    assert h["M-WR-03"].consecutive_failures == 0 and h["M-WR-03"].errors == 1
    assert h["M-WR-03"].backoff_s == 0


async def test_counter_reset_and_spike_are_flagged_in_the_store(plant):
    sim, svc, j, st, clock = plant
    await _cycles(svc, 2, clock)
    sim.reset_counter("M-WR-04")
    sim.spike("M-WR-05")
    await _cycles(svc, 3, clock)
    st.fold(j)
    ds = st.dataset()
    first = int(ds.attrs["fold"]["first_slot"])
    sub = ds.isel(time=slice(first, first + 8))
    q4 = sub.quality.sel(meter="M-WR-04").values
    k = int(np.nonzero(q4 & Q.COUNTER_RESET)[0][0])
    # after a reset the interval's energy is the new counter value: what was counted since zero
    assert sub.energy.sel(meter="M-WR-04").values[k] == pytest.approx(sub.counter.sel(meter="M-WR-04").values[k])
    assert sub.counter.sel(meter="M-WR-04").values[k] < 50
    q5 = sub.quality.sel(meter="M-WR-05").values
    s = int(np.nonzero(q5 & Q.SPIKE)[0][0])
    assert sub.counter.sel(meter="M-WR-05").values[s] > 1e6 - 1  # the raw value is kept
    e5 = sub.energy.sel(meter="M-WR-05").values
    c5 = sub.counter.sel(meter="M-WR-05").values
    # the spike's energy is withheld; the next good delta covers the minutes since the last good
    # reading, so the total between the two good readings is exactly their counter difference
    p = max(i for i in range(s) if np.isfinite(c5[i]))
    n = min(i for i in range(s + 1, len(c5)) if np.isfinite(c5[i]))
    assert np.isfinite(e5[s]) and q5[s] & Q.ESTIMATED  # filled with the spread share, flagged
    assert np.sum(e5[p + 1:n + 1]) == pytest.approx(c5[n] - c5[p])


async def test_full_disk_pauses_acknowledgement_and_catches_up(plant_cfg, tmp_path):
    """The journal on a real 256 KiB tmpfs: cycles the disk refuses wait in memory, then land in order."""
    import os
    import subprocess
    import uuid

    mnt = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs to fill (tests run as root here): {r.stderr}")
    try:
        base = free_port_block(len(plant_cfg.site.gateways))
        offset = base - min(g.port for g in plant_cfg.site.gateways)
        clock = Clock.simulated(dt.datetime(2026, 11, 24, 2, 0, tzinfo=UTC), speed=60)
        async with PlantSimulator(plant_cfg.site, clock, plant_cfg.simulation.seed, offset):
            j = Journal(mnt / "journal", writer=True)
            svc = CollectionService(plant_cfg.site, j, None, clock, port_offset=offset)
            n = len(plant_cfg.site.meters)
            assert await svc.poll_once() == n
            filler = mnt / "filler"
            with open(filler, "wb") as f:
                try:
                    f.write(b"\0" * (256 * 1024))
                except OSError:
                    pass  # the disk is full now
            await asyncio.sleep(1.05)
            assert await svc.poll_once() == 0  # refused: not acknowledged, kept in memory
            await asyncio.sleep(1.05)
            assert await svc.poll_once() == 0
            assert len(svc.pending) == 2 and len(j) == 1
            os.remove(filler)  # space returns
            await asyncio.sleep(1.05)
            assert await svc.poll_once() == 3 * n  # the two waiting cycles and this one, in order
            svc.reader.close()
            j.close()
        batches = [decode_batch(p) for _, p in Journal(mnt / "journal").records()]
        assert [b.seq for b in batches] == [0, 1, 2, 3]
        times = [b.readings[0].time for b in batches]
        assert times == sorted(times) and len({t.replace(second=0, microsecond=0) for t in times}) == 4
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)
