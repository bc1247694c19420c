"""Results kept for the whole server process, shared by every browser session: a page whose figures depend only
on a key (a store snapshot, a node and period, a scenario's files and edits) computes them once, and the next
session with the same key gets the same object at once.

A key must name everything the result depends on (a snapshot id, a content hash: never a time that moves), so a
kept result is never stale; the oldest are dropped beyond ``size``. Sessions asking for the same key together:
one computes, the others wait for its result (one lock per key). Kept results are shared, so a caller must not
change them (copy first).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Hashable


class Kept:
    """A bounded, thread-safe map of key -> result, filled on demand by :meth:`get`."""

    def __init__(self, size: int = 16):
        self.size = size
        self._items: OrderedDict[Hashable, object] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, compute: Callable[[], object]):
        """The result kept for ``key``, else ``compute()`` (kept unless it raises)."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            lock = self._key_locks.setdefault(key, threading.Lock())
        with lock:  # sessions opened together: one computes, the others wait for its result
            with self._lock:
                if key in self._items:
                    return self._items[key]
            out = compute()
            with self._lock:
                self._items[key] = out
                while len(self._items) > self.size:
                    old, _ = self._items.popitem(last=False)
                    self._key_locks.pop(old, None)
            return out

    def forget(self) -> None:
        """Drop every kept result (the next :meth:`get` computes again)."""
        with self._lock:
            self._items.clear()
            self._key_locks.clear()

    def __len__(self) -> int:
        return len(self._items)


def files_hash(folder: Path) -> str:
    """SHA-256 over the names and contents of every file under ``folder`` (sorted): changes when any file does."""
    h = hashlib.sha256()
    for p in sorted(q for q in Path(folder).rglob("*") if q.is_file()):
        h.update(str(p.relative_to(folder)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()
