"""DL/T 645-2007/1997: the codec against frames published by others, malformed frames, and the client
against simulated meters over a virtual serial pair and over TCP (a transparent serial server).

Published frames used here (sources named at each test):

[CSDN-118301341] blog post "参考DL/T645-2007",
    https://blog.youkuaiyun.com/EXEC_CHRONICLE_KEY/article/details/118301341 (mirror of CSDN article 118301341): a real meter at address 558890213594, read address, energy,
    voltage, current and power, requests and replies as captured.
[KALEDL-1493168] https://kaledl.com/down/1493168.html: DL/T 645-1997 reads of 9010 from meters
    138000130754 and 000003430163.
[TJSMART-564] http://www.tjsmart.net/show/384/564.shtml: a 2007 energy read whose printed checksum
    does not match its bytes (the address was probably edited for publication): a real-world bad frame.

Checksums are hand-checked in the comments: the sum of the bytes from the first 68 to the byte before
the checksum, keeping the low byte (``python3 -c "print(hex(sum(bytes.fromhex('...')) % 256))"``).
"""

import asyncio
import datetime as dt

import pytest

from collectors.dlt645.frame import (
    FAMILIES,
    READ_ADDRESS_2007,
    WILDCARD,
    Frame,
    FrameError,
    MeterException,
    abnormal_reply,
    bcd_bytes,
    bcd_value,
    decode_frame,
    encode_frame,
    find_frame,
    parse_read_reply,
    read_request,
)
from collectors.dlt645.bus import Dlt645Bus
from collectors.readers import reader_for
from tanjian.simulator import PlantSimulator
from tanjian.simulator.dlt645 import Dlt645BusSimulator, tariff_split
from tanjian.simulator.pty import VirtualSerialPair
from tests.conftest import free_port
from tests.small_sites import load_site, meter
from workspace.clock import Clock
from workspace.errors import CollectorError, ConfigError

UTC = dt.timezone.utc
# 10:00:30 in Changsha, inside the day shift; the clock runs at real speed, so a meter's values do not
# move (beyond their last digit) during the few requests of one read
T0 = dt.datetime(2026, 11, 24, 2, 0, 30, tzinfo=UTC)


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


# -- codec: DL/T 645-2007, published frames --------------------------------------------------------
def test_read_energy_request_matches_the_published_frame():
    # [CSDN-118301341] send: FE FE FE FE 68 94 35 21 90 88 55 68 11 04 33 33 34 33 09 16
    # CS: 68+94+35+21+90+88+55+68+11+04+33+33+34+33 = 0x409 -> 09
    ours = encode_frame(read_request("558890213594", 0x00010000), wakeup=4)
    assert ours == h("FE FE FE FE 68 94 35 21 90 88 55 68 11 04 33 33 34 33 09 16")
    assert encode_frame(read_request("558890213594", 0x02010100)) == \
        h("FE FE FE FE 68 94 35 21 90 88 55 68 11 04 33 34 34 35 0C 16")  # voltage A, CS 0x40C
    assert encode_frame(read_request("558890213594", 0x02020100)) == \
        h("FE FE FE FE 68 94 35 21 90 88 55 68 11 04 33 34 35 35 0D 16")  # current A, CS 0x40D
    # The post's "读功率" exchange sends 35 36 33 33, i.e. DI0..DI3 = 02 03 00 00 in the order of
    # transmission: the identifier 00000302, not total active power 02030000 (sent 33 33 36 35), and
    # its reply carries 4 value bytes where power has 3. Not used here as a power frame.
    assert encode_frame(read_request("558890213594", 0x02030000))[-8:-2] == h("11 04 33 33 36 35")


