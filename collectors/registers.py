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

from dataclasses import dataclass
from typing import Literal

from pymodbus.client.mixin import ModbusClientMixin

DT = ModbusClientMixin.DATATYPE


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
    dtype : {"float32", "int16", "uint16", "int32", "uint32"}
    word_order : {"big", "little"}
        Order of the 16-bit words of a 32-bit value ("big": high word first).
    scale : float
        Engineering value = raw × scale.
    """

    quantity: str
    table: Literal["input", "holding"]
    address: int
    dtype: str
    word_order: Literal["big", "little"] = "big"
    scale: float = 1.0

    @property
    def count(self) -> int:
        return 1 if self.dtype in ("int16", "uint16") else 2

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


def family_problems(site) -> list[tuple[tuple, str]]:
    """Meters whose family is unknown or does not measure their medium (checked when the config loads)."""
    out = []
    for i, m in enumerate(site.meters):
        fam = FAMILIES.get(m.family)
        if fam is None:
            out.append((("site", "meters", i, "family"),
                        f"unknown register family {m.family!r} (known: {', '.join(sorted(FAMILIES))})"))
        elif m.medium.value not in fam.media:
            out.append((("site", "meters", i, "family"),
                        f"family {m.family!r} meters {', '.join(fam.media)}, not {m.medium.value}"))
    return out


def decode(family: Family, blocks: dict[tuple[str, int], list[int]]) -> dict[str, float]:
    """Engineering values from the registers read for each block ``(table, address) -> registers``."""
    out: dict[str, float] = {}
    for f in family.fields:
        for (table, start), regs in blocks.items():
            if table == f.table and start <= f.address and f.address + f.count <= start + len(regs):
                words = regs[f.address - start:f.address - start + f.count]
                raw = ModbusClientMixin.convert_from_registers(words, f.datatype, word_order=f.word_order)
                out[f.quantity] = float(raw) * f.scale
                break
        else:
            raise ValueError(f"family {family.name}: registers for {f.quantity} at {f.address} were not read")
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
        out[(f.table, f.address)] = ModbusClientMixin.convert_to_registers(v, f.datatype, word_order=f.word_order)
    return out
