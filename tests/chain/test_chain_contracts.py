"""The contract set on the in-process eth-tester chain: roles, custom errors, events, history."""

from __future__ import annotations

import pytest
from eth_account import Account

from chain._tx import send
from chain.artefacts import code_matches, load_artefact
from chain.deploy import deploy_contracts, ensure_deployment, read_deployment
from chain.node import connect
from chain.registry import (ANCHOR_REGISTRY, CONTRACT_NAMES, DEVICE_REGISTRY, METHODOLOGY_REGISTRY,
                            QUOTA_REGISTRY, KeyKind, from_deployment, id32, text_of)
from workspace.errors import ChainError

R1, R2, R3, R4 = (bytes([i]) * 32 for i in (1, 2, 3, 4))
P18, P19 = id32("plant-18"), id32("plant-19")
H1, H2, H3 = (bytes([0xA0 + i]) * 32 for i in (1, 2, 3))


@pytest.fixture
def w3():
    return connect("tester")


@pytest.fixture
def roles(w3):
    """Admin, association, regulator, a responsible person and a stranger (node accounts)."""
    a = w3.eth.accounts
    return {"admin": a[0], "association": a[1], "regulator": a[2], "responsible": a[3], "stranger": a[4]}


@pytest.fixture
def c(w3, roles):
    info = deploy_contracts(w3, roles["admin"], association=roles["association"],
                            regulator=roles["regulator"])
    return {n: from_deployment(w3, info, n) for n in CONTRACT_NAMES} | {"info": info}


def gateway_key(w3, c, roles, plant=P18):
    acct = Account.create()
    dev = c[DEVICE_REGISTRY]
    send(w3, dev.functions.register(acct.address, KeyKind.GATEWAY, plant, roles["responsible"]),
         roles["admin"])
    send(w3, None, roles["admin"], value=10**18, contract=acct.address)
    return acct


# -- ids and deployment ----------------------------------------------------------------------------
def test_ids_are_utf8_right_padded():
    assert id32("plant-18") == b"plant-18" + b"\x00" * 24  # cast --format-bytes32-string plant-18
    assert text_of(id32("碳鉴")) == "碳鉴"
    with pytest.raises(ChainError, match="1 to 32 bytes"):
        id32("x" * 33)


def test_deployment_lists_every_contract_with_its_roles_and_code(w3, roles, tmp_path):
    gw = Account.create()
    info = ensure_deployment(w3, tmp_path, gw.address, plant="plant-18", deployer=roles["admin"],
                             association=roles["association"], regulator=roles["regulator"])
    assert read_deployment(tmp_path) == info
    assert set(info["contracts"]) == set(CONTRACT_NAMES)
    assert info["address"] == info["contracts"][ANCHOR_REGISTRY]["address"]
    assert info["roles"] == {"owner": roles["admin"], "association": roles["association"],
                             "regulator": roles["regulator"]}
    for name, rec in info["contracts"].items():
        assert code_matches(load_artefact(name), w3.eth.get_code(rec["address"])), name
    # the deployed AnchorRegistry is not the code of another contract of the set
    quota_code = w3.eth.get_code(info["contracts"][QUOTA_REGISTRY]["address"])
    assert not code_matches(load_artefact(ANCHOR_REGISTRY), quota_code)
    c = {n: from_deployment(w3, info, n) for n in CONTRACT_NAMES}
    assert c[ANCHOR_REGISTRY].functions.devices().call() == info["contracts"][DEVICE_REGISTRY]["address"]
    assert c[METHODOLOGY_REGISTRY].functions.association().call() == roles["association"]
    assert c[QUOTA_REGISTRY].functions.regulator().call() == roles["regulator"]
    kind, plant, owner, registered, revoked = c[DEVICE_REGISTRY].functions.keyOf(gw.address).call()
    assert (kind, plant, owner, revoked) == (KeyKind.GATEWAY, id32("plant-18"), roles["admin"], 0)
    assert 0 < registered <= w3.eth.block_number
    # idempotent; the same key for another plant is refused
    assert ensure_deployment(w3, tmp_path, gw.address, plant="plant-18") == info
    with pytest.raises(ChainError, match="not as gateway of 'plant-19'"):
        ensure_deployment(w3, tmp_path, gw.address, plant="plant-19")


