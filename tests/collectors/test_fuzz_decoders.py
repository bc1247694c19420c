"""Fuzzing the decoders (hypothesis): random bytes and mutated valid frames into the DL/T 645 codec, random
register words into every Modbus register table; only the documented errors may escape
(:class:`FrameError`, :class:`MeterException`, :class:`DecodeError`, all ``CollectorError``), never
IndexError, struct.error and the like. Then collectors whose peers answer garbage: the reader records
an error for that meter and keeps reading the others."""

import asyncio
import datetime as dt
import math
import random

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from collectors.dlt645.frame import (
    ITEMS_1997,
    ITEMS_2007,
    Frame,
    FrameError,
    MeterException,
    bcd_bytes,
    bcd_value,
    decode_frame,
    encode_frame,
    find_frame,
    parse_read_reply,
)
from collectors.modbus.registers import DecodeError, decode
from collectors.readers import reader_for
from tanjian.simulator import PlantSimulator
from tanjian.simulator.dlt645 import Dlt645BusSimulator
from tests.conftest import free_port
from tests.small_sites import load_site, meter
from workspace.clock import Clock
from workspace.errors import CollectorError
from workspace.meters import FAMILIES

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
T0 = dt.datetime(2026, 11, 24, 2, 0, 30, tzinfo=dt.timezone.utc)

# published frames (sources in tests/collectors/test_dlt645.py): 2007 energy and voltage replies, 1997 energy reply
SEEDS = [bytes.fromhex(x.replace(" ", "")) for x in (
    "FE FE FE FE 68 94 35 21 90 88 55 68 91 08 33 33 34 33 59 35 33 33 81 16",
    "68 94 35 21 90 88 55 68 91 06 33 34 34 35 7B 55 5E 16",
    "68 54 07 13 00 80 13 68 81 06 43 C3 34 33 33 33 2B 16",
    "68 94 35 21 90 88 55 68 93 06 C7 68 54 C3 BB 88 49 16",
)]

addresses = st.lists(st.sampled_from([f"{i:02d}" for i in range(100)] + ["AA"]), min_size=6,
                     max_size=6).map("".join)
frames = st.builds(Frame, addresses, st.integers(0, 255), st.binary(max_size=200))


def _mutate(data: bytes, ops: list[tuple[int, int, int]]) -> bytes:
    b = bytearray(data)
    for kind, pos, val in ops:
        if not b:
            b.append(val)
            continue
        pos %= len(b)
        if kind == 0:
            b[pos] = val  # overwrite
        elif kind == 1:
            b.insert(pos, val)  # insert
        elif kind == 2:
            del b[pos]  # delete
        else:
            del b[pos:]  # truncate
    return bytes(b)


mutations = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 255), st.integers(0, 255)), min_size=1,
                     max_size=6)


# -- DL/T 645 ---------------------------------------------------------------------------------------
def _decode_and_parse(raw: bytes) -> None:
    try:
        frame = decode_frame(raw)
    except FrameError as exc:
        assert str(exc)  # says something
        return
    for edition in (2007, 1997):
        try:
            di, value = parse_read_reply(frame, edition)
        except (FrameError, MeterException):
            continue
        assert math.isfinite(value) and di in (ITEMS_2007 if edition == 2007 else ITEMS_1997)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_into_the_dlt645_decoder(raw):
    _decode_and_parse(raw)
    try:
        frame, used = find_frame(raw)
    except FrameError:
        return
    assert 0 <= used <= len(raw)
    if frame is not None:  # what was found is a frame that encodes back to the bytes it came from
        assert encode_frame(frame, wakeup=0) == raw[used - 12 - len(frame.data):used]


@FUZZ
@given(st.sampled_from(SEEDS), mutations)
def test_mutated_published_frames(seed, ops):
    raw = _mutate(seed, ops)
    assume(raw != seed)
    _decode_and_parse(raw)


@FUZZ
@given(st.sampled_from(SEEDS), st.integers(0, 300), st.integers(1, 255))
def test_a_flipped_byte_never_passes_unnoticed_as_the_same_frame(seed, pos, xor):
    """Flipping bits of any one byte of a frame (after the wake-up bytes) changes what decodes or fails."""
    start = seed.index(0x68)
    raw = bytearray(seed)
    raw[start + pos % (len(seed) - start)] ^= xor
    try:
        frame = decode_frame(bytes(raw))
    except FrameError:
        return
    assert frame != decode_frame(seed)  # the checksum catches a change of one byte


@FUZZ
@given(frames, st.integers(0, 4))
def test_any_frame_round_trips(frame, wakeup):
    assert decode_frame(encode_frame(frame, wakeup)) == frame


@FUZZ
@given(st.binary(max_size=50), frames, st.integers(1, 20))
def test_a_frame_after_noise_is_found_whatever_the_chunks(noise, frame, chunk):
    noise = noise.replace(b"\x68", b"\x00")  # noise without a start byte
    stream = noise + encode_frame(frame, 4)
    buf, found = b"", None
    for k in range(0, len(stream), chunk):
        buf += stream[k:k + chunk]
        got, used = find_frame(buf)
        buf = buf[used:]
        if got is not None:
            found = got
            break
    assert found == frame


@FUZZ
@given(st.sampled_from(list(ITEMS_2007.values()) + list(ITEMS_1997.values())),
       st.binary(min_size=1, max_size=4))
