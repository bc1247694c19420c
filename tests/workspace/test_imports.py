"""Business-file imports: hand-checked totals of the Plant 18 samples, all-or-nothing, idempotence, evidence
and ledger requests, encodings, XLSX, reconciliation against a small store, and a fuzzed row parser."""

import datetime as dt
import hashlib
import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workspace.batch import Reading, decode_batch, encode_batch
from workspace.business.contract import COLUMNS
from workspace.business.documents import load_activity
from workspace.business.imports import import_file, list_imports
from workspace.business.reconcile import reconcile
from workspace.business.records import Layout, parse_row, read_activity_file
from workspace.business.sheets import ActivityFileError
from tanjian.cli import main
from workspace.config import EXAMPLE, load_config
from workspace.errors import ConfigError, TanjianError
from workspace.evidence import EvidenceStore
from workspace.inbox import drain
from workspace.journal import Journal
from workspace.store import Store

SAMPLES = Path(EXAMPLE).parent / "imports"
ERP = SAMPLES / "erp-production-2026-10.csv"
STATEMENT = SAMPLES / "settlement-2026-10.xlsx"
FUEL = SAMPLES / "fuel-invoices-2026-10.csv"
FINANCIAL = SAMPLES / "financial-2026-q3.csv"


def _tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes (to show that nothing changed)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _sum(df, **where) -> float:
    for k, v in where.items():
        df = df[df[k] == v]
    return float(df.quantity.sum())


# -- each kind of file -----------------------------------------------------------------------------------
def test_erp_production_totals(plant_cfg):
    r = import_file(plant_cfg, ERP, "erp_production", author="test")
    assert (r.status, r.records, r.rejected) == ("imported", 8, [])
    df = load_activity(plant_cfg.paths.data_dir)
    assert list(df.columns) == list(COLUMNS)
    # pumps 3 + 2 + 4 + 3 + 2 = 14 units, cranes 1 + 1 + 1 = 3 units (the CSV's rows)
    assert _sum(df, item="P-PUMP") == 14 and _sum(df, item="P-CRANE") == 3
    assert _sum(df, item="P-PUMP", shift="S-EVE") == 4  # rows 4 and 9
    assert set(df.unit) == {"pcs"} and set(df.workshop) == {"WS-AS"}
    first = df[df.row == 2].iloc[0]
    assert (first.period_start, first.period_end, first.team) == ("2026-10-08", "2026-10-08", "总装一班")
    assert first.source_sha256 == hashlib.sha256(ERP.read_bytes()).hexdigest()


def test_xlsx_settlement_statement(plant_cfg):
    """Sheet 电费结算单, headers on row 3, one column per time-of-use period."""
    import_file(plant_cfg, STATEMENT, "power_statement", author="test")
    df = load_activity(plant_cfg.paths.data_dir, "2026-10-01", "2026-10-31", kinds=["electricity_statement"])
    got = dict(zip(df.item, df.quantity))
    assert got == {"sharp": 62400, "peak": 171300, "flat": 148900, "valley": 205600, "total": 588200}
    # the statement's periods add up to its total: 62,400 + 171,300 + 148,900 + 205,600 = 588,200 kWh
    assert sum(v for k, v in got.items() if k != "total") == 588200
    assert set(df.row) == {4} and set(df.unit) == {"kWh"}
    assert set(df.period_start) == {"2026-10-01"} and set(df.period_end) == {"2026-10-31"}


def test_fuel_and_gas_invoices(plant_cfg):
    import_file(plant_cfg, FUEL, "fuel_invoices", author="test")
    df = load_activity(plant_cfg.paths.data_dir)
    rows = {(r.kind, r.item): (r.quantity, r.unit) for r in df.itertuples()}
    assert rows == {("fuel", "natural_gas"): (18600, "Nm3"), ("fuel", "diesel"): (2400, "L"),
                    ("fuel", "lpg"): (350, "kg"), ("welding_gas", "co2"): (1200, "kg"),
                    ("welding_gas", "ar_co2"): (900, "kg"), ("sf6", "sf6"): (2.5, "kg")}
    mix = df[df.item == "ar_co2"].iloc[0]
    assert mix.co2_share == pytest.approx(0.2159)
    assert set(df.movement) == {"purchased"}
    sf6 = df[df.kind == "sf6"].iloc[0]
    assert (sf6.period_start, sf6.period_end, sf6.note) == ("2026-10-28", "2026-10-28", "43002610006")


