"""Corrections and events waiting to be journaled.

Whoever edits data (a person at the CLI, a dashboard, an importer) does not hold the journal: the
collector does. They drop a request into the inbox (``<data_dir>/inbox``, one JSON file each,
written atomically and fsync'd); the collector journals each request as a batch with a ``note``
at its next cycle, and ``tanjian fold`` does the same when no collector runs (both through the
journal's keeper, :class:`workspace.keeper.Keeper`). A request is never applied to the store
directly, so it is ledgered, anchored and versioned like any reading.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
import uuid
from pathlib import Path

from .batch import Reading, encode_batch, format_time, parse_time
from .errors import TanjianError
from .fsutil import write_atomic
from .journal import Journal
from .quality import Q

log = logging.getLogger(__name__)

KINDS = ("correction", "meter_replaced", "document", "manual_reading")


def submit(inbox: str | os.PathLike, request: dict) -> Path:
    """Validate and store one request; returns its file.

    ``request`` is ``{"kind": "correction", "author", "reason", "readings": [{"meter", "time",
    "counter", ...}]}`` or ``{"kind": "meter_replaced", "author", "reason", "meter", "time",
    "old_final", "new_initial"}`` or ``{"kind": "document", "author", "reason", "name", "sha256",
    "size"}`` for a report or any file whose hash goes into the ledger, or ``{"kind": "manual_reading",
    "author" (the meter reader), "reason", "meter", "time", "counter", "photo_sha256", "device_time"
    (optional: the reader's device clock)}`` for a reading taken by hand, whose photo is in the evidence
    store (times ISO 8601 with a zone; see :mod:`workspace.business.manual`).
    """
    kind = request.get("kind")
    if kind not in KINDS:
        raise TanjianError(f"inbox request: kind must be one of {KINDS}, not {kind!r}")
    for key in ("author", "reason"):
        if not str(request.get(key) or "").strip():
            raise TanjianError(f"inbox request: a {kind} needs a non-empty {key!r}")
    if kind == "manual_reading":
        _manual_note(request)  # refuse a request the collector could not journal, now rather than later
    inbox = Path(inbox)
    inbox.mkdir(parents=True, exist_ok=True)
    path = inbox / f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.json"
    write_atomic(path, json.dumps(request, sort_keys=True).encode(), what="queueing a request")
    _audit(inbox.parent, request)  # the inbox is <data_dir>/inbox
    log.info("%s by %s queued in %s", kind, request["author"], path)
    return path


def _audit(data_dir: Path, req: dict) -> None:
    """One audit-trail entry for a request (not for the audit trail's own head, which would chase itself)."""
    from . import audit

    if str(req.get("name", "")).startswith(audit.HEAD_DOCUMENT):
        return
    what = {"correction": lambda: ", ".join(f"{r.get('meter')} {r.get('time')} = {r.get('counter')}"
                                            for r in req.get("readings", [])),
            "document": lambda: f"{req.get('name')} sha256 {req.get('sha256')}",
            "meter_replaced": lambda: f"{req.get('meter')} {req.get('time')} old final {req.get('old_final')} "
                                      f"new initial {req.get('new_initial')}",
            "manual_reading": lambda: f"{req.get('meter')} {req.get('time')} = {req.get('counter')} photo "
                                      f"{req.get('photo_sha256')}",
            }.get(req["kind"], lambda: f"{req.get('meter')} {req.get('time')}")()
    audit.record(data_dir, req["author"], req["kind"], what, req["reason"])


def _when(s: str):
    import datetime as dt

    try:
        t = dt.datetime.fromisoformat(str(s).replace("Z", "+00:00"))
    except ValueError:
        raise TanjianError(f"inbox request: time {s!r} is not ISO 8601") from None
    if t.tzinfo is None:
        raise TanjianError(f"inbox request: time {s!r} has no zone")
    return t


def _sha256_hex(value, field: str) -> str:
    digest = str(value).lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise TanjianError(f"inbox request: {field} {value!r} is not 64 hex digits")
    return digest


def _manual_note(req: dict) -> tuple[dict, Reading]:
    """The note and the reading of a ``manual_reading`` request (validated)."""
    for key in ("meter", "time", "counter", "photo_sha256"):
        if req.get(key) in (None, ""):
            raise TanjianError(f"inbox request: a manual_reading needs {key!r}")
    try:
        counter = float(req["counter"])
    except (TypeError, ValueError):
        raise TanjianError(f"inbox request: counter {req['counter']!r} is not a number") from None
    if not math.isfinite(counter) or counter < 0:
        raise TanjianError(f"inbox request: counter {req['counter']!r} must be a finite number >= 0")
    t = _when(req["time"])
    note = {"kind": "manual_reading", "author": req["author"], "reason": req["reason"],
            "meter": str(req["meter"]), "photo_sha256": _sha256_hex(req["photo_sha256"], "photo_sha256")}
    if req.get("device_time"):
        note["device_time"] = format_time(_when(req["device_time"]))
    if req.get("submitted_at"):
        note["submitted_at"] = format_time(_when(req["submitted_at"]))
    if req.get("confirmed_warnings"):
        note["confirmed_warnings"] = [str(c) for c in req["confirmed_warnings"]]
    return note, Reading(note["meter"], t, counter, quality=int(Q.MANUAL))


def _batch(plant: str, seq: int, req: dict) -> bytes:
    when = _when
    if req["kind"] == "manual_reading":
        note, reading = _manual_note(req)
        return encode_batch(plant, seq, "inbox:manual_reading", [reading], note)

    note = {"kind": req["kind"], "author": req["author"], "reason": req["reason"]}
    readings: list[Reading] = []
    if req["kind"] == "document":
        digest = _sha256_hex(req["sha256"], "sha256")
        note.update(name=str(req["name"]), sha256=digest, size=int(req["size"]))
    elif req["kind"] == "correction":
        for r in req["readings"]:
            readings.append(Reading(r["meter"], when(r["time"]), float(r["counter"]),
                                    float(r.get("rate", math.nan)), quality=int(Q.MANUAL)))
    else:
        note.update(meter=req["meter"], time=format_time(when(req["time"])),
                    old_final=float(req["old_final"]), new_initial=float(req["new_initial"]))
        parse_time(note["time"])
    return encode_batch(plant, seq, f"inbox:{req['kind']}", readings, note)


def document_request(path: str | os.PathLike, author: str, reason: str) -> dict:
    """The inbox request that puts a file's SHA-256 (a report, an invoice, a photo) into the ledger."""
    import hashlib

    path = Path(path)
    data = path.read_bytes()
    return {"kind": "document", "author": author, "reason": reason, "name": path.name,
            "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def drain(inbox: str | os.PathLike, journal: Journal, plant: str) -> int:
    """Journal every waiting request in the order they came; returns how many were journaled.

    A request that cannot be understood is moved to ``inbox/rejected`` with the reason logged;
    it never blocks the others.
    """
    inbox = Path(inbox)
    if not inbox.is_dir():
        return 0
    n = 0
    for path in sorted(inbox.glob("*.json")):
        try:
            req = json.loads(path.read_text())
            payload = _batch(plant, journal.next_seq, req)
        except (ValueError, KeyError, TypeError, TanjianError) as exc:
            bad = inbox / "rejected"
            bad.mkdir(exist_ok=True)
            os.replace(path, bad / path.name)
            log.error("inbox request %s rejected (%s: %s); moved to %s", path.name, type(exc).__name__, exc, bad)
            continue
        journal.append(payload)
        path.unlink()
        n += 1
    return n
