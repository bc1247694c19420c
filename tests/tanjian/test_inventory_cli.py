"""`tanjian inventory` and `tanjian footprint` end to end (in-process CLI), checked by hand."""

import json
from pathlib import Path

from models.factors import DEFAULT_PATH
from tanjian.cli import main

ACT = """kind,item,period_start,period_end,quantity,unit,workshop
fuel,natural_gas,2022-01-01,2022-12-31,8.4082,10^4Nm3,
electricity_statement,total,2022-01-01,2022-12-31,1619.725,MWh,
"""


def _run(capsys, tmp_path, *argv):
    rc = main(["--data-dir", str(tmp_path / "var"), *argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_inventory_json_from_an_activity_file(tmp_path, capsys):
    f = tmp_path / "a.csv"
    f.write_text(ACT, encoding="utf-8")
    rc, out, err = _run(capsys, tmp_path, "inventory", "--year", "2022", "--activity", str(f),
                        "--methodology", "cn-machinery-2015", "--json")
    assert rc == 0, err
    c = json.loads(out)
    # 8.4082 × 389.31 × 0.0153 × 0.99 × 44/12 = 181.801 t; 1619.725 × 0.5366 = 869.144 t
    assert c["totals"]["scope1"]["tco2e"] == "181.801"
    assert c["totals"]["scope2_location"]["tco2e"] == "869.144"
    assert c["methodology"]["id"] == "cn-machinery-2015"


def test_inventory_refuses_a_bad_activity_file(tmp_path, capsys):
    f = tmp_path / "bad.csv"
    f.write_text("kind,item,period_start,period_end,quantity,unit\nfuel,coal,2022-01-01,2022-12-31,x,t\n", encoding="utf-8")
    rc, out, err = _run(capsys, tmp_path, "inventory", "--year", "2022", "--activity", str(f))
    assert rc != 0 and out == ""
    assert f"{f}:2:quantity" in err


def test_inventory_restate_with_a_new_factor_file(tmp_path, capsys):
    f = tmp_path / "a.csv"
    f.write_text(ACT, encoding="utf-8")
    new = tmp_path / "factors-v2.csv"
    new.write_text(DEFAULT_PATH.read_text(encoding="utf-8").replace(
        "grid_average,2,CN,grid_emission_factor,0.5366,", "grid_average,2,CN,grid_emission_factor,0.5257,"), encoding="utf-8")
    rc, out, err = _run(capsys, tmp_path, "inventory", "--year", "2022", "--activity", str(f),
                        "--methodology", "cn-machinery-2015", "--restate-with", str(new), "--json")
    assert rc == 0, err
    rows = {r["source"]: r for r in json.loads(out)["lines"]}
    # 1619.725 × (0.5257 − 0.5366) = −17.655 t
    assert round(rows["purchased_electricity"]["difference_tco2e"], 3) == -17.655
    assert "grid_average: 0.5366" in rows["purchased_electricity"]["reason"]


def test_footprint_for_a_month(tmp_path, capsys):
    f = tmp_path / "m.csv"
    f.write_text("kind,item,period_start,period_end,quantity,unit,workshop\n"
                 "electricity_statement,total,2024-03-01,2024-03-31,100,MWh,WS-A\n"
                 "production,P-PUMP,2024-03-01,2024-03-31,10,unit,WS-A\n", encoding="utf-8")
    rc, out, err = _run(capsys, tmp_path, "footprint", "--month", "2024-03", "--activity", str(f),
                        "--methodology", "cn-machinery-2015", "--json")
    assert rc == 0, err
    # 100 MWh × 0.5306 = 53.06 t over 10 pumps = 5.306 t/unit
    (row,) = json.loads(out)
    assert row["product"] == "P-PUMP" and abs(row["tco2e_per_unit"] - 5.306) < 1e-9


def test_inventory_of_imported_fuel_invoices(plant_cfg, capsys):
    """The Plant 18 fuel invoices imported by `tanjian import`, then `tanjian inventory` (no store)."""
    from pathlib import Path

    from workspace.config import EXAMPLE
    from workspace.business.imports import import_file

    import_file(plant_cfg, Path(EXAMPLE).parent / "imports" / "fuel-invoices-2026-10.csv", "fuel_invoices",
                author="test")
    rc = main(["--data-dir", str(plant_cfg.paths.data_dir), "inventory", "--from", "2026-10-01", "--to", "2026-10-31",
               "--no-store", "--allow-unverified", "--json"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    c = json.loads(out.out)
    # natural gas 18,600 Nm3: 1.86 × 21.62188809 tCO2/10^4Nm3                     = 40.2167118
    # diesel 2,400 L × 0.8503 kg/L = 2.04072 t × 3.0959096 tCO2/t                = 6.3178850
    # LPG 0.35 t × 50.179 GJ/t × 0.0172 × 0.98 × 44/12                           = 1.0854654
    # CO2 welding gas 1,200 kg; Ar/CO2 900 kg × 0.2159 = 194.31 kg               = 1.2 + 0.19431
    # SF6 refill 2.5 kg × 23,500 (AR5)                                            = 58.75
    # scope 1 = 107.7643722 t
    assert c["totals"]["scope1"]["tco2e"] == "107.764"


def test_inventory_reads_every_imported_kind(plant_cfg, capsys):
    """Production (pcs), financial (CNY) and the power statement imported too: they do not stop the inventory."""
    from pathlib import Path

    from workspace.config import EXAMPLE
    from workspace.business.imports import import_file

    samples = Path(EXAMPLE).parent / "imports"
    import_file(plant_cfg, samples / "erp-production-2026-10.csv", "erp_production", author="test")
    import_file(plant_cfg, samples / "settlement-2026-10.xlsx", "power_statement", author="test")
    rc = main(["--data-dir", str(plant_cfg.paths.data_dir), "inventory", "--from", "2026-10-01", "--to", "2026-10-31",
               "--no-store", "--json"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    c = json.loads(out.out)
    el = [ln for ln in c["lines"] if ln["source"] == "purchased_electricity"]
    # the statement's total row (not total + the time-of-use rows): 588,200 kWh = 588.2 MWh × 0.5306 = 312.099 t
    assert len(el) == 1 and el[0]["activity"]["quantity"] == "588.200000"
    assert el[0]["tco2e"] == "312.099"


EXAMPLE_ACTIVITY = Path(__file__).resolve().parents[2] / "docs" / "examples" / "plant18-activity-2025.csv"


def test_unverified_factor_error_names_every_row_and_how_to_accept_them(tmp_path, capsys):
    # the example file plus a boiler burning raw coal: the coal defaults (NDRC default table as recalled, lines
    # of the factor file marked unverified) are refused until accepted knowingly
    act = tmp_path / "activity.csv"
    act.write_text(EXAMPLE_ACTIVITY.read_text(encoding="utf-8").rstrip("\n")
                   + "\nfuel,raw_coal,2025-01-01,2025-12-31,10,t,WS-UT,,,purchased,stationary,boiler\n",
                   encoding="utf-8")
    rc, out, err = _run(capsys, tmp_path, "inventory", "--year", "2025", "--no-store", "--activity", str(act),
                        "--methodology", "cn-machinery-2015")
    assert rc == 1 and out == ""
    assert "3 factor row(s)" in err
    assert "raw_coal_ncv@CN:2015-01-01 (unverified) = 20.908 GJ/t (line" in err
    assert "raw_coal_carbon_content@CN:2015-01-01" in err and "raw_coal_oxidation@CN:2015-01-01" in err
    assert "needed for 2025-01-01..2025-12-31" in err
    assert "--allow-unverified" in err and "--measured FILE" in err
    # accepted knowingly: computed, and the rows are labelled unverified in the result
    rc, out, err = _run(capsys, tmp_path, "inventory", "--year", "2025", "--no-store", "--activity", str(act),
                        "--methodology", "cn-machinery-2015", "--allow-unverified", "--json")
    assert rc == 0, err
    c = json.loads(out)
    coal = [ln for ln in c["lines"] if ln["item"] == "raw_coal"]
    assert len(coal) == 1 and coal[0]["source"] == "stationary_combustion"
    assert {p["id"]: p["status"] for p in coal[0]["factor"]["parameters"]}["raw_coal_ncv@CN:2015-01-01"] == \
        "unverified"
    # 10 t × 20.908 GJ/t = 209.08 GJ × 0.02637 tC/GJ = 5.5134396 tC × 0.94 = 5.18263322 tC × 44/12 = 19.003 tCO2
    assert coal[0]["tco2e"] == "19.003"
    assert [p["role"] for p in coal[0]["factor"]["parameters"]] == ["NCV", "CC", "OF"]


def test_unverified_error_lists_all_rows_not_only_the_first(tmp_path, capsys):
    # GB/T 32151.29-2024 annex C values are all unverified in the factor file: diesel and LPG need 6
    f = tmp_path / "a.csv"
    f.write_text("kind,item,period_start,period_end,quantity,unit\n"
                 "fuel,diesel,2025-01-01,2025-12-31,18.4,t\n"
                 "fuel,lpg,2025-01-01,2025-12-31,1.5,t\n", encoding="utf-8")
    rc, out, err = _run(capsys, tmp_path, "inventory", "--year", "2025", "--no-store", "--activity", str(f),
                        "--methodology", "gbt-32151.29-2024")
    assert rc == 1
    assert "6 factor row(s)" in err
    for fid in ("diesel_ncv", "diesel_carbon_content", "diesel_oxidation", "lpg_ncv", "lpg_carbon_content",
                "lpg_oxidation"):
        assert f"gbt2024_{fid}@CN:2025-01-01 (unverified)" in err


def test_inventory_help_documents_unverified_factors(tmp_path, capsys):
    import pytest

    with pytest.raises(SystemExit) as e:
        main(["inventory", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "--allow-unverified" in out and "unverified factors:" in out
    assert "docs/examples/plant18-activity-2025.csv" in out and "raw_coal_ncv" in out
    assert "--gwp" in out and "AR6" in out
    assert "unmetered remainder" in out


def test_gwp_choice_and_its_refusal(tmp_path, capsys):
    f = tmp_path / "sf6.csv"
    f.write_text("kind,item,period_start,period_end,quantity,unit,movement,use\n"
                 "sf6,sf6,2024-05-01,2024-05-31,2,kg,purchased,equipment\n", encoding="utf-8")
    rc, out, err = _run(capsys, tmp_path, "inventory", "--year", "2024", "--no-store", "--activity", str(f),
                        "--methodology", "ghg-protocol-corporate", "--gwp", "ar6", "--json")
    assert rc == 0, err
    c = json.loads(out)
    # 2 kg × 25,200 (AR6) = 50.400 t
    assert c["totals"]["scope1"]["tco2e"] == "50.400" and c["methodology"]["gwp_set"] == "ar6"
    rc, out, err = _run(capsys, tmp_path, "inventory", "--year", "2024", "--no-store", "--activity", str(f),
                        "--methodology", "cn-machinery-2015", "--gwp", "AR6")
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and "--gwp AR6" in err and "it allows SAR" in err


def test_compliance_total_first_and_a_refused_measured_grid_factor(tmp_path, capsys):
    f = tmp_path / "a.csv"
    f.write_text(ACT.replace("2022-", "2024-"), encoding="utf-8")
    rc, out, err = _run(capsys, tmp_path, "inventory", "--year", "2024", "--no-store", "--activity", str(f),
                        "--methodology", "cn-machinery-2015")
    assert rc == 0, err
    # 181.801 + 1619.725 MWh × 0.5703 (923.729 t) = 1105.530 t; location: 1619.725 × 0.5306 = 859.426 t -> 1041.227 t
    head = [ln for ln in out.splitlines() if ln.startswith("HEADLINE")]
    assert head == ["HEADLINE (compliance, GWP SAR): 1105.530 tCO2e"]
    assert "compliance total 1105.530 t  [grid_average_compliance 0.5703 tCO2/MWh" in out
    assert "location-based total 1041.227 t  [grid_average 0.5306 tCO2/MWh" in out
    m = tmp_path / "measured.csv"
    m.write_text("factor_id,value,unit,applies_from,applies_to,lab,report,evidence_sha256\n"
                 "grid_average,0.41,tCO2/MWh,2024-01-01,2024-12-31,own,r,"
                 "9b74c9897bac770ffc029102a200c5de4e2de7ce6b47f5fe2a6bbc27c8a2ab77\n", encoding="utf-8")
    rc, out, err = _run(capsys, tmp_path, "inventory", "--year", "2024", "--no-store", "--activity", str(f),
                        "--methodology", "cn-machinery-2015", "--measured", str(m))
    assert rc == 1 and out == ""
    assert f"{m}:2:factor_id: grid_average is a grid emission factor" in err
