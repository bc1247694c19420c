"""DL/T 645-2007 and DL/T 645-1997 (多功能电能表通信协议): frame codec, data identifiers and value formats.

Frame (both editions)::

    [0xFE × n]  0x68  A0..A5  0x68  C  L  DATA(L bytes, each +0x33)  CS  0x16

``A0..A5`` is the meter's address in BCD, low byte first (the nameplate's "000012345678" is sent
``78 56 34 12 00 00``); ``AA AA AA AA AA AA`` is the wildcard a single meter on a bus answers to (used
to discover its address), ``99 99 99 99 99 99`` the broadcast address. ``CS`` is the sum modulo 256 of
every byte from the first 0x68 to the last data byte. Wake-up bytes 0xFE are sent before a frame
and are not part of it.

Control code ``C``: bit 7 direction (1: the meter's reply), bit 6 abnormal reply, bit 5 follow-up
frame, bits 4..0 the function: 2007 read data 0x11 (reply 0x91, abnormal 0xD1 with one error byte),
read address 0x13 (reply 0x93 with the address); 1997 read data 0x01 (reply 0x81, abnormal 0xC1).

Data: a data identifier (2007: DI0..DI3, 4 bytes, low byte first; 1997: 2 bytes, low byte first)
then the value in BCD, low byte first. Where the standard gives a value a sign, it is the top bit
of the most significant byte. Every data byte travels with 0x33 added.

Data blocks (数据块): an identifier with DI0 (or DI1) FF (1997: last digit F) asks for a group of items
at once, their values back to back in the order of the standard's table (:data:`BLOCKS_2007`,
:data:`BLOCKS_1997`, :func:`parse_block_reply`). Meters need not support them, and may send fewer
members than the table lists.

References
----------
DL/T 645-2007 多功能电能表通信协议, sections 4 (frame) and 7 (control codes, error word), and its
appendix A (data identifiers and formats). DL/T 645-1997 多功能电能表通信规约.

The meter's clock: 2007 appendix A, parameter identifiers (参变量) 04000101 日期及星期 (YYMMDDWW, 0 is
Sunday) and 04000102 时间 (hhmmss); 1997 C010 日期及周次 (YYMMDDWW) and C011 时间 (hhmmss). The meter
keeps local wall time (no zone in the frame): :func:`meter_clock` takes it in the site's zone to UTC.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from workspace.errors import CollectorError
from workspace.meters import DLT645_FAMILIES, Dlt645Family

log = logging.getLogger(__name__)

START = 0x68
END = 0x16
WAKEUP = 0xFE
OFFSET = 0x33
WILDCARD = "AAAAAAAAAAAA"
BROADCAST = "999999999999"

#: control codes (requests; a normal reply adds 0x80, an abnormal reply 0xC0)
READ_2007 = 0x11
READ_ADDRESS_2007 = 0x13
READ_1997 = 0x01
REPLY = 0x80
ABNORMAL = 0x40
FOLLOW_UP = 0x20

#: bits of the error byte of an abnormal reply, per edition
ERROR_BITS = {
    2007: ("other error (其他错误)", "no requested data (无请求数据)", "password wrong or unauthorised (密码错/未授权)",
           "baud rate cannot be changed (通信速率不能更改)", "too many year time zones (年时区数超)",
           "too many daily periods (日时段数超)", "too many tariffs (费率数超)", "reserved bit 7"),
    1997: ("illegal data (非法数据)", "wrong data identifier (数据标识错)", "password wrong (密码错)",
           "reserved bit 3", "too many year time zones (年时区数超)", "too many daily periods (日时段数超)",
           "too many tariffs (费率数超)", "reserved bit 7"),
}


class FrameError(CollectorError, ValueError):
    """Bytes that are not a well-formed DL/T 645 frame or value; the message says what is wrong."""


class MeterException(CollectorError):
    """A meter's abnormal reply (control code with bit 6 set): ``error`` is its error byte."""

    def __init__(self, message: str, error: int):
        self.error = error
        super().__init__(message)