def test_random_value_bytes(item, raw):
    try:
        v = bcd_value(raw, item.decimals, item.signed)
    except FrameError:
        return
    assert math.isfinite(v)
    if len(raw) == item.size:
        assert bcd_value(bcd_bytes(v, item.size, item.decimals, item.signed), item.decimals, item.signed) == v


# -- Modbus register tables --------------------------------------------------------------------------
@FUZZ
@given(st.sampled_from(sorted(FAMILIES)), st.data())
def test_random_register_words_into_every_family(name, data):
    fam = FAMILIES[name]
    blocks = {(t, a): data.draw(st.lists(st.integers(0, 0xFFFF), min_size=n, max_size=n))
              for t, a, n in fam.blocks()}
    try:
        values = decode(fam, blocks)
    except DecodeError as exc:
        assert "counter" in str(exc)  # only a non-finite float counter is refused from well-sized words
        return
    assert set(values) == {f.quantity for f in fam.fields}
    assert math.isfinite(values["counter"])


@FUZZ
@given(st.sampled_from(sorted(FAMILIES)), st.data())
def test_wrong_sized_or_out_of_range_blocks_raise_decode_error_only(name, data):
    fam = FAMILIES[name]
    blocks = {}
    for t, a, n in fam.blocks():
        size = data.draw(st.integers(0, n + 3))
        blocks[(data.draw(st.sampled_from([t, "input", "holding"])), a + data.draw(st.integers(-2, 2)))] = \
            data.draw(st.lists(st.integers(-70000, 140000), min_size=size, max_size=size))
    try:
        decode(fam, blocks)
    except DecodeError as exc:
        assert isinstance(exc, CollectorError) and fam.name in str(exc)


# -- collectors whose peers answer garbage ------------------------------------------------------------
async def _garbage_server(port: int, seed: int):
    """A TCP server that answers every request with 1..60 random bytes (never a valid reply)."""
    rng = random.Random(seed)
    handlers = set()

    async def serve(reader, writer):
        handlers.add(asyncio.current_task())
        try:
            while await reader.read(4096):
                writer.write(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 60))))
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", port)
    return server, handlers


@pytest.mark.parametrize("protocol, family", [("modbus_tcp", "cn3p-int32"), ("modbus_rtu_over_tcp", "sdm630"),
                                              ("dlt645_tcp", "dlt645-2007")])
async def test_a_gateway_answering_garbage_does_not_stop_the_collector(tmp_path, protocol, family):
    bad_port, good_port = free_port(), free_port()
    link = {"unit_id": 1} if protocol.startswith("modbus") else {"address": "000000000001"}
    cfg = load_site(tmp_path, [{"id": "gw-bad", "protocol": protocol, "port": bad_port, "timeout_s": 0.3},
                               {"id": "gw-good", "protocol": "dlt645_tcp", "port": good_port,
                                "timeout_s": 0.5}],
                    [meter("M-BAD", "gw-bad", "D-WELD", family, **link),
                     meter("M-GOOD", "gw-good", "D-CNC", "dlt645-2007", address="000000000002")])
    clock = Clock.simulated(T0, speed=1)
    plant = PlantSimulator(cfg.site, clock)
    server, handlers = await _garbage_server(bad_port, seed=len(protocol))
    reader = reader_for(cfg.site.gateways, clock, backoff_initial_s=0.001, backoff_max_s=0.001)
    try:
        async with Dlt645BusSimulator(plant, "gw-good"):
            for cycle in range(6):
                await asyncio.sleep(0.002)  # past the back-off
                got = await reader.read(cfg.site.meters)
                assert [r.meter for r in got] == ["M-GOOD"], cycle
        h = reader.health["M-BAD"]
        assert h.reads == 0 and h.errors == 6 and h.last_error.startswith("meter M-BAD")
        assert reader.health["M-GOOD"].reads == 6
    finally:
        reader.close()
        server.close()
        for t in list(handlers):
            t.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()


async def test_a_meter_garbling_its_replies_on_a_shared_line(tmp_path):
    """One DL/T 645 meter answers noise on the same line as a good one: the good one still reads."""
    port = free_port()
    cfg = load_site(tmp_path, [{"id": "srv-1", "protocol": "dlt645_tcp", "port": port, "timeout_s": 0.3}],
                    [meter("M-NOISY", "srv-1", "D-WELD", "dlt645-1997", address="000000000001"),
                     meter("M-OK", "srv-1", "D-CNC", "dlt645-2007", address="000000000002")])
    clock = Clock.simulated(T0, speed=1)
    plant = PlantSimulator(cfg.site, clock)
    async with Dlt645BusSimulator(plant, "srv-1", seed=7) as sim:
        sim.garble("M-NOISY")
        reader = reader_for(cfg.site.gateways, clock, backoff_initial_s=0.001, backoff_max_s=0.001)
        try:
            for _ in range(5):
                await asyncio.sleep(0.002)
                got = await reader.read(cfg.site.meters)
                assert [r.meter for r in got] == ["M-OK"]
                truth = plant.values("M-OK", got[0].time)
                assert got[0].counter == pytest.approx(truth["counter"], abs=0.0051)
            err = reader.health["M-NOISY"].last_error
            assert err.startswith("meter M-NOISY (address 000000000001 on srv-1")
            assert reader.health["M-NOISY"].errors == 5
            assert "garbled reply" in err or "no answer within 0.3 s" in err
        finally:
            reader.close()
