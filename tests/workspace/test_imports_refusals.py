"""Bad business files refused with the rows, sheets and cells named, and nothing half-done (issue 14):
re-exports deduplicated by record identity, files with headers only, XLSX formulas without a saved value,
and settlement statements whose total disagrees with its time-of-use parts."""

import io
from pathlib import Path

import openpyxl
import pytest

from tanjian.cli import main
from workspace.business.documents import load_activity
from workspace.business.imports import IDENTITY, import_file
from workspace.business.sheets import ActivityFileError
from workspace.business.statements import TOLERANCE_KWH, TOLERANCE_SHARE, tolerance
from workspace.config import EXAMPLE

SAMPLES = Path(EXAMPLE).parent / "imports"
ERP = SAMPLES / "erp-production-2026-10.csv"
STATEMENT = SAMPLES / "settlement-2026-10.xlsx"
SHEET = "电费结算单"


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _statement(tmp_path: Path, row4: list | None, *, name="statement.xlsx") -> Path:
    """The sample statement with its data row (row 4) replaced (None: removed)."""
    wb = openpyxl.load_workbook(STATEMENT)
    ws = wb[SHEET]
    if row4 is None:
        ws.delete_rows(4)
    else:
        for j, v in enumerate(row4, start=1):
            ws.cell(row=4, column=j, value=v)
    out = tmp_path / name
    wb.save(out)
    return out


# -- deduplication by record identity --------------------------------------------------------------------
def test_a_re_export_with_a_trailing_newline_imports_nothing_and_names_each_row(plant_cfg, tmp_path):
    import_file(plant_cfg, ERP, "erp_production", author="test")
    before = _tree(plant_cfg.paths.data_dir)
    again = tmp_path / "erp-export-again.csv"
    again.write_bytes(ERP.read_bytes() + b"\r\n")  # other bytes, the same records
    r = import_file(plant_cfg, again, "erp_production", author="test")
    assert (r.status, r.records) == ("already", 0)
    assert len(r.repeated) == 8 and r.overlaps == {f"erp-production-2026-10.csv {r.repeated[0][-13:-1]}": 8}
    assert r.repeated[0].startswith("erp-export-again.csv:2: production P-PUMP 3 pcs 2026-10-08..2026-10-08: "
                                    "already imported from erp-production-2026-10.csv row 2")
    assert [int(x.split(":")[1]) for x in r.repeated] == list(range(2, 10))
    assert _tree(plant_cfg.paths.data_dir) == before  # no evidence, no ledger request, no document
    assert len(load_activity(plant_cfg.paths.data_dir)) == 8


def test_a_longer_export_imports_only_its_new_rows(plant_cfg, tmp_path, capsys):
    import_file(plant_cfg, ERP, "erp_production", author="test")
    more = tmp_path / "erp-export-longer.csv"
    more.write_bytes(ERP.read_bytes().rstrip(b"\r\n") + "\r\n2026/10/11,HB62V 泵车,白班,总装一班,WS-AS,5,台\r\n"
                     .encode())
    rc = main(["--config", str(EXAMPLE), "--data-dir", str(plant_cfg.paths.data_dir), "import", str(more),
               "--mapping", "erp_production", "--author", "test"])
    out = capsys.readouterr().out
    assert rc == 0 and "1 record(s) imported" in out and "8 record(s) left out, imported before" in out
    df = load_activity(plant_cfg.paths.data_dir)
    assert len(df) == 9 and float(df.quantity.sum()) == 14 + 3 + 5


def test_keep_repeated_imports_equal_records_on_purpose(plant_cfg, tmp_path):
    import_file(plant_cfg, ERP, "erp_production", author="test")
    again = tmp_path / "erp-again.csv"
    again.write_bytes(ERP.read_bytes() + b"\n")
    r = import_file(plant_cfg, again, "erp_production", author="test", keep_repeated=True)
    assert (r.status, r.records, r.repeated) == ("imported", 8, [])
    assert len(load_activity(plant_cfg.paths.data_dir)) == 16


def test_identity_leaves_out_note_file_and_row():
    assert "note" not in IDENTITY and "row" not in IDENTITY and "source_sha256" not in IDENTITY
    assert {"kind", "item", "period_start", "period_end", "workshop", "device", "movement", "quantity",
            "unit"} <= set(IDENTITY)


