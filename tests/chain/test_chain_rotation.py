"""Gateway key rotation through the DeviceRegistry (eth-tester chain, the real contracts): the new key anchors the
plant's next batches in the same log, the old key is revoked yet its earlier anchor stays valid at its block."""

from __future__ import annotations

import datetime as dt
import os
import stat

import pytest

from chain.anchor import AnchorService, anchors
from chain.deploy import default_deployer, ensure_deployment
from chain.keys import create_keystore, keystore_address, load_account, write_password_file
from chain.ledger import Ledger
from chain.node import connect
from chain.registry import DEVICE_REGISTRY, KeyKind, from_deployment
from chain.rotation import rotate_gateway
from workspace.batch import Reading, encode_batch
from workspace.errors import ChainError
from workspace.journal import Journal


def _append(journal_dir, n, start_minute=0):
    t0 = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
    with Journal(journal_dir, writer=True) as j:
        for _ in range(n):
            seq = j.next_seq
            j.append(encode_batch("plant-18", seq, "test",
                                  [Reading("M-1", t0 + dt.timedelta(minutes=start_minute + seq), 1.0 + seq,
                                           float("nan"))]))


def test_rotation_hands_anchoring_to_the_new_key_and_revokes_the_old(tmp_path):
    w3 = connect("tester")
    chain_dir, journal = tmp_path / "chain", tmp_path / "journal"
    ks, pw = chain_dir / "gateway.keystore.json", chain_dir / "keystore.password"
    chain_dir.mkdir()
    write_password_file(pw, "a test keystore password")
    create_keystore(ks, "a test keystore password", kdf="pbkdf2")
    old = load_account(ks, password_file=pw)
    info = ensure_deployment(w3, chain_dir, old.address, plant="plant-18")
    _append(journal, 3)
    with Ledger(journal, chain_dir) as ledger:
        first = AnchorService(w3, info["address"], old, ledger, chain_dir).anchor_once()
    assert first["tree_size"] == 3 and first["gateway"] == old.address

    r = rotate_gateway(w3, info, ks, pw, "plant-18", admin=default_deployer(w3))
    assert r.old == old.address and r.new == keystore_address(ks) != old.address
    assert r.retired_keystore.exists() and stat.S_IMODE(ks.stat().st_mode) == 0o600
    new = load_account(ks, password_file=pw)
    assert new.address == r.new and w3.eth.get_balance(new.address) >= r.moved_wei > 0

    devices = from_deployment(w3, info, DEVICE_REGISTRY)
    kind, _, _, _, revoked_at = devices.functions.keyOf(old.address).call()
    assert kind == KeyKind.GATEWAY and revoked_at == r.revoked_in_block
    # the old key's anchor stays valid at its block; the old key can no longer anchor
    assert devices.functions.activeAt(old.address, KeyKind.GATEWAY, first["block_number"]).call()
    _append(journal, 2)
    with Ledger(journal, chain_dir) as ledger:
        with pytest.raises(ChainError, match="was revoked"):
            AnchorService(w3, info["address"], old, ledger, chain_dir).plant()
        second = AnchorService(w3, info["address"], new, ledger, chain_dir).anchor_once()
    assert second["tree_size"] == 5 and second["gateway"] == new.address and second["plant"] == "plant-18"
    assert [a["tree_size"] for a in anchors(chain_dir)] == [3, 5]  # one plant log, continued
    with pytest.raises(ChainError, match="revoked"):  # a second rotation of a revoked key's file is refused
        os.replace(ks, tmp_path / "aside.json")
        os.replace(r.retired_keystore, ks)
        (ks.with_name(ks.name + ".next")).write_text((tmp_path / "aside.json").read_text())
        rotate_gateway(w3, info, ks, pw, "plant-18", admin=default_deployer(w3))


@pytest.mark.requires_anvil
def test_rotate_key_command_against_anvil(tmp_path, capsys, monkeypatch):
    """`tanjian chain rotate-key` on a real node: anchoring goes on with the new key and a batch anchored after the
    rotation verifies with all checks passing; the rotation is an audit entry."""
    import argparse

    from tanjian.commands import chain as cli
    from tanjian.simulator.anvil import find_anvil, start_anvil
    from workspace import audit
    from workspace.config import EXAMPLE

    try:
        find_anvil()
    except ChainError as exc:
        pytest.skip(str(exc))
    monkeypatch.delenv("TANJIAN_KEYSTORE_PASSWORD", raising=False)
    data = tmp_path / "data"
    _append(data / "journal", 3)
    with start_anvil() as node:
        text = EXAMPLE.read_text(encoding="utf-8")
        cfg = tmp_path / "plant.yaml"
        cfg.write_text(text.replace("rpc_url: http://127.0.0.1:8545", f"rpc_url: {node.rpc_url}")
                       .replace("data_dir: var", f"data_dir: {data}"), encoding="utf-8")
        parser = argparse.ArgumentParser(prog="tanjian")
        parser.add_argument("--config")
        cli.add_commands(parser.add_subparsers(dest="command", required=True))

        def run(*argv):
            args = parser.parse_args(["--config", str(cfg), *argv])
            return args.func(args), capsys.readouterr()

        assert run("chain", "keygen")[0] == 0
        assert run("chain", "deploy")[0] == 0
        code, io = run("anchor", "--once")
        assert code == 0 and "covering 3 batches" in io.out
        old = keystore_address(data / "chain" / "gateway.keystore.json")
        code, io = run("chain", "rotate-key", "--reason", "yearly rotation")
        assert code == 0 and f"gateway key rotated: {old}" in io.out, io.err
        new = keystore_address(data / "chain" / "gateway.keystore.json")
        assert new != old
        _append(data / "journal", 2)
        code, io = run("anchor", "--once")
        assert code == 0 and "covering 5 batches" in io.out
        code, io = run("export", "4", "--out", str(tmp_path / "out"))
        assert code == 0
        batch_file, bundle_file = io.out.split()
        code, io = run("verify", batch_file, bundle_file)
        assert code == 0 and io.out.count("PASS") == 8 and "FAIL" not in io.out, io.out
        [e] = [e for _, e in audit.entries(data) if e["action"] == "key_rotate"]
        assert e["what"] == f"gateway {old} -> {new}" and e["reason"] == "yearly rotation"
