"""The big screen's tiles' figures, read through the query API and the models (no Panel here), and the short
cache that lets every session of a server share them.

Each tile's figures are a function of the store's snapshot (and, for the alarms, of the alarm log): a refresh
asks :func:`cached` for them with the snapshot the page reads; the first session to ask computes them, the
others get the same object. A slow tile (the year's trends, the allowance's forecast) may keep figures read at an
older snapshot for ``max_age_s`` seconds while the collector keeps folding; every tile's figures name the
snapshot they were read at (``snapshot``), and the page writes it into the tile (``data-snapshot``), so what is
shown can always be recomputed from the query API at that snapshot.

Functions (all local time, tz-naive bounds, like the query API):

``trends``       electricity [kWh] and location-based CO2e [kg] per day of the last 30 days, and the year to date
                 against the same span of last year (:mod:`models.scope2`, :mod:`models.combustion`).
``quota``        :func:`models.quota.quota_status` of the site's enterprise (allowance, emitted, forecast with its
                 interval, green share); ``None`` when the year has no allowance.
``tou``          :func:`models.energy.tou.tou_cost` of the plant today and this month under the site's tariff.
``alarms``       the alarms an operator sees (:func:`models.alarms.shown`: most urgent first, newest first within
                 a priority) and their count per priority.
``floor``        the state of every position of the floor plan: running / standby / off (:mod:`models.energy.
                 states`, from the device's newest minute powers) / alarm (an alarm shown on it or its meter) /
                 no data (no meter, or no reading in the last :data:`LIVE_MINUTES` minutes).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

TREND_DAYS = 30
#: a device's state is its newest minute within this many minutes of the newest reading; older: no data
LIVE_MINUTES = 15
#: minutes of history the standby / running thresholds are learned from (when the site model does not give them)
LEARN_MINUTES = 24 * 60
FLOOR_STATES = ("running", "standby", "off", "alarm", "no data")
PRIORITIES = ("critical", "high", "medium", "low")


# -- the shared cache ----------------------------------------------------------------------------------------
@dataclass
class _Entry:
    key: object
    at: float
    value: object
    lock: threading.Lock = field(default_factory=threading.Lock)


_cache: dict[tuple[str, str], _Entry] = {}
_cache_lock = threading.Lock()


def cached(name: str, where: str, key, compute, *, max_age_s: float = 0.0):
    """``compute()`` once per ``key`` (e.g. the snapshot) for all sessions of this process.

    ``where`` names the workspace (its data folder), ``name`` the tile. With ``max_age_s`` the figures of an
    older key are reused until they are that old (a slow tile does not recompute at every fold). Two sessions
    asking at once compute once: the second waits for the first's result.
    """
    with _cache_lock:
        e = _cache.get((where, name))
        if e is None:
            e = _cache[(where, name)] = _Entry(key=None, at=-1e18, value=None)
    with e.lock:
        now = time.monotonic()
        if e.at > -1e18 and (e.key == key or now - e.at < max_age_s):
            return e.value
        value = compute()
        e.key, e.at, e.value = key, time.monotonic(), value
        return value


def peek(name: str, where: str, key):
    """The figures :func:`cached` holds for exactly ``key``, or None (computes nothing)."""
    with _cache_lock:
        e = _cache.get((where, name))
    return e.value if e is not None and e.at > -1e18 and e.key == key else None


def clear_cache() -> None:
    """Forget every tile's figures (tests, or after the site model changed)."""
    with _cache_lock:
        _cache.clear()


# -- periods -------------------------------------------------------------------------------------------------
def now_of(store, snapshot) -> pd.Timestamp | None:
    """The instant "today" ends at for ``snapshot``: the newest reading's minute + 1 min, local, tz-naive (as
    :func:`models.kpi.plant_kpis` takes it); None for an empty store."""
    latest = store.latest_time(snapshot)
    if latest is None:
        return None
    t = pd.Timestamp(latest)
    t = t.tz_convert(store.tz) if t.tzinfo else t.tz_localize(store.tz)
    return t.tz_localize(None).floor("min") + pd.Timedelta(minutes=1)


def _plant_daily(store, start, end, snapshot, methodology) -> pd.DataFrame:
    """Plant electricity [kWh], natural gas [m3] and location-based CO2e [kg] per local day of [start, end)."""
    from models.combustion import natural_gas_combustion
    from models.scope2 import electricity_location_based

    kw = dict(by="plant", freq="1D", as_of=snapshot)
    elec = store.energy(start, end, medium="electricity", **kw)
    gas = store.energy(start, end, medium="natural_gas", **kw)
    mk = {} if methodology is None else {"methodology": methodology}
    e_co2 = electricity_location_based(elec.fillna(0), **mk)
    g_co2 = natural_gas_combustion(gas.fillna(0), **mk)
    days = pd.DatetimeIndex(elec.time.values)

    def col(a) -> np.ndarray:
        v = np.asarray(a.values, float)
        return v.reshape(len(days), -1).sum(axis=1) if v.size else np.zeros(len(days))

    ev = np.asarray(elec.values, float).reshape(len(days), -1)
    has = np.isfinite(ev).any(axis=1)
    out = pd.DataFrame({"electricity_kWh": np.where(has, np.nansum(ev, axis=1), np.nan),
                        "natural_gas_m3": col(gas.fillna(0)),
                        "co2e_kg": np.where(has | (col(gas.fillna(0)) > 0), col(e_co2) + col(g_co2), np.nan)},
                       index=days)
    out.index.name = "day"
    return out


