"""Distribution-room points stored like any meter: read from the real pymodbus simulator, journaled as a
``points`` batch, folded into the store's points grid, queried back (hand-checked values), surviving a
restart, and read by the alarm rules from the store."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from tests.conftest import free_port_block
from workspace.batch import decode_batch, encode_points
from workspace.clock import Clock
from workspace.errors import StoreError
from workspace.journal import Journal
from workspace.keeper import Keeper
from workspace.store import Store

UTC = dt.timezone.utc
# 2026-07-15 07:00 UTC = 15:00 local (Asia/Shanghai, UTC+8)
T = dt.datetime(2026, 7, 15, 7, 0, tzinfo=UTC)


async def _read_rooms(cfg, sim_points=None):
    from tanjian.alarm_loop import read_rooms
    from tanjian.simulator import PlantSimulator

    gws = cfg.site.gateways
    base = free_port_block(len(gws))
    offset = base - min(g.port for g in gws)
    sim = PlantSimulator(cfg.site, Clock.simulated(T, speed=0.0), cfg.simulation.seed, offset)
    await sim.start()
    try:
        for room, point, v in sim_points or ():
            sim.points.set(room, point, v)
        return await read_rooms(cfg.site, offset)
    finally:
        await sim.stop()


def test_points_batch_round_trip():
    b = decode_batch(encode_points("P18", 7, "rooms", T, {"DR-1": {"temperature": 28.0, "smoke": float("nan")}}))
    assert b.readings == [] and b.seq == 7
    assert b.note == {"kind": "points", "time": "2026-07-15T07:00:00.000Z",
                      "rooms": {"DR-1": {"temperature": 28.0, "smoke": None}}}  # NaN -> null


async def test_room_points_read_journaled_folded_queried(fresh):
    cfg, journal, store = fresh
    rooms = await _read_rooms(cfg, [("DR-2", "leak", 1), ("DR-2", "temperature", 41.7)])
    # 15:00 local: DR-1 24 + 4 sin(2 pi (15 - 9) / 24) = 28.0 degC, 55.0 %RH, switch closed, contacts at rest
    assert rooms["DR-1"] == pytest.approx({"temperature": 28.0, "humidity": 55.0, "switch": 1.0, "leak": 0.0,
                                           "smoke": 0.0, "door": 0.0})
    seq = journal.append(encode_points(cfg.site.plant.id, journal.next_seq, "rooms", T, rooms))
    # the next minute DR-1 only, its door opened
    later = dict(rooms["DR-1"], door=1.0)
    journal.append(encode_points(cfg.site.plant.id, journal.next_seq, "rooms", T + dt.timedelta(minutes=1),
                                 {"DR-1": later}))
    Keeper(store, journal).fold()
    assert store.last_folded_seq == seq + 1
    assert store.versions()[0]["metadata"]["kind"] == "points"
    # local 15:00 .. 15:03: three minutes, 15:00 both rooms, 15:01 DR-1 only, 15:02 nothing
    df = store.points("2026-07-15 15:00", "2026-07-15 15:03")
    assert list(df.index) == list(pd.date_range("2026-07-15 15:00", periods=3, freq="1min"))
    assert df.loc["2026-07-15 15:00", ("DR-1", "temperature")] == pytest.approx(28.0)
    assert df.loc["2026-07-15 15:00", ("DR-2", "temperature")] == pytest.approx(41.7)
    assert df.loc["2026-07-15 15:00", ("DR-2", "leak")] == 1.0
    assert df.loc["2026-07-15 15:01", ("DR-1", "door")] == 1.0
    assert np.isnan(df.loc["2026-07-15 15:01", ("DR-2", "leak")])  # DR-2 not read that minute
    assert df.loc["2026-07-15 15:02"].isna().all()
    one = store.points("2026-07-15 15:00", "2026-07-15 15:02", room="DR-2")
    assert list(one.columns.get_level_values(0).unique()) == ["DR-2"]
    journal.close()
    # a restart: a new process opens the store and the journal; the points are there, nothing folds twice
    s2 = Store.open(cfg.paths.store, cfg.site)
    with Journal(cfg.paths.journal, writer=True) as j2:
        assert Keeper(s2, j2).fold() == 0
        assert s2.last_folded_seq == seq + 1
    again = s2.points("2026-07-15 15:00", "2026-07-15 15:03")
    pd.testing.assert_frame_equal(again, df)
    # the alarm rules read the newest stored value of each point: at 15:01:30 DR-1's door is open (15:01
    # reading), DR-2's leak 1 (15:00 reading, newest within the hour)
    from models.alarms.inputs import gather

    snap = gather(s2, T + dt.timedelta(minutes=1, seconds=30))
    assert snap["room.door"]["DR-1"] == 1.0 and snap["room.leak"]["DR-2"] == 1.0
    assert snap["room.temperature"]["DR-2"] == pytest.approx(41.7)


def test_unknown_room_refused(fresh):
    cfg, journal, store = fresh
    journal.append(encode_points(cfg.site.plant.id, 0, "rooms", T, {"DR-9": {"smoke": 0.0}}))
    with pytest.raises(StoreError, match="batch 0: unknown distribution room 'DR-9'"):
        store.fold(journal)
    assert store.last_folded_seq == -1  # nothing committed; the journal keeps the batch


async def test_alarm_loop_journals_the_rooms_and_reads_them_back(fresh):
    """One cycle of the alarm loop beside a collector: the rooms read go to the journal, the fold stores
    them, and the smoke alarm is raised from the stored value."""
    import asyncio

    from tanjian.alarm_loop import AlarmLoop
    from tanjian.simulator import PlantSimulator

    cfg, journal, store = fresh
    gws = cfg.site.gateways
    offset = free_port_block(len(gws)) - min(g.port for g in gws)
    clock = Clock.simulated(T, speed=1.0)  # a running clock (the loop sleeps by it); the test takes seconds
    keeper = Keeper(store, journal)
    seqs = []

    async def record(time, rooms):  # what the collector does: journal, then (its fold loop) fold
        seqs.append(journal.append(encode_points(cfg.site.plant.id, journal.next_seq, "rooms", time, rooms)))
        await asyncio.to_thread(keeper.fold)
        return seqs[-1]

    async with PlantSimulator(cfg.site, clock, cfg.simulation.seed, offset) as sim:
        sim.points.set("DR-2", "smoke", 1)
        loop = AlarmLoop(cfg, clock, port_offset=offset, record=record)
        stop = asyncio.Event()
        task = asyncio.create_task(loop.run(stop))
        for _ in range(200):
            if loop.cycles:
                break
            await asyncio.sleep(0.1)
        stop.set()
        await task
    assert seqs == [0] and loop.cycles == 1
    assert store.points("2026-07-15 15:00", "2026-07-15 15:01").loc["2026-07-15 15:00", ("DR-2", "smoke")] == 1.0
    assert ("room-smoke", "DR-2") in {(x.rule, x.target) for x in loop.last if x.event == "raise"}
    loop.engine.db.close()
