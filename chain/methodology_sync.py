"""Automatic sync of methodology packages from the chain: fetch, check the hash, activate.

The association publishes a version with its package hash and a URI (:func:`chain.methodology.publish`).
A gateway (``tanjian methodology sync``, and the anchoring loop on each ``MethodologyPublished`` event:
:class:`MethodologyWatcher`) reads the version effective now, fetches the bytes from the URI, unpacks them
into a staging directory, recomputes :func:`chain.methodology.package_sha256` and activates the version
only if it is the published hash; otherwise the package is refused, nothing changes, and the refusal is
recorded with both hashes.

What is fetched: one tar archive of the package directory
--------------------------------------------------------
One archive rather than file by file because (1) a version arrives whole or not at all (one request,
checked before anything is activated; file-by-file would need a listing the chain does not seal and could
leave half a package), and (2) the seal is the package hash over the unpacked files, not the archive's
bytes, so any faithful tar of the directory (:func:`pack` makes a reproducible one: sorted names, mtime 0,
owner 0) is accepted and a tampered byte in any file is caught. Unpacking is done by hand, never with
``extractall``: only regular files and directories, relative paths without ``..``, backslashes or
newlines, at most :data:`MAX_BYTES` in all; anything else refuses the archive.

The factor file travels with the package
----------------------------------------
A package's ``manifest.yaml`` seals the factor library it was released with by hash only
(``factor_files: {name: sha256}``), so a gateway could use a synced package only if it already held that
file. :func:`pack` therefore adds the factor files under the reserved folder :data:`FACTOR_DIR`
(``_factor_files/<name>``), outside the package: they are not part of the package hash (which stays the one
published), but :func:`activate` accepts one only if its SHA-256 is the one the package's manifest names,
which the package hash seals. They are kept beside the package (``<version>-<sha256[:16]>.factors/``) and
:func:`synced_factor_file` names them to the accounting (:mod:`models.guarded`). An archive without them is
a package as before (the gateway's own factor file is used, if it is the sealed one).

Layout under ``<data_dir>/methodology/``::

    <id>/<version>-<sha256[:16]>/          the unpacked package (never modified after activation)
    <id>/<version>-<sha256[:16]>.factors/  its factor files, when the archive carried them
    <id>/active.json                       the active version: id, version, sha256, uri, path, window, when
    sync.jsonl                             one line per activation or refusal

Each activation and refusal is also an entry of the workspace's audit trail (:mod:`workspace.audit`,
action ``methodology_sync``).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workspace.errors import ChainError

from .methodology import MethodologyVersion, active, package_sha256

if TYPE_CHECKING:
    from workspace.config import Config

log = logging.getLogger(__name__)

DIR_NAME = "methodology"
ACTIVE_NAME = "active.json"
LOG_NAME = "sync.jsonl"
#: Largest archive (and largest unpacked total) accepted [bytes].
MAX_BYTES = 64 * 1024 * 1024
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
#: the archive's folder of the factor files a package was sealed with (not part of the package)
FACTOR_DIR = "_factor_files"
FACTORS_SUFFIX = ".factors"
#: who the audit trail names for a sync's entries
SYNC_USER = "methodology-sync"


class SyncRefused(ChainError):
    """The fetched package is not the published one (hash mismatch) or cannot be unpacked safely."""


@dataclass(frozen=True)
class SyncResult:
    """What a sync did: ``action`` is ``activated`` or ``already active``."""

    version: MethodologyVersion
    path: Path
    action: str


def root_of(data_dir: str | os.PathLike) -> Path:
    """``<data_dir>/methodology``."""
    return Path(data_dir) / DIR_NAME


def _safe_id(text: str, what: str) -> str:
    if not _ID.match(text):
        raise ChainError(f"{what} {text!r} cannot name a directory (letters, digits, '.', '_', '-'; 1-32)")
    return text


def active_record(data_dir: str | os.PathLike, methodology_id: str) -> dict | None:
    """The active synced version of ``methodology_id`` (``active.json``, ``path`` absolute), or None."""
    if not _ID.match(methodology_id):
        return None
    p = root_of(data_dir) / methodology_id / ACTIVE_NAME
    if not p.exists():
        return None
    rec = json.loads(p.read_text("utf-8"))
    rec["path"] = str(p.parent / rec["dir"])
    return rec


# -- the archive ------------------------------------------------------------------------------------
def pack(package_dir: str | os.PathLike, factor_files: dict[str, str | os.PathLike] | None = None) -> bytes:
    """A reproducible tar archive of a package directory (sorted names, mtime 0, owner 0, modes 644/755),
    with ``factor_files`` (``{name: path}``: the factor library the package was sealed with) under
    :data:`FACTOR_DIR` after the package's files.

    The same inputs give the same bytes; the package's files are exactly those
    :func:`chain.methodology.manifest` hashes (symbolic links and special files are refused there).
    """
    root = Path(package_dir)
    package_sha256(root)  # refuses links, special files and odd names before anything is written
    if (root / FACTOR_DIR).exists():
        raise ChainError(f"{root}: {FACTOR_DIR} is reserved for the factor files an archive carries")
    buf = io.BytesIO()
    paths = sorted((p for p in root.rglob("*")), key=lambda p: p.relative_to(root).as_posix().encode())

    def info_of(name: str) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
        return info

    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        entries = [(p.relative_to(root).as_posix(), p) for p in paths]
        if factor_files:
            entries.append((FACTOR_DIR, None))
            for name in sorted(factor_files):
                if "/" in name or name in ("", ".", ".."):
                    raise ChainError(f"factor file name {name!r}: a plain file name")
                entries.append((f"{FACTOR_DIR}/{name}", Path(factor_files[name])))
        for name, p in entries:
            info = info_of(name)
            if p is None or p.is_dir():
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                data = p.read_bytes()
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def sealed_factor_files(package_dir: str | os.PathLike) -> dict[str, str]:
    """``{name: sha256}`` of the factor files a package's ``manifest.yaml`` seals ({} without one)."""
    import yaml

    p = Path(package_dir) / "manifest.yaml"
    if not p.is_file():
        return {}
    try:
        man = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return {}
    ff = man.get("factor_files") if isinstance(man, dict) else None
    return {str(k): str(v) for k, v in ff.items()} if isinstance(ff, dict) else {}


