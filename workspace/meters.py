"""Meter families: which quantities a kind of meter reports, where, in what type and scale.

The tables are data, in ``workspace/data/meter_families.yaml``, each citing the manual it was taken
from; this module loads them once, checks them and answers questions about them. They are core facts:
the configuration checks every meter's family against them (:func:`family_problems`) and the store
asks how wide a counter is before it wraps (:attr:`Family.counter_field`). The codecs that turn
register words or DL/T 645 frames into values live with the collectors (``collectors.modbus.registers``,
``collectors.dlt645.frame``) and read their tables from here.

Two kinds of family:

- a Modbus register table (:data:`FAMILIES`): :class:`Family` of :class:`Field`, zero-based PDU
  addresses as on the wire ("30073" in a vendor's 1-based input-register notation is address 72); the
  fields are what the collector reads, and a vendor's family also carries its manual's complete register
  map (:class:`MapRegister`, every row of the table, each naming one of :data:`MAP_VALUES`), which the
  simulator serves and the tests check against hand-copied rows of the manual;
- a DL/T 645 family (:data:`DLT645_FAMILIES`): the edition of the standard and the quantities read,
  in order (the identifiers and formats are the standard's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .errors import TanjianError
from .units import READING_QUANTITIES

#: the packaged tables
DATA = Path(__file__).parent / "data" / "meter_families.yaml"

#: registers (16-bit words) per data type
DTYPE_WORDS: dict[str, int] = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2,
                               "int64": 4, "uint64": 4, "float64": 4}
#: the quantities a reading carries (one home: :data:`workspace.units.READING_QUANTITIES`)
QUANTITIES = READING_QUANTITIES
#: what a DL/T 645 family may read: the quantities above (voltage and current are phase A's), the meter's
#: time-of-use energy registers and the per-phase values of a three-phase meter (in the meter's values,
#: not in a reading)
DLT645_QUANTITIES = QUANTITIES + ("energy_tariff_1", "energy_tariff_2", "energy_tariff_3", "energy_tariff_4",
                                  "energy_combined", "voltage_b", "voltage_c", "current_b", "current_c",
                                  "rate_a", "rate_b", "rate_c", "power_factor_a", "power_factor_b",
                                  "power_factor_c")
DLT645_EDITIONS = (2007, 1997)
#: what a row of a register map may hold, in the units of the simulator's values (W, var, VA, V, A, Hz,
#: kWh, kvarh, kVAh, Ah, %, degrees); ``_a``/``_b``/``_c`` are phases 1-3, ``_ab`` line to line
MAP_VALUES = tuple(
    [f"{q}_{p}" for q in ("voltage", "current", "power", "va", "var", "pf", "angle", "thd_voltage",
                          "thd_current", "current_demand", "current_demand_max", "import_kwh",
                          "export_kwh", "total_kwh", "import_kvarh", "export_kvarh", "total_kvarh")
     for p in "abc"]
    + ["voltage_ab", "voltage_bc", "voltage_ca", "thd_voltage_ab", "thd_voltage_bc", "thd_voltage_ca",
       "voltage_ln", "voltage_ll", "thd_voltage_ln", "thd_voltage_ll", "current_avg", "current_sum",
       "current_n", "thd_current_avg", "power", "va", "var", "pf", "angle", "pf_angle_neg", "frequency",
       "import_kwh", "export_kwh", "total_kwh", "import_kvarh", "export_kvarh", "total_kvarh", "kvah", "ah",
       "demand_w", "demand_max_w", "import_demand_w", "import_demand_max_w", "export_demand_w",
       "export_demand_max_w", "va_demand", "va_demand_max", "current_n_demand", "current_n_demand_max"])
#: how far a family's table can be trusted: read from the manual itself, or taken from a transcription
STATUSES = ("verified", "unverified", "own")


class FamilyTableError(TanjianError):
    """The packaged meter-family tables are malformed; the message names the family and the problem."""


@dataclass(frozen=True)
class Field:
    """One quantity read from a Modbus meter.

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


@dataclass(frozen=True)
class MapRegister:
    """One row of a manual's register table.

    Parameters
    ----------
    address : int
        Zero-based PDU address of the first register.
    value : str
        What it holds (one of :data:`MAP_VALUES`).
    table, dtype, word_order :
        As for :class:`Field`.
    scale : float
        Value in the units of :data:`MAP_VALUES` = raw × scale (e.g. 1000 for a register in kW).
    unit : str
        The unit as the manual prints it.
    name : str
        The manual's register number (where it has one) and description.
    """

    address: int
    value: str
    table: Literal["input", "holding"] = "input"
    dtype: str = "float32"
    word_order: Literal["big", "little"] = "big"
    scale: float = 1.0
    unit: str = ""
    name: str = ""

    @property
    def count(self) -> int:
        return DTYPE_WORDS.get(self.dtype, 2)