def test_financial_months(plant_cfg):
    import_file(plant_cfg, FINANCIAL, "financial", author="test")
    df = load_activity(plant_cfg.paths.data_dir)
    # 48,250,000 + 52,610,000 + 50,370,000 = 151,230,000 CNY
    assert _sum(df, item="revenue_cny") == 151_230_000
    assert _sum(df, item="value_added_cny") == 11_830_000 + 12_940_000 + 12_360_000
    aug = load_activity(plant_cfg.paths.data_dir, "2026-08-15", "2026-08-15")
    assert set(aug.period_start) == {"2026-08-01"} and set(aug.period_end) == {"2026-08-31"} and len(aug) == 2
    assert set(df.unit) == {"CNY"}


def test_financial_in_wan_yuan_and_unknown_mapping(plant_cfg, tmp_path):
    from workspace.units import ureg

    f = tmp_path / "fin.csv"
    f.write_text("期间,项目,金额(元)\n2026年10月,营业收入,5120.5\n", encoding="utf-8")
    cfg = plant_cfg.model_copy(update={"imports": {"fin_wan": {
        "kind": "financial", "columns": {"期间": "month", "项目": "item", "金额(元)": "quantity"},
        "values": {"item": {"营业收入": "revenue_cny"}}, "default_unit": "万元"}}})
    with pytest.raises(TanjianError, match="no import mapping 'fin' .*mappings: fin_wan"):
        import_file(cfg, f, "fin", author="test")
    import_file(cfg, f, "fin_wan", author="test")
    (r,) = load_activity(plant_cfg.paths.data_dir).itertuples()
    assert (r.unit, r.period_start, r.period_end) == ("wanCNY", "2026-10-01", "2026-10-31")
    assert ureg.Quantity(r.quantity, r.unit).to("CNY").magnitude == pytest.approx(51_205_000)


# -- bad rows ------------------------------------------------------------------------------------------------
BAD_ERP = """日期,产品,班次,班组,车间,数量,单位
2026/10/08,HB62V 泵车,白班,总装一班,WS-AS,3,台
2026/10/08,SCC1500 履带吊,白班,总装二班,WS-AS,一,台
2026/10/08,HB62V 泵车,中班,总装三班,WS-AS,2,台
2026/10/09,ZZ99 挖掘机,白班,总装一班,WS-AS,4,台
2026/10/09,SCC1500 履带吊,白班,总装二班,WS-AS,1,台
2026/13/09,SCC1500 履带吊,中班,总装三班,WS-AS,1,台
2026/10/10,HB62V 泵车,白班,总装一班,WS-AS,3,台
"""


def test_three_bad_rows_are_listed_and_nothing_is_imported(plant_cfg, tmp_path):
    f = tmp_path / "erp-bad.csv"
    f.write_text(BAD_ERP, encoding="utf-8")
    with pytest.raises(ActivityFileError) as exc:
        import_file(plant_cfg, f, "erp_production", author="test")
    assert [(p[0], p[1], p[2]) for p in exc.value.problems] == [
        ("erp-bad.csv", 3, "数量"), ("erp-bad.csv", 5, "产品"), ("erp-bad.csv", 7, "日期")]
    assert "erp-bad.csv:3:数量: '一' is not a number" in str(exc.value)
    assert not plant_cfg.paths.data_dir.exists() or _tree(plant_cfg.paths.data_dir) == {}


def test_accept_good_rows_imports_the_rest(plant_cfg, tmp_path, capsys):
    f = tmp_path / "erp-bad.csv"
    f.write_text(BAD_ERP, encoding="utf-8")
    rc = main(["--config", str(EXAMPLE), "--data-dir", str(plant_cfg.paths.data_dir), "import", str(f),
               "--mapping", "erp_production", "--accept-good-rows", "--author", "李工", "--reason", "Oct ERP"])
    out = capsys.readouterr().out
    assert rc == 0 and "4 record(s) imported" in out and "erp-bad.csv:5:产品" in out
    df = load_activity(plant_cfg.paths.data_dir)
    assert sorted(df.row) == [2, 4, 6, 8] and _sum(df) == 3 + 2 + 1 + 3
    doc = json.loads(next((plant_cfg.paths.data_dir / "activity").glob("*.json")).read_text())
    assert doc["accepted_good_rows"] is True and len(doc["rejected"]) == 3
    assert (doc["author"], doc["reason"], doc["mapping_name"]) == ("李工", "Oct ERP", "erp_production")
    # without the flag the same file is refused with exit code 2
    rc = main(["--config", str(EXAMPLE), "--data-dir", str(tmp_path / "other"), "import", str(f),
               "--mapping", "erp_production"])
    assert rc == 2 and "3 problem(s); nothing was imported" in capsys.readouterr().err