def _factor_problem(pkg: Path, factors: Path) -> str | None:
    """Why the factor files an archive carried are not the ones its package seals (None: they are)."""
    import hashlib

    sealed = sealed_factor_files(pkg)
    for f in sorted(factors.rglob("*")):
        if f.is_dir():
            return f"{FACTOR_DIR}/{f.relative_to(factors).as_posix()}: a folder; factor files only"
        name = f.relative_to(factors).as_posix()
        got = hashlib.sha256(f.read_bytes()).hexdigest()
        if name not in sealed:
            return (f"{FACTOR_DIR}/{name}: the package's manifest.yaml seals no factor file of that name "
                    f"({', '.join(sorted(sealed)) or 'none'})")
        if got != sealed[name]:
            return (f"{FACTOR_DIR}/{name} hashes to {got} but the package's manifest.yaml seals {sealed[name]}")
    return None


def synced_factor_file(package_dir: str | os.PathLike, name: str) -> Path | None:
    """The factor file ``name`` that came with the synced package at ``package_dir`` (None: it did not)."""
    p = Path(str(package_dir) + FACTORS_SUFFIX) / name
    return p if p.is_file() else None


def unpack(data: bytes, dest: str | os.PathLike) -> None:
    """Unpack a package archive into the new directory ``dest`` (regular files and directories only).

    Raises
    ------
    SyncRefused
        Not a tar archive, a member that is a link or special file, an absolute path or one with ``..``,
        a backslash or a newline, or more than :data:`MAX_BYTES` unpacked.
    """
    dest = Path(dest)
    dest.mkdir(parents=True)
    total = 0
    try:
        tar = tarfile.open(fileobj=io.BytesIO(data), mode="r:*")
    except tarfile.TarError as exc:
        raise SyncRefused(f"not a tar archive ({exc})") from None
    with tar:
        for m in tar:
            name = m.name[2:] if m.name.startswith("./") else m.name
            name = name.rstrip("/") if m.isdir() else name
            if name in ("", "."):
                continue
            parts = name.split("/")
            if name.startswith("/") or "\\" in name or "\n" in name or any(p in ("", ".", "..") for p in parts):
                raise SyncRefused(f"archive member {m.name!r}: not a plain relative path")
            target = dest.joinpath(*parts)
            if m.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif m.isreg():
                total += m.size
                if total > MAX_BYTES:
                    raise SyncRefused(f"archive unpacks to more than {MAX_BYTES} bytes")
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.exists():
                    raise SyncRefused(f"archive member {name!r} appears twice")
                target.write_bytes(tar.extractfile(m).read())
            else:
                raise SyncRefused(f"archive member {name!r} is a link or special file; packages hold regular "
                                  f"files only")


