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
from chain.registry import DEVICE_REGISTRY, KeyKind, from_deployment, id32
from chain.signatures import SignatureLog, recover_signer, sign_leaf
from chain.verify import CHECKS, verify_bundle, verify_files
from workspace.batch import Reading, encode_batch
from workspace.errors import ChainError
from workspace.journal import Journal

T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.timezone.utc)
PLANT = "plant18"


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
    info = ensure_deployment(w3, tmp_path / "chain", gateway.address, plant=PLANT)
    return registry(w3, info["address"])


@pytest.fixture
def devices(w3, tmp_path, reg):
    return from_deployment(w3, read_deployment(tmp_path / "chain"), DEVICE_REGISTRY)


@pytest.fixture
def plant(tmp_path, w3, gateway, reg):
    """A journal of 6 batches, its ledger, and an anchor service on the tester chain."""
    jdir, state = tmp_path / "journal", tmp_path / "chain"
    append_batches(jdir, 0, 6)
    ledger = Ledger(jdir, state)
    svc = AnchorService(w3, reg.address, gateway, ledger, state)
    yield jdir, state, ledger, svc
    ledger.close()


# -- deployment ----------------------------------------------------------------------------------
def test_deploy_registers_and_funds_the_gateway(w3, gateway, reg, devices, tmp_path):
    info = read_deployment(tmp_path / "chain")
    assert info["address"] == reg.address and info["chain_id"] == w3.eth.chain_id
    assert devices.functions.admin().call() == w3.eth.accounts[0]
    assert reg.functions.isGateway(gateway.address).call()
    assert devices.functions.keyOf(gateway.address).call()[:3] == [
        KeyKind.GATEWAY, id32(PLANT), w3.eth.accounts[0]]
    assert w3.eth.get_balance(gateway.address) >= 10**17
    assert reg.functions.latest(id32(PLANT)).call() == [b"\x00" * 32, 0]
    # a second call reuses the deployment
    assert ensure_deployment(w3, tmp_path / "chain", gateway.address, plant=PLANT) == info


def test_a_revoked_gateway_is_refused_by_deployment_and_anchoring(plant, w3, gateway, devices, tmp_path):
    jdir, state, ledger, svc = plant
    send(w3, devices.functions.revoke(gateway.address), w3.eth.accounts[0])
    with pytest.raises(ChainError, match="revoked in block .*create a new one"):
        ensure_deployment(w3, state, gateway.address, plant=PLANT)
    svc.set_contract(svc.contract_address)  # forget the cached registration
    with pytest.raises(ChainError, match=f"gateway {gateway.address} was revoked in block"):
        svc.anchor_once()


# -- anchoring -------------------------------------------------------------------------------------
def test_anchor_service_anchors_the_ledger_root_once(plant, reg, w3, gateway):
    jdir, state, ledger, svc = plant
    rec = svc.anchor_once()
    assert rec["tree_size"] == 6
    assert rec["root"] == Web3.to_hex(merkle.root([batch(s) for s in range(6)]))
    assert rec["period_start"] == int(T0.timestamp())
    assert rec["period_end"] == int((T0 + dt.timedelta(minutes=25)).timestamp())
    assert rec["gateway"] == gateway.address and rec["contract"] == reg.address
    assert rec["chain_id"] == w3.eth.chain_id and rec["plant"] == PLANT
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
    # every anchored leaf is signed by the gateway key, beside the ledger
    sigs = SignatureLog(state)
    assert len(sigs) == 9 and (state / "signatures.bin").stat().st_size == 9 * 65
    assert {recover_signer(ledger.leaf_hash(i), sigs.get(i)) for i in range(9)} == {gateway.address}


def test_leaves_are_signed_even_while_the_node_is_down(plant, reg, gateway):
    jdir, state, ledger, _ = plant
    svc = AnchorService(connect(f"http://127.0.0.1:{free_port()}", timeout=2), reg.address, gateway, ledger,
                        state)
    assert svc.anchor_once() is None
    assert len(SignatureLog(state)) == 6
    (state / "signatures.bin").write_bytes((state / "signatures.bin").read_bytes()[:-10])  # torn record
    assert len(SignatureLog(state)) == 5


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
    """Batch 3 exported under the anchor of 6 batches, with later anchors of 8 and 10 known."""
    jdir, state, ledger, svc = plant
    svc.anchor_once()
    append_batches(jdir, 6, 8)
    svc.anchor_once()
    append_batches(jdir, 8, 10)
    svc.anchor_once()
    return export_batch(jdir, ledger, state, 3, tmp_path / "out")


def tampered(exported, change):
    """(batch bytes, bundle) of the export after ``change(bundle)`` edited the bundle in place."""
    batch_path, bundle_path = exported
    bundle = json.loads(bundle_path.read_text())
    change(bundle)
    return batch_path.read_bytes(), bundle


def flip(h: str, pos: int = 10) -> str:
    """A hex string with one nibble changed."""
    return h[:pos] + ("0" if h[pos] != "0" else "1") + h[pos + 1:]


