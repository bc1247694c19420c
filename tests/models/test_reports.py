"""GHG reports: byte-identical JSON/XLSX/PDF, hand-worked figures in both layouts, hashes ledgered, schedule.

The fixture ``tests/data/reports/inventory-2025.json`` is a hand-written inventory in the
``tanjian.inventory/1`` shape. Its lines, worked by hand (activity x factor):

=========================  ===================================  ===========  =======  ==========
source                     activity x factor                    tCO2e        U [%]    note
=========================  ===================================  ===========  =======  ==========
stationary_combustion      100,000 Nm3 x 2.16 kgCO2/Nm3           216.000      5       2 % est.
mobile_combustion          20 t x 3.1 tCO2/t                       62.000      5       manual
process_welding_co2        20 t x 0.25                              5.000     10       manual
fugitive_sf6_switchgear    0.002 t x GWP 23,500                    47.000     20       manual
purchased_electricity      2,000 MWh x 0.5366 tCO2/MWh          1,073.200      3       1 % est.
purchased_heat             1,000 GJ x 0.11 tCO2/GJ                110.000      5
td_losses (scope 3)        2,000 MWh x 0.05 tCO2/MWh              100.000     30
=========================  ===================================  ===========  =======  ==========

Guideline groups: combustion 216 + 62 = 278.000; process 5 + 47 = 52.000; electricity 1,073.200;
heat 110.000; total 1,513.200. ISO categories: 1 = 330.000, 2 = 1,183.200, 4 = 100.000, total
1,613.200. Combined uncertainty sqrt(10.8^2 + 3.1^2 + 0.5^2 + 9.4^2 + 32.196^2 + 5.5^2 + 30^2)
= sqrt(2,181.692416) = 46.7086 t -> 2.895 % of 1,613.2 t. Estimated share (216 x 0.02 +
1,073.2 x 0.01) / 1,613.2 = 15.052 / 1,613.2 = 0.93 %; manual (62 + 5 + 47) / 1,613.2 = 7.07 %.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import zipfile
import zlib
from pathlib import Path

import openpyxl
import pytest
import rfc8785

from models.reports import ReportError, summary, write_reports
from models.reports.issue import ledger_files, record_sums, run_scheduled
from workspace.batch import decode_batch
from workspace.journal import Journal

FIXTURE = Path(__file__).parents[1] / "data" / "reports" / "inventory-2025.json"
DATE = "2026-01-05"


@pytest.fixture
def inv():
    return json.loads(FIXTURE.read_text())


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def xlsx_rows(path: Path) -> list[list]:
    ws = openpyxl.load_workbook(path).active
    return [list(r) for r in ws.iter_rows(values_only=True)]


def row_after(rows, label, col=0):
    """The first row whose column ``col`` is ``label``."""
    return next(r for r in rows if r[col] == label)


def pdf_text(path: Path) -> str:
    """Text shown by the PDF's Tj operators (streams inflated; ASCII85 undone when used)."""
    data = path.read_bytes()
    out = []
    for m in re.finditer(rb"<<(.*?)>>\s*stream\r?\n(.*?)endstream", data, re.S):
        head, body = m.group(1), m.group(2)
        if b"ASCII85Decode" in head:
            body = body.strip()
            body = base64.a85decode(body if body.startswith(b"<~") else b"<~" + body, adobe=True)
        if b"FlateDecode" in head:
            try:
                body = zlib.decompress(body)
            except zlib.error:
                continue
        out += [t.decode("latin-1") for t in re.findall(rb"\(((?:[^()\\]|\\.)*)\)\s*Tj", body)]
    return "\n".join(out)


def test_same_inputs_give_byte_identical_files(inv, tmp_path):
    a = write_reports(inv, tmp_path / "a", report_date=DATE, author="wang.fang")
    b = write_reports(json.loads(FIXTURE.read_text()), tmp_path / "b", report_date=DATE, author="wang.fang")
    assert [p.name for p in a] == ["ghg-plant-18-2025-cn.json", "ghg-plant-18-2025-cn.xlsx",
                                   "ghg-plant-18-2025-cn.pdf", "ghg-plant-18-2025-iso.json",
                                   "ghg-plant-18-2025-iso.xlsx", "ghg-plant-18-2025-iso.pdf"]
    assert [sha(p) for p in a] == [sha(p) for p in b]
    # another report date is another file (the date is printed, and is the XLSX's creation date)
    c = write_reports(inv, tmp_path / "c", formats=("xlsx", "pdf"), layouts=("iso",), report_date="2026-01-06",
                      author="wang.fang")
    assert sha(c[0]) != sha(tmp_path / "a" / c[0].name) and sha(c[1]) != sha(tmp_path / "a" / c[1].name)