@pytest.mark.parametrize("reply, di, value", [
    # [CSDN-118301341] energy: data 33 33 34 33 | 59 35 33 33 -> DI 00010000, 26 02 00 00 -> 000002.26 kWh
    # CS: 68+94+35+21+90+88+55+68+91+08+33+33+34+33+59+35+33+33 = 0x581 -> 81
    ("FE FE FE FE 68 94 35 21 90 88 55 68 91 08 33 33 34 33 59 35 33 33 81 16", 0x00010000, 2.26),
    # voltage A: 7B 55 -> 48 22 -> 224.8 V (XXX.X); CS 0x55E -> 5E
    ("FE FE FE FE 68 94 35 21 90 88 55 68 91 06 33 34 34 35 7B 55 5E 16", 0x02010100, 224.8),
    # current A: 6B 35 33 -> 38 02 00 -> 000.238 A (XXX.XXX); CS 0x563 -> 63
    ("FE FE FE FE 68 94 35 21 90 88 55 68 91 07 33 34 35 35 6B 35 33 63 16", 0x02020100, 0.238),
])
def test_published_replies_decode(reply, di, value):
    frame = decode_frame(h(reply))
    assert frame.address == "558890213594" and frame.control == 0x91 and frame.is_reply
    assert parse_read_reply(frame) == (di, value)


def test_read_address_frames_match_the_published_ones():
    # [CSDN-118301341] send: FE FE FE FE 68 AA AA AA AA AA AA 68 13 00 DF 16 (also [TJSMART-564])
    # CS: 68+AA*6+68+13+00 = 0x4DF -> DF
    assert encode_frame(Frame(WILDCARD, READ_ADDRESS_2007)) == \
        h("FE FE FE FE 68 AA AA AA AA AA AA 68 13 00 DF 16")
    # recv: 68 94 35 21 90 88 55 68 93 06 C7 68 54 C3 BB 88 49 16; data - 33 = 94 35 21 90 88 55
    # CS: 0x549 -> 49
    reply = decode_frame(h("FE FE FE FE 68 94 35 21 90 88 55 68 93 06 C7 68 54 C3 BB 88 49 16"))
    assert reply.control == 0x93 and reply.data == h("94 35 21 90 88 55")
    assert reply.address == "558890213594"


def test_a_published_frame_with_a_wrong_checksum_is_refused():
    # [TJSMART-564] prints FE FE FE FE 68 75 67 12 66 88 00 68 11 04 33 33 34 33 C6 16, but
    # 68+75+67+12+66+88+00+68+11+04+33+33+34+33 = 0x38E: the checksum should be 8E
    with pytest.raises(FrameError, match="checksum is C6, the bytes sum to 8E"):
        decode_frame(h("FE FE FE FE 68 75 67 12 66 88 00 68 11 04 33 33 34 33 C6 16"))
    # its reply likewise: printed F5, the bytes sum to BD
    with pytest.raises(FrameError, match="checksum is F5, the bytes sum to BD"):
        decode_frame(h("68 75 67 12 66 88 00 68 91 08 33 33 34 33 A4 56 79 38 F5 16"))
    # with the checksum its bytes have, the reply reads 05 46 23 71 -> 054623.71 kWh
    frame = decode_frame(h("68 75 67 12 66 88 00 68 91 08 33 33 34 33 A4 56 79 38 BD 16"))
    assert frame.address == "008866126775" and parse_read_reply(frame) == (0x00010000, 54623.71)


def test_abnormal_reply_names_the_error_bits():
    # DL/T 645-2007 section 7.1: abnormal reply C = D1, L = 01, data = error byte + 33.
    # Error 02 "no requested data": 68 94 35 21 90 88 55 68 D1 01 35 CS 16 with
    # CS = 68+94+35+21+90+88+55+68+D1+01+35 = 0x42E -> 2E
    raw = h("68 94 35 21 90 88 55 68 D1 01 35 2E 16")
    frame = decode_frame(raw)
    assert frame.is_abnormal and encode_frame(abnormal_reply("558890213594", 0x02), wakeup=0) == raw
    with pytest.raises(MeterException, match=r"error byte 02: no requested data \(无请求数据\)") as e:
        parse_read_reply(frame)
    assert e.value.error == 2 and isinstance(e.value, CollectorError)
    # 1997: C1, error 02 is "wrong data identifier"; CS 68+54+07+13+00+80+13+68+C1+01+35 = 0x3C8 -> C8
    f97 = decode_frame(h("68 54 07 13 00 80 13 68 C1 01 35 C8 16"))
    with pytest.raises(MeterException, match="wrong data identifier"):
        parse_read_reply(f97, 1997)


