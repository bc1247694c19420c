"""Backup and restore of a workspace's data folder, a restore checked against the anchors.

A backup is one ``.tar.gz`` of ``<data_dir>`` (journal, store, chain state with the ledger cache, anchors and
keystores, evidence, activity documents, audit trail, accounts; not ``run/``, whose files are rewritten at
every start), whose first member ``MANIFEST.json`` lists every file with its size and SHA-256, the journal's
batch count, the anchors' newest tree size and root, and the audit head. File modes are kept (keystores and
secrets stay 0600).

A restore goes into an empty folder only. It checks every file against the manifest, then re-derives the
Merkle tree from the restored journal (the tree functions of :mod:`chain.merkle`, a floor above, are passed in) and
compares the root of each anchored tree size with the anchor recorded in ``chain/anchors.jsonl`` (the app then
asks the chain whether those roots are anchored there), and verifies the audit trail with the heads the journal
holds. Taken while the collector runs, a backup may end its journal with a record torn mid-write; the journal
cuts such a tail on open (it was never acknowledged), and the manifest says the backup was hot.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import audit
from .errors import JournalError, TanjianError

MANIFEST = "MANIFEST.json"
SCHEMA = "tanjian.backup/1"
SKIP_TOP = {"run"}  # rewritten at every start (health files, pids)


class BackupError(TanjianError):
    """A backup cannot be written, or a restore does not check out (names the file or anchor)."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _files(data_dir: Path) -> list[Path]:
    out = []
    for root, dirs, files in os.walk(data_dir):
        rel = Path(root).relative_to(data_dir)
        if rel == Path("."):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_TOP)
        else:
            dirs.sort()
        for f in sorted(files):
            p = Path(root) / f
            if p.is_file() and not p.is_symlink() and not f.endswith(".lock"):
                out.append(p)
    return out


def _anchors(data_dir: Path) -> list[dict]:
    path = data_dir / "chain" / "anchors.jsonl"
    if not path.exists():
        return []
    out = []
    for line in path.read_bytes().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a torn last line: that anchor is re-read from the chain by the anchoring service
    return out


def _journal_size(data_dir: Path) -> int:
    from .journal import Journal

    jdir = data_dir / "journal"
    if not jdir.exists():
        return 0
    with Journal(jdir) as j:
        return sum(1 for _ in j.records())


@dataclass(frozen=True)
class BackupResult:
    path: Path
    sha256: str
    files: int
    bytes: int
    manifest: dict


def backup(data_dir: str | os.PathLike, out: str | os.PathLike, *, by: str) -> BackupResult:
    """Write the backup of ``data_dir`` to ``out`` (a new ``.tar.gz``); an audit entry records it.

    The journal's writer lock is taken for the copy when it is free (nothing is appended meanwhile);
    when the collector holds it, the backup is hot (see the module docstring).
    """
    from .journal import Journal

    data_dir, out = Path(data_dir), Path(out)
    if not data_dir.is_dir():
        raise BackupError(f"{data_dir}: no data folder to back up")
    if out.exists():
        raise BackupError(f"{out} exists; not overwriting a backup")
    if out.resolve().is_relative_to(data_dir.resolve()):
        raise BackupError(f"{out} is inside the data folder {data_dir}; write the backup elsewhere")
    journal = None
    try:
        if (data_dir / "journal").exists():
            journal = Journal(data_dir / "journal", writer=True)
    except JournalError:
        journal = None  # the collector holds it: a hot backup
    try:
        files = _files(data_dir)
        anchors = _anchors(data_dir)
        head = audit.head(data_dir)
        manifest = {
            "schema": SCHEMA, "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "by": by, "hot": journal is None and (data_dir / "journal").exists(),
            "journal_batches": _journal_size(data_dir),
            "anchor": ({k: anchors[-1][k] for k in ("root", "tree_size", "block_number", "chain_id", "contract")
                        if k in anchors[-1]} if anchors else None),
            "audit_head": {"n": head.n, "hash": head.hash},
            "files": {p.relative_to(data_dir).as_posix(): {"size": p.stat().st_size, "sha256": _sha256(p)}
                      for p in files},
        }
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.partial")
        with tarfile.open(tmp, "w:gz") as tar:
            data = json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode, info.mtime = len(data), 0o600, int(dt.datetime.now().timestamp())
            tar.addfile(info, io.BytesIO(data))
            for p in files:
                tar.add(p, arcname="data/" + p.relative_to(data_dir).as_posix(), recursive=False)
        os.chmod(tmp, 0o600)  # it holds the keystores and the accounts' hashes
        os.replace(tmp, out)
    finally:
        if journal is not None:
            journal.close()
    digest = _sha256(out)
    total = sum(f["size"] for f in manifest["files"].values())
    audit.record(data_dir, by, "backup", f"{out.name} sha256 {digest}: {len(files)} files, {total} bytes",
                 "hot backup" if manifest["hot"] else "")
    return BackupResult(out, digest, len(files), total, manifest)


