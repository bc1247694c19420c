"""The committed contract artefacts match their sources and the pinned compiler."""

from __future__ import annotations

import hashlib
import json

import pytest

from chain import artefacts as cc
from tanjian import solc

EXPECTED_ABI = {
    "DeviceRegistry": {"register", "revoke", "keyOf", "isActive", "isActiveGateway", "activeAt", "admin",
                       "KeyRegistered", "KeyRevoked", "NotAdmin", "NotAdminOrOwner", "AlreadyRegistered",
                       "AlreadyRevoked", "NotRegistered"},
    "AnchorRegistry": {"anchor", "anchorOf", "latest", "isGateway", "devices", "Anchored",
                       "RootAlreadyAnchored", "NotGateway", "TreeSizeNotIncreasing", "InvalidPeriod"},
    "MethodologyRegistry": {"publish", "versionOf", "versionsOf", "activeAt", "uriOf", "association",
                            "MethodologyPublished", "NotAssociation", "VersionExists", "InvalidWindow"},
    "QuotaRegistry": {"setQuota", "quotaOf", "quotaAt", "regulator", "QuotaSet", "NotRegulator",
                      "InvalidYear"},
    "ReportRequests": {"enrol", "request", "fulfil", "requestOf", "requestCount", "Requested", "Fulfilled",
                       "UnknownEnterprise", "PeriodNotOver", "NotRegulator", "NotGatewayOf"},
}


@pytest.mark.parametrize("name", cc.CONTRACTS)
def test_artefact_records_the_sources_sha256(name):
    art = json.loads((cc.BUILD_DIR / f"{name}.json").read_text())
    src = (cc.CONTRACTS_DIR / f"{name}.sol").read_bytes()
    assert art["sourceSha256"] == hashlib.sha256(src).hexdigest(), "run `tanjian chain compile`"
    assert art["sourcesSha256"] == {f"{n}.sol": hashlib.sha256((cc.CONTRACTS_DIR / f"{n}.sol").read_bytes())
                                    .hexdigest() for n in cc.CONTRACTS}, "run `tanjian chain compile`"
    assert art["settings"] == {"evmVersion": "prague", "optimizer": {"enabled": True, "runs": 200}}
    assert art["compiler"]["version"].startswith("0.8.30+")
    assert art["bytecode"].startswith("0x6") and len(art["bytecode"]) > 1000
    names = {i["name"] for i in art["abi"] if i["type"] in ("function", "event", "error")}
    assert EXPECTED_ABI[name] <= names


def test_every_source_is_compiled():
    assert {p.stem for p in cc.CONTRACTS_DIR.glob("*.sol")} == set(cc.CONTRACTS)


@pytest.mark.requires_solc
@pytest.mark.slow
def test_recompiling_reproduces_the_artefacts_byte_for_byte(tmp_path):
    try:
        solc.find_solcjs()
    except Exception as exc:  # noqa: BLE001 - the marker documents the requirement
        pytest.skip(str(exc))
    written = solc.build(tmp_path)
    assert sorted(p.name for p in written) == sorted(f"{n}.json" for n in cc.CONTRACTS)
    for path in written:
        assert path.read_bytes() == (cc.BUILD_DIR / path.name).read_bytes(), path.name
