"""DL/T 645 meter clocks: the date and time identifiers against hand-worked frames, and end to end over
a simulated meter behind a transparent serial server, a meter whose clock is 5 minutes fast is flagged
CLOCK_DRIFT in the store, a correct one is not, and a meter that does not tell its clock still delivers
its energy (and is not asked for its clock again).

Hand-worked frames (DL/T 645-2007 appendix A 04000101 日期及星期 YYMMDDWW and 04000102 时间 hhmmss;
DL/T 645-1997 C010 日期及周次 YYMMDDWW and C011 时间 hhmmss; values BCD, low byte first, +33 each):
Tuesday 2026-11-24 (WW = 02, 0 is Sunday), 10:00:30 in the meter's local time (Asia/Shanghai,
02:00:30 UTC). The checksums are the sums of the bytes from the first 68 to the byte before the
checksum, low byte kept (``python3 -c "print(hex(sum(bytes.fromhex('...')) % 256))"``).
"""

import datetime as dt
import logging
from zoneinfo import ZoneInfo

import pytest

from collectors.dlt645.frame import (
    Frame,
    FrameError,
    MeterException,
    abnormal_reply,
    decode_date,
    decode_frame,
    decode_time,
    encode_date,
    encode_frame,
    encode_time,
    meter_clock,
    parse_read_raw,
    read_request,
)
from collectors.readers import reader_for
from tanjian.simulator import PlantSimulator
from tanjian.simulator.dlt645 import Dlt645BusSimulator
from tests.conftest import free_port
from tests.small_sites import load_site, meter
from workspace.batch import encode_batch
from workspace.clock import Clock
from workspace.journal import Journal
from workspace.quality import Q
from workspace.store import Store

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 11, 24, 2, 0, 30, tzinfo=UTC)  # 10:00:30 in Changsha, a Tuesday


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


# -- codec ------------------------------------------------------------------------------------------
def test_2007_date_and_time_frames_worked_by_hand():
    # request 04000101 of meter 558890213594 (address sent 94 35 21 90 88 55): DI sent 01 01 00 04,
    # +33: 34 34 33 37. CS: 68+94+35+21+90+88+55+68 = 0x327, +11+04 = 0x33C, +34+34+33+37 = 0x40E -> 0E
    assert encode_frame(read_request("558890213594", 0x04000101), wakeup=0) == \
        h("68 94 35 21 90 88 55 68 11 04 34 34 33 37 0E 16")
    # reply, date YYMMDDWW = 26 11 24 02 sent 02 24 11 26, +33: 35 57 44 59; L = 4 + 4 = 08
    # CS: 0x327 + 91 + 08 = 0x3C0, +34+34+33+37 = 0x492, +35+57+44+59 = 0x5BB -> BB
    reply = decode_frame(h("FE FE FE FE 68 94 35 21 90 88 55 68 91 08 34 34 33 37 35 57 44 59 BB 16"))
    di, raw = parse_read_raw(reply)
    assert di == 0x04000101 and raw == h("02 24 11 26")
    assert decode_date(raw) == (dt.date(2026, 11, 24), 2)
    # reply to 04000102 (DI sent 02 01 00 04, +33: 35 34 33 37), time hhmmss = 10 00 30 sent 30 00 10,
    # +33: 63 33 43; L = 4 + 3 = 07. CS: 0x327 + 91 + 07 = 0x3BF, +35+34+33+37 = 0x492,
    # +63+33+43 = 0x56B -> 6B
    reply = decode_frame(h("68 94 35 21 90 88 55 68 91 07 35 34 33 37 63 33 43 6B 16"))
    di, raw = parse_read_raw(reply)
    assert di == 0x04000102 and decode_time(raw) == dt.time(10, 0, 30)
    # the meter keeps local time: 10:00:30 in Asia/Shanghai (UTC+8, no summer time) is 02:00:30 UTC
    assert meter_clock(dt.date(2026, 11, 24), dt.time(10, 0, 30), "Asia/Shanghai") == T0
    # the meter's side makes the same bytes
    assert encode_date(dt.date(2026, 11, 24)) == h("02 24 11 26") and encode_time(dt.time(10, 0, 30)) == \
        h("30 00 10")


def test_1997_date_and_time_frames_worked_by_hand():
    # meter 138000130754 (sent 54 07 13 00 80 13): 68+54+07+13+00+80+13+68 = 0x2D1
    # request C010: DI sent 10 C0, +33: 43 F3. CS: 0x2D1 + 01+02 + 43+F3 = 0x40A -> 0A
    assert encode_frame(read_request("138000130754", 0xC010, 1997), wakeup=0) == \
        h("68 54 07 13 00 80 13 68 01 02 43 F3 0A 16")
    # reply: 43 F3 | 35 57 44 59 (26 11 24 02). CS: 0x2D1 + 81+06 = 0x358, +43+F3 = 0x48E,
    # +35+57+44+59 = 0x5B7 -> B7
    di, raw = parse_read_raw(decode_frame(h("68 54 07 13 00 80 13 68 81 06 43 F3 35 57 44 59 B7 16")), 1997)
    assert di == 0xC010 and decode_date(raw) == (dt.date(2026, 11, 24), 2)
    # reply to C011 (sent 11 C0, +33: 44 F3): 63 33 43 (10 00 30). CS: 0x2D1 + 81+05 = 0x357,
    # +44+F3 = 0x48E, +63+33+43 = 0x567 -> 67
    di, raw = parse_read_raw(decode_frame(h("68 54 07 13 00 80 13 68 81 05 44 F3 63 33 43 67 16")), 1997)
    assert di == 0xC011 and decode_time(raw) == dt.time(10, 0, 30)


