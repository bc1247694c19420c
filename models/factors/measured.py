"""A plant's own measured factor values (e.g. its lab's carbon content of natural gas).

:func:`load_measured` reads them from a CSV data file; a :class:`MeasuredFactor` replaces the
library row of its ``factor_id`` for lines whose whole period lies in its validity
(:class:`models.factors.resolution.Resolver`).
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

from models.errors import InventoryError
from models.factors.use import FactorUse
from workspace.units import UnitMismatch, parse

__all__ = ["MEASURED_COLUMNS", "MeasuredFactor", "load_measured"]


@dataclass(frozen=True)
class MeasuredFactor:
    """A plant's own measured value of a factor (e.g. the lab's carbon content of its natural gas).

    It replaces the library row of ``factor_id`` for lines whose whole period lies in
    [applies_from, applies_to]. Read from a CSV data file (:func:`load_measured`).
    """

    factor_id: str
    value: float
    unit: str
    applies_from: dt.date
    applies_to: dt.date
    lab: str
    report: str
    evidence_sha256: str
    notes: str = ""
    file: str = ""
    line: int = 0

    def use(self) -> FactorUse:
        return FactorUse(f"measured:{self.factor_id}:{self.applies_from.isoformat()}", self.factor_id, self.value,
                         self.unit, f"measured by {self.lab}, {self.report} (evidence sha256 {self.evidence_sha256})",
                         self.applies_from, self.applies_to, "measured", self.evidence_sha256)


MEASURED_COLUMNS = ("factor_id", "value", "unit", "applies_from", "applies_to", "lab", "report", "evidence_sha256")


def load_measured(path: str | Path) -> list[MeasuredFactor]:
    """Read a measured-factor file (CSV; ``#`` lines are comments).

    Columns: ``factor_id, value, unit, applies_from, applies_to, lab, report, evidence_sha256``
    and optional ``notes``. ``evidence_sha256`` is the SHA-256 (64 hex) of the lab report, as kept
    in the evidence store (``workspace.evidence``).

    Raises
    ------
    InventoryError
        Naming file, line and column of every bad cell.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError(f"{path}: cannot read measured factors: {exc}") from exc
    problems, out, header = [], [], None
    for ln, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        cells = [c.strip() for c in next(csv.reader([raw]))]
        if header is None:
            header = cells
            miss = [c for c in MEASURED_COLUMNS if c not in header]
            if miss:
                raise InventoryError(f"{path}:{ln}: columns missing: {', '.join(miss)}")
            continue
        row = dict(zip(header, cells + [""] * (len(header) - len(cells))))
        n = len(problems)
        for c in MEASURED_COLUMNS:
            if not row.get(c):
                problems.append(f"{path}:{ln}:{c}: empty")
        try:
            value = float(row["value"])
        except ValueError:
            problems.append(f"{path}:{ln}:value: not a number: {row['value']!r}")
            value = math.nan
        try:
            parse(row["unit"])
        except UnitMismatch as exc:
            problems.append(f"{path}:{ln}:unit: {exc}")
        dates = {}
        for c in ("applies_from", "applies_to"):
            try:
                dates[c] = dt.date.fromisoformat(row[c])
            except ValueError:
                problems.append(f"{path}:{ln}:{c}: not a date YYYY-MM-DD: {row[c]!r}")
        if len(row.get("evidence_sha256", "")) != 64 or any(ch not in "0123456789abcdef" for ch in row["evidence_sha256"]):
            problems.append(f"{path}:{ln}:evidence_sha256: not a 64-hex SHA-256")
        if len(problems) == n:
            out.append(MeasuredFactor(row["factor_id"], value, row["unit"], dates["applies_from"],
                                      dates["applies_to"], row["lab"], row["report"], row["evidence_sha256"],
                                      row.get("notes", ""), str(path), ln))
    if problems:
        raise InventoryError(f"{len(problems)} problem(s) in measured factors:\n" + "\n".join(problems))
    return out
