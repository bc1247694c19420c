"""Device health as a table: what the collector last wrote to ``<data_dir>/run/health.json``.

:class:`~collectors.service.CollectionService` rewrites that file after every poll cycle with one
:class:`~collectors.polling.DeviceHealth` per meter it polls. :func:`device_health` reads it into a
DataFrame for ``tanjian health``, notebooks and the dashboards; it never talks to the collector, so it
works the same whether the collector runs or has stopped (then ``attrs["age_s"]`` grows).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from workspace.errors import TanjianError

#: columns of :func:`device_health`, in order
COLUMNS = ("state", "last_seen", "seen_ago_s", "reads", "errors", "consecutive_failures", "latency_ms",
           "backoff_s", "next_attempt", "rejected", "superseded", "unsupported", "last_error", "clock_offset_s")

STATES = {
    "ok": "answered at its last attempt",
    "backing_off": "failed at its last attempt(s); the collector waits backoff_s before the next one",
    "never_seen": "in the site model but never read by this collector (not polled, or not yet)",
}


def health_path(data_dir: str | os.PathLike) -> Path:
    """Where the collector writes its health: ``<data_dir>/run/health.json``."""
    return Path(data_dir) / "run" / "health.json"


def _ts(epoch) -> pd.Timestamp:
    return pd.Timestamp(epoch, unit="s", tz="UTC") if epoch else pd.NaT


def device_health(data_dir: str | os.PathLike, site=None, *, now: float | None = None) -> pd.DataFrame:
    """Per-device health from the collector's last health file.

    Parameters
    ----------
    data_dir : path
        The workspace's ``paths.data_dir``.
    site : workspace.site.Site, optional
        Adds a ``never_seen`` row for every meter of the site model the collector has not reported.
    now : float, optional
        The present [s since the epoch] (default: the wall clock), for ``seen_ago_s`` and ``age_s``.

    Returns
    -------
    pandas.DataFrame
        Index ``meter``; columns ``state`` (see :data:`STATES`), ``last_seen`` (UTC) of the last good
        read, ``seen_ago_s`` [s], ``reads`` and ``errors`` (counts since the collector started),
        ``consecutive_failures``, ``latency_ms`` [ms] of the last good read, ``backoff_s`` [s] (the
        current wait between attempts, 0 while the device answers), ``next_attempt`` (UTC),
        ``rejected`` (payloads refused as malformed or badly signed, for collectors that receive
        pushed data), ``superseded`` (readings of a minute that already had its reading, from devices that
        push or servers that notify faster than the store's one-minute grid: not journaled, see
        :mod:`collectors.minute`), ``unsupported`` (the items, by identifier, a DL/T 645 meter answered
        abnormally, which are not asked for until they are probed again daily: its readings carry the
        rest; "" when none), ``last_error`` and ``clock_offset_s`` [s] (the device's clock minus the
        collector's at the last read that told it; NaN for devices that tell no time). ``attrs``: ``health_file``, ``written_at`` (UTC or None when
        there is no file), ``age_s`` [s], ``cycles``, ``acknowledged``, ``journal_batches``,
        ``pending_cycles``, ``fold_error``, ``clock``.

    Raises
    ------
    TanjianError
        When the file exists but cannot be read as the collector's health (names the file).
    """
    path = health_path(data_dir)
    now = time.time() if now is None else now
    doc: dict = {}
    if path.exists():
        try:
            doc = json.loads(path.read_text())
            devices = doc["devices"]
            if not isinstance(devices, dict):
                raise TypeError("'devices' is not a mapping")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise TanjianError(f"{path}: not a collector health file ({type(exc).__name__}: {exc})") from exc
    else:
        devices = {}
    rows = {}
    for meter, d in devices.items():
        failures = int(d.get("consecutive_failures") or 0)
        last_seen = d.get("last_seen")
        if failures:
            state = "backing_off"
        elif last_seen is None:
            state = "never_seen"
        else:
            state = "ok"
        rows[meter] = {
            "state": state, "last_seen": _ts(last_seen),
            "seen_ago_s": (now - last_seen) if last_seen else np.nan,
            "reads": int(d.get("reads") or 0), "errors": int(d.get("errors") or 0),
            "consecutive_failures": failures,
            "latency_ms": float(d["latency_ms"]) if d.get("latency_ms") is not None else np.nan,
            "backoff_s": float(d.get("backoff_s") or 0.0),
            "next_attempt": _ts(d.get("next_attempt")) if failures else pd.NaT,
            "rejected": int(d.get("rejected") or 0), "superseded": int(d.get("superseded") or 0),
            "unsupported": ", ".join(sorted(d.get("unsupported") or {})),
            "last_error": d.get("last_error"),
            "clock_offset_s": float(d["clock_offset_s"]) if d.get("clock_offset_s") is not None else np.nan,
        }
    if site is not None:
        for m in site.meter_ids():
            rows.setdefault(m, {"state": "never_seen", "last_seen": pd.NaT, "seen_ago_s": np.nan, "reads": 0,
                                "errors": 0, "consecutive_failures": 0, "latency_ms": np.nan, "backoff_s": 0.0,
                                "next_attempt": pd.NaT, "rejected": 0, "superseded": 0, "unsupported": "",
                                "last_error": None, "clock_offset_s": np.nan})
    df = pd.DataFrame.from_dict(rows, orient="index", columns=list(COLUMNS))
    df.index.name = "meter"
    df = df.sort_index()
    for col in ("last_seen", "next_attempt"):
        df[col] = pd.to_datetime(df[col], utc=True)
    written = doc.get("written_at")
    df.attrs = {"health_file": str(path), "written_at": _ts(written) if written else None,
                "age_s": (now - written) if written else None,
                **{k: doc.get(k) for k in ("cycles", "acknowledged", "journal_batches", "pending_cycles",
                                           "fold_error", "clock")}}
    return df


def summary(df: pd.DataFrame) -> str:
    """One line: how many devices are ok, backing off and never seen, and how old the file is."""
    if df.attrs.get("written_at") is None:
        head = f"collector: no health file at {df.attrs.get('health_file')} (not running here yet)"
    else:
        head = (f"collector: {df.attrs.get('cycles')} cycles, {df.attrs.get('acknowledged')} readings acknowledged, "
                f"health written {df.attrs['age_s']:.0f} s ago")
    counts = df["state"].value_counts()
    parts = [f"{int(counts.get(s, 0))} {s.replace('_', ' ')}" for s in STATES]
    lacking = int((df["unsupported"].fillna("") != "").sum()) if "unsupported" in df else 0
    tail = f"; {lacking} lacking optional items (column unsupported)" if lacking else ""
    return f"{head}; devices: " + ", ".join(parts) + tail


def render(df: pd.DataFrame, *, only_problems: bool = False) -> str:
    """The table as text for the terminal (times in UTC, durations in seconds)."""
    show = df[df["state"] != "ok"] if only_problems else df
    if show.empty:
        return "(no device to show)"
    out = show.copy()
    for col in ("last_seen", "next_attempt"):
        out[col] = out[col].dt.strftime("%Y-%m-%d %H:%M:%SZ").fillna("-")
    out["last_error"] = out["last_error"].fillna("").astype(str).str.slice(0, 80)
    unsupported = out["unsupported"].fillna("").astype(str)
    out["unsupported"] = unsupported.where(unsupported.str.len() <= 40, unsupported.str.slice(0, 39) + "…")
    return out.to_string(float_format=lambda v: f"{v:,.1f}", na_rep="-")