def describe_error(error: int, edition: int = 2007) -> str:
    """The names of the bits set in an abnormal reply's error byte."""
    names = [ERROR_BITS[edition][b] for b in range(8) if error >> b & 1]
    return ", ".join(names) if names else "no error bit set"


# -- addresses -----------------------------------------------------------------------------------
def address_bytes(address: str) -> bytes:
    """Six address bytes as sent (low byte first) from 12 characters, most significant first.

    Each byte is two BCD digits, or ``AA`` (the wildcard, also for abbreviated addresses).
    """
    if not isinstance(address, str) or len(address) != 12:
        raise FrameError(f"a DL/T 645 address has 12 characters, not {address!r}")
    out = bytearray()
    for k in range(10, -2, -2):
        pair = address[k:k + 2].upper()
        if pair != "AA" and not pair.isdigit():
            raise FrameError(f"address {address!r}: {pair!r} is neither two BCD digits nor AA")
        out.append(int(pair, 16))
    return bytes(out)


def address_str(raw: bytes) -> str:
    """12 characters, most significant first, from six address bytes as sent."""
    if len(raw) != 6:
        raise FrameError(f"an address has 6 bytes, not {len(raw)}")
    for b in raw:
        if b != 0xAA and (b >> 4 > 9 or b & 0xF > 9):
            raise FrameError(f"address byte {b:02X} is neither BCD nor AA "
                             f"(address field {raw.hex(' ').upper()})")
    return "".join(f"{b:02X}" for b in reversed(raw))


# -- frames --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Frame:
    """One DL/T 645 frame.

    Parameters
    ----------
    address : str
        12 characters, most significant first (``"000012345678"``, or ``WILDCARD``).
    control : int
        Control code [0..255].
    data : bytes
        The data field without the 0x33 offset (as the application sees it).
    """

    address: str
    control: int
    data: bytes = b""

    @property
    def is_reply(self) -> bool:
        return bool(self.control & REPLY)

    @property
    def is_abnormal(self) -> bool:
        return bool(self.control & ABNORMAL)

    @property
    def function(self) -> int:
        return self.control & 0x1F


def checksum(body: bytes) -> int:
    """Sum modulo 256 of the bytes from the first 0x68 to the last data byte."""
    return sum(body) & 0xFF


def encode_frame(frame: Frame, wakeup: int = 4) -> bytes:
    """The bytes of a frame on the wire, preceded by ``wakeup`` bytes 0xFE."""
    if not 0 <= frame.control <= 0xFF:
        raise FrameError(f"control code {frame.control} is not a byte")
    if len(frame.data) > 200:
        raise FrameError(f"data field of {len(frame.data)} bytes: DL/T 645 allows at most 200")
    body = (bytes([START]) + address_bytes(frame.address) + bytes([START, frame.control, len(frame.data)])
            + bytes((b + OFFSET) & 0xFF for b in frame.data))
    return bytes([WAKEUP]) * wakeup + body + bytes([checksum(body), END])


def _parse_at(buf: bytes, i: int) -> tuple[Frame, int]:
    """Parse the complete frame starting at ``buf[i] == 0x68``; returns it and the index past its end."""
    n = buf[i + 9]
    end = i + 12 + n
    body = buf[i:i + 10 + n]
    cs, stop = buf[end - 2], buf[end - 1]
    where = f"frame {buf[i:end].hex(' ').upper()}"
    if stop != END:
        raise FrameError(f"{where}: end byte is {stop:02X}, not 16 (length byte says {n} data bytes)")
    if cs != checksum(body):
        raise FrameError(f"{where}: checksum is {cs:02X}, the bytes sum to {checksum(body):02X}")
    address = address_str(buf[i + 1:i + 7])
    data = bytes((b - OFFSET) & 0xFF for b in buf[i + 10:i + 10 + n])
    return Frame(address, buf[i + 8], data), end


