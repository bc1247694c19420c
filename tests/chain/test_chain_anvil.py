"""End to end on a real anvil node: deploy, anchor, export, verify through the CLI, node outage."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import threading
import time

import pytest

from tanjian.commands import chain as cli
from chain.anchor import AnchorService, anchors
from chain.bundle import export_batch
from chain.deploy import ensure_deployment
from chain.keys import create_keystore, load_account
from chain.ledger import Ledger
from chain.node import connect, free_port, is_up
from chain.verify import verify_files
from tanjian.simulator.anvil import find_anvil, start_anvil
from workspace.batch import Reading, encode_batch
from workspace.errors import ChainError
from workspace.journal import Journal

pytestmark = [pytest.mark.requires_anvil, pytest.mark.slow]

T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module", autouse=True)
def anvil_available():
    try:
        find_anvil()
    except ChainError as exc:
        pytest.skip(str(exc))


def append_batches(journal_dir, start, stop):
    with Journal(journal_dir, writer=True) as j:
        for seq in range(start, stop):
            t = T0 + dt.timedelta(minutes=5 * seq)
            j.append(encode_batch("plant18", seq, "modbus-tcp://127.0.0.1:5020",
                                  [Reading("E-01", t, 120345.5 + seq, rate=41.2)]))


def verify_cli(capsys, batch_path, bundle_path, rpc):
    args = argparse.Namespace(batch_file=batch_path, bundle_file=bundle_path, rpc=rpc, offline=False,
                              config=None)
    code = cli.cmd_verify(args)
    return code, capsys.readouterr().out


def test_anchor_export_verify_outage_and_restart(tmp_path, capsys, caplog):
    jdir, state, out = tmp_path / "journal", tmp_path / "chain", tmp_path / "out"
    create_keystore(state / "gateway.json", "pw", kdf="pbkdf2")
    gateway = load_account(state / "gateway.json", "pw")
    append_batches(jdir, 0, 5)
    port = free_port()
    node = start_anvil(port)
    try:
        w3 = connect(node.rpc_url)
        assert w3.eth.chain_id == 31337
        info = ensure_deployment(w3, state, gateway.address, plant="plant18")
        with Ledger(jdir, state) as ledger:
            svc = AnchorService(w3, info["address"], gateway, ledger, state)
            rec = svc.anchor_once()
            assert rec["tree_size"] == 5 and rec["chain_id"] == 31337
            assert svc.anchor_once() is None

            batch_path, bundle_path = export_batch(jdir, ledger, state, 2, out)
            code, text = verify_cli(capsys, batch_path, bundle_path, node.rpc_url)
            assert code == 0, text
            assert text.count("PASS") == 8 and "VERIFIED: batch 2" in text

            tampered = out / "tampered" / batch_path.name
            tampered.parent.mkdir()
            tampered.write_bytes(batch_path.read_bytes().replace(b"120347.5", b"120347.0"))
            code, text = verify_cli(capsys, tampered, bundle_path, node.rpc_url)
            assert code == 1
            assert "FAIL  leaf" in text and "batch 2" in text and text.count("SKIP") == 6

            # the node goes away; batches keep arriving
            node.stop()
            assert not is_up(w3)
            append_batches(jdir, 5, 8)
            with caplog.at_level(logging.WARNING, logger="chain.anchor"):
                assert svc.anchor_once() is None
            assert node.rpc_url in caplog.text and "unreachable" in caplog.text
            assert [r["tree_size"] for r in anchors(state)] == [5]

            # it comes back as a fresh chain on the same port: redeploy, then catch up in one anchor
            node = start_anvil(port)
            info2 = ensure_deployment(w3, state, gateway.address, plant="plant18")
            svc.set_contract(info2["address"])
            rec2 = svc.anchor_once()
            assert rec2["tree_size"] == 8
            assert svc.anchor_once() is None
            # the records of the vanished chain were set aside: only the new anchor counts
            assert [r["tree_size"] for r in anchors(state)] == [8]
            assert len(list(state.glob("anchors.lost-31337-*.jsonl"))) == 1
            assert len(svc.registry.events.Anchored.get_logs(from_block=0)) == 1

            for seq in (2, 6):  # a batch anchored before the outage and one journaled during it
                batch_path, bundle_path = export_batch(jdir, ledger, state, seq, out)
                assert json.loads(bundle_path.read_text())["tree"]["size"] == 8
                code, text = verify_cli(capsys, batch_path, bundle_path, node.rpc_url)
                assert code == 0, text
    finally:
        node.stop()
    assert not node.running


def test_cli_commands_against_anvil(tmp_path, capsys, monkeypatch):
    from workspace.config import EXAMPLE

    monkeypatch.delenv("TANJIAN_KEYSTORE_PASSWORD", raising=False)
    data = tmp_path / "data"
    append_batches(data / "journal", 0, 4)
    with start_anvil() as node:
        text = EXAMPLE.read_text(encoding="utf-8")
        assert "rpc_url: http://127.0.0.1:8545" in text and "data_dir: var" in text
        cfg = tmp_path / "plant.yaml"
        cfg.write_text(text.replace("rpc_url: http://127.0.0.1:8545", f"rpc_url: {node.rpc_url}")
                       .replace("data_dir: var", f"data_dir: {data}"), encoding="utf-8")
        parser = argparse.ArgumentParser(prog="tanjian")
        parser.add_argument("--config")
        cli.add_commands(parser.add_subparsers(dest="command", required=True))

        def run(*argv):
            args = parser.parse_args(["--config", str(cfg), *argv])
            code = args.func(args)
            return code, capsys.readouterr()

        code, io = run("export", "1", "--out", str(tmp_path / "out"))
        assert code == 1 and "batch 1 is not anchored yet; last anchor covers 0 batches" in io.err
        assert run("chain", "keygen")[0] == 0
        assert (data / "chain" / "keystore.password").stat().st_mode & 0o777 == 0o600
        code, io = run("chain", "deploy")
        assert code == 0 and "gateway registered" in io.out
        code, io = run("anchor", "--once")
        assert code == 0 and "covering 4 batches" in io.out
        code, io = run("anchor", "--once")
        assert code == 0 and "nothing anchored" in io.out
        code, io = run("export", "1", "--out", str(tmp_path / "out"))
        assert code == 0
        batch_file, bundle_file = io.out.split()
        code, io = run("verify", batch_file, bundle_file)  # node from the configuration
        assert code == 0 and io.out.count("PASS") == 8, io.out
        code, io = run("verify", "--offline", batch_file, bundle_file)
        assert code == 0 and io.out.count("SKIP") == 3


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_running_service_rides_out_a_node_restart_with_its_chain_kept(tmp_path, caplog):
    """The anchoring loop runs while anvil (chain state kept on disk) is stopped and restarted: it says
    so, keeps signing, and catches up in order, with no gap, no duplicate and the same contracts."""
    jdir, state, out = tmp_path / "journal", tmp_path / "chain", tmp_path / "out"
    anvil_dir = tmp_path / "anvil"
    create_keystore(state / "gateway.json", "pw", kdf="pbkdf2")
    gateway = load_account(state / "gateway.json", "pw")
    append_batches(jdir, 0, 3)
    port = free_port()
    node = start_anvil(port, anvil_dir)
    stop = threading.Event()
    try:
        w3 = connect(node.rpc_url, timeout=2)
        info = ensure_deployment(w3, state, gateway.address, plant="plant18")
        with Ledger(jdir, state) as ledger:
            svc = AnchorService(w3, info["address"], gateway, ledger, state, confirm_timeout=10)
            thread = threading.Thread(target=svc.run, args=(0.3, stop), daemon=True)
            with caplog.at_level(logging.WARNING, logger="chain.anchor"):
                thread.start()
                assert wait_for(lambda: [r["tree_size"] for r in anchors(state)] == [3])
                append_batches(jdir, 3, 5)
                assert wait_for(lambda: [r["tree_size"] for r in anchors(state)] == [3, 5])
                node.stop()  # mid-run; anvil writes its chain to anvil_dir
                append_batches(jdir, 5, 7)
                assert wait_for(lambda: "unreachable" in caplog.text)
                append_batches(jdir, 7, 9)
                assert [r["tree_size"] for r in anchors(state)] == [3, 5]
                node = start_anvil(port, anvil_dir)  # the same chain comes back
                assert wait_for(lambda: anchors(state)[-1]["tree_size"] == 9)
            stop.set()
            thread.join(30)
            assert node.rpc_url in caplog.text
            sizes = [r["tree_size"] for r in anchors(state)]
            # in order, no duplicate
            assert sizes[:2] == [3, 5] and sizes[-1] == 9 and sizes == sorted(set(sizes))
            events = svc.registry.events.Anchored.get_logs(from_block=0)
            assert [e["args"]["treeSize"] for e in events] == sizes  # chain and record agree
            # nothing redeployed
            assert ensure_deployment(w3, state, gateway.address, plant="plant18") == info
            # a batch anchored before the outage proves consistency with every root anchored since
            batch_path, bundle_path = export_batch(jdir, ledger, state, 1, out)
            bundle = json.loads(bundle_path.read_text())
            assert bundle["tree"]["size"] == 3
            assert [c["size"] for c in bundle["consistency"]] == sizes[1:]
            report = verify_files(batch_path, bundle_path, w3=w3, expected_contract=info["address"])
            assert report.ok, report.render()
    finally:
        stop.set()
        node.stop()


def test_methodology_and_quota_commands_against_anvil(tmp_path, capsys, monkeypatch):
    from workspace.config import EXAMPLE

    monkeypatch.delenv("TANJIAN_KEYSTORE_PASSWORD", raising=False)
    data = tmp_path / "data"
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "method.yaml").write_text("id: CN-GHG-MACH\n")
    with start_anvil() as node:
        cfg = tmp_path / "plant.yaml"
        cfg.write_text(EXAMPLE.read_text(encoding="utf-8")
                       .replace("rpc_url: http://127.0.0.1:8545", f"rpc_url: {node.rpc_url}")
                       .replace("data_dir: var", f"data_dir: {data}"), encoding="utf-8")
        parser = argparse.ArgumentParser(prog="tanjian")
        parser.add_argument("--config")
        cli.add_commands(parser.add_subparsers(dest="command", required=True))
        dev0 = connect(node.rpc_url).eth.accounts[0]  # association and regulator on a dev chain

        def run(*argv):
            args = parser.parse_args(["--config", str(cfg), *argv])
            code = args.func(args)
            return code, capsys.readouterr()

        assert run("chain", "keygen")[0] == 0 and run("chain", "deploy")[0] == 0
        code, io = run("methodology", "publish", str(pkg), "--id", "CN-GHG-MACH", "--version", "2026.1",
                       "--effective-from", "2026-01-01")
        assert code == 1 and "--keystore FILE" in io.err
        code, io = run("methodology", "publish", str(pkg), "--id", "CN-GHG-MACH", "--version", "2026.1",
                       "--effective-from", "2026-01-01", "--from", dev0)
        assert code == 0, io.err
        code, io = run("methodology", "hash", str(pkg))
        sha = io.out.strip()
        assert len(sha) == 64
        code, io = run("methodology", "show", "--id", "CN-GHG-MACH", "--at", "2026-05-01")
        assert code == 0 and f"2026.1: package {sha}" in io.out
        code, io = run("methodology", "check", str(pkg), "--id", "CN-GHG-MACH", "--at", "2026-05-01")
        assert code == 0 and "as published" in io.out
        (pkg / "method.yaml").write_text("id: CN-GHG-MACH  # edited\n")
        code, io = run("methodology", "check", str(pkg), "--id", "CN-GHG-MACH", "--at", "2026-05-01")
        assert code == 1 and sha in io.err and "refusing to account" in io.err

        code, io = run("quota", "set", "E1", "2026", "1200", "--author", "li.wei", "--reason", "letter 7")
        assert code == 0
        code, io = run("quota", "show", "E1", "2026")
        assert code == 0 and "1200 t CO2e (hand-entered)" in io.out
        code, io = run("quota", "set", "E1", "2026", "1150", "--author", "regulator", "--reason", "MEE-41",
                       "--on-chain", "--from", dev0)
        assert code == 0, io.err
        code, io = run("quota", "show", "E1", "2026")
        assert code == 0 and "1150 t CO2e (on chain, set by the regulator)" in io.out
        assert "override" in io.out and "overrides the hand-entered one" in io.out
