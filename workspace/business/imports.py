"""Importing business files (ERP output, electricity bills, fuel and gas invoices, financial figures).

:func:`import_file` reads a CSV/XLSX with a configured mapping (``imports:`` in ``tanjian.yaml``) into
activity records (:mod:`workspace.business.records`) and keeps three things:

1. the file's bytes in the evidence store, by their SHA-256 (:class:`workspace.evidence.EvidenceStore`);
2. a ``document`` request in the inbox, so the collector puts the hash into the ledger
   (:func:`workspace.inbox.submit`);
3. the records as one canonical JSON document ``<data_dir>/activity/<sha256>.json``, written last and
   atomically: a crash before it leaves nothing imported (a retry repeats 1 and 2 harmlessly).

A file with any bad row is refused whole, listing every problem as ``file:row:column: message``, unless
the caller accepts the good rows (the document then lists the rejected ones). The same bytes imported
again change nothing; :func:`list_imports` lists what was imported.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import mimetypes
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import TanjianError
from . import documents
from .records import parse_bytes
from .sheets import ActivityFileError, format_problem

if TYPE_CHECKING:  # pragma: no cover
    from ..config import Config

log = logging.getLogger(__name__)

IMPORTER = "tanjian.imports/1"


@dataclass
class ImportResult:
    """What an import did: ``status`` is ``imported`` or ``already`` (the same bytes were imported before)."""

    status: str
    sha256: str
    document: Path
    records: int
    rejected: list[str] = field(default_factory=list)
    imported_at: str | None = None
    author: str | None = None
    #: files already imported (not superseded) that hold records identical to some of this file's
    overlaps: dict[str, int] = field(default_factory=dict)


def _media_type(path: Path) -> str:
    if path.suffix.lower() == ".xlsx":
        return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return mimetypes.guess_type(path.name)[0] or "text/csv"


def import_file(cfg: "Config", path, mapping: str, *, author: str, reason: str | None = None,
                accept_good_rows: bool = False, supersedes: str | None = None) -> ImportResult:
    """Import one business file.

    Parameters
    ----------
    cfg : Config
        The workspace configuration (its ``imports`` mappings, site and data folder).
    path : path
        The CSV or XLSX file.
    mapping : str
        Name of the mapping in ``cfg.imports``.
    author : str
        Who imports (kept in the document, the evidence sidecar and the ledger request).
    reason : str, optional
        Why (default: ``import of <file> with mapping <name>``).
    accept_good_rows : bool
        Import the good rows of a file that has bad ones (the document lists the rejected rows).
    supersedes : str, optional
        SHA-256 of an imported file this one re-issues (a corrected invoice); its records stop counting.

    Returns
    -------
    ImportResult

    Raises
    ------
    ActivityFileError
        When the file has problems (and ``accept_good_rows`` is false, or no row is good): nothing is kept.
    TanjianError
        Unknown mapping or superseded document.
    """
    from ..evidence import EvidenceStore
    from ..inbox import submit

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ActivityFileError([(path.name, None, "(file)", f"cannot read: {exc.strerror or exc}")]) from None
    sha = hashlib.sha256(data).hexdigest()
    target = documents.activity_dir(cfg.paths.data_dir) / f"{sha}.json"
    if target.exists():
        import json

        doc = json.loads(target.read_text(encoding="utf-8"))
        log.info("%s (%s) was already imported on %s by %s: nothing changed", path.name, sha[:12],
                 doc.get("time"), doc.get("author"))
        return ImportResult("already", sha, target, len(doc["records"]), doc.get("rejected", []),
                            doc.get("time"), doc.get("author"))
    if mapping not in cfg.imports:
        known = ", ".join(sorted(cfg.imports)) or "none (add an imports: section to the configuration)"
        raise TanjianError(f"no import mapping {mapping!r} in {cfg.source}; mappings: {known}")
    m = cfg.imports[mapping]
    if isinstance(m, dict):  # a configuration built in code
        from .mapping import ImportMapping

        m = ImportMapping.model_validate(m)
    if supersedes is not None:
        supersedes = supersedes.lower()
        docs = {d["source_sha256"] for d in documents.read_documents(cfg.paths.data_dir)}
        hits = [d for d in docs if d.startswith(supersedes)] if len(supersedes) >= 8 else []
        if len(hits) != 1:
            raise TanjianError(f"--supersedes {supersedes}: {'no' if not hits else 'more than one'} imported "
                               f"file has that hash (see `tanjian import list`)")
        supersedes = hits[0]
    records, problems = parse_bytes(path, data, m, site=cfg.site)
    if problems and (not accept_good_rows or not records):
        raise ActivityFileError(problems, records)
    rejected = [format_problem(p) for p in problems]
    overlaps = _overlaps(cfg.paths.data_dir, records, exclude=supersedes)
    reason = reason or f"import of {path.name} with mapping {mapping}"
    ev = EvidenceStore(cfg.paths.evidence).put(data, name=path.name, media_type=_media_type(path),
                                               author=author, reason=reason)
    submit(cfg.paths.inbox, {"kind": "document", "author": author, "reason": reason, "name": path.name,
                             "sha256": ev.sha256, "size": len(data)})
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")  # also orders the imports
    doc = {"schema": documents.SCHEMA, "importer": IMPORTER, "author": author, "reason": reason, "time": now,
           "source_file": path.name, "source_sha256": sha, "size": len(data), "media_type": _media_type(path),
           "mapping_name": mapping, "mapping": m.model_dump(mode="json"),
           "accepted_good_rows": bool(problems), "rejected": rejected, "supersedes": supersedes,
           "records": records}
    written = documents.write_document(cfg.paths.data_dir, doc)
    log.info("imported %s (%s): %d record(s), %d row problem(s) left out; evidence %s, ledger request queued",
             path.name, sha[:12], len(records), len(problems), ev.path)
    if overlaps:
        log.warning("%s repeats records of %s: if it re-issues one of them, import it with --supersedes",
                    path.name, ", ".join(f"{f} ({n})" for f, n in overlaps.items()))
    return ImportResult("imported", sha, written, len(records), rejected, now, author, overlaps)


_SAME = ("kind", "item", "period_start", "period_end", "quantity", "unit", "workshop", "device", "shift",
         "team", "co2_share", "movement", "note")


def _overlaps(data_dir, records: list[dict], exclude: str | None = None) -> dict[str, int]:
    """Per imported file (neither superseded nor ``exclude``), how many of ``records`` it already holds
    identically."""
    new = {tuple(r[c] for c in _SAME) for r in records}
    docs = documents.read_documents(data_dir)
    superseded = {d.get("supersedes") for d in docs} | {exclude}
    out: dict[str, int] = {}
    for d in docs:
        if d["source_sha256"] in superseded:
            continue
        n = sum(1 for r in d["records"] if tuple(r.get(c) for c in _SAME) in new)
        if n:
            out[f"{d['source_file']} {d['source_sha256'][:12]}"] = n
    return out


def list_imports(data_dir) -> list[dict]:
    """One summary per imported file, oldest first: time, file, sha256, mapping, records, rejected rows,
    kinds, author, supersedes and superseded_by."""
    docs = documents.read_documents(data_dir)
    by_old = {d["supersedes"]: d["source_sha256"] for d in docs if d.get("supersedes")}
    return [{"time": d.get("time"), "file": d.get("source_file"), "sha256": d["source_sha256"],
             "mapping": d.get("mapping_name"), "records": len(d["records"]), "rejected": len(d.get("rejected", [])),
             "kinds": sorted({r["kind"] for r in d["records"]}), "author": d.get("author"),
             "supersedes": d.get("supersedes"), "superseded_by": by_old.get(d["source_sha256"])}
            for d in docs]
