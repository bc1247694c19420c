"""Unit consumption per shift, team and product, against hand-worked figures."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from models.energy.unit_consumption import shift_tables, shift_windows, unit_consumption
from tests.models.energy.helpers import write_power
from workspace.errors import TanjianError


def _prod(rows):
    return pd.DataFrame([dict(kind="production", item=i, period_start=d, period_end=d, quantity=q, unit="pcs",
                              workshop="WS-AS", shift=s, team=t) for d, s, t, i, q in rows])


def test_shift_windows_cross_midnight(plant_cfg):
    w = shift_windows(plant_cfg.site.shifts, dt.date(2026, 10, 8), dt.date(2026, 10, 8))  # a Thursday
    assert w["shift"].tolist() == ["S-DAY", "S-EVE"]
    assert w["end"].tolist() == [pd.Timestamp("2026-10-08 16:30"), pd.Timestamp("2026-10-09 01:00")]
    bad = [s.model_copy(update={"end": "17:00"}) if s.id == "S-DAY" else s for s in plant_cfg.site.shifts]
    with pytest.raises(TanjianError, match="overlap"):
        shift_windows(bad, dt.date(2026, 10, 8), dt.date(2026, 10, 8))


def test_shift_and_team_tables_by_hand():
    w = pd.DataFrame({"date": ["2026-10-08", "2026-10-08", "2026-10-09", "2026-10-09", "2026-10-09"],
                      "shift": ["S-DAY", "S-EVE", "S-DAY", "S-EVE", "(none)"], "group": "WS-AS",
                      "kwh": [600.0, 400.0, 700.0, 300.0, 55.0]})
    p = _prod([("2026-10-08", "S-DAY", "T1", "P-PUMP", 3), ("2026-10-08", "S-EVE", "T3", "P-PUMP", 2),
               ("2026-10-09", "S-DAY", "T1", "P-PUMP", 2), ("2026-10-09", "S-DAY", "T2", "P-CRANE", 1),
               ("2026-10-09", "S-EVE", "T3", "P-CRANE", 1)])
    r = shift_tables(w, p, factor_of=lambda d: 0.5306)
    # kWh = 200 x pumps + 300 x cranes fits every window exactly: 3 x 200 = 600; 2 x 200 = 400;
    # 2 x 200 + 300 = 700; 300
    assert r.products["kwh_per_unit"].to_dict() == pytest.approx({"P-CRANE": 300.0, "P-PUMP": 200.0})
    assert r.explained_share == pytest.approx(1.0)
    # day shift: 600 + 700 = 1,300 kWh for 3 + 3 = 6 units -> 216.667 kWh/unit; CO2e 1300 x 0.5306 = 689.78 kg
    day = r.shifts.loc[("WS-AS", "S-DAY")]
    assert day.kwh == 1300 and day.units == 6 and day.kwh_per_unit == pytest.approx(1300 / 6)
    assert day.kgco2e == pytest.approx(689.78) and day["index"] == pytest.approx(1.0)
    # evening: 700 kWh / 3 units = 233.33
    assert r.shifts.loc[("WS-AS", "S-EVE")].kwh_per_unit == pytest.approx(700 / 3)
    # teams: on 9 Oct's day shift T1 (2 pumps, 400 expected) and T2 (1 crane, 300) split 700 kWh as 400/300;
    # T1 in all: 600 + 400 = 1,000 kWh for 5 pumps = 200 kWh/unit
    t1 = r.teams.loc[("WS-AS", "S-DAY", "T1")]
    assert t1.kwh == pytest.approx(1000) and t1.kwh_per_unit == pytest.approx(200)
    assert r.teams.loc[("WS-AS", "S-DAY", "T2")].kwh == pytest.approx(300)
    assert r.off_shift["WS-AS"] == 55.0
    # pumps alone (8 Oct both shifts): (600 + 400) / 5 = 200
    assert r.products.loc["P-PUMP", "alone_kwh_per_unit"] == pytest.approx(200)


def test_a_shift_whose_product_mix_does_not_explain_it():
    w = pd.DataFrame({"date": ["2026-10-08"] * 2 + ["2026-10-09"] * 2, "shift": ["S-DAY", "S-EVE"] * 2,
                      "group": "WS-AS", "kwh": [600.0, 440.0, 700.0, 270.0]})
    p = _prod([("2026-10-08", "S-DAY", "T1", "P-PUMP", 3), ("2026-10-08", "S-EVE", "T3", "P-PUMP", 2),
               ("2026-10-09", "S-DAY", "T1", "P-PUMP", 2), ("2026-10-09", "S-DAY", "T2", "P-CRANE", 1),
               ("2026-10-09", "S-EVE", "T3", "P-CRANE", 1)])
    r = shift_tables(w, p)
    # least squares by hand: A'A = [[17, 2], [2, 2]], A'y = [4080, 970]; det 30;
    # pump = (2 x 4080 - 2 x 970) / 30 = 207.333, crane = (17 x 970 - 2 x 4080) / 30 = 277.667
    assert r.products.loc["P-PUMP", "kwh_per_unit"] == pytest.approx(207.3333, abs=1e-3)
    assert r.products.loc["P-CRANE", "kwh_per_unit"] == pytest.approx(277.6667, abs=1e-3)
    # the evening of 8 Oct took 440 kWh for 2 pumps, expected 2 x 207.333 = 414.667: index 1.0611
    w8 = r.windows.set_index(["date", "shift"]).loc[(dt.date(2026, 10, 8), "S-EVE")]
    assert w8["index"] == pytest.approx(440 / 414.6667, abs=1e-5)
    assert 0 < r.explained_share < 1


def test_production_without_a_window_is_refused():
    w = pd.DataFrame({"date": ["2026-10-08"], "shift": ["S-DAY"], "group": "WS-AS", "kwh": [600.0]})
    with pytest.raises(TanjianError, match="production of P-PUMP on 2026-10-08 shift S-EVE in WS-AS"):
        shift_tables(w, _prod([("2026-10-08", "S-EVE", "T3", "P-PUMP", 2)]))


def test_a_shift_unit_consumption_from_the_store(fresh):
    cfg, j, s = fresh
    # WS-AS's main meter on Thursday 8 Oct 2026: 100 kW through the day shift (08:00-16:30), 40 kW through
    # the evening shift (16:30-01:00), 10 kW otherwise
    write_power(j, s, cfg.site.plant.id, {"M-WS-AS": [("2026-10-08 00:00", 10.0), ("2026-10-08 08:00", 100.0),
                                                      ("2026-10-08 16:30", 40.0), ("2026-10-09 01:00", 10.0)]},
                until="2026-10-09 02:00")
    prod = _prod([("2026-10-08", "S-DAY", "T1", "P-PUMP", 3), ("2026-10-08", "S-DAY", "T2", "P-CRANE", 1),
                  ("2026-10-08", "S-EVE", "T3", "P-PUMP", 2)])
    r = unit_consumption(s, cfg.site, prod, dt.date(2026, 10, 8), dt.date(2026, 10, 8))
    # day shift 8.5 h x 100 kW = 850 kWh for 4 units = 212.5 kWh/unit; evening 8.5 h x 40 = 340 kWh, 2 units
    day, eve = r.shifts.loc[("WS-AS", "S-DAY")], r.shifts.loc[("WS-AS", "S-EVE")]
    assert day.kwh == pytest.approx(850) and day.kwh_per_unit == pytest.approx(212.5)
    assert eve.kwh == pytest.approx(340) and eve.kwh_per_unit == pytest.approx(170)
    # CO2e with the 2023 national grid factor 0.5306 kg/kWh (valid 2023-2026): 850 x 0.5306 = 451.01 kg
    assert day.kgco2e == pytest.approx(451.01)
    # outside the shifts on 8 Oct: 01:00-08:00 at 10 kW = 70 kWh (00:00-01:00 is the end of 7 Oct's evening
    # shift, left to that day's report)
    assert r.off_shift["WS-AS"] == pytest.approx(70)


def test_a_team_not_on_its_shift_is_refused(fresh):
    cfg, j, s = fresh
    shifts = [sh.model_copy(update={"teams": ["T1", "T2"]}) if sh.id == "S-DAY" else sh for sh in cfg.site.shifts]
    site = cfg.site.model_copy(update={"shifts": shifts})
    prod = _prod([("2026-10-08", "S-DAY", "T3", "P-PUMP", 3)]).assign(source_file="erp.csv", row=2)
    with pytest.raises(TanjianError, match=r"erp.csv:2: team: 'T3' does not work shift S-DAY \(site.shifts teams: T1, T2\)"):
        unit_consumption(s, site, prod, dt.date(2026, 10, 8), dt.date(2026, 10, 8))
