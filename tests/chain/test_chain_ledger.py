"""chain.ledger over a real journal: leaf hashes, cache checks, roots and proofs."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging

import pytest

from chain import merkle
from chain.ledger import Ledger
from workspace.batch import Reading, encode_batch
from workspace.errors import ChainError
from workspace.journal import Journal

T0 = dt.datetime(2026, 3, 2, 0, 0, tzinfo=dt.timezone.utc)


def batch(seq: int) -> bytes:
    return encode_batch("plant18", seq, "test", [
        Reading("M01", T0 + dt.timedelta(minutes=seq), 1000.0 + seq, rate=12.5),
        Reading("M02", T0 + dt.timedelta(minutes=seq), 52.25 + seq * 0.5),
    ])


@pytest.fixture
def journal_dir(tmp_path):
    d = tmp_path / "journal"
    with Journal(d, writer=True) as j:
        for seq in range(5):
            assert j.append(batch(seq)) == seq
    return d


def test_leaves_are_sha256_of_0x00_and_batch_bytes(journal_dir, tmp_path):
    with Ledger(journal_dir, tmp_path / "chain") as led:
        assert led.size() == 5
        for seq in range(5):
            assert led.leaf_hash(seq) == hashlib.sha256(b"\x00" + batch(seq)).digest()
        assert (tmp_path / "chain" / "leaves.bin").read_bytes() == b"".join(led.leaf_hashes())
        assert led.root() == merkle.root([batch(s) for s in range(5)])
        assert led.root(3) == merkle.root([batch(s) for s in range(3)])


def test_proofs_verify(journal_dir, tmp_path):
    with Ledger(journal_dir, tmp_path / "chain") as led:
        for size in range(1, 6):
            for i in range(size):
                proof = led.inclusion_proof(i, size)
                assert merkle.verify_inclusion(batch(i), i, size, proof, led.root(size))
        assert merkle.verify_consistency(2, 5, led.root(2), led.root(5), led.consistency_proof(2, 5))
        with pytest.raises(ChainError, match="not in a tree of 5"):
            led.inclusion_proof(5, 5)
        with pytest.raises(ChainError, match="holds 5 leaves"):
            led.root(6)


def test_sync_picks_up_new_batches(journal_dir, tmp_path):
    led = Ledger(journal_dir, tmp_path / "chain")
    old_root = led.root()
    with Journal(journal_dir, writer=True) as j:
        j.append(batch(5))
        j.append(batch(6))
    assert led.size() == 5
    assert led.sync() == 2
    assert led.size() == 7
    assert led.root(5) == old_root
    assert (tmp_path / "chain" / "leaves.bin").stat().st_size == 7 * 32
    assert led.sync() == 0
    led.close()


def test_damaged_cache_is_rebuilt_with_a_warning(journal_dir, tmp_path, caplog):
    cache = tmp_path / "chain"
    with Ledger(journal_dir, cache) as led:
        good = led.leaf_hashes()
    raw = bytearray((cache / "leaves.bin").read_bytes())
    raw[40] ^= 0xFF  # leaf 1
    (cache / "leaves.bin").write_bytes(bytes(raw))
    with caplog.at_level(logging.WARNING, logger="chain.ledger"):
        with Ledger(journal_dir, cache) as led:
            assert led.leaf_hashes() == good
    assert "leaf 1 differs" in caplog.text
    assert (cache / "leaves.bin").read_bytes() == b"".join(good)


def test_cache_longer_than_journal_is_rebuilt(journal_dir, tmp_path, caplog):
    cache = tmp_path / "chain"
    cache.mkdir()
    (cache / "leaves.bin").write_bytes(b"\x11" * 32 * 9)
    with caplog.at_level(logging.WARNING, logger="chain.ledger"):
        with Ledger(journal_dir, cache) as led:
            assert led.size() == 5
    assert "holds 9 leaves but the journal only 5" in caplog.text
    assert (cache / "leaves.bin").stat().st_size == 5 * 32


def test_short_cache_is_extended_silently(journal_dir, tmp_path, caplog):
    cache = tmp_path / "chain"
    with Ledger(journal_dir, cache) as led:
        full = (cache / "leaves.bin").read_bytes()
    (cache / "leaves.bin").write_bytes(full[:64])
    with caplog.at_level(logging.WARNING, logger="chain.ledger"):
        with Ledger(journal_dir, cache):
            pass
    assert caplog.text == ""
    assert (cache / "leaves.bin").read_bytes() == full


def test_empty_journal(tmp_path):
    with Ledger(tmp_path / "nojournal", tmp_path / "chain") as led:
        assert led.size() == 0
        assert led.root() == hashlib.sha256(b"").digest()