def test_export_writes_canonical_bytes_and_the_earliest_covering_anchor(exported, plant):
    batch_path, bundle_path = exported
    assert batch_path.name == "batch-00000003.json" and bundle_path.name == "batch-00000003.proof.json"
    assert batch_path.read_bytes() == batch(3)
    bundle = json.loads(bundle_path.read_text())
    assert bundle["format"] == "tanjian.proof/2"
    assert bundle["tree"]["size"] == 6  # first anchor covering seq 3, not the newer ones
    assert bundle["batch"]["leaf_hash"] == Web3.to_hex(merkle.leaf_hash(batch(3)))
    assert [(c["size"], len(c["proof"])) for c in bundle["consistency"]] == [(8, 3), (10, 4)]
    assert bundle["signature"]["scheme"] == "eip191-personal-sign"
    assert bundle["anchor"]["plant"] == PLANT


def test_export_of_an_unanchored_batch_says_so(exported, plant, tmp_path):
    jdir, state, ledger, svc = plant
    append_batches(jdir, 10, 11)
    with pytest.raises(ChainError, match="batch 10 is not anchored yet; last anchor covers 10 batches"):
        export_batch(jdir, ledger, state, 10, tmp_path / "out")


def test_verify_passes_all_checks(exported, w3):
    report = verify_files(*exported, w3=w3)
    assert [c.name for c in report.checks] == ["format", "leaf", "signature", "inclusion", "consistency",
                                              "chain_id", "anchor", "gateway"] == list(CHECKS)
    assert report.ok and report.failed is None, report.render()
    assert "VERIFIED: batch 3" in report.render()


def test_offline_verification_skips_the_chain(exported):
    report = verify_files(*exported)
    assert [c.status for c in report.checks] == ["pass"] * 5 + ["skip"] * 3
    assert report.offline_ok and not report.ok


def test_one_changed_value_fails_at_leaf_naming_the_batch(exported, w3):
    batch_path, bundle_path = exported
    data = batch_path.read_bytes()
    assert data.count(b"120348.5") == 1
    batch_path.write_bytes(data.replace(b"120348.5", b"120348.6"))
    report = verify_files(batch_path, bundle_path, w3=w3)
    assert report.failed == "leaf"
    assert "batch 3" in report.check("leaf").detail
    assert [c.status for c in report.checks] == ["pass", "fail"] + ["skip"] * 6
    assert "NOT VERIFIED: batch 3 fails 'leaf'" in report.render()


def test_one_changed_byte_of_the_batch_fails_at_leaf(exported, w3):
    data, bundle = tampered(exported, lambda b: None)
    i = data.index(b"E-01") + 2
    report = verify_bundle(data[:i] + b"2" + data[i + 1:], bundle, w3)
    assert report.failed == "leaf", report.render()


def test_tampered_inclusion_node_fails_at_inclusion(exported, w3):
    def change(b):
        b["tree"]["inclusion_proof"][1] = flip(b["tree"]["inclusion_proof"][1])
    report = verify_bundle(*tampered(exported, change), w3)
    assert report.failed == "inclusion"


def test_tampered_consistency_node_fails_at_consistency(exported, w3):
    def change(b):
        b["consistency"][1]["proof"][0] = flip(b["consistency"][1]["proof"][0])
    report = verify_bundle(*tampered(exported, change), w3)
    assert report.failed == "consistency", report.render()
    assert "to tree 10" in report.check("consistency").detail


@pytest.mark.parametrize("size, check", [(4, "inclusion"), (5, "consistency"), (7, "consistency")])
def test_tampered_tree_size_fails(exported, w3, size, check):
    # size 4 changes the audit path's shape; sizes 5 and 7 keep it (index 3 has the same path in trees
    # of 5, 6 and 7 leaves), so the consistency proofs to the later roots of 8 and 10 are what break
    def change(b):
        b["tree"]["size"] = size
    report = verify_bundle(*tampered(exported, change), w3)
    assert report.failed == check, report.render()


def test_tampered_tree_size_without_later_roots_fails_at_anchor(exported, w3):
    def change(b):
        b["tree"]["size"], b["consistency"] = 7, []
    report = verify_bundle(*tampered(exported, change), w3)
    assert report.failed == "anchor", report.render()
    assert "anchored with tree size 6, bundle says 7" in report.check("anchor").detail


def test_tampered_signature_fails_at_signature(exported, w3):
    def change(b):
        b["signature"]["value"] = flip(b["signature"]["value"], 40)
    report = verify_bundle(*tampered(exported, change), w3)
    assert report.failed == "signature", report.render()


def test_signature_by_an_unregistered_key_fails_at_gateway(exported, w3):
    intruder = Account.create()

    def change(b):
        leaf = bytes.fromhex(b["batch"]["leaf_hash"][2:])
        b["signature"] = {"scheme": "eip191-personal-sign", "signer": intruder.address,
                          "value": Web3.to_hex(sign_leaf(intruder, leaf))}
    report = verify_bundle(*tampered(exported, change), w3)
    assert [c.status for c in report.checks[:7]] == ["pass"] * 7  # the bundle is self-consistent
    assert report.failed == "gateway"
    assert f"batch signer {intruder.address} is not a registered gateway" in report.check("gateway").detail


