"""Reading business files: CSV (UTF-8, UTF-8 with BOM, GB 18030) and XLSX sheets into rows of cells, and
parsing cells (numbers with either decimal separator, dates, months) with problems located as
``file:row:column: message``. Used by :mod:`workspace.business.records`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import TanjianError


class ActivityFileError(TanjianError):
    """A business file has problems; ``problems`` holds one ``(file, row, column, message)`` each.

    ``records`` holds the rows that were good (a list of record dicts), for an import that was asked to
    keep them.
    """

    def __init__(self, problems: list[tuple[str, int | None, str, str]], records: list[dict] | None = None,
                 *, outcome: str = "nothing was imported"):
        self.problems = problems
        self.records = records or []
        lines = [format_problem(p) for p in problems]
        super().__init__(f"{len(problems)} problem(s); {outcome}:\n" + "\n".join(lines))


def format_problem(p: tuple[str, int | None, str, str]) -> str:
    """``file:row:column: message``."""
    f, row, col, msg = p
    return f"{f}:{row if row is not None else '?'}:{col}: {msg}"


# -- reading tables ------------------------------------------------------------------------------------------
@dataclass
class Table:
    """A sheet read from a file: its header cells and its data rows with their 1-based row numbers."""

    name: str
    header: list[str]
    rows: list[tuple[int, list[Any]]] = field(default_factory=list)
    encoding: str | None = None
    header_row: int = 1
    sheet: str | None = None  #: the XLSX sheet's name (None for CSV)


def decode_text(data: bytes, encoding: str = "auto") -> tuple[str, str]:
    """Text of a CSV file and the encoding used: UTF-8 (with or without BOM), else GB 18030.

    Raises
    ------
    UnicodeDecodeError
        When ``encoding`` is given and does not fit, or no candidate fits.
    """
    if encoding != "auto":
        return data.decode(encoding), encoding
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("gb18030"), "gb18030"


def read_table(path: str | os.PathLike, *, data: bytes | None = None, sheet: str | int | None = None,
               header_row: int = 1, encoding: str = "auto") -> Table:
    """Read a CSV or XLSX file into a :class:`Table` (values kept as read: text, numbers, datetimes).

    Parameters
    ----------
    path : path
        The file (its suffix decides the format: ``.xlsx``/``.xlsm`` or anything else as CSV).
    data : bytes, optional
        Its content when already read (the importer hashes the same bytes it parses).
    sheet : str or int, optional
        XLSX sheet name or 0-based index; default the first.
    header_row : int
        1-based row holding the column headers; rows above it are ignored, data starts below it.
    encoding : {"auto", "utf-8", "utf-8-sig", "gb18030"}
        CSV text encoding; ``auto`` tries UTF-8 then GB 18030.
    """
    path = Path(path)
    name = path.name
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ActivityFileError([(name, None, "(file)", f"cannot read: {exc.strerror or exc}")]) from None
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_xlsx(name, data, sheet, header_row)
    try:
        text, enc = decode_text(data, encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise ActivityFileError([(name, None, "(file)", f"not text in {encoding} encoding: {exc}")]) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        lines = list(reader)
    except csv.Error as exc:
        raise ActivityFileError([(name, reader.line_num, "(file)", f"not readable as CSV: {exc}")]) from None
    return _table(name, lines, header_row, enc)


def _read_xlsx(name: str, data: bytes, sheet: str | int | None, header_row: int) -> Table:
    import zipfile

    import openpyxl

    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        raise ActivityFileError([(name, None, "(file)", f"not a readable XLSX workbook: {exc}")]) from None
    try:
        if sheet is None:
            ws = wb.worksheets[0]
        elif isinstance(sheet, int):
            if not 0 <= sheet < len(wb.worksheets):
                raise ActivityFileError([(name, None, "(sheet)", f"no sheet number {sheet} (the workbook has "
                                                                 f"{len(wb.worksheets)})")])
            ws = wb.worksheets[sheet]
        else:
            if sheet not in wb.sheetnames:
                raise ActivityFileError([(name, None, "(sheet)", f"no sheet {sheet!r} (sheets: "
                                                                 f"{', '.join(wb.sheetnames)})")])
            ws = wb[sheet]
        lines = [list(r) for r in ws.iter_rows(values_only=True)]
        title = ws.title
    finally:
        wb.close()
    uncached = _formulas_without_value(data, title, lines) if any(None in r for r in lines) else []
    if uncached:
        raise ActivityFileError([(name, row, f"{title}!{ref}",
                                  f"the formula {formula} has no saved value (the file was written by a "
                                  f"program that does not compute formulas): open and save it in Excel or "
                                  f"LibreOffice, or export values") for row, ref, formula in uncached])
    table = _table(name, lines, header_row, None)
    table.sheet = title
    return table


def _formulas_without_value(data: bytes, title: str, lines: list[list[Any]]) -> list[tuple[int, str, str]]:
    """``(row, cell, formula)`` of each cell of sheet ``title`` that holds a formula but no cached value
    (read as empty in ``lines``, the cached values): such a cell must not be read as empty."""
    import openpyxl
    from openpyxl.utils import get_column_letter

    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    try:
        out = []
        for i, row in enumerate(wb[title].iter_rows(values_only=True)):
            for j, v in enumerate(row):
                if isinstance(v, str) and v.startswith("=") and (
                        i >= len(lines) or j >= len(lines[i]) or lines[i][j] is None):
                    out.append((i + 1, f"{get_column_letter(j + 1)}{i + 1}", v))
        return out
    finally:
        wb.close()


def _table(name: str, lines: list[list[Any]], header_row: int, enc: str | None) -> Table:
    if len(lines) < header_row:
        raise ActivityFileError([(name, header_row, "(header)", f"the file has no row {header_row} to hold "
                                                                "the column headers")])
    header = ["" if c is None else str(c).strip() for c in lines[header_row - 1]]
    rows = []
    for i, cells in enumerate(lines[header_row:], start=header_row + 1):
        if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
            continue  # blank line
        rows.append((i, list(cells)))
    return Table(name, header, rows, enc, header_row)


# -- parsing cells -------------------------------------------------------------------------------------------
class CellError(ValueError):
    """A cell that cannot be read as what its column holds; the message says why (no location: the caller
    knows the row and column)."""


def header_key(h: Any) -> str:
    """How headers and looked-up values are compared: NFKC (full-width → ASCII), no whitespace, case-folded."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", cell_text(h))).casefold()


