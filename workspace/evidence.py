"""Content-addressed evidence: the files behind a figure (a meter photo, an imported invoice, a report).

Each file is stored once under ``<data_dir>/evidence/sha256/<aa>/<sha256>`` where ``aa`` is the first two hex
digits of its SHA-256, with a sidecar ``<sha256>.json`` holding what we know about it (original name, media
type, size, who stored it, when, why). The bytes are never rewritten: storing the same content again returns
the same hash and only adds the new context to the sidecar's ``seen`` list. A file's hash is what goes into
the ledger (``kind: document`` inbox requests), so a verifier holding the file can prove it is the one used.

Writes are atomic (temporary file, fsync, rename, fsync of the directory); a full disk raises
:class:`workspace.errors.DiskFullError` naming the path and leaves no partial file behind.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .errors import TanjianError
from .fsutil import write_atomic

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Evidence:
    """One stored file: its hash, where its bytes are, and its sidecar metadata."""

    sha256: str
    path: Path
    meta: dict


class EvidenceStore:
    """Content-addressed file store under ``root`` (normally ``paths.evidence`` of the configuration).

    Parameters
    ----------
    root : path
        Directory of the store; created on first write.
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def path_for(self, sha256: str) -> Path:
        """Where the bytes of ``sha256`` live (whether or not they are stored)."""
        sha256 = sha256.lower().removeprefix("0x")
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise TanjianError(f"evidence: {sha256!r} is not a SHA-256 hex digest")
        return self.root / "sha256" / sha256[:2] / sha256

    def put(self, data: bytes, *, name: str, media_type: str = "application/octet-stream",
            author: str | None = None, reason: str | None = None) -> Evidence:
        """Store ``data`` (idempotent) and return its :class:`Evidence`.

        Parameters
        ----------
        data : bytes
            The file's content.
        name : str
            The file's original name (kept in the sidecar, not used for lookup).
        media_type : str
            MIME type, e.g. ``image/jpeg`` or ``text/csv``.
        author, reason : str, optional
            Who stored it and why (appended to the sidecar's ``seen`` list).
        """
        digest = hashlib.sha256(data).hexdigest()
        target = self.path_for(digest)
        if not target.exists():
            write_atomic(target, data, what="storing evidence")
        elif target.stat().st_size != len(data):
            raise TanjianError(f"evidence: {target} exists with a different size: the store is damaged; "
                               "move the file away and store the evidence again")
        meta_path = target.with_name(digest + ".json")
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {
            "sha256": digest, "size": len(data), "media_type": media_type, "seen": []}
        meta["seen"].append({"name": name, "author": author, "reason": reason,
                             "stored": datetime.now(timezone.utc).isoformat(timespec="seconds")})
        write_atomic(meta_path, json.dumps(meta, ensure_ascii=False, indent=1).encode(), what="storing evidence")
        return Evidence(digest, target, meta)

    def put_file(self, path: str | os.PathLike, **kw) -> Evidence:
        """Store the file at ``path`` (see :meth:`put`; ``name`` defaults to its file name)."""
        path = Path(path)
        kw.setdefault("name", path.name)
        return self.put(path.read_bytes(), **kw)

    def get(self, sha256: str) -> Evidence:
        """The stored file ``sha256``, after checking its bytes still hash to it.

        Raises
        ------
        TanjianError
            When the file is missing or its content no longer matches its name (damaged or altered).
        """
        target = self.path_for(sha256)
        if not target.exists():
            raise TanjianError(f"evidence: no file {sha256} under {self.root}")
        h = hashlib.sha256()
        with open(target, "rb") as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
        if h.hexdigest() != target.name:
            raise TanjianError(f"evidence: {target} no longer hashes to its name: it was altered or damaged")
        meta_path = target.with_name(target.name + ".json")
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        return Evidence(target.name, target, meta)

    def __contains__(self, sha256: str) -> bool:
        return self.path_for(sha256).exists()
