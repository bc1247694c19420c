"""Secret files: readable by their owner only (mode 0600 or stricter), or refused with the command that fixes it.

Keys and passwords never go into ``tanjian.yaml``, logs or the repository: the configuration names a file,
and the file must not be accessible by group or others. :func:`secret_file` creates such a file (a random
value) the first time it is needed, e.g. the dashboards' cookie secret.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from .errors import TanjianError


class SecretFileError(TanjianError):
    """A secret file is missing, empty or accessible by group or others."""


def check_private(path: str | os.PathLike, what: str = "a secret file") -> Path:
    """``path`` when it exists and group and others have no access to it (mode 0600, 0400 or stricter)."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise SecretFileError(f"{p}: {what} does not exist") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretFileError(f"{p}: {what} is accessible by group or others (mode {stat.S_IMODE(st.st_mode):04o}); "
                              f"run `chmod 600 {p}`")
    return p


def write_private(path: str | os.PathLike, data: bytes) -> Path:
    """Create ``path`` with mode 0600 holding ``data`` (an existing file is kept: refused)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return p


def secret_file_text(path: str | os.PathLike, what: str) -> str:
    """The text held in an existing secret file ``path`` (checked 0600; its first line, stripped)."""
    value = check_private(path, what).read_text("utf-8").strip()
    if not value:
        raise SecretFileError(f"{path}: {what} is empty")
    return value.splitlines()[0].strip()


def secret_file(path: str | os.PathLike, what: str, nbytes: int = 32) -> str:
    """The secret held in ``path`` (created with ``nbytes`` random bytes, hex, when missing; checked 0600)."""
    p = Path(path)
    if not p.exists():
        try:
            write_private(p, (secrets.token_hex(nbytes) + "\n").encode())
        except FileExistsError:  # another process created it meanwhile
            pass
    value = check_private(p, what).read_text("utf-8").strip()
    if not value:
        raise SecretFileError(f"{p}: {what} is empty")
    return value
