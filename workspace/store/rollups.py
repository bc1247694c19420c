"""Rollup maintenance: grow the grid and its rollup axes, and re-derive the hourly, daily and
monthly rollups of the hours a fold touched (hours, then those hours' local days, then those days'
local months; the hourly max rate alongside).

The energy at slot ``s`` is the minute [s-1, s); hour ``h`` sums slots ``60h+1 .. 60h+60``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import zarr

from ..quality import Q
from .layout import CHUNK_T, DAILY, MONTHLY, POWER_MAX, ROLLUPS, SLOT, TARIFFS, VARIABLES, _months

if TYPE_CHECKING:
    from . import Store


def _write_hours(arr, h0: int, h1: int, keep: np.ndarray, values: np.ndarray) -> None:
    """Write the rows of hours ``[h0, h1)`` marked in ``keep`` (one slice when all are)."""
    if keep.all():
        arr[h0:h1] = values
    else:
        arr.set_orthogonal_selection((np.arange(h0, h1)[keep], slice(None)), values[keep])


def _extend(store: "Store", g: zarr.Group, need: int, origin: dt.datetime) -> None:
    t = g["time"]
    have = t.shape[0]
    if need <= have:
        return
    # grow in whole chunks so that the time axis is not resized on every fold
    new = -(-need // CHUNK_T) * CHUNK_T
    base = int((origin - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)) // SLOT)
    t.resize((new,))
    t[have:new] = base + np.arange(have, new, dtype=np.int64)
    for name in VARIABLES:
        g[name].resize((new, len(store.meters)))
    for name in TARIFFS:
        if name in g:
            g[name].resize((new, len(store.meters)))
    hours = new // 60  # the minute axis grows in whole hours from a UTC midnight
    h = g["hour"]
    have_h = h.shape[0]
    h.resize((hours,))
    h[have_h:hours] = base // 60 + np.arange(have_h, hours, dtype=np.int64)
    for name in ROLLUPS:
        g[name].resize((hours, len(store.meters)))
    for name in POWER_MAX:
        if name in g:
            g[name].resize((hours, len(store.meters)))
    d0 = _day0(store, origin)
    last = (origin + new * SLOT - dt.timedelta(microseconds=1)).astimezone(store.tz).date()
    days = (last - d0).days + 1
    d = g["day"]
    have_d = d.shape[0]
    d.resize((days,))
    d[have_d:days] = (d0 - dt.date(1970, 1, 1)).days + np.arange(have_d, days, dtype=np.int64)
    for name in DAILY:
        g[name].resize((days, len(store.meters)))
    if "month" in g:
        mo = g["month"]
        have_mo = mo.shape[0]
        n_mo = _months(last) - _months(d0) + 1
        mo.resize((n_mo,))
        mo[have_mo:n_mo] = _months(d0) + np.arange(have_mo, n_mo, dtype=np.int64)
        for name in MONTHLY:
            g[name].resize((n_mo, len(store.meters)))


def _day0(store: "Store", origin: dt.datetime) -> dt.date:
    """Local date of the daily rollups' first row: the date of the grid's origin instant."""
    return origin.astimezone(store.tz).date()


def _roll_up_days(store: "Store", g: zarr.Group, hours: np.ndarray, origin: dt.datetime) -> None:
    """Re-derive the daily rollups of every local day that a touched hour belongs to."""
    if not len(hours):
        return
    d0 = _day0(store, origin)
    starts = pd.DatetimeIndex([origin + dt.timedelta(hours=int(h)) for h in np.unique(hours)])
    dates = sorted(set(starts.tz_convert(store.tz).date))
    n_hours = g["energy_1h"].shape[0]

    def hour_of(date: dt.date) -> int:
        t = dt.datetime.combine(date, dt.time(), store.tz).astimezone(dt.timezone.utc)
        return int((t - origin) // dt.timedelta(hours=1))

    h_lo = max(0, hour_of(dates[0]))
    h_hi = min(n_hours, hour_of(dates[-1] + dt.timedelta(days=1)))
    e = g["energy_1h"][h_lo:h_hi]
    mm = g["measured_1h"][h_lo:h_hi].astype(np.uint16)
    idx, tot, mea = [], [], []
    for date in dates:
        a = max(0, hour_of(date)) - h_lo
        b = min(n_hours, hour_of(date + dt.timedelta(days=1))) - h_lo
        block = e[a:b]
        fin = np.isfinite(block)
        idx.append((date - d0).days)
        tot.append(np.where(fin.any(axis=0), np.nansum(block, axis=0), np.nan))
        mea.append(mm[a:b].sum(axis=0))
    idx_a = np.asarray(idx)
    g["energy_1d"].set_orthogonal_selection((idx_a, slice(None)), np.asarray(tot))
    g["measured_1d"].set_orthogonal_selection((idx_a, slice(None)), np.asarray(mea, dtype=np.uint16))
    if "energy_1mo" in g:
        _roll_up_months(store, g, dates, d0)


def _roll_up_months(store: "Store", g: zarr.Group, dates: list[dt.date], d0: dt.date) -> None:
    """Re-derive the monthly rollups of every local month holding one of ``dates``, from the
    daily rows (already re-derived): a month's total is NaN only where all its days are."""
    months = sorted({_months(d) for d in dates})
    n_days = g["energy_1d"].shape[0]
    m0 = _months(d0)

    def day_row(month: int) -> int:
        return min(n_days, max(0, (dt.date(1970 + month // 12, month % 12 + 1, 1) - d0).days))

    a0, b0 = day_row(months[0]), day_row(months[-1] + 1)
    e = g["energy_1d"][a0:b0]
    mm = g["measured_1d"][a0:b0].astype(np.uint32)
    tot, mea = [], []
    for month in months:
        a, b = day_row(month) - a0, day_row(month + 1) - a0
        block = e[a:b]
        fin = np.isfinite(block)
        tot.append(np.where(fin.any(axis=0), np.nansum(block, axis=0), np.nan))
        mea.append(mm[a:b].sum(axis=0, dtype=np.uint32))
    idx = np.asarray(months, np.int64) - m0
    g["energy_1mo"].set_orthogonal_selection((idx, slice(None)), np.asarray(tot))
    g["measured_1mo"].set_orthogonal_selection((idx, slice(None)), np.asarray(mea, dtype=np.uint32))


def _roll_up(store: "Store", g: zarr.Group, slots: np.ndarray, origin: dt.datetime) -> None:
    """Re-derive the hourly rollups of every hour a fold touched, from the minutes.

    The energy at slot ``s`` is the minute [s-1, s); hour ``h`` sums slots ``60h+1 .. 60h+60``.
    The hourly max rate is re-derived too (:func:`_roll_up_power`).
    """
    if not len(slots):
        return
    _roll_up_power(store, g, slots)
    hours = np.unique((slots - 1) // 60)
    hours = hours[hours >= 0]
    if not len(hours):
        return
    h0, h1 = int(hours[0]), int(hours[-1]) + 1
    e = _hour_minutes(store, g, "energy", h0, h1, 1, np.nan, np.float64)
    q = _hour_minutes(store, g, "quality", h0, h1, 1, 0, np.uint16)
    finite = np.isfinite(e)
    total = np.where(finite.any(axis=1), np.nansum(e, axis=1), np.nan)
    measured = (finite & ((q & int(Q.ESTIMATED)) == 0)).sum(axis=1).astype(np.uint8)
    keep = np.isin(np.arange(h0, h1), hours)
    _write_hours(g["energy_1h"], h0, h1, keep, total)
    _write_hours(g["measured_1h"], h0, h1, keep, measured)
    _roll_up_days(store, g, hours, origin)


def _hour_minutes(store: "Store", g: zarr.Group, var: str, h0: int, h1: int, first: int, fill,
                  dtype) -> np.ndarray:
    """The minutes of hours ``[h0, h1)`` of ``var`` as (hours, 60, meters), hour ``h`` holding slots
    ``60h + first .. 60h + first + 59``; slots past the array's end hold ``fill``."""
    m = len(store.meters)
    lo, hi = h0 * 60 + first, min(h1 * 60 + first, g[var].shape[0])
    out = np.full(((h1 - h0) * 60, m), fill, dtype)
    if hi > lo:
        out[:hi - lo] = g[var][lo:hi]
    return out.reshape(h1 - h0, 60, m)


def _roll_up_power(store: "Store", g: zarr.Group, slots: np.ndarray) -> None:
    """Re-derive the hourly max rate of every hour holding a touched slot, from the minutes.

    The rate at slot ``s`` is read at the instant ``s`` (no shift, unlike energy): hour ``h``
    holds slots ``60h .. 60h+59``. A slot the fold touched for its energy (the minute before it)
    may sit one hour earlier than its rate, so both hours are re-derived. An hour without any
    rate is NaN.
    """
    if "power_max_1h" not in g:
        return
    hours = np.unique(np.concatenate([slots // 60, (slots - 1) // 60]))
    hours = hours[hours >= 0]
    if not len(hours):
        return
    h0, h1 = int(hours[0]), int(hours[-1]) + 1
    r = _hour_minutes(store, g, "rate", h0, h1, 0, np.nan, np.float64)
    peak = np.fmax.reduce(r, axis=1)  # NaN only where the whole hour is NaN
    _write_hours(g["power_max_1h"], h0, h1, np.isin(np.arange(h0, h1), hours), peak)