def test_signature_by_a_key_revoked_before_the_anchor_fails_at_gateway(exported, w3, devices):
    other = Account.create()
    send(w3, devices.functions.register(other.address, KeyKind.GATEWAY, id32(PLANT), w3.eth.accounts[0]),
         w3.eth.accounts[0])
    send(w3, devices.functions.revoke(other.address), w3.eth.accounts[0])

    def change(b):
        leaf = bytes.fromhex(b["batch"]["leaf_hash"][2:])
        b["signature"] = {"scheme": "eip191-personal-sign", "signer": other.address,
                          "value": Web3.to_hex(sign_leaf(other, leaf))}
    report = verify_bundle(*tampered(exported, change), w3)
    assert report.failed == "gateway"
    assert "was not an active gateway in block" in report.check("gateway").detail


def test_a_gateway_revoked_after_anchoring_still_verifies(exported, w3, devices, gateway):
    send(w3, devices.functions.revoke(gateway.address), w3.eth.accounts[0])
    report = verify_files(*exported, w3=w3)
    assert report.ok, report.render()
    assert "revoked since block" in report.check("gateway").detail


@pytest.mark.parametrize("other", ["devices", "stranger", "registry"])
def test_tampered_contract_address_fails_at_anchor(exported, w3, gateway, devices, tmp_path, other):
    if other == "devices":  # code, but not an AnchorRegistry
        address = devices.address
    elif other == "stranger":  # no code at all
        address = Account.create().address
    else:  # a genuine AnchorRegistry of another deployment, without this root
        address = ensure_deployment(w3, tmp_path / "other", gateway.address, plant=PLANT)["address"]
    def change(b):
        b["anchor"]["contract"] = address
    report = verify_bundle(*tampered(exported, change), w3)
    assert report.failed == "anchor", report.render()
    assert address in report.check("anchor").detail


def test_the_verifier_may_name_the_contract_it_trusts(exported, w3, reg, gateway, tmp_path):
    assert verify_files(*exported, w3=w3, expected_contract=reg.address).ok
    other = ensure_deployment(w3, tmp_path / "other", Account.create().address, plant=PLANT)["address"]
    report = verify_files(*exported, w3=w3, expected_contract=other)
    assert report.failed == "anchor" and f"the verifier trusts {other}" in report.check("anchor").detail


def test_a_later_root_left_out_of_the_bundle_fails_at_anchor(exported, w3):
    def change(b):
        del b["consistency"][0]  # the root of 8 is on chain but the bundle skips it
    report = verify_bundle(*tampered(exported, change), w3)
    assert report.failed == "anchor", report.render()
    assert "gives no consistency proof for it" in report.check("anchor").detail


def test_root_never_anchored_fails_at_anchor(exported, plant, w3):
    jdir, state, ledger, svc = plant
    batch_path, bundle_path = exported
    bundle = json.loads(bundle_path.read_text())
    # a self-consistent bundle over a tree of 7 leaves: valid proof, but that root was never anchored
    bundle["tree"] = {"size": 7, "root": Web3.to_hex(ledger.root(7)),
                      "inclusion_proof": [Web3.to_hex(p) for p in ledger.inclusion_proof(3, 7)]}
    bundle["consistency"] = []
    report = verify_bundle(batch_path.read_bytes(), bundle, w3)
    assert report.failed == "anchor", report.render()
    assert "never anchored" in report.check("anchor").detail
    assert [c.status for c in report.checks[:5]] == ["pass"] * 5


def test_wrong_chain_and_malformed_bundle(exported, w3):
    batch_path, bundle_path = exported
    bundle = json.loads(bundle_path.read_text())
    bundle["anchor"]["chain_id"] = 1
    assert verify_bundle(batch_path.read_bytes(), bundle, w3).failed == "chain_id"
    del bundle["tree"]["root"]
    report = verify_bundle(batch_path.read_bytes(), bundle, w3)
    assert report.failed == "format" and "root" in report.check("format").detail


def test_fresh_chain_gets_a_new_deployment(w3, gateway, tmp_path, caplog):
    state = tmp_path / "chain"
    first = ensure_deployment(w3, state, gateway.address, plant=PLANT)
    (state / "anchors.jsonl").write_text('{"root": "0x01", "tree_size": 3}\n')
    other = connect("tester")  # another chain: the recorded address has no code there
    with caplog.at_level(logging.WARNING, logger="chain.deploy"):
        second = ensure_deployment(other, state, gateway.address, plant=PLANT)
    assert "deploying new contracts" in caplog.text
    assert read_deployment(state) == second
    # anchors of the vanished chain are set aside, not offered as proofs any more
    assert anchors(state) == []
    assert len(list(state.glob("anchors.lost-*.jsonl"))) == 1
    assert len(other.eth.get_code(second["address"])) > 0
    # same deployer, same nonce: a fresh chain puts the registry at the same address again
    assert second["address"] == first["address"]
    assert other.eth.get_code(second["address"]) != b""
    assert deploy_registry(other) != second["address"]