@dataclass(frozen=True)
class Family:
    """A Modbus register table: the fields of one kind of meter.

    Parameters
    ----------
    name : str
    media : tuple of str
        The media its meters measure (``workspace.site.Medium`` values).
    fields : tuple of Field
    imitates : str
        One line saying what the table is.
    source : str
        The manual the table was taken from (or that it is a layout of our own).
    """

    name: str
    media: tuple[str, ...]
    fields: tuple[Field, ...]
    imitates: str
    source: str = ""
    status: str = "own"
    phases: int = 3
    map: tuple[MapRegister, ...] = ()

    def map_row(self, table: str, address: int) -> MapRegister | None:
        """The row of the register map that starts at ``address`` of ``table`` (None: no such row)."""
        return next((r for r in self.map if r.table == table and r.address == address), None)

    def map_span(self, table: str) -> int:
        """One past the last register of the map in ``table`` (0: the map has none there)."""
        return max((r.address + r.count for r in self.map if r.table == table), default=0)

    @property
    def counter_field(self) -> Field | None:
        """The field of the cumulative register (None only in a broken table)."""
        return next((f for f in self.fields if f.quantity == "counter"), None)

    def blocks(self) -> list[tuple[str, int, int]]:
        """Contiguous reads ``(table, address, count)`` covering all fields (gaps of ≤ 24 registers
        merged)."""
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


@dataclass(frozen=True)
class Dlt645Family:
    """What is read from a DL/T 645 meter.

    Parameters
    ----------
    name : str
    edition : {2007, 1997}
        The edition of the standard the meter speaks.
    read : tuple of str
        The quantities read, in reading order (each a data identifier of the edition).
    source : str
        The standard (and part) the identifiers come from.
    blocks : bool
        Ask for the standard's data blocks (the energy block 0001FF00, the voltage block 0201FF00, ...)
        where one covers two or more of the quantities read, instead of one request per quantity.
    imitates : str
        One line saying what kind of meter the family is.

    Only ``counter`` is required of a meter: any other quantity it answers abnormally is remembered as
    unsupported for that meter and its readings carry what it answered (``collectors.dlt645.support``).
    """

    name: str
    edition: int
    read: tuple[str, ...]
    source: str = ""
    blocks: bool = False
    imitates: str = ""


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


def map_problems(family: Family) -> list[str]:
    """What is wrong with a family's register map (empty: usable, or no map): known values and data
    types, addresses within 0..65535, no two rows sharing a register, and every field of the family a
    row of the map with the same table, address, data type and word order."""
    out: list[str] = []
    for r in family.map:
        where = f"map row {r.value!r} ({r.table} 0x{r.address:04X})" if isinstance(r.address, int) \
            else f"map row {r.value!r}"
        if r.value not in MAP_VALUES:
            out.append(f"{where}: unknown value (known: {', '.join(MAP_VALUES)})")
        if r.table not in ("input", "holding"):
            out.append(f"{where}: table must be 'input' or 'holding', not {r.table!r}")
        if r.dtype not in DTYPE_WORDS:
            out.append(f"{where}: unknown data type {r.dtype!r}")
        if r.word_order not in ("big", "little"):
            out.append(f"{where}: word order must be 'big' or 'little', not {r.word_order!r}")
        if not isinstance(r.scale, (int, float)) or not math.isfinite(r.scale) or r.scale == 0:
            out.append(f"{where}: scale must be a finite number other than 0, not {r.scale!r}")
        if not isinstance(r.address, int) or r.address < 0 or r.address + r.count > 65536:
            out.append(f"{where}: registers must lie within 0..65535")
    rows = sorted((r for r in family.map if isinstance(r.address, int)), key=lambda r: (r.table, r.address))
    for a, b in zip(rows, rows[1:]):
        if a.table == b.table and b.address < a.address + a.count:
            out.append(f"map rows {a.value!r} and {b.value!r} overlap ({a.table} 0x{b.address:04X})")
    if family.map:
        for f in family.fields:
            r = family.map_row(f.table, f.address)
            if r is None or (r.dtype, r.word_order) != (f.dtype, f.word_order):
                out.append(f"field {f.quantity!r} ({f.table} {f.address}, {f.dtype}) is not a row of the map")
    if family.status not in STATUSES:
        out.append(f"status must be one of {', '.join(STATUSES)}, not {family.status!r}")
    if family.phases not in (1, 3):
        out.append(f"phases must be 1 or 3, not {family.phases!r}")
    return out


def dlt645_problems(family: Dlt645Family) -> list[str]:
    """What is wrong with a DL/T 645 family, one sentence per problem (empty: usable)."""
    out: list[str] = []
    if family.edition not in DLT645_EDITIONS:
        out.append(f"edition must be one of {', '.join(map(str, DLT645_EDITIONS))}, not {family.edition!r}")
    for q in family.read:
        if q not in DLT645_QUANTITIES:
            out.append(f"reads unknown quantity {q!r} (known: {', '.join(DLT645_QUANTITIES)})")
    if len(set(family.read)) != len(family.read):
        out.append("a quantity is read twice")
    if "counter" not in family.read:
        out.append("does not read 'counter': every meter needs its cumulative register")
    return out


