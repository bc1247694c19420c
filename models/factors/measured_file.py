"""The workspace's own file of measured factors: ``<data_dir>/factors/measured.csv``, the plant's lab values with
their evidence, kept where the data-collection page lists them and adds to them.

It is a measured-factor file like any other (:func:`models.factors.measured.load_measured` reads it; ``tanjian
inventory --measured <data_dir>/factors/measured.csv`` uses it). :func:`add_measured` checks a new row exactly as
the command line would: the whole file with the row appended is read by ``load_measured`` (every bad cell named
``measured.csv:line:column``), then refused as the inventory refuses it (:func:`models.inventory._check_measured`:
a grid emission factor is not the plant's to measure; evidence must be a SHA-256 of 64 hex digits), under every
packaged methodology; and it must name a factor of the library, in a unit of the same dimension, without
overlapping another measured value of that factor.
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from models.errors import InventoryError
from models.factors.measured import MEASURED_COLUMNS, MeasuredFactor, load_measured
from workspace.fsutil import write_atomic

FILE_NAME = "measured.csv"
COLUMNS = MEASURED_COLUMNS + ("notes",)
HEADER = ("# The plant's measured emission factors (lab values), one row each, with the SHA-256 of the lab report\n"
          "# kept in the evidence store. Added on the data-collection page; used by `tanjian inventory --measured`.\n")


def measured_path(data_dir) -> Path:
    """``<data_dir>/factors/measured.csv``."""
    return Path(data_dir) / "factors" / FILE_NAME


def read_measured(data_dir) -> list[MeasuredFactor]:
    """The workspace's measured factors (none when the file does not exist yet)."""
    p = measured_path(data_dir)
    return load_measured(p) if p.exists() else []


def _row_text(row: dict) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([str(row.get(c, "") or "").strip() for c in COLUMNS])
    return buf.getvalue()


def _refusals(new: MeasuredFactor, existing: list[MeasuredFactor], where: str) -> list[str]:
    """Every reason the inventory (or the library) would refuse ``new``."""
    from models.factors import FactorLibrary
    from models.inventory import _check_measured
    from models.packages import IDS, load_methodology
    from workspace.units import parse

    out: list[str] = []
    for mid in IDS:
        try:
            _check_measured([new], load_methodology(mid))
        except InventoryError as exc:
            out += [ln.strip() for ln in str(exc).splitlines()[1:] if ln.strip() not in out]
    lib = FactorLibrary.load()
    rows = [f for f in lib.factors if f.factor_id == new.factor_id]
    if not rows:
        out.append(f"{where}:factor_id: {new.factor_id!r} is not a factor of the library {lib.path.name}: a measured "
                   f"value replaces a library factor of that id")
    elif parse(new.unit).dimensionality != parse(rows[0].unit).dimensionality:
        out.append(f"{where}:unit: [{new.unit}] does not fit the library's unit of {new.factor_id} [{rows[0].unit}]")
    if new.applies_to < new.applies_from:
        out.append(f"{where}:applies_to: {new.applies_to} is before applies_from {new.applies_from}")
    for m in existing:
        if m.factor_id == new.factor_id and m.applies_from <= new.applies_to and new.applies_from <= m.applies_to:
            out.append(f"{where}:applies_from: {new.factor_id} already has a measured value for "
                       f"{m.applies_from}..{m.applies_to} ({FILE_NAME}:{m.line})")
    return out


def add_measured(data_dir, row: dict) -> MeasuredFactor:
    """Append ``row`` (the columns of :data:`COLUMNS`, as text) to the workspace's file after checking it.

    Raises
    ------
    models.errors.InventoryError
        Listing every problem as ``measured.csv:line:column: message``; the file is unchanged.
    """
    path = measured_path(data_dir)
    old = path.read_text(encoding="utf-8") if path.exists() else HEADER + ",".join(COLUMNS) + "\n"
    if not old.endswith("\n"):
        old += "\n"
    text = old + _row_text(row)
    line = text.count("\n")
    with tempfile.TemporaryDirectory() as d:
        probe = Path(d) / FILE_NAME
        probe.write_text(text, encoding="utf-8")
        try:
            factors = load_measured(probe)
        except InventoryError as exc:
            raise InventoryError(str(exc).replace(str(probe), FILE_NAME)) from None
        new, existing = factors[-1], factors[:-1]
        problems = [p.replace(str(probe), FILE_NAME) for p in _refusals(new, existing, f"{FILE_NAME}:{line}")]
    if problems:
        raise InventoryError(f"{len(problems)} problem(s) in measured factors:\n" + "\n".join(problems))
    write_atomic(path, text.encode("utf-8"), what="adding a measured factor")
    return load_measured(path)[-1]


__all__ = ["COLUMNS", "FILE_NAME", "add_measured", "measured_path", "read_measured"]
