"""DL/T 645 as the field is: data blocks, items a meter lacks, and the bus time of a cycle.

Hand-worked frames (DL/T 645-2007 appendix A data blocks: 0201FF00 电压数据块 = phases A, B, C, each
XXX.X in 2 bytes; DL/T 645-1997: 901F 正向有功电能数据块 = total and tariffs 1..4, each XXXXXX.XX in 4
bytes, here followed by a block end byte AA, which some 1997 meters send). Every data byte travels +33;
the checksum is the sum modulo 256 of the bytes from the first 68 to the last data byte
(``python3 -c "print(hex(sum(bytes.fromhex('...')) % 256))"``). The end-to-end tests run the simulated
meters over a socat pty pair, as tests/test_dlt645.py does.
"""

import datetime as dt
import logging
import math

import pytest

from collectors.dlt645.bustime import Line, byte_bits, frame_bytes, meters_per_minute, read_s, request_s
from collectors.dlt645.frame import (
    BLOCKS_1997,
    BLOCKS_2007,
    FAMILIES,
    FrameError,
    MeterException,
    decode_frame,
    encode_frame,
    parse_block_reply,
    read_request,
)
from collectors.dlt645.support import SILENT_LIMIT, Unsupported, plan
from collectors.health import device_health, render
from collectors.readers import reader_for
from tanjian.simulator import PlantSimulator
from tanjian.simulator.dlt645 import Dlt645BusSimulator
from tanjian.simulator.pty import VirtualSerialPair
from tests.conftest import free_port
from tests.small_sites import load_site, meter
from workspace.clock import Clock

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 11, 24, 2, 0, 30, tzinfo=UTC)  # 10:00:30 in Changsha, day shift


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


# -- blocks: hand-worked frames --------------------------------------------------------------------
def test_2007_voltage_block_request_and_reply_by_hand():
    # DI 0201FF00 is sent DI0..DI3 = 00 FF 01 02, +33: 33 32 34 35
    # CS: 68+94+35+21+90+88+55+68+11+04+33+32+34+35 = 0x40A -> 0A
    assert encode_frame(read_request("558890213594", 0x0201FF00)) == \
        h("FE FE FE FE 68 94 35 21 90 88 55 68 11 04 33 32 34 35 0A 16")
    # reply, L = 4 + 3 x 2 = 0A: A 220.1 V (01 22 +33 -> 34 55), B 221.0 (10 22 -> 43 55),
    # C 219.8 (98 21 -> CB 54)
    # CS: 68+94+35+21+90+88+55+68+91+0A+33+32+34+35+34+55+43+55+CB+54 = 0x6D0 -> D0
    frame = decode_frame(h("FE FE FE FE 68 94 35 21 90 88 55 68 91 0A 33 32 34 35 34 55 43 55 CB 54 D0 16"))
    got = parse_block_reply(frame, BLOCKS_2007[0x0201FF00])
    assert got == {0x02010100: 220.1, 0x02010200: 221.0, 0x02010300: 219.8}


def test_1997_energy_block_with_its_end_byte_by_hand():
    # meter 138000130754 (sent 54 07 13 00 80 13); DI 901F sent 1F 90, +33: 52 C3
    # CS: 68+54+07+13+00+80+13+68+01+02+52+C3 = 0x2E9 -> E9
    assert encode_frame(read_request("138000130754", 0x901F, 1997), wakeup=0) == \
        h("68 54 07 13 00 80 13 68 01 02 52 C3 E9 16")
    # reply, L = 2 + 5 x 4 + 1 = 0x17: total 1234.56 (56 34 12 00 -> 89 67 45 33), tariffs 123.45, 432.10,
    # 345.67, 333.34, and the block end AA (-> DD); CS 0xABB -> BB
    frame = decode_frame(h("68 54 07 13 00 80 13 68 81 17 52 C3 89 67 45 33 78 56 34 33 43 65 37 33 "
                           "9A 78 36 33 67 66 36 33 DD BB 16"))
    got = parse_block_reply(frame, BLOCKS_1997[0x901F], 1997)
    assert got == {0x9010: 1234.56, 0x9011: 123.45, 0x9012: 432.10, 0x9013: 345.67, 0x9014: 333.34}