@pytest.mark.parametrize("raw, message", [
    ("01 30 02 26", "date YYMMDDWW 26023001: no such date"),       # 2026-02-30
    ("01 00 00 00", "date YYMMDDWW 00000001: no such date"),       # an unset clock: 00-00-00
    ("02 24 1A 26", "byte 1A is not BCD"),
    ("07 24 11 26", "week day 7 is not 0 (Sunday) .. 6"),
    ("02 24 11", "a date YYMMDDWW has 4 bytes, not 3"),
])
def test_impossible_dates_are_refused(raw, message):
    with pytest.raises(FrameError) as e:
        decode_date(h(raw))
    assert message in str(e.value)


@pytest.mark.parametrize("raw, message", [
    ("00 00 24", "time hhmmss 240000: no such time"),
    ("00 60 12", "time hhmmss 126000: no such time"),
    ("5F 00 12", "byte 5F is not BCD"),
    ("00 00 12 00", "a time hhmmss has 3 bytes, not 4"),
])
def test_impossible_times_are_refused(raw, message):
    with pytest.raises(FrameError) as e:
        decode_time(h(raw))
    assert message in str(e.value)


def test_a_clock_reply_of_the_wrong_size_and_an_abnormal_one():
    # a date reply with 3 value bytes (data 01 01 00 04 | 24 11 26)
    with pytest.raises(FrameError, match=r"has 4 bytes, the reply carries 3"):
        parse_read_raw(Frame("558890213594", 0x91, h("01 01 00 04 24 11 26")))
    with pytest.raises(MeterException, match="no requested data"):
        parse_read_raw(abnormal_reply("558890213594", 0x02))


# -- end to end -------------------------------------------------------------------------------------
async def test_a_fast_clock_is_flagged_clock_drift_in_the_store(tmp_path, caplog):
    port = free_port()
    gw = {"id": "srv-1", "protocol": "dlt645_tcp", "port": port, "timeout_s": 0.5, "clock_interval_s": 0}
    cfg = load_site(tmp_path, [gw], [
        meter("M-FAST", "srv-1", "D-WELD", "dlt645-2007", address="000000000001"),
        meter("M-OK", "srv-1", "D-CNC", "dlt645-2007", address="000000000002"),
        meter("M-97", "srv-1", "D-LIGHT", "dlt645-1997", address="000000000003"),
        meter("M-NOCLK", "srv-1", "D-PUMP", "dlt645-2007", address="000000000004"),
        meter("M-OFF", "srv-1", "D-PUMP", "dlt645-2007", address="000000000005", read_clock=False)])
    clock = Clock.simulated(T0, speed=1)
    plant = PlantSimulator(cfg.site, clock)
    async with Dlt645BusSimulator(plant, "srv-1") as sim:
        sim.set_clock("M-FAST", offset_s=300)  # 5 minutes fast
        sim.set_clock("M-97", offset_s=-20)    # 20 s slow: within the 60 s tolerance
        sim.without_clock("M-NOCLK")
        reader = reader_for(cfg.site.gateways, clock, timezone=cfg.site.plant.timezone)
        try:
            with caplog.at_level(logging.WARNING, logger="collectors.dlt645.bus"):
                first = {r.meter: r for r in await reader.read(cfg.site.meters)}
                # 5 requests a meter (the energy block and four items), + date and time for three, + the
                # refused date of M-NOCLK
                assert sim.requests == 5 * 5 + 3 * 2 + 1
                second = {r.meter: r for r in await reader.read(cfg.site.meters)}
                assert sim.requests == 2 * 5 * 5 + 2 * 3 * 2 + 1  # M-NOCLK is not asked again
            assert sorted(first) == sorted(second) == ["M-97", "M-FAST", "M-NOCLK", "M-OFF", "M-OK"]
            refused = [r for r in caplog.records if "does not tell its clock" in r.getMessage()]
            assert len(refused) == 1 and "M-NOCLK" in refused[0].getMessage()
            assert "04000101" in reader.links["srv-1"].no_clock["M-NOCLK"]
        finally:
            reader.close()
    for got in (first, second):
        # hhmmss carries whole seconds, and a read takes a few hundred ms: 2 s either way
        assert (got["M-FAST"].device_time - got["M-FAST"].time).total_seconds() == pytest.approx(300, abs=2)
        assert (got["M-97"].device_time - got["M-97"].time).total_seconds() == pytest.approx(-20, abs=2)
        assert abs((got["M-OK"].device_time - got["M-OK"].time).total_seconds()) <= 2
        assert got["M-NOCLK"].device_time is None and got["M-NOCLK"].counter > 0
        assert got["M-OFF"].device_time is None

    journal = Journal(cfg.paths.journal, writer=True)
    try:
        store = Store.open(cfg.paths.store, cfg.site, create=True)
        journal.append(encode_batch(cfg.site.plant.id, journal.next_seq, "t", list(first.values())))
        store.fold(journal)
    finally:
        journal.close()
    rep = store.quality_report("2026-11-24 10:00", "2026-11-24 10:02")
    assert rep["clock_drift"].to_dict() == {"M-FAST": 1, "M-OK": 0, "M-97": 0, "M-NOCLK": 0, "M-OFF": 0}
    assert rep["readings"].to_dict() == {m: 1 for m in first}  # energy of every meter, clock or not
    ds = store.dataset()
    q = int(ds.quality.sel(meter="M-FAST", time=dt.datetime(2026, 11, 24, 2, 0)).values)
    assert q & int(Q.CLOCK_DRIFT)


