"""Reporting on demand, for real, against anvil: the regulator requests Plant 18's November report on chain; the
enterprise's workspace (a Plant 18 store holding the period's data) sees the request in the chain's events, issues
the report through models.reports.issue (the path of `tanjian report`, the methodology guard included), ledgers
and anchors it, submits the package to the park's drop and fulfils the request; the park verifies the package and
the regulator sees request -> fulfilled with the latency. Refusals are one line each."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest

from chain.requests import all_requests, deploy_requests, enrol, request_report, requests_contract
from models.park import scan_drop, verify_package
from tests.park_fixture import METHODOLOGY_DIR, METHODOLOGY_ID, ParkWorld, anvil_w3  # noqa: F401 (a fixture)
from workspace.config import EXAMPLE, load_config

pytestmark = [pytest.mark.requires_anvil, pytest.mark.slow]
UTC = dt.timezone.utc
PLANT = "plant-18"


@pytest.fixture(scope="module")
def plant(anvil_w3, tmp_path_factory):
    """(world, requests contract, workspace config) with Plant 18's store holding 30 November 2025 (local).

    2025: the last year the compliance grid factor is published for (models/data/emission-factors.csv), so the
    guideline's headline view can be computed; the association's version is effective from 1 January 2025."""
    from eth_account import Account

    from chain.deploy import _write_deployment, ensure_gateway
    from chain.keys import create_keystore, write_password_file
    from tanjian.demo.history import seed_history

    root = tmp_path_factory.mktemp("ondemand")
    world = ParkWorld(anvil_w3, root / "park", effective=dt.date(2025, 1, 1))
    from chain.quota import set_on_chain

    set_on_chain(anvil_w3, world.quotas, world.deployer, PLANT, 2025, 9_000_000, "allocation")
    deploy_requests(anvil_w3, world.deployment, world.deployer)
    req = requests_contract(anvil_w3, world.deployment)
    enrol(anvil_w3, req, world.deployer, PLANT)
    rpc = anvil_w3.provider.endpoint_uri
    (root / "ws").mkdir()
    (root / "ws" / "tanjian.yaml").write_text(EXAMPLE.read_text().replace(
        "rpc_url: http://127.0.0.1:8545", f"rpc_url: {rpc}\n  methodology_id: {METHODOLOGY_ID}\n"
                                               f"  methodology_package: {METHODOLOGY_DIR}"))
    cfg = load_config(root / "ws" / "tanjian.yaml", data_dir=root / "ws" / "var")
    _write_deployment(cfg.paths.chain, world.deployment)  # the consortium's addresses, as published
    keystore = cfg.chain.keystore or cfg.paths.chain / "gateway.keystore.json"
    password = cfg.chain.password_file or cfg.paths.chain / "keystore.password"
    write_password_file(password, "gateway-pass")
    address = create_keystore(keystore, "gateway-pass", kdf="pbkdf2")
    ensure_gateway(anvil_w3, world.deployment, address, PLANT, deployer=world.deployer)
    anvil_w3.eth.send_transaction({"from": world.deployer, "to": address, "value": 10**18})
    # the plant's local day 30 November 2025 (Asia/Shanghai): 29 Nov 16:00 UTC .. 30 Nov 16:00 UTC
    seed_history(cfg, dt.datetime(2025, 11, 29, 16, tzinfo=UTC), dt.datetime(2025, 11, 30, 16, tzinfo=UTC))
    dep = root / "deployment.json"
    dep.write_text(json.dumps(world.deployment))
    (cfg.paths.data_dir / "park.yaml").write_text(
        f"drop: {root / 'drop'}\ndeployment: {dep}\nrpc: {rpc}\nyear: 2025\n"
        f"answer:\n  author: wang.fang\n  sector: machinery\n")
    return world, req, cfg


def test_request_answered_end_to_end_through_the_report_path(plant, capsys):
    from tanjian.cli import main

    world, req, cfg = plant
    w3 = world.w3
    rid = request_report(w3, req, world.deployer, PLANT, dt.date(2025, 11, 1), dt.date(2025, 12, 1), METHODOLOGY_ID)
    w3.provider.make_request("evm_increaseTime", [600])  # the enterprise's loop sees it ten minutes later
    w3.provider.make_request("evm_mine", [])
    argv = ["--config", str(cfg.source), "--data-dir", str(cfg.paths.data_dir), "park", "answer"]
    assert main(argv) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert out.startswith(f"request {rid}: fulfilled after ")

    # the regulator's view: request -> fulfilled, with the latency (block times: >= the 600 s waited)
    (r,) = [x for x in all_requests(req) if x.id == rid]
    assert r.fulfilled_at is not None and 600 <= r.latency.total_seconds() < 900
    assert main(["park", "requests", "--deployment", str(cfg.paths.data_dir.parent.parent / "deployment.json"),
                 "--rpc", w3.provider.endpoint_uri]) == 0
    assert f"{PLANT:<14} 2025-11  {METHODOLOGY_ID:<22} fulfilled after" in capsys.readouterr().out

    # the park verifies the package, and it is the one the request names
    (pkg,) = scan_drop(cfg.paths.data_dir.parent.parent / "drop")
    v = verify_package(pkg, w3, world.deployment)
    assert v.ok, v.detail()
    assert (pkg.enterprise, pkg.period) == (PLANT, "2025-11")
    assert hashlib.sha256(pkg.figures_bytes).hexdigest() == r.figures_sha256
    assert pkg.figures["methodology"] == world.methodology  # the association's active version

    # the same path as `tanjian report`: the issued JSON names the package checked on chain, covers 1..30
    # November, and its headline view (compliance) is the package's figures (t -> kg: x 1000)
    (doc_path,) = (cfg.paths.data_dir / "reports" / f"request-{rid}").glob("*-cn.json")
    inv = json.loads(doc_path.read_text())["inventory"]
    assert inv["period"] == {"start": "2025-11-01", "end": "2025-11-30"}
    assert inv["methodology"]["chain_check"]["status"] == "checked"
    comp = inv["views"]["compliance"]
    f = pkg.figures["emissions_kg"]
    assert f["total"] == pytest.approx(float(comp["total_tco2e"]) * 1000, abs=1e-6)
    assert f["scope1"] + f["scope2"] == pytest.approx(f["total"], abs=1e-6)
    assert f["total"] > 0  # the store's day of readings is in it
    # hand-worked: the guideline's scope 2 (排放总量, compliance) is NET purchased electricity x the compliance grid
    # factor 0.5703 t/MWh (MEE, 2022 national grid; REFERENCE-FACTS), green power not deducted. The day's metered
    # MWh are the report's own activity lines (purchased 5.82.. MWh, exported 5.88.. MWh on the day measured:
    # PV and battery exported more than was bought), e.g. (5.824985 - 5.881941) x 570.3 = -32.48 kg -> -0.032 t
    mwh = {ln["source"]: float(ln["activity"]["quantity"]) for ln in inv["lines"] if ln["scope"] == 2}
    net = mwh["purchased_electricity"] - mwh["electricity_exported"]
    assert f["scope2"] == pytest.approx(round(net * 0.5703, 3) * 1000, abs=1e-6)
    assert comp["factors"] == ["grid_average_compliance@CN:2022-01-01"]
    # the report files travel in the package for a person; the figures are in the plant's ledger
    assert any(p.endswith(".pdf") for p in pkg.reports)
    # answering again does nothing
    assert main(argv) == 0 and "no open request" in capsys.readouterr().out


def test_refusals_are_one_line(plant, capsys):
    from tanjian.cli import main
    from workspace.accounts import Accounts

    world, req, cfg = plant
    w3 = world.w3
    argv = ["--config", str(cfg.source), "--data-dir", str(cfg.paths.data_dir), "park", "answer"]
    # a methodology this workspace does not follow (the association's active one is cn-machinery-2015)
    rid = request_report(w3, req, world.deployer, PLANT, dt.date(2025, 10, 1), dt.date(2025, 11, 1),
                         "iso-14064-1-2018")
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"tanjian park answer: refused: request {rid}: methodology 'iso-14064-1-2018' is not the one "
                   f"this workspace accounts with and checks on chain (chain.methodology_id: '{METHODOLOGY_ID}')"]
    # the role: with accounts, the author must hold the 'report' permission
    Accounts(cfg.paths.data_dir).add("vera.verifier", "verifier", "a-long-passphrase-1", by="admin")
    rid2 = request_report(w3, req, world.deployer, PLANT, dt.date(2025, 9, 1), dt.date(2025, 10, 1), METHODOLOGY_ID)
    assert main([*argv, str(rid2), "--author", "vera.verifier"]) == 1
    err = capsys.readouterr().err
    assert f"refused: request {rid2}: 'vera.verifier' has the role 'verifier', which may not issue reports " \
           f"(permission 'report'; role not allowed)" in err and len(err.strip().splitlines()) == 1
    # the refusal is recorded: the loop does not try it again by itself
    assert "no open request" in (main([*argv, "--author", "vera.verifier"]) == 0 and capsys.readouterr().out)
    # the regulator's side: an enterprise not enrolled, a period not over
    rpc = w3.provider.endpoint_uri
    dep = str(cfg.paths.data_dir.parent.parent / "deployment.json")
    base = ["park", "request", "--deployment", dep, "--rpc", rpc, "--methodology", METHODOLOGY_ID,
            "--from", world.deployer]
    assert main([*base, "plant-99", "--period", "2025-11"]) == 1
    assert "refused: enterprise 'plant-99' is not enrolled with the regulator" in capsys.readouterr().err
    assert main([*base, PLANT, "--period", "2027-01"]) == 1
    assert "has not ended yet" in capsys.readouterr().err


def test_local_dates_of_a_request():
    from zoneinfo import ZoneInfo

    from models.reports.on_demand import local_dates

    cfg = load_config(EXAMPLE)
    # dates (00:00 UTC) name calendar days: November = 1..30
    assert local_dates(cfg, dt.datetime(2026, 11, 1, tzinfo=UTC), dt.datetime(2026, 12, 1, tzinfo=UTC)) == \
        (dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    # instants are read in the plant's zone (UTC+8): 2026-11-30 16:00Z .. 2026-12-01 16:00Z = 1 December
    sh = ZoneInfo("Asia/Shanghai")
    assert local_dates(cfg, dt.datetime(2026, 12, 1, tzinfo=sh), dt.datetime(2026, 12, 2, tzinfo=sh)) == \
        (dt.date(2026, 12, 1), dt.date(2026, 12, 1))


@pytest.fixture
def s3_endpoint(monkeypatch):
    """moto's S3 server with the bucket ``park``; the keys in the environment."""
    import boto3

    from tests.objectstore import S3_KEY, start_s3_server

    for k, v in S3_KEY.items():
        monkeypatch.setenv(k, v)
    srv = start_s3_server()
    host, port = srv.get_host_and_port()
    boto3.client("s3", endpoint_url=f"http://{host}:{port}", region_name="us-east-1").create_bucket(Bucket="park")
    yield f"http://{host}:{port}"
    srv.stop()


