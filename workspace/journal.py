"""Append-only, fsync'd journal of canonical batches: where a reading is acknowledged.

File format (``journal.log`` in the journal directory), one record per batch::

    magic  b"TJB1"      4 bytes
    length              4 bytes, big-endian unsigned, of the payload
    crc32               4 bytes, big-endian unsigned, of the payload (zlib.crc32)
    payload             the batch's canonical bytes (:mod:`workspace.batch`)

Record ``n`` (from 0) is batch ``seq == n``. :meth:`Journal.append` returns only after the record
is written and ``fsync``'d: that is the acknowledgement. A record cut short by a crash (which was
therefore never acknowledged) is removed when the journal is opened; a damaged record followed by
good ones is reported as :class:`~workspace.errors.JournalDamaged` and nothing is changed.
"""

from __future__ import annotations

import errno
import logging
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

from .errors import DiskFullError, JournalDamaged, JournalError

log = logging.getLogger(__name__)

MAGIC = b"TJB1"
HEADER = struct.Struct(">4sII")


class Journal:
    """The plant's journal; one writer process at a time (guarded by a lock file).

    Parameters
    ----------
    directory : path
        Folder that holds ``journal.log`` (created if missing).
    writer : bool
        Open for appending (takes the writer lock) or read-only.
    """

    def __init__(self, directory: str | os.PathLike, *, writer: bool = False):
        self.directory = Path(directory)
        self.path = self.directory / "journal.log"
        self._lock = threading.Lock()
        self._offsets: list[int] = []
        self._end = 0
        self._fd: int | None = None
        self._lockfd: int | None = None
        if writer:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._take_writer_lock()
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o640)
        self._scan(repair=writer)

    # -- opening ---------------------------------------------------------------------------------
    def _take_writer_lock(self) -> None:
        import fcntl

        self._lockfd = os.open(self.directory / "writer.lock", os.O_RDWR | os.O_CREAT, 0o640)
        try:
            fcntl.flock(self._lockfd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise JournalError(f"{self.path}: another process is writing this journal "
                               f"(lock {self.directory / 'writer.lock'} is held)") from None

    def _scan(self, *, repair: bool) -> None:
        if not self.path.exists():
            return
        size = self.path.stat().st_size
        offsets: list[int] = []
        with open(self.path, "rb") as f:
            pos = 0
            while pos < size:
                head = f.read(HEADER.size)
                if len(head) < HEADER.size:
                    break  # torn header at the tail
                magic, length, crc = HEADER.unpack(head)
                if magic != MAGIC:
                    self._damaged(pos, size, "bad record marker")
                    break
                payload = f.read(length)
                if len(payload) < length:
                    break  # torn payload at the tail
                if zlib.crc32(payload) != crc:
                    if pos + HEADER.size + length >= size:
                        break  # last record torn mid-write
                    self._damaged(pos, size, "checksum mismatch")
                offsets.append(pos)
                pos += HEADER.size + length
        if pos < size:
            if repair:
                log.warning("journal %s: removing %d bytes of an unacknowledged record torn by a crash "
                            "at offset %d", self.path, size - pos, pos)
                os.truncate(self.path, pos)
                os.fsync(self._fd) if self._fd is not None else None
            else:
                log.info("journal %s: ignoring a torn tail at offset %d (the writer repairs it)", self.path, pos)
        self._offsets = offsets
        self._end = pos

    def _damaged(self, pos: int, size: int, why: str) -> None:
        raise JournalDamaged(
            f"{self.path}: record at byte offset {pos} of {size} is damaged ({why}) and good records follow it. "
            f"Nothing was changed. Restore the journal from backup, or move the file aside and run "
            f"`tanjian journal check` to see which batches are affected.")

    # -- writing ---------------------------------------------------------------------------------
    @property
    def next_seq(self) -> int:
        """Sequence number the next appended batch gets."""
        return len(self._offsets)

    def append(self, payload: bytes) -> int:
        """Write one record and fsync it; return its sequence number (the acknowledgement)."""
        return self.append_many([payload])[0]

    def append_many(self, payloads: list[bytes]) -> list[int]:
        """Write several records with ONE write and ONE fsync (group commit); return their sequence
        numbers. All or nothing: on an error none of them is in the journal (nor acknowledged).

        For catching up (cycles kept in memory while the disk was full) and imports: a batch's
        ``seq`` must be the one it gets here (:attr:`next_seq` + its position).
        """
        if self._fd is None:
            raise JournalError(f"{self.path}: opened read-only")
        if not payloads:
            return []
        record = b"".join(HEADER.pack(MAGIC, len(p), zlib.crc32(p)) + p for p in payloads)
        with self._lock:
            start = self._end
            try:
                written = os.pwrite(self._fd, record, start)
                if written != len(record):
                    raise OSError(errno.ENOSPC, "short write")
                os.fsync(self._fd)
            except OSError as exc:
                # Keep the journal exactly as it was: drop whatever part of the record got in.
                try:
                    os.ftruncate(self._fd, start)
                    os.fsync(self._fd)
                except OSError:
                    pass
                if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise DiskFullError(f"{self.path}: no space left on device; batch not acknowledged, "
                                        f"collection keeps it in memory and retries") from exc
                raise JournalError(f"{self.path}: cannot write: {exc}") from exc
            first = len(self._offsets)
            pos = start
            for p in payloads:
                self._offsets.append(pos)
                pos += HEADER.size + len(p)
            self._end = pos
            return list(range(first, first + len(payloads)))

    # -- reading ---------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Pick up records appended by the writer since this reader opened."""
        if self._fd is None:
            self._scan(repair=False)

    def __len__(self) -> int:
        return len(self._offsets)

    def read(self, seq: int) -> bytes:
        if not 0 <= seq < len(self._offsets):
            raise IndexError(f"{self.path}: no batch {seq} (journal holds 0..{len(self._offsets) - 1})")
        with open(self.path, "rb") as f:
            f.seek(self._offsets[seq])
            magic, length, crc = HEADER.unpack(f.read(HEADER.size))
            payload = f.read(length)
        if zlib.crc32(payload) != crc:
            raise JournalDamaged(f"{self.path}: batch {seq} fails its checksum")
        return payload

    def records(self, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, bytes]]:
        """Yield ``(seq, payload)`` for ``start <= seq < stop``."""
        stop = len(self._offsets) if stop is None else min(stop, len(self._offsets))
        if start >= stop:
            return
        with open(self.path, "rb") as f:
            f.seek(self._offsets[start])
            for seq in range(start, stop):
                magic, length, crc = HEADER.unpack(f.read(HEADER.size))
                payload = f.read(length)
                if zlib.crc32(payload) != crc:
                    raise JournalDamaged(f"{self.path}: batch {seq} fails its checksum")
                yield seq, payload

    def close(self) -> None:
        for fd in (self._fd, self._lockfd):
            if fd is not None:
                os.close(fd)
        self._fd = self._lockfd = None

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
