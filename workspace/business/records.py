"""Activity records from business files: a table's rows parsed and validated against the record contract
(:mod:`workspace.business.contract`) through a :class:`Layout` (a desk-work file in the record's own
columns, or a configured import mapping), with every problem located as ``file:row:column: message``.

Units: the workspace's one pint registry, :func:`workspace.units.registry` (with ``m3``, ``Nm3``, ``wNm3``,
``GEC``, ``tCO2e``, ``pcs`` and ``CNY`` defined), and :func:`workspace.units.pint_unit` (which also reads the
record spelling ``10^4Nm3``) convert quantities; record spellings: :data:`workspace.units.UNIT_ALIASES`.
``Nm3`` (normal cubic metre) has the dimension of a volume like ``m3``; which one a file means is kept in
``unit``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from ..units import PINT_SPELLINGS, UNIT_ALIASES, pint_unit, registry
from .contract import COLUMNS, ITEMS, KINDS, MAPPABLE, MOVEMENTS, REQUIRED, USES
from .statements import check_totals
from .sheets import (ActivityFileError, CellError, Table, cell_text, header_key, parse_date, parse_month,
                     parse_number, read_table)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

_ITEM_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


_MASS, _VOLUME, _ENERGY = "[mass]", "[length] ** 3", "[length] ** 2 * [mass] / [time] ** 2"
_COUNT, _MONEY, _CO2E = "[count]", "[currency]", "[co2e]"
#: dimensions a quantity may have, per kind (and per item where items differ)
DIMENSIONS: dict[str, dict[str | None, tuple[str, ...]]] = {
    "production": {None: (_COUNT, _MASS)},
    "electricity_statement": {None: (_ENERGY,)},
    "fuel": {None: (_MASS, _VOLUME), "natural_gas": (_MASS, _VOLUME, _ENERGY)},
    "welding_gas": {None: (_MASS, _VOLUME)},
    "refrigerant": {None: (_MASS,)},
    "sf6": {None: (_MASS,)},
    "heat": {None: (_ENERGY,), "steam": (_ENERGY, _MASS)},
    "financial": {None: (_MONEY,)},
    "green_power": {None: (_ENERGY,)},
    "gec": {None: (_ENERGY,)},
    "offset": {None: (_CO2E,)},
}
def normalise_unit(v: Any) -> str:
    """The record spelling of a unit (Chinese and lower-case spellings mapped by :data:`UNIT_ALIASES`).

    Raises ``ValueError`` when the workspace's pint registry cannot parse it.
    """
    s = cell_text(v)
    if not s:
        raise CellError("empty: a unit is needed")
    s = UNIT_ALIASES.get(s, s)
    if s not in PINT_SPELLINGS and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_ */^.\-]*", s):
        raise CellError(f"unknown unit {s!r}")
    try:
        pint_unit(s)
    except Exception as exc:  # pint's parser raises many types (even AssertionError) on odd text
        raise CellError(f"unknown unit {s!r} ({type(exc).__name__})") from None
    return s


def unit_fits(kind: str, item: str, unit: str) -> bool:
    """Whether ``unit`` measures what ``kind``/``item`` is counted in (see :data:`DIMENSIONS`)."""
    dims = DIMENSIONS[kind].get(item, DIMENSIONS[kind][None])
    d = pint_unit(unit).dimensionality
    return any(d == registry().get_dimensionality(x) for x in dims)


# -- records -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Layout:
    """How a table's columns become records (the parsed form of a configured import mapping).

    ``columns`` maps a file header to a field of :data:`MAPPABLE`; ``item_columns`` maps headers of a wide
    table (one column per item, e.g. 尖/峰/平/谷) to items, each non-empty cell becoming one record whose
    quantity is the cell; ``defaults`` gives fields every row shares; ``values`` translates a field's cell
    text (e.g. an ERP product name → a product id).
    """

    kind: str = "mixed"
    columns: dict[str, str] = field(default_factory=dict)
    item_columns: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    date_format: str = "%Y-%m-%d"
    default_unit: str | None = None
    decimal: str = "."

    @classmethod
    def desk(cls) -> "Layout":
        """The layout of a desk-work file: the record's own column names."""
        return cls(columns={c: c for c in MAPPABLE if c not in ("date", "month")})

    @classmethod
    def from_mapping(cls, mapping: Any) -> "Layout":
        """From a :class:`workspace.business.mapping.ImportMapping`, a dict of its fields, or a Layout."""
        if mapping is None:
            return cls.desk()
        if isinstance(mapping, Layout):
            return mapping
        if isinstance(mapping, dict):
            from .mapping import ImportMapping

            mapping = ImportMapping.model_validate(mapping)
        return cls(kind=mapping.kind, columns=dict(mapping.columns), item_columns=dict(mapping.item_columns),
                   defaults=dict(mapping.defaults), values={k: dict(v) for k, v in mapping.values.items()},
                   date_format=mapping.date_format, default_unit=mapping.default_unit, decimal=mapping.decimal)


