"""A robust baseline of each device's (or meter's) power per hour of the week, and deviations scored
against it.

Baseline: for every series and hour of the week (0 = Monday 00:00–01:00 … 167 = Sunday 23:00–24:00), the
median of the hourly mean powers seen in that hour over the learning period, and their median absolute
deviation (MAD). Score: the modified z-score of Iglewicz and Hoaglin (1993), z = 0.6745 (x − median) / MAD,
|z| > 3.5 being their suggested outlier limit. MAD is floored (``mad_floor_kw``, and a share of the
median) so that a device whose hour is always the same (often 0 kW) does not turn every watt into an
anomaly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: 0.6745 = the 0.75 quantile of the standard normal: makes MAD comparable to a standard deviation
K = 0.6745
#: the outlier limit Iglewicz and Hoaglin suggest for |z|
LIMIT = 3.5


@dataclass(frozen=True)
class Baseline:
    """Median and MAD of each series (columns) per hour of week (index 0..167) [kW], and the number of
    hours learned from."""

    median: pd.DataFrame
    mad: pd.DataFrame
    count: pd.DataFrame
    mad_floor_kw: float
    mad_floor_share: float


def hour_of_week(index) -> np.ndarray:
    """Hour of the week of each local time: Monday 00:00 → 0 … Sunday 23:xx → 167."""
    t = pd.DatetimeIndex(index)
    return t.day_of_week.to_numpy() * 24 + t.hour.to_numpy()


def baseline(power: pd.DataFrame, *, min_count: int = 3, mad_floor_kw: float = 0.1,
             mad_floor_share: float = 0.05) -> Baseline:
    """Learn the baseline from hourly mean power per series.

    Parameters
    ----------
    power : pandas.DataFrame
        Hourly mean power [kW] (local time index, interval starts; a finer series is averaged to
        hours first), one column per device or meter. NaN hours are left out.
    min_count : int
        An hour of the week seen fewer times has no baseline (NaN): too few to judge.
    mad_floor_kw : float
        Smallest MAD used for scoring [kW].
    mad_floor_share : float
        Smallest MAD as a share of |median| [-].
    """
    hourly = power.resample("1h").mean() if _finer_than_hour(power.index) else power
    how = hour_of_week(hourly.index)
    g = hourly.groupby(how)
    med = g.median()
    mad = (hourly - med.reindex(how).to_numpy()).abs().groupby(how).median()
    cnt = g.count()
    full = pd.RangeIndex(168, name="hour_of_week")
    med, mad, cnt = (x.reindex(full) for x in (med, mad, cnt))
    cnt = cnt.fillna(0).astype(int)
    med = med.where(cnt >= min_count)
    mad = mad.where(cnt >= min_count)
    return Baseline(med, mad, cnt, mad_floor_kw, mad_floor_share)


def _finer_than_hour(index: pd.DatetimeIndex) -> bool:
    if len(index) < 2:
        return False
    return bool(np.median(np.diff(index.as_unit("ns").asi8)) < pd.Timedelta(hours=1).value)


def score(power: pd.DataFrame, base: Baseline) -> pd.DataFrame:
    """Modified z-score of each hourly mean power against its hour of week [-]; NaN where the baseline
    has no value for that hour or series, or the power is missing. Positive: more than usual."""
    hourly = power.resample("1h").mean() if _finer_than_hour(power.index) else power
    how = hour_of_week(hourly.index)
    cols = [c for c in hourly.columns if c in base.median.columns]
    med = base.median[cols].to_numpy()[how]
    mad = base.mad[cols].to_numpy()[how]
    floor = np.maximum(base.mad_floor_kw, base.mad_floor_share * np.abs(med))
    z = K * (hourly[cols].to_numpy() - med) / np.maximum(mad, floor)
    return pd.DataFrame(z, index=hourly.index, columns=cols)


def anomalies(z: pd.DataFrame, *, limit: float = LIMIT) -> pd.DataFrame:
    """The scored hours beyond ``limit``, one row each: ``time``, ``series``, ``score`` (sorted by
    |score|, largest first)."""
    s = z.stack(future_stack=True).dropna()
    s = s[s.abs() > limit]
    out = s.rename("score").reset_index()
    out.columns = ["time", "series", "score"]
    return out.reindex(out["score"].abs().sort_values(ascending=False).index).reset_index(drop=True)


def device_power(store, site, start, end, *, as_of=None) -> pd.DataFrame:
    """Hourly mean power of every metered device [kW] (grouping ``by="device"`` of the query API)."""
    from workspace.store.query import power

    return power(store, start, end, by="device", freq="1h", as_of=as_of).to_pandas()
