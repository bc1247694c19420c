"""`tanjian report` end to end on a hand-worked inventory: the figures read back from the XLSX (as numbers, via
openpyxl) and from the PDF text (pdftotext) are the same in every section; the compliance total comes first;
one page of the guideline-layout PDF is saved as test-artifacts/report-cn-page1.png."""

from __future__ import annotations

import hashlib
import shutil
import subprocess

import openpyxl
import pytest

from tanjian.cli import main
from tests.conftest import ARTIFACTS

# 2024, cn-machinery-2015 (activity hand-worked below; factors from models/data/emission-factors.csv)
ACT = """kind,item,period_start,period_end,quantity,unit,workshop,device,co2_share,movement,use,note
electricity_statement,total,2024-01-01,2024-12-31,1000,MWh,WS-MA,,,purchased,,annual statement
fuel,natural_gas,2024-01-01,2024-12-31,8.4082,10^4Nm3,WS-PC,,,purchased,stationary,gas invoices
welding_gas,co2,2023-12-31,2023-12-31,200,kg,WS-CW,,,opening_stock,,stock-take 31 Dec 2023
welding_gas,co2,2024-01-01,2024-12-31,1000,kg,WS-CW,,,purchased,,supplier invoices
welding_gas,co2,2024-12-31,2024-12-31,300,kg,WS-CW,,,closing_stock,,stock-take 31 Dec 2024
"""
# hand-worked:
#   electricity, compliance (MEE 2023 notice, 2022 national grid 0.5703 tCO2/MWh): 1000 x 0.5703 = 570.300 t
#   electricity, location-based (MEE/NBS data year 2023, 0.5306):                   1000 x 0.5306 = 530.600 t
#   natural gas: 8.4082 x 389.31 GJ/10^4Nm3 x 0.0153 tC/GJ x 0.99 x 44/12          = 181.801 t (the published
#     example, REFERENCE-FACTS: 181.80)
#   welding CO2: 200 (opening, stock-take at the previous year-end) + 1000 - 300    = 900 kg = 0.900 t
#   scope 1 = 181.801 + 0.900 = 182.701 t
#   排放总量 (compliance) = 182.701 + 570.300 = 753.001 t; location-based = 182.701 + 530.600 = 713.301 t
COMPLIANCE, LOCATION, GAS, WELD, ELEC_C = 753.001, 713.301, 181.801, 0.900, 570.300


