"""The workspace's measured-factor file: a lab value added with its evidence hash and used by `tanjian inventory
--measured` (worked by hand), and every refusal the command line makes named with line and column."""

from __future__ import annotations

import hashlib
import json

import pytest

from models.errors import InventoryError
from models.factors.measured_file import add_measured, measured_path, read_measured
from tanjian.cli import main
from workspace.business.vouchers import VoucherLine, enter_voucher

LAB = hashlib.sha256(b"lab report 2026-10 natural gas carbon content").hexdigest()
ROW = {"factor_id": "natural_gas_carbon_content", "value": "15.6", "unit": "tC/TJ", "applies_from": "2026-10-01",
       "applies_to": "2026-10-31", "lab": "市计量院 city metrology lab", "report": "LAB-2026-118",
       "evidence_sha256": LAB}


def test_added_then_used_by_the_inventory(plant_cfg, capsys):
    m = add_measured(plant_cfg.paths.data_dir, ROW)
    assert (m.factor_id, m.value, m.evidence_sha256, m.line) == ("natural_gas_carbon_content", 15.6, LAB, 4)
    assert [x.report for x in read_measured(plant_cfg.paths.data_dir)] == ["LAB-2026-118"]
    enter_voucher(plant_cfg, author="zhao.min", number="PZ-1", supplier="城燃", period_start="2026-10-01",
                  period_end="2026-10-31", lines=[VoucherLine("fuel:natural_gas", "10000", "Nm3")], scan=b"%PDF scan",
                  scan_name="s.pdf")
    # hand-worked: 1 x 10^4 Nm3 x 389.31 GJ/10^4Nm3 = 389.31 GJ x 15.6 tC/TJ (the lab's, not the default 15.3)
    # = 6.073236 tC x 0.99 = 6.012504 tC x 44/12 = 22.0458 tCO2 -> 22.046 t
    assert main(["--data-dir", str(plant_cfg.paths.data_dir), "inventory", "--from", "2026-10-01", "--to",
                 "2026-10-31", "--no-store", "--methodology", "cn-machinery-2015", "--json", "--measured",
                 str(measured_path(plant_cfg.paths.data_dir))]) == 0
    inv = json.loads(capsys.readouterr().out)
    (line,) = [x for x in inv["lines"] if x.get("item") == "natural_gas"]
    assert float(line["tco2e"]) == pytest.approx(22.046, abs=5e-4)
    assert LAB in json.dumps(line, ensure_ascii=False)


@pytest.mark.parametrize("change,where", [
    ({"factor_id": "grid_average", "unit": "tCO2/MWh"}, "measured.csv:4:factor_id: grid_average is a grid emission"),
    ({"evidence_sha256": "abc123"}, "measured.csv:4:evidence_sha256: not a 64-hex"),
    ({"evidence_sha256": LAB.upper()}, "measured.csv:4:evidence_sha256"),
    ({"value": "fifteen"}, "measured.csv:4:value: not a number"),
    ({"applies_to": "2026-13-01"}, "measured.csv:4:applies_to: not a date"),
    ({"unit": "GJ/t"}, "measured.csv:4:unit: [GJ/t] does not fit"),
    ({"factor_id": "natural_gas_colour"}, "measured.csv:4:factor_id: 'natural_gas_colour' is not a factor"),
])
def test_refused_as_the_command_line_refuses(plant_cfg, change, where):
    with pytest.raises(InventoryError, match=None) as e:
        add_measured(plant_cfg.paths.data_dir, {**ROW, **change})
    assert where in str(e.value), str(e.value)
    assert not measured_path(plant_cfg.paths.data_dir).exists()  # nothing written


def test_an_overlapping_second_value_is_refused(plant_cfg):
    add_measured(plant_cfg.paths.data_dir, ROW)
    before = measured_path(plant_cfg.paths.data_dir).read_bytes()
    with pytest.raises(InventoryError, match=r"measured.csv:5:applies_from: .* 2026-10-01..2026-10-31 \(measured.csv:4\)"):
        add_measured(plant_cfg.paths.data_dir, {**ROW, "applies_from": "2026-10-15", "applies_to": "2026-11-15"})
    assert measured_path(plant_cfg.paths.data_dir).read_bytes() == before
