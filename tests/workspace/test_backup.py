"""Backup and restore: a restore into an empty folder is checked file by file against the manifest, every
anchor's Merkle root is recomputed from the restored journal and found on the chain (an in-process eth-tester
chain with the real registries), the audit trail verifies; a tampered backup is refused, naming what differs."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import stat
import tarfile

import pytest

from chain.merkle import leaf_hash, root_from_hashes
from workspace import audit
from workspace.backup import BackupError, backup, restore
from workspace.batch import Reading, encode_batch
from workspace.config import EXAMPLE, load_config
from workspace.journal import Journal

TREE = (leaf_hash, root_from_hashes)


@pytest.fixture(scope="module")
def anchored(tmp_path_factory):
    """A workspace with 7 journaled batches, anchored twice (5, then 7 batches) on an eth-tester chain."""
    from eth_account import Account

    from chain.anchor import AnchorService
    from chain.deploy import ensure_deployment
    from chain.ledger import Ledger
    from chain.node import connect

    base = tmp_path_factory.mktemp("backup")
    cfg = load_config(EXAMPLE, data_dir=base / "var")
    meter = cfg.site.meters[0].id
    t0 = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
    w3 = connect("tester")
    gateway = Account.create()
    info = ensure_deployment(w3, cfg.paths.chain, gateway.address, plant=cfg.site.plant.id)
    anchors = []
    with Journal(cfg.paths.journal, writer=True) as j:
        for n in (5, 2):
            for _ in range(n):
                seq = j.next_seq
                j.append(encode_batch(cfg.site.plant.id, seq, "test", [Reading(meter, t0 + dt.timedelta(minutes=seq),
                                                                             100.0 + seq, float("nan"))]))
            with Ledger(cfg.paths.journal, cfg.paths.chain) as ledger:
                anchors.append(AnchorService(w3, info["address"], gateway, ledger, cfg.paths.chain).anchor_once())
    assert [a["tree_size"] for a in anchors] == [5, 7]
    audit.record(cfg.paths.data_dir, "li.wei", "correction", "M 08:00 = 5", "misread")
    secret = cfg.paths.chain / "keystore.password"
    fd = os.open(secret, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"not a real password\n")
    os.close(fd)
    return {"cfg": cfg, "w3": w3, "anchors": anchors, "base": base}


def test_restore_into_an_empty_folder_is_verified_against_the_chain(anchored, tmp_path):
    cfg = anchored["cfg"]
    before = audit.head(cfg.paths.data_dir).n
    r = backup(cfg.paths.data_dir, tmp_path / "b.tar.gz", by="ops")
    assert stat.S_IMODE((tmp_path / "b.tar.gz").stat().st_mode) == 0o600
    assert r.manifest["journal_batches"] == 7 and r.manifest["anchor"]["tree_size"] == 7
    assert "journal/" in "".join(r.manifest["files"]) and "chain/anchors.jsonl" in r.manifest["files"]
    assert audit.head(cfg.paths.data_dir).n == before + 1  # the backup is an audit entry of its own (after the copy)

    into = tmp_path / "restored"
    res = restore(tmp_path / "b.tar.gz", into, TREE, by="ops")
    assert [a["tree_size"] for a in res.anchors] == [5, 7]
    for a, want in zip(res.anchors, anchored["anchors"]):
        assert a["recomputed"] == want["root"]
    # the roots recomputed from the restored journal are the ones the chain's AnchorRegistry holds
    from tanjian.commands.backup import roots_on_chain

    assert roots_on_chain(anchored["w3"], res.anchors) == (2, [])
    assert stat.S_IMODE((into / "chain" / "keystore.password").stat().st_mode) == 0o600
    assert res.audit_entries == before + 1
    assert [e["action"] for _, e in audit.entries(into)][-2:] == ["correction", "restore"]

    with pytest.raises(BackupError, match="is not empty"):
        restore(tmp_path / "b.tar.gz", into, TREE, by="ops")


def _rewrite(src, dst, name, change, fix_manifest: bool):
    """A copy of backup ``src`` with member data/``name`` changed (and the manifest updated when asked)."""
    import hashlib

    with tarfile.open(src, "r:gz") as tin, tarfile.open(dst, "w:gz") as tout:
        manifest = json.loads(tin.extractfile("MANIFEST.json").read())
        members = {m.name: (m, tin.extractfile(m).read() if m.isfile() else None) for m in tin.getmembers()}
        data = change(members["data/" + name][1])
        if fix_manifest:
            manifest["files"][name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        for mname, (m, content) in members.items():
            if mname == "MANIFEST.json":
                content = json.dumps(manifest).encode()
            elif mname == "data/" + name:
                content = data
            m.size = len(content)
            tout.addfile(m, io.BytesIO(content))


def test_tampered_backups_are_refused_naming_what_differs(anchored, tmp_path):
    cfg = anchored["cfg"]
    backup(cfg.paths.data_dir, tmp_path / "b.tar.gz", by="ops")
    root5 = anchored["anchors"][0]["root"]
    # anchors.jsonl claims another root for the first 5 batches (manifest made consistent): the recomputed root
    # from the journal disagrees
    other = "0x" + "ab" * 32
    _rewrite(tmp_path / "b.tar.gz", tmp_path / "t1.tar.gz", "chain/anchors.jsonl",
             lambda b: b.replace(root5.encode(), other.encode()), fix_manifest=True)
    with pytest.raises(BackupError, match=rf"anchor 0: the restored journal's first 5 batches give root {root5}, "
                                          rf"the anchor recorded {other}"):
        restore(tmp_path / "t1.tar.gz", tmp_path / "r1", TREE, by="ops")
    # a file changed without the manifest
    _rewrite(tmp_path / "b.tar.gz", tmp_path / "t2.tar.gz", "audit/trail.jsonl",
             lambda b: b.replace(b"misread", b"misreaD"), fix_manifest=False)
    with pytest.raises(BackupError, match="audit/trail.jsonl differs from the manifest"):
        restore(tmp_path / "t2.tar.gz", tmp_path / "r2", TREE, by="ops")
    # ... and with the manifest: the audit trail names the edited entry and field
    _rewrite(tmp_path / "b.tar.gz", tmp_path / "t3.tar.gz", "audit/trail.jsonl",
             lambda b: b.replace(b"misread", b"misreaD"), fix_manifest=True)
    with pytest.raises(audit.AuditError, match="entry 0: field 'reason' was edited"):
        restore(tmp_path / "t3.tar.gz", tmp_path / "r3", TREE, by="ops")