@pytest.fixture(scope="module")
def issued(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    f = tmp / "activity-2024.csv"
    f.write_text(ACT, encoding="utf-8")
    out = tmp / "out"
    argv = ["--data-dir", str(tmp / "var"), "report", "--year", "2024", "--activity", str(f), "--no-store",
            "--no-ledger", "--author", "wang.fang", "--methodology", "cn-machinery-2015", "--out", str(out)]
    assert main(argv) == 0
    assert main([*argv[:-1], str(tmp / "again")]) == 0
    return out, tmp / "again"


def test_cli_prints_the_compliance_total_first(tmp_path, capsys):
    f = tmp_path / "a.csv"
    f.write_text(ACT, encoding="utf-8")
    assert main(["--data-dir", str(tmp_path / "var"), "report", "--year", "2024", "--activity", str(f), "--no-store",
                 "--no-ledger", "--author", "x", "--layout", "cn", "--format", "json", "--out", str(tmp_path / "o"),
                 "--methodology", "cn-machinery-2015"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("cn: methodology cn-machinery-2015") and lines[0].endswith("offline, not checked")
    assert lines[1] == f"cn: total (compliance) {COMPLIANCE:.3f} t CO2e"


def xlsx_cells(path):
    ws = openpyxl.load_workbook(path).active
    return [[c for c in row] for row in ws.iter_rows()]


def section(cells, title_start):
    """Rows of the section whose title starts with ``title_start`` (up to the next blank row)."""
    out, on = [], False
    for row in cells:
        v0 = row[0].value
        if on:
            if all(c.value is None for c in row):
                break
            out.append(row)
        elif isinstance(v0, str) and v0.startswith(title_start):
            on = True
    return out


def test_byte_identical_for_the_same_inputs(issued):
    a, b = issued
    files = sorted(p.name for p in a.glob("ghg-*"))
    assert len(files) == 6
    for name in files:
        assert hashlib.sha256((a / name).read_bytes()).digest() == hashlib.sha256((b / name).read_bytes()).digest()


def test_xlsx_figures_are_numbers_and_the_same_in_every_section(issued):
    out, _ = issued
    (x,) = out.glob("*-cn.xlsx")
    cells = xlsx_cells(x)
    summary = {r[1].value: r[2] for r in section(cells, "二、温室气体排放量汇总")}
    total = summary["total (compliance)"]
    assert total.data_type == "n" and total.value == pytest.approx(COMPLIANCE, abs=1e-9)
    assert summary["fossil fuel combustion"].value == pytest.approx(GAS, abs=1e-9)
    assert summary["industrial process emissions"].value == pytest.approx(WELD, abs=1e-9)
    assert summary["net purchased electricity"].value == pytest.approx(ELEC_C, abs=1e-9)
    loc = next(v for k, v in summary.items() if str(k).startswith("location-based total"))
    assert loc.data_type == "n" and loc.value == pytest.approx(LOCATION, abs=1e-9)
    assert "0.5306" in next(k for k in summary if str(k).startswith("location-based total"))
    # the per-source table gives the same lines
    src = {r[0].value: r[7] for r in section(cells, "二(续)、排放源")}
    assert src["stationary_combustion"].data_type == "n"
    assert src["stationary_combustion"].value == pytest.approx(GAS, abs=1e-9)
    # the views table: the compliance total, as a number (it was text before)
    views = {(r[0].value, r[1].value): r[2] for r in section(cells, "Views:")}
    comp = views[("Chinese compliance rule (green power not deducted)", "total_tco2e")]
    assert comp.data_type == "n" and comp.value == pytest.approx(COMPLIANCE, abs=1e-9)
    # activity: the welding gas stock balance with its components (opening stock counted)
    act = {r[0].value: r for r in section(cells, "三、活动水平数据及来源")}
    weld = act["process_welding_co2"]
    # opening stock, purchased, closing stock, sold [kg] (recovered and used: not part of this balance, blank)
    assert [c.value for c in weld[5:9]] == [200, 1000, 300, 0] and all(c.data_type == "n" for c in weld[5:9])
    assert weld[3].data_type == "n" and weld[3].value == pytest.approx(900)
    # factors: NCV, carbon content and oxidation rate each on its own row, as numbers
    par = {(r[0].value, r[3].value): r[6] for r in section(cells, "四、排放因子和计算系数及来源")}
    assert par[("stationary_combustion", "NCV")].value == pytest.approx(389.31)
    assert par[("stationary_combustion", "OF")].data_type == "n"
    assert par[("stationary_combustion", "CC")].data_type == "n"
    # every number cell of every tCO2e column is a number
    for row in cells:
        for c in row:
            if isinstance(c.value, str):
                assert not __import__("re").fullmatch(r"-?\d[\d,]*\.\d{3}", c.value), (c.coordinate, c.value)


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) missing: run `make test`")
def test_pdf_text_shows_the_same_figures_and_a_page_is_saved_as_png(issued):
    out, _ = issued
    (p,) = out.glob("*-cn.pdf")
    text = subprocess.run(["pdftotext", "-layout", str(p), "-"], capture_output=True, text=True, check=True).stdout
    # one rounding, one format: each figure printed the same wherever it appears
    assert text.count("753.001") >= 2  # the summary's 排放总量 and the compliance view's total
    assert text.count("181.801") >= 2  # summary group and the source's line
    assert "713.301" in text and "570.300" in text and "0.900" in text
    assert "753.000" not in text and "753.002" not in text and "181.800" not in text
    assert "offline, not checked" in text  # the on-chain status of the package
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) missing")
    ARTIFACTS.mkdir(exist_ok=True)
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(p),
                    str(ARTIFACTS / "report-cn-page1")], check=True)
    png = ARTIFACTS / "report-cn-page1.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_iso_categories_are_the_same_in_every_section(issued):
    """One rounding rule: category 1 in the category table, in the inventory's totals and as the sum of its lines
    in the quantification table are the same number (the old report showed 930.968 in one place, 930.969 in
    another)."""
    out, _ = issued
    (x,) = out.glob("*-iso.xlsx")
    cells = xlsx_cells(x)
    cats = {r[0].value: r[2].value for r in section(cells, "2. GHG emissions by category")}
    totals = {r[0].value: r[1].value for r in section(cells, "8. Totals as computed by the inventory")}
    lines = section(cells, "7. Quantification")
    # category 1 = natural gas 181.801 + welding CO2 0.900 = 182.701 t; category 2 = electricity 530.600 t
    assert cats["Category 1"] == pytest.approx(182.701, abs=1e-9) == totals["iso_categories.1.tco2e"]
    assert cats["Category 2"] == pytest.approx(530.600, abs=1e-9) == totals["iso_categories.2.tco2e"]
    assert sum(r[11].value for r in lines[1:] if r[0].value != "purchased_electricity") == pytest.approx(182.701, abs=1e-9)


def test_iso_report_has_direct_emissions_by_gas_and_the_content_index(issued):
    out, _ = issued
    (x,) = out.glob("*-iso.xlsx")
    cells = xlsx_cells(x)
    gas = {r[0].value: r[1].value for r in section(cells, "2a. Direct (category 1)")[1:]}
    # all direct emissions here are CO2: 182.701 t; the other groups 0
    assert gas["CO2"] == pytest.approx(182.701, abs=1e-9) and gas["SF6"] == 0 and gas["HFCs"] == 0
    idx = {r[0].value: r[2].value for r in section(cells, "ISO 14064-1:2018 clause 9.3.1")[1:]}
    assert set(idx) >= set("abcdefghijklmnq") and "offline, not checked" in idx["r"]
