"""The time a DL/T 645 bus needs: an exchange, a meter's read, a poll cycle, from the line speed and the
frame lengths.

An RS-485 line carries one frame at a time (half duplex). Each byte takes a start bit, its data bits,
a parity bit unless the line has none, and its stop bits: 11 bits on the standard's 8E1 line ("每字节含
8位二进制码, 传输时加上一个起始位(0)、一个偶校验位和一个停止位(1), 共11位", DL/T 645-2007 字节格式, as
quoted in "DL/T645-2007通讯规约协议说明", https://360docs.net/doc/722295758.html).

A frame is ``68 A0..A5 68 C L DATA CS 16``: 12 bytes and its data, after the wake-up bytes: the requests
here send four FE; replies carry none to four depending on the maker (https://cnblogs.com/chen1880/
category/1511203.html), four are assumed for an estimate, and the bytes actually received are counted for
a cycle. Between a request and its reply the meter takes its turnaround Td, commonly quoted from the
standard's link layer as 20 ms ≤ Td ≤ 500 ms (not checked against its text here); :data:`TURNAROUND_S` is
assumed.

At 2,400 baud a single-item exchange is a request of 20 bytes and a reply of 18 to 24 of 11 bits each,
0.17–0.20 s, plus the turnaround: 8 items of 30 meters take about a minute on one bus. A data block carries
several items for the price of one request and a few bytes more per item.
"""

from __future__ import annotations

from dataclasses import dataclass

from collectors.dlt645.frame import items_of

#: the meter's turnaround assumed when none is measured [s]
TURNAROUND_S = 0.05
#: wake-up bytes FE before a request (sent here) and assumed before a reply
WAKEUP = 4
#: bytes of a frame besides its data: 68, six address bytes, 68, control, length, checksum, 16
FRAME_OVERHEAD = 12


def byte_bits(bytesize: int = 8, parity: str = "E", stopbits: int = 1) -> int:
    """Bits on the line per byte: start bit, data bits, parity bit (unless ``N``), stop bits."""
    return 1 + bytesize + (0 if parity == "N" else 1) + stopbits


def frame_bytes(data_len: int, wakeup: int = WAKEUP) -> int:
    """Bytes on the line of a frame with ``data_len`` data bytes and ``wakeup`` bytes FE before it."""
    return wakeup + FRAME_OVERHEAD + data_len


def value_bytes(items, edition: int) -> int:
    """Value bytes of a reply carrying ``items`` (DataItems, or identifiers of the edition)."""
    table = items_of(edition)
    return sum((table[it] if isinstance(it, int) else it).size for it in items)


@dataclass(frozen=True)
class Line:
    """A serial line: its speed [bit/s], bits per byte, and the meters' turnaround [s]."""

    baudrate: int
    bits: int = 11
    turnaround_s: float = TURNAROUND_S

    @classmethod
    def of(cls, gateway, turnaround_s: float = TURNAROUND_S) -> "Line":
        """The line of a ``dlt645_serial`` or ``dlt645_tcp`` gateway (the serial side of a serial server)."""
        bits = byte_bits(gateway.bytesize, gateway.parity, gateway.stopbits)
        return cls(gateway.baudrate, bits, turnaround_s)

    def wire_s(self, n_bytes: int) -> float:
        """Seconds ``n_bytes`` take on the line."""
        return n_bytes * self.bits / self.baudrate

    def exchange_s(self, request_bytes: int, reply_bytes: int) -> float:
        """Seconds of one request and its reply: both frames on the line and the turnaround."""
        return self.wire_s(request_bytes + reply_bytes) + self.turnaround_s


def request_s(line: Line, items, edition: int, reply_wakeup: int = WAKEUP) -> float:
    """Seconds of the exchange reading ``items`` (one item, or a block's) from a meter."""
    di = 4 if edition == 2007 else 2
    return line.exchange_s(frame_bytes(di), frame_bytes(di + value_bytes(items, edition), reply_wakeup))


def read_s(line: Line, requests, edition: int, reply_wakeup: int = WAKEUP) -> float:
    """Seconds of a meter's read: the exchanges of ``requests``
    (:class:`~collectors.dlt645.support.Request`)."""
    return sum(request_s(line, r.items, edition, reply_wakeup) for r in requests)


def meters_per_minute(cycle_s: float, meters: int) -> float:
    """Meters one bus reads in a minute when ``meters`` take ``cycle_s`` seconds."""
    return 60.0 * meters / cycle_s if cycle_s > 0 else float("inf")


def estimate_cycle_s(gateway, meters, turnaround_s: float = TURNAROUND_S) -> float:
    """Seconds a poll cycle of ``meters`` (of one DL/T 645 gateway) takes when every meter answers every
    item of its family: the requests of :func:`~collectors.dlt645.support.plan` (blocks where the family
    asks for them), each reply with the preamble. An upper bound before meters are known to lack items;
    compare it with the meters' period before a bus is wired."""
    from collectors.dlt645.frame import FAMILIES
    from collectors.dlt645.support import plan

    line = Line.of(gateway, turnaround_s)
    total = 0.0
    for m in meters:
        fam = FAMILIES[m.family]
        total += read_s(line, plan(fam), fam.edition)
    return total
