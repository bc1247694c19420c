"""Collection status of the metering fleet: per device and per gateway, its protocol, last reading, age, data
quality (gaps, rejected frames) and state ``ok | stale | dead | flapping``.

It joins what exists: the collector's health file (:func:`collectors.health.device_health`: reads, failures,
rejected payloads, last good read), the store's fold state (the last reading folded per meter, through
:func:`workspace.business.manual.last_reading`) and its quality report (:meth:`workspace.store.Store.quality_report`:
minutes without a reading in the window), and the site model (gateway, protocol, polling period). The thresholds
of the states are data: ``workspace/data/device_states.yaml`` (in polling periods of each meter).

``tanjian health`` shows the collector's own view; this module is for the data-collection page and notebooks.
"""

from __future__ import annotations

import functools
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from workspace.errors import TanjianError

from .health import device_health

#: the states, in the order a person should look at them, with what each means
STATES = {
    "dead": "no good reading for dead_after_periods or more, never read, or failing and never answered since "
            "the collector started",
    "stale": "failing now, or no good reading for stale_after_periods or more",
    "flapping": "answers now, but a large share of its reads failed",
    "ok": "read at its last attempt, recently, and rarely failing",
}
THRESHOLDS_FILE = Path(__file__).resolve().parents[1] / "workspace" / "data" / "device_states.yaml"
#: columns of :func:`device_status`
COLUMNS = ("gateway", "protocol", "medium", "workshop", "period_s", "last_reading", "age_s", "gaps_min",
           "completeness_pct", "rejected", "errors", "reads", "state", "reason")


@functools.lru_cache(maxsize=1)
def thresholds() -> dict:
    """The state thresholds of ``workspace/data/device_states.yaml`` (checked: numbers, stale < dead)."""
    from workspace.yamlfile import read_yaml

    doc = read_yaml(THRESHOLDS_FILE)
    keys = ("stale_after_periods", "dead_after_periods", "flapping_min_errors", "flapping_min_share")
    try:
        out = {k: float(doc[k]) for k in keys}
    except (KeyError, TypeError, ValueError) as exc:
        raise TanjianError(f"{THRESHOLDS_FILE}: {exc}: each of {', '.join(keys)} must be a number") from None
    if not 0 < out["stale_after_periods"] < out["dead_after_periods"]:
        raise TanjianError(f"{THRESHOLDS_FILE}: stale_after_periods must be above 0 and below dead_after_periods")
    return out


def classify(age_s: float, period_s: float, failing: int, reads: int, errors: int,
             th: dict | None = None) -> tuple[str, str]:
    """``(state, reason)`` of one device.

    Parameters
    ----------
    age_s : float
        Seconds since its last good reading (NaN: never read).
    period_s : float
        Its polling period [s].
    failing : int
        Consecutive failed attempts now.
    reads, errors : int
        Good and failed reads since the collector started.
    """
    th = th or thresholds()
    if age_s is None or not math.isfinite(age_s):
        return "dead", "never read"
    periods = age_s / period_s
    if periods >= th["dead_after_periods"]:
        return "dead", f"last reading {periods:,.0f} periods ago (≥ {th['dead_after_periods']:g})"
    if failing and not reads:
        return "dead", f"never answered since the collector started ({failing} failed attempt(s))"
    if failing:
        return "stale", f"{failing} failed attempt(s) in a row"
    if periods >= th["stale_after_periods"]:
        return "stale", f"last reading {periods:,.1f} periods ago (≥ {th['stale_after_periods']:g})"
    attempts = reads + errors
    if errors >= th["flapping_min_errors"] and attempts and errors / attempts >= th["flapping_min_share"]:
        return "flapping", f"{errors} of {attempts} reads failed ({errors / attempts:.0%})"
    return "ok", ""


def _fold_last(store) -> dict[str, pd.Timestamp]:
    """The last reading folded into ``store`` per meter [UTC] (spikes excluded; the fold state's)."""
    from workspace.business.manual import last_reading

    out = {}
    for m in store.site.meter_ids():
        if m in store._midx:
            r = last_reading(store, m)
            if r is not None:
                out[m] = pd.Timestamp(r.time).tz_convert("UTC")
    return out


