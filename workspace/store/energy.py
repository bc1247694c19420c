"""Energy per group and interval (:func:`energy`), from the rollups and the minutes.

How it answers: the period ``[start, end)`` is cut, with integer minute arithmetic, into whole local
months (monthly rollups, when ``freq`` is "MS" or None), whole local days (daily rollups, when
``freq`` is whole days, "MS" or None), whole UTC hours (hourly rollups, when ``freq`` is whole hours
and the zone a whole number of hours from UTC) and minutes at the edges; each row's group sums and
then each interval's rows are added in numpy, and the DataArray is built once. Zones with daylight
saving time in the period, periods not on whole minutes and other frequencies go through the same
cuts with pandas (:func:`_energy_pandas`); both give the same sums (bit-identical where the
additions are the same, else within a few ulp).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from ..quality import Q
from ..site import Medium
from ..units import MEDIUM_UNITS
from .chunks import _frame, _hourly_rows, _meta, _minute_rows, _monthly, _result, _rollup_rows, _rollups
from .layout import SLOT, _month_of, _month_start, _utc
from .query import _fixed_offset, _groups
from .repository import _Resolved, _snapshot_for

if TYPE_CHECKING:
    from . import Store


def _group_sums(df: pd.DataFrame, groups: dict[str, list[str]]) -> dict[str, np.ndarray]:
    """Row sums of each group's columns, NaN where all of them are NaN (pandas' ``sum(axis=1,
    min_count=1)``, in numpy: the same additions in the same order, without pandas' per-call cost)."""
    pos = {c: i for i, c in enumerate(df.columns)}
    v = df.to_numpy()
    fin = np.isfinite(v)
    z = np.where(fin, v, 0.0)
    out = {}
    for g, ms in groups.items():
        idx = [pos[m] for m in ms]
        total = z[:, idx].sum(axis=1)
        total[~fin[:, idx].any(axis=1)] = np.nan
        out[g] = total
    return out


def _hourly_ok(freq: str | None) -> bool:
    """Whether intervals of ``freq`` are made of whole hours (so hourly rollups can serve them)."""
    if freq is None:
        return True
    off = pd.tseries.frequencies.to_offset(freq)
    if isinstance(off, pd.offsets.Tick):
        return pd.Timedelta(off) % pd.Timedelta(hours=1) == pd.Timedelta(0)
    return True


def _is_hourly_grid(index: pd.DatetimeIndex, freq: str | None) -> bool:
    """True when ``freq`` is one hour and ``index`` is already one row per whole hour, one hour apart
    (the hourly rollups' rows without minute edges), so that ``resample(freq)`` is the identity."""
    if freq is None or len(index) == 0:
        return False
    try:
        if pd.tseries.frequencies.to_offset(freq) != pd.offsets.Hour(1):
            return False
    except ValueError:
        return False
    ns = index.asi8
    hour = 3_600_000_000_000
    if len(ns) > 1 and not (np.diff(ns) == hour).all():
        return False
    return index[0] == index[0].floor("h")


def _daily_ok(freq: str | None) -> bool:
    """Whether intervals of ``freq`` are made of whole local days (so daily rollups can serve them)."""
    if freq is None:
        return True
    off = pd.tseries.frequencies.to_offset(freq)
    if isinstance(off, pd.offsets.Tick):
        return pd.Timedelta(off) % pd.Timedelta(days=1) == pd.Timedelta(0)
    return not isinstance(off, (pd.offsets.BusinessHour, pd.offsets.CustomBusinessHour))


