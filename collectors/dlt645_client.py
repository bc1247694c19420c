"""Reading DL/T 645 meters on an RS-485 bus or through a transparent serial server.

One request at a time per bus (half duplex). Every request starts with an empty input buffer and
four wake-up bytes 0xFE; a reply is accepted only from the meter asked, with the reply control code of
the request and the data identifier asked for, so a reply that comes after its request timed out is
skipped rather than taken for the next one.
"""

from __future__ import annotations

import asyncio
import logging

from collectors.bytelink import ByteLink, link_to
from collectors.dlt645 import (
    FAMILIES,
    READ_ADDRESS_2007,
    WILDCARD,
    Frame,
    FrameError,
    MeterException,
    encode_frame,
    find_frame,
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
    """

    def __init__(self, gateway: Gateway, port_offset: int = 0, link: ByteLink | None = None):
        self.gateway = gateway
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
        """Every quantity of the meter's DL/T 645 family [kWh, kW, V, A, -].

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
        return out

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
        from collectors.dlt645 import address_str

        return address_str(reply.data)

    def close(self) -> None:
        self.link.close()