def find_frame(buf: bytes) -> tuple[Frame | None, int]:
    """The first frame in a stream of received bytes.

    Bytes before a frame (wake-up 0xFE, line noise, a 0x68 not followed by a second 0x68 seven bytes
    later) are skipped.

    Returns
    -------
    frame : Frame or None
        None while the frame is not complete yet.
    consumed : int
        Bytes of ``buf`` used up (skipped noise, plus the frame when one is returned).

    Raises
    ------
    FrameError
        A complete candidate frame has a wrong end byte, checksum or address.
    """
    i = 0
    n = len(buf)
    while i < n:
        if buf[i] != START:
            i += 1
            continue
        if i + 8 > n:
            return None, i  # cannot tell yet whether this 0x68 starts a frame
        if buf[i + 7] != START:
            i += 1
            continue
        if i + 10 > n or i + 12 + buf[i + 9] > n:
            return None, i
        frame, end = _parse_at(buf, i)
        return frame, end
    return None, n


def decode_frame(raw: bytes) -> Frame:
    """Decode exactly one frame (optionally preceded by wake-up bytes 0xFE).

    Raises
    ------
    FrameError
        Naming what is wrong: no start byte, truncated, length mismatch, checksum, end byte.
    """
    raw = bytes(raw)
    i = 0
    while i < len(raw) and raw[i] == WAKEUP:
        i += 1
    shown = raw.hex(" ").upper() or "(empty)"
    if i >= len(raw) or raw[i] != START:
        raise FrameError(f"{shown}: no start byte 68 after {i} wake-up byte(s)")
    if len(raw) - i < 12:
        raise FrameError(f"{shown}: truncated, {len(raw) - i} bytes from the first 68, "
                         f"a frame has at least 12")
    if raw[i + 7] != START:
        raise FrameError(f"{shown}: second start byte is {raw[i + 7]:02X}, not 68")
    n = raw[i + 9]
    if len(raw) - i != 12 + n:
        raise FrameError(f"{shown}: length byte says {n} data bytes, so {12 + n} bytes from the first 68, "
                         f"but there are {len(raw) - i}")
    frame, _ = _parse_at(raw, i)
    return frame


# -- data identifiers and values -----------------------------------------------------------------
@dataclass(frozen=True)
class DataItem:
    """One value a meter reports.

    Parameters
    ----------
    di : int
        Data identifier (2007: DI3DI2DI1DI0 as 0x00010000; 1997: 0x9010).
    quantity : str
        Name in :class:`workspace.batch.Reading` (``counter``, ``rate``, ``voltage``, ``current``,
        ``power_factor``) or ``energy_tariff_<k>`` / ``energy_combined``.
    size : int
        Bytes of the value [B].
    decimals : int
        Digits after the decimal point (XXXXXX.XX: 2).
    signed : bool
        Top bit of the most significant byte is the sign (1: negative).
    unit : str
        Unit of the value (kWh, kW, V, A, -).
    name : str
        The standard's name.
    """

    di: int
    quantity: str
    size: int
    decimals: int
    signed: bool
    unit: str
    name: str


def bcd_value(raw: bytes, decimals: int, signed: bool = False) -> float:
    """Value of a BCD field sent low byte first, with ``decimals`` digits after the point.

    Raises
    ------
    FrameError
        A nibble is not a decimal digit.
    """
    digits = bytearray(reversed(raw))
    negative = False
    if signed and digits:
        negative = bool(digits[0] & 0x80)
        digits[0] &= 0x7F
    text = digits.hex()
    if not text.isdigit():
        raise FrameError(f"value {bytes(raw).hex(' ').upper()} (low byte first) is not BCD")
    value = int(text) / 10 ** decimals
    return -value if negative else value


