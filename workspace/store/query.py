"""The query API beside energy: the newest reading, load curves and peaks (:func:`power`), 15-minute
demand (:func:`demand`), voltage, current and power factor (:func:`readings`), data quality
(:func:`quality_report`, :func:`measured_days`, :func:`flagged_minutes`), the meters' own tariff
registers (:func:`tariff_energy`), and the grouping of meters every query shares (plant, workshop,
line, device, meter: :func:`device_meters`).

Time is UTC inside; every query takes and returns the site's local time (tz-naive values, the zone
in ``attrs["timezone"]``).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import UnknownMeter
from ..quality import Q
from ..site import Medium
from ..units import MEDIUM_UNITS
from .chunks import _first_rows, _frame, _hourly_rows, _meta, _minutes, _rate_rows, _result, _rollups
from .layout import CHUNK_T, TARIFFS, _EPOCH, _utc
from .repository import _Resolved, _snapshot_for

if TYPE_CHECKING:
    from . import Store


def _groups(store: "Store", by: str, medium: Medium, meters: list[str] | None) -> dict[str, list[str]]:
    if meters is None:  # the site model does not change while the store is open: remember the grouping
        key = (by, medium)
        hit = store._group_cache.get(key)
        if hit is None:
            hit = store._group_cache[key] = _groups_of(store, by, medium, None)
        return {g: list(ms) for g, ms in hit.items()}
    return _groups_of(store, by, medium, meters)


def _groups_of(store: "Store", by: str, medium: Medium, meters: list[str] | None) -> dict[str, list[str]]:
    if meters is not None:
        for m in meters:
            if m not in store._midx:
                raise UnknownMeter(_unknown(store, m))
        return {m: [m] for m in meters}
    held = store._midx.__contains__  # a meter the site model has but the store not yet: left out
    if by == "plant":
        return {store.site.plant.id: [m for m in store.site.top_meters(medium) if held(m)]}
    if by == "workshop":
        out = {w.id: [m for m in store.site.top_meters(medium, w.id) if held(m)] for w in store.site.workshops}
        return {k: v for k, v in out.items() if v}
    if by == "meter":
        return {m: [m] for m in store.site.meter_ids(medium) if held(m)}
    if by in ("device", "line"):
        devs = device_meters(store.site, medium)
        if by == "device":
            out = {d: [m for m in ms if held(m)] for d, ms in devs.items()}
        else:
            line_of = {d.id: d.line for d in store.site.devices}
            out = {}
            for d, ms in devs.items():
                if line_of.get(d) is not None:
                    out.setdefault(line_of[d], []).extend(m for m in ms if held(m))
        return {k: v for k, v in out.items() if v}
    raise ValueError(f"by must be 'plant', 'workshop', 'line', 'device' or 'meter', not {by!r}")


def device_meters(site, medium: str | Medium = "electricity", workshop: str | None = None) -> dict[str, list[str]]:
    """The meters that measure each device (``Meter.device``), without a sub-meter of a meter that
    already measures a device (that would count the device twice); devices in site order.

    Grouping ``by="device"`` sums these; ``by="line"`` sums those of the line's devices. A device
    without a meter of ``medium`` is not in the result (its energy is only in its workshop's total).
    With ``workshop``, only that workshop's meters, and only ancestors inside it count as covering.
    """
    medium = Medium(medium)
    by_id = {m.id: m for m in site.meters}
    out: dict[str, list[str]] = {}
    for m in site.meters:
        if m.medium != medium or m.device is None or (workshop is not None and m.workshop != workshop):
            continue
        up, covered = (by_id.get(m.parent) if m.parent else None), False
        while up is not None and (workshop is None or up.workshop == workshop):
            if up.device is not None:
                covered = True
                break
            up = by_id.get(up.parent) if up.parent else None
        if not covered:
            out.setdefault(m.device, []).append(m.id)
    order = {d.id: i for i, d in enumerate(site.devices)}
    return dict(sorted(out.items(), key=lambda kv: order.get(kv[0], len(order))))


def _unknown(store: "Store", meter: str) -> str:
    if meter in store._pending_meters:
        return (f"meter {meter!r} is in the site model but not in the store yet: the collector adds it when it "
                f"next starts (or `tanjian fold`)")
    return f"unknown meter {meter!r}"


def _fixed_offset(store: "Store", lo: pd.Timestamp, hi: pd.Timestamp) -> int | None:
    """The site zone's offset from UTC [min] when it is the same all through the UTC years of
    [lo, hi] (checked at every UTC midnight of those years, once per year per process); None
    for a zone that changes its offset then (daylight saving time)."""
    out = None
    for year in range(lo.year, hi.year + 1):
        off = store._offset_cache.get(year, "?")
        if off == "?":
            t = dt.datetime(year, 1, 1, tzinfo=dt.timezone.utc)
            offs = {(t + dt.timedelta(days=k)).astimezone(store.tz).utcoffset() for k in range(367)}
            off = None
            if len(offs) == 1:
                o = offs.pop()
                off = int(o // dt.timedelta(minutes=1)) if o % dt.timedelta(minutes=1) == dt.timedelta(0) else None
            store._offset_cache[year] = off
        if off is None or (out is not None and off != out):
            return None
        out = off
    return out


#: (store location, snapshot id) -> newest reading, for every Store of the process: each page session opens a
#: Store of its own, and a snapshot never changes, so one scan serves them all
_LATEST: OrderedDict[tuple[str, str], dt.datetime | None] = OrderedDict()
_LATEST_LOCK = threading.Lock()
_LATEST_KEPT = 64


def latest_time(store: "Store", as_of=None) -> dt.datetime | None:
    """Local time of the newest slot holding any reading, or None for an empty store."""
    snap = _snapshot_for(store, as_of)
    hit = store._latest_cache
    if hit is not None and hit[0] == snap:
        return hit[1]
    key = (str(store.path), str(snap))
    with _LATEST_LOCK:
        found = key in _LATEST
        out = _LATEST.get(key)
    if not found:
        out = _latest_time(store, snap)
        with _LATEST_LOCK:
            _LATEST[key] = out
            while len(_LATEST) > _LATEST_KEPT:
                _LATEST.popitem(last=False)
    store._latest_cache = (snap, out)
    return out


def _latest_time(store: "Store", snap: str) -> dt.datetime | None:
    meta = _meta(store, snap)
    if meta["origin"] is None or meta["slots"] == 0:
        return None
    # scan back chunk by chunk from the end
    end = meta["slots"]
    while end > 0:
        lo = max(0, end - CHUNK_T)
        block = np.isfinite(_minutes(store, snap, "counter", lo, end)).any(axis=1)
        if block.any():
            k = lo + int(np.nonzero(block)[0][-1])
            return (_EPOCH + dt.timedelta(minutes=meta["origin"] + k)).astimezone(store.tz)
        end = lo
    return None


def power(store: "Store", start, end, *, by: str = "plant", medium: str | Medium = "electricity",
          freq: str = "1min", how: str = "mean", meters: list[str] | None = None, as_of=None) -> xr.DataArray:
    """Rate per group and interval [kW or m3/h] (a load curve); same conventions as
    :func:`workspace.store.energy.energy`.

    ``how`` aggregates the one-minute readings in each interval: "mean" (default), "max" (peak
    demand) or "min". A group's rate at a minute is the sum of its meters', only when all of
    them were read.
    """
    if how not in ("mean", "max", "min"):
        raise ValueError(f"how must be 'mean', 'max' or 'min', not {how!r}")
    medium = Medium(medium)
    as_of = _Resolved(_snapshot_for(store, as_of))
    groups = _groups(store, by, medium, meters)
    cols = sorted({m for ms in groups.values() for m in ms})
    out = None
    attrs = {"units": MEDIUM_UNITS[medium][1], "timezone": store.site.plant.timezone,
             "medium": medium.value, "long_name": f"{how} {medium.value} rate"}
    if how == "max" and all(len(ms) == 1 for ms in groups.values()):
        _meta(store, as_of)  # a version that does not exist (or was expired) fails here, clearly
        fast = _power_max_numpy(store, _utc(start, store.tz), _utc(end, store.tz), groups, as_of, freq)
        if fast is not None:
            return _result(store, fast[0], fast[1], list(groups), attrs)
        out = _power_max_hourly(store, start, end, groups, cols, as_of, freq)
    if out is None:
        df = _frame(store, "rate", start, end, cols, as_of, dt.timedelta(0))
        if all(len(ms) == 1 for ms in groups.values()):  # one meter a group: its column (a loop per group is slow)
            out = df[[ms[0] for ms in groups.values()]].set_axis(list(groups), axis=1).resample(freq).agg(how)
        else:
            out = pd.DataFrame({g: df[ms].sum(axis=1, min_count=len(ms)) for g, ms in groups.items()},
                               index=df.index).resample(freq).agg(how)
    return xr.DataArray(out.to_numpy(), dims=["time", "group"],
                        coords={"time": out.index.tz_localize(None).to_numpy(), "group": list(out.columns)},
                        attrs={"units": MEDIUM_UNITS[medium][1], "timezone": store.site.plant.timezone,
                               "medium": medium.value, "long_name": f"{how} {medium.value} rate"})


def _power_max_numpy(store: "Store", lo: pd.Timestamp, hi: pd.Timestamp, groups: dict[str, list[str]],
                     snap: str, freq: str) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`_power_max_hourly` with integer minute arithmetic and numpy: hourly peaks of
    single-meter groups, values ``(hours, groups)`` [kW or m3/h] and local hour labels
    (datetime64[ns]); None where that path would not apply or the period is not on whole
    minutes, or the zone changes its offset in it."""
    try:
        if pd.tseries.frequencies.to_offset(freq) != pd.offsets.Hour(1):
            return None
    except ValueError:
        return None
    nmin = 60_000_000_000
    if lo.value % nmin or hi.value % nmin or not lo < hi:
        return None
    zone = _fixed_offset(store, lo, hi)
    if zone is None or zone % 60:
        return None
    u0, u1 = lo.value // nmin, hi.value // nmin
    ha, hb = -(-u0 // 60), u1 // 60
    R = _rollups(store, snap)
    if not ha < hb or "power_max_1h" not in R:
        return None
    ci = np.asarray([store._midx[ms[0]] for ms in groups.values()], np.intp)
    parts, labels = [], []
    if u0 < ha * 60:  # the partial hour before the first whole one, from its minutes
        parts.append(np.fmax.reduce(_rate_rows(store, snap, u0, ha * 60, ci), axis=0)[None])
        labels.append(np.array([(ha - 1) * 60 + zone]))
    v = np.full((hb - ha, len(ci)), np.nan)
    coord = R["hour"]
    if len(coord):
        c0 = int(coord[0])
        r0, r1 = max(ha - c0, _first_rows(store, snap)["1h"] - c0, 0), min(hb - c0, len(coord))
        if r0 < r1:
            v[r0 + c0 - ha:r1 + c0 - ha] = R["power_max_1h"][r0:r1, ci]
    parts.append(v)
    labels.append(np.arange(ha, hb, dtype=np.int64) * 60 + zone)
    if hb * 60 < u1:  # the partial hour after the last whole one
        parts.append(np.fmax.reduce(_rate_rows(store, snap, hb * 60, u1, ci), axis=0)[None])
        labels.append(np.array([hb * 60 + zone]))
    values = parts[0] if len(parts) == 1 else np.concatenate(parts)
    return values, (np.concatenate(labels) * nmin).astype("datetime64[ns]")


def _power_max_hourly(store: "Store", start, end, groups: dict[str, list[str]], cols: list[str], as_of,
                      freq: str) -> pd.DataFrame | None:
    """Hourly peaks of single-meter groups from the ``power_max_1h`` rollup for the whole hours of
    [start, end) and from the minutes for the partial hours at its edges; None when the rollup
    cannot answer (another frequency, a zone not a whole number of hours from UTC, no whole
    hour in the period, or a store created before the rollup existed). Same values as
    resampling the minutes: a maximum picks one of them."""
    try:
        if pd.tseries.frequencies.to_offset(freq) != pd.offsets.Hour(1):
            return None
    except ValueError:
        return None
    lo, hi = _utc(start, store.tz), _utc(end, store.tz)
    h_lo, h_hi = lo.ceil("h"), hi.floor("h")
    if not h_lo < h_hi or any(t.tz_convert(store.tz).utcoffset().total_seconds() % 3600 for t in (lo, hi)):
        return None
    R = _rollups(store, _snapshot_for(store, as_of))
    if "power_max_1h" not in R:
        return None
    parts = []
    if lo < h_lo:
        parts.append(_frame(store, "rate", lo, h_lo, cols, as_of, dt.timedelta(0)).resample(freq).max())
    parts.append(_hourly_rows(store, R, "power_max_1h", h_lo, h_hi, cols, as_of)[0])
    if h_hi < hi:
        parts.append(_frame(store, "rate", h_hi, hi, cols, as_of, dt.timedelta(0)).resample(freq).max())
    df = pd.concat(parts) if len(parts) > 1 else parts[0]
    return pd.DataFrame({g: df[ms[0]] for g, ms in groups.items()}, index=df.index)


def demand(store: "Store", start, end, *, by: str = "plant", window: str = "15min",
           meters: list[str] | None = None, as_of=None) -> xr.DataArray:
    """Demand per group: the mean power of each fixed ``window`` (default 15 min, the demand
    interval of Chinese two-part tariffs' maximum-demand billing) [kW], from the energy of the
    window: kW = kWh / window hours. Windows start at the local midnight of the period's first day.

    Parameters and the result as :func:`workspace.store.energy.energy` (``freq`` = ``window``);
    ``attrs["units"]`` is kW and ``attrs["window"]`` the window. A window with no energy for any
    meter of the group is NaN (a partly read window is counted from the minutes held, so it may
    understate: ``attrs["coverage"]`` says how much was measured).
    """
    from .energy import energy

    hours = pd.Timedelta(window) / pd.Timedelta(hours=1)
    if not hours > 0:
        raise ValueError(f"window must be positive, not {window!r}")
    e = energy(store, start, end, by=by, freq=window, meters=meters, as_of=as_of)
    out = e / hours
    out.attrs = {**e.attrs, "units": "kW", "window": window, "long_name": f"{window} demand"}
    return out


def readings(store: "Store", start, end, variable: str, *, meters: list[str], freq: str = "1min",
             how: str = "mean", as_of=None) -> pd.DataFrame:
    """An instantaneous quantity per meter: ``voltage`` [V], ``current`` [A] or ``power_factor``
    [-], as read each minute, aggregated over ``freq`` by ``how`` ("mean", "min", "max").

    Returns
    -------
    pandas.DataFrame
        Index local time (tz-naive, interval starts), one column per meter; NaN where the meter
        gave no reading of that quantity (a family without it). ``attrs``: units, timezone.
    """
    if variable not in ("voltage", "current", "power_factor"):
        raise ValueError(f"variable must be voltage, current or power_factor, not {variable!r}")
    if how not in ("mean", "max", "min"):
        raise ValueError(f"how must be 'mean', 'max' or 'min', not {how!r}")
    for m in meters:
        if m not in store._midx:
            raise UnknownMeter(_unknown(store, m))
    as_of = _Resolved(_snapshot_for(store, as_of))
    df = _frame(store, variable, start, end, list(meters), as_of, dt.timedelta(0))
    if freq != "1min":
        df = df.resample(freq).agg(how)
    df.index = df.index.tz_localize(None)
    df.attrs = {"units": {"voltage": "V", "current": "A", "power_factor": "1"}[variable],
                "timezone": store.site.plant.timezone}
    return df


def quality_report(store: "Store", start, end, *, meters: list[str] | None = None,
                   medium: str | Medium | None = None, as_of=None) -> pd.DataFrame:
    """Data quality per meter over [start, end): completeness and the count of each flag.

    Parameters
    ----------
    start, end : datetime or str
        Period; naive values are the site's local time.
    meters : list of str, optional
        Meters to report (default: all, or all of ``medium``).
    medium : str, optional

    Returns
    -------
    pandas.DataFrame
        Index ``meter``; columns ``minutes`` (slots in the period), ``readings`` (slots with a
        reading), ``completeness_pct`` [%], ``estimated_pct`` [%] (slots whose energy is
        estimated), then one count column per flag of :class:`~workspace.quality.Q`.
        ``attrs``: period, timezone, snapshot.
    """
    as_of = _Resolved(_snapshot_for(store, as_of))
    if meters is None:
        meters = [m for m in store.site.meter_ids(medium) if m in store._midx]
    for m in meters:
        if m not in store._midx:
            raise UnknownMeter(_unknown(store, m))
    counter = _frame(store, "counter", start, end, meters, as_of, dt.timedelta(0))
    quality = _frame(store, "quality", start, end, meters, as_of, dt.timedelta(0)).fillna(0).astype(np.int64)
    n = len(counter)
    rows = {"minutes": np.full(len(meters), n), "readings": counter.notna().sum().to_numpy()}
    rows["completeness_pct"] = 100.0 * rows["readings"] / max(n, 1)
    rows["estimated_pct"] = 100.0 * ((quality & int(Q.ESTIMATED)) != 0).sum().to_numpy() / max(n, 1)
    for flag in Q:
        rows[flag.name.lower()] = ((quality & int(flag)) != 0).sum().to_numpy()
    out = pd.DataFrame(rows, index=pd.Index(meters, name="meter"))
    # the resolved id is the snapshot read (opening the xarray dataset cost ~0.5 s a new Store at 1,000 meters)
    out.attrs = {"period": (str(start), str(end)), "timezone": store.site.plant.timezone, "snapshot": str(as_of)}
    return out


def tariff_energy(store: "Store", start, end, *, meters: list[str] | None = None, as_of=None) -> pd.DataFrame:
    """Energy per meter per tariff over a period, from the meters' own time-of-use registers.

    Parameters
    ----------
    start, end : datetime or str
        The period ``[start, end)``, local time of the site (or timezone-aware).
    meters : list of str, optional
        Meter ids (default: every electricity meter of the site).
    as_of : str or datetime, optional
        Snapshot id or instant of the version to read (default: the newest).

    Returns
    -------
    pandas.DataFrame
        Index ``meter``, columns ``tariff_1`` … ``tariff_4`` (尖 sharp, 峰 peak, 平 flat, 谷 valley):
        the last minus the first stored register reading of the tariff within the period [kWh];
        NaN where the meter has no stored reading of that tariff in it (a meter without
        tariff registers, or not read), 0 when it has exactly one. A register that rolled over at
        10^6 kWh within the period is not unwrapped. ``attrs`` holds the period, the timezone and
        the snapshot read.

    Raises
    ------
    UnknownMeter
        For a meter id not in the site model.
    """
    as_of = _Resolved(_snapshot_for(store, as_of))
    if meters is None:
        meters = [m for m in store.site.meter_ids("electricity") if m in store._midx]
    for m in meters:
        if m not in store._midx:
            raise UnknownMeter(_unknown(store, m))
    held = _meta(store, as_of)["arrays"]  # zarr metadata only, not the xarray dataset
    out = pd.DataFrame(np.nan, index=pd.Index(meters, name="meter"), columns=list(TARIFFS))
    for name in TARIFFS:
        if name not in held or not meters:
            continue  # a store that never received tariff registers
        values = _frame(store, name, start, end, meters, as_of, dt.timedelta(0)).to_numpy()
        for j in range(len(meters)):
            col = values[:, j]
            got = col[np.isfinite(col)]
            if len(got):
                out.iloc[j, out.columns.get_loc(name)] = got[-1] - got[0]
    out.attrs = {"period": (str(start), str(end)), "timezone": store.site.plant.timezone,
                 "units": "kWh", "snapshot": str(as_of)}
    return out


def _local_days(store: "Store", start, end) -> tuple[dt.date, dt.date]:
    """The local calendar days ``start`` and ``end`` (dates; a datetime's or a string's date is taken)."""
    a, b = pd.Timestamp(start).date(), pd.Timestamp(end).date()
    return a, b


def _meter_columns(store: "Store", meters: list[str]) -> np.ndarray:
    for m in meters:
        if m not in store._midx:
            raise UnknownMeter(_unknown(store, m))
    return np.asarray([store._midx[m] for m in meters], np.intp)


def measured_days(store: "Store", start, end, meters: list[str], *, as_of=None) -> dict[str, int]:
    """Minutes with a measured (not estimated) energy per meter over whole local days.

    Parameters
    ----------
    start, end : datetime.date
        The first and the last local calendar day, both included (a datetime's date is taken).
    meters : list of str
        Meter ids.
    as_of : snapshot id, tag or datetime, optional
        Version of the store to read (default: the newest).

    Returns
    -------
    dict
        Meter id -> minutes [min]: the sum over the days of the daily rollup ``measured_1d``, the
        count :func:`workspace.store.energy.energy` takes its ``coverage`` from (a minute counts when
        its energy is finite and not flagged ESTIMATED). Days the store does not hold count 0.

    Raises
    ------
    UnknownMeter
        For a meter id not in the store.
    """
    a, b = _local_days(store, start, end)
    ci = _meter_columns(store, meters)
    snap = _Resolved(_snapshot_for(store, as_of))
    R = _rollups(store, snap)
    day = R.get("day")
    if day is None or not len(meters) or b < a:
        return {m: 0 for m in meters}
    epoch = dt.date(1970, 1, 1)
    i0, i1 = np.searchsorted(day, [(a - epoch).days, (b - epoch).days + 1])
    vals = R["measured_1d"][int(i0):int(i1), ci].astype(np.int64).sum(axis=0)
    return {m: int(v) for m, v in zip(meters, vals.tolist())}


def flagged_minutes(store: "Store", start, end, meters: list[str], flag: Q | int, *,
                    as_of=None) -> dict[str, int]:
    """Minute slots per meter over whole local days whose quality carries a flag.

    Parameters
    ----------
    start, end : datetime.date
        The first and the last local calendar day, both included (a datetime's date is taken): the
        slots whose instant (the reading's minute, UTC inside) lies in ``[start 00:00, end + 1 day
        00:00)`` local time.
    meters : list of str
        Meter ids.
    flag : Q or int
        A flag of :class:`workspace.quality.Q` (or several OR'ed): a slot counts when its quality
        bitmask has any of these bits.
    as_of : snapshot id, tag or datetime, optional
        Version of the store to read (default: the newest).

    Returns
    -------
    dict
        Meter id -> number of flagged minute slots, the count :func:`quality_report` gives in the
        flag's column for the same period. The period's length in minutes (the denominator of a
        share) is that of the local days (1,440 a day, other on a day when the clocks change).

    Raises
    ------
    UnknownMeter
        For a meter id not in the store.
    """
    a, b = _local_days(store, start, end)
    ci = _meter_columns(store, meters)
    snap = _Resolved(_snapshot_for(store, as_of))
    meta = _meta(store, snap)
    out = {m: 0 for m in meters}
    if meta["origin"] is None or not len(meters) or b < a:
        return out
    lo = dt.datetime.combine(a, dt.time(), store.tz).astimezone(dt.timezone.utc)
    hi = dt.datetime.combine(b + dt.timedelta(days=1), dt.time(), store.tz).astimezone(dt.timezone.utc)
    minute = dt.timedelta(minutes=1)
    o = _EPOCH + dt.timedelta(minutes=meta["origin"])
    s0 = min(max(0, -((o - lo) // minute)), meta["slots"])  # first slot at or after lo
    s1 = min(max(s0, -((o - hi) // minute)), meta["slots"])  # first slot at or after hi
    if s1 <= s0:
        return out
    arr = meta["group"]["quality"]
    width = arr.shape[1]  # a version made before meters were added has fewer: those count 0
    held = ci < width
    if not held.any():
        return out
    q = arr.get_orthogonal_selection((slice(s0, s1), ci[held])).astype(np.uint16)
    counts = ((q & np.uint16(int(flag))) != 0).sum(axis=0)
    for m, c in zip([m for m, h in zip(meters, held) if h], counts.tolist()):
        out[m] = int(c)
    return out