def fetch(uri: str, timeout: float = 30.0) -> bytes:
    """The bytes at ``uri`` (``http://``, ``https://`` or ``file://``), at most :data:`MAX_BYTES`.

    Raises
    ------
    ChainError
        Another scheme, an HTTP error, an unreachable server, or too many bytes (the message names the URI).
    """
    if not uri.startswith(("http://", "https://", "file://")):
        raise ChainError(f"package URI {uri!r}: only http://, https:// and file:// can be fetched")
    try:
        with urllib.request.urlopen(uri, timeout=timeout) as r:  # noqa: S310 - scheme checked above
            data = r.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise ChainError(f"fetching {uri}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ChainError(f"fetching {uri}: {getattr(exc, 'reason', exc)}") from None
    if len(data) > MAX_BYTES:
        raise ChainError(f"fetching {uri}: more than {MAX_BYTES} bytes")
    return data


# -- activation -------------------------------------------------------------------------------------
def _log(root: Path, entry: dict) -> None:
    root.mkdir(parents=True, exist_ok=True)
    with open(root / LOG_NAME, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _audit(data_dir, user: str, what: str, reason: str) -> None:
    from workspace import audit

    audit.record(data_dir, user, "methodology_sync", what, reason)


def activate(data_dir: str | os.PathLike, version: MethodologyVersion, data: bytes, *,
             user: str = SYNC_USER) -> Path:
    """Unpack ``data``, check it is the package ``version`` publishes, and make it the active package.

    Returns the package directory. On a mismatch nothing changes (the previous active version stays) and
    the refusal is appended to ``sync.jsonl``.

    Raises
    ------
    SyncRefused
        The unpacked package hashes to something else than ``version.package_sha256`` (both named), or the
        archive cannot be unpacked safely.
    """
    mid = _safe_id(version.id, "methodology id")
    ver = _safe_id(version.version, "version label")
    root = root_of(data_dir)
    (root / mid).mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=root / mid, prefix=".incoming-"))
    try:
        factors = staging / "factors"
        why = None
        try:
            unpack(data, staging / "pkg")
            if (staging / "pkg" / FACTOR_DIR).is_dir():  # the factor files: not part of the package
                os.rename(staging / "pkg" / FACTOR_DIR, factors)
            got = package_sha256(staging / "pkg")
        except ChainError as exc:
            got, why = None, str(exc)
        if got is not None and got != version.package_sha256:
            why = (f"the package fetched from {version.uri or 'the given bytes'} hashes to {got} but version "
                   f"{version.version!r} of {mid!r} is published on chain with {version.package_sha256}")
        elif got is not None and factors.is_dir():
            why = _factor_problem(staging / "pkg", factors)
        if why is not None:
            _log(root, {"event": "refused", "id": mid, "version": ver, "published_sha256": version.package_sha256,
                        "got_sha256": got, "uri": version.uri, "reason": why, "time": _now()})
            _audit(data_dir, user, f"{mid} {ver} refused (published {version.package_sha256}, fetched "
                                   f"{got or '-'} from {version.uri or 'given bytes'})", why)
            raise SyncRefused(f"methodology {mid} {ver}: refused, not activated: {why}")
        name = f"{ver}-{got[:16]}"
        dest = root / mid / name
        if dest.exists():
            if package_sha256(dest) != got:  # changed on disk since: replace it with the checked copy
                shutil.rmtree(dest)
        if not dest.exists():
            os.rename(staging / "pkg", dest)
        fdest = Path(str(dest) + FACTORS_SUFFIX)
        shipped = sorted(f.name for f in factors.iterdir()) if factors.is_dir() else []
        if shipped:  # the checked copies replace whatever was there
            shutil.rmtree(fdest, ignore_errors=True)
            os.rename(factors, fdest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    rec = {"id": mid, "version": ver, "sha256": got, "uri": version.uri, "dir": name,
           "effective_from": version.effective_from.isoformat(),
           "effective_to": version.effective_to.isoformat() if version.effective_to else None,
           "factor_files": shipped, "activated_at": _now()}
    tmp = root / mid / (ACTIVE_NAME + ".tmp")
    tmp.write_text(json.dumps(rec, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, root / mid / ACTIVE_NAME)
    _log(root, {"event": "activated", **rec})
    _audit(data_dir, user, f"{mid} {ver} activated: package {got} from {version.uri or 'given bytes'}",
           f"published on chain, effective from {rec['effective_from']}; factor files carried: "
           f"{', '.join(shipped) or 'none'}")
    log.info("methodology %s %s activated (package %s from %s)", mid, ver, got, version.uri or "given bytes")
    return dest


def _factors_intact(rec: dict) -> bool:
    """The factor files an active version came with still hash to the ones its package seals."""
    fdir = Path(rec["path"] + FACTORS_SUFFIX)
    return not fdir.is_dir() or _factor_problem(Path(rec["path"]), fdir) is None


def sync(cfg: Config, methodology_id: str | None = None, *, registry: Any = None,
         when: dt.datetime | dt.date | None = None, user: str = SYNC_USER) -> SyncResult:
    """Fetch, check and activate the version of ``methodology_id`` (default: the configuration's pinned one)
    effective at ``when`` (now), unless it is already the active one.

    Raises
    ------
    ChainError
        No methodology named or pinned, no version effective, a version published without a URI, the
        fetch failed; :class:`SyncRefused` when the bytes are not the published package.
    """
    mid = methodology_id or cfg.chain.methodology_id
    if not mid:
        raise ChainError("which methodology? give --id or pin one in the configuration (chain.methodology_id)")
    if registry is None:
        from .connect import connect, registry as registry_of
        from .registry import METHODOLOGY_REGISTRY

        registry = registry_of(cfg, connect(cfg), METHODOLOGY_REGISTRY)
    v = active(registry, mid, when)
    if v is None:
        raise ChainError(f"no version of methodology {mid!r} is effective now in MethodologyRegistry "
                         f"{registry.address}; nothing to sync")
    cur = active_record(cfg.paths.data_dir, mid)
    if cur is not None and cur["sha256"] == v.package_sha256 and Path(cur["path"]).is_dir() \
            and package_sha256(cur["path"]) == v.package_sha256 and _factors_intact(cur):
        return SyncResult(v, Path(cur["path"]), "already active")
    if not v.uri:
        raise ChainError(f"methodology {mid} {v.version} was published without a package URI; nothing to fetch "
                         f"(the association republishes it with one)")
    return SyncResult(v, activate(cfg.paths.data_dir, v, fetch(v.uri), user=user), "activated")


class MethodologyWatcher:
    """Syncs the pinned methodology when the registry emits ``MethodologyPublished`` for it (the anchoring
    loop calls :meth:`poll` every cycle).

    The first poll syncs unconditionally (catching up after a restart); later polls sync when a new event
    for the pinned id appeared, when a version announced earlier becomes effective, or when the last sync
    failed (the server was down or its bytes were refused: tried again every poll until it succeeds).
    """

    def __init__(self, cfg: Config, registry: Any = None):
        self.cfg = cfg
        self._registry = registry
        self._next_block: int | None = None
        self._pending: list[dt.datetime] = []  # effectiveFrom of announced versions not yet effective
        self._retry = False  # the last sync failed (server down, bytes refused): try again next poll

    def _reg(self) -> Any:
        if self._registry is None:
            from .connect import connect, registry as registry_of
            from .registry import METHODOLOGY_REGISTRY

            self._registry = registry_of(self.cfg, connect(self.cfg), METHODOLOGY_REGISTRY)
        return self._registry

    def poll(self) -> SyncResult | None:
        """Sync if there is news; returns what the sync did, or None when nothing was due."""
        from .registry import id32

        mid = self.cfg.chain.methodology_id
        if not mid:
            return None
        reg = self._reg()
        head = reg.w3.eth.block_number
        first = self._next_block is None
        start = 0 if first else self._next_block
        events = [] if start > head else reg.events.MethodologyPublished.get_logs(
            from_block=start, to_block=head, argument_filters={"id": id32(mid)})
        self._next_block = head + 1
        now = dt.datetime.now(dt.timezone.utc)
        for ev in events:
            frm = dt.datetime.fromtimestamp(ev["args"]["effectiveFrom"], dt.timezone.utc)
            if frm > now:
                self._pending.append(frm)
        due = [t for t in self._pending if t <= now]
        self._pending = [t for t in self._pending if t > now]
        if not (first or events or due or self._retry):
            return None
        self._retry = True
        res = sync(self.cfg, mid, registry=reg)
        self._retry = False
        if res.action == "activated":
            log.info("methodology %s %s synced from the chain's MethodologyPublished event", mid, res.version.version)
        return res
