"""What the alarm rules watch, gathered from the store's query API into one snapshot per evaluation.

:func:`gather` returns ``{quantity: pandas.Series by target id}`` (the quantities of
:data:`models.alarms.rules.KIND_QUANTITIES`), each computed for all meters, transformers or rooms at
once from a few queries:

- ``power`` [kW]: each electricity meter's newest one-minute rate in the look-back window;
- ``power_share`` [-]: that power over the meter's ``rated_power_kw`` (else its device's rated power);
- ``age_s`` [s]: seconds since each meter's newest reading (every medium); a meter with none in the
  window while others were read counts as silent for the whole window (at least ``lookback_min``
  minutes); when no meter at all was read in the window (the collector not running, a new store) every
  age is NaN: the offline alarms hold their state instead of flooding the operator with every meter;
- ``energy_hour``, ``energy_day`` [kWh]: electricity since the start of the local hour and day;
- ``flagged_minutes`` [-]: quality flags (all but ESTIMATED) raised on each meter in the last 15 minutes;
- ``on_in_peak`` [0/1]: 1 for a key device's meter (``Device.key_equipment``) drawing more than its
  ``off_kw`` (default half its ``standby_kw``, or 2 % of its rated power without one) while the plant
  tariff's time-of-use period is sharp or peak (:mod:`workspace.tariffs`);
- ``load_rate`` [-]: a transformer's kVA load rate from its incomer's power and power factor
  (:func:`models.alarms.figures.transformer_load_rates`, the energy models' formula);
- ``room.*``: the distribution-room points as read (:mod:`workspace.rooms`);
- ``onsite.fault``, ``onsite.soc``: PV inverters' and batteries' SunSpec state (7 = FAULT) and state of
  charge, as read (:func:`onsite_points`).

Figures that other models compute (anomaly scores, unit consumption, kVA load rates) are added with
:func:`extend`: they are computed there, never here.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from workspace.quality import Q
from workspace.site import Medium

from .engine import Snapshot

#: tariff periods in which a key device should not run
PEAK_PERIODS = ("sharp", "peak")
#: how far back the newest reading is looked for [min]
LOOKBACK_MIN = 60
#: the window of the data-quality rule [min]
QUALITY_WINDOW_MIN = 15


def _series(values, index) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=float), index=pd.Index(list(index)))


def latest(frame: pd.DataFrame, now: pd.Timestamp, lookback_min: int) -> tuple[pd.Series, pd.Series]:
    """Newest value per column of a one-minute frame and its age [s] at ``now`` (vectorised: one pass
    over the array). A column with no value: NaN, and an age of the whole window, if another column has
    values (else NaN: nothing was read at all)."""
    a = frame.to_numpy(dtype=float)
    ok = np.isfinite(a)
    n = len(a)
    last = np.where(ok.any(axis=0), n - 1 - np.argmax(ok[::-1], axis=0), -1)
    vals = np.where(last >= 0, a[np.clip(last, 0, max(n - 1, 0)), np.arange(a.shape[1])] if n else np.nan, np.nan)
    if n:
        t = frame.index.tz_convert("UTC").tz_localize(None).to_numpy().astype("datetime64[s]").astype(float)
        ages = np.where(last >= 0, now.timestamp() - t[np.clip(last, 0, n - 1)], 60.0 * lookback_min)
    else:
        ages = np.full(a.shape[1], 60.0 * lookback_min)
    if not (last >= 0).any():
        ages = np.full(a.shape[1], np.nan)
    return _series(vals, frame.columns), _series(ages, frame.columns)


def _on_threshold(d) -> float:
    off = getattr(d, "off_kw", None)
    if off is not None:
        return float(off)
    return 0.5 * d.standby_kw if d.standby_kw > 0 else 0.02 * d.rated_power_kw


def gather(store, now: dt.datetime, *, rooms: dict[str, dict[str, float]] | None = None, tariff=None,
           onsite: dict[str, dict[int, dict]] | None = None, lookback_min: int = LOOKBACK_MIN) -> Snapshot:
    """The snapshot at ``now`` (an aware time) from ``store`` (a :class:`workspace.store.Store`).

    ``rooms``: room id -> {point: value} as read (temperature, humidity, switch, leak, smoke, door).
    ``tariff``: a :class:`workspace.tariffs.Tariff` (default: the plant's, where it has one).
    ``onsite``: unit id -> {SunSpec model id: {point: value}} as read (:func:`collectors.points.read_sunspec`).
    """
    site = store.site
    tz = store.tz
    t = pd.Timestamp(now).tz_convert(tz).floor("min") + pd.Timedelta(minutes=1)  # the minute ``now`` is in, included
    held = [m.id for m in site.meters if m.id in store._midx]
    elec = [m.id for m in site.meters if m.id in store._midx and m.medium == Medium.electricity]
    out: Snapshot = {}
    lo = t - pd.Timedelta(minutes=lookback_min)
    rate = store.power(lo, t, meters=held, freq="1min")
    frame = pd.DataFrame(rate.values, index=pd.DatetimeIndex(rate.time.values).tz_localize(tz),
                         columns=list(rate.group.values))
    value, age = latest(frame, pd.Timestamp(now), lookback_min)
    out["power"] = value.reindex(elec)
    devices = {d.id: d for d in site.devices}
    elec_set = set(elec)
    rated = {m.id: m.rated_power_kw or (devices[m.device].rated_power_kw if m.device in devices else None)
             for m in site.meters if m.id in elec_set}
    rated = {k: v for k, v in rated.items() if v}
    if rated:
        out["power_share"] = out["power"].reindex(list(rated)) / np.array(list(rated.values()), dtype=float)
    out["age_s"] = age
    if elec:
        day0 = t.floor("D") if t != t.floor("D") else t - pd.Timedelta(days=1)
        hour0 = t.floor("h") if t != t.floor("h") else t - pd.Timedelta(hours=1)
        for name, start in (("energy_day", day0), ("energy_hour", hour0)):
            e = store.energy(start, t, meters=elec, freq=None)
            out[name] = _series(e.values, e.group.values)
        q = store.quality_report(t - pd.Timedelta(minutes=QUALITY_WINDOW_MIN), t, meters=held)
        cols = [f.name.lower() for f in Q if f != Q.ESTIMATED]
        out["flagged_minutes"] = q[cols].sum(axis=1).astype(float)
    # key equipment on in a sharp or peak period
    key = [(m.id, m.device) for m in site.meters if m.device in devices and m.id in elec_set
           and getattr(devices[m.device], "key_equipment", False)]
    if key:
        if tariff is None:
            from workspace.tariffs import plant_tariff

            try:
                tariff = plant_tariff(site)
            except Exception:  # a plant without a tariff has no peak periods to watch
                tariff = None
        if tariff is not None:
            from workspace.tariffs import PERIODS

            local = pd.Timestamp(now).tz_convert(tz).tz_localize(None)
            period = PERIODS[int(tariff.schedule.period_index(pd.DatetimeIndex([local]))[0])]
            p = out["power"].reindex([m for m, _ in key]).to_numpy()
            on = p > np.array([_on_threshold(devices[d]) for _, d in key])
            peak = period in PEAK_PERIODS
            out["on_in_peak"] = _series(np.where(np.isnan(p), np.nan, (on & peak).astype(float)), [m for m, _ in key])
    if site.transformers:
        from .figures import transformer_load_rates

        out["load_rate"] = transformer_load_rates(store, now, out["power"])
    if rooms:
        out.update(room_points(rooms))
    if onsite:
        out.update(onsite_points(onsite))
    return out


def room_points(rooms: dict[str, dict[str, float]]) -> Snapshot:
    """``room.<point>`` series from room id -> {point: value}: every point of
    :data:`workspace.points.ROOM_POINTS`, NaN for a room that was not read (its alarms hold)."""
    from workspace.points import ROOM_POINTS

    points = ROOM_POINTS
    return {f"room.{p}": pd.Series({rid: float(r.get(p, np.nan)) for rid, r in rooms.items()}, dtype=float)
            for p in points}


#: SunSpec model 103 operating state "FAULT" (smdx_00103.xml, point St)
SUNSPEC_FAULT = 7


def onsite_points(units: dict[str, dict[int, dict]]) -> Snapshot:
    """``onsite.fault`` (1 in SunSpec state FAULT, else 0; NaN without a state) by unit and ``onsite.soc``
    [%] by battery, from what :func:`collectors.points.read_sunspec` returned."""
    fault, soc = {}, {}
    for uid, models in units.items():
        st = models.get(103, {}).get("St")
        fault[uid] = np.nan if st is None else float(st == SUNSPEC_FAULT)
        if 124 in models and models[124].get("ChaState") is not None:
            soc[uid] = float(models[124]["ChaState"])
    out = {"onsite.fault": pd.Series(fault, dtype=float)}
    if soc:
        out["onsite.soc"] = pd.Series(soc, dtype=float)
    return out


def extend(snap: Snapshot, **figures: pd.Series) -> Snapshot:
    """The snapshot with figures computed by other models (``anomaly_score=``, ``unit_consumption=``,
    ``load_rate=`` …), each a Series by target id; a figure given replaces the one gathered."""
    out = dict(snap)
    for name, s in figures.items():
        if s is not None:
            out[name] = s.astype(float)
    return out