# -- codec: DL/T 645-1997 ---------------------------------------------------------------------------
def test_1997_read_of_9010_matches_the_published_frames():
    # [KALEDL-1493168] 68 54 07 13 00 80 13 68 01 02 43 C3 DA 16: DI 9010 sent 10 90 (+33: 43 C3)
    # CS: 68+54+07+13+00+80+13+68+01+02+43+C3 = 0x3DA -> DA
    assert encode_frame(read_request("138000130754", 0x9010, 1997), wakeup=0) == \
        h("68 54 07 13 00 80 13 68 01 02 43 C3 DA 16")
    # meter "RS3430163": 68 63 01 43 03 00 00 68 01 02 43 C3 83 16, CS 0x383 -> 83
    assert encode_frame(read_request("000003430163", 0x9010, 1997), wakeup=0) == \
        h("68 63 01 43 03 00 00 68 01 02 43 C3 83 16")
    # reply 68 54 07 13 00 80 13 68 81 06 43 C3 34 33 33 33 2B 16: 01 00 00 00 -> 000000.01 kWh
    # CS: 0x42B -> 2B
    reply = decode_frame(h("68 54 07 13 00 80 13 68 81 06 43 C3 34 33 33 33 2B 16"))
    assert reply.control == 0x81 and parse_read_reply(reply, 1997) == (0x9010, 0.01)


# -- values -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw, decimals, signed, value", [
    ("00 50 80", 3, True, -5.0),      # current XXX.XXX, sign bit set: -5.000 A
    ("00 85", 3, True, -0.5),         # power factor X.XXX: -0.500
    ("34 12 00", 4, True, 0.1234),    # power XX.XXXX: sent 34 12 00, read 00 12 34 -> 00.1234 kW
    ("99 99 99 99", 2, False, 999999.99),
    ("71 23 46 05", 2, False, 54623.71),
    ("01 00 00 80", 2, True, -0.01),  # combined active energy with its sign bit
])
def test_bcd_values_low_byte_first_with_sign_bit(raw, decimals, signed, value):
    assert bcd_value(h(raw), decimals, signed) == pytest.approx(value)
    assert bcd_bytes(value, len(h(raw)), decimals, signed) == h(raw)


def test_bcd_errors():
    with pytest.raises(FrameError, match="not BCD"):
        bcd_value(h("1A 00"), 1)
    with pytest.raises(FrameError, match="does not fit"):
        bcd_bytes(80.0, 3, 4, signed=True)  # XX.XXXX with a sign bit stops at 79.9999
    with pytest.raises(FrameError, match="does not fit"):
        bcd_bytes(1_000_000.0, 4, 2)


# -- malformed frames -------------------------------------------------------------------------------
GOOD = "68 94 35 21 90 88 55 68 91 06 33 34 34 35 7B 55 5E 16"  # [CSDN-118301341] voltage reply


@pytest.mark.parametrize("raw, message", [
    (GOOD[:-5] + "5F 16", "checksum is 5F, the bytes sum to 5E"),
    (GOOD[:-2] + "17", "end byte is 17, not 16"),
    (GOOD[:-9], "length byte says 6 data bytes, so 18 bytes from the first 68, but there are 15"),
    ("68 94 35 21 90 88 55 68 91", "truncated, 9 bytes from the first 68"),
    (GOOD.replace("91 06", "91 07"),
     "length byte says 7 data bytes, so 19 bytes from the first 68, but there are 18"),
    (GOOD + " 00", "length byte says 6 data bytes, so 18 bytes from the first 68, but there are 19"),
    ("FE FE 16 " + GOOD, "no start byte 68 after 2 wake-up byte(s)"),
    ("", "(empty): no start byte 68"),
    (GOOD.replace("55 68 91", "55 69 91"), "second start byte is 69, not 68"),
    # an address byte that is not BCD (9A); CS adjusted: 5E + (9A - 90) = 68
    ("68 94 35 21 9A 88 55 68 91 06 33 34 34 35 7B 55 68 16", "address byte 9A is neither BCD nor AA"),
])
def test_malformed_frames_say_what_is_wrong(raw, message):
    with pytest.raises(FrameError) as e:
        decode_frame(h(raw))
    assert message in str(e.value)
    assert isinstance(e.value, CollectorError)


