"""Configuration: the shipped Plant 18 example, and errors that name file, line and field."""

import json
import subprocess
import sys

import pytest

from workspace.config import EXAMPLE, load_config, schema
from workspace.errors import ConfigError
from workspace.site import Medium


def test_plant18_example_is_complete():
    cfg = load_config(EXAMPLE)
    s = cfg.site
    assert s.plant.timezone == "Asia/Shanghai" and s.plant.city == "Changsha"
    assert {w.name for w in s.workshops} == {"Cutting & welding", "Machining", "Painting & coating", "Assembly",
                                             "Test & commissioning", "Utilities station"}
    assert len(s.devices) >= 60
    kinds = {d.kind.value for d in s.devices}
    for k in ("welding_robot", "laser_cutter", "machining_centre", "paint_booth", "curing_oven",
              "air_compressor", "overhead_crane", "test_bench", "hvac", "lighting"):
        assert k in kinds
    media = {m.medium for m in s.meters}
    assert media == set(Medium)
    assert len(s.transformers) >= 2
    # every device has at least one meter, and the tree has the transformer incomers as roots
    metered = {m.device for m in s.meters if m.device}
    assert {d.id for d in s.devices} <= metered
    assert sorted(s.top_meters("electricity")) == ["M-TR-1", "M-TR-2", "M-TR-3"]
    assert {p.id for p in s.products} == {"P-PUMP", "P-CRANE"} and len(s.shifts) >= 2


def _broken(tmp_path, old, new, count=1):
    text = EXAMPLE.read_text()
    assert old in text
    p = tmp_path / "tanjian.yaml"
    p.write_text(text.replace(old, new, count))
    return p, text.replace(old, new, count).splitlines()


def test_field_error_names_file_line_and_field(tmp_path):
    p, lines = _broken(tmp_path, "unit_id: 7\n", "unit_id: 700\n")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    (f, line, field, msg), = e.value.problems
    assert f == str(p)
    assert lines[line - 1].strip() == "unit_id: 700"
    assert field.startswith("site.meters[") and field.endswith("].unit_id")
    assert "247" in msg


def test_reference_error_names_line(tmp_path):
    p, lines = _broken(tmp_path, "workshop: WS-MC\n", "workshop: WS-NOPE\n")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    hits = [(line, field) for f, line, field, msg in e.value.problems if "unknown workshop 'WS-NOPE'" in msg]
    assert len(hits) == 1
    line, field = hits[0]
    assert lines[line - 1].strip() == "workshop: WS-NOPE" and field.startswith("site.devices[")


def test_every_problem_reported_at_once(tmp_path):
    p, _ = _broken(tmp_path, "rated_power_kw: 45\n", "rated_power_kw: -45\n", count=3)
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert len(e.value.problems) == 3


def test_yaml_syntax_error_names_line(tmp_path):
    p, lines = _broken(tmp_path, "  plant:\n", "  plant: [\n")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    (f, line, field, msg), = e.value.problems
    assert field == "(syntax)" and line is not None and line > 1


def test_unknown_register_family_is_rejected_with_its_line(tmp_path):
    p, lines = _broken(tmp_path, "family: sdm630\n", "family: sdm999\n")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    (f, line, field, msg), = e.value.problems
    assert lines[line - 1].strip() == "family: sdm999" and "unknown register family" in msg


def test_cli_check_and_schema(tmp_path):
    p, _ = _broken(tmp_path, "unit_id: 7\n", "unit_id: 700\n")
    r = subprocess.run([sys.executable, "-m", "tanjian", "config", "check", str(p)],
                       capture_output=True, text=True)
    assert r.returncode == 1
    assert f"{p}:" in r.stderr and ".unit_id:" in r.stderr
    r = subprocess.run([sys.executable, "-m", "tanjian", "config", "check", str(EXAMPLE)],
                       capture_output=True, text=True)
    # 90 consumption meters + 5 of on-site generation, storage and export (M-PV-1, M-PV-2: the inverters'
    # SunSpec energy registers; M-BAT-1-OUT, M-BAT-1-IN: the battery's discharge and charge; M-EXPORT)
    assert r.returncode == 0 and "95 meters" in r.stdout
    r = subprocess.run([sys.executable, "-m", "tanjian", "config", "schema"], capture_output=True, text=True)
    s = json.loads(r.stdout)
    assert s["title"] == "tanjian.yaml" and "site" in s["required"]
    assert s == json.loads(json.dumps(schema()))
