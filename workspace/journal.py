"""Append-only, fsync'd journal of canonical batches: where a reading is acknowledged.

File format (``journal.log`` in the journal directory), one record per batch::

    magic  b"TJB1"      4 bytes
    length              4 bytes, big-endian unsigned, of the payload
    crc32               4 bytes, big-endian unsigned, of the payload (zlib.crc32)
    payload             the batch's canonical bytes (:mod:`workspace.batch`)

Record ``n`` (from 0) is batch ``seq == n``. :meth:`Journal.append` returns only after the record
is written and ``fsync``'d: that is the acknowledgement.

Group commit (many producers, one fsync)
----------------------------------------
An fsync on this kind of disk takes milliseconds whatever its size (``python -m benchmarks.bench_fsync``:
≈ 4 ms from 4 KiB to 1 MiB on the development VM), so one fsync per batch caps ingest at a few hundred
batches a second. :meth:`Journal.submit` hands a batch to the journal's writer thread and returns a
:class:`concurrent.futures.Future`; the writer takes every batch waiting, writes them with one write
and one fsync (:meth:`Journal.append_many`), and only then resolves each future with its ``seq``:
the acknowledgement. While it syncs, the next group gathers. A batch's canonical bytes hold its
``seq``, which is known only when it is written, so a producer submits a callable ``seq -> bytes``
(:class:`workspace.batch.PreparedBatch`, from :func:`workspace.batch.prepare_batch_columnar`), called
by the writer. kill -9 at any moment loses no batch whose future had resolved: the future resolves
after the fsync that covered it returned. A record cut short by a crash (which was
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
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path

from .errors import DiskFullError, JournalDamaged, JournalError

log = logging.getLogger(__name__)

MAGIC = b"TJB1"
HEADER = struct.Struct(">4sII")
GROUP_MAX_BATCHES = 8192  # batches one group commit writes at most
GROUP_MAX_BYTES = 64 << 20  # [B] payload bytes one group commit writes at most (roughly: callables count their body)


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
        self._gc_cond = threading.Condition()  # guards the group commit's queue
        self._gc_queue: list[tuple[bytes | Callable[[int], bytes], Future]] = []
        self._gc_thread: threading.Thread | None = None
        self._gc_closing = False
        self.syncs = 0  # fsyncs of appended records since opening (one per append, append_many or group)
        if writer:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._take_writer_lock()
            created = not self.path.exists()
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o640)
            if created:  # the new file's name must be durable too, or an acknowledged batch could vanish with it
                dfd = os.open(self.directory, os.O_RDONLY)
                try:
                    os.fsync(dfd)
                finally:
                    os.close(dfd)
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
        with self._lock:
            return self._append_locked(payloads)

    def _append_locked(self, payloads: list[bytes]) -> list[int]:
        parts = []
        for p in payloads:  # one copy of each payload, into the record
            parts += (HEADER.pack(MAGIC, len(p), zlib.crc32(p)), p)
        record = b"".join(parts)
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
        self.syncs += 1
        first = len(self._offsets)
        pos = start
        for p in payloads:
            self._offsets.append(pos)
            pos += HEADER.size + len(p)
        self._end = pos
        return list(range(first, first + len(payloads)))

    # -- group commit ----------------------------------------------------------------------------
    def submit(self, payload: bytes | Callable[[int], bytes]) -> Future:
        """Hand one batch to the group commit; returns a future of its ``seq`` (the acknowledgement).

        Parameters
        ----------
        payload : bytes or callable
            The batch's canonical bytes, or (what a producer should give, since a batch's bytes
            hold its ``seq``) a callable returning them for the ``seq`` the batch gets, such as
            :func:`workspace.batch.prepare_batch_columnar`'s :class:`~workspace.batch.PreparedBatch`.
            It is called in the writer thread, under the journal's lock: keep it cheap.

        Returns
        -------
        concurrent.futures.Future
            Resolves to the batch's ``seq`` once the fsync covering it has returned; or fails with
            :class:`~workspace.errors.DiskFullError` / :class:`~workspace.errors.JournalError` (the batch
            is then NOT in the journal: keep its readings and submit them again), or with the
            callable's own exception (that batch only). From asyncio: ``await asyncio.wrap_future(f)``.

        Every batch waiting when the writer thread comes round is written with one ``write`` and one
        ``fsync`` (at most :data:`GROUP_MAX_BATCHES` batches / :data:`GROUP_MAX_BYTES` a group), in
        the order submitted. :meth:`append` and :meth:`append_many` may be used beside it only for
        payloads whose bytes do not depend on their seq: a batch encoded with :attr:`next_seq` read
        before the call can find that seq taken by a group written meanwhile (the fold then refuses the
        record). While producers submit, journal every batch through :meth:`submit`, with a callable:
        ``journal.submit(lambda seq: encode_batch(plant, seq, source, readings)).result()``.
        """
        if self._fd is None:
            raise JournalError(f"{self.path}: opened read-only (or closed)")
        fut: Future = Future()
        with self._gc_cond:
            if self._gc_closing:
                raise JournalError(f"{self.path}: closing; batch not accepted")
            if self._gc_thread is None:
                self._gc_thread = threading.Thread(target=self._group_writer, name=f"journal-commit {self.path}",
                                                   daemon=True)
                self._gc_thread.start()
            self._gc_queue.append((payload, fut))
            self._gc_cond.notify()
        return fut

    def _take_group(self) -> list[tuple[bytes | Callable[[int], bytes], Future]] | None:
        with self._gc_cond:
            while not self._gc_queue and not self._gc_closing:
                self._gc_cond.wait()
            if not self._gc_queue:
                return None  # closing and nothing left
            q = self._gc_queue
            k, size = 0, 0
            while k < len(q) and k < GROUP_MAX_BATCHES and (k == 0 or size < GROUP_MAX_BYTES):
                size += len(q[k][0]) if hasattr(q[k][0], "__len__") else 0
                k += 1
            group, self._gc_queue = q[:k], q[k:]
            return group

    def _group_writer(self) -> None:
        """The writer thread: one write and one fsync per group of waiting batches, then the acks."""
        while (group := self._take_group()) is not None:
            done: list[tuple[Future, int | BaseException]] = []
            with self._lock:
                payloads, futs = [], []
                seq0 = len(self._offsets)
                for payload, fut in group:
                    if not fut.set_running_or_notify_cancel():
                        continue  # cancelled before it was written: never acknowledged
                    try:
                        data = payload(seq0 + len(payloads)) if callable(payload) else payload
                        if not isinstance(data, (bytes, bytearray, memoryview)):
                            raise TypeError(f"a batch must be bytes, got {type(data).__name__}")
                    except BaseException as exc:  # noqa: BLE001 - that batch fails, the others go on
                        done.append((fut, exc))
                        continue
                    payloads.append(bytes(data))
                    futs.append(fut)
                if payloads:
                    try:
                        seqs = self._append_locked(payloads)
                    except BaseException as exc:  # noqa: BLE001 - nothing of the group is in the journal
                        log.error("journal %s: group commit of %d batches failed: %s", self.path, len(futs), exc)
                        done += [(f, exc) for f in futs]
                    else:
                        done += list(zip(futs, seqs))
            for fut, res in done:  # acknowledge outside the lock
                if isinstance(res, BaseException):
                    fut.set_exception(res)
                else:
                    fut.set_result(res)

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
        """Write and acknowledge every batch already submitted, stop the writer thread, close the files."""
        with self._gc_cond:
            self._gc_closing = True
            self._gc_cond.notify_all()
            thread = self._gc_thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        for fd in (self._fd, self._lockfd):
            if fd is not None:
                os.close(fd)
        self._fd = self._lockfd = None

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