def test_short_blocks_abnormal_replies_and_wrong_identifiers():
    volts = BLOCKS_2007[0x0201FF00]
    # a single-phase meter's voltage block: phase A only (L = 6); CS 0x515 -> 15
    frame = decode_frame(h("68 94 35 21 90 88 55 68 91 06 33 32 34 35 34 55 15 16"))
    assert parse_block_reply(frame, volts) == {0x02010100: 220.1}
    # 1997 abnormal reply C1, error 02 "wrong data identifier": 68 .. 68 C1 01 35, CS 0x2C8 -> C8
    frame = decode_frame(h("68 54 07 13 00 80 13 68 C1 01 35 C8 16"))
    with pytest.raises(MeterException, match="error byte 02: wrong data identifier") as e:
        parse_block_reply(frame, BLOCKS_1997[0xB61F], 1997)
    assert e.value.error == 0x02
    # the reply of another identifier (phase A voltage 02010100) is not the block's; CS 0x517 -> 17
    frame = decode_frame(h("68 94 35 21 90 88 55 68 91 06 33 34 34 35 34 55 17 16"))
    with pytest.raises(FrameError, match="reply to block 0201FF00 carries identifier 02010100"):
        parse_block_reply(frame, volts)
    # one byte of a two-byte member is no value; CS 0x4BF -> BF
    frame = decode_frame(h("68 94 35 21 90 88 55 68 91 05 33 32 34 35 34 BF 16"))
    with pytest.raises(FrameError, match="1 value byte"):
        parse_block_reply(frame, volts)


# -- the plan of a read ----------------------------------------------------------------------------
def test_plan_uses_blocks_that_carry_two_items_and_skips_what_a_meter_lacks():
    fam = FAMILIES["dlt645-2007-3p"]  # 16 items
    assert [r.di for r in plan(fam)] == [0x0001FF00, 0x0201FF00, 0x0202FF00, 0x0203FF00, 0x02060000]
    # the 2007 family: energy block, then voltage, current, power, power factor alone
    assert [r.di for r in plan(FAMILIES["dlt645-2007"])] == [0x0001FF00, 0x02010100, 0x02020100, 0x02030000,
                                                              0x02060000]
    assert [r.di for r in plan(FAMILIES["dlt645-1997"])] == [0x901F, 0xB611, 0xB621, 0xB630, 0xB650]
    # a single-phase meter read as three-phase: phases B and C skipped, the blocks no longer pay
    bc = {0x02010200, 0x02010300, 0x02020200, 0x02020300, 0x02030200, 0x02030300}
    assert [r.di for r in plan(fam, bc)] == [0x0001FF00, 0x02010100, 0x02020100, 0x0203FF00, 0x02060000]
    # a meter without the energy block: its counter first, the counter never skipped
    assert [r.di for r in plan(fam, {0x0001FF00, 0x00010000})][:5] == [0x00010000, 0x00010100, 0x00010200,
                                                                       0x00010300, 0x00010400]
    # without blocks: one request per item, in the family's order
    single = plan(FAMILIES["dlt645-2007-1p"])
    assert [r.items[0].quantity for r in single] == ["counter", "voltage", "current", "rate", "power_factor"]


