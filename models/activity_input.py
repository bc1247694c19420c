"""Minimal reader of activity-data files for the accounting core.

Stand-in for ``workspace.activity`` (branch feat/imports), with the same column contract, so
the two can be swapped: :func:`read_activity_file` and :func:`load_activity` have the same
signatures. When ``workspace.activity`` is present, :func:`read_activity_file` here still
validates with the rules below; the inventory only relies on the columns.

Columns
-------
``kind``
    production | electricity_statement | fuel | welding_gas | refrigerant | sf6 | heat | financial,
    and, added for the inventory (say so to feat/imports): ``green_power`` (MWh bought under a green
    power contract), ``gec`` (green electricity certificates retired for the period, 1 GEC = 1 MWh),
    ``offset`` (CCER or other credits retired, tCO2e).
``item``
    fuel: natural_gas, diesel, gasoline, lpg; welding_gas: co2, ar_co2, argon; refrigerant/sf6: gas id
    (sf6, hfc_134a, hfc_32, hfc_125, hfc_410a, cf4, c2f6, nf3); electricity_statement:
    sharp | peak | flat | valley | total; production: product id; heat: steam | hot_water;
    offset: ccer | other.
``period_start``, ``period_end``
    Local dates (YYYY-MM-DD), inclusive.
``quantity``, ``unit``
    Number and its unit (pint spelling, see :mod:`models.units`).
optional
    ``workshop``, ``device``, ``shift``, ``team``, ``co2_share`` (mass fraction 0..1),
    ``movement`` (purchased | opening_stock | closing_stock | sold | used | recovered; default
    purchased), ``use`` (refrigerant/sf6: ``product`` = charged into products made, ``equipment`` =
    the plant's own switchgear/chillers, the default; fuel: ``stationary`` or ``mobile``, default
    mobile for diesel and gasoline, stationary otherwise), ``source_file``,
    ``source_sha256``, ``row``, ``note``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from pathlib import Path

import pandas as pd

from models.units import UnitMismatch, parse
from workspace.errors import TanjianError

__all__ = ["ActivityFileError", "COLUMNS", "KINDS", "MOVEMENTS", "load_activity", "read_activity_file",
           "validate_activity"]

KINDS = ("production", "electricity_statement", "fuel", "welding_gas", "refrigerant", "sf6", "heat",
         "financial", "green_power", "gec", "offset")
USES = ("equipment", "product", "stationary", "mobile")
MOVEMENTS = ("purchased", "opening_stock", "closing_stock", "sold", "used", "recovered")
REQUIRED = ("kind", "item", "period_start", "period_end", "quantity", "unit")
OPTIONAL = ("workshop", "device", "shift", "team", "co2_share", "movement", "use", "source_file",
            "source_sha256", "row", "note")
COLUMNS = REQUIRED + OPTIONAL

#: kind -> units whose dimension its quantity may have (checked with pint); absent = any (production counts).
_DIMENSION = {
    "electricity_statement": ("MWh",), "green_power": ("MWh",), "gec": ("MWh",), "heat": ("GJ",),
    "welding_gas": ("kg",), "refrigerant": ("kg",), "sf6": ("kg",), "offset": ("tCO2e",),
    "fuel": ("kg", "Nm3", "GJ"),
}
_HINT = {"heat": "; steam in t: convert to GJ with the guideline's AD = Ma x (En - 83.74) x 1e-3 "
                 "(En: enthalpy [kJ/kg] at the steam's temperature and pressure) and give GJ"}


class ActivityFileError(TanjianError):
    """An activity file (or frame) has bad rows; nothing is computed from it.

    ``problems`` holds ``(file, row, field, message)``; ``row`` is the 1-based line of the file
    (the header is line 1).
    """

    def __init__(self, problems: list[tuple[str, int | None, str, str]]):
        self.problems = problems
        text = "\n".join(f"{f}:{r if r is not None else '?'}:{c}: {m}" for f, r, c, m in problems)
        super().__init__(f"{len(problems)} problem(s) in activity data, nothing computed:\n{text}")


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


def validate_activity(df: pd.DataFrame, file: str = "<frame>") -> pd.DataFrame:
    """Check an activity frame against the column contract and normalise it.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per record. ``source_file``/``row`` columns, when present, are used in messages.
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
        Listing every bad row as file:row:field.
    """
    problems: list[tuple[str, int | None, str, str]] = []
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise ActivityFileError([(file, 1, c, "column missing") for c in missing])
    out = df.copy()
    for c in OPTIONAL:
        if c not in out.columns:
            out[c] = None
    out = out[list(COLUMNS)].astype(object)
    starts, ends, qty, shares, moves, uses, rows, files = [], [], [], [], [], [], [], []
    for i, rec in enumerate(out.to_dict("records")):
        f = rec["source_file"] if not _blank(rec["source_file"]) else file
        r = int(rec["row"]) if not _blank(rec["row"]) else i + 2
        files.append(f)
        rows.append(r)

        def bad(field, msg, f=f, r=r):
            problems.append((f, r, field, msg))

        for c in REQUIRED:
            if _blank(rec[c]):
                bad(c, "empty")
        kind = str(rec["kind"]).strip() if not _blank(rec["kind"]) else ""
        if kind and kind not in KINDS:
            bad("kind", f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
        d = {}
        for c in ("period_start", "period_end"):
            v = rec[c]
            if _blank(v):
                d[c] = None
                continue
            try:
                d[c] = v if isinstance(v, dt.date) and not isinstance(v, dt.datetime) else (
                    v.date() if isinstance(v, (dt.datetime, pd.Timestamp)) else dt.date.fromisoformat(str(v).strip()))
            except ValueError:
                bad(c, f"not a date YYYY-MM-DD: {v!r}")
                d[c] = None
        if d["period_start"] and d["period_end"] and d["period_end"] < d["period_start"]:
            bad("period_end", f"{d['period_end']} is before period_start {d['period_start']}")
        q = math.nan
        if not _blank(rec["quantity"]):
            try:
                q = float(str(rec["quantity"]).replace(",", ""))
                if not math.isfinite(q):
                    raise ValueError
            except ValueError:
                bad("quantity", f"not a number: {rec['quantity']!r}")
                q = math.nan
            else:
                if q < 0:
                    bad("quantity", f"negative quantity {q}; give stock movements with 'movement'")
        if not _blank(rec["unit"]) and kind not in ("production", "financial"):
            # production counts and money are not computed with: their units are not checked here
            try:
                u = parse(str(rec["unit"]))
                want = _DIMENSION.get(kind)
                if want is not None and all(u.dimensionality != parse(w).dimensionality for w in want):
                    bad("unit", f"{rec['unit']!r} is not a unit of {' or '.join(want)} (kind {kind})"
                                f"{_HINT.get(kind, '')}")
            except UnitMismatch as exc:
                bad("unit", str(exc))
        share = math.nan
        if not _blank(rec["co2_share"]):
            try:
                share = float(rec["co2_share"])
                if not 0 <= share <= 1:
                    raise ValueError
            except ValueError:
                bad("co2_share", f"must be a mass fraction between 0 and 1, not {rec['co2_share']!r}")
        move = "purchased" if _blank(rec["movement"]) else str(rec["movement"]).strip()
        if move not in MOVEMENTS:
            bad("movement", f"unknown movement {move!r}; expected one of {', '.join(MOVEMENTS)}")
        use = "equipment" if _blank(rec["use"]) else str(rec["use"]).strip()
        if use not in USES:
            bad("use", f"must be one of {', '.join(USES)}, not {use!r}")
        starts.append(d["period_start"])
        ends.append(d["period_end"])
        qty.append(q)
        shares.append(share)
        moves.append(move)
        uses.append(use)
    if problems:
        raise ActivityFileError(problems)
    out["period_start"], out["period_end"] = starts, ends
    out["quantity"] = pd.Series(qty, index=out.index, dtype=float)
    out["co2_share"] = pd.Series(shares, index=out.index, dtype=float)
    out["movement"], out["use"], out["row"], out["source_file"] = moves, uses, rows, files
    for c in ("kind", "item", "unit", "workshop", "device"):
        out[c] = [None if _blank(v) else str(v).strip() for v in out[c]]
    return out


def read_activity_file(path: str | Path) -> pd.DataFrame:
    """Read and validate one activity file (CSV, UTF-8; or XLSX, first sheet).

    Returns
    -------
    pandas.DataFrame
        As :func:`validate_activity`; ``source_file`` = the path, ``source_sha256`` = the file's
        SHA-256, ``row`` = the line in the file.

    Raises
    ------
    ActivityFileError
        If the file cannot be read or has bad rows (each named file:row:field).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            df = pd.read_excel(path, dtype=str)
        else:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, comment=None, encoding="utf-8")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ActivityFileError([(str(path), None, "*", f"cannot read: {exc}")]) from exc
    df.columns = [str(c).strip() for c in df.columns]
    df["source_file"] = str(path)
    df["row"] = range(2, len(df) + 2)
    df["source_sha256"] = hashlib.sha256(data).hexdigest()
    return validate_activity(df, str(path))


def load_activity(data_dir: str | Path, start: dt.date, end: dt.date,
                  kinds: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Every record of ``<data_dir>/activity/*.csv|xlsx`` overlapping [start, end] (inclusive dates).

    Raises
    ------
    ActivityFileError
        If any file has bad rows (all files are checked before anything is returned).
    """
    folder = Path(data_dir) / "activity"
    frames, problems = [], []
    for p in sorted(folder.glob("*")) if folder.is_dir() else []:
        if p.suffix.lower() not in (".csv", ".xlsx"):
            continue
        try:
            frames.append(read_activity_file(p))
        except ActivityFileError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ActivityFileError(problems)
    if not frames:
        return validate_activity(pd.DataFrame(columns=list(REQUIRED)))
    df = pd.concat(frames, ignore_index=True)
    keep = (df["period_end"] >= start) & (df["period_start"] <= end)
    if kinds is not None:
        keep &= df["kind"].isin(kinds)
    return df[keep].reset_index(drop=True)