def parse_table(table: Table, layout: Layout, *, source_sha256: str = "", site=None) -> tuple[list[dict], list]:
    """Records of a table, and every problem found as ``(file, row, column, message)``.

    Parameters
    ----------
    table : Table
    layout : Layout
    source_sha256 : str
        Hash of the file's bytes, written into each record.
    site : workspace.site.Site, optional
        When given, product ids, workshops, devices and shifts are checked against it.

    Returns
    -------
    records, problems
        A row with any problem gives no record.
    """
    name = table.name
    problems: list[tuple[str, int | None, str, str]] = []
    pos: dict[str, int] = {}
    for i, h in enumerate(table.header):
        if h:
            pos.setdefault(header_key(h), i)
    needed = set(layout.columns) | set(layout.item_columns)
    desk = layout == Layout.desk()
    for h in sorted(h for h in needed if header_key(h) not in pos):
        if desk and h not in REQUIRED:
            continue  # a desk file may leave optional columns out
        problems.append((name, table.header_row, h, f"no column {h!r} in the header row (columns: "
                                        f"{', '.join(table.header) or 'none'})"))
    seen: dict[str, int] = {}
    wanted = {header_key(h) for h in needed}
    for i, h in enumerate(table.header):
        k = header_key(h)
        if k in wanted and k in seen:
            problems.append((name, table.header_row, h, f"column {h!r} appears twice (columns "
                                                        f"{seen[k] + 1} and {i + 1}): which one is meant?"))
        seen.setdefault(k, i)
    if problems:
        return [], problems
    if not table.rows:
        where = f"sheet {table.sheet!r}, " if table.sheet is not None else ""
        return [], [(name, table.header_row + 1, "(rows)",
                     f"{where}no data below the header row {table.header_row} (cell "
                     f"A{table.header_row + 1} onwards is empty): a file with headers only holds nothing "
                     f"to import")]
    records: list[dict] = []
    for rownum, cells in table.rows:
        recs, probs = _parse_row(name, rownum, cells, pos, layout, source_sha256, site)
        problems += probs
        if not probs:
            records += recs
    records, probs = check_totals(name, records, {item: h for h, item in layout.item_columns.items()})
    return records, problems + probs


def parse_row(name: str, rownum: int, header: list[str], cells: list[Any], layout: Layout,
              source_sha256: str = "", site=None) -> tuple[list[dict], list]:
    """Records and problems of one row (``header`` names the cells); see :func:`parse_table`."""
    pos: dict[str, int] = {}
    for i, h in enumerate(header):
        if h:
            pos.setdefault(header_key(h), i)
    return _parse_row(name, rownum, cells, pos, layout, source_sha256, site)


def _parse_row(name, rownum, cells, pos, layout: Layout, sha, site):
    return _Row(name, rownum, cells, pos, layout, site).parse(sha)


