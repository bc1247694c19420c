"""A columnar batch (tanjian.batch/2) in the ledger: exported as .tjb and verified like a JSON batch."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from eth_account import Account

from chain.anchor import AnchorService
from chain.bundle import export_batch
from chain.deploy import ensure_deployment, registry
from chain.ledger import Ledger
from chain.node import connect
from chain.verify import verify_bundle, verify_files
from workspace.batch import Reading, encode_batch, encode_batch_columnar
from workspace.journal import Journal

T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.timezone.utc)


def batch(seq: int) -> bytes:
    """Even batches JSON (tanjian.batch/1), odd ones columnar (tanjian.batch/2), as a journal holds them."""
    t = T0 + dt.timedelta(minutes=5 * seq)
    rs = [Reading("E-01", t, 120345.5 + seq, rate=41.2, voltage=229.8, current=60.1, power_factor=0.93),
          Reading("W-01", t, 1520.25 + 0.125 * seq)]
    enc = encode_batch if seq % 2 == 0 else encode_batch_columnar
    return enc("plant18", seq, "modbus-tcp://127.0.0.1:5020", rs)


@pytest.fixture
def exported(tmp_path):
    w3 = connect("tester")
    gateway = Account.create()
    info = ensure_deployment(w3, tmp_path / "chain", gateway.address, plant="plant18")
    jdir, state = tmp_path / "journal", tmp_path / "chain"
    with Journal(jdir, writer=True) as j:
        for seq in range(6):
            j.append(batch(seq))
    ledger = Ledger(jdir, state)
    AnchorService(w3, registry(w3, info["address"]).address, gateway, ledger, state).anchor_once()
    yield w3, export_batch(jdir, ledger, state, 3, tmp_path / "out")
    ledger.close()


def test_columnar_batch_exports_as_tjb_and_verifies(exported):
    w3, (batch_path, bundle_path) = exported
    assert batch_path.name == "batch-00000003.tjb"
    data = batch_path.read_bytes()
    assert data == batch(3) and data.startswith(b"tanjian.batch/2\n")
    bundle = json.loads(bundle_path.read_text())
    assert bundle["batch"]["file"] == "batch-00000003.tjb"
    assert bundle["batch"]["sha256"] == hashlib.sha256(data).hexdigest()
    report = verify_files(batch_path, bundle_path, w3=w3)
    assert report.ok, report.render()


def test_changed_value_in_a_columnar_batch_fails_at_leaf(exported):
    w3, (batch_path, bundle_path) = exported
    data = bytearray(batch_path.read_bytes())
    data[-20] ^= 1  # one bit of the quality/meter columns at the end
    report = verify_bundle(bytes(data), json.loads(bundle_path.read_text()), w3)
    assert report.failed == "leaf", report.render()
    assert "batch 3" in report.check("leaf").detail
