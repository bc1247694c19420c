"""Activity data for the accounting core: the inventory's side of the activity-record contract.

There is one activity-record contract, :mod:`workspace.business.contract` (columns, kinds, items, units,
movements, ``use``; see ``docs/imports.md``). Parsing and validation are done in :mod:`workspace.business`,
for business files imported by ``tanjian import`` and for desk-work files given to ``tanjian inventory
--activity`` alike. This module only adapts a validated frame to what :mod:`models.inventory` computes with:

- ``period_start``/``period_end`` become :class:`datetime.date` (the contract keeps ISO ``yyyy-mm-dd``
  strings);
- an empty ``use`` becomes ``equipment`` (for a fuel the inventory then decides stationary/mobile by the
  item: mobile for diesel and gasoline, stationary otherwise);
- it refuses, as ``file:row:unit``, the units the contract accepts but the inventory cannot compute with:
  purchased heat must be given as energy (steam in t must first be converted to GJ) and welding gas as mass;
- problems of a desk file name the file as the caller gave its path, and say that nothing was computed.

Public names kept for :mod:`models.inventory` and :mod:`tanjian.commands.inventory`: :class:`ActivityFileError`,
:data:`COLUMNS`, :data:`KINDS`, :data:`MOVEMENTS`, :data:`USES`, :func:`validate_activity`,
:func:`read_activity_file`, :func:`load_activity`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from workspace.business import contract, documents
from workspace.business import records as parsing
from workspace.business.sheets import ActivityFileError as ContractFileError
from workspace.units import pint_unit

__all__ = ["ActivityFileError", "COLUMNS", "KINDS", "MOVEMENTS", "USES", "load_activity", "read_activity_file",
           "read_activity_files", "validate_activity"]

COLUMNS, KINDS, MOVEMENTS, USES, REQUIRED = (contract.COLUMNS, contract.KINDS, contract.MOVEMENTS, contract.USES,
                                             contract.REQUIRED)

#: kind -> (the unit whose dimension the inventory computes the kind in, a hint for the message)
_COMPUTED_IN = {
    "heat": ("GJ", "; steam in t: convert to GJ with the guideline's AD = Ma x (En - 83.74) x 1e-3 "
                   "(En: enthalpy [kJ/kg] at the steam's temperature and pressure) and give GJ"),
    "welding_gas": ("kg", "; give the cylinders' gas mass (the stock balance is in kg)"),
}


class ActivityFileError(ContractFileError):
    """Activity data with problems; nothing is computed from it.

    ``problems`` holds ``(file, row, field, message)``; ``row`` is the 1-based row of the file as a
    spreadsheet shows it (the header is row 1). A :class:`workspace.business.sheets.ActivityFileError` too.
    """

    def __init__(self, problems, records=None, *, outcome: str = "nothing computed"):
        super().__init__(problems, records, outcome=outcome)


def _blank(v) -> bool:
    """None, NaN, pandas NA or an empty/blank string."""
    if v is None:
        return True
    if isinstance(v, str):
        return not v.strip()
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _for_inventory(df: pd.DataFrame) -> pd.DataFrame:
    """A frame of valid contract records (:func:`workspace.business.records.records_frame`) in the inventory's
    form.

    Raises
    ------
    ActivityFileError
        For units the inventory cannot compute with (see :data:`_COMPUTED_IN`), every row named.
    """
    problems = []
    for r in df.itertuples(index=False):
        want = _COMPUTED_IN.get(r.kind)
        if want is not None and (pint_unit(r.unit).dimensionality
                                 != pint_unit(want[0]).dimensionality):
            problems.append((str(r.source_file), None if _blank(r.row) else int(r.row), "unit",
                             f"{r.unit!r} is not a unit of {want[0]} (kind {r.kind}): the inventory computes "
                             f"{r.kind} in {want[0]}{want[1]}"))
    if problems:
        raise ActivityFileError(problems)
    out = df.copy()
    out["period_start"] = [dt.date.fromisoformat(v) for v in out["period_start"]]
    out["period_end"] = [dt.date.fromisoformat(v) for v in out["period_end"]]
    out["use"] = ["equipment" if _blank(v) else v for v in out["use"]]
    return out


def validate_activity(df: pd.DataFrame, file: str = "<frame>") -> pd.DataFrame:
    """Check an activity frame against the contract and put it in the inventory's form.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per record, columns named as :data:`COLUMNS` (dates as ``date``, datetime or ISO text;
        quantities as numbers or text). ``source_file``/``row`` columns, when present, are used in messages.
    file : str
        Name for messages when rows carry no ``source_file``.

    Returns
    -------
    pandas.DataFrame
        All :data:`COLUMNS`; dates as :class:`datetime.date`, ``quantity`` and ``co2_share`` float,
        ``movement`` defaulted to ``purchased``, ``use`` to ``equipment``.

    Raises
    ------
    ActivityFileError
        Listing every problem as file:row:field.
    """
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise ActivityFileError([(file, 1, c, "column missing") for c in missing])
    header = [c for c in df.columns if c in contract.MAPPABLE]
    layout = parsing.Layout.desk()
    records, problems = [], []
    for i, rec in enumerate(df.to_dict("records")):
        name = file if _blank(rec.get("source_file")) else str(rec["source_file"])
        rownum = i + 2 if _blank(rec.get("row")) else int(rec["row"])
        sha = "" if _blank(rec.get("source_sha256")) else str(rec["source_sha256"])
        cells = [None if _blank(rec[c]) else rec[c] for c in header]
        recs, probs = parsing.parse_row(name, rownum, header, cells, layout, sha)
        records += recs
        problems += probs
    if problems:
        raise ActivityFileError(problems)
    return _for_inventory(parsing.records_frame(records))


def read_activity_file(path: str | Path) -> pd.DataFrame:
    """Read and validate one desk-work activity file (CSV or XLSX whose header names the record's columns).

    Returns
    -------
    pandas.DataFrame
        As :func:`validate_activity`; ``source_file`` = the path as given, ``source_sha256`` = the file's
        SHA-256, ``row`` = the row in the file.

    Raises
    ------
    ActivityFileError
        If the file cannot be read or has problems (each named path:row:field).
    """
    path = Path(path)
    try:
        df = parsing.read_activity_file(path)
    except ContractFileError as exc:
        raise ActivityFileError([(str(path) if f == path.name else f, r, c, m) for f, r, c, m in exc.problems]) \
            from None
    df["source_file"] = str(path)
    return _for_inventory(df)



def read_activity_files(files) -> pd.DataFrame | None:
    """Several desk-work activity files as one frame, all checked before anything is computed: every bad row
    of every file is named (file:row:field) in one :class:`ActivityFileError`. None when no file is given."""
    if not files:
        return None
    frames, problems = [], []
    for f in files:
        try:
            frames.append(read_activity_file(f))
        except ActivityFileError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ActivityFileError(problems)
    return pd.concat(frames, ignore_index=True)

def load_activity(data_dir: str | Path, start: dt.date, end: dt.date,
                  kinds: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Every record imported by ``tanjian import`` (:func:`workspace.business.documents.load_activity`) whose
    period overlaps [start, end] (inclusive local dates), superseded files left out, in the inventory's form.

    Raises
    ------
    ActivityFileError
        If an imported record has a unit the inventory cannot compute with.
    """
    return _for_inventory(documents.load_activity(data_dir, start, end, kinds=kinds))