class _Row:
    """One row being parsed: the raw value of each field with the column it came from, and the problems."""

    def __init__(self, name, rownum, cells, pos, layout: Layout, site):
        self.name, self.rownum, self.cells, self.pos, self.layout, self.site = name, rownum, cells, pos, layout, site
        self.problems: list[tuple[str, int, str, str]] = []
        self.base: dict[str, Any] = {}
        raw: dict[str, tuple[Any, str]] = {}  # field -> (value, column it came from)
        for f, v in layout.defaults.items():
            raw[f] = (v, f"(default {f})")
        if layout.kind != "mixed":
            raw["kind"] = (layout.kind, "(mapping kind)")
        if layout.default_unit:
            raw.setdefault("unit", (layout.default_unit, "(default unit)"))
        for h, f in layout.columns.items():
            v = self.cell(h)
            if cell_text(v) == "" and f in raw:
                continue  # an empty cell keeps the default
            raw[f] = (v, h)
        for f, table in layout.values.items():
            if f in raw:
                hit = {header_key(k): v for k, v in table.items()}.get(header_key(raw[f][0]))
                if hit is not None:
                    raw[f] = (hit, raw[f][1])
        self.raw = raw

    def cell(self, header: str) -> Any:
        i = self.pos.get(header_key(header))
        return self.cells[i] if i is not None and i < len(self.cells) else None

    def col(self, f: str, fallback: str | None = None) -> str:
        """The column a field came from (or the field's name when nothing gave it)."""
        return self.raw[f][1] if f in self.raw else (fallback or f)

    def text(self, f: str) -> str:
        return cell_text(self.raw[f][0]) if f in self.raw else ""

    def bad(self, col: str, msg: str) -> None:
        self.problems.append((self.name, self.rownum, col, msg))

    def parse(self, sha: str) -> tuple[list[dict], list]:
        self.period()
        kind = self.kind()
        self.texts()
        unit, co2_share = self.unit(), self.co2_share()
        records = [self.record(kind, item, q, icol, qcol, unit, co2_share) for item, q, icol, qcol in self.pairs()]
        if self.problems:
            return [], self.problems
        out = []
        for rec in records:
            rec["period_start"] = rec["period_start"].isoformat()
            rec["period_end"] = rec["period_end"].isoformat()
            rec.update(source_file=self.name, source_sha256=sha, row=self.rownum)
            out.append({c: rec.get(c) for c in COLUMNS})
        return out, []

    def period(self) -> None:
        raw, base, fmt = self.raw, self.base, self.layout.date_format
        try:
            if "month" in raw:
                base["period_start"], base["period_end"] = parse_month(raw["month"][0])
        except CellError as exc:
            self.bad(raw["month"][1], str(exc))
        try:
            if "date" in raw:
                base["period_start"] = base["period_end"] = parse_date(raw["date"][0], fmt)
        except CellError as exc:
            self.bad(raw["date"][1], str(exc))
        for f in ("period_start", "period_end"):
            if self.text(f):
                try:
                    base[f] = parse_date(raw[f][0], fmt)
                except CellError as exc:
                    self.bad(raw[f][1], str(exc))
            elif f not in base and "month" not in raw and "date" not in raw:
                self.bad(self.col(f), f"empty: {f} is needed")
        lo, hi = base.get("period_start"), base.get("period_end")
        if isinstance(lo, dt.date) and isinstance(hi, dt.date) and hi < lo:
            where = next(f for f in ("period_end", "date", "month", "period_start") if f in raw)
            self.bad(raw[where][1], f"period_end {hi} is before period_start {lo}")

    def kind(self) -> str:
        kind = self.text("kind")
        if not kind:
            self.bad(self.col("kind"), "empty: kind is needed")
        elif kind not in KINDS:
            self.bad(self.col("kind"), f"unknown kind {kind!r} (one of {', '.join(KINDS)})")
            kind = ""
        return kind

    def texts(self) -> None:
        for f in ("workshop", "device", "shift", "team", "note"):
            if self.text(f):
                self.base[f] = self.text(f)
        if self.site is not None:
            site = self.site
            known = {"workshop": {w.id for w in site.workshops}, "device": {d.id for d in site.devices},
                     "shift": {s.id for s in site.shifts}}
            for f, ids in known.items():
                if f in self.base and self.base[f] not in ids:
                    self.bad(self.col(f), f"unknown {f} {self.base[f]!r} (the site has "
                                          f"{', '.join(sorted(ids)) or 'none'})")
        mv = self.text("movement") or "purchased"
        if mv not in MOVEMENTS:
            self.bad(self.col("movement"), f"unknown movement {mv!r} (one of {', '.join(MOVEMENTS)})")
        self.base["movement"] = mv
        use = self.text("use")
        if use and use not in USES:
            self.bad(self.col("use"), f"unknown use {use!r} (one of {', '.join(USES)})")
        self.base["use"] = use or None

    def unit(self) -> str | None:
        if not self.text("unit"):
            self.bad(self.col("unit"), "empty: a unit is needed")
            return None
        try:
            return normalise_unit(self.raw["unit"][0])
        except CellError as exc:
            self.bad(self.col("unit"), str(exc))
            return None

    def co2_share(self) -> float | None:
        if not self.text("co2_share"):
            return None
        try:
            share = parse_number(self.raw["co2_share"][0], self.layout.decimal)
        except CellError as exc:
            self.bad(self.col("co2_share"), str(exc))
            return None
        if not 0 <= share <= 1:
            self.bad(self.col("co2_share"), f"co2_share {share} is not a mass fraction between 0 and 1")
        return share

    def pairs(self) -> list[tuple[str, Any, str, str]]:
        """(item, quantity cell, item column, quantity column): one per row, or one per item column."""
        if self.layout.item_columns:
            pairs = [(item, self.cell(h), h, h) for h, item in self.layout.item_columns.items()
                     if cell_text(self.cell(h)) != ""]
            if not pairs:
                self.bad(", ".join(self.layout.item_columns), "every quantity column is empty")
            return pairs
        return [(self.text("item"), self.raw.get("quantity", (None,))[0], self.col("item"), self.col("quantity"))]

    def item_ok(self, kind: str, item: str, icol: str) -> bool:
        if not item:
            self.bad(icol, "empty: item is needed")
            return False
        if not kind:
            return False
        allowed = ITEMS[kind]
        if allowed is not None and item not in allowed:
            self.bad(icol, f"unknown {kind} item {item!r} (one of {', '.join(allowed)})")
            return False
        if allowed is None and not _ITEM_ID.match(item):
            self.bad(icol, f"{item!r} is not an identifier (letters, digits, _ . -)")
            return False
        products = {p.id for p in self.site.products} if self.site is not None else None
        if kind == "production" and products is not None and item not in products:
            self.bad(icol, f"unknown product {item!r} (the site has {', '.join(sorted(products)) or 'none'})")
            return False
        return True

    def record(self, kind, item, q, icol, qcol, unit, co2_share) -> dict:
        ok = self.item_ok(kind, item, icol)
        try:
            quantity = parse_number(q, self.layout.decimal)
            if quantity < 0 and kind != "financial":
                self.bad(qcol, f"negative quantity {quantity} (a correction is a re-issued file that "
                               "supersedes the old one)")
        except CellError as exc:
            self.bad(qcol, str(exc) if cell_text(q) else "empty: quantity is needed")
            quantity = math.nan
        if ok and unit is not None and not unit_fits(kind, item, unit):
            self.bad(self.col("unit"), f"unit {unit!r} does not fit {kind} {item!r} (it is measured in "
                                       f"{_dims_text(kind, item)})")
        if co2_share is not None and item != "ar_co2":
            self.bad(self.col("co2_share"), f"co2_share is for ar_co2 (a mixed welding gas), not {kind} {item!r}")
        if kind == "welding_gas" and item == "ar_co2" and co2_share is None:
            self.bad(self.col("co2_share"), "empty: ar_co2 needs co2_share (CO2 mass fraction)")
        return {"kind": kind, "item": item, "quantity": quantity, "unit": unit, "co2_share": co2_share,
                **self.base}