def bcd_bytes(value: float, size: int, decimals: int, signed: bool = False) -> bytes:
    """BCD field, low byte first, for ``value`` (the meter's side).

    Raises
    ------
    FrameError
        The value does not fit the format.
    """
    scaled = round(abs(value) * 10 ** decimals)
    digits = f"{scaled:0{2 * size}d}"
    top = 0x7F if signed else 0xFF
    if len(digits) > 2 * size or int(digits[:2], 16) > top:
        raise FrameError(f"{value} does not fit {size} BCD bytes with {decimals} decimals")
    out = bytearray(bytes.fromhex(digits))
    if signed and value < 0 and scaled:
        out[0] |= 0x80
    return bytes(reversed(out))


def _energy(di, quantity, name, signed=False):
    return DataItem(di, quantity, 4, 2, signed, "kWh", name)


#: DL/T 645-2007 appendix A identifiers this workspace reads
ITEMS_2007: dict[int, DataItem] = {it.di: it for it in (
    _energy(0x00000000, "energy_combined", "组合有功总电能 combined active energy, total", signed=True),
    _energy(0x00010000, "counter", "正向有功总电能 forward active energy, total"),
    _energy(0x00010100, "energy_tariff_1", "正向有功费率1电能 forward active energy, tariff 1 (尖 sharp)"),
    _energy(0x00010200, "energy_tariff_2", "正向有功费率2电能 forward active energy, tariff 2 (峰 peak)"),
    _energy(0x00010300, "energy_tariff_3", "正向有功费率3电能 forward active energy, tariff 3 (平 flat)"),
    _energy(0x00010400, "energy_tariff_4", "正向有功费率4电能 forward active energy, tariff 4 (谷 valley)"),
    DataItem(0x02010100, "voltage", 2, 1, False, "V", "A相电压 phase A voltage, XXX.X"),
    DataItem(0x02010200, "voltage_b", 2, 1, False, "V", "B相电压 phase B voltage, XXX.X"),
    DataItem(0x02010300, "voltage_c", 2, 1, False, "V", "C相电压 phase C voltage, XXX.X"),
    DataItem(0x02020100, "current", 3, 3, True, "A", "A相电流 phase A current, XXX.XXX"),
    DataItem(0x02020200, "current_b", 3, 3, True, "A", "B相电流 phase B current, XXX.XXX"),
    DataItem(0x02020300, "current_c", 3, 3, True, "A", "C相电流 phase C current, XXX.XXX"),
    DataItem(0x02030000, "rate", 3, 4, True, "kW", "瞬时总有功功率 total active power, XX.XXXX"),
    DataItem(0x02030100, "rate_a", 3, 4, True, "kW", "瞬时A相有功功率 phase A active power, XX.XXXX"),
    DataItem(0x02030200, "rate_b", 3, 4, True, "kW", "瞬时B相有功功率 phase B active power, XX.XXXX"),
    DataItem(0x02030300, "rate_c", 3, 4, True, "kW", "瞬时C相有功功率 phase C active power, XX.XXXX"),
    DataItem(0x02060000, "power_factor", 2, 3, True, "-", "总功率因数 total power factor, X.XXX"),
    DataItem(0x02060100, "power_factor_a", 2, 3, True, "-", "A相功率因数 phase A power factor, X.XXX"),
    DataItem(0x02060200, "power_factor_b", 2, 3, True, "-", "B相功率因数 phase B power factor, X.XXX"),
    DataItem(0x02060300, "power_factor_c", 2, 3, True, "-", "C相功率因数 phase C power factor, X.XXX"),
    # appendix A, parameter identifiers (参变量): the meter's clock, in the meter's local time
    DataItem(0x04000101, "clock_date", 4, 0, False, "-", "日期及星期 date and week (0: Sunday), YYMMDDWW"),
    DataItem(0x04000102, "clock_time", 3, 0, False, "-", "时间 time, hhmmss"),
)}

