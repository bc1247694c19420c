"""Device states from power: off, start-up, standby and running; the energy in each, the standby energy
that switching off would have saved, and the best observed habit per device class.

Thresholds: the site model's ``Device.off_kw`` and ``Device.running_kw`` where given, else learned from the
device's own minutes: off below max(2 % of rated power, 0.05 kW); among the minutes above it, two clusters
(one-dimensional 2-means on the power) split at the midpoint of their centres into standby and running
(a device that never shows two clusters is running whenever on). ``Device.startup_min`` minutes after a
switch from off count as start-up. A standby stretch of at least ``idle_min`` minutes is one that
switching off would have saved (less ``keep_min`` minutes a machine may need to stay ready).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: the states, in code order
STATES = ("off", "startup", "standby", "running")
OFF, STARTUP, STANDBY, RUNNING = range(4)


@dataclass(frozen=True)
class Thresholds:
    off_kw: float
    running_kw: float
    source: str


def learn_thresholds(power: np.ndarray, rated_kw: float) -> Thresholds:
    """Thresholds learned from a device's minute powers [kW] (see the module docstring)."""
    off = max(0.02 * rated_kw, 0.05)
    v = np.asarray(power, float)
    on = v[np.isfinite(v) & (v >= off)]
    if len(on) < 10:
        return Thresholds(off, off, "learned (too few minutes on: no standby)")
    lo, hi = np.percentile(on, 10), np.percentile(on, 90)
    for _ in range(50):  # 2-means in one dimension
        cut = (lo + hi) / 2
        a, b = on[on < cut], on[on >= cut]
        if not len(a) or not len(b):
            break
        nlo, nhi = float(a.mean()), float(b.mean())
        if np.isclose(nlo, lo) and np.isclose(nhi, hi):
            break
        lo, hi = nlo, nhi
    if hi < 2 * lo or hi - lo < 0.05 * rated_kw:  # one cluster: no distinct standby level
        return Thresholds(off, off, "learned (one level when on: no standby)")
    return Thresholds(off, (lo + hi) / 2, f"learned (standby ~{lo:.2f} kW, running ~{hi:.2f} kW)")


def thresholds(device, power: np.ndarray | None = None) -> Thresholds:
    """The site model's thresholds of a :class:`workspace.site.Device`, the missing ones learned."""
    if device.off_kw is not None and device.running_kw is not None:
        return Thresholds(device.off_kw, device.running_kw, "site model")
    learned = learn_thresholds(power if power is not None else np.array([]), device.rated_power_kw)
    off = device.off_kw if device.off_kw is not None else learned.off_kw
    run = device.running_kw if device.running_kw is not None else max(learned.running_kw, off)
    return Thresholds(off, run, learned.source if device.off_kw is None else f"off from site model; {learned.source}")


def classify(power: pd.Series, th: Thresholds, *, startup_min: float = 0.0) -> pd.Series:
    """State code of each minute (pure): off below ``off_kw``, running at or above ``running_kw``,
    standby between; the first ``startup_min`` minutes after off → on are start-up. NaN power: state -1
    (unknown, counted nowhere)."""
    v = power.to_numpy(float)
    s = np.full(len(v), -1, np.int8)
    ok = np.isfinite(v)
    s[ok & (v < th.off_kw)] = OFF
    s[ok & (v >= th.off_kw)] = STANDBY
    s[ok & (v >= th.running_kw) & (v >= th.off_kw)] = RUNNING
    n = int(round(startup_min))
    if n > 0:
        was_off = np.r_[True, s[:-1] == OFF]
        starts = np.nonzero((s > OFF) & was_off)[0]
        for i in starts:
            j = i
            while j < len(s) and j < i + n and s[j] > OFF:
                s[j] = STARTUP
                j += 1
    return pd.Series(s, index=power.index, name=power.name)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    d = np.diff(np.r_[0, mask.astype(np.int8), 0])
    return list(zip(np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]))


def state_table(power: pd.Series, states: pd.Series, *, idle_min: float = 30.0, keep_min: float = 0.0) -> dict:
    """Minutes and energy in each state of one device's minute powers (pure).

    Returns
    -------
    dict
        ``{state}_min`` [min] and ``{state}_kwh`` [kWh] for each state, ``standby_share_pct`` (standby kWh
        of all kWh) [%], ``saveable_kwh``: the standby energy of stretches of at least ``idle_min``
        minutes, beyond their first ``keep_min`` minutes [kWh]; ``idle_stretches``.
    """
    v = np.nan_to_num(power.to_numpy(float))
    s = states.to_numpy()
    out: dict[str, float] = {}
    for k, name in enumerate(STATES):
        m = s == k
        out[f"{name}_min"] = float(m.sum())
        out[f"{name}_kwh"] = float(v[m].sum() / 60.0)
    total = sum(out[f"{n}_kwh"] for n in STATES)
    out["standby_share_pct"] = out["standby_kwh"] / total * 100.0 if total > 0 else np.nan
    save, count = 0.0, 0
    for a, b in _runs(s == STANDBY):
        if b - a >= idle_min:
            count += 1
            save += float(v[a + int(keep_min):b].sum() / 60.0)
    out["saveable_kwh"] = save
    out["idle_stretches"] = count
    return out