async def test_the_clock_is_read_every_interval_and_midnight_is_handled(tmp_path):
    """With an hour's interval the clock is read at the first poll only; a meter read a second before
    its midnight gets its date asked again after the time (the date may predate the time)."""
    port = free_port()
    gw = {"id": "srv-1", "protocol": "dlt645_tcp", "port": port, "timeout_s": 0.5}  # clock_interval_s: 3600
    cfg = load_site(tmp_path, [gw], [meter("M-A", "srv-1", "D-WELD", "dlt645-2007", address="000000000001")])
    # 00:00:00.4 local on 2026-11-25: the meter shows 00:00:00, so the date is read twice
    clock = Clock.simulated(dt.datetime(2026, 11, 24, 16, 0, 0, 400_000, tzinfo=UTC), speed=0)  # frozen
    plant = PlantSimulator(cfg.site, clock)
    async with Dlt645BusSimulator(plant, "srv-1") as sim:
        reader = reader_for(cfg.site.gateways, clock, timezone="Asia/Shanghai")
        try:
            r1, = await reader.read(cfg.site.meters)
            assert sim.requests == 5 + 3  # energy block and four items; date, time, date again
            r2, = await reader.read(cfg.site.meters)
            assert sim.requests == 5 + 3 + 5  # the clock is not due again for an hour
        finally:
            reader.close()
    assert r1.device_time.date() == dt.date(2026, 11, 24)  # 2026-11-25 local is still the 24th in UTC
    assert abs((r1.device_time - r1.time).total_seconds()) <= 2
    assert r2.device_time is None


async def test_a_clock_that_lost_its_setting_gives_no_device_time_and_is_asked_again(tmp_path, caplog):
    port = free_port()
    gw = {"id": "srv-1", "protocol": "dlt645_tcp", "port": port, "timeout_s": 0.5, "clock_interval_s": 0}
    cfg = load_site(tmp_path, [gw], [meter("M-A", "srv-1", "D-WELD", "dlt645-2007", address="000000000001")])
    clock = Clock.simulated(T0, speed=1)
    plant = PlantSimulator(cfg.site, clock)
    async with Dlt645BusSimulator(plant, "srv-1") as sim:
        sim.clock_lost("M-A")  # date 00 00 00 00: no such date
        reader = reader_for(cfg.site.gateways, clock, timezone="Asia/Shanghai")
        try:
            with caplog.at_level(logging.WARNING, logger="collectors.dlt645.bus"):
                r1, = await reader.read(cfg.site.meters)
                r2, = await reader.read(cfg.site.meters)
            assert sim.requests == 2 * (5 + 2)  # asked again: a bad value is not "no clock"
        finally:
            reader.close()
    assert r1.device_time is None and r2.device_time is None and r1.counter > 0
    bad = [r.getMessage() for r in caplog.records if "reading its clock" in r.getMessage()]
    assert len(bad) == 2 and "date YYMMDDWW 00000000: no such date" in bad[0]
    assert reader.links["srv-1"].no_clock == {}


def test_the_simulated_clock_drifts_at_its_rate(tmp_path):
    cfg = load_site(tmp_path, [{"id": "srv-1", "protocol": "dlt645_tcp", "port": 1}],
                    [meter("M-A", "srv-1", "D-WELD", "dlt645-2007", address="000000000001")])
    plant = PlantSimulator(cfg.site, Clock.simulated(T0, speed=0))
    sim = Dlt645BusSimulator(plant, "srv-1")
    sim.set_clock("M-A", offset_s=-60, drift_ppm=100)  # a minute slow, gaining 100 µs a second
    assert sim.meter_time("M-A") == dt.datetime(2026, 11, 24, 9, 59, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    plant.clock = Clock.simulated(T0 + dt.timedelta(days=1), speed=0)  # a day on: 86400 s x 1e-4 = 8.64 s
    assert sim.meter_time("M-A") == dt.datetime(2026, 11, 25, 9, 59, 38, 640_000,
                                                tzinfo=ZoneInfo("Asia/Shanghai"))