# -- DeviceRegistry --------------------------------------------------------------------------------
def test_only_the_admin_registers_and_keys_are_registered_once(w3, c, roles):
    dev = c[DEVICE_REGISTRY]
    key = Account.create().address
    with pytest.raises(ChainError, match="NotAdmin"):
        send(w3, dev.functions.register(key, KeyKind.GATEWAY, P18, roles["responsible"]), roles["stranger"])
    with pytest.raises(ChainError, match="InvalidKind"):
        send(w3, dev.functions.register(key, KeyKind.NONE, P18, roles["responsible"]), roles["admin"])
    r = send(w3, dev.functions.register(key, KeyKind.DEVICE, P18, roles["responsible"]), roles["admin"])
    (ev,) = dev.events.KeyRegistered().process_receipt(r)
    assert (ev["args"]["key"], ev["args"]["kind"], ev["args"]["plant"], ev["args"]["owner"]) == (
        key, KeyKind.DEVICE, P18, roles["responsible"])
    assert dev.functions.keyOf(key).call() == [KeyKind.DEVICE, P18, roles["responsible"], r["blockNumber"], 0]
    assert dev.functions.isActive(key, KeyKind.DEVICE).call()
    assert not dev.functions.isActiveGateway(key).call()  # a device key is not a gateway
    with pytest.raises(ChainError, match="AlreadyRegistered"):
        send(w3, dev.functions.register(key, KeyKind.GATEWAY, P19, roles["responsible"]), roles["admin"])
    assert dev.functions.keyCount().call() == 1


def test_revocation_is_final_and_history_is_kept(w3, c, roles):
    dev = c[DEVICE_REGISTRY]
    key = Account.create().address
    reg = send(w3, dev.functions.register(key, KeyKind.GATEWAY, P18, roles["responsible"]), roles["admin"])
    with pytest.raises(ChainError, match="NotAdminOrOwner"):
        send(w3, dev.functions.revoke(key), roles["stranger"])
    rev = send(w3, dev.functions.revoke(key), roles["responsible"])  # the responsible person may revoke
    (ev,) = dev.events.KeyRevoked().process_receipt(rev)
    assert ev["args"]["key"] == key and ev["args"]["by"] == roles["responsible"]
    with pytest.raises(ChainError, match="AlreadyRevoked"):
        send(w3, dev.functions.revoke(key), roles["admin"])
    with pytest.raises(ChainError, match="AlreadyRegistered"):  # never comes back
        send(w3, dev.functions.register(key, KeyKind.GATEWAY, P18, roles["responsible"]), roles["admin"])
    with pytest.raises(ChainError, match="NotRegistered"):
        send(w3, dev.functions.revoke(Account.create().address), roles["admin"])
    b0, b1 = reg["blockNumber"], rev["blockNumber"]
    active = dev.functions.activeAt
    assert [active(key, KeyKind.GATEWAY, b).call() for b in (b0 - 1, b0, b1 - 1, b1, b1 + 5)] == [
        False, True, True, False, False]
    assert not active(key, KeyKind.DEVICE, b0).call()
    assert not dev.functions.isActiveGateway(key).call()