# -- idempotence, evidence, ledger ---------------------------------------------------------------------------
def test_importing_twice_changes_nothing(plant_cfg):
    first = import_file(plant_cfg, FUEL, "fuel_invoices", author="test")
    before = _tree(plant_cfg.paths.data_dir)
    again = import_file(plant_cfg, FUEL, "fuel_invoices", author="someone else", accept_good_rows=True)
    assert again.status == "already" and again.sha256 == first.sha256 and again.author == "test"
    assert _tree(plant_cfg.paths.data_dir) == before
    assert len(load_activity(plant_cfg.paths.data_dir)) == 6


def test_evidence_and_ledger_request(plant_cfg):
    r = import_file(plant_cfg, STATEMENT, "power_statement", author="王工", reason="October bill")
    data = STATEMENT.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    ev = EvidenceStore(plant_cfg.paths.evidence).get(sha)
    assert ev.path.read_bytes() == data and ev.meta["seen"][0]["author"] == "王工"
    assert r.document == plant_cfg.paths.data_dir / "activity" / f"{sha}.json"
    (req,) = [json.loads(p.read_text()) for p in plant_cfg.paths.inbox.glob("*.json")]
    assert req == {"kind": "document", "author": "王工", "reason": "October bill",
                   "name": "settlement-2026-10.xlsx", "sha256": sha, "size": len(data)}
    # the collector journals it as a batch whose note carries the hash
    with Journal(plant_cfg.paths.journal, writer=True) as j:
        assert drain(plant_cfg.paths.inbox, j, plant_cfg.site.plant.id) == 1
        batch = decode_batch(j.read(0))
    assert batch.note["sha256"] == sha and batch.note["kind"] == "document"
    # the document itself is canonical JSON of schema tanjian.activity/1
    raw = r.document.read_bytes()
    doc = json.loads(raw)
    assert doc["schema"] == "tanjian.activity/1" and doc["mapping"]["header_row"] == 3
    assert raw == json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def test_reissued_invoice_supersedes_the_old_one(plant_cfg, tmp_path):
    old = import_file(plant_cfg, FUEL, "fuel_invoices", author="test")
    fixed = tmp_path / "fuel-invoices-2026-10-v2.csv"
    fixed.write_bytes(FUEL.read_bytes().replace('"2,400",升'.encode(), '"2,450",升'.encode()))
    with pytest.raises(TanjianError, match="no imported file"):
        import_file(plant_cfg, fixed, "fuel_invoices", author="test", supersedes="deadbeef")
    new = import_file(plant_cfg, fixed, "fuel_invoices", author="test", supersedes=old.sha256[:10])
    df = load_activity(plant_cfg.paths.data_dir, kinds=["fuel"])
    assert _sum(df, item="diesel") == 2450 and set(df.source_sha256) == {new.sha256}
    listed = {r["sha256"]: r for r in list_imports(plant_cfg.paths.data_dir)}
    assert listed[old.sha256]["superseded_by"] == new.sha256
    assert new.overlaps == {}  # the 5 unchanged rows repeat the file it replaces: expected, no warning


def test_a_re_export_without_supersedes_imports_nothing(plant_cfg, tmp_path, capsys):
    # (issue 14: this re-export used to be imported a second time, with a warning only)
    import_file(plant_cfg, ERP, "erp_production", author="test")
    again = tmp_path / "erp-export-2.csv"  # the same rows exported once more, in GB 18030
    again.write_bytes(ERP.read_text(encoding="utf-8-sig").encode("gb18030"))
    rc = main(["--config", str(EXAMPLE), "--data-dir", str(plant_cfg.paths.data_dir), "import", str(again),
               "--mapping", "erp_production", "--author", "test"])
    out = capsys.readouterr().out
    assert rc == 0 and "every record was imported before; nothing changed" in out
    assert "erp-export-2.csv:2: production P-PUMP 3 pcs 2026-10-08..2026-10-08: already imported from " \
           "erp-production-2026-10.csv row 2" in out
    rc = main(["--config", str(EXAMPLE), "--data-dir", str(plant_cfg.paths.data_dir), "import", "list"])
    out = capsys.readouterr().out.splitlines()
    assert rc == 0 and len(out) == 2 and out[1].endswith("erp-production-2026-10.csv")