def trends(store, snapshot, methodology=None) -> dict | None:
    """The last :data:`TREND_DAYS` days and the year to date against last year's same span.

    Returns
    -------
    dict or None
        ``daily``: DataFrame per local day (the last one partial, to the newest reading) with
        ``electricity_kWh`` and ``co2e_kg`` (NaN: a day without readings); ``ytd`` and ``last_ytd``:
        ``{"electricity_kWh", "co2e_kg", "start", "end"}`` of [1 January, now) this year and the same span last
        year (values None when last year has no reading); ``snapshot``. None for an empty store.
    """
    now = now_of(store, snapshot)
    if now is None:
        return None
    day = now.normalize()
    jan1 = day.replace(month=1, day=1)
    start = min(jan1, day - pd.Timedelta(days=TREND_DAYS - 1))
    this = _plant_daily(store, start, now, snapshot, methodology)
    ly_jan1 = jan1.replace(year=jan1.year - 1)
    try:
        ly_now = now.replace(year=now.year - 1)
    except ValueError:  # 29 February
        ly_now = now.replace(year=now.year - 1, day=28)
    last = _plant_daily(store, ly_jan1, ly_now, snapshot, methodology)
    ytd = this.loc[this.index >= jan1]
    daily = this.loc[this.index >= day - pd.Timedelta(days=TREND_DAYS - 1), ["electricity_kWh", "co2e_kg"]]

    def total(df, a, b) -> dict:
        has = bool(df["electricity_kWh"].notna().any())
        return {"electricity_kWh": float(np.nansum(df["electricity_kWh"])) if has else None,
                "co2e_kg": float(np.nansum(df["co2e_kg"])) if has else None, "start": a, "end": b}

    return {"daily": daily, "ytd": total(ytd, jan1, now), "last_ytd": total(last, ly_jan1, ly_now),
            "snapshot": snapshot}


@dataclass(frozen=True)
class QuotaFigures:
    """What the allowance tile shows [kgCO2e]; ``forecast_*`` None when there is no forecast yet (``note``)."""

    year: int
    quota_kg: float
    emitted_kg: float
    forecast_kg: float | None
    lower_kg: float | None
    upper_kg: float | None
    level: float | None
    green_share: float | None
    note: str
    alarm: str | None
    snapshot: str


def quota(cfg, store, snapshot) -> QuotaFigures | None:
    """The year's allowance figures (:func:`models.quota.quota_status`, the allowance as last recorded: no chain
    call from a page); None when the year of the newest reading has no allowance."""
    from chain.quota import QuotaBook
    from models.quota import quota_status

    t = store.latest_time(snapshot)
    if t is None:
        return None
    ent = cfg.site.enterprise.credit_code or cfg.site.plant.id  # the id allowances are filed under
    book = QuotaBook(cfg.paths.chain, None)
    if book.effective(ent, t.year) is None:
        return None
    st = quota_status(store, book, ent, t.year, as_of=snapshot)
    fc = st.forecast
    return QuotaFigures(year=t.year, quota_kg=float(st.quota.amount_kg),
                        emitted_kg=float(st.settlement["emissions_kg"].sum()),
                        forecast_kg=None if fc is None else float(fc.total_kg),
                        lower_kg=None if fc is None else float(fc.lower_kg),
                        upper_kg=None if fc is None else float(fc.upper_kg),
                        level=None if fc is None else float(fc.level), green_share=st.green_share,
                        note=st.forecast_note, alarm=None if st.alarm is None else st.alarm.message,
                        snapshot=snapshot)


def tou(cfg, store, snapshot) -> dict | None:
    """Time-of-use energy, shares and cost of the plant today and this month (:func:`models.energy.tou.tou_cost`).

    Returns ``{"today": row, "month": row, "tariff": id, "status": ..., "prices": {...}, "periods": {name: (start,
    end)}, "snapshot"}`` (a row: the columns of :func:`models.energy.tou.split`), None for an empty store.
    Raises :class:`workspace.errors.TanjianError` when the tariff does not cover the period.
    """
    from models.energy.tou import tou_cost
    from workspace.tariffs import config_tariff

    now = now_of(store, snapshot)
    if now is None:
        return None
    tariff = config_tariff(cfg)
    day = now.normalize()
    spans = {"today": (day, now), "month": (day.replace(day=1), now)}
    rows = {k: tou_cost(store, tariff, a, b, by="plant", as_of=snapshot) for k, (a, b) in spans.items()}
    m = rows["month"]
    return {"today": rows["today"].iloc[0].to_dict(), "month": m.iloc[0].to_dict(), "tariff": m.attrs["tariff"],
            "status": m.attrs.get("tariff_status"), "prices": m.attrs.get("prices", {}), "periods": spans,
            "snapshot": snapshot}


