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
"""

from __future__ import annotations

import asyncio
import logging
import math

from collectors.bytelink import ByteLink, link_to
from collectors.dlt645.frame import (
    CLOCK_ITEMS,
    FAMILIES,
    READ_ADDRESS_2007,
    WILDCARD,
    Frame,
    FrameError,
    MeterException,
    encode_frame,
    decode_date,
    decode_time,
    find_frame,
    meter_clock,
    parse_read_raw,
    parse_read_reply,
    read_request,
)
from workspace.errors import CollectorError
from workspace.site import Gateway, Meter

log = logging.getLogger(__name__)

#: quantities a meter may lack: "no requested data" for them is not a failure
OPTIONAL = ("energy_tariff_1", "energy_tariff_2", "energy_tariff_3", "energy_tariff_4")


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
    """

    def __init__(self, gateway: Gateway, port_offset: int = 0, link: ByteLink | None = None,
                 timezone: str | None = None):
        self.gateway = gateway
        self.timezone = timezone
        self.no_clock: dict[str, str] = {}
        self.clock_reads = 0
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
        await self.link.write(encode_frame(request, wakeup=4))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.gateway.timeout_s
        buf = bytearray()
        skipped = 0
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                heard = f"; heard {len(buf)} byte(s) that are no frame: {bytes(buf[:32]).hex(' ').upper()}" \
                    if buf else (f"; skipped {skipped} frame(s) not for this request" if skipped else "")
                raise CollectorError(f"no answer within {self.gateway.timeout_s:g} s{heard}")
            buf += await self.link.receive(remaining)
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
        """Every quantity of the meter's DL/T 645 family [kWh, kW, V, A, -], and ``device_time``, the
        meter's clock at the end of the read [s since the epoch, UTC], when it is read this time.

        Raises CollectorError naming the meter, the gateway, the identifier and what went wrong.
        """
        fam = FAMILIES[meter.family]
        who = f"meter {meter.id} (address {meter.address} on {self.where})"
        out: dict[str, float] = {}
        async with self._lock:  # one request at a time on the bus
            for item in fam.items:
                request = read_request(meter.address, item.di, fam.edition)
                try:
                    reply = await self.transact(request, item.di, fam.edition)
                    _, value = parse_read_reply(reply, fam.edition)
                except MeterException as exc:
                    if item.quantity in OPTIONAL and exc.error & 0x02:  # "no requested data"
                        continue
                    raise CollectorError(f"{who}: reading {item.di:0{2 * fam.di_size}X} ({item.name}): "
                                         f"{exc}") from None
                except FrameError as exc:
                    raise CollectorError(f"{who}: reading {item.di:0{2 * fam.di_size}X}: {exc}") from None
                except CollectorError as exc:
                    raise CollectorError(f"{who}: reading {item.di:0{2 * fam.di_size}X} ({item.name}): "
                                         f"{exc}") from None
                except (ConnectionError, OSError) as exc:
                    self.link.close()
                    raise CollectorError(f"{who}: {exc}") from None
                out[item.quantity] = value
            if self._clock_wanted(meter):
                device_time = await self._read_clock(meter, who)
                if device_time is not None:
                    out["device_time"] = device_time
        return out

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
