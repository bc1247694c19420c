"""Versioned, sourced emission-factor library.

Every value lives in one row of a CSV file (by default the packaged
``models/data/emission-factors.csv``) together with its unit, issuer, document,
table, publication date, status and the range of activity dates it is used for.
The file is validated when it is loaded; a value is looked up by factor id,
region and activity date.

Validity dates are local calendar dates in China Standard Time
(:data:`VALIDITY_TIMEZONE`), inclusive at both ends.

The package's other modules use the library: :mod:`models.factors.resolution` (the row a line
uses for its whole period, unverified rows named all at once), :mod:`models.factors.measured`
(a plant's own measured values) and :mod:`models.factors.uncertainty` (default uncertainties).
The units a factor file may use are :data:`workspace.units.FACTOR_UNITS`.

References
----------
.. [1] MEE & NBS, 《关于发布2021年电力二氧化碳排放因子的公告》, 公告2024年第12号, 2024-04-12.
.. [2] NDRC, 《机械设备制造企业温室气体排放核算方法与报告指南（试行）》, 发改办气候〔2015〕1722号.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import math
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from workspace.errors import TanjianError
from workspace.units import FACTOR_UNITS

__all__ = [
    "COLUMNS",
    "DEFAULT_PATH",
    "STATUSES",
    "VALIDITY_TIMEZONE",
    "Factor",
    "FactorError",
    "FactorFileError",
    "FactorLibrary",
    "convert",
]

#: Time zone in which ``applies_from``/``applies_to`` dates are read.
VALIDITY_TIMEZONE = "Asia/Shanghai"

#: Columns every factor file must have, in this order.
COLUMNS = (
    "factor_id",
    "scope",
    "region",
    "quantity",
    "value",
    "unit",
    "applies_from",
    "applies_to",
    "data_year",
    "issuer",
    "document",
    "table",
    "published",
    "version",
    "status",
    "notes",
)

#: Columns that may not be empty.
_REQUIRED = tuple(c for c in COLUMNS if c not in ("data_year", "notes"))

#: ``status`` vocabulary; see the header of the packaged data file.
STATUSES = ("primary", "secondary", "unverified")

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PUBLISHED = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")

#: Packaged default data file.
DEFAULT_PATH = Path(str(resources.files("models") / "data" / "emission-factors.csv"))


class FactorError(TanjianError):
    """An emission factor is missing, refused or cannot be converted."""


class FactorFileError(FactorError):
    """A factor file is unreadable or invalid.

    ``problems`` holds one ``(file, line, column, message)`` tuple per problem;
    ``line`` is the 1-based physical line of the file.
    """

    def __init__(self, problems: list[tuple[str, int | None, str, str]]):
        self.problems = problems
        lines = [
            f"{f}:{ln if ln is not None else '?'}: column {col!r}: {msg}" for f, ln, col, msg in problems
        ]
        super().__init__(f"{len(problems)} problem(s) in factor file:\n" + "\n".join(lines))


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """Convert ``value`` between two units of :data:`FACTOR_UNITS`.

    Parameters
    ----------
    value : float
        Number expressed in ``from_unit``. [from_unit]
    from_unit, to_unit : str
        Keys of :data:`FACTOR_UNITS` of the same dimension.

    Returns
    -------
    float
        ``value`` expressed in ``to_unit``. [to_unit]

    Raises
    ------
    FactorError
        If a unit is unknown or the dimensions differ.
    """
    for u in (from_unit, to_unit):
        if u not in FACTOR_UNITS:
            raise FactorError(f"unknown unit {u!r}; known: {', '.join(FACTOR_UNITS)}")
    dim_from, scale_from = FACTOR_UNITS[from_unit]
    dim_to, scale_to = FACTOR_UNITS[to_unit]
    if dim_from != dim_to:
        raise FactorError(f"cannot convert {from_unit!r} ({dim_from}) to {to_unit!r} ({dim_to})")
    return value * scale_from / scale_to


@dataclass(frozen=True)
class Factor:
    """One published value with its unit, source and validity.

    Attributes
    ----------
    factor_id, region, quantity : str
        What the value is, and for which region.
    scope : int
        GHG Protocol scope of the emissions the value is used for.
    value : float
        The number as published. [unit]
    unit : str
        Unit of ``value`` (a key of :data:`FACTOR_UNITS`).
    applies_from, applies_to : datetime.date
        Inclusive range of activity dates (China Standard Time) the value is used for.
    data_year : int or None
        Year the issuer computed the value for; ``None`` for methodology defaults.
    issuer, document, table, published, version, status, notes : str
        Provenance, as written in the data file.
    file, line : str, int
        Where the row was read.
    """

    factor_id: str
    scope: int
    region: str
    quantity: str
    value: float
    unit: str
    applies_from: dt.date
    applies_to: dt.date
    data_year: int | None
    issuer: str
    document: str
    table: str
    published: str
    version: str
    status: str
    notes: str
    file: str = ""
    line: int = 0

    @property
    def key(self) -> str:
        """Stable identifier of this row: ``factor_id@region:applies_from``."""
        return f"{self.factor_id}@{self.region}:{self.applies_from.isoformat()}"

    @property
    def source(self) -> str:
        """One-line citation: issuer, document, table, publication date, status."""
        year = f", data year {self.data_year}" if self.data_year is not None else ""
        return (
            f"{self.issuer}, {self.document}, {self.table}, published {self.published}{year}"
            f" [{self.status}]"
        )

    def covers(self, day: dt.date) -> bool:
        """Whether activity on local date ``day`` uses this row."""
        return self.applies_from <= day <= self.applies_to

    def value_in(self, unit: str) -> float:
        """The value converted to ``unit``. [unit]"""
        return convert(self.value, self.unit, unit)


def _parse_row(cells: dict[str, str], file: str, line: int, problems: list) -> Factor | None:
    """Check one row and build its :class:`Factor`; append problems instead of raising."""
    start = len(problems)

    def bad(column: str, message: str) -> None:
        problems.append((file, line, column, message))

    for col in _REQUIRED:
        if not cells[col]:
            bad(col, "empty")
    value = math.nan
    if cells["value"]:
        try:
            value = float(cells["value"])
        except ValueError:
            bad("value", f"not a number: {cells['value']!r}")
        else:
            if not math.isfinite(value):
                bad("value", f"not finite: {cells['value']!r}")
    if cells["unit"] and cells["unit"] not in FACTOR_UNITS:
        bad("unit", f"unknown unit {cells['unit']!r}; known: {', '.join(FACTOR_UNITS)}")
    scope = 0
    if cells["scope"]:
        if cells["scope"] in ("1", "2", "3"):
            scope = int(cells["scope"])
        else:
            bad("scope", f"must be 1, 2 or 3, not {cells['scope']!r}")
    dates: dict[str, dt.date] = {}
    for col in ("applies_from", "applies_to"):
        if cells[col]:
            try:
                if not _DATE.match(cells[col]):
                    raise ValueError
                dates[col] = dt.date.fromisoformat(cells[col])
            except ValueError:
                bad(col, f"not an ISO date YYYY-MM-DD: {cells[col]!r}")
    if len(dates) == 2 and dates["applies_from"] > dates["applies_to"]:
        bad("applies_to", f"{dates['applies_to']} is before applies_from {dates['applies_from']}")
    data_year = None
    if cells["data_year"]:
        if re.fullmatch(r"\d{4}", cells["data_year"]):
            data_year = int(cells["data_year"])
        else:
            bad("data_year", f"not a year: {cells['data_year']!r}")
    if cells["published"] and not _PUBLISHED.match(cells["published"]):
        bad("published", f"not YYYY, YYYY-MM or YYYY-MM-DD: {cells['published']!r}")
    if cells["status"] and cells["status"] not in STATUSES:
        bad("status", f"must be one of {', '.join(STATUSES)}, not {cells['status']!r}")
    if len(problems) > start:
        return None
    return Factor(
        factor_id=cells["factor_id"],
        scope=scope,
        region=cells["region"],
        quantity=cells["quantity"],
        value=value,
        unit=cells["unit"],
        applies_from=dates["applies_from"],
        applies_to=dates["applies_to"],
        data_year=data_year,
        issuer=cells["issuer"],
        document=cells["document"],
        table=cells["table"],
        published=cells["published"],
        version=cells["version"],
        status=cells["status"],
        notes=cells["notes"],
        file=file,
        line=line,
    )


def _read_rows(text: str, file: str, problems: list) -> list[Factor]:
    """Parse the CSV text (``#`` lines are comments) into factors, collecting problems."""
    header: list[str] | None = None
    factors = []
    for line_no, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        cells = next(csv.reader([raw]))
        if header is None:
            header = [c.strip() for c in cells]
            missing = [c for c in COLUMNS if c not in header]
            for col in missing:
                problems.append((file, line_no, col, "column missing from header"))
            if missing:
                return []
            continue
        if len(cells) != len(header):
            problems.append((file, line_no, "*", f"{len(cells)} cells, header has {len(header)}"))
            continue
        row = {col: cell.strip() for col, cell in zip(header, cells)}
        factor = _parse_row(row, file, line_no, problems)
        if factor is not None:
            factors.append(factor)
    if header is None:
        problems.append((file, None, "*", "no header row"))
    return factors


def _check_consistency(factors: list[Factor], file: str, problems: list) -> None:
    """One unit per factor_id; no overlapping validity per factor_id/region."""
    units: dict[str, Factor] = {}
    for f in factors:
        first = units.setdefault(f.factor_id, f)
        if f.unit != first.unit:
            problems.append(
                (file, f.line, "unit", f"{f.unit!r} differs from {first.unit!r} on line {first.line}")
            )
    groups: dict[tuple[str, str], list[Factor]] = {}
    for f in factors:
        groups.setdefault((f.factor_id, f.region), []).append(f)
    for rows in groups.values():
        rows.sort(key=lambda f: f.applies_from)
        for prev, cur in zip(rows, rows[1:]):
            if cur.applies_from <= prev.applies_to:
                problems.append(
                    (
                        file,
                        cur.line,
                        "applies_from",
                        f"{cur.factor_id}/{cur.region} {cur.applies_from}..{cur.applies_to} overlaps "
                        f"{prev.applies_from}..{prev.applies_to} on line {prev.line}",
                    )
                )


class FactorLibrary:
    """A validated set of :class:`Factor` rows, looked up by id, region and date.

    Build it with :meth:`load`.

    Attributes
    ----------
    path : pathlib.Path
        File the rows were read from.
    sha256 : str
        Hex SHA-256 of the file's bytes: record it with every result.
    factors : tuple of Factor
        All rows, in file order.
    """

    def __init__(self, factors: list[Factor], path: Path, sha256: str):
        self.path = path
        self.sha256 = sha256
        self.factors = tuple(factors)
        self._groups: dict[tuple[str, str], list[Factor]] = {}
        for f in self.factors:
            self._groups.setdefault((f.factor_id, f.region), []).append(f)
        for rows in self._groups.values():
            rows.sort(key=lambda f: f.applies_from)

    @classmethod
    def load(cls, path: str | Path | None = None) -> FactorLibrary:
        """Read and validate a factor file.

        Parameters
        ----------
        path : str or pathlib.Path, optional
            CSV file; by default the packaged :data:`DEFAULT_PATH`.

        Returns
        -------
        FactorLibrary

        Raises
        ------
        FactorFileError
            Listing every problem found, each naming file, line and column.
        """
        path = Path(path) if path is not None else DEFAULT_PATH
        try:
            data = path.read_bytes()
            text = data.decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise FactorFileError([(str(path), None, "*", f"cannot read: {exc}")]) from exc
        problems: list[tuple[str, int | None, str, str]] = []
        factors = _read_rows(text, str(path), problems)
        _check_consistency(factors, str(path), problems)
        if problems:
            raise FactorFileError(problems)
        return cls(factors, path, hashlib.sha256(data).hexdigest())

    def _rows(self, factor_id: str, region: str) -> list[Factor]:
        rows = self._groups.get((factor_id, region))
        if rows is None:
            ids = sorted({f.factor_id for f in self.factors})
            if factor_id not in ids:
                raise FactorError(f"unknown factor_id {factor_id!r} in {self.path}; known: {', '.join(ids)}")
            regions = sorted(r for (i, r) in self._groups if i == factor_id)
            raise FactorError(
                f"factor {factor_id!r} has no region {region!r} in {self.path}; regions: {', '.join(regions)}"
            )
        return rows

    def _not_covered(self, factor_id: str, region: str, day: dt.date) -> FactorError:
        spans = ", ".join(f"{f.applies_from}..{f.applies_to}" for f in self._rows(factor_id, region))
        return FactorError(
            f"no {factor_id!r} factor for region {region!r} covers {day.isoformat()}; "
            f"rows cover {spans} (file {self.path})"
        )

    def _check_status(self, factor: Factor, allow_unverified: bool) -> Factor:
        if factor.status == "unverified" and not allow_unverified:
            raise FactorError(
                f"{factor.key} (line {factor.line} of {self.path}) is unverified; "
                "pass allow_unverified=True to use it"
            )
        return factor

    def lookup(
        self, factor_id: str, when: dt.date, region: str = "CN", *, allow_unverified: bool = False
    ) -> Factor:
        """The row valid for activity on local date ``when``.

        Parameters
        ----------
        factor_id : str
            E.g. ``"grid_average"`` or ``"natural_gas_ncv"``.
        when : datetime.date or datetime.datetime
            Activity date, local calendar date in China Standard Time (a datetime is cut to its date).
        region : str, default "CN"
            Region code of the data file.
        allow_unverified : bool, default False
            Accept rows whose status is ``unverified``.

        Returns
        -------
        Factor

        Raises
        ------
        FactorError
            If the id or region is unknown, no row covers ``when`` (the message names the date),
            or the row is unverified and not allowed.
        """
        day = when.date() if isinstance(when, dt.datetime) else when
        for f in self._rows(factor_id, region):
            if f.covers(day):
                return self._check_status(f, allow_unverified)
        raise self._not_covered(factor_id, region, day)

    def series(
        self,
        factor_id: str,
        index: pd.DatetimeIndex,
        region: str = "CN",
        *,
        allow_unverified: bool = False,
    ) -> pd.Series:
        """Values of a time-varying factor at each timestamp of ``index``.

        Each timestamp takes the row valid on its local date, so a period crossing a
        validity boundary uses each day's own value.

        Parameters
        ----------
        factor_id : str
            Factor to apply.
        index : pandas.DatetimeIndex
            Timestamps. Tz-naive timestamps are read as China Standard Time wall clock;
            tz-aware ones are converted to it first.
        region : str, default "CN"
            Region code of the data file.
        allow_unverified : bool, default False
            Accept rows whose status is ``unverified``.

        Returns
        -------
        pandas.Series
            Float values in the factor's unit, indexed by ``index``. ``attrs["unit"]`` holds the unit,
            ``attrs["factors"]`` the tuple of :class:`Factor` rows used, in date order.

        Raises
        ------
        FactorError
            If some timestamp is not covered (the message names the first such date and how many
            dates are missing), or a row used is unverified and not allowed.
        """
        if not isinstance(index, pd.DatetimeIndex):
            raise FactorError(f"index must be a pandas.DatetimeIndex, not {type(index).__name__}")
        rows = self._rows(factor_id, region)
        local = index.tz_convert(VALIDITY_TIMEZONE).tz_localize(None) if index.tz is not None else index
        days = local.values.astype("datetime64[D]")
        starts = np.array([np.datetime64(f.applies_from, "D") for f in rows])
        ends = np.array([np.datetime64(f.applies_to, "D") for f in rows])
        pos = np.searchsorted(starts, days, side="right") - 1
        covered = (pos >= 0) & (days <= ends[np.clip(pos, 0, None)])
        if not covered.all():
            missing = np.unique(days[~covered])
            first = pd.Timestamp(missing[0]).date()
            err = self._not_covered(factor_id, region, first)
            raise FactorError(f"{err} ({len(missing)} uncovered date(s) in the index)")
        used = [rows[i] for i in np.unique(pos)]
        for f in used:
            self._check_status(f, allow_unverified)
        values = np.array([f.value for f in rows], dtype=float)[pos]
        out = pd.Series(values, index=index, name=factor_id)
        out.attrs["unit"] = rows[0].unit
        out.attrs["factors"] = tuple(used)
        return out