def device_status(data_dir, site, store=None, *, now: float | None = None, window_h: float = 24.0) -> pd.DataFrame:
    """Per-meter collection status.

    Parameters
    ----------
    data_dir : path
        ``paths.data_dir`` (the collector's health file is under it).
    site : workspace.site.Site
    store : workspace.store.Store, optional
        For the last folded reading and the gaps; without it, only the collector's health counts.
    now : float, optional
        The present [s since the epoch] (default: the wall clock).
    window_h : float
        The window of ``gaps_min`` and ``completeness_pct``: the last ``window_h`` hours up to ``now``.

    Returns
    -------
    pandas.DataFrame
        Index ``meter``; columns :data:`COLUMNS`: ``last_reading`` (UTC, the later of the collector's last good
        read and the store's last folded reading), ``age_s`` [s] since it, ``gaps_min`` [min] minutes of the
        window without a reading, ``completeness_pct`` [%], ``rejected`` (payloads refused as malformed or
        badly signed), ``errors`` and ``reads`` (since the collector started), ``state`` (:data:`STATES`) and
        ``reason``. ``attrs``: ``window`` (start, end UTC), ``health_written_at``, ``thresholds``.
    """
    now = time.time() if now is None else now
    th = thresholds()
    health = device_health(data_dir, site, now=now)
    folded = _fold_last(store) if store is not None else {}
    gaps = completeness = None
    end = pd.Timestamp(now, unit="s", tz="UTC").floor("min")
    start = end - pd.Timedelta(hours=window_h)
    if store is not None and store.latest_time() is not None:
        tz = site.plant.timezone
        meters = [m for m in site.meter_ids() if m in store._midx]
        q = store.quality_report(start.tz_convert(tz).to_pydatetime(), end.tz_convert(tz).to_pydatetime(),
                                 meters=meters)
        gaps, completeness = q["minutes"] - q["readings"], q["completeness_pct"]
    gateways = {g.id: g for g in site.gateways}
    rows = {}
    for m in site.meters:
        h = health.loc[m.id] if m.id in health.index else None
        seen = h["last_seen"] if h is not None else pd.NaT
        last = max((t for t in (seen, folded.get(m.id, pd.NaT)) if t is not pd.NaT and pd.notna(t)), default=pd.NaT)
        age = now - last.timestamp() if pd.notna(last) else np.nan
        reads = int(h["reads"]) if h is not None else 0
        errors = int(h["errors"]) if h is not None else 0
        failing = int(h["consecutive_failures"]) if h is not None else 0
        state, reason = classify(age, m.period_s, failing, reads, errors, th)
        if state != "ok" and h is not None and h["last_error"]:
            reason = f"{reason}; last error: {h['last_error']}"
        g = gateways.get(m.gateway)
        rows[m.id] = {"gateway": m.gateway, "protocol": g.protocol if g is not None else "",
                      "medium": getattr(m.medium, "value", str(m.medium)), "workshop": m.workshop or "",
                      "period_s": m.period_s, "last_reading": last, "age_s": age,
                      "gaps_min": int(gaps[m.id]) if gaps is not None and m.id in gaps else np.nan,
                      "completeness_pct": float(completeness[m.id]) if completeness is not None
                      and m.id in completeness else np.nan,
                      "rejected": int(h["rejected"]) if h is not None else 0, "errors": errors, "reads": reads,
                      "state": state, "reason": reason}
    df = pd.DataFrame.from_dict(rows, orient="index", columns=list(COLUMNS))
    df.index.name = "meter"
    df["last_reading"] = pd.to_datetime(df["last_reading"], utc=True)
    df.attrs = {"window": (start.isoformat(), end.isoformat()), "health_written_at": health.attrs.get("written_at"),
                "thresholds": dict(th)}
    return df


def gateway_status(devices: pd.DataFrame) -> pd.DataFrame:
    """Per gateway: protocol, meters, the count of each state, the newest reading and the oldest age [s]."""
    if devices.empty:
        return pd.DataFrame()
    g = devices.groupby("gateway", sort=True)
    out = pd.DataFrame({"protocol": g["protocol"].first(), "meters": g.size()})
    for s in STATES:
        out[s] = g["state"].apply(lambda x, s=s: int((x == s).sum()))
    out["newest_reading"] = g["last_reading"].max()
    out["oldest_age_s"] = g["age_s"].max()
    out["rejected"] = g["rejected"].sum()
    out["gaps_min"] = g["gaps_min"].sum(min_count=1)
    return out


def local_time(ts: pd.Series, tz: str) -> pd.Series:
    """UTC timestamps as local ``YYYY-MM-DD HH:MM`` text ("" where missing)."""
    return ts.dt.tz_convert(tz).dt.strftime("%Y-%m-%d %H:%M").fillna("")


__all__ = ["COLUMNS", "STATES", "classify", "device_status", "gateway_status", "local_time", "thresholds"]