def alarm_log_key(data_dir: Path) -> tuple:
    """What changes when the alarm log is written (the file and its WAL's size and time)."""
    from models.alarms.db import FILE

    out = []
    for p in (data_dir / FILE, data_dir / (FILE + "-wal")):
        try:
            s = p.stat()
            out.append((s.st_mtime_ns, s.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


def alarms(data_dir: Path) -> dict:
    """``{"rows": shown alarms (most urgent first), "counts": {priority: n}}``; no log yet: none."""
    from models.alarms import AlarmDB, shown
    from models.alarms.db import FILE

    rows: list[dict] = []
    if (Path(data_dir) / FILE).exists():
        with AlarmDB.in_data_dir(data_dir) as db:
            rows = shown(db)
    counts = {p: sum(1 for a in rows if a["priority"] == p) for p in PRIORITIES}
    return {"rows": rows, "counts": counts}


def alarm_positions(site, targets) -> dict[str, list[str]]:
    """Position id of the floor plan -> the alarm targets that mark it: a target on the plan itself, or the
    devices a meter measures."""
    plan = site.floor_plan
    if plan is None:
        return {}
    meter_devices: dict[str, list[str]] = {}
    for m in site.meters:
        if m.device:
            meter_devices.setdefault(m.id, []).append(m.device)
    out: dict[str, list[str]] = {}
    for t in targets:
        for pid in ([t] if t in plan.positions else meter_devices.get(t, [])):
            if pid in plan.positions:
                out.setdefault(pid, []).append(t)
    return out


def thresholds(store, site, snapshot) -> dict:
    """Device -> :class:`models.energy.states.Thresholds` (the site model's, the missing ones learned from the
    device's minutes of the last :data:`LEARN_MINUTES` minutes)."""
    from models.energy.states import thresholds as th_of
    from workspace.store.query import device_meters

    now = now_of(store, snapshot)
    ids = [d for d in device_meters(site) if d in (site.floor_plan.positions if site.floor_plan else {})]
    if now is None or not ids:
        return {}
    need = [d for d in ids if site.device(d).off_kw is None or site.device(d).running_kw is None]
    p = store.power(now - pd.Timedelta(minutes=LEARN_MINUTES), now, by="device", freq="1min",
                    as_of=snapshot).to_pandas() if need else pd.DataFrame()
    return {d: th_of(site.device(d), p[d].to_numpy() if d in p else None) for d in ids}


def floor(store, site, snapshot, th: dict, alarmed: dict[str, list[str]]) -> dict:
    """State of every position of the floor plan.

    Returns
    -------
    dict
        ``states``: {position: {"state", "kw" (newest minute's power or None), "kind", "name", "alarms"}};
        ``counts``: {state: n}; ``at``: the minute the states are of; ``snapshot``.
    """
    from models.energy.states import classify, OFF, RUNNING, STANDBY, STARTUP

    plan = site.floor_plan
    if plan is None:
        return {"states": {}, "counts": {s: 0 for s in FLOOR_STATES}, "at": None, "snapshot": snapshot}
    now = now_of(store, snapshot)
    live = pd.DataFrame()
    if now is not None and th:
        live = store.power(now - pd.Timedelta(minutes=LIVE_MINUTES), now, by="device", freq="1min",
                           as_of=snapshot).to_pandas()
    devices = {d.id: d for d in site.devices}
    states = {}
    for pid in plan.positions:
        dev = devices.get(pid)
        kw, state = None, "no data"
        if dev is not None and pid in th and pid in live:
            s = live[pid].dropna()
            if len(s):
                kw = float(s.iloc[-1])
                code = int(classify(s.iloc[-1:], th[pid]).iloc[0])
                state = {OFF: "off", STANDBY: "standby", RUNNING: "running", STARTUP: "running"}.get(code, "no data")
        if pid in alarmed:
            state = "alarm"
        kind = "device" if dev is not None else pid.split("-")[0].lower()
        states[pid] = {"state": state, "kw": kw, "kind": kind, "name": dev.name if dev is not None else pid,
                       "alarms": alarmed.get(pid, [])}
    counts = {s: sum(1 for v in states.values() if v["state"] == s) for s in FLOOR_STATES}
    return {"states": states, "counts": counts, "at": None if now is None else now - pd.Timedelta(minutes=1),
            "snapshot": snapshot}


def as_local(t: float, tz) -> dt.datetime:
    """A UTC epoch [s] as local time."""
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).astimezone(tz)


_stores: dict[str, object] = {}
_stores_lock = threading.Lock()


def shared_store(cfg):
    """One open :class:`workspace.store.Store` per store of this process, for every session of the big screen
    (opening one takes a while; each query names its snapshot, so sessions cannot disturb each other)."""
    from workspace.store import Store

    key = str(cfg.paths.store)
    with _stores_lock:
        s = _stores.get(key)
        if s is None:
            s = _stores[key] = Store.open(cfg.paths.store, cfg.site)
        return s