def test_xlsx_zip_members_and_properties_are_fixed(inv, tmp_path):
    (x,) = write_reports(inv, tmp_path, formats=("xlsx",), layouts=("cn",), report_date=DATE, author="wang.fang")
    with zipfile.ZipFile(x) as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        core = z.read("docProps/core.xml").decode()
    assert "<dcterms:created xsi:type=\"dcterms:W3CDTF\">2026-01-05T00:00:00Z</dcterms:created>" in core
    assert "<dc:creator>wang.fang</dc:creator>" in core


def test_pdf_is_invariant_and_uses_the_builtin_cjk_font(inv, tmp_path):
    (p,) = write_reports(inv, tmp_path, formats=("pdf",), layouts=("cn",), report_date=DATE, author="wang.fang")
    data = p.read_bytes()
    assert b"/CreationDate (D:20000101000000" in data  # reportlab's invariant date, not the clock
    assert b"/BaseFont /STSong-Light" in data and b"/FontFile" not in data  # CID font, nothing embedded


def test_guideline_layout_shows_the_hand_worked_results(inv, tmp_path):
    x, p = write_reports(inv, tmp_path, formats=("xlsx", "pdf"), layouts=("cn",), report_date=DATE,
                         author="wang.fang")
    rows = xlsx_rows(x)
    titles = [r[0] for r in rows if r[0] and re.match("^[一二三四]、", str(r[0]))]
    assert titles == ["一、企业基本情况 Enterprise information (附表1)",
                      "二、温室气体排放量汇总 Emissions summary (附表2)",
                      "三、活动水平数据及来源 Activity data with sources (附表3)",
                      "四、排放因子和计算系数及来源 Emission factors and parameters with sources (附表4)"]
    results = {r[1]: r[2] for r in rows if r[1] in ("fossil fuel combustion", "industrial process emissions",
                                                     "net purchased electricity", "net purchased heat",
                                                     "total (lines)")}
    assert results == pytest.approx({"fossil fuel combustion": 278.0, "industrial process emissions": 52.0,
                                     "net purchased electricity": 1073.2, "net purchased heat": 110.0,
                                     "total (lines)": 1513.2})
    sf6 = row_after(rows, "fugitive_sf6_switchgear")
    assert sf6[:2] == ["fugitive_sf6_switchgear", "GIS-1"] or sf6[4] == "UTIL"
    text = pdf_text(p)
    for figure in ("278.000", "52.000", "1,073.200", "110.000", "1,513.200"):
        assert figure in text, figure
    assert "wang.fang" in text and DATE in text


def test_iso_layout_shows_categories_uncertainty_quality_offsets(inv, tmp_path):
    x, p = write_reports(inv, tmp_path, formats=("xlsx", "pdf"), layouts=("iso",), report_date=DATE,
                         author="wang.fang")
    rows = xlsx_rows(x)
    cats = {r[0]: r[2] for r in rows if re.fullmatch(r"Category \d", str(r[0]))}
    assert cats == pytest.approx({"Category 1": 330.0, "Category 2": 1183.2, "Category 3": 0.0,
                                  "Category 4": 100.0, "Category 5": 0.0, "Category 6": 0.0})
    assert row_after(rows, "Total")[2] == pytest.approx(1613.2)
    unc = [r for r in rows if r[0] == "Total" and isinstance(r[3], float)]
    assert unc[0][3] == pytest.approx(100 * 46.708590 / 1613.2, abs=1e-4)  # 2.8954 %
    dq = row_after(rows, "Total (emission-weighted)")
    assert dq[3] == pytest.approx(15.052 / 1613.2) and dq[4] == pytest.approx(114 / 1613.2)
    off = row_after(rows, "CCER")
    assert off[3] == pytest.approx(100.0)
    assert any(str(r[0]).startswith("4. Offsets (CCER), reported separately") for r in rows)
    market = [r for r in rows if str(r[0]).startswith("GHG Protocol scope 2, market-based") and r[1] == "scope2_tco2e"]
    assert market[0][2] == pytest.approx(914.9)  # a number in the XLSX, not the text "914.900"
    text = pdf_text(p)
    for figure in ("330.000", "1,183.200", "1,613.200", "2.9", "914.900", "1,250.600", "0.9%", "7.1%",
                   "9f2c6a0e4b1d3c5e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6", "KXJ1Q9S7D2M4T6V8W0Y3"):
        assert figure in text, figure


def test_canonical_json_holds_inventory_and_hand_worked_summary(inv, tmp_path):
    (j,) = write_reports(inv, tmp_path, formats=("json",), layouts=("iso",), report_date=DATE, author="wang.fang")
    data = j.read_bytes()
    doc = json.loads(data)
    assert rfc8785.dumps(doc) == data  # already canonical
    assert doc["inventory"] == inv and doc["issued_by"] == "wang.fang" and doc["report_date"] == DATE
    assert doc["inventory_sha256"] == hashlib.sha256(rfc8785.dumps(inv)).hexdigest()
    s = doc["summary"]
    assert s["gross_tco2e"] == pytest.approx(1613.2) and s["guideline_total_tco2e"] == pytest.approx(1513.2)
    assert s["by_gas"] == pytest.approx({"CO2": 1566.2, "SF6": 47.0})
    assert s["offsets_tco2e"] == pytest.approx(100.0)