def device_states(store, site, start, end, *, devices: list[str] | None = None, idle_min: float = 30.0,
                  keep_min: float = 0.0, as_of=None) -> pd.DataFrame:
    """States of every metered device (or ``devices``) over ``[start, end)`` from its minute power.

    Returns
    -------
    pandas.DataFrame
        Index device; columns ``kind``, ``role``, ``off_kw``, ``running_kw``, ``thresholds`` (their
        source) and those of :func:`state_table`.
    """
    from workspace.store.query import device_meters, power

    metered = device_meters(site)
    ids = [d for d in (devices or list(metered)) if d in metered]
    if not ids:
        return pd.DataFrame()
    p = power(store, start, end, by="device", freq="1min", as_of=as_of).to_pandas()
    rows = {}
    for d in ids:
        dev = site.device(d)
        series = p[d]
        th = thresholds(dev, series.to_numpy())
        st = classify(series, th, startup_min=dev.startup_min)
        rows[d] = {"kind": dev.kind.value, "role": dev.role, "off_kw": th.off_kw, "running_kw": th.running_kw,
                   "thresholds": th.source, **state_table(series, st, idle_min=idle_min, keep_min=keep_min)}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "device"
    return out


def best_habits(table: pd.DataFrame) -> pd.DataFrame:
    """The best observed habit per device class (pure): in each ``kind``, the device with the lowest
    standby share, and what the others would save at that share.

    ``table``: :func:`device_states`' result (or one row per device and shift, index any).

    Returns
    -------
    pandas.DataFrame
        Index kind; columns ``devices``, ``best`` (index label of the best row), ``best_standby_share_pct``,
        ``median_standby_share_pct``, ``standby_kwh`` (all devices), ``saving_at_best_kwh`` = Σ over the
        others of max(standby − total × best share, 0).
    """
    rows = {}
    t = table[table["standby_share_pct"].notna()]
    for kind, g in t.groupby("kind"):
        best = g["standby_share_pct"].idxmin()
        share = float(g.loc[best, "standby_share_pct"]) / 100.0
        total = sum(g[f"{n}_kwh"] for n in STATES)
        saving = float(np.maximum(g["standby_kwh"] - total * share, 0).sum())
        rows[kind] = {"devices": len(g), "best": best, "best_standby_share_pct": share * 100,
                      "median_standby_share_pct": float(g["standby_share_pct"].median()),
                      "standby_kwh": float(g["standby_kwh"].sum()), "saving_at_best_kwh": saving}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "kind"
    return out


def shift_states(store, site, start, end, *, devices: list[str] | None = None, as_of=None) -> pd.DataFrame:
    """:func:`device_states` per device and shift (the site's shifts over the days of ``[start, end)``;
    minutes outside every shift as shift ``(none)``), for comparing habits across shifts.

    Returns
    -------
    pandas.DataFrame
        Index ``(device, shift)``; columns as :func:`device_states`.
    """
    import datetime as dt

    from models.energy.unit_consumption import NO_SHIFT, shift_windows
    from workspace.store.query import device_meters, power

    metered = device_meters(site)
    ids = [d for d in (devices or list(metered)) if d in metered]
    p = power(store, start, end, by="device", freq="1min", as_of=as_of).to_pandas()
    a, b = pd.Timestamp(start).date(), (pd.Timestamp(end) - pd.Timedelta(minutes=1)).date()
    win = shift_windows(site.shifts, a - dt.timedelta(days=1), b)
    label = np.full(len(p), NO_SHIFT, dtype=object)
    t = p.index.as_unit("ns").asi8
    for _, w in win.iterrows():
        i0, i1 = np.searchsorted(t, [w["start"].value, w["end"].value])
        label[i0:i1] = w["shift"]
    rows = {}
    for d in ids:
        dev = site.device(d)
        th = thresholds(dev, p[d].to_numpy())
        st = classify(p[d], th, startup_min=dev.startup_min)
        for sh in pd.unique(label):
            m = label == sh
            rows[(d, sh)] = {"kind": dev.kind.value, "role": dev.role, "off_kw": th.off_kw,
                             "running_kw": th.running_kw, "thresholds": th.source,
                             **state_table(p[d][m], st[m])}
    if not rows:
        return pd.DataFrame()
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.names = ["device", "shift"]
    return out
