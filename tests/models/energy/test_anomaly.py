"""Anomaly baseline per hour of week (median, MAD) and the modified z-score."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.energy.anomaly import anomalies, baseline, hour_of_week, score


def _weeks():
    # three weeks of hourly power of one device: 10 kW on weekdays 08-17, otherwise 1 kW; Wednesday
    # 03:00 (hour of week 2 x 24 + 3 = 51) reads 1.0, 1.2 and 0.8 kW in the three weeks
    idx = pd.date_range("2026-11-02", periods=21 * 24, freq="1h")  # Monday 2 Nov 2026
    v = np.where((idx.day_of_week < 5) & (idx.hour >= 8) & (idx.hour < 17), 10.0, 1.0)
    wed3 = np.nonzero((idx.day_of_week == 2) & (idx.hour == 3))[0]
    v[wed3] = [1.0, 1.2, 0.8]
    return pd.DataFrame({"D-AC-01": v}, index=idx)


def test_hour_of_week():
    assert hour_of_week(pd.DatetimeIndex(["2026-11-02 00:30", "2026-11-04 03:00", "2026-11-08 23:59"])).tolist() \
        == [0, 51, 167]


def test_baseline_and_score_by_hand():
    b = baseline(_weeks())
    # hour 51: median of 1.0, 1.2, 0.8 = 1.0; deviations 0, 0.2, 0.2 -> MAD 0.2
    assert b.median.loc[51, "D-AC-01"] == pytest.approx(1.0) and b.mad.loc[51, "D-AC-01"] == pytest.approx(0.2)
    assert b.count.loc[51, "D-AC-01"] == 3
    # the fourth Wednesday at 03:00 the compressor runs at 10 kW: z = 0.6745 x (10 - 1) / 0.2 = 30.35
    test = pd.DataFrame({"D-AC-01": [10.0, 1.0]}, index=pd.DatetimeIndex(["2026-11-25 03:00", "2026-11-25 04:00"]))
    z = score(test, b)
    assert z.iloc[0, 0] == pytest.approx(0.6745 * 9 / 0.2)
    # 04:00 always read 1.0 kW: MAD 0, floored at max(0.1 kW, 5 % of 1.0) = 0.1 -> z = 0
    assert z.iloc[1, 0] == pytest.approx(0.0)
    a = anomalies(z)
    assert len(a) == 1 and a.loc[0, "series"] == "D-AC-01" and a.loc[0, "time"] == pd.Timestamp("2026-11-25 03:00")


def test_too_few_weeks_give_no_baseline():
    b = baseline(_weeks().iloc[: 7 * 24], min_count=3)  # one week only
    assert b.median["D-AC-01"].isna().all()
