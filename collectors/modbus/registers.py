"""The Modbus register codec: register words to engineering values and back, by a meter family's table.

The tables themselves (which registers a family has, their type, word order and scale) are core facts,
loaded as data by :mod:`workspace.meters`; this module only decodes what the collector read
(:func:`decode`) and encodes what the simulator serves (:func:`encode`).
"""

from __future__ import annotations

import math
import struct

from pymodbus.client.mixin import ModbusClientMixin

from workspace.errors import CollectorError
from workspace.meters import Family, Field

DT = ModbusClientMixin.DATATYPE


class DecodeError(CollectorError, ValueError):
    """Register words that cannot be decoded with a family's table (missing or not 16-bit words)."""


def datatype(f: Field):
    """pymodbus's data type of a field (for the types without a struct code)."""
    return getattr(DT, f.dtype.upper())


#: struct format of each data type (big-endian bytes once the words are in high-first order)
_STRUCT = {"int16": ">h", "uint16": ">H", "int32": ">i", "uint32": ">I", "float32": ">f", "int64": ">q",
           "uint64": ">Q", "float64": ">d"}
_WORDS = {n: struct.Struct(f">{n}H") for n in (1, 2, 4)}


def _unpack(f: Field, words: list[int]) -> float:
    """The raw value of a field's words: what ``ModbusClientMixin.convert_from_registers`` gives, at a
    fraction of its cost (the collector's hot path decodes every meter every cycle)."""
    if f.word_order == "little" and len(words) > 1:
        words = words[::-1]
    fmt = _STRUCT.get(f.dtype)
    if fmt is None or len(words) not in _WORDS:  # a type without a struct code: pymodbus's general path
        return float(ModbusClientMixin.convert_from_registers(words, datatype(f), word_order="big"))
    return float(struct.unpack(fmt, _WORDS[len(words)].pack(*words))[0])


def _pack(f: Field, v: float | int) -> list[int]:
    """The words of a raw value: what ``ModbusClientMixin.convert_to_registers`` gives, faster (the
    simulator encodes every meter it is asked for)."""
    fmt = _STRUCT.get(f.dtype)
    if fmt is None:
        return ModbusClientMixin.convert_to_registers(v, datatype(f), word_order=f.word_order)
    raw = struct.pack(fmt, v)
    words = list(_WORDS[len(raw) // 2].unpack(raw))
    return words[::-1] if f.word_order == "little" else words


def decode(family: Family, blocks: dict[tuple[str, int], list[int]]) -> dict[str, float]:
    """Engineering values from the registers read for each block ``(table, address) -> registers``.

    Returns ``{quantity: value}`` in the units of :class:`workspace.batch.Reading` [kWh|m3, kW|m3/h,
    V, A, -]. A float field holding NaN or infinity decodes to NaN, except the counter.

    Raises
    ------
    DecodeError
        A field's registers were not read, a word is not a 16-bit unsigned integer, or the counter
        is not a finite number.
    """
    out: dict[str, float] = {}
    for f in family.fields:
        for (table, start), regs in blocks.items():
            if table == f.table and start <= f.address and f.address + f.count <= start + len(regs):
                words = regs[f.address - start:f.address - start + f.count]
                if not all(isinstance(w, int) and 0 <= w <= 0xFFFF for w in words):
                    raise DecodeError(f"family {family.name}: {f.quantity} at {f.table} {f.address}: "
                                      f"{words!r} are not 16-bit register words")
                value = _unpack(f, words) * f.scale
                if not math.isfinite(value):
                    if f.quantity == "counter":
                        raise DecodeError(f"family {family.name}: counter at {f.table} {f.address} is "
                                          f"{value} (words {' '.join(f'{w:04X}' for w in words)})")
                    value = math.nan
                out[f.quantity] = value
                break
        else:
            raise DecodeError(f"family {family.name}: registers for {f.quantity} at {f.address} "
                              f"were not read")
    return out


def encode(family: Family, values: dict[str, float]) -> dict[tuple[str, int], list[int]]:
    """Register words for each field ``(table, address) -> words`` (the simulator's side)."""
    out: dict[tuple[str, int], list[int]] = {}
    for f in family.fields:
        v = values.get(f.quantity, 0.0) / f.scale
        if f.dtype != "float32":
            v = int(round(v))
            if f.dtype.startswith("u"):
                v = max(0, v) % (1 << (16 * f.count))
        out[(f.table, f.address)] = _pack(f, v)
    return out