#: the tree functions of :mod:`chain.merkle` (a floor above): ``(leaf_hash(batch), root_from_hashes(leaves))``
Tree = tuple[Callable[[bytes], bytes], Callable[[list[bytes]], bytes]]


def verify_roots(data_dir: str | os.PathLike, tree: Tree) -> list[dict]:
    """Each recorded anchor with its root recomputed from the journal in ``data_dir``.

    ``tree`` is ``(chain.merkle.leaf_hash, chain.merkle.root_from_hashes)``.

    Raises
    ------
    BackupError
        Naming the first anchor whose root differs, or whose tree is larger than the restored journal.
    """
    from .journal import Journal

    data_dir = Path(data_dir)
    leaf_hash, root_of = tree
    leaves = []
    if (data_dir / "journal").exists():
        with Journal(data_dir / "journal") as j:
            leaves = [leaf_hash(payload) for _, payload in j.records()]
    checked = []
    for i, a in enumerate(_anchors(data_dir)):
        size = int(a["tree_size"])
        if size > len(leaves):
            raise BackupError(f"anchor {i} ({a['root']}) covers {size} batches but the restored journal holds "
                              f"{len(leaves)}")
        root = "0x" + root_of(leaves[:size]).hex()
        if root.lower() != str(a["root"]).lower():
            raise BackupError(f"anchor {i}: the restored journal's first {size} batches give root {root}, the "
                              f"anchor recorded {a['root']} (block {a.get('block_number')})")
        checked.append({**a, "recomputed": root})
    return checked


@dataclass(frozen=True)
class RestoreResult:
    data_dir: Path
    files: int
    manifest: dict
    anchors: list[dict]
    audit_entries: int


def restore(archive: str | os.PathLike, into: str | os.PathLike, tree: Tree, *, by: str) -> RestoreResult:
    """Restore ``archive`` into the empty (or missing) folder ``into`` and check it (see the module docstring)."""
    archive, into = Path(archive), Path(into)
    if into.exists() and any(into.iterdir()):
        raise BackupError(f"{into} is not empty: restore into an empty folder, then point paths.data_dir at it")
    try:
        tar = tarfile.open(archive, "r:gz")
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"{archive}: not a tanjian backup ({exc})") from None
    with tar:
        try:
            m = tar.extractfile(MANIFEST)
            manifest = json.loads(m.read()) if m is not None else None
        except (KeyError, json.JSONDecodeError):
            manifest = None
        if not manifest or manifest.get("schema") != SCHEMA:
            raise BackupError(f"{archive}: no {MANIFEST} of schema {SCHEMA}")
        members = [x for x in tar.getmembers() if x.name != MANIFEST]
        for x in members:
            if not x.name.startswith("data/") or not x.isfile():
                raise BackupError(f"{archive}: unexpected member {x.name!r}")
        into.mkdir(parents=True, exist_ok=True, mode=0o700)
        staging = into / ".restoring"
        tar.extractall(staging, members=members, filter="data")
    src = staging / "data"
    names = {p.relative_to(src).as_posix() for p in _files(src)} if src.exists() else set()
    missing = sorted(set(manifest["files"]) - names)
    if missing:
        raise BackupError(f"{archive}: {len(missing)} file(s) of the manifest missing, first {missing[0]}")
    for name, f in manifest["files"].items():
        p = src / name
        if p.stat().st_size != f["size"] or _sha256(p) != f["sha256"]:
            raise BackupError(f"{archive}: {name} differs from the manifest (size or SHA-256)")
    for child in src.iterdir():
        os.replace(child, into / child.name)
    src.rmdir()
    staging.rmdir()
    anchors = verify_roots(into, tree)
    h = audit.verify(into, anchored=audit.journal_heads(into / "journal"))
    if manifest["audit_head"]["n"] > h.n:
        raise BackupError(f"restored audit trail ends at entry {h.n}, the manifest says {manifest['audit_head']['n']}")
    audit.record(into, by, "restore", f"{archive.name}: {len(manifest['files'])} files, "
                                      f"{len(anchors)} anchor root(s) recomputed", "")
    return RestoreResult(into, len(manifest["files"]), manifest, anchors, h.size)
