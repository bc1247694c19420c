"""Methodology packages and their versions on chain (MethodologyRegistry).

The industry association publishes each version of an accounting methodology with the SHA-256 of
its package; the workspace reads the version active at a time from the chain and refuses to account
with a local package whose hash differs (:func:`require_matching`). Each version also records where
the package's bytes can be fetched (a URI); :mod:`chain.methodology_sync` fetches, checks and activates it.

The guard
---------
:func:`guard` is the one place that decides which package a figure is computed with and whether that
package was checked on chain. It returns a :class:`Guarded`: the package directory (the version synced
from the chain into ``<data_dir>/methodology/``, else the configured ``chain.methodology_package``,
else the packaged default the caller names), its hash, and one of three statuses:

- ``checked`` (shown ``checked ✓``): the configuration pins this methodology and its package is exactly
  the version active on chain now;
- ``offline`` (``offline, not checked``): nothing was asked of the chain (the node is unreachable, no
  registry is known, or the configuration pins no methodology or another one); the reason says which;
- ``mismatch`` (``mismatch ✗``): the package differs from the published version, or none is effective.
  With ``strict=True`` (every accounting command) this raises instead: nothing is computed.

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
    uri : str
        Where the package's bytes can be fetched (a tar archive, see :mod:`chain.methodology_sync`);
        "" when the association gave none.
    """

    id: str
    version: str
    package_sha256: str
    effective_from: dt.datetime
    effective_to: dt.datetime | None
    uri: str = ""


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
            effective_to: dt.datetime | dt.date | None = None, uri: str = "") -> MethodologyVersion:
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
    uri : str, optional
        Where gateways fetch the package (``http(s)://`` or ``file://``, a tar archive made with
        :func:`chain.methodology_sync.pack`); recorded on chain with the hash.

    Raises
    ------
    ChainError
        The contract's refusal by name (``NotAssociation``, ``VersionExists(…)``, ``InvalidWindow(…)``).
    """
    from ._tx import send
    from .registry import id32

    sha = package_sha256(package_dir)
    frm, to = _unix(effective_from), (_unix(effective_to) if effective_to is not None else 0)
    send(w3, registry.functions.publish(id32(methodology_id), id32(version), bytes.fromhex(sha), frm, to, uri),
         association)
    log.info("published methodology %s version %s (package %s at %s, effective %s..%s)", methodology_id, version,
             sha, uri or "no URI", _utc(frm).isoformat(), _utc(to).isoformat() if to else "open")
    return MethodologyVersion(methodology_id, version, sha, _utc(frm), _utc(to) if to else None, uri)


def active(registry: Any, methodology_id: str,
           when: dt.datetime | dt.date | None = None) -> MethodologyVersion | None:
    """The version of ``methodology_id`` effective at ``when`` (now by default), read from the chain;
    None when no published version is effective then."""
    from web3.exceptions import BadFunctionCallOutput, ContractLogicError

    from .registry import id32, text_of

    when = when or dt.datetime.now(dt.timezone.utc)
    found, version, sha, frm, to = registry.functions.activeAt(id32(methodology_id), _unix(when)).call()
    if not found:
        return None
    try:
        uri = registry.functions.uriOf(id32(methodology_id), version).call()
    except (BadFunctionCallOutput, ContractLogicError):  # a registry deployed before URIs were recorded
        uri = ""
    return MethodologyVersion(methodology_id, text_of(version), bytes(sha).hex(), _utc(frm),
                              _utc(to) if to else None, uri)


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


CHECKED, OFFLINE, MISMATCH = "checked", "offline", "mismatch"
#: How each status is shown to a person (reports, CLI, big screen, notebooks).
STATUS_LABELS = {CHECKED: "checked ✓", OFFLINE: "offline, not checked", MISMATCH: "mismatch ✗"}


@dataclass(frozen=True)
class Guarded:
    """The package a figure is computed with, and whether it was checked on chain (see the module docstring).

    Attributes
    ----------
    methodology_id : str
    package_dir : pathlib.Path
        The active package: synced from the chain, configured, or the packaged default.
    package_sha256 : str
        Its hash (:func:`package_sha256`).
    origin : {"synced", "configured", "packaged"}
        Where the package came from.
    status : {"checked", "offline", "mismatch"}
    reason : str
        One line: what was compared, or why nothing was.
    onchain : MethodologyVersion or None
        The version active on chain, when the chain was asked and has one.
    """

    methodology_id: str
    package_dir: Path
    package_sha256: str
    origin: str
    status: str
    reason: str
    onchain: MethodologyVersion | None = None

    @property
    def label(self) -> str:
        """``checked ✓`` / ``offline, not checked`` / ``mismatch ✗``."""
        return STATUS_LABELS[self.status]

    def as_dict(self) -> dict:
        """JSON-ready summary (what reports and feeds record)."""
        return {"id": self.methodology_id, "sha256": self.package_sha256, "origin": self.origin,
                "status": self.status, "label": self.label, "reason": self.reason,
                "onchain_version": self.onchain.version if self.onchain else None}


def resolve_package(cfg: Config | None, methodology_id: str,
                    default_dir: str | os.PathLike | None = None) -> tuple[Path, str]:
    """(package directory, origin) of the active package of ``methodology_id``: the version synced into
    ``<data_dir>/methodology/`` (:mod:`chain.methodology_sync`), else ``chain.methodology_package`` when the
    configuration pins this methodology, else ``default_dir`` (the packaged default).

    Raises
    ------
    ChainError
        When none of the three exists.
    """
    if cfg is not None:
        from .methodology_sync import active_record

        rec = active_record(cfg.paths.data_dir, methodology_id)
        if rec is not None:
            return Path(rec["path"]), "synced"
        if cfg.chain.methodology_id == methodology_id and cfg.chain.methodology_package is not None:
            return Path(cfg.chain.methodology_package), "configured"
    if default_dir is not None:
        return Path(default_dir), "packaged"
    raise ChainError(f"no package for methodology {methodology_id!r}: none synced (tanjian methodology sync), "
                     f"none configured (chain.methodology_package) and no packaged default")


def guard(cfg: Config | None, package_dir: str | os.PathLike | None = None, *, methodology_id: str | None = None,
          strict: bool = True, when: dt.datetime | dt.date | None = None) -> Guarded:
    """The methodology guard: which package computes, and whether it is the version active on chain.

    Parameters
    ----------
    cfg : Config or None
        The workspace's configuration (None: desk work without one; nothing is checked then).
    package_dir : path, optional
        The packaged default for ``methodology_id`` (used when nothing was synced or configured).
    methodology_id : str, optional
        Default: the configuration's pinned ``chain.methodology_id``.
    strict : bool
        Raise on a mismatch (accounting commands) instead of returning status ``mismatch`` (displays).
    when : datetime or date, optional
        The time the on-chain version must be effective at (default now).

    Raises
    ------
    ChainError
        ``strict`` and the package differs from the published version (the message names both hashes, the
        version and the package directory) or no version is effective; or no package can be found.
    """
    from .node import NODE_DOWN_ERRORS

    mid = methodology_id or (cfg.chain.methodology_id if cfg is not None else None)
    if not mid:
        raise ChainError("which methodology? the configuration pins none (chain.methodology_id) and none was named")
    pkg, origin = resolve_package(cfg, mid, package_dir)
    local = package_sha256(pkg)

    def result(status, reason, onchain=None):
        return Guarded(mid, pkg, local, origin, status, reason, onchain)

    if origin == "synced":
        from .methodology_sync import active_record

        want = active_record(cfg.paths.data_dir, mid)["sha256"]
        if local != want:
            msg = (f"methodology {mid!r}: the synced package {pkg} hashes to {local} but was activated as {want}; "
                   f"it changed on disk since (sync it again: tanjian methodology sync)")
            if strict:
                raise ChainError(msg)
            return result(MISMATCH, msg)
    if cfg is None:
        return result(OFFLINE, "no workspace configuration: the chain was not asked")
    if cfg.chain.methodology_id != mid:
        pinned = cfg.chain.methodology_id
        return result(OFFLINE, f"the configuration pins {'methodology ' + repr(pinned) if pinned else 'no methodology'}"
                               f" (chain.methodology_id), not {mid!r}: not checked on chain")
    from web3.exceptions import Web3Exception

    from .connect import connect, registry
    from .registry import METHODOLOGY_REGISTRY

    try:
        reg = registry(cfg, connect(cfg), METHODOLOGY_REGISTRY)
        onchain = active(reg, mid, when)
    except NODE_DOWN_ERRORS as exc:
        return result(OFFLINE, f"chain node {cfg.chain.rpc_url} unreachable ({type(exc).__name__}): not checked")
    except ChainError as exc:  # no registry known (no deployment, no chain.contracts), another chain id
        return result(OFFLINE, f"{exc}: not checked")
    except Web3Exception as exc:  # the address holds no MethodologyRegistry (misconfigured)
        return result(OFFLINE, f"MethodologyRegistry of the configuration did not answer ({type(exc).__name__}: "
                               f"{str(exc)[:120]}): not checked")
    if onchain is None:
        msg = (f"no version of methodology {mid!r} is effective at "
               f"{_utc(_unix(when or dt.datetime.now(dt.timezone.utc))).isoformat()} in MethodologyRegistry "
               f"{reg.address}; refusing to account with an unpublished package")
        if strict:
            raise ChainError(msg)
        return result(MISMATCH, msg)
    if local != onchain.package_sha256:
        msg = (f"methodology {mid!r}: the local package {pkg} hashes to {local} but version {onchain.version!r} "
               f"published on chain (effective from {onchain.effective_from.date()}) has "
               f"{onchain.package_sha256}; refusing to account with a package that differs from the published "
               f"one (fetch it: tanjian methodology sync)")
        if strict:
            raise ChainError(msg)
        return result(MISMATCH, msg, onchain)
    return result(CHECKED, f"version {onchain.version!r} as published on chain ({onchain.package_sha256})", onchain)


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