def test_load_activity_takes_dates_datetimes_and_strings(plant_cfg):
    import pandas as pd

    import_file(plant_cfg, FUEL, "fuel_invoices", author="test")
    dd = plant_cfg.paths.data_dir
    # only the SF6 refill (28 Oct) overlaps 28-30 Oct ... as do the month-long invoices: all 6
    assert len(load_activity(dd, dt.datetime(2026, 10, 28, 0, 0), pd.Timestamp("2026-10-28"))) == 6
    assert len(load_activity(dd, dt.date(2026, 10, 29), "2026-10-30")) == 5
    assert len(load_activity(dd, "2026-11-01")) == 0 and len(load_activity(dd, end="2026-09-30")) == 0
    assert load_activity(dd, kinds=["production"]).empty
    with pytest.raises(TanjianError, match="unknown kind"):
        load_activity(dd, kinds=["fuels"])


# -- encodings and desk files --------------------------------------------------------------------------------
def test_gb18030_csv(plant_cfg, tmp_path):
    text = ERP.read_text(encoding="utf-8-sig")
    f = tmp_path / "erp-gbk.csv"
    f.write_bytes(text.encode("gb18030"))
    with pytest.raises(UnicodeDecodeError):
        f.read_bytes().decode("utf-8")  # really not UTF-8
    r = import_file(plant_cfg, f, "erp_production", author="test")
    assert r.records == 8
    df = load_activity(plant_cfg.paths.data_dir)
    assert _sum(df, item="P-PUMP") == 14 and "总装三班" in set(df.team)


DESK = """kind,item,period_start,period_end,quantity,unit,co2_share,note
fuel,diesel,2026-10-01,2026-10-31,"1,250.5",L,,ok
fuel,diesel,2026-10-01,2026-10-31,12,kWh,,kWh of diesel
welding_gas,ar_co2,2026-10-01,2026-09-30,400,kg,0.2,ends before it starts
fuel,coal,2026-10-01,2026-10-31,3,t,,unknown item
steam,steam,2026-10-01,2026-10-31,3,t,,unknown kind
refrigerant,hfc_134a,2026-10-01,2026-10-31,,kg,,empty quantity
heat,steam,2026-10-01,2026-10-31,12,parsecs of joy,,unknown unit
welding_gas,co2,2026-10-01,2026-10-31,12,kg,0.2,a share on pure CO2
"""


def test_desk_file_lists_every_problem(tmp_path):
    f = tmp_path / "desk.csv"
    f.write_text(DESK, encoding="utf-8")
    with pytest.raises(ActivityFileError) as exc:
        read_activity_file(f)
    assert [p[:3] for p in exc.value.problems] == [
        ("desk.csv", 3, "unit"), ("desk.csv", 4, "period_end"), ("desk.csv", 5, "item"),
        ("desk.csv", 6, "kind"), ("desk.csv", 7, "quantity"), ("desk.csv", 8, "unit"), ("desk.csv", 9, "co2_share")]
    lines = str(exc.value).splitlines()
    assert lines[1] == "desk.csv:3:unit: unit 'kWh' does not fit fuel 'diesel' (it is measured in mass or volume)"
    f.write_text("kind,item,quantity,unit,period_start,period_end,quantity\n", encoding="utf-8")
    with pytest.raises(ActivityFileError, match="desk.csv:1:quantity: column 'quantity' appears twice"):
        read_activity_file(f)
    f.write_text("kind,item,quantity\n", encoding="utf-8")
    with pytest.raises(ActivityFileError) as exc:
        read_activity_file(f)
    assert [p[1:3] for p in exc.value.problems] == [(1, "period_end"), (1, "period_start"), (1, "unit")]
    f.write_text("\n".join(DESK.splitlines()[:2]) + "\n", encoding="utf-8")
    df = read_activity_file(f)
    assert list(df.columns) == list(COLUMNS)
    assert (df.quantity[0], df.unit[0], df.movement[0], df.row[0]) == (1250.5, "L", "purchased", 2)


