"""Quotas: hand-entered with an audit trail; the regulator's on-chain quota overrides, the trail says so."""

from __future__ import annotations

import json

import pytest

from chain.deploy import deploy_contracts
from chain.node import connect, free_port
from chain.quota import QuotaBook, set_on_chain
from chain.registry import QUOTA_REGISTRY, contract, from_deployment
from workspace.errors import ChainError

ENT = "91430100MA4L0000XX"


@pytest.fixture
def chain():
    w3 = connect("tester")
    regulator = w3.eth.accounts[2]
    info = deploy_contracts(w3, w3.eth.accounts[0], regulator=regulator)
    return w3, from_deployment(w3, info, QUOTA_REGISTRY), regulator


def test_hand_entered_quotas_keep_an_audit_trail(tmp_path):
    book = QuotaBook(tmp_path)
    assert book.effective(ENT, 2026) is None
    book.set(ENT, 2026, 1_200_000, author="li.wei", reason="allocation letter 2026-07")
    book.set(ENT, 2026, 1_180_000, author="zhang.min", reason="typo in the letter corrected")
    book.set(ENT, 2027, 9, author="li.wei", reason="placeholder")
    q = book.effective(ENT, 2026)
    assert (q.amount_kg, q.source, q.entry["author"]) == (1_180_000, "hand", "zhang.min")
    lines = [json.loads(x) for x in (tmp_path / "quotas.jsonl").read_text().splitlines()]
    assert [(e["action"], e["amount_kg"], e["author"]) for e in lines] == [
        ("set", 1_200_000, "li.wei"), ("set", 1_180_000, "zhang.min"), ("set", 9, "li.wei")]
    with pytest.raises(ChainError, match="needs an author and a reason"):
        book.set(ENT, 2026, 1, author="li.wei", reason=" ")
    with pytest.raises(ChainError, match="1 to 32 bytes"):
        book.set("x" * 40, 2026, 1, author="li.wei", reason="r")


def test_the_regulators_quota_overrides_and_the_trail_says_so(chain, tmp_path):
    w3, reg, regulator = chain
    book = QuotaBook(tmp_path, reg)
    book.set(ENT, 2026, 1_200_000, author="li.wei", reason="allocation letter")
    assert book.effective(ENT, 2026).source == "hand"  # nothing on chain yet
    set_on_chain(w3, reg, regulator, ENT, 2026, 1_150_000, "MEE-2026-041")
    q = book.effective(ENT, 2026)
    assert (q.amount_kg, q.source) == (1_150_000, "chain")
    override = book.entries(ENT, 2026)[-1]
    assert override["action"] == "override" and override["overrides_kg"] == 1_200_000
    assert override["author"] == f"regulator {regulator}"
    assert "overrides the hand-entered one" in override["reason"] and "MEE-2026-041" in override["reason"]
    assert override["chain"]["revision"] == 1 and override["chain"]["contract"] == reg.address
    # seen once, recorded once
    assert book.effective(ENT, 2026).amount_kg == 1_150_000
    assert [e["action"] for e in book.entries(ENT, 2026)] == ["set", "override"]
    # a later hand entry does not beat the regulator's
    book.set(ENT, 2026, 2_000_000, author="li.wei", reason="hoping")
    assert book.effective(ENT, 2026).amount_kg == 1_150_000
    # a revision by the regulator is a new override entry
    set_on_chain(w3, reg, regulator, ENT, 2026, 1_100_000, "MEE-2026-077")
    assert book.effective(ENT, 2026).amount_kg == 1_100_000
    trail = book.entries(ENT, 2026)
    assert [e["action"] for e in trail] == ["set", "override", "set", "override"]
    assert trail[-1]["overrides_kg"] == 1_150_000 and trail[-1]["chain"]["revision"] == 2
    with pytest.raises(ChainError, match="NotRegulator"):
        set_on_chain(w3, reg, w3.eth.accounts[0], ENT, 2026, 1, "self-service")


def test_with_the_node_down_the_last_seen_onchain_quota_still_applies(chain, tmp_path, caplog):
    w3, reg, regulator = chain
    QuotaBook(tmp_path).set(ENT, 2026, 1_200_000, author="li.wei", reason="allocation letter")
    set_on_chain(w3, reg, regulator, ENT, 2026, 1_150_000, "MEE-2026-041")
    assert QuotaBook(tmp_path, reg).effective(ENT, 2026).source == "chain"
    dead = contract(connect(f"http://127.0.0.1:{free_port()}", timeout=2), QUOTA_REGISTRY, reg.address)
    q = QuotaBook(tmp_path, dead).effective(ENT, 2026)
    assert (q.amount_kg, q.source) == (1_150_000, "chain")
    assert "unreachable" in caplog.text
