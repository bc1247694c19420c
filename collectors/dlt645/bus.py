"""Reading DL/T 645 meters on an RS-485 bus or through a transparent serial server.

One request at a time per bus (half duplex). Every request starts with an empty input buffer and
four wake-up bytes 0xFE; a reply is accepted only from the meter asked, with the reply control code of
the request and the data identifier asked for, so a reply that comes after its request timed out is
skipped rather than taken for the next one.

The meter's clock (date 04000101 and time 04000102; 1997: C010 and C011) is read after the energy,
when the gateway's (or the meter's) ``read_clock`` is on, at most every ``clock_interval_s``: the
meter's local wall time, in the site's zone, becomes ``device_time`` [s since the epoch, UTC] in the
values, carried forward from the moment the meter read its clock to the end of the read (the time the
reading is stamped with), so that the few hundred milliseconds of the exchange do not count as drift.
A meter that answers the clock request abnormally is not asked again (logged once).

Only the energy counter is required: the items of the meter's family are read with the requests of
:func:`collectors.dlt645.support.plan` (data blocks where the family asks for them), an item or block the
meter answers abnormally is remembered as unsupported for it (:class:`~collectors.dlt645.support.Unsupported`,
asked again daily; the items of a refused block are read singly), and once the counter is in, a request
left unanswered ends the meter's read with what it answered. A read fails only when the counter fails.

Every poll cycle (the reads between the bus going busy and idle again) has its bus time computed from
the line speed and the bytes that went over it (:mod:`collectors.dlt645.bustime`), logged with the time it
took, and warned about when it does not fit the shortest period of the meters read.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import replace

from collectors.bytelink import ByteLink, link_to
from collectors.dlt645.frame import (
    CLOCK_ITEMS,
    FAMILIES,
    READ_ADDRESS_2007,
    WILDCARD,
    Family,
    Frame,
    FrameError,
    MeterException,
    encode_frame,
    parse_block_reply,
    decode_date,
    decode_time,
    find_frame,
    meter_clock,
    parse_read_raw,
    parse_read_reply,
    read_request,
)
from collectors.dlt645.bustime import Line, meters_per_minute
from collectors.dlt645.support import Request, Unsupported, plan
from workspace.errors import CollectorError
from workspace.site import Gateway, Meter

log = logging.getLogger(__name__)


class _Cycle:
    """The exchanges of one poll cycle on the bus (from busy to idle)."""

    def __init__(self, started: float):
        self.started = started
        self.meters: list[Meter] = []
        self.exchanges = 0
        self.bytes = 0
        self.timeouts = 0


class Dlt645Bus:
    """The link to the DL/T 645 meters of one gateway (``dlt645_serial`` or ``dlt645_tcp``).

    Parameters
    ----------
    gateway : Gateway
        Serial settings or host/port; ``timeout_s`` per request [s].
    port_offset : int
        Added to the TCP port (tests).
    link : ByteLink, optional
        The byte stream (default: from the gateway).
    timezone : str, optional
        IANA zone the meters' clocks are set to (the site's); without it the clocks are not read.

    Attributes
    ----------
    no_clock : dict
        Meter id -> why its clock is not read (it answered the clock request abnormally).
    clock_reads : int
        Clock reads that gave a device time.
    unsupported : Unsupported
        Per meter, the items and blocks it answered abnormally (not asked again until re-probed).
    blocks : bool
        Ask for data blocks where the family does (False: one request per item, as before blocks).
    remember : bool
        Skip the items a meter is known not to answer (False: ask for every item at every read).
    line : Line
        The serial line's speed, bits per byte and the meters' turnaround, for the bus time.
    last_cycle : dict
        The last poll cycle: ``meters``, ``exchanges``, ``bytes``, ``timeouts``, ``bus_s`` (its bus time
        from the line and the bytes) and ``took_s`` (measured) [s], ``period_s``.
    """

    def __init__(self, gateway: Gateway, port_offset: int = 0, link: ByteLink | None = None,
                 timezone: str | None = None, *, blocks: bool = True, remember: bool = True):
        self.gateway = gateway
        self.timezone = timezone
        self.no_clock: dict[str, str] = {}
        self.clock_reads = 0
        self.unsupported = Unsupported()
        self.blocks = blocks
        self.remember = remember
        self.line = Line.of(gateway)
        self.last_cycle: dict | None = None
        self._cycle: _Cycle | None = None
        self._busy = 0
        self._logged_exchanges: int | None = None
        self._clock_due: dict[str, float] = {}  # meter id -> loop time its clock is next read
        self.link = link if link is not None else link_to(gateway, port_offset)
        self.where = f"{gateway.id} {self.link.where}"
        self._lock = asyncio.Lock()

    async def _ensure_open(self) -> None:
        if not self.link.connected:
            await self.link.open()

    async def transact(self, request: Frame, di: int | None = None, edition: int = 2007) -> Frame:
        """Send a request and return the matching reply frame.

        Frames on the line that are not the reply (our own request echoed by a two-wire adapter,
        another meter's late reply, a reply for another identifier) are skipped.

        Raises
        ------
        CollectorError
            No matching reply within the gateway's timeout (saying what did arrive), or a garbled frame.
        """
        await self._ensure_open()
        stale = self.link.discard_input()
        if stale:
            log.debug("%s: dropped %d stale bytes before a request", self.where, stale)
        raw = encode_frame(request, wakeup=4)
        await self.link.write(raw)
        cycle = self._cycle
        if cycle is not None:
            cycle.exchanges += 1
            cycle.bytes += len(raw)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.gateway.timeout_s
        buf = bytearray()
        skipped = 0
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                heard = f"; heard {len(buf)} byte(s) that are no frame: {bytes(buf[:32]).hex(' ').upper()}" \
                    if buf else (f"; skipped {skipped} frame(s) not for this request" if skipped else "")
                if cycle is not None:
                    cycle.timeouts += 1
                raise CollectorError(f"no answer within {self.gateway.timeout_s:g} s{heard}")
            chunk = await self.link.receive(remaining)
            if cycle is not None:
                cycle.bytes += len(chunk)
            buf += chunk
            while True:
                try:
                    frame, used = find_frame(bytes(buf))
                except FrameError as exc:
                    raise CollectorError(f"garbled reply: {exc}") from None
                del buf[:used]
                if frame is None:
                    break
                if self._answers(frame, request, di, edition):
                    return frame
                skipped += 1
                log.debug("%s: skipped frame %s (waiting for %s's reply)", self.where, frame, request.address)

    @staticmethod
    def _answers(frame: Frame, request: Frame, di: int | None, edition: int) -> bool:
        if not frame.is_reply or frame.function != request.function:
            return False
        if request.address != WILDCARD and frame.address != request.address:
            return False
        if di is not None and not frame.is_abnormal:
            size = 4 if edition == 2007 else 2
            return len(frame.data) >= size and int.from_bytes(frame.data[:size], "little") == di
        return True

    async def read(self, meter: Meter) -> dict[str, float]:
        """The quantities of the meter's DL/T 645 family it answers [kWh, kW, V, A, -] (always
        ``counter``), and ``device_time``, the meter's clock at the end of the read [s since the epoch,
        UTC], when it is read this time.

        Raises CollectorError naming the meter, the gateway, the identifier and what went wrong, when
        the energy counter cannot be read.
        """
        self._enter(meter)
        try:
            async with self._lock:  # one request at a time on the bus
                out = await self._read_items(meter)
                if self._clock_wanted(meter):
                    device_time = await self._read_clock(meter, f"meter {meter.id} (address {meter.address} "
                                                               f"on {self.where})")
                    if device_time is not None:
                        out["device_time"] = device_time
            return out
        finally:
            self._leave()

    def _family(self, meter: Meter) -> Family:
        fam = FAMILIES[meter.family]
        return replace(fam, blocks=False) if fam.blocks and not self.blocks else fam

    def unsupported_items(self, meter_id: str) -> dict[str, str]:
        """Identifiers (items and blocks) the meter is known not to answer -> its answer (for the
        health table)."""
        return self.unsupported.of(meter_id)

    def requests_of(self, meter: Meter) -> list[Request]:
        """The requests the next read of ``meter`` sends (before any refusal during it)."""
        skip = self.unsupported.skip(meter.id) if self.remember else frozenset()
        return plan(self._family(meter), skip)

    async def _read_items(self, meter: Meter) -> dict[str, float]:
        fam = self._family(meter)
        width = 2 * fam.di_size
        who = f"meter {meter.id} (address {meter.address} on {self.where})"
        out: dict[str, float] = {}
        queue = self.requests_of(meter)
        block_silent: tuple[Request, str] | None = None  # a block carrying the counter left unanswered
        while queue:
            req = queue.pop(0)
            name = f"{req.di:0{width}X} ({req.block.name if req.block else req.items[0].name})"
            try:
                request = read_request(meter.address, req.di, fam.edition)
                reply = await self.transact(request, req.di, fam.edition)
                if req.block is not None:
                    got = parse_block_reply(reply, req.block, fam.edition)
                else:
                    got = dict([parse_read_reply(reply, fam.edition)])
            except MeterException as exc:
                if req.has_counter and req.block is None:
                    raise CollectorError(f"{who}: reading {name}: {exc}") from None
                if self.remember:
                    self.unsupported.refused(meter.id, req.di, name, exc.error, fam.edition)
                if req.block is not None:  # the block refused: its items one by one, now
                    queue[:0] = [Request(it.di, (it,)) for it in req.items]
                continue
            except (ConnectionError, OSError) as exc:
                self.link.close()
                if "counter" not in out:
                    raise CollectorError(f"{who}: {exc}") from None
                log.warning("%s: reading %s: %s; journaled with what it answered", who, name, exc)
                break
            except CollectorError as exc:  # no answer, a garbled frame, a value of the wrong size
                if "counter" not in out:
                    if req.block is not None and block_silent is None:
                        # a meter may stay silent on a block it does not have: the items one by one
                        block_silent = (req, str(exc))
                        queue[:0] = [Request(it.di, (it,)) for it in req.items]
                        continue
                    raise CollectorError(f"{who}: reading {name}: {exc}") from None
                if self.remember:
                    self.unsupported.unanswered(meter.id, req.di, name, str(exc))
                log.warning("%s: reading %s: %s; journaled with what it answered", who, name, exc)
                break
            if self.remember:
                self.unsupported.answered(meter.id, req.di)
            items = {it.di: it for it in req.items}
            for di, value in got.items():
                if di in items:
                    out[items[di].quantity] = value
            if req.block is not None and len(got) < len(req.items):
                # the meter's block is shorter than the items wanted from it: the rest one by one
                queue[:0] = [Request(it.di, (it,)) for it in req.items if it.di not in got]
        if block_silent is not None and self.remember:  # the items answered, the block not
            req, why = block_silent
            self.unsupported.unanswered(meter.id, req.di, f"{req.di:0{width}X} ({req.block.name})",
                                        f"{why}, while the meter answers its items one by one")
        return out

    # -- the bus time of a cycle -----------------------------------------------------------------
    def _enter(self, meter: Meter) -> None:
        if self._busy == 0:
            self._cycle = _Cycle(time.perf_counter())
        self._busy += 1
        self._cycle.meters.append(meter)

    def _leave(self) -> None:
        self._busy -= 1
        if self._busy == 0 and self._cycle is not None:
            cycle, self._cycle = self._cycle, None
            self._log_cycle(cycle, time.perf_counter() - cycle.started)

    def _log_cycle(self, cycle: _Cycle, took_s: float) -> None:
        """The bus time of a cycle from the bytes on the line, its turnarounds and timeouts; logged
        (at INFO when the number of exchanges changes), warned about when it does not fit the period."""
        answered = cycle.exchanges - cycle.timeouts
        bus_s = (self.line.wire_s(cycle.bytes) + answered * self.line.turnaround_s
                 + cycle.timeouts * self.gateway.timeout_s)
        period = min((m.period_s for m in cycle.meters), default=math.inf)
        n = len(cycle.meters)
        self.last_cycle = {"meters": n, "exchanges": cycle.exchanges, "bytes": cycle.bytes,
                           "timeouts": cycle.timeouts, "bus_s": bus_s, "took_s": took_s, "period_s": period}
        per_min = meters_per_minute(max(bus_s, took_s), n)
        text = (f"{self.where}: a cycle of {n} meter(s), {cycle.exchanges} exchange(s), {cycle.bytes} bytes "
                f"at {self.line.baudrate} baud ({self.line.bits} bits a byte), {cycle.timeouts} timeout(s): "
                f"bus time {bus_s:.2f} s (took {took_s:.2f} s), {per_min:.1f} meters a minute")
        if max(bus_s, took_s) > period:
            log.warning("%s: does not fit the %g s period (fewer meters on this bus, fewer items, or a "
                        "faster line)", text, period)
        elif cycle.exchanges != self._logged_exchanges:
            log.info("%s", text)
        else:
            log.debug("%s", text)
        self._logged_exchanges = cycle.exchanges

    def _clock_wanted(self, meter: Meter) -> bool:
        on = meter.read_clock if meter.read_clock is not None else self.gateway.read_clock
        if not on or self.timezone is None or meter.id in self.no_clock:
            return False
        return asyncio.get_running_loop().time() >= self._clock_due.get(meter.id, -math.inf)

    async def _read_value(self, meter: Meter, di: int) -> bytes:
        edition = FAMILIES[meter.family].edition
        reply = await self.transact(read_request(meter.address, di, edition), di, edition)
        return parse_read_raw(reply, edition)[1]

    async def _read_clock(self, meter: Meter, who: str) -> float | None:
        """The meter's clock carried forward to now [s since the epoch, UTC]; None when it could not be
        read this time (a timeout, a garbled or impossible value: logged, tried again at the next
        interval) or the meter does not tell it (remembered in :attr:`no_clock`)."""
        loop = asyncio.get_running_loop()
        edition = FAMILIES[meter.family].edition
        di_date, di_time = CLOCK_ITEMS[edition]
        width = 8 if edition == 2007 else 4
        self._clock_due[meter.id] = loop.time() + self.gateway.clock_interval_s
        di = di_date
        try:
            t_date = loop.time()
            raw_date = await self._read_value(meter, di_date)
            di = di_time
            t_asked = loop.time()
            raw_time = await self._read_value(meter, di_time)
            t_answered = loop.time()
            day, _ = decode_date(raw_date)
            tod = decode_time(raw_time)
            if tod.hour * 3600 + tod.minute * 60 + tod.second <= math.ceil(t_answered - t_date) + 1:
                di = di_date  # midnight may have passed between the two requests: the date again
                day, _ = decode_date(await self._read_value(meter, di_date))
        except MeterException as exc:
            self.no_clock[meter.id] = f"{di:0{width}X}: {exc}"
            log.warning("%s: does not tell its clock (reading %0*X: %s); not asked again, its readings carry "
                        "no device time", who, width, di, exc)
            return None
        except (ConnectionError, OSError) as exc:
            self.link.close()
            log.warning("%s: reading its clock: %s", who, exc)
            return None
        except CollectorError as exc:  # FrameError included: a value that is no date or time
            log.warning("%s: reading its clock (%0*X): %s; tried again in %g s", who, width, di, exc,
                        self.gateway.clock_interval_s)
            return None
        # hhmmss is truncated to the second: the meter's clock was [0, 1) s later, 0.5 s on average, at
        # some moment between the time request and its reply (its middle taken)
        at_mid = meter_clock(day, tod, self.timezone).timestamp() + 0.5
        self.clock_reads += 1
        return at_mid + (loop.time() - (t_asked + t_answered) / 2)

    async def discover(self) -> str:
        """The address of the only meter on the bus (2007 read-address request to AA AA AA AA AA AA).

        Raises
        ------
        CollectorError
            No meter answered (with several meters on a bus the replies collide: address each one).
        """
        async with self._lock:
            try:
                reply = await self.transact(Frame(WILDCARD, READ_ADDRESS_2007))
            except (ConnectionError, OSError) as exc:
                self.link.close()
                raise CollectorError(f"gateway {self.gateway.id}: {exc}") from None
            except CollectorError as exc:
                raise CollectorError(f"gateway {self.gateway.id}: address discovery: {exc}") from None
        if reply.is_abnormal or len(reply.data) != 6:
            raise CollectorError(f"gateway {self.gateway.id}: address discovery got {reply}")
        from collectors.dlt645.frame import address_str

        return address_str(reply.data)

    def close(self) -> None:
        self.link.close()
