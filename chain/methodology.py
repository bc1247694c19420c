"""Methodology packages and their versions on chain (MethodologyRegistry).

The industry association publishes each version of an accounting methodology with the SHA-256 of
its package; the workspace reads the version active at a time from the chain and refuses to account
with a local package whose hash differs (:func:`require_matching`; :func:`guard` applies it to the
configuration's pinned methodology, before any accounting).

Package hash
------------
A package is a directory. Its hash is the SHA-256 of a manifest with one line per regular file,
``<sha256 of the file, hex>  <path relative to the directory, '/'-separated>\\n``, lines sorted by
the path's UTF-8 bytes. That is exactly what these shell commands print, so anyone can recompute it::

    cd PACKAGE_DIR && find . -type f | sed 's|^\\./||' | LC_ALL=C sort | xargs -d '\\n' sha256sum | sha256sum

Every regular file counts (hidden ones too); empty directories do not. Symbolic links, other
special files and paths containing a newline or a backslash are refused, because they would not
hash the same everywhere.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workspace.errors import ChainError

if TYPE_CHECKING:  # web3 is imported only by the functions that talk to the chain: hashing a package
    from web3 import Web3  # (the inventory's path) does not load it

    from workspace.config import Config

    from ._tx import Sender

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MethodologyVersion:
    """One published version.

    Attributes
    ----------
    id, version : str
        Methodology id and version label.
    package_sha256 : str
        SHA-256 of the package (hex, no ``0x``), see :func:`package_sha256`.
    effective_from : datetime
        Start of the window, inclusive [UTC].
    effective_to : datetime or None
        End of the window, exclusive [UTC]; None when open-ended.
    """

    id: str
    version: str
    package_sha256: str
    effective_from: dt.datetime
    effective_to: dt.datetime | None


def manifest(package_dir: str | os.PathLike) -> bytes:
    """The package manifest whose SHA-256 is the package hash (see the module docstring)."""
    root = Path(package_dir)
    if not root.is_dir():
        raise ChainError(f"methodology package {root} is not a directory")
    entries = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            if "\n" in rel or "\\" in rel:
                raise ChainError(f"methodology package {root}: path {rel!r} has a newline or backslash")
            mode = p.lstat().st_mode
            if stat.S_ISLNK(mode):
                raise ChainError(f"methodology package {root}: {rel} is a symbolic link; packages hold "
                                 f"regular files only")
            if name in filenames:
                if not stat.S_ISREG(mode):
                    raise ChainError(f"methodology package {root}: {rel} is not a regular file")
                entries.append((rel.encode("utf-8"), hashlib.sha256(p.read_bytes()).hexdigest()))
    entries.sort()
    return b"".join(f"{h}  ".encode() + rel + b"\n" for rel, h in entries)


def package_sha256(package_dir: str | os.PathLike) -> str:
    """SHA-256 of a methodology package directory (hex, no ``0x``); see the module docstring."""
    return hashlib.sha256(manifest(package_dir)).hexdigest()


def _unix(when: dt.datetime | dt.date) -> int:
    if not isinstance(when, dt.datetime):
        when = dt.datetime(when.year, when.month, when.day, tzinfo=dt.timezone.utc)
    if when.tzinfo is None:
        raise ChainError(f"{when.isoformat()} has no time zone; give an offset (e.g. +08:00) or a date")
    return int(when.timestamp())


def _utc(t: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc)


def publish(w3: Web3, registry: Any, association: Sender, package_dir: str | os.PathLike, methodology_id: str,
            version: str, effective_from: dt.datetime | dt.date,
            effective_to: dt.datetime | dt.date | None = None) -> MethodologyVersion:
    """Publish a version of a methodology (the association's account signs).

    Parameters
    ----------
    w3 : Web3
        Connection to the node.
    registry : Contract
        The MethodologyRegistry.
    association : str or LocalAccount
        The association's account (the registry's ``association()``).
    package_dir : path
        The package directory; its hash is what is published.
    methodology_id, version : str
        Id and version label (each at most 32 bytes of UTF-8).
    effective_from, effective_to : datetime or date
        Window of validity; a date is 00:00 UTC; ``effective_to`` is exclusive, None for open-ended.

    Raises
    ------
    ChainError
        The contract's refusal by name (``NotAssociation``, ``VersionExists(…)``, ``InvalidWindow(…)``).
    """
    from ._tx import send
    from .registry import id32

    sha = package_sha256(package_dir)
    frm, to = _unix(effective_from), (_unix(effective_to) if effective_to is not None else 0)
    send(w3, registry.functions.publish(id32(methodology_id), id32(version), bytes.fromhex(sha), frm, to),
         association)
    log.info("published methodology %s version %s (package %s, effective %s..%s)", methodology_id, version,
             sha, _utc(frm).isoformat(), _utc(to).isoformat() if to else "open")
    return MethodologyVersion(methodology_id, version, sha, _utc(frm), _utc(to) if to else None)


def active(registry: Any, methodology_id: str,
           when: dt.datetime | dt.date | None = None) -> MethodologyVersion | None:
    """The version of ``methodology_id`` effective at ``when`` (now by default), read from the chain;
    None when no published version is effective then."""
    from .registry import id32, text_of

    when = when or dt.datetime.now(dt.timezone.utc)
    found, version, sha, frm, to = registry.functions.activeAt(id32(methodology_id), _unix(when)).call()
    if not found:
        return None
    return MethodologyVersion(methodology_id, text_of(version), bytes(sha).hex(), _utc(frm),
                              _utc(to) if to else None)


def require_matching(package_dir: str | os.PathLike, registry: Any, methodology_id: str,
                     when: dt.datetime | dt.date | None = None) -> MethodologyVersion:
    """The active on-chain version, if the local package is exactly it.

    Raises
    ------
    ChainError
        When no version is effective at ``when``, or the local package's hash differs from the
        published one (the message names both hashes, the version and the package directory).
    """
    when = when or dt.datetime.now(dt.timezone.utc)
    onchain = active(registry, methodology_id, when)
    if onchain is None:
        raise ChainError(f"no version of methodology {methodology_id!r} is effective at "
                         f"{_utc(_unix(when)).isoformat()} in MethodologyRegistry {registry.address}; "
                         f"refusing to account with an unpublished package")
    local = package_sha256(package_dir)
    if local != onchain.package_sha256:
        raise ChainError(f"methodology {methodology_id!r}: the local package {package_dir} hashes to {local} "
                         f"but version {onchain.version!r} published on chain (effective from "
                         f"{onchain.effective_from.date()}) has {onchain.package_sha256}; refusing to "
                         f"account with a package that differs from the published one")
    return onchain


def guard(cfg: Config, package_dir: str | os.PathLike | None = None) -> MethodologyVersion | None:
    """The methodology guard: refuse to account unless the local methodology package is exactly the
    version of the configuration's pinned methodology (``chain.methodology_id``) active on chain now.

    Parameters
    ----------
    cfg : Config
        The workspace's configuration; its node and MethodologyRegistry are those of :mod:`chain.connect`.
    package_dir : path, optional
        The local package about to be accounted with (default: ``chain.methodology_package``).

    Returns
    -------
    MethodologyVersion or None
        The matching on-chain version; None when the configuration pins no methodology (nothing is
        checked then).

    Raises
    ------
    ChainError
        As :func:`require_matching`: no version effective now, or the package differs from the published one.
    """
    if not cfg.chain.methodology_id:
        return None
    from .connect import connect, registry
    from .registry import METHODOLOGY_REGISTRY

    reg = registry(cfg, connect(cfg), METHODOLOGY_REGISTRY)
    return require_matching(cfg.chain.methodology_package if package_dir is None else package_dir, reg,
                            cfg.chain.methodology_id)


def parse_when(text: str) -> dt.datetime:
    """An ISO date (00:00 UTC) or an ISO datetime with offset, as a UTC-aware datetime (CLI helper)."""
    try:
        if len(text) == 10:
            d = dt.date.fromisoformat(text)
            return dt.datetime(d.year, d.month, d.day, tzinfo=dt.timezone.utc)
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ChainError(f"{text!r} is not an ISO date (2026-01-01) or datetime with offset") from None
    if t.tzinfo is None:
        raise ChainError(f"{text!r} has no time zone; give an offset (e.g. 2026-01-01T00:00+08:00)")
    return t.astimezone(dt.timezone.utc)