def energy(store: "Store", start, end, *, by: str = "plant", medium: str | Medium = "electricity",
           freq: str | None = "1h", meters: list[str] | None = None, as_of=None) -> xr.DataArray:
    """Energy (or volume) consumed per group and interval.

    Parameters
    ----------
    start, end : datetime or str
        Period [start, end); naive values are the site's local time.
    by : {"plant", "workshop", "meter"}
        Grouping; plant and workshop totals sum the top meters of the metering tree.
    medium : {"electricity", "natural_gas", "water", "compressed_air"}
    freq : str or None
        pandas frequency of the result's intervals ("1min", "15min", "1h", "1D", "MS"), in local
        time; None for one total per group.
    meters : list of str, optional
        Explicit meters instead of ``by``.
    as_of : snapshot id or datetime, optional
        Version of the store to read.

    Returns
    -------
    xarray.DataArray
        dims ``(time, group)`` (or ``(group,)`` when ``freq`` is None) [kWh or m3]; ``time``
        labels each interval's local start. ``attrs``: units, timezone, medium, snapshot, and
        ``coverage``: the share of minutes with a measured (not estimated) value [-].

    Notes
    -----
    Whole local months are read from the monthly rollups (``freq`` "MS" or None; stores made
    before them sum the days), whole local days from the daily rollups, whole hours from the
    hourly rollups (all maintained at every fold), partial hours at the period's edges and
    sub-hourly frequencies from the minutes; all give the same sums. Intervals follow pandas'
    ``resample(freq)`` in local time (labels at each interval's local start; bins of a fixed
    length start at the local midnight of the period's first day). A month's or day's value is
    NaN only when no minute under it holds energy for any meter of the group.
    """
    medium = Medium(medium)
    as_of = _Resolved(_snapshot_for(store, as_of))
    groups = _groups(store, by, medium, meters)
    cols = sorted({m for ms in groups.values() for m in ms})
    lo, hi = _utc(start, store.tz), _utc(end, store.tz)
    _meta(store, as_of)  # a version that does not exist (or was expired) fails here, clearly
    unit = MEDIUM_UNITS[medium][0]
    attrs = {"units": unit, "timezone": store.site.plant.timezone, "medium": medium.value,
             "snapshot": str(as_of), "coverage": 0.0, "long_name": f"{medium.value} consumed"}
    fast = _energy_numpy(store, lo, hi, groups, cols, as_of, freq)
    if fast is None:
        return _energy_pandas(store, lo, hi, groups, cols, as_of, freq, attrs)
    values, labels, measured = fast
    minutes = max((hi - lo) / pd.Timedelta(minutes=1), 0) * len(cols)
    attrs["coverage"] = float(measured / minutes) if minutes else 0.0
    return _result(store, values, labels, list(groups), attrs)


def _energy_pandas(store: "Store", lo: pd.Timestamp, hi: pd.Timestamp, groups: dict[str, list[str]],
                   cols: list[str], as_of, freq: str | None, attrs: dict) -> xr.DataArray:
    """:func:`energy` through pandas frames: the general path (zones with daylight saving time,
    frequencies other than whole minutes and months, periods not on whole minutes)."""
    df, measured = _energy_frames(store, lo, hi, cols, as_of, freq)
    out = pd.DataFrame(_group_sums(df, groups), index=df.index)
    minutes = max((hi - lo) / pd.Timedelta(minutes=1), 0) * len(cols)
    attrs["coverage"] = float(measured / minutes) if minutes else 0.0
    if freq is None:
        return xr.DataArray(out.sum(min_count=1).to_numpy(), dims=["group"],
                            coords={"group": list(out.columns)}, attrs=attrs)
    if _is_hourly_grid(out.index, freq):
        res = out  # already one row per whole hour: resampling would copy the same values
    else:
        res = out.resample(freq).sum(min_count=1)
    return xr.DataArray(res.to_numpy(), dims=["time", "group"],
                        coords={"time": res.index.tz_localize(None).to_numpy(), "group": list(out.columns)},
                        attrs=attrs)