# -- AnchorRegistry --------------------------------------------------------------------------------
def test_only_active_registered_gateways_anchor(w3, c, roles):
    reg, dev = c[ANCHOR_REGISTRY], c[DEVICE_REGISTRY]
    gw = gateway_key(w3, c, roles)
    with pytest.raises(ChainError, match="NotGateway"):
        send(w3, reg.functions.anchor(R1, 3, 100, 200), roles["stranger"])
    device = Account.create()
    send(w3, dev.functions.register(device.address, KeyKind.DEVICE, P18, roles["responsible"]),
         roles["admin"])
    send(w3, None, roles["admin"], value=10**18, contract=device.address)
    with pytest.raises(ChainError, match="NotGateway"):  # a device key cannot anchor
        send(w3, reg.functions.anchor(R1, 3, 100, 200), device)
    r = send(w3, reg.functions.anchor(R1, 3, 100, 200), gw)
    (ev,) = reg.events.Anchored().process_receipt(r)
    a = ev["args"]
    assert (a["root"], a["plant"], a["treeSize"], a["periodStart"], a["periodEnd"], a["gateway"],
            a["responsible"]) == (R1, P18, 3, 100, 200, gw.address, roles["responsible"])
    got = reg.functions.anchorOf(R1).call()
    assert got[:4] == [3, 100, 200, gw.address] and got[5:] == [r["blockNumber"], P18, roles["responsible"]]
    assert got[4] == w3.eth.get_block(r["blockNumber"])["timestamp"]
    assert reg.functions.latest(P18).call() == [R1, 3]
    assert reg.functions.isGateway(gw.address).call()
    send(w3, dev.functions.revoke(gw.address), roles["admin"])
    assert not reg.functions.isGateway(gw.address).call()
    with pytest.raises(ChainError, match="NotGateway"):
        send(w3, reg.functions.anchor(R2, 4, 100, 200), gw)
    assert reg.functions.latest(P18).call() == [R1, 3] and reg.functions.anchorCount().call() == 1


def test_roots_are_never_overwritten_and_sizes_grow_per_plant(w3, c, roles):
    reg = c[ANCHOR_REGISTRY]
    g18, g19 = gateway_key(w3, c, roles, P18), gateway_key(w3, c, roles, P19)
    send(w3, reg.functions.anchor(R1, 3, 100, 200), g18)
    with pytest.raises(ChainError, match="RootAlreadyAnchored"):
        send(w3, reg.functions.anchor(R1, 4, 100, 200), g18)
    with pytest.raises(ChainError, match="RootAlreadyAnchored"):  # not by another plant either
        send(w3, reg.functions.anchor(R1, 9, 100, 200), g19)
    with pytest.raises(ChainError, match=r"TreeSizeNotIncreasing\(3, 3\)"):
        send(w3, reg.functions.anchor(R2, 3, 100, 200), g18)
    with pytest.raises(ChainError, match="InvalidPeriod"):
        send(w3, reg.functions.anchor(R2, 4, 300, 200), g18)
    send(w3, reg.functions.anchor(R3, 2, 100, 200), g19)  # plant 19 has its own log
    send(w3, reg.functions.anchor(R4, 5, 100, 200), g18)
    assert reg.functions.latest(P18).call() == [R4, 5]
    assert reg.functions.latest(P19).call() == [R3, 2]
    assert reg.functions.anchorOf(R1).call()[0] == 3  # the first root is still there
    assert reg.functions.anchorOf(R2).call()[0] == 0
    logs = reg.events.Anchored.get_logs(from_block=0, argument_filters={"plant": P18})
    assert [ev["args"]["treeSize"] for ev in logs] == [3, 5]


# -- MethodologyRegistry ---------------------------------------------------------------------------
URI1 = "https://association.example/methodologies/CN-GHG-ELEC-2026.1.tar"


