"""One activity-record contract (workspace.business) for imports and the inventory: green power, GECs,
offsets, ``use`` and ``recovered`` through `tanjian import`, then `tanjian inventory`; values worked by hand."""

import datetime as dt
import json
from pathlib import Path

import pytest

from models import activity_input
from workspace import units
from workspace.business import documents, records
from workspace.business.imports import import_file
from tanjian.cli import main
from workspace.config import EXAMPLE

SAMPLES = Path(EXAMPLE).parent / "imports"


def test_import_green_power_gecs_and_offsets(plant_cfg):
    import_file(plant_cfg, SAMPLES / "energy-attributes-2026-10.csv", "energy_attributes", author="test")
    df = documents.load_activity(plant_cfg.paths.data_dir, "2026-10-01", "2026-10-31",
                                kinds=["green_power", "gec", "offset"])
    got = {r.kind: (r.item, r.quantity, r.unit, r.period_start, r.period_end, r.row) for r in df.itertuples()}
    # the sample's rows 2-4: 200 张 (certificates) -> 200 GEC; "100,000" 千瓦时 -> 100000 kWh; 50 tCO2e of CCER
    assert got == {"gec": ("wind", 200.0, "GEC", "2026-10-01", "2026-10-31", 2),
                   "green_power": ("solar_ppa", 100000.0, "kWh", "2026-10-01", "2026-10-31", 3),
                   "offset": ("ccer", 50.0, "tCO2e", "2026-10-01", "2026-10-31", 4)}
    # 1 GEC = 1 MWh
    assert units.ureg.Quantity(200, "GEC").to("MWh").magnitude == pytest.approx(200)
    # the inventory's view of the same records: dates, and `use` defaulted
    inv = activity_input.load_activity(plant_cfg.paths.data_dir, dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert set(inv.period_start) == {dt.date(2026, 10, 1)} and set(inv.period_end) == {dt.date(2026, 10, 31)}
    assert set(inv.use) == {"equipment"}


def test_inventory_market_based_with_imported_gecs(plant_cfg, capsys):
    """Settlement statement + GECs + green power + CCER, all imported by `tanjian import`."""
    for f, m in (("settlement-2026-10.xlsx", "power_statement"), ("energy-attributes-2026-10.csv", "energy_attributes")):
        assert main(["--data-dir", str(plant_cfg.paths.data_dir), "import", str(SAMPLES / f), "--mapping", m,
                     "--author", "test"]) == 0
    capsys.readouterr()
    rc = main(["--data-dir", str(plant_cfg.paths.data_dir), "inventory", "--from", "2026-10-01", "--to", "2026-10-31",
               "--no-store", "--json"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    c = json.loads(out.out)
    # location-based: the statement's total 588,200 kWh = 588.2 MWh × 0.5306 tCO2/MWh = 312.09892 t
    assert c["totals"]["scope2_location"]["tco2e"] == "312.099"
    # market-based: 200 GEC (= 200 MWh) + 100,000 kWh (= 100 MWh) green power at 0;
    # the rest 588.2 − 300 = 288.2 MWh × 0.5306 = 152.91892 t
    mb = c["views"]["market_based"]
    assert mb["scope2_tco2e"] == "152.919"
    assert sorted(ln["activity"]["quantity"] for ln in mb["lines"]) == ["100.000000", "200.000000", "288.200000"]
    # the CCER is listed (50 t), never subtracted: location-based scope 2 stays 312.099
    assert c["offsets"]["total_tco2e"] == "50.000"
    assert [(o["item"], o["quantity"], o["unit"]) for o in c["offsets"]["items"]] == [("ccer", "50.000000", "tCO2e")]


DESK = """kind,item,period_start,period_end,quantity,unit,movement,use
gec,wind,2026-10-01,2026-10-31,5,kg,,
offset,ccer,2026-10-01,2026-10-31,5,MWh,,
green_power,solar_ppa,2026-10-01,2026-10-31,5,GEC,,
sf6,sf6,2026-10-01,2026-10-31,1,kg,recovered,product
refrigerant,hfc_134a,2026-10-01,2026-10-31,1,kg,purchased,forklift
fuel,natural_gas,2026-10-01,2026-10-31,1.86,万标方,purchased,stationary
gecs,wind,2026-10-01,2026-10-31,5,GEC,,
"""


def test_desk_file_rules_for_the_new_kinds(tmp_path):
    f = tmp_path / "desk.csv"
    f.write_text(DESK, encoding="utf-8")
    with pytest.raises(records.ActivityFileError) as exc:
        records.read_activity_file(f)
    assert [p[:3] for p in exc.value.problems] == [("desk.csv", 2, "unit"), ("desk.csv", 3, "unit"),
                                                   ("desk.csv", 6, "use"), ("desk.csv", 8, "kind")]
    lines = str(exc.value).splitlines()[1:]
    assert lines[0] == "desk.csv:2:unit: unit 'kg' does not fit gec 'wind' (it is measured in energy)"
    assert lines[1] == "desk.csv:3:unit: unit 'MWh' does not fit offset 'ccer' (it is measured in tCO2e)"
    # the same problems through the inventory's reader, naming the path as given
    with pytest.raises(activity_input.ActivityFileError, match="nothing computed") as exc2:
        activity_input.read_activity_file(f)
    assert [p[:3] for p in exc2.value.problems] == [(str(f), 2, "unit"), (str(f), 3, "unit"), (str(f), 6, "use"),
                                                    (str(f), 8, "kind")]
    f.write_text("\n".join(ln for i, ln in enumerate(DESK.splitlines()) if i not in (1, 2, 5, 7)) + "\n",
                 encoding="utf-8")
    df = records.read_activity_file(f)
    assert list(df.kind) == ["green_power", "sf6", "fuel"]
    assert (df.movement[1], df.use[1]) == ("recovered", "product")
    # 万标方 is written 10^4Nm3 (as in the factor file): 1.86 × 10^4 Nm3 = 18,600 m3
    assert df.unit[2] == "10^4Nm3" and df.use.isna()[0]
    assert units.ureg.Quantity(df.quantity[2], units.pint_unit(df.unit[2])).to("m3").magnitude \
        == pytest.approx(18600)


def test_inventory_refuses_units_it_cannot_compute_with(tmp_path):
    """The contract accepts steam in t and welding gas in m3; the inventory needs GJ and kg, and says where."""
    f = tmp_path / "heat.csv"
    f.write_text("kind,item,period_start,period_end,quantity,unit\n"
                 "heat,steam,2026-10-01,2026-10-31,12,t\n"
                 "welding_gas,co2,2026-10-01,2026-10-31,3,m3\n", encoding="utf-8")
    assert len(records.read_activity_file(f)) == 2
    with pytest.raises(activity_input.ActivityFileError) as exc:
        activity_input.read_activity_file(f)
    assert [p[:3] for p in exc.value.problems] == [(str(f), 2, "unit"), (str(f), 3, "unit")]
    assert "convert to GJ" in exc.value.problems[0][3]


def test_validate_activity_takes_imported_frames(tmp_path):
    """A frame in the contract's form (ISO dates, no `use`) validated for the inventory; errors name file:row."""
    import pandas as pd

    a = pd.DataFrame([{"kind": "gec", "item": "wind", "period_start": "2026-10-01", "period_end": "2026-10-31",
                       "quantity": 3.0, "unit": "GEC", "co2_share": float("nan"), "source_file": "x.csv", "row": 7}])
    v = activity_input.validate_activity(a)
    assert (v.period_start[0], v.quantity[0], v.use[0], v.row[0]) == (dt.date(2026, 10, 1), 3.0, "equipment", 7)
    a.loc[0, "unit"] = "t"
    with pytest.raises(activity_input.ActivityFileError, match=r"x\.csv:7:unit: unit 't' does not fit gec"):
        activity_input.validate_activity(a)
