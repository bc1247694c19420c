"""Load and trends per any group of the query API (plant, workshop, line, device, meter): load curves,
daily/weekly/monthly energy trends, the load duration curve, and this period against the same period a
week, month or year before.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: how far back "the same period" lies
OFFSETS = {"week": pd.DateOffset(weeks=1), "month": pd.DateOffset(months=1), "year": pd.DateOffset(years=1)}
#: trend frequencies: daily, weekly (weeks starting Monday), monthly
TRENDS = {"day": "1D", "week": "W-MON", "month": "MS"}


def load_curve(store, start, end, *, by: str = "plant", freq: str = "15min", how: str = "mean",
               meters: list[str] | None = None, as_of=None) -> pd.DataFrame:
    """Mean (or max/min) power per interval and group [kW], index local interval starts."""
    from workspace.store.query import power

    p = power(store, start, end, by=by, freq=freq, how=how, meters=meters, as_of=as_of)
    out = p.to_pandas()
    out.attrs = {"units": "kW", "freq": freq, "how": how}
    return out


def trend(store, start, end, *, by: str = "plant", every: str = "day", meters: list[str] | None = None,
          as_of=None) -> pd.DataFrame:
    """Energy per ``every`` ("day", "week" (Monday start), "month") and group [kWh]."""
    from workspace.store.energy import energy

    if every not in TRENDS:
        raise ValueError(f"every must be one of {', '.join(TRENDS)}, not {every!r}")
    if every == "week":
        daily = energy(store, start, end, by=by, freq="1D", meters=meters, as_of=as_of).to_pandas()
        out = daily.resample("W-MON", label="left", closed="left").sum(min_count=1)
    else:
        out = energy(store, start, end, by=by, freq=TRENDS[every], meters=meters, as_of=as_of).to_pandas()
    out.attrs = {"units": "kWh", "every": every}
    return out


def duration_curve(power: pd.Series | pd.DataFrame) -> pd.DataFrame:
    """Load duration curve (pure): each series' powers sorted from the highest, against the share of the
    time it is at or above them.

    Returns
    -------
    pandas.DataFrame
        Index ``rank`` 1..n; column ``pct_of_time`` [%] (rank / n x 100) and one column per series [kW]
        (NaN readings left out; a shorter series is padded with NaN). ``attrs``: per series ``peak_kw``,
        ``mean_kw``, ``load_factor`` (mean / peak) and ``base_kw`` (the 95 % duration value).
    """
    df = power.to_frame() if isinstance(power, pd.Series) else power
    cols, stats = {}, {}
    n = 0
    for c in df.columns:
        v = np.sort(df[c].dropna().to_numpy(float))[::-1]
        cols[c] = v
        n = max(n, len(v))
        if len(v):
            stats[c] = {"peak_kw": float(v[0]), "mean_kw": float(v.mean()),
                        "load_factor": float(v.mean() / v[0]) if v[0] > 0 else np.nan,
                        "base_kw": float(v[min(len(v) - 1, int(np.ceil(0.95 * len(v))) - 1)])}
    out = pd.DataFrame({c: np.pad(v, (0, n - len(v)), constant_values=np.nan) for c, v in cols.items()},
                       index=pd.RangeIndex(1, n + 1, name="rank"))
    out.insert(0, "pct_of_time", out.index.to_numpy() / max(n, 1) * 100.0)
    out.attrs = {"stats": stats}
    return out


def compare(store, start, end, *, against: str = "year", by: str = "plant", meters: list[str] | None = None,
            as_of=None) -> pd.DataFrame:
    """Energy of ``[start, end)`` against the same period a week, month or year before (同比/环比).

    Returns
    -------
    pandas.DataFrame
        Index group; columns ``this_kwh``, ``before_kwh`` [kWh], ``change_kwh`` = this − before,
        ``change_pct`` = change / before x 100 [%] (NaN where before is 0 or not metered).
        ``attrs``: both periods and ``coverage`` of each.
    """
    from workspace.store.energy import energy

    if against not in OFFSETS:
        raise ValueError(f"against must be one of {', '.join(OFFSETS)}, not {against!r}")
    a, b = pd.Timestamp(start), pd.Timestamp(end)
    a0, b0 = a - OFFSETS[against], b - OFFSETS[against]
    now = energy(store, a, b, by=by, freq=None, meters=meters, as_of=as_of)
    then = energy(store, a0, b0, by=by, freq=None, meters=meters, as_of=as_of)
    out = pd.DataFrame({"this_kwh": now.to_pandas(), "before_kwh": then.to_pandas()})
    out["change_kwh"] = out["this_kwh"] - out["before_kwh"]
    out["change_pct"] = out["change_kwh"] / out["before_kwh"].where(out["before_kwh"] > 0) * 100.0
    out.index.name = "group"
    out.attrs = {"this": (str(a), str(b)), "before": (str(a0), str(b0)), "against": against,
                 "coverage": (now.attrs.get("coverage"), then.attrs.get("coverage"))}
    return out
