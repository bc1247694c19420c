"""Simulated DL/T 645 meters: the meters of a ``dlt645_serial`` or ``dlt645_tcp`` gateway answer read
requests on the far end of a virtual serial pair, or on a TCP port as behind a transparent serial server.

Each meter speaks the edition of its family (``dlt645-2007`` or ``dlt645-1997``). Values come from the
plant's load model (:meth:`PlantSimulator.values`), in the formats of the standard: energy XXXXXX.XX kWh
(rolls over at 10^6 kWh like a real register), voltage, phase A current, total active power and power
factor. The load model has no time-of-use split, so the four tariff registers share the total in fixed
parts (sharp 10 %, peak 35 %, flat 30 %, valley the rest, in whole 0.01 kWh) and always add up to it.

A 2007 meter replies with four wake-up bytes 0xFE, a 1997 meter with none (both occur in the field).
A read-address request to AA AA AA AA AA AA is answered when exactly one meter is on the bus (on a
real bus several would collide). Faults, per meter id: ``silent``/``dead`` of the plant (no reply),
:meth:`Dlt645BusSimulator.garble` (a reply of random bytes), :meth:`Dlt645BusSimulator.refuse`
(an abnormal reply with the given error byte), :meth:`Dlt645BusSimulator.without_tariffs` (a meter
without time-of-use registers: "no requested data" for them, the total still answered).

Each meter has a clock (date 04000101 / C010, time 04000102 / C011) in the site's local time: the
plant's clock, or, after :meth:`Dlt645BusSimulator.set_clock`, off by a fixed offset and running fast or
slow by a drift rate; :meth:`Dlt645BusSimulator.without_clock` makes a meter answer the clock
identifiers with "no requested data" (as meters without a clock, or that do not expose it, do), and
:meth:`Dlt645BusSimulator.clock_lost` makes it show 00-00-00 00:00:00 (a clock that lost its setting).

Items a meter lacks: :meth:`Dlt645BusSimulator.lacks` gives a meter a list of identifiers (items or data
blocks) it answers "no requested data" (2007 D1, 1997 C1, error byte 02);
:meth:`Dlt645BusSimulator.silent_on` a list it does not answer at all. Data blocks (0001FF00 ...,
1997 901F ...) are answered with their members back to back, from the first up to the first one the meter
lacks (a single-phase meter's voltage block holds phase A only, a single-rate meter's energy block its
total only); a block whose first member is lacking is refused. The load model gives one voltage, current,
power and power factor per meter: phases B and C show the same voltage, current and power factor as A,
and the three phase powers share the total in thirds.

Pacing: with ``pace`` (a :class:`~collectors.dlt645.bustime.Line`), each reply is written when a real line
would have delivered it: after the request's bytes, the meter's turnaround and the reply's bytes at the
line's speed (one exchange at a time, as on a half-duplex bus).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from zoneinfo import ZoneInfo

from collectors.bytelink import ByteLink, SerialByteLink, TcpByteLink
from collectors.dlt645.bustime import Line
from collectors.dlt645.frame import (
    FAMILIES,
    READ_ADDRESS_2007,
    REPLY,
    WILDCARD,
    Frame,
    FrameError,
    abnormal_reply,
    address_bytes,
    bcd_bytes,
    block_bytes,
    blocks_of,
    encode_date,
    encode_frame,
    encode_time,
    find_frame,
    items_of,
)
from workspace.errors import CollectorError

from .server import PlantSimulator

log = logging.getLogger(__name__)

TARIFF_SHARES = (0.10, 0.35, 0.30)  # sharp, peak, flat; valley takes the rest


def tariff_split(total_kwh: float) -> tuple[float, float, float, float]:
    """Four tariff registers [kWh] that add up to ``total_kwh`` to the 0.01 kWh."""
    cents = round(total_kwh * 100)
    parts = [int(cents * s) for s in TARIFF_SHARES]
    parts.append(cents - sum(parts))
    return tuple(p / 100 for p in parts)  # type: ignore[return-value]


def _saturated(item, value: float) -> float:
    """The value as the item's format can show it (a meter's display saturates)."""
    digits = 2 * item.size
    top = ((8 * 10 ** (digits - 1) if item.signed else 10 ** digits) - 1) / 10 ** item.decimals
    return max(-top if item.signed else 0.0, min(top, value))


class Dlt645BusSimulator:
    """The DL/T 645 meters of one gateway of a site.

    Parameters
    ----------
    plant : PlantSimulator
        Source of values and faults (it need not be started).
    gateway_id : str
        A ``dlt645_serial`` or ``dlt645_tcp`` gateway of the site.
    serial_port : str, optional
        The bus's end of a serial pair (``dlt645_serial``).
    port_offset : int
        Added to the gateway's TCP port (``dlt645_tcp``).
    absent : iterable of str
        Meters of the configuration that are not on the bus.
    seed : int
        Seed of the garbage replies.
    pace : Line, optional
        Deliver each reply when a line of this speed and turnaround would (default: at once).
    """

    def __init__(self, plant: PlantSimulator, gateway_id: str, *, serial_port: str | None = None,
                 port_offset: int = 0, absent=(), seed: int = 645, pace: Line | None = None):
        self.plant = plant
        self.gateway = next(g for g in plant.site.gateways if g.id == gateway_id)
        self.serial_port = serial_port
        self.port_offset = port_offset
        self.meters = {m.address: m for m in plant.site.meters
                       if m.gateway == gateway_id and m.id not in set(absent)}
        self.garbled: set[str] = set()
        self.refused: dict[str, int] = {}
        self.clocks: dict[str, tuple[float, float, dt.datetime]] = {}  # offset [s], drift [s/s], since
        self.clockless: set[str] = set()
        self.clock_unset: set[str] = set()
        self.tariffless: set[str] = set()
        self.lacking: dict[str, set[int]] = {}
        self.mute: dict[str, set[int]] = {}
        self.pace = pace
        self.asked: list[tuple[str, int]] = []  # (meter id, identifier) of every read request, in order
        self._zone = ZoneInfo(plant.site.plant.timezone)
        self.requests = 0
        self.frames_in_error = 0
        self._rng = random.Random(seed)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self._links: list[ByteLink] = []

    # -- faults ----------------------------------------------------------------------------------
    def garble(self, meter: str) -> None:
        """From now on the meter replies with random bytes."""
        self.garbled.add(meter)

    def refuse(self, meter: str, error: int = 0x02) -> None:
        """From now on the meter replies abnormally with this error byte (default: no requested data)."""
        self.refused[meter] = error

    def set_clock(self, meter: str, offset_s: float = 0.0, drift_ppm: float = 0.0) -> None:
        """From now on the meter's clock is ``offset_s`` ahead of the plant's (negative: behind) and
        gains ``drift_ppm`` [µs/s, 1e-6 s per s] more from now on (negative: loses)."""
        self.clocks[meter] = (offset_s, drift_ppm * 1e-6, self.plant.clock.now())

    def without_clock(self, meter: str) -> None:
        """From now on the meter answers its clock identifiers abnormally (no requested data)."""
        self.clockless.add(meter)

    def clock_lost(self, meter: str) -> None:
        """From now on the meter's clock shows 00-00-00 00:00:00 (its setting lost), which is no date."""
        self.clock_unset.add(meter)

    def without_tariffs(self, meter: str) -> None:
        """From now on the meter has no tariff registers: it answers them "no requested data" (as a
        single-rate meter does) and still answers its total."""
        self.tariffless.add(meter)

    def lacks(self, meter: str, identifiers) -> None:
        """From now on the meter answers these identifiers (items or data blocks of its edition) "no
        requested data", as a meter without them does; its other items are answered."""
        self.lacking.setdefault(meter, set()).update(identifiers)

    def silent_on(self, meter: str, identifiers) -> None:
        """From now on the meter does not answer these identifiers at all (as some meters do for
        identifiers they do not know); its other items are answered."""
        self.mute.setdefault(meter, set()).update(identifiers)

    def meter_time(self, meter: str) -> dt.datetime:
        """The meter's clock now, as local wall time in the site's zone (timezone-aware)."""
        now = self.plant.clock.now()
        offset, drift, since = self.clocks.get(meter, (0.0, 0.0, now))
        dev = now + dt.timedelta(seconds=offset + drift * (now - since).total_seconds())
        return dev.astimezone(self._zone)

    # -- answering -------------------------------------------------------------------------------
    def values(self, meter_id: str) -> dict[str, float]:
        v = dict(self.plant.values(meter_id, self.plant.clock.now()))
        v["counter"] = v["counter"] % 1_000_000  # XXXXXX.XX rolls over
        for k, part in enumerate(tariff_split(v["counter"]), start=1):
            v[f"energy_tariff_{k}"] = part
        for ph in ("b", "c"):
            v[f"voltage_{ph}"], v[f"current_{ph}"] = v["voltage"], v["current"]
        for ph in ("a", "b", "c"):
            v[f"rate_{ph}"] = v["rate"] / 3
            v[f"power_factor_{ph}"] = v["power_factor"]
        return v

    def answer(self, frame: Frame) -> bytes | None:
        """The bytes the bus puts on the line after ``frame`` (None: silence)."""
        if frame.is_reply:
            return None  # another meter's reply, or an echo
        if frame.control == READ_ADDRESS_2007 and frame.address == WILDCARD:
            if len(self.meters) != 1:
                return None  # replies would collide on a real bus
            (address, m), = self.meters.items()
            if m.id in self.plant.faults.silent or m.id in self.plant.faults.dead:
                return None
            return encode_frame(Frame(address, READ_ADDRESS_2007 | REPLY, address_bytes(address)), wakeup=4)
        m = self.meters.get(frame.address)
        if m is None:
            return None  # not ours
        self.requests += 1
        if m.id in self.plant.faults.silent or m.id in self.plant.faults.dead:
            return None
        fam = FAMILIES[m.family]
        if frame.function != fam.read_code:
            return None  # a request of the other edition is not understood
        wakeup = 4 if fam.edition == 2007 else 0
        if m.id in self.garbled:
            return bytes(self._rng.randrange(256) for _ in range(self._rng.randrange(1, 40)))
        if m.id in self.refused:
            return encode_frame(abnormal_reply(m.address, self.refused[m.id], fam.edition), wakeup)
        if len(frame.data) != fam.di_size:
            return encode_frame(abnormal_reply(m.address, 0x01, fam.edition), wakeup)  # other error
        di = int.from_bytes(frame.data, "little")
        self.asked.append((m.id, di))
        if di in self.mute.get(m.id, ()):
            return None
        lacking = self.lacking.get(m.id, set())
        if di in lacking:
            return encode_frame(abnormal_reply(m.address, 0x02, fam.edition), wakeup)  # no requested data
        block = blocks_of(fam.edition).get(di)
        if block is not None:
            return self._answer_block(m, fam, frame, block, lacking, wakeup)
        item = items_of(fam.edition).get(di)
        if item is not None and item.quantity in ("clock_date", "clock_time"):
            if m.id in self.clockless:
                return encode_frame(abnormal_reply(m.address, 0x02, fam.edition), wakeup)
            if m.id in self.clock_unset:
                value = bytes(item.size)  # BCD zeros: 00-00-00, week day 0, 00:00:00
            else:
                local = self.meter_time(m.id)
                value = (encode_date(local.date()) if item.quantity == "clock_date"
                         else encode_time(local.time()))
            return encode_frame(Frame(m.address, fam.read_code | REPLY, frame.data + value), wakeup)
        v = self._served(m.id)
        if item is None or item.quantity not in v:
            return encode_frame(abnormal_reply(m.address, 0x02, fam.edition), wakeup)  # no such data
        value = _saturated(item, v[item.quantity])
        data = frame.data + bcd_bytes(value, item.size, item.decimals, item.signed)
        return encode_frame(Frame(m.address, fam.read_code | REPLY, data), wakeup)

    def _served(self, meter_id: str) -> dict[str, float]:
        v = self.values(meter_id)
        if meter_id in self.tariffless:
            for k in range(1, 5):
                del v[f"energy_tariff_{k}"]
        v["energy_combined"] = v["counter"]  # nothing is exported here: combined = forward
        return v

    def _answer_block(self, m, fam, frame: Frame, block, lacking: set[int], wakeup: int) -> bytes:
        """A block's members back to back, up to the first the meter lacks; refused when it lacks the
        first."""
        v = self._served(m.id)
        items = items_of(fam.edition)
        values: dict[int, float] = {}
        for member in block.members:
            item = items[member]
            if member in lacking or item.quantity not in v:
                break
            values[member] = _saturated(item, v[item.quantity])
        if not values:
            return encode_frame(abnormal_reply(m.address, 0x02, fam.edition), wakeup)
        data = frame.data + block_bytes(block, values, fam.edition)
        return encode_frame(Frame(m.address, fam.read_code | REPLY, data), wakeup)

    async def _serve(self, link: ByteLink) -> None:
        buf = bytearray()
        try:
            while True:
                buf += await link.receive(3600)
                while True:
                    try:
                        frame, used = find_frame(bytes(buf))
                    except FrameError as exc:
                        self.frames_in_error += 1
                        log.debug("simulated bus %s: %s", self.gateway.id, exc)
                        buf.clear()  # a garbled request gets no answer
                        break
                    del buf[:used]
                    if frame is None:
                        break
                    reply = self.answer(frame)
                    if reply is not None:
                        if self.pace is not None:  # the request, the turnaround, the reply, on the line
                            await asyncio.sleep(self.pace.wire_s(used + len(reply)) + self.pace.turnaround_s)
                        await link.write(reply)
        except ConnectionError:
            pass
        finally:
            link.close()

    def _spawn(self, coro) -> None:
        t = asyncio.create_task(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    async def start(self) -> None:
        await asyncio.to_thread(self.plant.model.at, self.plant.clock.now())  # warm the model
        g = self.gateway
        if g.protocol == "dlt645_serial":
            if self.serial_port is None:
                raise CollectorError(f"gateway {g.id}: the simulated bus needs the far end of a serial pair")
            link = SerialByteLink(self.serial_port, g.baudrate, g.parity, g.bytesize, g.stopbits)
            await link.open()
            self._links.append(link)
            self._spawn(self._serve(link))
            where = self.serial_port
        elif g.protocol == "dlt645_tcp":
            async def accept(reader, writer):
                link = TcpByteLink.from_streams(reader, writer)
                self._links.append(link)
                await self._serve(link)

            self._server = await asyncio.start_server(accept, g.host, g.port + self.port_offset)
            where = f"{g.host}:{g.port + self.port_offset}"
        else:
            raise CollectorError(f"gateway {g.id}: protocol {g.protocol} is not DL/T 645")
        log.info("simulated DL/T 645 bus %s: %d meter(s) on %s", g.id, len(self.meters), where)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for link in self._links:
            link.close()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        self._links.clear()

    async def __aenter__(self) -> "Dlt645BusSimulator":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()