_FIELD_KEYS = {"quantity", "table", "address", "dtype", "word_order", "scale", "registers"}
_MODBUS_KEYS = {"media", "imitates", "source", "fields", "status", "phases", "map"}
_MODBUS_REQUIRED = {"media", "imitates", "source", "fields"}
_MAP_KEYS = {"address", "value", "table", "dtype", "word_order", "scale", "unit", "name"}
_MAP_DEFAULTS = {"table", "dtype", "word_order"}
_DLT645_KEYS = {"edition", "source", "read", "blocks", "imitates"}


def _keys(where: str, got: dict, allowed: set[str], required: set[str]) -> None:
    if not isinstance(got, dict):
        raise FamilyTableError(f"{where}: a mapping is needed, not {type(got).__name__}")
    if unknown := set(got) - allowed:
        raise FamilyTableError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    if missing := required - set(got):
        raise FamilyTableError(f"{where}: missing key(s) {', '.join(sorted(missing))}")


def load_families(path: str | Path = DATA) -> tuple[dict[str, Family], dict[str, Dlt645Family]]:
    """The Modbus register tables and the DL/T 645 families of a family file, checked.

    Raises
    ------
    FamilyTableError
        Unknown or missing keys, or a table with a problem (:func:`table_problems`,
        :func:`dlt645_problems`), naming the family.
    """
    from ruamel.yaml import YAML

    doc = YAML(typ="safe", pure=True).load(Path(path).read_text(encoding="utf-8"))
    _keys(str(path), doc, {"modbus", "dlt645"}, {"modbus", "dlt645"})
    modbus: dict[str, Family] = {}
    for name, spec in doc["modbus"].items():
        where = f"{Path(path).name}: modbus family {name!r}"
        _keys(where, spec, _MODBUS_KEYS, _MODBUS_REQUIRED)
        fields = []
        for i, f in enumerate(spec["fields"]):
            _keys(f"{where}, field {i}", f, _FIELD_KEYS, {"quantity", "table", "address", "dtype"})
            fields.append(Field(**f))
        rows = []
        if "map" in spec:
            _keys(f"{where}, map", spec["map"], {"defaults", "registers"}, {"registers"})
            defaults = spec["map"].get("defaults") or {}
            _keys(f"{where}, map defaults", defaults, _MAP_DEFAULTS, set())
            for i, r in enumerate(spec["map"]["registers"]):
                _keys(f"{where}, map row {i}", r, _MAP_KEYS, {"address", "value"})
                rows.append(MapRegister(**{**defaults, **r, "unit": str(r.get("unit", "")),
                                           "name": str(r.get("name", ""))}))
        fam = Family(name, tuple(spec["media"]), tuple(fields), spec["imitates"], spec["source"].strip(),
                     spec.get("status", "own"), spec.get("phases", 3), tuple(rows))
        if problems := table_problems(fam) + map_problems(fam):
            raise FamilyTableError(f"{where}: {'; '.join(problems)}")
        modbus[name] = fam
    dlt645: dict[str, Dlt645Family] = {}
    for name, spec in doc["dlt645"].items():
        where = f"{Path(path).name}: DL/T 645 family {name!r}"
        _keys(where, spec, _DLT645_KEYS, {"edition", "source", "read"})
        if not isinstance(spec.get("blocks", False), bool):
            raise FamilyTableError(f"{where}: 'blocks' is true or false, not {spec['blocks']!r}")
        fam645 = Dlt645Family(name, spec["edition"], tuple(spec["read"]), spec["source"].strip(),
                              spec.get("blocks", False), str(spec.get("imitates", "")).strip())
        if problems := dlt645_problems(fam645):
            raise FamilyTableError(f"{where}: {'; '.join(problems)}")
        dlt645[name] = fam645
    if both := set(modbus) & set(dlt645):
        raise FamilyTableError(f"{Path(path).name}: family name(s) {', '.join(sorted(both))} used twice")
    return modbus, dlt645


#: Modbus register tables by family name; DL/T 645 families by name
FAMILIES, DLT645_FAMILIES = load_families()


def counter_wrap(family: str) -> float | None:
    """Where a family's integer counter register wraps to zero [kWh or m3]; None for a float32 counter
    and for a family that is not a Modbus register table."""
    from .points import SUNSPEC_METER

    if family == SUNSPEC_METER.family:
        return SUNSPEC_METER.counter_wrap_kwh
    fam = FAMILIES.get(family)
    field = fam.counter_field if fam else None
    if field is None or field.dtype == "float32":
        return None
    bits = 16 * field.count - (0 if field.dtype.startswith("u") else 1)
    return float(2 ** bits) * field.scale


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
    from .points import SUNSPEC_METER
    from .site import DLT645_PROTOCOLS

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
        if m.family == SUNSPEC_METER.family:  # a SunSpec inverter (workspace.points): Modbus TCP, electricity
            if proto != "modbus_tcp" or m.medium.value != "electricity":
                out.append((loc, f"meter {m.id!r}: family {m.family!r} (a SunSpec inverter) meters electricity "
                                 f"on a modbus_tcp gateway, not {m.medium.value} on {proto}"))
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
