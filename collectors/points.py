"""The codec and reader of devices that are not energy meters: a distribution room's sensor block and
SunSpec PV inverters and batteries (tables: :mod:`workspace.points`).

:func:`room_words` / :func:`room_values` encode and decode the room block; :func:`sunspec_image` lays out a
SunSpec device's registers from its models' values (what a device serves) and :func:`read_sunspec` walks a
real device's model chain from the base address: "SunS", then (ID, L, L registers) until ID 0xFFFF,
decoding each known model's points with their scale factors (value = raw x 10^SF). A point whose raw
value is SunSpec's "not implemented" (0x8000 int16, 0xFFFF uint16/enum16, 0 acc32 is a value) is None.
"""

from __future__ import annotations

import struct

from workspace.errors import CollectorError
from workspace.points import (ROOM_MAP, ROOM_POINTS, ROOM_TABLE, SUNSPEC_BASE, SUNSPEC_END, SUNSPEC_MARKER,
                              SUNSPEC_MODELS, SunSpecPoint)

_NOT_IMPLEMENTED = {"int16": 0x8000, "sunssf": 0x8000, "uint16": 0xFFFF, "enum16": 0xFFFF}


class PointReadError(CollectorError):
    """A room block or SunSpec device answered something its table does not allow."""


# -- the room sensor block --------------------------------------------------------------------------------
def room_span() -> int:
    return max(p.address for p in ROOM_MAP.values()) + 1


def room_words(values: dict[str, float]) -> list[int]:
    """The block's registers from 0 (each point one register; raw = value / scale, rounded)."""
    out = [0] * room_span()
    for name, p in ROOM_MAP.items():
        raw = int(round(values.get(name, 0.0) / p.scale))
        out[p.address] = raw & 0xFFFF if p.dtype == "int16" else max(0, min(raw, 0xFFFF))
    return out


def room_values(words: list[int]) -> dict[str, float]:
    out = {}
    for name in ROOM_POINTS:
        p = ROOM_MAP[name]
        w = words[p.address]
        raw = w - 0x10000 if p.dtype == "int16" and w >= 0x8000 else w
        out[name] = raw * p.scale
    return out


async def read_room(client, unit_id: int) -> dict[str, float]:
    """Read a room's block with an open pymodbus client."""
    fn = client.read_holding_registers if ROOM_TABLE == "holding" else client.read_input_registers
    rr = await fn(0, count=room_span(), device_id=unit_id)
    if rr.isError():
        raise PointReadError(f"room block at unit {unit_id}: {rr}")
    return room_values(list(rr.registers))


# -- SunSpec ------------------------------------------------------------------------------------------------
def _raw(p: SunSpecPoint, words: list[int]):
    w = words[p.offset:p.offset + p.count]
    if p.type == "string":
        return b"".join(struct.pack(">H", x) for x in w).rstrip(b"\0").decode("ascii", "replace").strip()
    if p.type in ("acc32", "uint32"):
        return (w[0] << 16) | w[1]
    if w[0] == _NOT_IMPLEMENTED.get(p.type):
        return None
    if p.type in ("int16", "sunssf"):
        return w[0] - 0x10000 if w[0] >= 0x8000 else w[0]
    return w[0]


def decode_model(model_id: int, words: list[int]) -> dict:
    """Values of a model's known points from its body (the L registers after ID and L)."""
    m = SUNSPEC_MODELS[model_id]
    raw = {n: _raw(p, words) for n, p in m.points.items()}
    out = {}
    for n, p in m.points.items():
        if p.type == "sunssf":
            continue
        v = raw[n]
        if p.sf is not None and v is not None:
            sf = raw[p.sf]
            v = None if sf is None else v * 10.0 ** sf
        out[n] = v
    return out


def _words(p: SunSpecPoint, v, sf: int | None) -> list[int]:
    if p.type == "string":
        b = str(v).encode("ascii")[:2 * p.count].ljust(2 * p.count, b"\0")
        return list(struct.unpack(f">{p.count}H", b))
    raw = int(round(v / 10.0 ** sf)) if (sf is not None and p.type != "sunssf") else int(v)
    if p.type in ("acc32", "uint32"):
        return [(raw >> 16) & 0xFFFF, raw & 0xFFFF]
    return [raw & 0xFFFF]


def sunspec_image(models: list[tuple[int, dict]]) -> list[int]:
    """A device's registers from the base address: the marker, each ``(model id, {point: value})`` with
    its header and the end marker. A model's scale factors are values too (e.g. ``W_SF: -1``); points not
    given read "not implemented" (or 0 for counters and strings)."""
    out = list(SUNSPEC_MARKER)
    for mid, values in models:
        m = SUNSPEC_MODELS[mid]
        body = [0] * m.length
        for n, p in m.points.items():
            if p.type in _NOT_IMPLEMENTED:
                body[p.offset] = _NOT_IMPLEMENTED[p.type]
        for n, v in values.items():
            p = m.points[n]
            sf = int(values[p.sf]) if p.sf is not None else None
            body[p.offset:p.offset + p.count] = _words(p, v, sf)
        out += [mid, m.length] + body
    return out + [SUNSPEC_END, 0]


async def read_sunspec(client, unit_id: int, *, base: int = SUNSPEC_BASE, max_models: int = 16) -> dict[int, dict]:
    """Walk a SunSpec device's model chain and decode the models :mod:`workspace.points` knows
    (``{model id: {point: value}}``; models it does not know are skipped by their length)."""
    async def regs(addr: int, n: int) -> list[int]:
        rr = await client.read_holding_registers(addr, count=n, device_id=unit_id)
        if rr.isError():
            raise PointReadError(f"SunSpec device at unit {unit_id}, registers {addr}+{n}: {rr}")
        return list(rr.registers)

    if tuple(await regs(base, 2)) != SUNSPEC_MARKER:
        raise PointReadError(f"unit {unit_id}: no SunSpec marker 'SunS' at {base}")
    out: dict[int, dict] = {}
    addr = base + 2
    for _ in range(max_models):
        mid, length = await regs(addr, 2)
        if mid == SUNSPEC_END:
            return out
        if mid in SUNSPEC_MODELS:
            if length < SUNSPEC_MODELS[mid].length:
                raise PointReadError(f"unit {unit_id}: model {mid} is {length} registers, its table needs "
                                     f"{SUNSPEC_MODELS[mid].length}")
            out[mid] = decode_model(mid, await regs(addr + 2, SUNSPEC_MODELS[mid].length))
        addr += 2 + length
    raise PointReadError(f"unit {unit_id}: no end of the SunSpec model chain after {max_models} models")