def test_reply_contents_are_checked():
    with pytest.raises(FrameError, match="control code 11 is not a reply to a read"):
        parse_read_reply(read_request("558890213594", 0x00010000))
    with pytest.raises(FrameError, match="identifier 04000401, which is not read here"):
        parse_read_reply(Frame("558890213594", 0x91, h("01 04 00 04 12 34")))
    with pytest.raises(FrameError, match=r"has 2 bytes, the reply carries 3"):
        parse_read_reply(Frame("558890213594", 0x91, h("00 01 01 02 48 22 00")))
    with pytest.raises(FrameError, match="not BCD"):
        parse_read_reply(Frame("558890213594", 0x91, h("00 01 01 02 4F 22")))


def test_find_frame_skips_noise_and_waits_for_the_rest():
    frame = h(GOOD)
    stream = h("00 13 68 FF") + h("FE FE FE FE") + frame + h("FE FE")
    assert find_frame(stream[:9]) == (None, 2)  # noise skipped; the 68 at 2 may yet start a frame
    # ... until byte 9 shows no second 68 seven bytes on: noise too; the 68 at 8 waits for its rest
    assert find_frame(stream[:10]) == (None, 8)
    assert find_frame(stream[:25]) == (None, 8)
    got, used = find_frame(stream)
    assert got == decode_frame(frame) and stream[used:] == h("FE FE")


# -- configuration ----------------------------------------------------------------------------------
def test_dlt645_meters_need_an_address_and_a_dlt645_family(tmp_path):
    gw = {"id": "bus-1", "protocol": "dlt645_serial", "device": "/dev/ttyUSB0"}
    with pytest.raises(ConfigError) as e:
        load_site(tmp_path, [gw], [meter("M-C", "bus-1", "D-PUMP", "dlt645-1997", address="12345")])
    (_, _, field, msg), = e.value.problems
    assert field == "site.meters[0].address" and "String should match pattern '^[0-9]{12}$'" in msg
    with pytest.raises(ConfigError) as e:
        load_site(tmp_path, [gw], [meter("M-A", "bus-1", "D-WELD", "dlt645-2007")])
    (_, _, field, msg), = e.value.problems
    assert field == "site.meters[0].address"
    assert msg == "meter 'M-A' on dlt645_serial gateway 'bus-1' needs a 12-digit DL/T 645 address"
    with pytest.raises(ConfigError) as e:
        load_site(tmp_path, [gw], [meter("M-B", "bus-1", "D-CNC", "sdm630", address="000000000002"),
                                   meter("M-D", "bus-1", "D-LIGHT", "dlt645-2007", address="000000000002")])
    msgs = [p[3] for p in e.value.problems]
    assert "address 000000000002 already used by meter 'M-B' on gateway 'bus-1'" in msgs
    assert any(m.startswith("meter 'M-B' on dlt645_serial gateway 'bus-1': family 'sdm630' is not a DL/T 645 "
                            "family") for m in msgs)


# -- end to end -------------------------------------------------------------------------------------
def _check(reader, reading, plant):
    """A reading and its tariff registers against the meter model at the reading's instant."""
    truth = plant.values(reading.meter, reading.time)
    fam = FAMILIES[plant.site.meter(reading.meter).family]
    v = reader.last_values[reading.meter]
    assert reading.counter == pytest.approx(truth["counter"], abs=0.0051)  # XXXXXX.XX kWh
    assert reading.rate == pytest.approx(truth["rate"], abs=0.00006)  # XX.XXXX kW
    assert reading.power_factor == pytest.approx(truth["power_factor"], abs=0.00051)
    if fam.edition == 2007:
        assert reading.voltage == pytest.approx(truth["voltage"], abs=0.051)  # XXX.X V
        assert reading.current == pytest.approx(truth["current"], abs=0.00051)  # XXX.XXX A
    else:
        assert reading.voltage == pytest.approx(truth["voltage"], abs=0.51)  # XXX V
        assert reading.current == pytest.approx(truth["current"], abs=0.0051)  # XX.XX A
    tariffs = [v[f"energy_tariff_{k}"] for k in (1, 2, 3, 4)]
    assert round(sum(tariffs) * 100) == round(reading.counter * 100)
    assert tariffs == list(tariff_split(reading.counter))


