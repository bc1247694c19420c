"""The anchoring loop through a full disk (found by the fault day, benchmarks/fault_day.py): the ledger's cache
and the signature log are refused, the loop logs it and goes on, and once the disk has room again every batch is
signed, cached and anchored, each signature at its own leaf.

Before the fix the ledger's cache write raised OSError out of ``AnchorService.run`` (the loop died) and out of
``Ledger()`` (the loop could not even start while the disk was full).

Hand-worked sizes: 3 + 200 = 203 batches; the ledger cache holds 32 bytes a leaf (203 × 32 = 6,496 bytes), the
signature log 65 bytes a leaf (203 × 65 = 13,195 bytes): 200 new leaves (6,400 and 13,000 bytes) are more than
the unused end of a 4 KiB page that a full tmpfs still lets a file grow into.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time

from eth_account import Account

from chain.anchor import AnchorService, anchors
from chain.deploy import ensure_deployment, registry
from chain.ledger import Ledger
from chain.node import connect
from chain.signatures import SignatureLog, recover_signer
from tests.workspace.test_journal import small_disk  # noqa: F401 - the 256 KiB tmpfs fixture
from workspace.batch import Reading, encode_batch
from workspace.journal import Journal

T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.timezone.utc)
N = 203  # batches: 3 anchored before the disk fills, 200 while it is full


def _batch(seq: int) -> bytes:
    return encode_batch("plant18", seq, "t", [Reading("E-01", T0 + dt.timedelta(minutes=seq), 100.0 + seq)])


def _fill(folder) -> None:
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for size in (1 << 16, 1024, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)


def test_the_anchoring_loop_survives_a_full_disk(tmp_path, small_disk):  # noqa: F811 - the fixture
    w3 = connect("tester")
    gateway = Account.create()
    state, jdir = small_disk / "chain", tmp_path / "journal"
    info = ensure_deployment(w3, state, gateway.address, plant="plant18")
    with Journal(jdir, writer=True) as j:
        for seq in range(3):
            j.append(_batch(seq))
        svc = AnchorService(w3, registry(w3, info["address"]).address, gateway, Ledger(jdir, state), state)
        assert svc.anchor_once()["tree_size"] == 3
        _fill(small_disk)
        for seq in range(3, N):  # more than the slack of the files' last pages on the full tmpfs
            j.append(_batch(seq))
        assert Ledger(jdir, state).size() == N  # a restart while the disk is full: the ledger opens
        stop, died = threading.Event(), []

        def loop():
            try:
                svc.run(0.05, stop)
            except BaseException as exc:  # noqa: BLE001 - what the test looks for
                died.append(exc)

        t = threading.Thread(target=loop, daemon=True)
        t.start()
        try:
            time.sleep(1.0)
            assert not died and t.is_alive(), died
            assert anchors(state)[-1]["tree_size"] == 3  # nothing signed, nothing anchored while full
            (small_disk / "filler").unlink()
            deadline = time.monotonic() + 120  # a wait, not a timing goal: 200 signatures on a loaded machine
            while time.monotonic() < deadline and (  # anchored, and the cache written at the sync after that
                    anchors(state)[-1]["tree_size"] < N or (state / "leaves.bin").stat().st_size < N * 32):
                time.sleep(0.1)
        finally:
            stop.set()
            t.join(10)
    assert not died, died
    assert anchors(state)[-1]["tree_size"] == N
    assert (state / "leaves.bin").stat().st_size == N * 32
    with Ledger(jdir, state) as led:
        sigs = SignatureLog(state)
        assert len(sigs) == N and (state / "signatures.bin").stat().st_size == N * 65
        for k in range(N):  # each signature is its own leaf's
            assert recover_signer(led.leaf_hash(k), sigs.get(k)) == gateway.address