#: DL/T 645-1997 identifiers (2 bytes) for the same quantities
ITEMS_1997: dict[int, DataItem] = {it.di: it for it in (
    _energy(0x9010, "counter", "正向有功总电能 forward active energy, total"),
    _energy(0x9011, "energy_tariff_1", "正向有功费率1电能 forward active energy, tariff 1 (尖 sharp)"),
    _energy(0x9012, "energy_tariff_2", "正向有功费率2电能 forward active energy, tariff 2 (峰 peak)"),
    _energy(0x9013, "energy_tariff_3", "正向有功费率3电能 forward active energy, tariff 3 (平 flat)"),
    _energy(0x9014, "energy_tariff_4", "正向有功费率4电能 forward active energy, tariff 4 (谷 valley)"),
    DataItem(0xB611, "voltage", 2, 0, False, "V", "A相电压 phase A voltage, XXX"),
    DataItem(0xB612, "voltage_b", 2, 0, False, "V", "B相电压 phase B voltage, XXX"),
    DataItem(0xB613, "voltage_c", 2, 0, False, "V", "C相电压 phase C voltage, XXX"),
    DataItem(0xB621, "current", 2, 2, False, "A", "A相电流 phase A current, XX.XX"),
    DataItem(0xB622, "current_b", 2, 2, False, "A", "B相电流 phase B current, XX.XX"),
    DataItem(0xB623, "current_c", 2, 2, False, "A", "C相电流 phase C current, XX.XX"),
    DataItem(0xB630, "rate", 3, 4, False, "kW", "瞬时有功功率 active power, XX.XXXX"),
    DataItem(0xB631, "rate_a", 3, 4, False, "kW", "A相有功功率 phase A active power, XX.XXXX"),
    DataItem(0xB632, "rate_b", 3, 4, False, "kW", "B相有功功率 phase B active power, XX.XXXX"),
    DataItem(0xB633, "rate_c", 3, 4, False, "kW", "C相有功功率 phase C active power, XX.XXXX"),
    DataItem(0xB650, "power_factor", 2, 3, False, "-", "总功率因数 total power factor, X.XXX"),
    DataItem(0xB651, "power_factor_a", 2, 3, False, "-", "A相功率因数 phase A power factor, X.XXX"),
    DataItem(0xB652, "power_factor_b", 2, 3, False, "-", "B相功率因数 phase B power factor, X.XXX"),
    DataItem(0xB653, "power_factor_c", 2, 3, False, "-", "C相功率因数 phase C power factor, X.XXX"),
    # parameter identifiers (参变量): the meter's clock, in the meter's local time
    DataItem(0xC010, "clock_date", 4, 0, False, "-", "日期及周次 date and week (0: Sunday), YYMMDDWW"),
    DataItem(0xC011, "clock_time", 3, 0, False, "-", "时间 time, hhmmss"),
)}

#: the identifiers of a meter's clock (date and week, then time of day), per edition
CLOCK_ITEMS: dict[int, tuple[int, int]] = {2007: (0x04000101, 0x04000102), 1997: (0xC010, 0xC011)}


@dataclass(frozen=True)
class Block:
    """A data block (数据块): one identifier whose reply carries several items, back to back.

    Parameters
    ----------
    di : int
        The block's identifier (2007: DI0 = FF or DI1 = FF, as 0x0201FF00; 1997: the low nibble F,
        as 0xB61F).
    members : tuple of int
        The identifiers of the items it carries, in the order of the reply.
    name : str
        The standard's name.

    A meter may send fewer members than the standard lists (a single-phase meter's voltage block holds
    phase A only; an energy block holds the total and the tariffs the meter has): whole members are
    decoded from the start, what is missing is left to single reads.
    """

    di: int
    members: tuple[int, ...]
    name: str