def cell_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def parse_number(v: Any, decimal: str = ".") -> float:
    """A finite float from a cell: numbers as they are; text with ``decimal`` as the decimal separator
    and spaces or the other separator as thousands separators."""
    if isinstance(v, bool):
        raise CellError(f"{v!r} is not a number")
    if isinstance(v, (int, float)):
        x = float(v)
    else:
        s = re.sub(r"\s+", "", unicodedata.normalize("NFKC", cell_text(v))).replace("\u2212", "-")
        if not s:
            raise CellError("empty: a number is needed")
        thousands = "," if decimal == "." else "."
        s = s.replace(thousands, "")
        if decimal == ",":
            s = s.replace(",", ".")
        if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", s):
            raise CellError(f"{cell_text(v)!r} is not a number (decimal separator {decimal!r})")
        x = float(s)
    if not math.isfinite(x):
        raise CellError(f"{cell_text(v)!r} is not a finite number")
    return x


def parse_date(v: Any, fmt: str = "%Y-%m-%d") -> dt.date:
    """A calendar date from a cell: a spreadsheet date, or text in ``fmt`` or ISO ``yyyy-mm-dd``."""
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    s = cell_text(v)
    if not s:
        raise CellError("empty: a date is needed")
    for f in dict.fromkeys((fmt, "%Y-%m-%d")):
        try:
            return dt.datetime.strptime(s, f).date()
        except ValueError:
            continue
    raise CellError(f"{s!r} is not a date in the format {fmt!r}")


def parse_month(v: Any) -> tuple[dt.date, dt.date]:
    """First and last day of a month given as ``yyyy-mm``, ``yyyy/mm``, ``yyyy年m月`` or a date in it."""
    if isinstance(v, (dt.date, dt.datetime)):
        y, m = v.year, v.month
    else:
        s = cell_text(v)
        hit = re.fullmatch(r"(\d{4})\s*(?:[-/.]|年)\s*(\d{1,2})\s*月?", s)
        if not hit:
            raise CellError(f"{s!r} is not a month (yyyy-mm)" if s else "empty: a month is needed")
        y, m = int(hit[1]), int(hit[2])
        if not 1 <= m <= 12:
            raise CellError(f"{s!r}: month {m} does not exist")
    first = dt.date(y, m, 1)
    nxt = dt.date(y + (m == 12), m % 12 + 1, 1)
    return first, nxt - dt.timedelta(days=1)
