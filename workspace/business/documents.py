"""The store of imported business files: one canonical JSON document per imported file under
``<data_dir>/activity/<source_sha256>.json`` (schema :data:`SCHEMA`), written atomically, and
:func:`load_activity`, every record of the documents that still count over a period.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from ..errors import TanjianError
from ..fsutil import write_atomic
from .contract import KINDS
from .records import records_frame

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

SCHEMA = "tanjian.activity/1"


def activity_dir(data_dir: str | os.PathLike) -> Path:
    """``<data_dir>/activity``: one JSON document per imported file."""
    return Path(data_dir) / "activity"


def canonical_json(doc: dict) -> bytes:
    """Sorted keys, no spaces, UTF-8, one trailing newline: the same document always gives the same bytes."""
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode() \
        + b"\n"


def write_document(data_dir: str | os.PathLike, doc: dict) -> Path:
    """Write an import document atomically (temporary file, fsync, rename, fsync of the folder).

    ``doc`` must carry ``schema`` = :data:`SCHEMA`, ``source_sha256`` and ``records``.
    """
    if doc.get("schema") != SCHEMA or not doc.get("source_sha256"):
        raise TanjianError(f"activity document: needs schema {SCHEMA!r} and source_sha256")
    target = activity_dir(data_dir) / f"{doc['source_sha256']}.json"
    write_atomic(target, canonical_json(doc), what="writing an import document")
    return target


def read_documents(data_dir: str | os.PathLike) -> list[dict]:
    """Every import document under ``<data_dir>/activity``, oldest import first.

    Raises
    ------
    TanjianError
        When a document is unreadable or of another schema (naming the file).
    """
    out = []
    folder = activity_dir(data_dir)
    if not folder.is_dir():
        return out
    for p in sorted(folder.glob("*.json")):
        try:
            doc = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise TanjianError(f"{p}: unreadable activity document ({exc}); restore it from the evidence "
                               f"store by importing the file again") from None
        if doc.get("schema") != SCHEMA:
            raise TanjianError(f"{p}: schema {doc.get('schema')!r}, expected {SCHEMA!r}")
        out.append(doc)
    out.sort(key=lambda d: (d.get("time", ""), d["source_sha256"]))
    return out


def _iso_day(v: Any, what: str) -> str:
    """``yyyy-mm-dd`` of a date, a datetime or pandas Timestamp (its calendar day), or an ISO string."""
    if isinstance(v, dt.datetime):  # also pandas.Timestamp
        return v.date().isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    try:
        return dt.date.fromisoformat(str(v)[:10]).isoformat()
    except ValueError:
        raise TanjianError(f"load_activity: {what} {v!r} is not a date (yyyy-mm-dd)") from None


def load_activity(data_dir: str | os.PathLike, start: dt.date | str | None = None,
                  end: dt.date | str | None = None, kinds: Iterable[str] | None = None) -> "pd.DataFrame":
    """All imported activity records overlapping a period.

    Parameters
    ----------
    data_dir : path
        The workspace's data folder (``paths.data_dir``).
    start, end : date or ISO str, optional
        Inclusive local calendar dates; a record is returned when its period overlaps [start, end].
    kinds : iterable of str, optional
        Only these kinds (:data:`KINDS`).

    Returns
    -------
    pandas.DataFrame
        Columns exactly :data:`COLUMNS`; ``period_start``/``period_end`` are ISO ``yyyy-mm-dd`` strings.

    Notes
    -----
    A re-issued (corrected) file is imported as a new document with ``supersedes: <sha256 of the old
    file>``; the records of a superseded document are left out, so only the newest issue counts (also
    along a chain of re-issues).
    """
    if kinds is not None:
        kinds = set(kinds)
        unknown = kinds - set(KINDS)
        if unknown:
            raise TanjianError(f"load_activity: unknown kind(s) {sorted(unknown)} (one of {', '.join(KINDS)})")
    lo = _iso_day(start, "start") if start is not None else None
    hi = _iso_day(end, "end") if end is not None else None
    docs = read_documents(data_dir)
    superseded = {d.get("supersedes") for d in docs if d.get("supersedes")}
    rows = []
    for d in docs:
        if d["source_sha256"] in superseded:
            continue
        for r in d["records"]:
            if kinds is not None and r["kind"] not in kinds:
                continue
            if lo is not None and r["period_end"] < lo:
                continue
            if hi is not None and r["period_start"] > hi:
                continue
            rows.append(r)
    return records_frame(rows)