#: DL/T 645-2007 appendix A data blocks (表 A.1 电能量, 表 A.3 变量): the identifier with DI0 (or DI1) FF
#: asks for every item of the group, in the order of the table
BLOCKS_2007: dict[int, Block] = {b.di: b for b in (
    Block(0x0001FF00, (0x00010000, 0x00010100, 0x00010200, 0x00010300, 0x00010400),
          "正向有功电能数据块 forward active energy block (total, tariffs 1..4)"),
    Block(0x0201FF00, (0x02010100, 0x02010200, 0x02010300), "电压数据块 voltage block (phases A, B, C)"),
    Block(0x0202FF00, (0x02020100, 0x02020200, 0x02020300), "电流数据块 current block (phases A, B, C)"),
    Block(0x0203FF00, (0x02030000, 0x02030100, 0x02030200, 0x02030300),
          "瞬时有功功率数据块 active power block (total, phases A, B, C)"),
    Block(0x0206FF00, (0x02060000, 0x02060100, 0x02060200, 0x02060300),
          "功率因数数据块 power factor block (total, phases A, B, C)"),
)}

#: DL/T 645-1997 data blocks: the identifier with its last digit F (9010..9014 -> 901F)
BLOCKS_1997: dict[int, Block] = {b.di: b for b in (
    Block(0x901F, (0x9010, 0x9011, 0x9012, 0x9013, 0x9014),
          "正向有功电能数据块 forward active energy block (total, tariffs 1..4)"),
    Block(0xB61F, (0xB611, 0xB612, 0xB613), "电压数据块 voltage block (phases A, B, C)"),
    Block(0xB62F, (0xB621, 0xB622, 0xB623), "电流数据块 current block (phases A, B, C)"),
    Block(0xB63F, (0xB630, 0xB631, 0xB632, 0xB633), "有功功率数据块 active power block (total, A, B, C)"),
    Block(0xB65F, (0xB650, 0xB651, 0xB652, 0xB653), "功率因数数据块 power factor block (total, A, B, C)"),
)}

#: a block separator (数据块分隔码) some 1997 meters end a block's reply with; skipped when it is there
BLOCK_END_1997 = 0xAA


def blocks_of(edition: int) -> dict[int, Block]:
    return BLOCKS_2007 if edition == 2007 else BLOCKS_1997


@dataclass(frozen=True)
class Family:
    """What is read from a DL/T 645 meter: the edition, the identifiers in reading order, and whether
    the standard's data blocks are asked for where one covers several of them."""

    name: str
    edition: int
    items: tuple[DataItem, ...]
    blocks: bool = False

    @property
    def read_code(self) -> int:
        return READ_2007 if self.edition == 2007 else READ_1997

    @property
    def di_size(self) -> int:
        return 4 if self.edition == 2007 else 2


def items_of(edition: int) -> dict[int, DataItem]:
    return ITEMS_2007 if edition == 2007 else ITEMS_1997


def _family(fam: Dlt645Family) -> Family:
    """A core DL/T 645 family (:mod:`workspace.meters`) with its quantities resolved to identifiers."""
    by_quantity = {it.quantity: it for it in items_of(fam.edition).values()}
    return Family(fam.name, fam.edition, tuple(by_quantity[q] for q in fam.read), fam.blocks)


#: DL/T 645 families by name: the core's tables (``workspace/data/meter_families.yaml``), resolved
FAMILIES: dict[str, Family] = {name: _family(f) for name, f in DLT645_FAMILIES.items()}


def read_request(address: str, di: int, edition: int = 2007) -> Frame:
    """The frame asking meter ``address`` for data identifier ``di``."""
    size = 4 if edition == 2007 else 2
    return Frame(address, READ_2007 if edition == 2007 else READ_1997, di.to_bytes(size, "little"))


def abnormal_reply(address: str, error: int, edition: int = 2007) -> Frame:
    """A meter's abnormal reply with its error byte."""
    code = (READ_2007 if edition == 2007 else READ_1997) | REPLY | ABNORMAL
    return Frame(address, code, bytes([error & 0xFF]))


def parse_read_reply(frame: Frame, edition: int = 2007) -> tuple[int, float]:
    """``(di, value)`` from a normal read reply; the value in the item's unit.

    Raises
    ------
    MeterException
        The reply is abnormal (its error byte named).
    FrameError
        Not a read reply, unknown identifier, or a value of the wrong size or not BCD.
    """
    di, value = parse_read_raw(frame, edition)
    item = items_of(edition)[di]
    return di, bcd_value(value, item.decimals, item.signed)