async def test_meters_on_a_serial_bus_one_silent(tmp_path):
    async with VirtualSerialPair(tmp_path) as (a, b):
        # a pty refuses parity, so the virtual bus runs 8N1 (DL/T 645 lines are 8E1)
        gw = {"id": "bus-1", "protocol": "dlt645_serial", "device": a, "parity": "N", "baudrate": 2400,
              "timeout_s": 0.5}
        cfg = load_site(tmp_path, [gw], [
            meter("M-07", "bus-1", "D-WELD", "dlt645-2007", address="000012345678"),
            meter("M-97", "bus-1", "D-CNC", "dlt645-1997", address="138000130754"),
            meter("M-MUTE", "bus-1", "D-PUMP", "dlt645-2007", address="000000000003")])
        clock = Clock.simulated(T0, speed=1)
        plant = PlantSimulator(cfg.site, clock)
        plant.kill("M-MUTE", silent=True)
        async with Dlt645BusSimulator(plant, "bus-1", serial_port=b) as sim:
            reader = reader_for(cfg.site.gateways, clock, backoff_initial_s=60)
            try:
                got = await reader.read(cfg.site.meters)
                assert sorted(r.meter for r in got) == ["M-07", "M-97"]
                for r in got:
                    _check(reader, r, plant)
                assert reader.health["M-MUTE"].last_error == (
                    f"meter M-MUTE (address 000000000003 on bus-1 {a}): reading 00010000 (正向有功总电能 forward "
                    f"active energy, total): no answer within 0.5 s")
                # nine items per meter in five requests (the energy block 0001FF00 / 901F carries the total
                # and the four tariffs); the mute one is asked for its energy block, then its total alone
                # (a meter may stay silent on a block it lacks), and is given up
                assert sim.requests == 5 + 5 + 2
                # the silent meter backs off; the others are read again
                got = await reader.read(cfg.site.meters)
                assert sorted(r.meter for r in got) == ["M-07", "M-97"] and sim.requests == 2 * 10 + 2
            finally:
                reader.close()


async def test_meters_through_a_tcp_serial_server_one_absent_and_discovery(tmp_path):
    port, port1 = free_port(), free_port()
    gws = [{"id": "srv-1", "protocol": "dlt645_tcp", "port": port, "timeout_s": 0.5},
           {"id": "srv-2", "protocol": "dlt645_tcp", "port": port1, "timeout_s": 0.5}]
    cfg = load_site(tmp_path, gws, [meter("M-A", "srv-1", "D-WELD", "dlt645-2007", address="000000000001"),
                                    meter("M-B", "srv-1", "D-CNC", "dlt645-2007", address="000000000002"),
                                    meter("M-GONE", "srv-1", "D-PUMP", "dlt645-1997", address="000000000003"),
                                    meter("M-ONLY", "srv-2", "D-LIGHT", "dlt645-2007",
                                          address="558890213594")])
    clock = Clock.simulated(T0, speed=1)
    plant = PlantSimulator(cfg.site, clock)
    async with Dlt645BusSimulator(plant, "srv-1", absent={"M-GONE"}), Dlt645BusSimulator(plant, "srv-2"):
        reader = reader_for(cfg.site.gateways, clock)
        try:
            got = await reader.read(cfg.site.meters)
            assert sorted(r.meter for r in got) == ["M-A", "M-B", "M-ONLY"]
            for r in got:
                _check(reader, r, plant)
            assert reader.health["M-GONE"].last_error.startswith(
                f"meter M-GONE (address 000000000003 on srv-1 127.0.0.1:{port}): reading 9010")
            assert await reader.links["srv-2"].discover() == "558890213594"
            # with several meters on a line the wildcard gets no clean answer
            with pytest.raises(CollectorError, match="srv-1: address discovery: no answer within 0.5 s"):
                await reader.links["srv-1"].discover()
        finally:
            reader.close()


