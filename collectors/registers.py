"""Declarative register tables, one per meter family, shared by the collector and the simulator.

Registers are addressed from zero (the PDU address), as on the wire: "30073" in a vendor's
1-based input-register notation is address 72 here.

Families
--------
``sdm630``
    Imitates the input-register map published by Eastron for the SDM630 three-phase meter
    (function code 04, IEEE-754 float32, high word first): average line-to-neutral voltage at 42,
    average line current at 46, total system power [W] at 52, total system power factor at 62,
    total import active energy [kWh] at 72. A float32 counter holds 24 bits of mantissa, so it
    resolves 0.0078 kWh at 10^5 kWh and 0.0625 kWh at 10^6 kWh: a property of such meters, kept.
``cn3p-int32``
    A layout of our own in the style of Chinese DIN-rail three-phase meters: holding registers
    (function code 03), scaled integers, LOW word first (the word order that trips collectors):
    voltage ×0.1 V (uint16) at 0, current ×0.001 A (int32) at 2, active power ×0.001 kW (int32) at 8,
    power factor ×0.001 (int16) at 14, import active energy ×0.01 kWh (uint32) at 32. Not a vendor's
    exact map.
``flow-u32``
    A flow totaliser (water, natural gas, compressed air): holding registers, high word first,
    total ×0.01 m3 (uint32) at 0, flow rate [m3/h] float32 at 4.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Literal

from pymodbus.client.mixin import ModbusClientMixin

from workspace.errors import CollectorError

DT = ModbusClientMixin.DATATYPE

#: registers (16-bit words) per data type
DTYPE_WORDS: dict[str, int] = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2,
                               "int64": 4, "uint64": 4, "float64": 4}
QUANTITIES = ("counter", "rate", "voltage", "current", "power_factor")


class DecodeError(CollectorError, ValueError):
    """Register words that cannot be decoded with a family's table (missing or not 16-bit words)."""


@dataclass(frozen=True)
class Field:
    """One quantity read from a meter.

    Parameters
    ----------
    quantity : {"counter", "rate", "voltage", "current", "power_factor"}
    table : {"input", "holding"}
        Register table (function code 04 or 03).
    address : int
        Zero-based PDU address of the first register.
    dtype : {"int16", "uint16", "int32", "uint32", "float32", "int64", "uint64", "float64"}
    word_order : {"big", "little"}
        Order of the 16-bit words of a multi-register value ("big": high word first).
    scale : float
        Engineering value = raw × scale; never 0.
    registers : int, optional
        Register count as the vendor's table states it; checked against ``dtype`` when the
        configuration loads (None: implied by ``dtype``).
    """

    quantity: str
    table: Literal["input", "holding"]
    address: int
    dtype: str
    word_order: Literal["big", "little"] = "big"
    scale: float = 1.0
    registers: int | None = None

    @property
    def count(self) -> int:
        return DTYPE_WORDS.get(self.dtype, 2)

    @property
    def datatype(self):
        return getattr(DT, self.dtype.upper())


@dataclass(frozen=True)
class Family:
    name: str
    media: tuple[str, ...]
    fields: tuple[Field, ...]
    imitates: str

    def blocks(self) -> list[tuple[str, int, int]]:
        """Contiguous reads ``(table, address, count)`` covering all fields (gaps of ≤ 24 registers merged)."""
        out: list[tuple[str, int, int]] = []
        for table in ("input", "holding"):
            fs = sorted((f for f in self.fields if f.table == table), key=lambda f: f.address)
            start = end = None
            for f in fs:
                if start is None:
                    start, end = f.address, f.address + f.count
                elif f.address - end <= 24:
                    end = max(end, f.address + f.count)
                else:
                    out.append((table, start, end - start))
                    start, end = f.address, f.address + f.count
            if start is not None:
                out.append((table, start, end - start))
        return out


FAMILIES: dict[str, Family] = {
    "sdm630": Family("sdm630", ("electricity",), (
        Field("voltage", "input", 42, "float32"),
        Field("current", "input", 46, "float32"),
        Field("rate", "input", 52, "float32", scale=0.001),  # W -> kW
        Field("power_factor", "input", 62, "float32"),
        Field("counter", "input", 72, "float32"),
    ), "Eastron SDM630 input registers (float32, high word first)"),
    "cn3p-int32": Family("cn3p-int32", ("electricity",), (
        Field("voltage", "holding", 0, "uint16", scale=0.1),
        Field("current", "holding", 2, "int32", "little", scale=0.001),
        Field("rate", "holding", 8, "int32", "little", scale=0.001),
        Field("power_factor", "holding", 14, "int16", scale=0.001),
        Field("counter", "holding", 32, "uint32", "little", scale=0.01),
    ), "generic Chinese three-phase meter layout (scaled integers, low word first)"),
    "flow-u32": Family("flow-u32", ("water", "natural_gas", "compressed_air"), (
        Field("counter", "holding", 0, "uint32", scale=0.01),
        Field("rate", "holding", 4, "float32"),
    ), "flow totaliser (uint32 total ×0.01 m3, float32 flow, high word first)"),
}