def parse_read_raw(frame: Frame, edition: int = 2007) -> tuple[int, bytes]:
    """``(di, value bytes)`` from a normal read reply, the value bytes without the 0x33 offset, low
    byte first, checked for the item's size (for values that are not a number: the clock).

    Raises
    ------
    MeterException, FrameError
        As :func:`parse_read_reply`.
    """
    read = READ_2007 if edition == 2007 else READ_1997
    if frame.function != read or not frame.is_reply:
        raise FrameError(f"meter {frame.address}: control code {frame.control:02X} is not a reply to a read "
                         f"({read | REPLY:02X})")
    if frame.is_abnormal:
        err = frame.data[0] if frame.data else 0
        raise MeterException(f"meter {frame.address} answered abnormally ({frame.control:02X}), error byte "
                             f"{err:02X}: {describe_error(err, edition)}", err)
    size = 4 if edition == 2007 else 2
    if len(frame.data) < size:
        raise FrameError(f"meter {frame.address}: reply of {len(frame.data)} data bytes has no identifier")
    di = int.from_bytes(frame.data[:size], "little")
    item = items_of(edition).get(di)
    if item is None:
        raise FrameError(f"meter {frame.address}: reply carries identifier {di:0{2 * size}X}, "
                         f"which is not read here")
    value = frame.data[size:]
    if len(value) != item.size:
        raise FrameError(f"meter {frame.address}: {item.name} ({di:0{2 * size}X}) has {item.size} bytes, "
                         f"the reply carries {len(value)}")
    return di, bytes(value)


def parse_block_reply(frame: Frame, block: Block, edition: int = 2007) -> dict[int, float]:
    """Member identifier -> value from a normal reply to a block read, for the whole members it carries
    (fewer than the standard lists when the meter has fewer; a 1997 end byte AA is skipped; members
    beyond those listed, such as tariffs 5..63, are ignored).

    Raises
    ------
    MeterException
        The reply is abnormal (the meter has no such block, or none of its items).
    FrameError
        Not a read reply, another identifier, no whole member, or a value that is not BCD.
    """
    read = READ_2007 if edition == 2007 else READ_1997
    size = 4 if edition == 2007 else 2
    if frame.function != read or not frame.is_reply:
        raise FrameError(f"meter {frame.address}: control code {frame.control:02X} is not a reply to a read "
                         f"({read | REPLY:02X})")
    if frame.is_abnormal:
        err = frame.data[0] if frame.data else 0
        raise MeterException(f"meter {frame.address} answered abnormally ({frame.control:02X}), error byte "
                             f"{err:02X}: {describe_error(err, edition)}", err)
    di = int.from_bytes(frame.data[:size], "little") if len(frame.data) >= size else None
    if di != block.di:
        raise FrameError(f"meter {frame.address}: reply to block {block.di:0{2 * size}X} carries "
                         f"{'no identifier' if di is None else f'identifier {di:0{2 * size}X}'}")
    value = frame.data[size:]
    if edition == 1997 and value and value[-1] == BLOCK_END_1997:
        value = value[:-1]
    items = items_of(edition)
    out: dict[int, float] = {}
    at = 0
    for member in block.members:
        item = items[member]
        if at + item.size > len(value):
            break
        out[member] = bcd_value(value[at:at + item.size], item.decimals, item.signed)
        at += item.size
    if not out:
        raise FrameError(f"meter {frame.address}: {block.name} ({block.di:0{2 * size}X}): {len(value)} value "
                         f"byte(s), not one whole item")
    return out


def block_bytes(block: Block, values: dict[int, float], edition: int = 2007) -> bytes:
    """The value bytes of a block reply (the meter's side) for the members in ``values``, which must
    be the first ones of the block, in its order."""
    items = items_of(edition)
    out = bytearray()
    for member in block.members[:len(values)]:
        item = items[member]
        out += bcd_bytes(values[member], item.size, item.decimals, item.signed)
    return bytes(out)