def test_unsupported_marks_are_probed_again_after_a_day(caplog):
    now = [1000.0]
    memo = Unsupported(clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="collectors.dlt645.support"):
        memo.refused("M-1", 0x02010200, "02010200 (B相电压)", 0x02, 2007)
        now[0] += 86400
        assert memo.skip("M-1") == frozenset()
        memo.refused("M-1", 0x02010200, "02010200 (B相电压)", 0x02, 2007)  # the daily probe: same answer
    marked = [r for r in caplog.records if "does not answer 02010200" in r.getMessage()]
    assert [r.levelno for r in marked] == [logging.WARNING, logging.INFO]  # warned about once
    assert memo.skip("M-1") == {0x02010200}
    assert memo.of("M-1") == {"02010200": "error byte 02: no requested data (无请求数据)"}
    now[0] += 86399
    assert memo.skip("M-1") == {0x02010200}
    now[0] += 1
    assert memo.skip("M-1") == frozenset() and memo.of("M-1") == {}
    # silence is marked after SILENT_LIMIT reads in a row only; an answer in between starts again
    for _ in range(SILENT_LIMIT - 1):
        assert not memo.unanswered("M-1", 0xB621, "B621", "no answer")
    memo.answered("M-1", 0xB621)
    assert not memo.unanswered("M-1", 0xB621, "B621", "no answer")
    assert memo.skip("M-1") == frozenset()


# -- bus time --------------------------------------------------------------------------------------
def test_bus_time_by_hand():
    assert byte_bits(8, "E", 1) == 11 and byte_bits(8, "N", 1) == 10 and byte_bits(8, "E", 2) == 12
    line = Line(2400, 11, turnaround_s=0.05)
    # energy request: 4 FE + 12 + DI 4 = 20 bytes; reply 4 FE + 12 + 4 + 4 = 24 bytes
    assert frame_bytes(4) == 20 and frame_bytes(8) == 24
    # 44 bytes x 11 bits / 2400 bit/s = 0.2017 s, + 0.05 s turnaround
    assert request_s(line, [0x00010000], 2007) == pytest.approx(44 * 11 / 2400 + 0.05)
    # the energy block: reply 4 FE + 12 + 4 + 5 x 4 = 40 bytes: 60 x 11 / 2400 + 0.05
    assert request_s(line, BLOCKS_2007[0x0001FF00].members, 2007) == pytest.approx(60 * 11 / 2400 + 0.05)
    one_by_one = read_s(line, plan(FAMILIES["dlt645-2007-1p"]), 2007)
    assert one_by_one == pytest.approx(sum(request_s(line, [d], 2007) for d in
                                           (0x00010000, 0x02010100, 0x02020100, 0x02030000, 0x02060000)))
    # 30 meters of the 9 items of dlt645-2007 at 2,400 baud: one by one they do not fit a minute
    # (5 x 0.2517 + 2 x 0.2425 + 2 x 0.2471 = 2.237 s a meter, 67 s), with the energy block they do
    # (0.3250 + 0.9792 = 1.304 s a meter, 39 s)
    fam = FAMILIES["dlt645-2007"]
    from dataclasses import replace

    singles = read_s(line, plan(replace(fam, blocks=False)), 2007)
    blocks = read_s(line, plan(fam), 2007)
    assert singles == pytest.approx(2.2375, abs=1e-3) and blocks == pytest.approx(1.3042, abs=1e-3)
    assert 30 * singles > 60 > 30 * blocks
    assert meters_per_minute(singles, 1) == pytest.approx(26.8, abs=0.1)


def test_a_bus_estimated_before_it_is_wired(tmp_path):
    from collectors.dlt645.bustime import estimate_cycle_s

    gw = {"id": "bus-1", "protocol": "dlt645_serial", "device": "/dev/ttyUSB0", "baudrate": 2400}  # 8E1
    devices = ("D-WELD", "D-CNC", "D-LIGHT", "D-PUMP")
    cfg = load_site(tmp_path, [gw], [meter(f"M-{k:02d}", "bus-1", devices[k % 4], "dlt645-2007",
                                           address=f"{k + 1:012d}") for k in range(30)])
    # 30 meters x 1.3042 s (the energy block and four items, as worked by hand above)
    assert estimate_cycle_s(cfg.site.gateways[0], cfg.site.meters) == pytest.approx(30 * 1.3042, abs=0.01)