async def test_abnormal_replies_over_tcp(tmp_path):
    port = free_port()
    cfg = load_site(tmp_path, [{"id": "srv-1", "protocol": "dlt645_tcp", "port": port, "timeout_s": 0.5}],
                    [meter("M-A", "srv-1", "D-WELD", "dlt645-2007", address="000000000001"),
                     meter("M-B", "srv-1", "D-CNC", "dlt645-2007", address="000000000002")])
    clock = Clock.simulated(T0, speed=1)
    plant = PlantSimulator(cfg.site, clock)
    async with Dlt645BusSimulator(plant, "srv-1") as sim:
        sim.refuse("M-B", 0x04)  # password wrong / unauthorised
        bus = Dlt645Bus(cfg.site.gateways[0])
        try:
            with pytest.raises(CollectorError) as e:
                await bus.read(cfg.site.meter("M-B"))
            assert str(e.value) == (
                f"meter M-B (address 000000000002 on srv-1 127.0.0.1:{port}): reading 00010000 (正向有功总电能 "
                f"forward active energy, total): meter 000000000002 answered abnormally (D1), error byte 04: "
                f"password wrong or unauthorised (密码错/未授权)")
            # a meter without tariff registers says "no requested data" for them: the rest is read
            sim.refuse("M-B", 0x02)
            with pytest.raises(CollectorError, match="no requested data"):
                await bus.read(cfg.site.meter("M-B"))  # ... but not for the total
            values = await bus.read(cfg.site.meter("M-A"))
            assert set(values) == {"counter", "energy_tariff_1", "energy_tariff_2", "energy_tariff_3",
                                   "energy_tariff_4", "voltage", "current", "rate", "power_factor"}
        finally:
            bus.close()


async def test_a_stale_reply_on_the_line_is_skipped(tmp_path):
    """Bytes of an earlier, timed-out exchange must not answer the next request."""
    port = free_port()
    cfg = load_site(tmp_path, [{"id": "srv-1", "protocol": "dlt645_tcp", "port": port, "timeout_s": 0.5}],
                    [meter("M-A", "srv-1", "D-WELD", "dlt645-2007", address="000000000001")])
    clock = Clock.simulated(T0, speed=1)
    plant = PlantSimulator(cfg.site, clock)
    stale = encode_frame(Frame("000000000009", 0x91, h("00 00 01 00 99 99 99 00")))  # another meter's
    done = asyncio.Event()

    async def serve(reader, writer):
        meters = Dlt645BusSimulator(plant, "srv-1")
        while True:
            data = await reader.read(4096)
            if not data:
                break
            req = decode_frame(data)
            # M-A's reply, but for another identifier than the one asked (a late answer)
            other = h("00 01 01 02 00 10") if req.data != h("00 01 01 02") else h("00 01 02 02 00 00 10")
            writer.write(stale + encode_frame(Frame("000000000001", 0x91, other)) + meters.answer(req))
            await writer.drain()
        writer.close()
        done.set()

    server = await asyncio.start_server(serve, "127.0.0.1", port)
    bus = Dlt645Bus(cfg.site.gateways[0])
    try:
        values = await bus.read(cfg.site.meter("M-A"))
        truth = plant.values("M-A", clock.now())
        assert values["counter"] == pytest.approx(truth["counter"], abs=0.0051)
        assert values["voltage"] == pytest.approx(truth["voltage"], abs=0.051)  # not the 100.0 V decoy
        assert values["current"] == pytest.approx(truth["current"], abs=0.00051)  # nor the 1.000 A one
    finally:
        bus.close()
        await asyncio.wait_for(done.wait(), 5)
        server.close()
        await server.wait_closed()
