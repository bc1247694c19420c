"""The audit trail: who did what, when and why, append-only and hash-chained.

One file, ``<data_dir>/audit/trail.jsonl``, one entry a line, each line the canonical JSON (sorted keys, no
spaces, UTF-8) of::

    {"n": 7, "time": "2026-12-05T03:20:11.412Z", "user": "li.wei", "action": "correction",
     "what": "meter M-101 2026-12-01T08:00:00+08:00", "reason": "meter misread",
     "digests": {"action": "…", "reason": "…", "time": "…", "user": "…", "what": "…"},
     "prev": "<hash of entry 6>", "hash": "<SHA-256 of this line without its hash>"}

``prev`` of entry 0 is 64 zeros. ``hash`` is SHA-256 over the canonical JSON of the entry without ``hash``;
``digests`` holds the first 16 hex digits of the SHA-256 of each field's canonical JSON, so that an edit is
named by its field (the entry's hash, which covers the digests, is what makes the trail tamper-evident; the
digests only say where). An entry whose fields were edited and whose digests and hash were recomputed
breaks the link to the next entry; a trail rewritten from that point on no longer matches the head anchored
with the ledger (:func:`head_request` puts the head into the ledger as a ``document`` request, the anchoring
loop then anchors it with the plant's batches).

Writers (the CLI, the dashboards' server, the collector) append under an exclusive ``flock`` of the file,
so two processes never write the same ``n``.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .business.documents import canonical_json
from .errors import TanjianError

FILE_NAME = "trail.jsonl"
FIELDS = ("time", "user", "action", "what", "reason")
GENESIS = "0" * 64
DIGEST_HEX = 16
#: the ``name`` of the ledger documents that carry an audit head (``audit-head-<n>``)
HEAD_DOCUMENT = "audit-head-"

#: the actions recorded today (a new one is added here, so the list stays the one place to look)
ACTIONS = ("login", "login_failed", "logout", "locked_out", "user_add", "user_passwd", "user_role",
           "user_disable", "user_enable", "correction", "meter_replaced", "document", "manual_reading",
           "import", "quota_set", "methodology_publish", "factor_change", "report_issue",
           "alarm_ack", "backup", "restore", "key_rotate", "alarm_shelve", "alarm_unshelve",
           "methodology_sync")
ACTIONS += ("user_oidc", "source_locked_out")  # an account's OpenID link; an address locked out (login_limit)


class AuditError(TanjianError):
    """The audit trail cannot be written, or it does not verify (``problem`` names entry and field)."""


def trail_dir(data_dir: str | os.PathLike) -> Path:
    """``<data_dir>/audit``."""
    return Path(data_dir) / "audit"


def trail_path(data_dir: str | os.PathLike) -> Path:
    return trail_dir(data_dir) / FILE_NAME


def canonical(obj) -> bytes:
    """Sorted keys, no spaces, UTF-8 (no trailing newline): the same entry always gives the same bytes."""
    return canonical_json(obj)[:-1]


def field_digest(value) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()[:DIGEST_HEX]


def entry_hash(entry: dict) -> str:
    """SHA-256 [hex] of the canonical JSON of ``entry`` without its ``hash``."""
    return hashlib.sha256(canonical({k: v for k, v in entry.items() if k != "hash"})).hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _last_line(f) -> bytes:
    """The last complete line of the open file ``f`` (b"" when empty); a torn last line is cut off."""
    f.seek(0, os.SEEK_END)
    end = f.tell()
    if not end:
        return b""
    f.seek(0)
    data = f.read()
    keep = data.rfind(b"\n") + 1
    if keep < end:  # a line torn by a crash: it was never acknowledged to its writer
        f.truncate(keep)
        data = data[:keep]
    start = data.rfind(b"\n", 0, len(data) - 1) + 1
    return data[start:].rstrip(b"\n")


def record(data_dir: str | os.PathLike, user: str, action: str, what: str, reason: str = "",
           *, time: str | None = None) -> dict:
    """Append one entry to the trail of ``data_dir`` and return it (fsync'd before returning).

    Parameters
    ----------
    data_dir : path
        The workspace's ``paths.data_dir``.
    user : str
        Who acted (an account name, a login name, or the process for automatic entries).
    action : str
        One of :data:`ACTIONS`.
    what : str
        What was acted on (a meter and time, a file and its hash, an account, ...).
    reason : str
        Why, as the person gave it ("" for logins).
    """
    if action not in ACTIONS:
        raise AuditError(f"audit: unknown action {action!r} (known: {', '.join(ACTIONS)})")
    if not str(user).strip():
        raise AuditError(f"audit: a {action} entry needs a user")
    path = trail_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = {"time": time or _now(), "user": str(user), "action": action, "what": str(what),
              "reason": str(reason or "")}
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o640)
    with os.fdopen(fd, "r+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            last = _last_line(f)
            if last:
                prev = json.loads(last)
                n, prev_hash = prev["n"] + 1, prev["hash"]
            else:
                n, prev_hash = 0, GENESIS
            entry = {"n": n, **fields, "digests": {k: field_digest(v) for k, v in fields.items()},
                     "prev": prev_hash}
            entry["hash"] = entry_hash(entry)
            f.write(canonical(entry) + b"\n")
            f.flush()
            os.fsync(f.fileno())
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
    return entry


def entries(data_dir: str | os.PathLike) -> Iterator[tuple[int, dict]]:
    """``(line number, entry)`` of every line of the trail, in file order (nothing checked but JSON)."""
    path = trail_path(data_dir)
    if not path.exists():
        return
    with open(path, "rb") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                e = json.loads(line)
            except json.JSONDecodeError:
                raise AuditError(f"{path}:{line_no}: not a JSON audit entry") from None
            if not isinstance(e, dict):
                raise AuditError(f"{path}:{line_no}: not a JSON object")
            yield line_no, e


@dataclass(frozen=True)
class Head:
    """The newest entry's number and hash (``n == -1`` for an empty trail)."""

    n: int
    hash: str

    @property
    def size(self) -> int:
        return self.n + 1


def head(data_dir: str | os.PathLike) -> Head:
    """The trail's head as written (not verified: see :func:`verify`)."""
    last = None
    for _, e in entries(data_dir):
        last = e
    return Head(-1, GENESIS) if last is None else Head(int(last["n"]), str(last["hash"]))


def verify(data_dir: str | os.PathLike, anchored: dict[int, str] | None = None) -> Head:
    """Check every entry and link of the trail; return its head.

    Parameters
    ----------
    anchored : dict, optional
        ``{n: hash}`` heads recorded in the ledger (:func:`anchored_heads`); each must match entry ``n``.

    Raises
    ------
    AuditError
        On the first problem, naming the entry (its ``n`` and line) and the field: an edited field, an edited
        hash, a removed or reordered entry, a broken link, a head that differs from the anchored one.
    """
    path = trail_path(data_dir)
    prev_hash = GENESIS
    expected = 0
    hashes: dict[int, str] = {}
    for line_no, e in entries(data_dir):
        where = f"{path}:{line_no}: entry {expected}"
        missing = [k for k in ("n", *FIELDS, "digests", "prev", "hash") if k not in e]
        if missing:
            raise AuditError(f"{where}: field {missing[0]!r} is missing")
        n = e["n"]
        if n != expected:
            if isinstance(n, int) and n > expected:
                raise AuditError(f"{where}: holds entry {n}: entry {expected} was removed (or entries reordered)")
            raise AuditError(f"{where}: holds entry {n}: entries were reordered or duplicated")
        digests = e["digests"] if isinstance(e["digests"], dict) else {}
        for k in FIELDS:
            if digests.get(k) != field_digest(e[k]):
                raise AuditError(f"{where}: field {k!r} was edited (it no longer matches its digest)")
        if entry_hash(e) != e["hash"]:
            raise AuditError(f"{where}: field 'hash' (or 'digests') was edited: the entry's hash does not match "
                             f"its content")
        if e["prev"] != prev_hash:
            raise AuditError(f"{where}: field 'prev' does not match the hash of entry {expected - 1}: entry "
                             f"{expected - 1} was rewritten or entries were removed or reordered")
        hashes[n] = prev_hash = e["hash"]
        expected += 1
    for n, h in sorted((anchored or {}).items()):
        if n not in hashes:
            raise AuditError(f"{path}: entry {n}, anchored with the ledger, is missing: the trail was truncated "
                             f"(it holds {expected} entries)")
        if hashes[n] != h:
            raise AuditError(f"{path}: entry {n}: field 'hash' {hashes[n][:16]}… differs from the head anchored "
                             f"with the ledger ({h[:16]}…): the trail was rewritten up to entry {n}")
    return Head(expected - 1, prev_hash)


def head_request(data_dir: str | os.PathLike) -> dict | None:
    """The inbox ``document`` request that puts the current head into the ledger, or None when the trail is empty.

    Its ``name`` is ``audit-head-<n>`` and its ``sha256`` the head's hash, so the ledger (and, once
    anchored, the chain) fixes the first ``n + 1`` entries.
    """
    h = head(data_dir)
    if h.n < 0:
        return None
    return {"kind": "document", "author": "tanjian", "reason": f"audit trail head after entry {h.n}",
            "name": f"{HEAD_DOCUMENT}{h.n}", "sha256": h.hash, "size": h.size}


def anchored_heads(notes) -> dict[int, str]:
    """``{n: hash}`` of the audit heads among ledger ``document`` notes (dicts with ``name`` and ``sha256``)."""
    out = {}
    for note in notes:
        name = str(note.get("name", ""))
        if note.get("kind", "document") == "document" and name.startswith(HEAD_DOCUMENT):
            try:
                out[int(name[len(HEAD_DOCUMENT):])] = str(note["sha256"])
            except (ValueError, KeyError):
                continue
    return out


def journal_heads(journal_dir: str | os.PathLike) -> dict[int, str]:
    """``{n: hash}`` of the audit heads journaled as ledger documents (see :func:`queue_head`)."""
    from .batch import batch_header
    from .journal import Journal

    if not Path(journal_dir).exists():
        return {}
    notes = []
    with Journal(journal_dir) as journal:
        for _, payload in journal.records():
            h = batch_header(payload)
            if h.get("source") == "inbox:document" and isinstance(h.get("note"), dict):
                notes.append(h["note"])
    return anchored_heads(notes)


def queue_head(data_dir: str | os.PathLike) -> Path | None:
    """Queue the head for the ledger when it moved since the last call (the anchoring loop calls this before each
    anchor); returns the inbox request written, or None.

    The number of the head last queued is kept in ``<data_dir>/audit/queued``.
    """
    from .fsutil import write_atomic
    from .inbox import submit

    req = head_request(data_dir)
    if req is None:
        return None
    mark = trail_dir(data_dir) / "queued"
    n = req["size"] - 1
    try:
        if int(mark.read_text().strip()) >= n:
            return None
    except (OSError, ValueError):
        pass
    path = submit(Path(data_dir) / "inbox", req)
    write_atomic(mark, f"{n}\n".encode(), what="marking the queued audit head")
    return path