# -- end to end over a serial pair -----------------------------------------------------------------
async def test_meters_lacking_items_still_deliver_their_energy(tmp_path, caplog):
    async with VirtualSerialPair(tmp_path) as (a, b):
        gw = {"id": "bus-1", "protocol": "dlt645_serial", "device": a, "parity": "N", "baudrate": 2400,
              "timeout_s": 0.5}
        cfg = load_site(tmp_path, [gw], [
            meter("M-1P", "bus-1", "D-WELD", "dlt645-2007-3p", address="000000000001"),
            meter("M-NOBLK", "bus-1", "D-CNC", "dlt645-2007", address="000000000002"),
            meter("M-97", "bus-1", "D-LIGHT", "dlt645-1997", address="000000000003"),
            meter("M-1RATE", "bus-1", "D-PUMP", "dlt645-2007", address="000000000004")])
        clock = Clock.simulated(T0, speed=1)
        plant = PlantSimulator(cfg.site, clock)
        async with Dlt645BusSimulator(plant, "bus-1", serial_port=b) as sim:
            # a single-phase meter configured as three-phase: no phase B or C, no per-phase power
            phases_bc = {0x02010200, 0x02010300, 0x02020200, 0x02020300, 0x02030100, 0x02030200, 0x02030300}
            sim.lacks("M-1P", phases_bc)
            sim.lacks("M-NOBLK", {0x0001FF00, 0x02060000})  # no blocks, no power factor
            sim.lacks("M-97", {0xB621})  # 1997: current refused ("wrong data identifier")
            sim.without_tariffs("M-1RATE")  # its energy block holds the total only
            reader = reader_for(cfg.site.gateways, clock, backoff_initial_s=60)
            bus = reader.links["bus-1"]
            now = [0.0]
            bus.unsupported.clock = lambda: now[0]
            try:
                with caplog.at_level(logging.INFO, logger="collectors.dlt645"):
                    got = {r.meter: r for r in await reader.read(cfg.site.meters)}
                assert sorted(got) == ["M-1P", "M-1RATE", "M-97", "M-NOBLK"]  # every meter's energy
                for m, r in got.items():
                    assert r.counter == pytest.approx(plant.values(m, r.time)["counter"], abs=0.0051)
                assert math.isnan(got["M-NOBLK"].power_factor) and math.isnan(got["M-97"].current)
                assert not math.isnan(got["M-97"].voltage) and got["M-1RATE"].tariffs is None
                tariffs = got["M-NOBLK"].tariffs
                assert tariffs is not None and not any(math.isnan(t) for t in tariffs)
                v = reader.last_values["M-1P"]
                assert {"voltage_b", "current_c", "rate_a"}.isdisjoint(v) and v["rate"] > 0
                assert sorted(reader.health["M-1P"].unsupported) == ["02010200", "02010300", "02020200",
                                                                     "02020300", "02030100", "02030200",
                                                                     "02030300"]
                assert sorted(reader.health["M-NOBLK"].unsupported) == ["0001FF00", "02060000"]
                assert reader.health["M-97"].unsupported == {"B621": "error byte 02: wrong data identifier "
                                                                     "(数据标识错)"}
                assert sorted(reader.health["M-1RATE"].unsupported) == ["00010100", "00010200", "00010300",
                                                                        "00010400"]
                assert any("does not answer 0001FF00" in r.getMessage() for r in caplog.records)
                assert any("a cycle of 4 meter(s)" in r.getMessage() for r in caplog.records)

                # the second read asks for nothing the meters refused
                sim.asked.clear()
                await reader.read(cfg.site.meters)
                asked = {m: [di for mm, di in sim.asked if mm == m] for m in got}
                assert asked["M-1P"] == [0x0001FF00, 0x02010100, 0x02020100, 0x02030000, 0x02060000]
                assert asked["M-NOBLK"] == [0x00010000, 0x00010100, 0x00010200, 0x00010300, 0x00010400,
                                            0x02010100, 0x02020100, 0x02030000]
                assert asked["M-97"] == [0x901F, 0xB611, 0xB630, 0xB650]
                # its tariffs marked, the energy block would carry the total alone: the total is asked
                assert asked["M-1RATE"] == [0x00010000, 0x02010100, 0x02020100, 0x02030000, 0x02060000]
                refused = {mm for mm, di in sim.asked if di in sim.lacking.get(mm, ())}
                assert refused == set()

                # a day later every mark is probed once again; the meter now has its power factor
                now[0] += 86400
                sim.lacking["M-NOBLK"].discard(0x02060000)
                sim.asked.clear()
                got = {r.meter: r for r in await reader.read(cfg.site.meters)}
                assert (("M-NOBLK", 0x02060000) in sim.asked and ("M-97", 0xB621) in sim.asked
                        and ("M-NOBLK", 0x0001FF00) in sim.asked)
                assert not math.isnan(got["M-NOBLK"].power_factor)
                assert sorted(reader.health["M-NOBLK"].unsupported) == ["0001FF00"]
                assert "B621" in reader.health["M-97"].unsupported  # refused again: marked anew
            finally:
                reader.close()

    # the health table shows them (as `tanjian health` renders it)
    import json

    run = tmp_path / "var" / "run"
    run.mkdir(parents=True, exist_ok=True)
    (run / "health.json").write_text(json.dumps({
        "written_at": 1.0, "devices": {k: v.as_dict() for k, v in reader.health.items()}}))
    table = device_health(tmp_path / "var", now=2.0)
    assert table.loc["M-97", "unsupported"] == "B621"
    assert table.loc["M-NOBLK", "unsupported"] == "0001FF00"
    text = render(table)
    assert "unsupported" in text and "02010200, 02010300" in text