# -- the meter's clock ---------------------------------------------------------------------------
def _bcd_fields(raw: bytes, what: str) -> list[int]:
    """The two-digit BCD fields of ``raw`` (sent low byte first), most significant first."""
    out = []
    for b in reversed(raw):
        if b >> 4 > 9 or b & 0xF > 9:
            raise FrameError(f"{what} {bytes(raw).hex(' ').upper()} (low byte first): "
                             f"byte {b:02X} is not BCD")
        out.append(10 * (b >> 4) + (b & 0xF))
    return out


def decode_date(raw: bytes) -> tuple[dt.date, int]:
    """The meter's date and its week day from ``YYMMDDWW`` (4 BCD bytes, sent ``WW DD MM YY``).

    ``YY`` is a year of 2000..2099; ``WW`` is the week day the meter keeps, 0 Sunday .. 6 Saturday
    (set with the clock; it is returned, not checked against the date, as some meters keep it wrong).

    Raises
    ------
    FrameError
        Not 4 bytes, a byte that is not BCD, a week day above 6, or no such date (2026-02-30).
    """
    if len(raw) != 4:
        raise FrameError(f"a date YYMMDDWW has 4 bytes, not {len(raw)} ({bytes(raw).hex(' ').upper()})")
    yy, mm, dd, ww = _bcd_fields(raw, "date YYMMDDWW")
    if ww > 6:
        raise FrameError(f"date YYMMDDWW {yy:02d}{mm:02d}{dd:02d}{ww:02d}: "
                         f"week day {ww} is not 0 (Sunday) .. 6")
    try:
        return dt.date(2000 + yy, mm, dd), ww
    except ValueError as exc:
        raise FrameError(f"date YYMMDDWW {yy:02d}{mm:02d}{dd:02d}{ww:02d}: no such date ({exc})") from None


def decode_time(raw: bytes) -> dt.time:
    """The meter's time of day from ``hhmmss`` (3 BCD bytes, sent ``ss mm hh``).

    Raises
    ------
    FrameError
        Not 3 bytes, a byte that is not BCD, or no such time (24:00:00, 12:60:00).
    """
    if len(raw) != 3:
        raise FrameError(f"a time hhmmss has 3 bytes, not {len(raw)} ({bytes(raw).hex(' ').upper()})")
    hh, mi, ss = _bcd_fields(raw, "time hhmmss")
    try:
        return dt.time(hh, mi, ss)
    except ValueError as exc:
        raise FrameError(f"time hhmmss {hh:02d}{mi:02d}{ss:02d}: no such time ({exc})") from None


def encode_date(day: dt.date) -> bytes:
    """``YYMMDDWW`` as sent (low byte first) for a date of 2000..2099 (the meter's side)."""
    if not 2000 <= day.year <= 2099:
        raise FrameError(f"{day}: YYMMDDWW holds the years 2000..2099")
    ww = day.isoweekday() % 7  # 0: Sunday
    return bytes.fromhex(f"{ww:02d}{day.day:02d}{day.month:02d}{day.year % 100:02d}")


def encode_time(t: dt.time) -> bytes:
    """``hhmmss`` as sent (low byte first), seconds truncated as a meter's clock shows them."""
    return bytes.fromhex(f"{t.second:02d}{t.minute:02d}{t.hour:02d}")


def meter_clock(day: dt.date, time_of_day: dt.time, zone: str | dt.tzinfo) -> dt.datetime:
    """The meter's clock as a UTC instant.

    A DL/T 645 meter keeps local wall time (its tariff periods switch by it) with no zone or offset in
    the frame; ``zone`` is the zone it is set to (the site's). An ambiguous wall time (the hour repeated
    when summer time ends, in zones that have it) is taken as its first occurrence.
    """
    tz = ZoneInfo(zone) if isinstance(zone, str) else zone
    return dt.datetime.combine(day, time_of_day, tzinfo=tz).astimezone(dt.timezone.utc)