def _dims_text(kind: str, item: str) -> str:
    names = {_MASS: "mass", _VOLUME: "volume", _ENERGY: "energy", _COUNT: "pieces", _MONEY: "money",
             _CO2E: "tCO2e"}
    return " or ".join(names[d] for d in DIMENSIONS[kind].get(item, DIMENSIONS[kind][None]))


def read_activity_file(path: str | os.PathLike, mapping: Any = None, *, site=None,
                       sheet: str | int | None = None) -> "pd.DataFrame":
    """Parse a CSV/XLSX business file into activity records, or fail listing every problem.

    Parameters
    ----------
    path : path
        The file. Without ``mapping`` it is a desk-work file whose header row names the record's own
        columns (:data:`COLUMNS`; ``kind, item, period_start, period_end, quantity, unit`` required, the
        others optional).
    mapping : ImportMapping or dict, optional
        A configured mapping (``imports:`` in ``tanjian.yaml``) for a file in another layout.
    site : workspace.site.Site, optional
        Check product, workshop, device and shift ids against the plant model.
    sheet : str or int, optional
        XLSX sheet (default: the mapping's, else the first).

    Returns
    -------
    pandas.DataFrame
        One row per record, columns :data:`COLUMNS`.

    Raises
    ------
    ActivityFileError
        Listing every problem as ``file:row:column: message``; no record is returned from a file with
        problems.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ActivityFileError([(path.name, None, "(file)", f"cannot read: {exc.strerror or exc}")]) from None
    records, problems = parse_bytes(path, data, mapping, site=site, sheet=sheet)
    if problems:
        raise ActivityFileError(problems, records, outcome="no record of the file was used")
    return records_frame(records)


def parse_bytes(path: str | os.PathLike, data: bytes, mapping: Any = None, *, site=None,
                sheet: str | int | None = None) -> tuple[list[dict], list]:
    """Records and problems of a file's bytes (see :func:`read_activity_file`)."""
    layout = Layout.from_mapping(mapping)
    opts: dict[str, Any] = {}
    if mapping is not None and not isinstance(mapping, Layout):
        m = mapping if not isinstance(mapping, dict) else None
        if m is not None:
            opts = dict(sheet=m.sheet, header_row=m.header_row, encoding=m.encoding)
        else:
            opts = {k: mapping[k] for k in ("sheet", "header_row", "encoding") if k in mapping}
    if sheet is not None:
        opts["sheet"] = sheet
    try:
        table = read_table(path, data=data, **opts)
    except ActivityFileError as exc:
        return [], exc.problems
    return parse_table(table, layout, source_sha256=hashlib.sha256(data).hexdigest(), site=site)


def records_frame(records: Iterable[dict]) -> "pd.DataFrame":
    """A DataFrame with exactly the columns :data:`COLUMNS` (``quantity``/``co2_share`` float, ``row`` int)."""
    import pandas as pd

    df = pd.DataFrame(list(records), columns=list(COLUMNS))
    df["quantity"] = df["quantity"].astype(float)
    df["co2_share"] = df["co2_share"].astype(float)
    df["row"] = df["row"].astype("Int64")
    return df
