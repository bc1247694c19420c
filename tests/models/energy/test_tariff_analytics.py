"""Time-of-use cost, basic-charge option, power-factor adjustment and load moves, hand-worked under the
example Hunan tariff: flat 0.65 CNY/kWh with a non-floating 0.038, so (CNY/kWh)
sharp 0.038 + 0.612 x 1.92 = 1.21304, peak 0.038 + 0.612 x 1.6 = 1.0172, valley 0.038 + 0.612 x 0.4 = 0.2828."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from models.energy.demand import basic_charge_options, basic_charge_report
from models.energy.loadmove import device_move, move_saving
from models.energy.power_factor import adjustment, compensation_kvar, monthly_pf, pf_report, reactive_kvar
from models.energy.tou import day_cost, tou_cost
from tests.models.energy.helpers import write_power
from workspace.errors import TanjianError
from workspace.tariffs import load_tariff

T = load_tariff("CN-HN-large-industrial-1-10kV")


def test_a_july_day_sharp_month():
    # 100 kW all day on Wednesday 15 July 2026: valley 0-6 and 12-14 (8 h), flat 6-12 and 14-16 (8 h),
    # peak 16-20 (4 h), sharp 20-24 (4 h)
    r = day_cost([100.0] * 24, dt.date(2026, 7, 15), T)
    assert (r["sharp_kwh"], r["peak_kwh"], r["flat_kwh"], r["valley_kwh"]) == (400, 400, 800, 800)
    # 400 x 1.21304 = 485.216; 400 x 1.0172 = 406.88; 800 x 0.65 = 520; 800 x 0.2828 = 226.24; sum 1,638.336
    assert r["sharp_cny"] == pytest.approx(485.216) and r["peak_cny"] == pytest.approx(406.88)
    assert r["energy_cny"] == pytest.approx(1638.336)
    assert r["sharp_share_pct"] == pytest.approx(400 / 2400 * 100)
    # mean price 1638.336 / 2400 = 0.68264
    assert r["mean_cny_per_kwh"] == pytest.approx(0.68264)


def test_an_april_day_plain_month():
    # April: no sharp; peak 16-24 (8 h): 800 x 1.0172 = 813.76; + 520 + 226.24 = 1,560.00
    r = day_cost([100.0] * 24, dt.date(2026, 4, 15), T)
    assert r["sharp_kwh"] == 0 and r["peak_kwh"] == 800
    assert r["energy_cny"] == pytest.approx(1560.0)
    # a load only in the evening, 18-22 h at 50 kW: 200 kWh of peak = 203.44 CNY in April, but in December
    # 18-22 is sharp: 200 x 1.21304 = 242.608
    kw = np.zeros(24)
    kw[18:22] = 50.0
    assert day_cost(kw, dt.date(2026, 4, 15), T)["energy_cny"] == pytest.approx(203.44)
    assert day_cost(kw, dt.date(2026, 12, 15), T)["sharp_cny"] == pytest.approx(242.608)


def test_tou_cost_from_the_store(fresh):
    cfg, j, s = fresh
    write_power(j, s, cfg.site.plant.id, {"M-TR-1": [("2026-07-15 00:00", 100.0)]}, until="2026-07-16 00:00")
    t = tou_cost(s, T, "2026-07-15", "2026-07-16")
    r = t.loc[cfg.site.plant.id]
    assert r.total_kwh == pytest.approx(2400) and r.energy_cny == pytest.approx(1638.336)
    by_ws = tou_cost(s, T, "2026-07-15", "2026-07-16", by="meter", meters=["M-TR-1"], freq="1D")
    assert by_ws.loc[(pd.Timestamp("2026-07-15"), "M-TR-1"), "sharp_kwh"] == pytest.approx(400)
    with pytest.raises(TanjianError, match="outside the validity of time-of-use schedule CN-HN-tou-2025"):
        tou_cost(s, T, "2025-07-15", "2025-07-16")


def test_cheaper_basic_charge_option():
    # capacity 2500 + 2000 + 1250 = 5,750 kVA x 20 = 115,000 CNY/month; a 3,000 kW maximum demand x 32 =
    # 96,000: demand is cheaper by 19,000; break-even 115,000 / 32 = 3,593.75 kW
    o = basic_charge_options(3000.0, 5750.0, T)
    assert o["capacity_cny"] == 115_000 and o["demand_cny"] == 96_000 and o["cheaper"] == "demand"
    assert o["saving_cny"] == 19_000 and o["breakeven_kw"] == pytest.approx(3593.75)
    assert o["chosen"] == "capacity" and o["chosen_extra_cny"] == 19_000
    # 4,000 kW: 128,000 > 115,000, capacity cheaper
    assert basic_charge_options(4000.0, 5750.0, T)["cheaper"] == "capacity"
    # 2,000 kW is billed at the floor 0.4 x 5,750 = 2,300 kW: 73,600 CNY
    o = basic_charge_options(2000.0, 5750.0, T)
    assert o["billed_demand_kw"] == 2300 and o["demand_cny"] == pytest.approx(73_600)


def test_maximum_15min_demand_from_the_store(fresh):
    cfg, j, s = fresh
    # 1,000 kW with a 10-minute burst to 3,000 kW at 10:00: the 10:00-10:15 window's mean is
    # (10 x 3000 + 5 x 1000) / 15 = 2,333.33 kW (not the 3,000 kW minute)
    write_power(j, s, cfg.site.plant.id, {"M-TR-1": [("2026-07-15 08:00", 1000.0), ("2026-07-15 10:00", 3000.0),
                                                     ("2026-07-15 10:10", 1000.0)]}, until="2026-07-15 12:00")
    r = basic_charge_report(s, cfg.site, T, "2026-07-15 08:00", "2026-07-15 12:00")
    row = r.iloc[0]
    assert row.max_kw == pytest.approx(7000 / 3) and row["at"] == pd.Timestamp("2026-07-15 10:00")
    # above the floor (0.4 x 5,750 = 2,300 kW): 2,333.33 x 32 = 74,666.67 CNY < 115,000 by capacity
    assert row.demand_cny == pytest.approx(7000 / 3 * 32) and row.cheaper == "demand"


def test_a_month_without_readings_is_named_not_an_error(fresh):
    cfg, j, s = fresh
    write_power(j, s, cfg.site.plant.id, {"M-TR-1": [("2026-07-15 08:00", 1000.0)]}, until="2026-07-15 12:00")
    r = basic_charge_report(s, cfg.site, T, "2026-07-01", "2026-10-01")
    # July has its 1,000 kW; August and September have no reading at all
    assert list(r.index) == [pd.Timestamp("2026-07-01")] and r.iloc[0].max_kw == pytest.approx(1000)
    assert r.attrs["months_without_readings"] == ["2026-08", "2026-09"]


def test_power_factor_adjustment():
    # PF 0.85 under the 0.90 standard: +2.5 % of a 100,000 CNY month = +2,500 CNY
    a = adjustment(0.85, 100_000.0, T)
    assert a["adjustment_pct"] == 2.5 and a["adjustment_cny"] == pytest.approx(2500)
    # 1,000 kWh at PF 0.85: kvarh = 1000 x tan(arccos 0.85) = 1000 x 0.619744 = 619.744
    kvarh = float(reactive_kvar(1000.0, 0.85))
    assert kvarh == pytest.approx(619.744, abs=1e-3) and monthly_pf(1000.0, kvarh) == pytest.approx(0.85)
    # capacitors for 1,000 kW from 0.85 to 0.95: 1000 x (0.619744 - 0.328684) = 291.06 kvar
    assert compensation_kvar(1000.0, 0.85, 0.95) == pytest.approx(291.06, abs=0.01)


def test_pf_report_from_the_store(fresh):
    cfg, j, s = fresh
    write_power(j, s, cfg.site.plant.id, {"M-TR-1": [("2026-07-15 08:00", 1000.0)]}, until="2026-07-15 10:00",
                power_factor={"M-TR-1": 0.85})
    r = pf_report(s, cfg.site, T, "2026-07-15 08:00", "2026-07-15 10:00").iloc[0]
    # 2 h x 1,000 kW = 2,000 kWh in the flat period (08-10): 2000 x 0.65 = 1,300 CNY; PF 0.85 -> +2.5 %
    assert r.kwh == pytest.approx(2000) and r.pf == pytest.approx(0.85) and r.adjustment_pct == 2.5
    assert r.energy_cny == pytest.approx(1300)
    # basic charge (capacity, chosen) 5,750 x 20 = 115,000; adjustment (115,000 + 1,300) x 2.5 % = 2,907.5
    assert r.basic_cny == 115_000 and r.adjustment_cny == pytest.approx(2907.5)


def test_moving_a_load_from_sharp_to_valley():
    # July: 100 kW for 20-22 h (sharp) moved to 02-04 h (valley): 200 kWh x (1.21304 - 0.2828) = 186.048 CNY
    r = move_saving(T, dt.date(2026, 7, 15), [20, 21], [2, 3], kw=100.0)
    assert r["kwh"] == 200 and r["cost_before_cny"] == pytest.approx(242.608)
    assert r["saving_cny"] == pytest.approx(186.048)
    with pytest.raises(TanjianError, match="overlap"):
        move_saving(T, dt.date(2026, 7, 15), [20, 21], [21, 22], kw=100.0)


def test_device_move_from_the_store(fresh):
    cfg, j, s = fresh
    # the shot blaster D-SB-01 (90 kW rated, meter M-SB-01) at 60 kW from 20:00 to 22:00 on 15 July
    write_power(j, s, cfg.site.plant.id, {"M-SB-01": [("2026-07-15 00:00", 0.0), ("2026-07-15 20:00", 60.0),
                                                      ("2026-07-15 22:00", 0.0)]}, until="2026-07-16 00:00")
    r = device_move(s, cfg.site, T, "D-SB-01", "2026-07-15", "2026-07-16", [20, 21], [0, 1, 2, 3])
    # 120 kWh x (1.21304 - 0.2828) = 111.6288 CNY; it fits: 4 h x 90 kW = 360 kWh of room
    assert r.attrs["total"]["kwh"] == pytest.approx(120) and r.attrs["total"]["saving_cny"] == pytest.approx(111.6288)
    assert bool(r["fits"].iloc[0])