# -- files with nothing in them ------------------------------------------------------------------------
def test_a_csv_with_headers_only_is_refused(plant_cfg, tmp_path):
    f = tmp_path / "erp-empty.csv"
    f.write_bytes(ERP.read_bytes().splitlines(keepends=True)[0])
    with pytest.raises(ActivityFileError, match=r"erp-empty.csv:2:\(rows\): no data below the header row 1 "
                                                r"\(cell A2 onwards is empty\)") as e:
        import_file(plant_cfg, f, "erp_production", author="test", accept_good_rows=True)
    assert "nothing was imported" in str(e.value)
    assert not (plant_cfg.paths.data_dir / "activity").exists() or not any(
        (plant_cfg.paths.data_dir / "activity").iterdir())
    assert not plant_cfg.paths.evidence.exists() or not any(plant_cfg.paths.evidence.rglob("*.csv"))


def test_an_xlsx_with_headers_only_names_the_sheet(plant_cfg, tmp_path):
    f = _statement(tmp_path, None)
    with pytest.raises(ActivityFileError, match=f"statement.xlsx:4:\\(rows\\): sheet '{SHEET}', no data below "
                                                "the header row 3 \\(cell A4"):
        import_file(plant_cfg, f, "power_statement", author="test")


# -- formulas without a saved value ----------------------------------------------------------------------
def test_a_formula_without_a_saved_value_is_refused_naming_sheet_and_cell(plant_cfg, tmp_path):
    # openpyxl (like many report generators) writes formulas without computing them
    f = _statement(tmp_path, ["2026-10-01", "2026-10-31", 62400, 171300, 148900, 205600, "=SUM(C4:F4)"])
    before = _tree(plant_cfg.paths.data_dir) if plant_cfg.paths.data_dir.exists() else {}
    with pytest.raises(ActivityFileError, match=f"statement.xlsx:4:{SHEET}!G4: the formula =SUM\\(C4:F4\\) has "
                                                "no saved value"):
        import_file(plant_cfg, f, "power_statement", author="test", accept_good_rows=True)
    after = _tree(plant_cfg.paths.data_dir) if plant_cfg.paths.data_dir.exists() else {}
    assert after == before


def test_a_formula_with_its_saved_value_is_read(plant_cfg, tmp_path):
    # the sample's total as a formula with a cached value: read as the value (written by hand into the XML)
    import zipfile

    f = _statement(tmp_path, ["2026-10-01", "2026-10-31", 62400, 171300, 148900, 205600, "=SUM(C4:F4)"])
    src, out = zipfile.ZipFile(f), io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                data = data.replace(b"<f>SUM(C4:F4)</f><v></v>", b"<f>SUM(C4:F4)</f><v>588200</v>") \
                    .replace(b"<f>SUM(C4:F4)</f><v />", b"<f>SUM(C4:F4)</f><v>588200</v>") \
                    .replace(b"<f>SUM(C4:F4)</f></c>", b"<f>SUM(C4:F4)</f><v>588200</v></c>")
            z.writestr(item, data)
    cached = tmp_path / "cached.xlsx"
    cached.write_bytes(out.getvalue())
    r = import_file(plant_cfg, cached, "power_statement", author="test")
    assert r.records == 5


# -- settlement totals ---------------------------------------------------------------------------------
def test_a_settlement_total_far_from_its_parts_is_refused_naming_the_row(plant_cfg, tmp_path):
    f = _statement(tmp_path, ["2026-10-01", "2026-10-31", 62400, 171300, 148900, 205600, 999999])
    with pytest.raises(ActivityFileError) as e:
        import_file(plant_cfg, f, "power_statement", author="test", accept_good_rows=True)
    msg = str(e.value)
    assert "statement.xlsx:4:合计电量(kWh): the statement 2026-10-01..2026-10-31 (row 4): total 999,999 kWh " \
           "differs from the sum of its time-of-use parts 588,200 kWh" in msg
    assert "by 411,799 kWh, more than the tolerance 2,941.0 kWh" in msg
    assert "nothing was imported" in msg


def test_a_settlement_total_within_the_tolerance_is_accepted(plant_cfg, tmp_path):
    f = _statement(tmp_path, ["2026-10-01", "2026-10-31", 62400, 171300, 148900, 205600, 588200 + 2900])
    assert import_file(plant_cfg, f, "power_statement", author="test").records == 5


def test_the_tolerance():
    assert tolerance(100) == TOLERANCE_KWH == 2.5  # rounding of five printed values
    assert tolerance(588_200) == pytest.approx(TOLERANCE_SHARE * 588_200) == pytest.approx(2941)