def test_the_anchoring_loop_answers_while_a_collector_holds_the_journal(plant, tmp_path, s3_endpoint):
    """The loop's watcher (what `tanjian chain anchor` runs when park.yaml has `answer:`): with a collector
    holding the journal the figures are queued in the inbox and the request waits; once the collector has
    journaled them, the loop anchors, submits (this time to the park's S3 bucket, moto's server) and fulfils
    by itself."""
    import threading

    from chain.connect import anchoring_service
    from chain.requests import request_of
    from models.park.config import load_park
    from models.park.s3drop import scan
    from models.reports.on_demand import watcher_for
    from workspace.accounts import Accounts
    from workspace.journal import Journal
    from workspace.keeper import Keeper

    world, req, cfg = plant
    w3 = world.w3
    # the park's published settings with its bucket instead of the drop folder
    text = (cfg.paths.data_dir / "park.yaml").read_text()
    park_file = tmp_path / "park-s3.yaml"
    park_file.write_text(text.replace(text.splitlines()[0], f"s3: {{endpoint_url: '{s3_endpoint}', bucket: park, "
                                      f"prefix: zone-a, allow_http: true, force_path_style: true}}\n"
                                      f"cache: {tmp_path / 'cache'}"))
    accounts = Accounts(cfg.paths.data_dir)  # with accounts, park.yaml's author must hold 'report'
    if accounts.get("wang.fang") is None:
        accounts.add("wang.fang", "energy_manager", "another-long-passphrase-2", by="admin")
    rid = request_report(w3, req, world.deployer, PLANT, dt.date(2025, 11, 1), dt.date(2025, 12, 1), METHODOLOGY_ID)
    svc = anchoring_service(cfg)
    watcher = watcher_for(cfg, svc, park_file)
    assert watcher.park.s3 is not None and watcher.park.drop is None
    assert watcher is not None and watcher.author == "wang.fang" and watcher.sector == "machinery"
    before = set(cfg.paths.inbox.glob("*.json"))
    collector = Journal(cfg.paths.journal, writer=True)  # the collector holds the journal
    try:
        (a,) = watcher.poll()
        assert (a.request_id, a.state) == (rid, "waiting") and "queued for the collector" in a.detail
        assert watcher.poll()[0].state == "waiting"  # issued once: nothing issued or queued again
        # queued: the report's three files (JSON, XLSX, PDF of the cn layout) and the figures, one request each
        assert len(set(cfg.paths.inbox.glob("*.json")) - before) == 4
        # the collector's next cycle journals the inbox (these and whatever else waited there, e.g. the audit head)
        waiting = len(list(cfg.paths.inbox.glob("*.json")))
        assert Keeper.open(cfg, collector).drain() == waiting
    finally:
        collector.close()
    stop = threading.Event()
    loop = threading.Thread(target=svc.run, args=(0.2, stop), kwargs={"also": (watcher.poll,)}, daemon=True)
    loop.start()
    try:
        for _ in range(300):
            if request_of(req, rid).fulfilled_at is not None:
                break
            stop.wait(0.2)
    finally:
        stop.set()
        loop.join(timeout=30)
    r = request_of(req, rid)
    assert r.fulfilled_at is not None, "the loop did not fulfil the request"
    (pkg,) = scan(load_park(park_file))  # the park reads it back from the bucket
    assert (pkg.enterprise, pkg.period) == (PLANT, "2025-11")
    assert hashlib.sha256(pkg.figures_bytes).hexdigest() == r.figures_sha256
    assert verify_package(pkg, w3, world.deployment).ok


