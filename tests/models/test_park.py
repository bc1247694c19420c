"""The park on proofs alone: three enterprises against anvil, one tampered report flagged at the right check,
the views checked against hand-worked figures, and the park's code kept away from any plant store."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest

from models.park import (by_enterprise, by_month, by_sector, lateness, quota_position, scan_drop, status_table,
                         submit, verify_package)
from tests.park_fixture import anvil_w3, three_park  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.requires_anvil, pytest.mark.slow]

@pytest.fixture(scope="module")
def park(three_park):
    return three_park


def test_three_enterprises_one_tampered_flagged_at_document(park):
    world, drop = park
    verdicts = [verify_package(p, world.w3, world.deployment) for p in scan_drop(drop)]
    st = status_table(verdicts).set_index(["enterprise", "period"])
    assert len(st) == 8
    assert st.loc[("E2", "2026-02"), "status"] == "failed: document"
    assert "differs from" in st.loc[("E2", "2026-02"), "detail"]
    assert (st.drop(index=("E2", "2026-02"))["status"] == "verified").all()
    bad = next(v for v in verdicts if v.failed)
    assert [(c.name, c.status) for c in bad.checks[:4]] == [("package", "pass"), ("format", "pass"),
                                                             ("leaf", "pass"), ("document", "fail")]
    assert {c.status for c in bad.checks[4:]} == {"skip"}

    # hand-worked: only verified figures count. E1 1000+1200+1100 = 3300; E2 500+600 = 1100 (Feb refused);
    # E3 2000+2500 = 4500; machinery = 3300+1100 = 4400, cement = 4500
    assert by_enterprise(verdicts).to_dict() == {"E1": 3300.0, "E2": 1100.0, "E3": 4500.0}
    assert by_sector(verdicts).to_dict() == {"cement": 4500.0, "machinery": 4400.0}
    months = by_month(verdicts)
    assert months.loc["2026-02", "E1"] == 1200.0 and months.loc["2026-02"].isna()["E2"]

    # quota from the QuotaRegistry; forecast = emitted / months * 12:
    # E1 3300/3*12 = 13200 > 12000 -> headroom -1200; E3 4500/2*12 = 27000 -> headroom 30000-27000 = 3000
    q = quota_position(verdicts, 2026)
    assert q.loc["E1", "quota_kg"] == 12_000 and q.loc["E1", "forecast_kg"] == pytest.approx(13_200)
    assert q.loc["E1", "headroom_kg"] == pytest.approx(-1_200)
    assert q.loc["E3", "forecast_kg"] == pytest.approx(27_000) and q.loc["E3", "headroom_kg"] == pytest.approx(3_000)

    # due on the 15th of the next month. On 20 April: E3's March (missing) is late since 15 April, 5 days;
    # E2's refused February is late since 15 March: 16 days of March + 20 of April = 36 days
    late = lateness(verdicts, ["E1", "E2", "E3"], ["2026-01", "2026-02", "2026-03", "2026-04"],
                    today=dt.date(2026, 4, 20)).set_index(["enterprise", "period"])
    assert late.loc[("E3", "2026-03"), "state"] == "missing" and late.loc[("E3", "2026-03"), "days_late"] == 5
    assert late.loc[("E2", "2026-02"), "state"] == "failed: document"
    assert late.loc[("E2", "2026-02"), "days_late"] == 36
    assert len(late) == 2


def test_borrowed_proof_and_wrong_methodology_and_no_quota_are_named(park, tmp_path):
    world, drop = park
    # E3's workspace ledgers and anchors figures that say they are E1's: proven, but not by E1
    p = world.package("E1", "2026-04", {"total": 1.0}, tmp_path / "borrowed", by="E3")
    v = verify_package(scan_drop(submit(p, tmp_path / "d3").parent.parent)[0], world.w3, world.deployment)
    assert v.failed == "enterprise" and "anchored for 'E3'" in v.detail()

    # figures computed with an unpublished package hash
    world.enroll("E4", "steel", None)
    other = dict(world.methodology, sha256="00" * 32)
    p = world.package("E4", "2026-01", {"total": 10.0}, tmp_path / "e4", methodology=other)
    v = verify_package(scan_drop(submit(p, tmp_path / "d4").parent.parent)[0], world.w3, world.deployment)
    assert v.failed == "methodology" and "active version" in v.detail()
    # the right methodology, but the regulator set no quota for E4
    p = world.package("E4", "2026-02", {"total": 10.0}, tmp_path / "e4b")
    v = verify_package(scan_drop(submit(p, tmp_path / "d5").parent.parent)[0], world.w3, world.deployment)
    assert v.failed == "quota" and "no quota" in v.detail()


def test_unreadable_package_fails_package_check_with_the_file_named(tmp_path):
    from models.park import load_package
    from models.park.verify import verify_package as vp

    d = tmp_path / "E9" / "2026-01"
    d.mkdir(parents=True)
    (d / "package.json").write_text('{"schema": "tanjian.park-package/1", "figures": "figures.json"}')
    v = vp(load_package(d), None, {"contracts": {}})
    assert v.failed == "package" and "2026-01/package.json:figures: names no file" in v.detail()


def test_park_code_reaches_no_plant_store():
    import tomllib
    from pathlib import Path

    cfg = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    contracts = {c["id"]: c for c in cfg["tool"]["importlinter"]["contracts"]}
    c = contracts["park-holds-no-store"]
    assert c["type"] == "forbidden" and "models.park" in c["source_modules"]
    assert "workspace.store" in c["forbidden_modules"] and not c.get("allow_indirect_imports")
    # the park's configuration is the drop folder and the chain: nothing in models.park names a store path
    src = "".join(p.read_text() for p in (Path(__file__).resolve().parents[2] / "models" / "park").glob("*.py"))
    assert "paths.store" not in src and "Store.open" not in src


def test_cli_verify_names_the_check_and_status_prints_the_views(park, tmp_path, capsys):
    from tanjian.cli import main

    world, drop = park
    dep = tmp_path / "deployment.json"
    dep.write_text(json.dumps(world.deployment))
    rpc = world.w3.provider.endpoint_uri
    assert main(["park", "verify", "--drop", str(drop), "--deployment", str(dep), "--rpc", rpc]) == 1
    out = capsys.readouterr().out
    assert "E2             2026-02  failed: document" in out and "7 of 8 packages verified" in out
    assert main(["park", "status", "--drop", str(drop), "--deployment", str(dep), "--rpc", rpc,
                 "--year", "2026", "--today", "2026-04-20"]) == 0
    out = capsys.readouterr().out
    assert "E1    3300.0" in out and "cement       4500.0" in out and "missing" in out

    dep.write_text("{}")
    assert main(["park", "verify", "--drop", str(drop), "--deployment", str(dep), "--rpc", rpc]) == 2
    assert "not a deployment record" in capsys.readouterr().err


def test_batched_lookups_and_a_local_cluster_give_the_same_verdicts(park):
    from dask.distributed import Client, LocalCluster

    from chain.calls import batching_web3
    from models.park.scale import verify_all, verify_on_cluster

    world, drop = park
    pkgs = scan_drop(drop)
    plain = [(v.enterprise, v.period, v.status) for v in (verify_package(p, world.w3, world.deployment)
                                                           for p in pkgs)]
    rpc = world.w3.provider.endpoint_uri
    w3 = batching_web3(rpc)
    batched = verify_all(pkgs, w3, world.deployment)
    assert [(v.enterprise, v.period, v.status) for v in batched] == plain
    # 8 packages x about 24 JSON-RPC requests each (measured: 192 answered) in a handful of round trips:
    # the two prefetch batches plus the look-ups asked once for all (chain id, the registries' code, the
    # DeviceRegistry's address, the methodology's URI); measured 7
    assert w3.provider.calls >= 8 * 6 and w3.provider.round_trips <= 10, (w3.provider.round_trips, w3.provider.calls)

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        verdicts, trips, calls = verify_on_cluster([p.folder for p in pkgs], rpc, world.deployment, client, chunk=4)
    assert [(v.enterprise, v.period, v.status) for v in verdicts] == plain
    assert trips <= 2 * 10 < calls
