"""Device states and standby energy of a synthetic power trace; load duration, trends and comparisons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.energy.load import compare, duration_curve, trend
from models.energy.states import (STATES, Thresholds, best_habits, classify, device_states, learn_thresholds,
                                  state_table)
from tests.models.energy.helpers import write_power


def _trace():
    # minute powers: 10 off (0 kW), 5 at 30 kW (start-up), 60 running at 20 kW, 45 standby at 2 kW, 20 off
    v = [0.0] * 10 + [30.0] * 5 + [20.0] * 60 + [2.0] * 45 + [0.0] * 20
    return pd.Series(v, index=pd.date_range("2026-11-24 07:50", periods=len(v), freq="1min"), name="D-X")


def test_states_and_standby_energy_of_a_synthetic_trace():
    p = _trace()
    s = classify(p, Thresholds(0.5, 10.0, "test"), startup_min=5)
    assert [STATES[k] for k in s.iloc[[0, 10, 14, 15, 75, 119, 120]]] == [
        "off", "startup", "startup", "running", "standby", "standby", "off"]
    t = state_table(p, s, idle_min=30)
    # off 10 + 20 = 30 min; start-up 5 min x 30 kW = 2.5 kWh; running 60 min x 20 kW = 20 kWh;
    # standby 45 min x 2 kW = 1.5 kWh; all 24 kWh, standby share 1.5 / 24 = 6.25 %
    assert (t["off_min"], t["startup_min"], t["running_min"], t["standby_min"]) == (30, 5, 60, 45)
    assert t["startup_kwh"] == pytest.approx(2.5) and t["running_kwh"] == pytest.approx(20)
    assert t["standby_kwh"] == pytest.approx(1.5) and t["standby_share_pct"] == pytest.approx(6.25)
    # the 45-min standby stretch is at least 30 min: switching off saves its 1.5 kWh; keeping 15 min ready
    # saves 30 min x 2 kW = 1.0 kWh
    assert t["saveable_kwh"] == pytest.approx(1.5) and t["idle_stretches"] == 1
    assert state_table(p, s, idle_min=30, keep_min=15)["saveable_kwh"] == pytest.approx(1.0)
    assert state_table(p, s, idle_min=60)["saveable_kwh"] == 0


def test_learned_thresholds_split_standby_from_running():
    th = learn_thresholds(_trace().to_numpy(), rated_kw=30.0)
    # off below max(2 % x 30, 0.05) = 0.6 kW; clusters near 2 kW (standby) and ~21.5 kW (running incl.
    # start-up) -> cut between them
    assert th.off_kw == pytest.approx(0.6) and 2.0 < th.running_kw < 20.0


def test_best_habit_per_class():
    t = pd.DataFrame({"kind": ["press", "press", "press"], "standby_share_pct": [10.0, 5.0, 20.0],
                      "off_kwh": 0.0, "startup_kwh": 0.0, "running_kwh": [90.0, 95.0, 80.0],
                      "standby_kwh": [10.0, 5.0, 20.0]}, index=["A", "B", "C"])
    b = best_habits(t).loc["press"]
    # best B at 5 %: A would use 100 x 5 % = 5 (saves 5), C 100 x 5 % = 5 (saves 15): 20 kWh
    assert b.best == "B" and b.best_standby_share_pct == pytest.approx(5) and b.saving_at_best_kwh == pytest.approx(20)


def test_device_states_from_the_store(fresh):
    cfg, j, s = fresh
    site = cfg.site
    devs = [d.model_copy(update={"off_kw": 0.5, "running_kw": 10.0, "startup_min": 5}) if d.id == "D-SB-01" else d
            for d in site.devices]
    site = site.model_copy(update={"devices": devs})
    p = _trace()
    steps = [(t.strftime("%Y-%m-%d %H:%M"), float(v)) for t, v in p.items()]
    write_power(j, s, cfg.site.plant.id, {"M-SB-01": steps}, until="2026-11-24 09:59")
    r = device_states(s, site, "2026-11-24 07:50", "2026-11-24 10:00", devices=["D-SB-01"]).loc["D-SB-01"]
    assert r.thresholds == "site model" and r.standby_kwh == pytest.approx(1.5) and r.running_kwh == pytest.approx(20)
    assert r.startup_kwh == pytest.approx(2.5) and r.saveable_kwh == pytest.approx(1.5)


def test_duration_curve():
    p = pd.Series([10.0, 30.0, 20.0, np.nan, 40.0], index=pd.date_range("2026-11-24", periods=5, freq="1h"))
    d = duration_curve(p.rename("G"))
    # sorted 40, 30, 20, 10 over 4 readings: 25 %, 50 %, 75 %, 100 % of the time
    assert d["G"].tolist() == [40, 30, 20, 10] and d["pct_of_time"].tolist() == [25, 50, 75, 100]
    st = d.attrs["stats"]["G"]
    # mean 25, peak 40: load factor 0.625; 95 % duration: the 4th value, 10
    assert st["load_factor"] == pytest.approx(0.625) and st["base_kw"] == 10


def test_trend_and_same_period_comparison(fresh):
    cfg, j, s = fresh
    # M-TR-1: 10 kW on Monday 16 Nov 2026, 12 kW on Monday 23 Nov (whole days)
    write_power(j, s, cfg.site.plant.id, {"M-TR-1": [("2026-11-16 00:00", 10.0), ("2026-11-17 00:00", 0.0),
                                                     ("2026-11-23 00:00", 12.0), ("2026-11-24 00:00", 0.0)]},
                until="2026-11-24 00:00")
    c = compare(s, "2026-11-23", "2026-11-24", against="week").loc[cfg.site.plant.id]
    # this 24 x 12 = 288 kWh, a week before 24 x 10 = 240: +48 kWh, +20 %
    assert c.this_kwh == pytest.approx(288) and c.before_kwh == pytest.approx(240)
    assert c.change_pct == pytest.approx(20)
    w = trend(s, "2026-11-16", "2026-11-24", every="week")[cfg.site.plant.id]
    assert w.loc["2026-11-16"] == pytest.approx(240)