def test_desk_xlsx_with_spreadsheet_dates(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["kind", "item", "period_start", "period_end", "quantity", "unit", "movement"])
    ws.append(["fuel", "diesel", dt.datetime(2026, 9, 30), dt.datetime(2026, 9, 30), 300, "L", "closing_stock"])
    ws.append(["sf6", "sf6", dt.date(2026, 10, 1), "2026-10-31", 1.25, "kg", None])
    wb.save(tmp_path / "stock.xlsx")
    df = read_activity_file(tmp_path / "stock.xlsx")
    assert list(df.period_start) == ["2026-09-30", "2026-10-01"] and list(df.period_end) == ["2026-09-30", "2026-10-31"]
    assert list(df.movement) == ["closing_stock", "purchased"] and list(df.quantity) == [300, 1.25]


def test_headers_and_values_match_across_full_width_and_spaces(plant_cfg, tmp_path):
    """Excel headers typed with full-width brackets, a line break or a full-width space still match."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "电费结算单"
    ws.append(["国网湖南省电力有限公司 电费结算单"])
    ws.append([])
    ws.append(["结算起", "结算止", "尖峰电量（kWh）", "高峰电量\n(kWh)", "平段电量(KWH)", "低谷电量 (kWh)",
               "合计电量(kWh)", "备 注"])
    ws.append([dt.datetime(2026, 9, 1), dt.datetime(2026, 9, 30), "６１，２００", "170 100", 150000.0, 200000,
               "581,300", None])
    wb.save(tmp_path / "statement-2026-09.xlsx")
    import_file(plant_cfg, tmp_path / "statement-2026-09.xlsx", "power_statement", author="test")
    df = load_activity(plant_cfg.paths.data_dir)
    assert dict(zip(df.item, df.quantity)) == {"sharp": 61200, "peak": 170100, "flat": 150000,
                                               "valley": 200000, "total": 581300}
    # a product name with a full-width space still finds its product id
    erp = tmp_path / "erp.csv"
    erp.write_text("日期,产品,班次,班组,车间,数量,单位\n2026/09/30,HB62V\u3000泵车,白班,总装一班,WS-AS,2,台\n",
                   encoding="utf-8")
    import_file(plant_cfg, erp, "erp_production", author="test")
    assert _sum(load_activity(plant_cfg.paths.data_dir, kinds=["production"]), item="P-PUMP") == 2


def test_mapping_errors_name_file_line_and_field(tmp_path):
    text = Path(EXAMPLE).read_text(encoding="utf-8").replace("      金额(元): quantity\n", "      金额(元): amount\n")
    f = tmp_path / "tanjian.yaml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_config(f)
    (prob,) = exc.value.problems
    line = text.splitlines().index("  financial:") + 1
    assert prob[0] == str(f) and prob[1] == line and prob[2] == "imports.financial"
    assert "unknown field 'amount'" in prob[3]


# -- reconciliation ------------------------------------------------------------------------------------------
UTC = dt.timezone.utc
MIDNIGHT = dt.datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # local midnight starting 24 Nov 2026


def _at(hh, mm):
    return MIDNIGHT + dt.timedelta(hours=hh, minutes=mm, milliseconds=300)


def test_reconcile_against_a_small_store(plant_cfg, tmp_path, capsys):
    pid = plant_cfg.site.plant.id
    j = Journal(plant_cfg.paths.journal, writer=True)
    s = Store.open(plant_cfg.paths.store, plant_cfg.site, create=True)
    # Hunan's 2025 schedule in November (a plain month: valley 0-6 and 12-14, flat 6-12 and 14-16, peak 16-24,
    # no sharp hour): the minutes ending 08:00 (07:59-08:00, hour 7, flat) 10 kWh and 08:01 (hour 8, flat)
    # 20 kWh on M-TR-1; 19:00-19:01 (peak) 5 kWh on M-TR-2; 13:00-13:01 (valley) 3 kWh on M-TR-3;
    # M-WS-CW is under M-TR-1: its 4 kWh must not be counted again
    rows = [("M-TR-1", _at(7, 59), 1000.0), ("M-TR-1", _at(8, 0), 1010.0), ("M-TR-1", _at(8, 1), 1030.0),
            ("M-TR-2", _at(19, 0), 500.0), ("M-TR-2", _at(19, 1), 505.0),
            ("M-TR-3", _at(13, 0), 200.0), ("M-TR-3", _at(13, 1), 203.0),
            ("M-WS-CW", _at(8, 0), 50.0), ("M-WS-CW", _at(8, 1), 54.0)]
    j.append(encode_batch(pid, j.next_seq, "test", [Reading(m, t, c) for m, t, c in rows]))
    s.fold(j)
    j.close()
    bill = tmp_path / "bill.csv"
    bill.write_text("kind,item,period_start,period_end,quantity,unit\n"
                    "electricity_statement,peak,2026-11-24,2026-11-24,0.004,MWh\n"
                    "electricity_statement,flat,2026-11-24,2026-11-24,32.5,kWh\n"
                    "electricity_statement,valley,2026-11-24,2026-11-24,3,kWh\n"
                    "electricity_statement,total,2026-11-24,2026-11-24,39.5,kWh\n", encoding="utf-8")
    cfg = plant_cfg.model_copy(update={"imports": {"desk": {"kind": "mixed", "columns": {
        c: c for c in ("kind", "item", "period_start", "period_end", "quantity", "unit")}}}})
    import_file(cfg, bill, "desk", author="test")
    t = reconcile(cfg, "2026-11", store=s)
    assert list(t.index) == ["sharp", "peak", "flat", "valley", "total"]
    assert t.bill_kwh.tolist()[1:] == pytest.approx([4, 32.5, 3, 39.5]) and math.isnan(t.bill_kwh["sharp"])
    # sharp: November has no sharp hour, so nothing is metered in it (0, not unknown); flat 10 + 20 = 30
    assert t.metered_kwh.tolist() == pytest.approx([0, 5, 30, 3, 38])
    # (5-4)/4 = +25 %; (30-32.5)/32.5 = -7.6923 %; (38-39.5)/39.5 = -3.7975 %
    assert t.difference_pct.tolist()[1:] == pytest.approx([25.0, -7.69230769, 0.0, -3.79746835], abs=1e-6)
    assert t.attrs["tou_status"] == ["secondary"] and t.attrs["schedule"] == "CN-HN-tou-2025"
    assert t.attrs["period_start"] == "2026-11-24"
    capsys.readouterr()
    assert main(["--config", str(EXAMPLE), "--data-dir", str(plant_cfg.paths.data_dir),
                 "reconcile", "--month", "2026-11"]) == 0
    out = capsys.readouterr().out
    assert "2026-11-24 … 2026-11-24 (bill.csv)" in out and "secondary" in out
    assert out.splitlines()[4].split() == ["flat", "32.5", "30.0", "-2.5", "-7.69"]
    with pytest.raises(TanjianError, match="no electricity settlement statement overlaps 2026-12"):
        reconcile(cfg, "2026-12", store=s)


# -- the row parser never crashes ----------------------------------------------------------------------------
HEADER = ["kind", "item", "period_start", "period_end", "quantity", "unit", "co2_share", "movement", "shift"]
cells = st.one_of(st.none(), st.text(max_size=12), st.floats(allow_nan=True, allow_infinity=True),
                  st.integers(-10**12, 10**12), st.booleans(), st.dates(), st.datetimes(),
                  st.sampled_from(["fuel", "diesel", "2026-10-01", "kWh", "kg", "ar_co2", "welding_gas", "1,5",
                                   "Nm3", "m3/h", "1e400", "nan", "2026年10月", "**", "kg/", "0.2", "used"]))


@settings(max_examples=300, deadline=None)
@given(row=st.lists(cells, min_size=0, max_size=len(HEADER) + 2), rownum=st.integers(2, 10**6),
       decimal=st.sampled_from([".", ","]))
def test_fuzz_row_parser_never_crashes(row, rownum, decimal):
    layout = Layout(columns={h: h for h in HEADER}, decimal=decimal)
    records, problems = parse_row("fuzz.csv", rownum, HEADER, row, layout)
    assert bool(records) != bool(problems)
    for f, r, col, msg in problems:
        assert (f, r) == ("fuzz.csv", rownum) and col in HEADER and msg
    for rec in records:
        assert list(rec) == list(COLUMNS) and rec["row"] == rownum
        assert rec["period_start"] <= rec["period_end"]


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=300) | st.text(max_size=200).map(lambda t: t.encode("utf-8")),
       xlsx=st.booleans())
def test_fuzz_whole_files_never_crash(body, xlsx):
    from workspace.business.records import parse_bytes

    data = b"kind,item,period_start,period_end,quantity,unit\n" + body
    records, problems = parse_bytes("fuzz.xlsx" if xlsx else "fuzz.csv", data)
    for f, r, col, msg in problems:
        assert f in ("fuzz.csv", "fuzz.xlsx") and (r is None or r >= 1) and col and msg
    if xlsx:
        assert problems == [("fuzz.xlsx", None, "(file)", problems[0][3])] and not records
