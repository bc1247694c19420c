"""Importing business files (ERP output, electricity bills, fuel and gas invoices, financial figures).

:func:`import_file` reads a CSV/XLSX with a configured mapping (``imports:`` in ``tanjian.yaml``) into
activity records (:mod:`workspace.business.records`) and keeps three things:

1. the file's bytes in the evidence store, by their SHA-256 (:class:`workspace.evidence.EvidenceStore`);
2. a ``document`` request in the inbox, so the collector puts the hash into the ledger
   (:func:`workspace.inbox.submit`);
3. the records as one canonical JSON document ``<data_dir>/activity/<sha256>.json``, written last and
   atomically: a crash before it leaves nothing imported (a retry repeats 1 and 2 harmlessly).

A file with any bad row is refused whole, listing every problem as ``file:row:column: message``, unless
the caller accepts the good rows (the document then lists the rejected ones). A file with headers only,
an XLSX formula without a saved value, or a settlement statement whose total disagrees with its
time-of-use parts (:mod:`workspace.business.statements`) is refused the same way.

Imports are deduplicated by record identity, not by bytes: a record is the same as one imported before
when all the fields of :data:`IDENTITY` are equal (what it counts, when, where, how much; not its note,
file or row). A re-export of a file (another encoding, a trailing newline, columns reordered) reports its
rows as already imported, each with the file and row that holds it, and imports nothing new; a file that
adds rows to an imported one imports the new rows only. Each imported record matches at most one new
one, so a file that repeats a record twice over one import keeps the second. A file that re-issues an
imported one (a corrected invoice) names it with ``supersedes``; records genuinely repeated (two equal
deliveries in one period, on two files) are kept with ``keep_repeated``. The same bytes imported again
change nothing; :func:`list_imports` lists what was imported.
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
    #: files already imported (not superseded) holding records of this file: how many (left out)
    overlaps: dict[str, int] = field(default_factory=dict)
    #: this file's records left out as already imported: ``file:row: already imported from FILE row N``
    repeated: list[str] = field(default_factory=list)


def _media_type(path: Path) -> str:
    if path.suffix.lower() == ".xlsx":
        return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return mimetypes.guess_type(path.name)[0] or "text/csv"


def import_file(cfg: "Config", path, mapping: str, *, author: str, reason: str | None = None,
                accept_good_rows: bool = False, supersedes: str | None = None,
                keep_repeated: bool = False) -> ImportResult:
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
    keep_repeated : bool
        Import records identical (:data:`IDENTITY`) to records imported before, instead of leaving them
        out as already imported.

    Returns
    -------
    ImportResult
        ``status`` ``already`` (the same bytes, or every record already imported: nothing changed),
        else ``imported``; ``repeated`` lists the rows left out as already imported.

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
    overlaps: dict[str, int] = {}
    repeated: list[str] = []
    if not keep_repeated:
        records, repeated, overlaps = _new_records(cfg.paths.data_dir, path.name, records, exclude=supersedes)
        if not records:
            log.info("%s: every record was imported before: nothing changed", path.name)
            return ImportResult("already", sha, target, 0, rejected, None, None, overlaps, repeated)
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
    if repeated:
        log.info("%s: %d record(s) left out as imported before", path.name, len(repeated))
    return ImportResult("imported", sha, written, len(records), rejected, now, author, overlaps, repeated)


#: the fields that make a record the same as another: what it counts (kind, item, movement), when
#: (period_start, period_end), where (workshop, device, shift, team) and how much (quantity, unit,
#: co2_share). Not the note (free text an export may change), nor its file, hash or row.
IDENTITY = ("kind", "item", "period_start", "period_end", "workshop", "device", "shift", "team", "movement",
            "quantity", "unit", "co2_share")


def identity(record: dict) -> tuple:
    """The record's identity: its :data:`IDENTITY` fields."""
    return tuple(record.get(c) for c in IDENTITY)


def _new_records(data_dir, name: str, records: list[dict], exclude: str | None = None
                 ) -> tuple[list[dict], list[str], dict[str, int]]:
    """``records`` without those imported before (in files neither superseded nor ``exclude``), each
    imported record matching at most one; the left-out ones as ``name:row: ...`` lines; per earlier file,
    how many it held."""
    docs = documents.read_documents(data_dir)
    superseded = {d.get("supersedes") for d in docs} | {exclude}
    held: dict[tuple, list[tuple[dict, dict]]] = {}
    for d in docs:
        if d["source_sha256"] not in superseded:
            for r in d["records"]:
                held.setdefault(identity(r), []).append((d, r))
    new, repeated, overlaps = [], [], {}
    for r in records:
        hits = held.get(identity(r))
        if not hits:
            new.append(r)
            continue
        d, old = hits.pop(0)
        key = f"{d['source_file']} {d['source_sha256'][:12]}"
        overlaps[key] = overlaps.get(key, 0) + 1
        repeated.append(f"{name}:{r.get('row')}: {r['kind']} {r['item']} {r['quantity']:g} {r['unit']} "
                        f"{r['period_start']}..{r['period_end']}: already imported from {d['source_file']} "
                        f"row {old.get('row')} (sha256 {d['source_sha256'][:12]})")
    return new, repeated, overlaps


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
