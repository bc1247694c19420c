"""The ledger: an RFC 9162 Merkle log whose leaf ``n`` is journal batch ``seq == n``.

Leaf hashes (``SHA-256(0x00 || canonical batch bytes)``) are cached in ``<cache_dir>/leaves.bin``,
32 bytes per leaf in seq order, append-only and fsync'd. The cache is only a cache: on open every
entry is re-derived from the journal and compared, and a cache that is longer than the journal or
differs from it is rebuilt (with a warning), so the journal stays the single source of truth.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from workspace.errors import ChainError, DiskFullError
from workspace.fsutil import write_atomic
from workspace.journal import Journal

from . import merkle

log = logging.getLogger(__name__)

CACHE_NAME = "leaves.bin"


class Ledger:
    """Leaf hashes, roots and proofs of the journal's batches.

    Parameters
    ----------
    journal_dir : path
        Directory of the plant's journal (opened read-only).
    cache_dir : path
        Directory for ``leaves.bin`` (created if missing).
    """

    def __init__(self, journal_dir: str | os.PathLike, cache_dir: str | os.PathLike):
        self.journal = Journal(journal_dir)
        self.cache_dir = Path(cache_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.cache_path = self.cache_dir / CACHE_NAME
        self._lock = threading.RLock()
        self._hashes: list[bytes] = []
        self._open()

    # -- cache ---------------------------------------------------------------------------------
    def _open(self) -> None:
        cached = self.cache_path.read_bytes() if self.cache_path.exists() else b""
        derived = [merkle.leaf_hash(payload) for _, payload in self.journal.records()]
        usable = len(cached) // merkle.HASH_SIZE
        problem = None
        if len(cached) % merkle.HASH_SIZE:
            problem = f"its length {len(cached)} is not a multiple of {merkle.HASH_SIZE} bytes"
        elif usable > len(derived):
            problem = f"it holds {usable} leaves but the journal only {len(derived)} batches"
        else:
            for i in range(usable):
                if cached[i * 32:(i + 1) * 32] != derived[i]:
                    problem = f"leaf {i} differs from batch {i} of the journal"
                    break
        self._hashes = derived
        self._cached: int | None = usable  # leaves the cache file holds (None: to be rewritten whole)
        if problem is not None:
            log.warning("ledger cache %s is rebuilt from the journal %s: %s",
                        self.cache_path, self.journal.path, problem)
            self._cached = None
        self._save()

    def _save(self) -> None:
        """Bring the cache file up to the leaves in memory. The cache only spares re-hashing the journal at the
        next start: a disk that refuses it (full) is logged, the file cut back to its whole leaves, and the
        write retried at the next :meth:`sync`; the leaves in memory (from the journal) stay right."""
        try:
            if self._cached is None:
                self._rewrite(self._hashes)
            else:
                self._append(self._hashes[self._cached:])
            self._cached = len(self._hashes)
        except (OSError, ChainError, DiskFullError) as exc:
            log.warning("ledger cache %s not written (%s); the leaves are kept in memory and written at the "
                        "next sync", self.cache_path, exc)
            if self._cached is not None:
                try:
                    os.truncate(self.cache_path, self._cached * merkle.HASH_SIZE)
                except OSError:
                    self._cached = None

    def _rewrite(self, hashes: list[bytes]) -> None:
        write_atomic(self.cache_path, b"".join(hashes), what="rewriting the ledger cache")

    def _append(self, hashes: list[bytes]) -> None:
        if not hashes:
            return
        with open(self.cache_path, "ab") as f:
            f.write(b"".join(hashes))
            f.flush()
            os.fsync(f.fileno())

    def sync(self) -> int:
        """Pick up batches journaled since the last call; return how many leaves were added."""
        with self._lock:
            self.journal.refresh()
            start = len(self._hashes)
            new = [merkle.leaf_hash(payload) for _, payload in self.journal.records(start)]
            self._hashes.extend(new)
            if new or self._cached != len(self._hashes):
                self._save()
            if new:
                log.debug("ledger: %d new leaves, size %d", len(new), len(self._hashes))
            return len(new)

    # -- queries -------------------------------------------------------------------------------
    def size(self) -> int:
        """Number of leaves (= journaled batches seen so far)."""
        return len(self._hashes)

    def leaf_hash(self, index: int) -> bytes:
        """Leaf hash of batch ``index`` [32 bytes]."""
        self._check_size(index + 1)
        return self._hashes[index]

    def leaf_hashes(self, n: int | None = None) -> list[bytes]:
        """The first ``n`` leaf hashes (all when ``n`` is None)."""
        n = self.size() if n is None else n
        self._check_size(n)
        return self._hashes[:n]

    def root(self, size: int | None = None) -> bytes:
        """Tree head of the first ``size`` leaves (the whole ledger by default) [32 bytes]."""
        return merkle.root_from_hashes(self.leaf_hashes(size))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Audit path of leaf ``index`` in the tree of the first ``size`` leaves."""
        size = self.size() if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise ChainError(f"ledger: batch {index} is not in a tree of {size} leaves")
        return merkle.inclusion_proof_hashes(self._hashes[:size], index)

    def consistency_proof(self, old: int, new: int | None = None) -> list[bytes]:
        """Proof that the tree of ``old`` leaves is a prefix of the tree of ``new`` leaves."""
        new = self.size() if new is None else new
        self._check_size(new)
        if not 0 < old <= new:
            raise ChainError(f"ledger: no consistency proof from size {old} to size {new}")
        return merkle.consistency_proof_hashes(self._hashes[:new], old)

    def _check_size(self, n: int) -> None:
        if not 0 <= n <= len(self._hashes):
            raise ChainError(f"ledger {self.cache_path}: size {n} requested but the ledger holds "
                             f"{len(self._hashes)} leaves (call sync() after new batches)")

    def close(self) -> None:
        self.journal.close()

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