async def test_the_collector_journals_what_was_answered_and_its_health_names_the_rest(tmp_path):
    """Through the collection service: both meters journaled (the 1997 one without current and power
    factor), and the health file, as `tanjian health` reads it, names what the 1997 meter lacks."""
    from collectors.health import summary
    from collectors.service import CollectionService
    from workspace.batch import decode_batch
    from workspace.journal import Journal

    port = free_port()
    cfg = load_site(tmp_path, [{"id": "srv-1", "protocol": "dlt645_tcp", "port": port, "timeout_s": 0.5}],
                    [meter("M-A", "srv-1", "D-WELD", "dlt645-2007", address="000000000001"),
                     meter("M-B", "srv-1", "D-CNC", "dlt645-1997", address="000000000002")])
    clock = Clock.simulated(T0, speed=0)
    plant = PlantSimulator(cfg.site, clock)
    journal = Journal(cfg.paths.journal, writer=True)
    try:
        async with Dlt645BusSimulator(plant, "srv-1") as sim:
            sim.lacks("M-B", {0xB621, 0xB650})  # 1997: current and power factor refused
            svc = CollectionService(cfg.site, journal, None, clock, source="dlt645",
                                    health_path=cfg.paths.run / "health.json")
            try:
                assert await svc.poll_once() == 2
                svc.write_health()
            finally:
                await svc.close()
        (batch,) = [decode_batch(p) for _, p in journal.records(0, len(journal))]
    finally:
        journal.close()
    got = {r.meter: r for r in batch.readings}
    assert got["M-B"].counter == pytest.approx(plant.values("M-B", T0)["counter"], abs=0.0051)
    assert math.isnan(got["M-B"].current) and math.isnan(got["M-B"].power_factor) and got["M-B"].voltage > 0
    assert got["M-B"].tariffs is not None and not math.isnan(got["M-A"].current)
    table = device_health(cfg.paths.data_dir, cfg.site)
    assert table.loc["M-B", "unsupported"] == "B621, B650" and table.loc["M-A", "unsupported"] == ""
    assert list(table["state"]) == ["ok", "ok"]
    assert summary(table).endswith("; 1 lacking optional items (column unsupported)")


