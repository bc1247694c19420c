"""The ReportRequests contract against anvil: the regulator requests, the request is seen in the chain's events,
the enterprise's gateway fulfils it with the SHA-256 of a package the park verifies, the latency is kept;
refusals (unknown enterprise, future period, not the regulator, not the enterprise) are clear. The workspace's
side, end to end through the report path, is tests/models/test_park_on_demand.py."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from chain.methodology import package_sha256
from chain.requests import all_requests, deploy_requests, enrol, fulfil, open_requests, request_report, \
    requests_contract
from models.park import scan_drop, submit, verify_package
from tests.park_fixture import METHODOLOGY_DIR, METHODOLOGY_ID, ParkWorld, anvil_w3  # noqa: F401 (a fixture)
from workspace.errors import ChainError

pytestmark = [pytest.mark.requires_anvil, pytest.mark.slow]
UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def chain_world(anvil_w3, tmp_path_factory):
    world = ParkWorld(anvil_w3, tmp_path_factory.mktemp("ent"))
    deploy_requests(anvil_w3, world.deployment, world.deployer)
    return world, requests_contract(anvil_w3, world.deployment)


def test_request_seen_and_fulfilled_with_latency(chain_world, tmp_path):
    world, req = chain_world
    w3, regulator = world.w3, world.deployer
    e = world.enroll("E1", "machinery", 12_000)
    enrol(w3, req, regulator, "E1")
    rid = request_report(w3, req, regulator, "E1", dt.date(2026, 1, 1), dt.date(2026, 2, 1), METHODOLOGY_ID)
    assert [r.id for r in open_requests(req, "E1")] == [rid] and open_requests(req, "E2") == []
    w3.provider.make_request("evm_increaseTime", [3600])  # the enterprise's job runs an hour later

    # the enterprise ledgers, anchors and submits its figures for the month, then fulfils with their SHA-256
    pkg_dir = world.package("E1", "2026-01", {"scope1": 400.0, "scope2": 600.0, "total": 1000.0}, tmp_path / "out")
    submit(pkg_dir, tmp_path / "drop")
    fulfil(w3, req, e.gateway, rid, hashlib.sha256((pkg_dir / "figures.json").read_bytes()).hexdigest())
    assert open_requests(req, "E1") == []

    (r,) = all_requests(req)
    assert r.fulfilled_at is not None and r.gateway == e.gateway.address
    assert 3600 <= r.latency.total_seconds() < 3700 and r.state.startswith("fulfilled after")
    # the park verifies the package and it is the one the request names
    (pkg,) = scan_drop(tmp_path / "drop")
    v = verify_package(pkg, w3, world.deployment)
    assert v.ok, v.detail()
    assert hashlib.sha256(pkg.figures_bytes).hexdigest() == r.figures_sha256
    assert pkg.figures["methodology"]["sha256"] == package_sha256(METHODOLOGY_DIR)
    # answering twice is refused
    with pytest.raises(ChainError, match="already fulfilled"):
        fulfil(w3, req, e.gateway, rid, "00" * 32)


def test_refusals_are_one_clear_sentence(chain_world):
    world, req = chain_world
    w3, regulator = world.w3, world.deployer
    with pytest.raises(ChainError, match=r"refused: enterprise 'NOPE' is not enrolled"):
        request_report(w3, req, regulator, "NOPE", dt.date(2026, 1, 1), dt.date(2026, 2, 1), METHODOLOGY_ID)
    world.enroll("E2", "cement", None)
    enrol(w3, req, regulator, "E2")
    with pytest.raises(ChainError, match=r"has not ended yet"):
        request_report(w3, req, regulator, "E2", dt.date(2030, 1, 1), dt.date(2030, 2, 1), METHODOLOGY_ID)
    outsider = w3.eth.accounts[3]
    with pytest.raises(ChainError, match=r"is not the regulator"):
        request_report(w3, req, outsider, "E2", dt.date(2026, 1, 1), dt.date(2026, 2, 1), METHODOLOGY_ID)
    rid = request_report(w3, req, regulator, "E2", dt.date(2026, 3, 1), dt.date(2026, 4, 1), METHODOLOGY_ID)
    world.enroll("E3", "steel", None)
    with pytest.raises(ChainError, match=r"is not an active gateway of 'E2'"):
        fulfil(w3, req, world.enterprises["E3"].gateway, rid, "11" * 32)


def test_cli_request_and_requests(chain_world, tmp_path, capsys):
    import json

    from tanjian.cli import main

    world, req = chain_world
    world.enroll("E5", "glass", None)
    enrol(world.w3, req, world.deployer, "E5")
    dep = tmp_path / "deployment.json"
    dep.write_text(json.dumps(world.deployment))
    rpc = world.w3.provider.endpoint_uri
    base = ["--deployment", str(dep), "--rpc", rpc, "--methodology", METHODOLOGY_ID]
    assert main(["park", "request", "E5", "--period", "2026-05", "--from", world.deployer, *base]) == 0
    assert "report of E5 for 2026-05" in capsys.readouterr().out
    assert main(["park", "request", "E5", "--period", "2030-05", "--from", world.deployer, *base]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tanjian park request: refused: the period") and "has not ended yet" in err
    assert main(["park", "request", "E5", "--period", "2026-05", "--from", world.w3.eth.accounts[4], *base]) == 1
    assert "is not the regulator" in capsys.readouterr().err
    assert main(["park", "requests", "--deployment", str(dep), "--rpc", rpc]) == 0
    assert "E5" in capsys.readouterr().out
