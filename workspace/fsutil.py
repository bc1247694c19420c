"""Durable small-file writes: the one helper every writer of a whole file uses (inbox requests, evidence,
import documents, reports, proof bundles, the ledger's cache).

A file is written to a temporary name in its own folder, fsync'd, renamed over the target and the folder
fsync'd, so a reader sees the old file or the new one, never a part, and the rename survives a crash.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from .errors import DiskFullError


def fsync_dir(path: str | os.PathLike) -> None:
    """Make the entries of folder ``path`` (a rename, a new file) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: str | os.PathLike, data: bytes, *, what: str = "writing") -> Path:
    """Write ``data`` to ``path`` atomically and durably (see the module docstring); returns the path.

    Parameters
    ----------
    path : path
        Target file; its folder is created when missing.
    data : bytes
        The whole content.
    what : str
        What the write is for, in the error message of a full disk (e.g. ``"storing evidence"``).

    Raises
    ------
    DiskFullError
        When the disk (or quota) is full: names the path; no temporary file is left behind and the
        previous content of ``path``, if any, is untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        fsync_dir(target.parent)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFullError(f"{target}: no space left on device while {what}; free space and retry "
                                "(nothing was written)") from exc
        raise
    return target