def _energy_numpy(store: "Store", lo: pd.Timestamp, hi: pd.Timestamp, groups: dict[str, list[str]],
                  cols: list[str], snap: str,
                  freq: str | None) -> tuple[np.ndarray, np.ndarray | None, int] | None:
    """:func:`energy`'s sums with integer minute arithmetic and numpy, no pandas frames.

    The period is cut exactly as :func:`_energy_frames` cuts it (whole local months from the
    monthly rollups when ``freq`` is "MS" or None, whole local days from the daily ones, whole
    UTC hours from the hourly ones, minutes at the edges); each row's group sums are taken as
    :func:`_group_sums` takes them, then the rows of each interval are added. Returns the
    values ``(intervals, groups)`` (or ``(groups,)`` when ``freq`` is None), the interval
    labels (local, datetime64[ns]; None when ``freq`` is None) and the measured minutes; None
    when this path does not apply (a zone with daylight saving time in the period, a period not
    on whole minutes or empty, a frequency other than whole minutes, "MS" or None).
    """
    if freq is None:
        tick = None
    else:
        try:
            off = pd.tseries.frequencies.to_offset(freq)
        except ValueError:
            return None
        if isinstance(off, pd.offsets.Tick):
            td = pd.Timedelta(off)
            if td <= pd.Timedelta(0) or td % pd.Timedelta(minutes=1):
                return None
            tick = int(td // pd.Timedelta(minutes=1))
        elif type(off) is pd.offsets.Day and off.n > 0:  # calendar days (not a Tick since pandas 3)
            tick = off.n * 1440
        elif type(off) is pd.offsets.MonthBegin and off.n == 1:
            tick = "MS"
        else:
            return None
    nmin = 60_000_000_000
    if lo.value % nmin or hi.value % nmin or not lo < hi:
        return None
    zone = _fixed_offset(store, lo, hi)
    if zone is None:
        return None
    u0, u1 = lo.value // nmin, hi.value // nmin  # UTC minutes since 1970
    l0, l1 = u0 + zone, u1 + zone  # local minutes
    monthly = tick is None or tick == "MS"
    daily = tick is None or tick == "MS" or tick % 1440 == 0
    hourly = tick is None or tick == "MS" or tick % 60 == 0
    segs = []  # (kind, first, end): minutes [UTC min], hours [UTC h], days [local d], months [local mo]

    def hours_or_minutes(a: int, b: int) -> None:  # UTC minutes [a, b)
        ha, hb = -(-a // 60), b // 60
        if hourly and ha < hb and zone % 60 == 0:
            if a < ha * 60:
                segs.append(("m", a, ha * 60))
            segs.append(("h", ha, hb))
            if hb * 60 < b:
                segs.append(("m", hb * 60, b))
        else:
            segs.append(("m", a, b))

    def days_or_less(a: int, b: int) -> None:  # local minutes [a, b)
        da, db = -(-a // 1440), b // 1440
        if daily and da < db:
            if a < da * 1440:
                hours_or_minutes(a - zone, da * 1440 - zone)
            segs.append(("d", da, db))
            if db * 1440 < b:
                hours_or_minutes(db * 1440 - zone, b - zone)
        else:
            hours_or_minutes(a - zone, b - zone)

    mo = None
    if monthly:
        m_lo, m_hi = _month_of(l0, ceil=True), _month_of(l1, ceil=False)
        mo = _monthly(store, snap) if m_lo < m_hi else None
    if mo is not None:
        a, b = _month_start(m_lo), _month_start(m_hi)
        if l0 < a:
            days_or_less(l0, a)
        segs.append(("M", m_lo, m_hi))
        if b < l1:
            days_or_less(b, l1)
    else:
        days_or_less(l0, l1)

    ci = np.asarray([store._midx[c] for c in cols], np.intp)
    parts, starts, measured = [], [], 0
    for kind, a, b in segs:
        if kind == "m":
            v, q = _minute_rows(store, snap, a, b, ci)
            measured += int((np.isfinite(v) & ((q & int(Q.ESTIMATED)) == 0)).sum())
            starts.append(np.arange(a, b, dtype=np.int64) + zone)
        else:
            name = {"h": "1h", "d": "1d", "M": "1mo"}[kind]
            v, mm = _rollup_rows(store, snap, name, a, b, ci)
            measured += int(mm.astype(np.int64).sum())
            if kind == "h":
                starts.append(np.arange(a, b, dtype=np.int64) * 60 + zone)
            elif kind == "d":
                starts.append(np.arange(a, b, dtype=np.int64) * 1440)
            else:
                starts.append(_month_start(np.arange(a, b, dtype=np.int64)))
        parts.append(v)
    rows = parts[0] if len(parts) == 1 else np.concatenate(parts)
    t = starts[0] if len(starts) == 1 else np.concatenate(starts)
    pos = {c: i for i, c in enumerate(cols)}
    fin = np.isfinite(rows)
    z = np.where(fin, rows, 0.0)
    sums = np.empty((len(rows), len(groups)))
    for j, ms in enumerate(groups.values()):  # as _group_sums: the same additions in the same order
        idx = [pos[m] for m in ms]
        total = z[:, idx].sum(axis=1)
        total[~fin[:, idx].any(axis=1)] = np.nan
        sums[:, j] = total
    if tick is None:
        sfin = np.isfinite(sums)
        total = np.where(sfin, sums, 0.0).sum(axis=0)
        total[~sfin.any(axis=0)] = np.nan
        return total, None, measured
    if tick == "MS":
        label = _month_start(_month_of(t, ceil=False))
    else:
        origin = (l0 // 1440) * 1440  # pandas' origin="start_day": midnight of the first day
        label = origin + (t - origin) // tick * tick
    first = np.ones(len(label), bool)
    first[1:] = label[1:] != label[:-1]
    if first.all():
        values = sums  # one row per interval: the rows are the answer
    else:
        at = np.nonzero(first)[0]
        sfin = np.isfinite(sums)
        values = np.add.reduceat(np.where(sfin, sums, 0.0), at, axis=0)
        values[~np.logical_or.reduceat(sfin, at, axis=0)] = np.nan
    labels = label[first]
    if tick != "MS" and len(labels) > 1 and (np.diff(labels) != tick).any():
        return None  # an interval without any row (cannot happen: rows cover the period)
    return values, (labels * nmin).astype("datetime64[ns]"), measured


def _energy_frames(store: "Store", lo: pd.Timestamp, hi: pd.Timestamp, cols: list[str], as_of,
                   freq: str | None) -> tuple[pd.DataFrame, int]:
    """Energy rows for [lo, hi): daily rows for whole local days, hourly rows for whole hours,
    minute rows at the edges; and the number of measured minutes behind them."""
    llo, lhi = lo.tz_convert(store.tz), hi.tz_convert(store.tz)
    d_lo, d_hi = llo.ceil("D") if llo != llo.normalize() else llo, lhi.normalize()
    if not (_daily_ok(freq) and d_lo < d_hi):
        return _energy_frames_hourly(store, lo, hi, cols, as_of, freq)
    parts, measured = [], 0
    if llo < d_lo:
        e, m = _energy_frames_hourly(store, lo, d_lo.tz_convert("UTC"), cols, as_of, freq)
        parts.append(e)
        measured += m
    R = _rollups(store, _snapshot_for(store, as_of))
    ci = [store._midx[c] for c in cols]
    epoch = pd.Timestamp("1970-01-01")
    i0, i1 = np.searchsorted(R["day"], [(d_lo.tz_localize(None) - epoch).days, (d_hi.tz_localize(None) - epoch).days])
    idx = pd.DatetimeIndex(R["day"][i0:i1].astype("datetime64[D]").astype("datetime64[ns]")).tz_localize(store.tz)
    full = pd.date_range(d_lo, d_hi, freq="D", inclusive="left")
    parts.append(pd.DataFrame(R["energy_1d"][i0:i1, ci], index=idx, columns=cols).reindex(full))
    measured += int(R["measured_1d"][i0:i1, ci].astype(np.int64).sum())
    if d_hi < lhi:
        e, m = _energy_frames_hourly(store, d_hi.tz_convert("UTC"), hi, cols, as_of, freq)
        parts.append(e)
        measured += m
    return pd.concat(parts), measured


def _energy_frames_hourly(store: "Store", lo: pd.Timestamp, hi: pd.Timestamp, cols: list[str], as_of,
                   freq: str | None) -> tuple[pd.DataFrame, int]:
    """Energy rows for [lo, hi) (hourly rows for whole hours, minute rows at the edges) and the
    number of measured minutes behind them."""
    def minutes(a, b):
        e = _frame(store, "energy", a, b, cols, as_of, SLOT)
        q = _frame(store, "quality", a, b, cols, as_of, SLOT)
        m = int((e.notna() & ((q.fillna(0).astype(np.int64) & int(Q.ESTIMATED)) == 0)).to_numpy().sum())
        return e, m

    h_lo, h_hi = lo.ceil("h"), hi.floor("h")
    if not (h_lo < h_hi and _hourly_ok(freq) and lo.tz_convert(store.tz).utcoffset().total_seconds() % 3600 == 0):
        return minutes(lo, hi)
    parts, measured = [], 0
    if lo < h_lo:
        e, m = minutes(lo, h_lo)
        parts.append(e)
        measured += m
    R = _rollups(store, _snapshot_for(store, as_of))
    frame, (i0, i1), ci = _hourly_rows(store, R, "energy_1h", h_lo, h_hi, cols, as_of)
    parts.append(frame)
    measured += int(R["measured_1h"][i0:i1, ci].astype(np.int64).sum())
    if h_hi < hi:
        e, m = minutes(h_hi, hi)
        parts.append(e)
        measured += m
    return pd.concat(parts), measured
