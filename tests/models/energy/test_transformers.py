"""Transformer load rate, overload, economic band and losses, against hand-worked figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.energy.transformers import (economic_band, energy_losses, load_rate, losses, overloads,
                                        transformer_report)
from tests.models.energy.helpers import write_power


def test_load_rate_by_hand():
    # 1,500 kW at PF 0.8 on 2,500 kVA: S = 1500 / 0.8 = 1875 kVA, rate 1875 / 2500 = 0.75
    assert load_rate(1500.0, 2500.0, 0.8) == pytest.approx(0.75)
    # without a power factor S = P: 1500 / 2500 = 0.6 (the lower bound)
    assert load_rate(1500.0, 2500.0) == pytest.approx(0.6)
    # a missing or impossible PF falls back to PF = 1
    assert load_rate(np.array([1000.0, 1000.0]), 2000.0, np.array([np.nan, 1.7])).tolist() == [0.5, 0.5]


def test_losses_and_band_from_the_table_and_the_nameplate(plant_cfg):
    tr = plant_cfg.site.transformers[0].model_copy(update={"no_load_loss_kw": None, "load_loss_kw": None,
                                                           "economic_band": None, "rated_kva": 2400})
    lo = losses(tr)
    # 2,400 kVA is not in the table: the next larger row, 2,500 kVA (P0 1.6 kW, Pk 21.2 kW)
    assert (lo.no_load_kw, lo.load_kw) == (1.6, 21.2) and "next larger" in lo.source
    # band: 1.33 x P0/Pk = 1.33 x 1.6/21.2 = 0.100377 .. 0.75
    low, high, _ = economic_band(tr)
    assert low == pytest.approx(0.100377, abs=1e-6) and high == 0.75
    own = tr.model_copy(update={"no_load_loss_kw": 2.0, "load_loss_kw": 20.0, "economic_band": (0.3, 0.7)})
    assert losses(own).no_load_kw == 2.0 and economic_band(own)[:2] == (0.3, 0.7)


def test_overload_episodes():
    idx = pd.date_range("2026-07-15 08:00", periods=8, freq="15min")
    r = pd.Series([0.5, 1.05, 1.2, 0.9, 1.1, 0.4, 0.4, 1.01], index=idx)
    ep = overloads(r)
    # three episodes: 08:15-08:45 (30 min, peak 1.2), 09:00-09:15 (15), 09:45-10:00 (15)
    assert ep["minutes"].tolist() == [30.0, 15.0, 15.0]
    assert ep["peak_rate"].tolist() == [1.2, 1.1, 1.01]
    assert ep["start"][0] == pd.Timestamp("2026-07-15 08:15") and ep["end"][0] == pd.Timestamp("2026-07-15 08:45")
    assert overloads(r, min_minutes=20)["minutes"].tolist() == [30.0]


def test_transformer_report_on_a_store(fresh):
    cfg, j, s = fresh
    site = cfg.site
    trs = [t.model_copy(update={"no_load_loss_kw": 1.6, "load_loss_kw": 21.2, "economic_band": None})
           for t in site.transformers]
    site = site.model_copy(update={"transformers": trs})
    # TR-1 (2,500 kVA) incomer M-TR-1 at PF 0.8: 08:00-10:00 1,500 kW, 10:00-10:30 2,200 kW, 10:30-11:00 1,000 kW
    write_power(j, s, cfg.site.plant.id, {"M-TR-1": [("2026-07-15 08:00", 1500.0), ("2026-07-15 10:00", 2200.0),
                                                     ("2026-07-15 10:30", 1000.0)]},
                until="2026-07-15 11:00", power_factor={"M-TR-1": 0.8})
    rep = transformer_report(s, site, "2026-07-15 08:00", "2026-07-15 11:00")
    r = rep.loc["TR-1"]
    # rates: 1500/0.8/2500 = 0.75 (8 quarter hours), 2200/0.8/2500 = 1.1 (2), 1000/0.8/2500 = 0.5 (2)
    assert r.peak_rate == pytest.approx(1.1) and r.peak_kw == pytest.approx(2200)
    assert r.mean_rate == pytest.approx((8 * 0.75 + 2 * 1.1 + 2 * 0.5) / 12)
    assert r.overload_minutes == 30 and r.longest_overload_minutes == 30
    # losses: no-load 1.6 kW x 3 h = 4.8 kWh; load 21.2 kW x (8 x 0.5625 + 2 x 1.21 + 2 x 0.25) x 0.25 h
    #       = 21.2 x 1.855 = 39.326 kWh; total 44.126 kWh
    assert r.no_load_kwh == pytest.approx(4.8) and r.load_kwh == pytest.approx(39.326)
    assert r.loss_kwh == pytest.approx(44.126)
    # energy carried: (8 x 1500 + 2 x 2200 + 2 x 1000) x 0.25 = 4,600 kWh; 44.126 / 4600 = 0.9593 %
    assert r.loss_pct == pytest.approx(44.126 / 4600 * 100)
    # band 0.1004 .. 0.75: 0.75 and 0.5 in (10 of 12), 1.1 out -> 83.33 %
    assert r.in_band_pct == pytest.approx(1000 / 12)
    assert r.pf_mean == pytest.approx(0.8) and "overloaded" in r.signs and "low PF" in r.signs
    assert r.apparent == "measured PF"
    assert np.isnan(rep.loc["TR-2"].peak_rate)  # no readings: nothing invented


def test_rising_load_trend():
    from models.energy.transformers import trend_per_week

    # 15-min rates over 10 days whose daily peak rises 0.01 a day (0.50, 0.51, … 0.59): 0.07 a week
    idx = pd.date_range("2026-07-01", periods=10 * 96, freq="15min")
    day = (idx - idx[0]).days.to_numpy()
    r = pd.Series(0.3 + 0.0 * day, index=idx)
    r[idx.hour == 10] = 0.5 + 0.01 * day[idx.hour == 10]
    assert trend_per_week(r) == pytest.approx(0.07)
    assert np.isnan(trend_per_week(r.iloc[:96 * 2]))  # two days: too few to tell