def test_workspace_side_refusals_without_a_chain():
    """The refusals the contract cannot make for the enterprise: a request for another plant, and a period that
    has not ended by the workspace's clock (e.g. a node whose clock runs ahead), each one line."""
    from chain.requests import ReportRequest
    from models.reports.on_demand import RequestRefused, check_request

    cfg = load_config(EXAMPLE)
    now = dt.datetime(2026, 12, 5, 6, 0, tzinfo=UTC)

    def req(enterprise, start, end):
        return ReportRequest(7, enterprise, start, end, METHODOLOGY_ID, now, None, None, None)

    with pytest.raises(RequestRefused, match=r"^request 7: for enterprise 'plant-99', not this workspace's plant "
                                             r"'plant-18' \(unknown enterprise\)$"):
        check_request(cfg, req("plant-99", dt.datetime(2026, 11, 1, tzinfo=UTC), dt.datetime(2026, 12, 1, tzinfo=UTC)),
                      None, author="wang.fang", now=now)
    with pytest.raises(RequestRefused, match=r"^request 7: the period 2026-12-01 00:00 \.\. 2027-01-01 00:00 UTC has "
                                             r"not ended \(period in the future\)$"):
        check_request(cfg, req(PLANT, dt.datetime(2026, 12, 1, tzinfo=UTC), dt.datetime(2027, 1, 1, tzinfo=UTC)),
                      None, author="wang.fang", now=now)


def test_answer_command_mistakes_are_one_line(tmp_path, capsys):
    from chain.node import free_port
    from tanjian.cli import main

    cfg_file = tmp_path / "tanjian.yaml"
    cfg_file.write_text(EXAMPLE.read_text().replace("rpc_url: http://127.0.0.1:8545",
                                                    f"rpc_url: http://127.0.0.1:{free_port()}"))  # no node there
    var = tmp_path / "var"
    argv = ["--config", str(cfg_file), "--data-dir", str(var), "park", "answer"]
    assert main(argv) == 2
    assert capsys.readouterr().err.strip() == (f"tanjian park answer: {var / 'park.yaml'}: no park.yaml (the park's "
                                               f"drop or s3 and its deployment record); give --park")
    var.mkdir()
    (var / "park.yaml").write_text("drop: d\nanswer: {author: wang.fang}\nstore_url: s3://plants/x\n")
    assert main(argv) == 2
    assert capsys.readouterr().err.strip() == (f"tanjian park answer: {var / 'park.yaml'}:3: store_url: Extra inputs "
                                               f"are not permitted")
    (var / "park.yaml").write_text("drop: d\nanswer: {author: wang.fang}\n")
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("tanjian park answer: ") and "unreachable" in err
