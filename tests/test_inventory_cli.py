"""`tanjian inventory` and `tanjian footprint` end to end (in-process CLI), checked by hand."""

import json

from models.factors import DEFAULT_PATH
from workspace.cli import main

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
