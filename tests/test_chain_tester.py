"""Contract, anchoring, export and verification on the in-process eth-tester chain (py-evm)."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest
from eth_account import Account
from web3 import Web3

from chain import merkle
from chain._tx import send
from chain.anchor import AnchorService, anchors
from chain.bundle import export_batch
from chain.deploy import deploy_registry, ensure_deployment, read_deployment, registry
from chain.ledger import Ledger
from chain.node import connect, free_port
from chain.verify import verify_bundle, verify_files
from workspace.batch import Reading, encode_batch
from workspace.errors import ChainError
from workspace.journal import Journal

T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.timezone.utc)
R1, R2, R3 = (bytes([i]) * 32 for i in (1, 2, 3))


def batch(seq: int) -> bytes:
    t = T0 + dt.timedelta(minutes=5 * seq)
    return encode_batch("plant18", seq, "modbus-tcp://127.0.0.1:5020", [
        Reading("E-01", t, 120345.5 + seq, rate=41.2, voltage=229.8, current=60.1, power_factor=0.93),
        Reading("W-01", t, 1520.25 + 0.125 * seq),
    ])


def append_batches(journal_dir, start, stop):
    with Journal(journal_dir, writer=True) as j:
        for seq in range(start, stop):
            assert j.append(batch(seq)) == seq


@pytest.fixture
def w3():
    return connect("tester")


@pytest.fixture
def gateway():
    return Account.create()


@pytest.fixture
def reg(w3, gateway, tmp_path):
    info = ensure_deployment(w3, tmp_path / "chain", gateway.address)
    return registry(w3, info["address"])


@pytest.fixture
def plant(tmp_path, w3, gateway, reg):
    """A journal of 6 batches, its ledger, and an anchor service on the tester chain."""
    jdir, state = tmp_path / "journal", tmp_path / "chain"
    append_batches(jdir, 0, 6)
    ledger = Ledger(jdir, state)
    svc = AnchorService(w3, reg.address, gateway, ledger, state)
    yield jdir, state, ledger, svc
    ledger.close()


# -- contract --------------------------------------------------------------------------------------
def test_deploy_registers_and_funds_the_gateway(w3, gateway, reg, tmp_path):
    info = read_deployment(tmp_path / "chain")
    assert info["address"] == reg.address and info["chain_id"] == w3.eth.chain_id
    assert reg.functions.owner().call() == w3.eth.accounts[0]
    assert reg.functions.isGateway(gateway.address).call()
    assert w3.eth.get_balance(gateway.address) >= 10**17
    assert reg.functions.latest().call() == [b"\x00" * 32, 0]
    # a second call reuses the deployment
    assert ensure_deployment(w3, tmp_path / "chain", gateway.address) == info


def test_only_owner_sets_gateways(w3, reg):
    stranger = w3.eth.accounts[3]
    with pytest.raises(ChainError, match="NotOwner"):
        send(w3, reg.functions.setGateway(stranger, True), stranger)
    assert not reg.functions.isGateway(stranger).call()
    r = send(w3, reg.functions.setGateway(stranger, True), w3.eth.accounts[0])
    (ev,) = reg.events.GatewayChanged().process_receipt(r)
    assert ev["args"]["gateway"] == stranger and ev["args"]["active"] is True
    assert reg.functions.isGateway(stranger).call()


def test_anchor_rules_and_event(w3, reg, gateway):
    with pytest.raises(ChainError, match="NotGateway"):
        send(w3, reg.functions.anchor(R1, 3, 100, 200), w3.eth.accounts[4])
    r = send(w3, reg.functions.anchor(R1, 3, 100, 200), gateway)
    (ev,) = reg.events.Anchored().process_receipt(r)
    assert ev["args"]["root"] == R1 and ev["args"]["treeSize"] == 3
    assert ev["args"]["gateway"] == gateway.address
    assert (ev["args"]["periodStart"], ev["args"]["periodEnd"]) == (100, 200)
    size, start, end, gw, ts, block = reg.functions.anchorOf(R1).call()
    assert (size, start, end, gw, block) == (3, 100, 200, gateway.address, r["blockNumber"])
    assert ts == w3.eth.get_block(r["blockNumber"])["timestamp"]
    assert reg.functions.latest().call() == [R1, 3]
    with pytest.raises(ChainError, match="RootAlreadyAnchored"):
        send(w3, reg.functions.anchor(R1, 4, 100, 200), gateway)
    with pytest.raises(ChainError, match=r"TreeSizeNotIncreasing\(3, 3\)"):
        send(w3, reg.functions.anchor(R2, 3, 100, 200), gateway)
    with pytest.raises(ChainError, match="TreeSizeNotIncreasing"):
        send(w3, reg.functions.anchor(R2, 2, 100, 200), gateway)
    with pytest.raises(ChainError, match="InvalidPeriod"):
        send(w3, reg.functions.anchor(R2, 4, 300, 200), gateway)
    assert reg.functions.anchorOf(R2).call()[0] == 0
    send(w3, reg.functions.setGateway(gateway.address, False), w3.eth.accounts[0])
    with pytest.raises(ChainError, match="NotGateway"):
        send(w3, reg.functions.anchor(R3, 5, 100, 200), gateway)
    assert reg.functions.latest().call() == [R1, 3]


# -- anchoring -------------------------------------------------------------------------------------
def test_anchor_service_anchors_the_ledger_root_once(plant, reg, w3, gateway):
    jdir, state, ledger, svc = plant
    rec = svc.anchor_once()
    assert rec["tree_size"] == 6
    assert rec["root"] == Web3.to_hex(merkle.root([batch(s) for s in range(6)]))
    assert rec["period_start"] == int(T0.timestamp())
    assert rec["period_end"] == int((T0 + dt.timedelta(minutes=25)).timestamp())
    assert rec["gateway"] == gateway.address and rec["contract"] == reg.address
    assert rec["chain_id"] == w3.eth.chain_id
    assert reg.functions.anchorOf(bytes.fromhex(rec["root"][2:])).call()[0] == 6
    assert svc.anchor_once() is None  # nothing new: no second transaction for the same root
    assert anchors(state) == [rec] and svc.last_anchor() == rec
    append_batches(jdir, 6, 9)
    rec2 = svc.anchor_once()
    assert rec2["tree_size"] == 9
    assert rec2["period_start"] == int((T0 + dt.timedelta(minutes=30)).timestamp())
    assert [r["tree_size"] for r in anchors(state)] == [6, 9]
    # the two anchored roots are consistent
    proof = ledger.consistency_proof(6, 9)
    r6, r9 = bytes.fromhex(rec["root"][2:]), bytes.fromhex(rec2["root"][2:])
    assert merkle.verify_consistency(6, 9, r6, r9, proof)


def test_anchor_missing_from_the_record_is_recovered_from_events(plant, caplog):
    jdir, state, ledger, svc = plant
    rec = svc.anchor_once()
    (state / "anchors.jsonl").write_text(json.dumps(rec)[:40])  # crash: torn record
    append_batches(jdir, 6, 7)
    with caplog.at_level(logging.WARNING, logger="chain.anchor"):
        rec2 = svc.anchor_once()
    assert "found on chain but missing" in caplog.text
    assert [(r["root"], r["tree_size"], r["tx_hash"]) for r in anchors(state)] == [
        (rec["root"], 6, rec["tx_hash"]), (rec2["root"], 7, rec2["tx_hash"])]


def test_node_down_then_catch_up_without_duplicates(tmp_path, plant, w3, reg, gateway, caplog):
    jdir, state, ledger, _ = plant
    dead_url = f"http://127.0.0.1:{free_port()}"
    svc = AnchorService(connect(dead_url, timeout=2), reg.address, gateway, ledger, state)
    with caplog.at_level(logging.WARNING, logger="chain.anchor"):
        assert svc.anchor_once() is None
        append_batches(jdir, 6, 8)
        assert svc.anchor_once() is None
    assert dead_url in caplog.text and "unreachable" in caplog.text
    assert anchors(state) == []
    # the node comes back (here: the tester chain holding the registry)
    svc.w3 = w3
    svc.set_contract(reg.address)
    rec = svc.anchor_once()
    assert rec["tree_size"] == 8  # one anchor covers everything journaled during the outage
    assert svc.anchor_once() is None
    assert len(anchors(state)) == 1
    assert len(reg.events.Anchored.get_logs(from_block=0)) == 1


# -- export and verify -----------------------------------------------------------------------------
@pytest.fixture
def exported(plant, tmp_path):
    jdir, state, ledger, svc = plant
    svc.anchor_once()
    append_batches(jdir, 6, 8)
    svc.anchor_once()
    return export_batch(jdir, ledger, state, 3, tmp_path / "out")


def test_export_writes_canonical_bytes_and_the_earliest_covering_anchor(exported, plant):
    batch_path, bundle_path = exported
    assert batch_path.name == "batch-00000003.json" and bundle_path.name == "batch-00000003.proof.json"
    assert batch_path.read_bytes() == batch(3)
    bundle = json.loads(bundle_path.read_text())
    assert bundle["format"] == "tanjian.proof/1"
    assert bundle["tree"]["size"] == 6  # first anchor covering seq 3, not the newer one of 8
    assert bundle["batch"]["leaf_hash"] == Web3.to_hex(merkle.leaf_hash(batch(3)))


def test_export_of_an_unanchored_batch_says_so(exported, plant, tmp_path):
    jdir, state, ledger, svc = plant
    append_batches(jdir, 8, 9)
    with pytest.raises(ChainError, match="batch 8 is not anchored yet; last anchor covers 8 batches"):
        export_batch(jdir, ledger, state, 8, tmp_path / "out")


def test_verify_passes_all_checks(exported, w3):
    report = verify_files(*exported, w3=w3)
    assert [c.name for c in report.checks] == ["format", "leaf", "inclusion", "chain_id", "anchor", "gateway"]
    assert report.ok and report.failed is None, report.render()
    assert "VERIFIED: batch 3" in report.render()


def test_offline_verification_skips_the_chain(exported):
    report = verify_files(*exported)
    assert [c.status for c in report.checks] == ["pass"] * 3 + ["skip"] * 3
    assert report.offline_ok and not report.ok


def test_one_changed_value_fails_at_leaf_naming_the_batch(exported, w3):
    batch_path, bundle_path = exported
    data = batch_path.read_bytes()
    assert data.count(b"120348.5") == 1
    batch_path.write_bytes(data.replace(b"120348.5", b"120348.6"))
    report = verify_files(batch_path, bundle_path, w3=w3)
    assert report.failed == "leaf"
    assert "batch 3" in report.check("leaf").detail
    assert [c.status for c in report.checks] == ["pass", "fail"] + ["skip"] * 4
    assert "NOT VERIFIED: batch 3 fails 'leaf'" in report.render()


def test_tampered_proof_fails_at_inclusion(exported, w3):
    batch_path, bundle_path = exported
    bundle = json.loads(bundle_path.read_text())
    p = bundle["tree"]["inclusion_proof"][1]
    bundle["tree"]["inclusion_proof"][1] = p[:10] + ("0" if p[10] != "0" else "1") + p[11:]
    report = verify_bundle(batch_path.read_bytes(), bundle, w3)
    assert report.failed == "inclusion"


def test_root_never_anchored_fails_at_anchor(exported, plant, w3):
    jdir, state, ledger, svc = plant
    batch_path, bundle_path = exported
    bundle = json.loads(bundle_path.read_text())
    # a self-consistent bundle over a tree of 7 leaves: valid proof, but that root was never anchored
    bundle["tree"] = {"size": 7, "root": Web3.to_hex(ledger.root(7)),
                      "inclusion_proof": [Web3.to_hex(p) for p in ledger.inclusion_proof(3, 7)]}
    report = verify_bundle(batch_path.read_bytes(), bundle, w3)
    assert report.failed == "anchor", report.render()
    assert "never anchored" in report.check("anchor").detail
    assert [c.status for c in report.checks[:3]] == ["pass"] * 3


def test_wrong_chain_and_malformed_bundle(exported, w3):
    batch_path, bundle_path = exported
    bundle = json.loads(bundle_path.read_text())
    bundle["anchor"]["chain_id"] = 1
    assert verify_bundle(batch_path.read_bytes(), bundle, w3).failed == "chain_id"
    del bundle["tree"]["root"]
    report = verify_bundle(batch_path.read_bytes(), bundle, w3)
    assert report.failed == "format" and "root" in report.check("format").detail


def test_revoked_gateway_fails_at_gateway(exported, w3, reg, gateway):
    send(w3, reg.functions.setGateway(gateway.address, False), w3.eth.accounts[0])
    report = verify_files(*exported, w3=w3)
    assert report.failed == "gateway"


def test_fresh_chain_gets_a_new_deployment(w3, gateway, tmp_path, caplog):
    state = tmp_path / "chain"
    first = ensure_deployment(w3, state, gateway.address)
    (state / "anchors.jsonl").write_text('{"root": "0x01", "tree_size": 3}\n')
    other = connect("tester")  # another chain: the recorded address has no code there
    with caplog.at_level(logging.WARNING, logger="chain.deploy"):
        second = ensure_deployment(other, state, gateway.address)
    assert "deploying a new registry" in caplog.text
    assert read_deployment(state) == second
    # anchors of the vanished chain are set aside, not offered as proofs any more
    assert anchors(state) == []
    assert len(list(state.glob("anchors.lost-*.jsonl"))) == 1
    assert len(other.eth.get_code(second["address"])) > 0
    # same deployer, same nonce: a fresh chain puts the registry at the same address again
    assert second["address"] == first["address"]
    assert other.eth.get_code(second["address"]) != b""
    assert deploy_registry(other) != second["address"]