def table_problems(family: Family) -> list[str]:
    """What is wrong with a register table, one sentence per problem (empty: the table is usable).

    Checks, in the spirit of Home Assistant's Modbus validators: known quantities and data types, legal
    table and word order (a word order only for values of more than one register), a register count
    that matches the data type, a finite non-zero scale, addresses within 0..65535, no two fields of
    the same table sharing a register, each quantity once, and a counter field.
    """
    out: list[str] = []
    for f in family.fields:
        where = f"field {f.quantity!r} ({f.table} {f.address})"
        if f.quantity not in QUANTITIES:
            out.append(f"{where}: unknown quantity (known: {', '.join(QUANTITIES)})")
        if f.table not in ("input", "holding"):
            out.append(f"{where}: table must be 'input' (fc 04) or 'holding' (fc 03), not {f.table!r}")
        if f.dtype not in DTYPE_WORDS:
            out.append(f"{where}: unknown data type {f.dtype!r} (known: {', '.join(DTYPE_WORDS)})")
            continue
        if f.registers is not None and f.registers != f.count:
            out.append(f"{where}: {f.dtype} takes {f.count} register(s), the table says {f.registers}")
        if f.word_order not in ("big", "little"):
            out.append(f"{where}: word order must be 'big' or 'little', not {f.word_order!r}")
        elif f.word_order == "little" and f.count == 1:
            out.append(f"{where}: word order 'little' needs a value of 2 or more registers, {f.dtype} has 1")
        if not isinstance(f.scale, (int, float)) or not math.isfinite(f.scale) or f.scale == 0:
            out.append(f"{where}: scale must be a finite number other than 0, not {f.scale!r}")
        if not isinstance(f.address, int) or f.address < 0 or f.address + f.count > 65536:
            out.append(f"{where}: registers must lie within 0..65535")
    seen: dict[str, Field] = {}
    for f in family.fields:
        if f.quantity in seen:
            out.append(f"quantity {f.quantity!r} is read twice ({seen[f.quantity].table} "
                       f"{seen[f.quantity].address} and {f.table} {f.address})")
        seen.setdefault(f.quantity, f)
    if "counter" not in seen:
        out.append("no 'counter' field: every meter needs its cumulative register")
    fields = sorted(family.fields, key=lambda f: (f.table, f.address))
    for a, b in zip(fields, fields[1:]):
        if a.table == b.table and b.address < a.address + a.count:
            out.append(f"fields {a.quantity!r} ({a.table} {a.address}..{a.address + a.count - 1}) and "
                       f"{b.quantity!r} ({b.table} {b.address}..{b.address + b.count - 1}) overlap")
    return out


def family_problems(site, families: dict[str, Family] | None = None) -> list[tuple[tuple, str]]:
    """Meters whose family is unknown, broken, wrong for their medium or for their gateway's protocol.

    Called when the configuration loads; each problem is ``(location, message)`` with the location
    of the meter's ``family`` in the YAML document and a message naming the meter and the family.

    Parameters
    ----------
    site : workspace.site.Site
    families : dict, optional
        Modbus register tables by name (default :data:`FAMILIES`).
    """
    from collectors.dlt645 import FAMILIES as DLT645_FAMILIES  # DI tables of the DL/T 645 meters
    from workspace.site import DLT645_PROTOCOLS

    families = FAMILIES if families is None else families
    protocols = {g.id: g.protocol for g in site.gateways}
    out = []
    broken: dict[str, list[str]] = {}
    for i, m in enumerate(site.meters):
        loc = ("site", "meters", i, "family")
        proto = protocols.get(m.gateway)
        if proto == "mqtt":
            continue  # a pushed payload has no register table: its 'mqtt' mapping says what it carries
        if proto == "opcua":
            continue  # no registers: the nodes are checked with the site (workspace.site)
        if proto in DLT645_PROTOCOLS:
            fam645 = DLT645_FAMILIES.get(m.family)
            if fam645 is None:
                out.append((loc, f"meter {m.id!r} on {proto} gateway {m.gateway!r}: family {m.family!r} "
                                 f"is not a DL/T 645 family (known: {', '.join(sorted(DLT645_FAMILIES))})"))
            elif m.medium.value != "electricity":
                out.append((loc, f"meter {m.id!r}: DL/T 645 family {m.family!r} meters electricity, "
                                 f"not {m.medium.value}"))
            continue
        fam = families.get(m.family)
        if fam is None:
            hint = " (a DL/T 645 family needs a dlt645_* gateway)" if m.family in DLT645_FAMILIES else ""
            out.append((loc, f"meter {m.id!r}: unknown register family {m.family!r}{hint} "
                             f"(known: {', '.join(sorted(families))})"))
            continue
        if m.medium.value not in fam.media:
            out.append((loc, f"meter {m.id!r}: family {m.family!r} meters {', '.join(fam.media)}, "
                             f"not {m.medium.value}"))
        if fam.name not in broken:
            broken[fam.name] = table_problems(fam)
        for problem in broken[fam.name]:
            out.append((loc, f"meter {m.id!r}: register family {m.family!r}: {problem}"))
    return out


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
        return float(ModbusClientMixin.convert_from_registers(words, f.datatype, word_order="big"))
    return float(struct.unpack(fmt, _WORDS[len(words)].pack(*words))[0])


def _pack(f: Field, v: float | int) -> list[int]:
    """The words of a raw value: what ``ModbusClientMixin.convert_to_registers`` gives, faster (the
    simulator encodes every meter it is asked for)."""
    fmt = _STRUCT.get(f.dtype)
    if fmt is None:
        return ModbusClientMixin.convert_to_registers(v, f.datatype, word_order=f.word_order)
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
