"""The reports page's hash check: an issued report, its hash journaled as a document batch and anchored on an
in-process chain, passes every proof check; a copy changed after issue fails at `document`; a report whose hash
is not in the ledger, or uploads that are not a proof, are refused or fail `format` with the reason."""

from __future__ import annotations

import datetime as dt

import pytest
from eth_account import Account

from chain.anchor import AnchorService
from chain.deploy import ensure_deployment
from chain.ledger import Ledger
from chain.node import connect
from chain.verify import CHECKS
from dashboards.actor import ActionRefused, Actor
from dashboards.reports_check import check_issued, check_report, document_batch, export_proof
from dashboards.reports_page import ReportsPage, issue_reports, reports_dir


@pytest.fixture
def issued(seeded_cfg):
    """(cfg, w3, folder, files): JSON reports of yesterday..today issued and anchored."""
    cfg = seeded_cfg
    day = dt.date.today()
    df = issue_reports(cfg, Actor("li.wei", "energy_manager"), day - dt.timedelta(days=1), day, ["json"], "test")
    w3 = connect("tester")
    gateway = Account.create()
    info = ensure_deployment(w3, cfg.paths.chain, gateway.address, plant=cfg.site.plant.id)
    with Ledger(cfg.paths.journal, cfg.paths.chain) as ledger:
        AnchorService(w3, info["address"], gateway, ledger, cfg.paths.chain).anchor_once()
    return cfg, w3, reports_dir(cfg) / f"{day - dt.timedelta(days=1)}_{day}", list(df.index)


def test_issued_report_passes_and_a_changed_copy_fails_at_document(issued, tmp_path):
    cfg, w3, folder, files = issued
    path = folder / files[0]
    v = check_issued(cfg, path, w3=w3)
    status = {c.name: c.status for c in v.report.checks}
    assert [c.name for c in v.report.checks] == [*CHECKS[:2], "document", *CHECKS[2:], "methodology"]
    assert all(status[n] == "pass" for n in (*CHECKS, "document")), v.report.render()
    # Plant 18's configuration pins no methodology on chain: the methodology check says so, never a silent pass
    assert status["methodology"] == "skip" and "pins no methodology" in v.report.check("methodology").detail
    assert "li.wei" in v.report.check("document").detail

    # the same report with one character changed, checked against the proof of the original
    seq = document_batch(cfg, v.report.check("document").detail.split("sha256 ")[1].split(")")[0])
    batch, bundle = export_proof(cfg, seq, tmp_path)
    good = path.read_bytes()
    bad = good.replace(b'"tco2e"', b'"tCO2e"', 1)
    assert bad != good
    v2 = check_report(cfg, bad, path.name, batch, bundle, w3=w3)
    assert v2.report.failed == "document" and v2.verdict == "fail"
    assert f"batch {seq}" in v2.report.check("document").detail
    assert all(c.status == "skip" for c in v2.report.checks[3:])  # nothing after the failing check runs
    # the page's "pick an issued report" on a file changed on disk after issue: the recorded hash finds the batch,
    # the bytes fail
    page = ReportsPage(cfg)
    page._name.value = "auditor"
    path.write_bytes(bad)
    page._pick.value = files[0]
    page.do_check_issued()
    assert 'data-failed="document"' in page.checked and 'data-verdict="fail"' in page.checked


def test_not_in_the_ledger_and_not_a_proof(issued, tmp_path):
    cfg, w3, folder, files = issued
    stray = tmp_path / "stray.json"
    stray.write_text("{}")
    with pytest.raises(ActionRefused, match="no ledger batch records"):
        check_issued(cfg, stray)
    v = check_report(cfg, b"{}", "r.json", b"{}", b"not json")
    assert v.report.failed == "format" and v.report.checks[-1].name == "methodology"


def test_offline_server_runs_the_offline_checks(issued):
    cfg, _w3, folder, files = issued  # the configuration's node is not running: offline
    v = check_issued(cfg, folder / files[0])
    status = {c.name: c.status for c in v.report.checks}
    assert all(status[n] == "pass" for n in ("format", "leaf", "document", "signature", "inclusion", "consistency"))
    assert {status[n] for n in ("chain_id", "anchor", "gateway", "methodology")} == {"skip"}
    assert v.verdict == "offline" and not v.report.failed