async def test_a_meter_silent_on_what_it_lacks_is_marked_after_three_reads(tmp_path):
    """Some meters do not answer identifiers they do not know: silence on the energy block falls back to
    single reads at once; silence on an item after the counter ends the read with what was answered.
    Both are marked after three reads in a row, and the fourth read waits for no timeout."""
    port = free_port()
    cfg = load_site(tmp_path, [{"id": "srv-1", "protocol": "dlt645_tcp", "port": port, "timeout_s": 0.3}],
                    [meter("M-SIL", "srv-1", "D-WELD", "dlt645-2007", address="000000000001")])
    clock = Clock.simulated(T0, speed=1)
    plant = PlantSimulator(cfg.site, clock)
    async with Dlt645BusSimulator(plant, "srv-1") as sim:
        sim.silent_on("M-SIL", {0x0001FF00, 0x02020100})  # no energy block, no current
        reader = reader_for(cfg.site.gateways, clock)
        bus = reader.links["srv-1"]
        try:
            for k in range(SILENT_LIMIT):
                r, = await reader.read(cfg.site.meters)
                # energy, its tariffs and the voltage; the read ends at the silent current
                assert r.counter > 0 and r.tariffs is not None and r.voltage > 0
                assert math.isnan(r.current) and math.isnan(r.rate)
                assert bus.last_cycle["timeouts"] == 2
                want = [] if k < SILENT_LIMIT - 1 else ["0001FF00", "02020100"]
                assert sorted(reader.health["M-SIL"].unsupported) == want
            sim.asked.clear()
            r, = await reader.read(cfg.site.meters)
            assert bus.last_cycle["timeouts"] == 0 and r.rate > 0 and r.power_factor > 0
            assert [di for _, di in sim.asked] == [0x00010000, 0x00010100, 0x00010200, 0x00010300, 0x00010400,
                                                   0x02010100, 0x02030000, 0x02060000]
        finally:
            reader.close()


async def test_a_cycle_that_does_not_fit_its_period_is_warned_about(tmp_path, caplog):
    """Replies paced at the line's speed: the bus time computed from the bytes matches the time the
    cycle took, and two meters of 5 requests at 2,400 baud do not fit a 1 s period."""
    async with VirtualSerialPair(tmp_path) as (a, b):
        gw = {"id": "bus-1", "protocol": "dlt645_serial", "device": a, "parity": "N", "baudrate": 2400,
              "timeout_s": 1.0}
        cfg = load_site(tmp_path, [gw], [
            meter("M-A", "bus-1", "D-WELD", "dlt645-2007", address="000000000001", period_s=1),
            meter("M-B", "bus-1", "D-CNC", "dlt645-2007", address="000000000002", period_s=1)])
        clock = Clock.simulated(T0, speed=1)
        plant = PlantSimulator(cfg.site, clock)
        line = Line.of(cfg.site.gateways[0])
        assert line.bits == 10  # 8N1 (a pty refuses parity)
        async with Dlt645BusSimulator(plant, "bus-1", serial_port=b, pace=line):
            reader = reader_for(cfg.site.gateways, clock)
            try:
                with caplog.at_level(logging.WARNING, logger="collectors.dlt645.bus"):
                    assert len(await reader.read(cfg.site.meters)) == 2
            finally:
                reader.close()
    cycle = reader.links["bus-1"].last_cycle
    assert cycle["meters"] == 2 and cycle["exchanges"] == 10 and cycle["timeouts"] == 0
    # 5 requests of 20 bytes; replies 4 FE + 12 + 4 + 20 (block) and 4 x (20 + 2..4 value bytes)
    want = 2 * (5 * 20 + 40 + 22 + 23 + 23 + 22)
    assert cycle["bytes"] == want
    assert cycle["bus_s"] == pytest.approx(want * 10 / 2400 + 10 * line.turnaround_s)
    assert cycle["took_s"] == pytest.approx(cycle["bus_s"], rel=0.25)
    warned = [r.getMessage() for r in caplog.records if "does not fit the 1 s period" in r.getMessage()]
    assert len(warned) == 1 and "a cycle of 2 meter(s), 10 exchange(s)" in warned[0]

