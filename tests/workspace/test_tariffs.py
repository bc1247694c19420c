"""Tariffs as data: Hunan's 2025 time-of-use schedule, the example plant tariff's prices, the 1983
power-factor adjustment table, and clear refusals of bad tariff files."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from workspace.config import load_config
from workspace.errors import ConfigError, TanjianError
from workspace.tariffs import PERIODS, load_schedule, load_tariff, plant_tariff


def test_hunan_2025_hours_by_season():
    s = load_schedule("CN-HN-tou-2025")
    # April (plain): valley 0-6 and 12-14, flat 6-12 and 14-16, peak 16-24, no sharp
    april = s.hours(4)
    assert [april[h] for h in (0, 5, 6, 11, 12, 13, 14, 15, 16, 23)] == [
        "valley", "valley", "flat", "flat", "valley", "valley", "flat", "flat", "peak", "peak"]
    assert "sharp" not in april.values()
    # July: peak 16-20, sharp 20-24; December: peak 16-18 and 22-24, sharp 18-22
    july, dec = s.hours(7), s.hours(12)
    assert [july[h] for h in (16, 19, 20, 23)] == ["peak", "peak", "sharp", "sharp"]
    assert [dec[h] for h in (16, 17, 18, 21, 22, 23)] == ["peak", "peak", "sharp", "sharp", "peak", "peak"]
    # hours per day: plain month 8 valley, 8 flat, 8 peak; sharp month 4 sharp + 4 peak
    assert sorted(list(april.values()).count(p) for p in ("valley", "flat", "peak")) == [8, 8, 8]
    assert list(july.values()).count("sharp") == 4 and list(dec.values()).count("sharp") == 4
    # vectorised look-up agrees: 2026-08-03 21:30 is sharp, 2026-02-03 21:30 peak
    idx = s.period_index(pd.DatetimeIndex(["2026-08-03 21:30", "2026-02-03 21:30", "2026-02-03 03:00"]))
    assert [PERIODS[i] for i in idx] == ["sharp", "peak", "valley"]
    assert s.ratios == {"sharp": 1.92, "peak": 1.6, "flat": 1.0, "valley": 0.4}
    assert s.status == "secondary" and "385" in s.source


def test_example_prices_float_around_the_fixed_part():
    t = load_tariff("CN-HN-large-industrial-1-10kV")
    # price = n + (flat - n) x ratio, n = 0.038, flat 0.65: floating part 0.612
    # sharp 0.038 + 0.612 x 1.92 = 1.21304; peak 0.038 + 0.612 x 1.6 = 1.0172; valley 0.038 + 0.612 x 0.4 = 0.2828
    assert t.prices() == pytest.approx([1.21304, 1.0172, 0.65, 0.2828])
    # billed ratios the bill showed: peak/flat 1.0172/0.65 = 1.565, valley/flat 0.435, sharp/peak 1.1925
    assert t.price("peak") / t.price("flat") == pytest.approx(1.565, abs=5e-4)
    assert t.price("valley") / t.price("flat") == pytest.approx(0.435, abs=5e-4)
    assert t.price("sharp") / t.price("peak") == pytest.approx(1.19, abs=5e-3)


def test_pf_adjustment_table_1983():
    t = load_tariff("CN-HN-large-industrial-1-10kV")
    assert t.pf_standard == 0.90
    # 0.85 under the 0.90 standard: 5 steps of 0.01 below it at +0.5 % each = +2.5 %
    assert t.pf_adjustment_pct(0.85) == 2.5
    # 0.60: 20 steps x 0.5 % (to 0.70) + 5 x 1 % (to 0.65) + 5 x 2 % = 10 + 5 + 10 = +25 % (the reprinted table)
    assert t.pf_adjustment_pct(0.60) == 25.0
    # above the standard: 0.93 -> -0.45 %, 0.97 -> -0.75 % (capped from 0.95)
    assert t.pf_adjustment_pct(0.93) == -0.45 and t.pf_adjustment_pct(0.97) == -0.75
    # rounding half up to two decimals: 0.845 -> 0.85 -> +2.5 %; 0.8449 -> 0.84 -> +3.0 %
    assert t.pf_adjustment_pct(0.845) == 2.5 and t.pf_adjustment_pct(0.8449) == 3.0
    # the 0.85 standard: 0.80 -> 5 x 0.5 = +2.5 %; 0.90 -> -0.5 %; the 0.80 standard: 0.92 -> -1.3 %
    assert t.pf_adjustment_pct(0.80, 0.85) == 2.5 and t.pf_adjustment_pct(0.90, 0.85) == -0.5
    assert t.pf_adjustment_pct(0.92, 0.80) == -1.3
    with pytest.raises(TanjianError, match="below the table"):
        t.pf_adjustment_pct(0.1)


def test_validity_is_checked():
    s = load_schedule("CN-HN-tou-2025")
    with pytest.raises(TanjianError, match="outside the validity of time-of-use schedule CN-HN-tou-2025"):
        s.check_covers(dt.date(2025, 12, 1), dt.date(2025, 12, 31))
    s.check_covers(dt.date(2026, 1, 1), dt.date(2026, 1, 31))


def test_a_plant_outside_hunan_needs_its_own_tariff(tmp_path):
    cfg = load_config()
    site = cfg.site.model_copy(update={"plant": cfg.site.plant.model_copy(update={"province": "Jiangsu"})})
    with pytest.raises(TanjianError, match="no electricity tariff configured; set site.plant.tariff"):
        plant_tariff(site)
    # its own file (relative to the configuration's folder), with its own schedule beside it
    (tmp_path / "js-tou.yaml").write_text(
        "id: JS\nregion: CN-JS\nsource: test\nstatus: unverified\nvalid_from: 2026-01-01\n"
        "ratios: {peak: 1.7, flat: 1.0, valley: 0.35}\n"
        "seasons:\n  - months: [1,2,3,4,5,6,7,8,9,10,11,12]\n"
        "    hours: {valley: [[0, 8]], flat: [[8, 14], [22, 24]], peak: [[14, 22]]}\n", encoding="utf-8")
    (tmp_path / "js.yaml").write_text(
        "id: JS-plant\nregion: CN-JS\nvoltage_class: 10 kV\ntou: js-tou.yaml\nvalid_from: 2026-01-01\n"
        "status: unverified\nsource: test\nenergy: {flat_cny_per_kwh: 0.6}\n", encoding="utf-8")
    site = site.model_copy(update={"plant": site.plant.model_copy(update={"tariff": "js.yaml"})})
    t = plant_tariff(site, tmp_path)
    # no non-floating part: peak 0.6 x 1.7 = 1.02, valley 0.6 x 0.35 = 0.21
    assert t.price("peak") == pytest.approx(1.02) and t.price("valley") == pytest.approx(0.21)


def test_bad_tariff_files_name_file_line_and_field(tmp_path):
    bad = tmp_path / "bad-tou.yaml"
    bad.write_text("id: X\nregion: R\nsource: s\nstatus: unverified\nvalid_from: 2026-01-01\n"
                   "ratios: {flat: 1.0, valley: 0.4}\n"
                   "seasons:\n  - months: [1,2,3,4,5,6,7,8,9,10,11,12]\n"
                   "    hours: {valley: [[0, 8]], flat: [[8, 23]]}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_schedule(str(bad))
    assert f"{bad}:8: seasons[0]" in str(e.value) and "hours [23] have no period" in str(e.value)
    bad2 = tmp_path / "bad.yaml"
    bad2.write_text("id: X\nregion: R\nvoltage_class: 10 kV\ntou: CN-HN-tou-2025\nvalid_from: 2026-01-01\n"
                    "status: unverified\nsource: s\nenergy:\n  flat_cny_per_kwh: -1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_tariff(str(bad2))
    assert f"{bad2}:9: energy.flat_cny_per_kwh: Input should be greater than 0" in str(e.value)
    with pytest.raises(TanjianError, match="no such packaged tariff"):
        load_tariff("CN-XX")
