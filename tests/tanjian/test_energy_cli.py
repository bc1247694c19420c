"""``tanjian energy …`` on a small store of hand-chosen power: tables, CSV and JSON carry the hand-worked figures;
bad input is refused in one line with exit status 2; every energy command survives generated arguments."""

from __future__ import annotations

import json
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.models.energy.helpers import write_power
from tests.tanjian.test_bad_input import BAD_VALUES, _leaves, _options, run
from workspace.config import EXAMPLE, load_config
from workspace.journal import Journal
from workspace.store import Store


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Plant 18 with M-TR-1 at 100 kW through Wednesday 15 July 2026 (PF 0.85) and the shot blaster D-SB-01
    at 60 kW from 20:00 to 22:00."""
    d = tmp_path_factory.mktemp("energy-cli") / "var"
    cfg = load_config(EXAMPLE, data_dir=d)
    with Journal(cfg.paths.journal, writer=True) as j:
        s = Store.open(cfg.paths.store, cfg.site, create=True)
        write_power(j, s, cfg.site.plant.id, {"M-TR-1": [("2026-07-15 00:00", 100.0)],
                                              "M-SB-01": [("2026-07-15 00:00", 0.0), ("2026-07-15 20:00", 60.0),
                                                          ("2026-07-15 22:00", 0.0)]},
                    until="2026-07-16 00:00", power_factor={"M-TR-1": 0.85})
    return d


def energy(data, *argv):
    return run(["--data-dir", str(data), "energy", *argv])


def test_tou_table_csv_and_json(data):
    rc, out, err = energy(data, "tou", "--start", "2026-07-15", "--end", "2026-07-16")
    assert rc == 0, err
    # 100 kW all day in July: 400 kWh sharp (20-24 h) x 1.21304 = 485.22 CNY; all 2,400 kWh 1,638.34 CNY
    row = next(line for line in out.splitlines() if line.startswith("plant-18")).split()
    assert row[1:3] == ["400.00", "485.22"] and "1,638.34" in row
    assert "note: tariff CN-HN-large-industrial-1-10kV (illustrative), schedule CN-HN-tou-2025 (secondary)" in out
    rc, out, _ = energy(data, "tou", "--start", "2026-07-15", "--end", "2026-07-16", "--format", "csv")
    head, line = out.splitlines()[:2]
    assert head.startswith("group,sharp_kwh,sharp_share_pct,sharp_cny")
    assert line.split(",")[:4] == ["plant-18", "400.0000", "16.6667", "485.2160"]
    rc, out, _ = energy(data, "tou", "--month", "2026-07", "--format", "json")
    doc = json.loads(out)
    assert doc["rows"][0]["energy_cny"] == pytest.approx(1638.336)


def test_demand_pf_loadmove_and_tariff(data):
    rc, out, err = energy(data, "demand", "--month", "2026-07", "--format", "json")
    assert rc == 0, err
    r = json.loads(out)["rows"][0]
    # 100 kW maximum demand is below the floor 0.4 x 5,750 = 2,300 kW: 2,300 x 32 = 73,600 < 115,000
    assert r["max_kw"] == pytest.approx(100) and r["demand_cny"] == pytest.approx(73_600) and r["cheaper"] == "demand"
    rc, out, err = energy(data, "pf", "--start", "2026-07-15", "--end", "2026-07-16", "--format", "json")
    r = json.loads(out)["rows"][0]
    # only M-TR-1 has a PF (0.85): adjustment +2.5 % of energy 1,638.336 + basic 115,000 = +2,915.96 CNY
    assert r["pf"] == pytest.approx(0.85) and r["adjustment_pct"] == 2.5
    assert r["adjustment_cny"] == pytest.approx((1638.336 + 115_000) * 0.025)
    rc, out, err = energy(data, "loadmove", "--device", "D-SB-01", "--from-hours", "20-22", "--to-hours", "0-4",
                          "--start", "2026-07-15", "--end", "2026-07-16")
    assert rc == 0, err
    # 120 kWh x (1.21304 - 0.2828) = 111.63 CNY
    assert "moving 120.0 kWh from hours [20, 21] to [0, 1, 2, 3] saves 111.63 CNY" in out
    rc, out, _ = energy(data, "tariff")
    assert "   7  VVVVVVFFFFFFVVFFPPPPSSSS" in out and "   1  VVVVVVFFFFFFVVFFPPSSSSPP" in out


def test_transformers_states_load(data):
    rc, out, err = energy(data, "transformers", "--start", "2026-07-15", "--end", "2026-07-16", "--format", "json")
    assert rc == 0, err
    tr1 = next(r for r in json.loads(out)["rows"] if r["transformer"] == "TR-1")
    # 100 kW / 0.85 / 2,500 kVA = 0.04706
    assert tr1["peak_rate"] == pytest.approx(100 / 0.85 / 2500) and "low PF" in tr1["signs"]
    rc, out, err = energy(data, "states", "--start", "2026-07-15", "--end", "2026-07-16", "--device", "D-SB-01",
                          "--format", "json")
    r = json.loads(out)["rows"][0]
    # site thresholds of D-SB-01: off 2.5 kW, running 17 kW; 60 kW for 120 min, the first 15 start-up
    assert r["running_kwh"] == pytest.approx(105) and r["startup_kwh"] == pytest.approx(15)
    rc, out, err = energy(data, "states", "--start", "2026-07-15", "--end", "2026-07-16", "--view", "habits",
                          "--device", "D-SB-01", "--format", "json")
    r = json.loads(out)["rows"][0]
    # the shot blaster ran 20:00-22:00, in the evening shift (16:30-01:00) of Wednesday 15 July, never stood by
    assert rc == 0 and r["kind"] == "shot_blaster" and r["best"] == "D-SB-01 S-EVE", err
    # the plant's power needs all its incomers read (the query API's rule): M-TR-1 alone, flat 100 kW
    rc, out, err = energy(data, "load", "--view", "duration", "--start", "2026-07-15", "--end", "2026-07-16",
                          "--meter", "M-TR-1", "--format", "json")
    rows = json.loads(out)["rows"]  # the curve itself: 96 quarter hours, all at 100 kW
    assert rc == 0 and len(rows) == 96 and {r["M-TR-1"] for r in rows} == {100.0}, err
    assert rows[-1]["pct_of_time"] == 100.0


@pytest.mark.parametrize("argv,line", [
    (["tou", "--start", "2026-07-16", "--end", "2026-07-15"],
     "tanjian energy tou: --end 2026-07-15: not after --start 2026-07-16"),
    (["tou", "--start", "2026-07-15"], "tanjian energy tou: needs --start and --end (or --month)"),
    (["tou", "--month", "2026-07", "--start", "2026-07-01"],
     "tanjian energy tou: give --month or --start/--end, not both"),
    (["tou", "--start", "2025-07-15", "--end", "2025-07-16"],
     "tanjian energy: period 2025-07-15…2025-07-15 is outside the validity of time-of-use schedule CN-HN-tou-2025"),
    (["loadmove", "--device", "D-NOPE", "--from-hours", "20-22", "--to-hours", "2-4", "--month", "2026-07"],
     "tanjian energy loadmove: --device D-NOPE: unknown device"),
    (["loadmove", "--device", "D-SB-01", "--from-hours", "22-20", "--to-hours", "2-4", "--month", "2026-07"],
     "tanjian energy loadmove: --from-hours 22-20: 22-20: hours are 0..23"),
    (["tou", "--month", "2026-07", "--meter", "M-NOPE"], "tanjian energy tou: --meter M-NOPE: unknown meter"),
    (["unit", "--month", "2026-07"], "tanjian energy: no production records between 2026-07-01 and 2026-07-31"),
])
def test_bad_input_is_one_line_exit_2(data, argv, line):
    rc, _, err = energy(data, *argv)
    assert rc == 2 and err.startswith(line) and len(err.strip().splitlines()) == 1, err


def test_a_plant_outside_hunan_without_a_tariff(data, tmp_path):
    cfg = tmp_path / "tanjian.yaml"
    cfg.write_text(EXAMPLE.read_text(encoding="utf-8").replace("province: Hunan", "province: Jiangsu", 1),
                   encoding="utf-8")
    assert "province: Jiangsu" in cfg.read_text(encoding="utf-8")
    rc, _, err = run(["--config", str(cfg), "--data-dir", str(data), "energy", "tou", "--month", "2026-07"])
    assert rc == 2 and "no electricity tariff configured; set site.plant.tariff" in err
    bad = tmp_path / "my-tariff.yaml"
    bad.write_text("id: X\n", encoding="utf-8")
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("province: Jiangsu", "province: Jiangsu\n    tariff: "
                                                          "my-tariff.yaml", 1), encoding="utf-8")
    rc, _, err = run(["--config", str(cfg), "--data-dir", str(data), "energy", "tou", "--month", "2026-07"])
    assert rc == 2 and f"{bad}:1: region: Field required" in err and "Traceback" not in err


ENERGY = _leaves("energy")


@st.composite
def energy_lines(draw):
    words, p = draw(st.sampled_from(ENERGY))
    value = st.one_of(st.sampled_from(BAD_VALUES + ["2026-07-15", "2026-07-16", "2026-07", "D-SB-01", "20-22"]),
                      st.text(max_size=8))
    argv = list(words)
    for a in draw(st.lists(st.sampled_from(_options(p)), max_size=5, unique_by=id)):
        argv.append(a.option_strings[-1])
        if a.nargs != 0:
            argv.append(draw(value))
    return argv


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(argv=energy_lines())
def test_energy_commands_never_raise(data, argv):
    rc, _, err = run(["--data-dir", str(data), *argv])
    assert "Traceback" not in err and rc in (0, 1, 2), (argv, rc, err)
