"""A report's hash as a ledger leaf: journaled with who issued it, anchored, exported and verified together
with the report file; a changed report fails the `document` check."""

import json

from chain.anchor import AnchorService
from chain.bundle import export_batch
from chain.deploy import ensure_deployment
from chain.ledger import Ledger
from chain.node import connect
from chain.verify import verify_files
from eth_account import Account
from workspace.batch import decode_batch
from tanjian.cli import main
from workspace.journal import Journal
from workspace.store import Store


def test_report_hash_is_journaled_anchored_and_verified(plant_cfg, tmp_path, capsys):
    report = tmp_path / "ghg-report-2026-11.pdf"
    report.write_bytes(b"%PDF-1.7\n% monthly GHG report, Plant 18, November 2026\n")
    data = str(plant_cfg.paths.data_dir)
    assert main(["--data-dir", data, "ledger", "add", str(report), "--author", "wang.fang",
                 "--reason", "monthly GHG report 2026-11"]) == 0
    out = capsys.readouterr().out
    assert "is ledger batch 0" in out
    batch = decode_batch(Journal(plant_cfg.paths.journal).read(0))
    assert batch.readings == [] and batch.note["kind"] == "document"
    assert batch.note["author"] == "wang.fang" and batch.note["name"] == report.name
    store = Store.open(plant_cfg.paths.store, plant_cfg.site)
    assert store.last_folded_seq == 0
    assert store.versions()[0]["message"].startswith(f"document {report.name} (sha256 ")

    w3 = connect("tester")
    gateway = Account.create()
    info = ensure_deployment(w3, plant_cfg.paths.chain, gateway.address, plant="plant-18")
    with Ledger(plant_cfg.paths.journal, plant_cfg.paths.chain) as ledger:
        AnchorService(w3, info["address"], gateway, ledger, plant_cfg.paths.chain).anchor_once()
        batch_file, bundle_file = export_batch(plant_cfg.paths.journal, ledger, plant_cfg.paths.chain, 0,
                                               tmp_path / "out")
    r = verify_files(batch_file, bundle_file, w3, document_file=report)
    assert r.ok, r.render()
    assert r.check("document").ok and "wang.fang" in r.check("document").detail
    # one byte of the report changed: the document check fails and names the batch
    report.write_bytes(report.read_bytes().replace(b"November", b"Novembre"))
    r = verify_files(batch_file, bundle_file, w3, document_file=report)
    assert r.failed == "document" and "batch 0" in r.check("document").detail
    # a reading batch is no document
    assert json.loads(batch_file.read_text())["note"]["sha256"] != ""