def test_an_inventory_that_cannot_be_reported_is_refused(inv, tmp_path):
    inv["lines"][3]["tco2e"] = "n/a"
    with pytest.raises(ReportError, match=r"inventory line 3 \('fugitive_sf6_switchgear'\): tco2e 'n/a'"):
        summary(inv)
    with pytest.raises(ReportError, match="schema 'other/1'"):
        write_reports({**inv, "schema": "other/1"}, tmp_path, report_date=DATE, author="x")
    with pytest.raises(ReportError, match="format 'docx'"):
        write_reports(json.loads(FIXTURE.read_text()), tmp_path, formats=("docx",), report_date=DATE, author="x")
    assert not list(tmp_path.iterdir())  # nothing written


def test_report_hashes_are_recorded_and_ledgered(inv, plant_cfg, tmp_path):
    files = write_reports(inv, tmp_path / "out", layouts=("iso",), report_date=DATE, author="wang.fang")
    sums = record_sums(files)
    assert sums.read_text() == "".join(f"{sha(p)}  {p.name}\n" for p in sorted(files, key=lambda p: p.name))
    # a collector holds the journal: the requests wait in the inbox with each file's hash
    with Journal(plant_cfg.paths.journal, writer=True):
        queued = ledger_files(plant_cfg, files, "wang.fang", "GHG report 2025")
    assert [q["batch"] for q in queued] == [None, None, None]
    waiting = [json.loads(p.read_text()) for p in sorted(plant_cfg.paths.inbox.glob("*.json"))]
    assert sorted((w["kind"], w["name"], w["sha256"], w["author"]) for w in waiting) == \
        sorted(("document", p.name, sha(p), "wang.fang") for p in files)
    # nobody holds it: journaled now, one batch per file, note naming file, hash and issuer
    done = ledger_files(plant_cfg, files, "wang.fang", "GHG report 2025")
    assert all(d["batch"] is not None for d in done)
    with Journal(plant_cfg.paths.journal) as j:
        notes = [decode_batch(j.read(d["batch"])).note for d in done]
    assert [(n["name"], n["sha256"], n["author"]) for n in notes] == [(p.name, sha(p), "wang.fang") for p in files]
    assert not list(plant_cfg.paths.inbox.glob("*.json"))


@pytest.mark.slow
def test_cli_and_schedule_on_a_seeded_store(seeded_cfg, tmp_path, capsys):
    import datetime as dt

    from tanjian.cli import main
    from workspace.config import EXAMPLE
    from workspace.store import Store

    store = Store.open(seeded_cfg.paths.store, seeded_cfg.site)
    last = store.latest_time().astimezone(store.tz)
    month = f"{last:%Y-%m}"
    snap = store.versions()[0]["id"]
    base = ["--config", str(EXAMPLE), "--data-dir", str(seeded_cfg.paths.data_dir), "report", "--month", month,
            "--author", "wang.fang", "--layout", "iso", "--as-of", snap]
    assert main([*base, "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "ledger batch" in out and "SHA256SUMS" in out
    files = sorted((tmp_path / "a").glob("ghg-*"))
    assert [p.name for p in files] == [f"ghg-plant-18-{month}-iso.{e}" for e in ("json", "pdf", "xlsx")]
    doc = json.loads(files[0].read_text())
    assert doc["inventory"]["store_snapshot"] == snap
    # the store moved on (the ledgered hashes are new versions); the same snapshot gives the same bytes
    assert Store.open(seeded_cfg.paths.store, seeded_cfg.site).versions()[0]["id"] != snap
    assert main([*base, "--out", str(tmp_path / "b"), "--no-ledger"]) == 0
    assert [sha(p) for p in files] == [sha(tmp_path / "b" / p.name) for p in files]
    # schedule: last month's report once
    nxt = (last.replace(day=28) + dt.timedelta(days=5)).replace(day=2, hour=1)
    res = run_scheduled(seeded_cfg, "monthly", now=nxt, layouts=("cn",), formats=("json",))
    assert [p.name for p in res["files"]] == [f"ghg-plant-18-{month}-cn.json"]
    assert res["files"][0].parent == seeded_cfg.paths.data_dir / "reports" / month
    assert (seeded_cfg.paths.data_dir / "reports" / ".issued" / f"monthly-{month}.json").exists()
    assert run_scheduled(seeded_cfg, "monthly", now=nxt, layouts=("cn",), formats=("json",)) is None