def test_the_association_publishes_versions_that_are_never_overwritten(w3, c, roles):
    m = c[METHODOLOGY_REGISTRY]
    mid, v1, v2, v3 = id32("CN-GHG-ELEC"), id32("2026.1"), id32("2026.2"), id32("2027.1")
    with pytest.raises(ChainError, match="NotAssociation"):
        send(w3, m.functions.publish(mid, v1, H1, 1000, 0, URI1), roles["admin"])
    r = send(w3, m.functions.publish(mid, v1, H1, 1000, 0, URI1), roles["association"])
    (ev,) = m.events.MethodologyPublished().process_receipt(r)
    assert (ev["args"]["id"], ev["args"]["version"], ev["args"]["packageSha256"], ev["args"]["effectiveFrom"],
            ev["args"]["effectiveTo"], ev["args"]["packageUri"]) == (mid, v1, H1, 1000, 0, URI1)
    with pytest.raises(ChainError, match="VersionExists"):
        send(w3, m.functions.publish(mid, v1, H2, 1000, 0, ""), roles["association"])
    with pytest.raises(ChainError, match=r"InvalidWindow\(5000, 5000\)"):
        send(w3, m.functions.publish(mid, v2, H2, 5000, 5000, ""), roles["association"])
    with pytest.raises(ChainError, match="EmptyHash"):
        send(w3, m.functions.publish(mid, v2, b"\x00" * 32, 5000, 0, ""), roles["association"])
    send(w3, m.functions.publish(mid, v2, H2, 5000, 9000, ""), roles["association"])
    send(w3, m.functions.publish(mid, v3, H3, 9000, 0, ""), roles["association"])
    assert m.functions.versionOf(mid, v1).call()[:3] == [H1, 1000, 0]
    assert m.functions.versionsOf(mid).call() == [v1, v2, v3]
    # where each version's bytes can be fetched: recorded with it, "" when none was given
    assert (m.functions.uriOf(mid, v1).call(), m.functions.uriOf(mid, v2).call()) == (URI1, "")
    assert m.functions.uriOf(mid, id32("9999.9")).call() == ""

    def active(when):
        found, version, sha, frm, to = m.functions.activeAt(mid, when).call()
        return text_of(version) if found else None
    # the latest effective_from that is not after `when` wins; windows end exclusively
    assert [active(t) for t in (999, 1000, 4999, 5000, 8999, 9000, 10**9)] == [
        None, "2026.1", "2026.1", "2026.2", "2026.2", "2027.1", "2027.1"]
    assert m.functions.activeAt(id32("other"), 5000).call()[0] is False


# -- QuotaRegistry ---------------------------------------------------------------------------------
def test_the_regulator_sets_quotas_and_every_revision_is_kept(w3, c, roles):
    q = c[QUOTA_REGISTRY]
    ent = id32("91430100MA4L0000XX")
    with pytest.raises(ChainError, match="NotRegulator"):
        send(w3, q.functions.setQuota(ent, 2026, 1_000_000, id32("initial")), roles["association"])
    with pytest.raises(ChainError, match=r"InvalidYear\(1999\)"):
        send(w3, q.functions.setQuota(ent, 1999, 1, id32("x")), roles["regulator"])
    assert q.functions.quotaOf(ent, 2026).call()[1] == 0
    r1 = send(w3, q.functions.setQuota(ent, 2026, 1_000_000, id32("initial")), roles["regulator"])
    r2 = send(w3, q.functions.setQuota(ent, 2026, 950_000, id32("cut 5%")), roles["regulator"])
    (ev,) = q.events.QuotaSet().process_receipt(r2)
    assert (ev["args"]["enterprise"], ev["args"]["year"], ev["args"]["amountKg"], ev["args"]["previousKg"],
            ev["args"]["revision"], ev["args"]["reason"]) == (
        ent, 2026, 950_000, 1_000_000, 2, id32("cut 5%"))
    amount, revisions, set_at, ts, reason = q.functions.quotaOf(ent, 2026).call()
    assert (amount, revisions, set_at, text_of(reason)) == (950_000, 2, r2["blockNumber"], "cut 5%")
    assert q.functions.quotaAt(ent, 2026, 0).call()[:2] == [1_000_000, r1["blockNumber"]]
    assert q.functions.quotaOf(ent, 2027).call()[1] == 0
    logs = q.events.QuotaSet.get_logs(from_block=0, argument_filters={"enterprise": ent})
    assert [e["args"]["amountKg"] for e in logs] == [1_000_000, 950_000]
