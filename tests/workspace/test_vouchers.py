"""Manual vouchers go through the import path: a bad line named as file:row:column, the good line imported with
the scan's hash in its note, the scan kept as evidence, and `tanjian inventory` counting the voucher."""

from __future__ import annotations

import hashlib
import json

import pytest

from tanjian.cli import main
from workspace.business.documents import read_documents
from workspace.business.sheets import ActivityFileError
from workspace.business.vouchers import MAPPING, VoucherLine, enter_voucher, list_vouchers
from workspace.errors import TanjianError
from workspace.evidence import EvidenceStore

SCAN = b"%PDF-1.4\n% the supplier's voucher, scanned\n"
GOOD = VoucherLine("fuel:natural_gas", "10000", "Nm3")
BAD = VoucherLine("fuel:diesel", "2.5", "kWh")  # a fuel is bought by mass or volume, never kWh
KW = dict(author="zhao.min", number="PZ 2026/10-001", supplier="城燃公司", period_start="2026-10-01",
          period_end="2026-10-31", scan=SCAN, scan_name="scan.pdf")


def test_a_bad_line_refuses_the_voucher_and_is_named(plant_cfg):
    with pytest.raises(ActivityFileError) as e:
        enter_voucher(plant_cfg, lines=[GOOD, BAD], **KW)
    # row 1 is the header: the second line is row 3
    assert [(p[0], p[1], p[2]) for p in e.value.problems] == [("voucher-PZ_2026_10-001.csv", 3, "unit")]
    assert read_documents(plant_cfg.paths.data_dir) == []
    assert hashlib.sha256(SCAN).hexdigest() not in EvidenceStore(plant_cfg.paths.evidence)  # nothing stored


def test_good_lines_imported_and_counted_by_the_inventory(plant_cfg, capsys):
    r = enter_voucher(plant_cfg, lines=[GOOD, BAD], accept_good_rows=True, **KW)
    assert (r.status, r.records) == ("imported", 1) and r.rejected[0].startswith("voucher-PZ_2026_10-001.csv:3:unit:")
    scan_sha = hashlib.sha256(SCAN).hexdigest()
    assert scan_sha in EvidenceStore(plant_cfg.paths.evidence)
    (v,) = list_vouchers(plant_cfg.paths.data_dir)
    assert (v["author"], v["resource"], v["quantity"], v["unit"]) == ("zhao.min", "fuel:natural_gas", 10000.0, "Nm3")
    assert f"scan sha256 {scan_sha}" in v["note"] and "PZ 2026/10-001" in v["note"]
    (doc,) = read_documents(plant_cfg.paths.data_dir)
    assert doc["mapping_name"] == MAPPING and doc["author"] == "zhao.min"
    # both the voucher CSV and its scan are queued for the ledger
    queued = [json.loads(p.read_text()) for p in plant_cfg.paths.inbox.glob("*.json")]
    assert {q["sha256"] for q in queued if q["kind"] == "document"} == {doc["source_sha256"], scan_sha}
    # the same voucher again changes nothing
    assert enter_voucher(plant_cfg, lines=[GOOD], **KW).status == "already"

    # hand-worked (NDRC 2015 machinery guideline defaults): 10,000 Nm3 = 1 x 10^4 Nm3 x 389.31 GJ/10^4Nm3
    # = 389.31 GJ x 15.3 tC/TJ (0.0153 tC/GJ) = 5.956443 tC x 99 % oxidised = 5.896879 tC x 44/12
    # = 21.6219 tCO2 -> 21.622 t
    assert main(["--data-dir", str(plant_cfg.paths.data_dir), "inventory", "--from", "2026-10-01", "--to",
                 "2026-10-31", "--no-store", "--methodology", "cn-machinery-2015", "--json"]) == 0
    inv = json.loads(capsys.readouterr().out)
    (line,) = [x for x in inv["lines"] if x.get("item") == "natural_gas"]
    assert float(line["tco2e"]) == pytest.approx(21.622, abs=5e-4)


@pytest.mark.parametrize("change,match", [({"number": " "}, "voucher number"), ({"supplier": ""}, "supplier"),
                                          ({"scan": b""}, "scan")])
def test_refused_before_anything_is_read(plant_cfg, change, match):
    with pytest.raises(TanjianError, match=match):
        enter_voucher(plant_cfg, lines=[GOOD], **{**KW, **change})
