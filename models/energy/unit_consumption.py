"""Unit consumption: energy (and CO2e) per unit produced, by shift, team and product, from the store's
energy and the ERP production imports (activity records of kind ``production``), with the site's shifts.

How the figures are made
------------------------
* Each shift of :attr:`workspace.site.Site.shifts` makes a window per day it works (``weekdays`` of its start
  day; a shift ending at or before its start ends the next day). The energy of a group (workshop by
  default, or line) in a window is read from the store's hourly energy; an hour a shift change cuts is split
  by its minutes (energy taken as even within the hour) unless ``exact`` reads the minutes (default for
  periods up to 62 days). Energy outside every shift is reported as shift ``(none)``: nothing is dropped.
* Production records of one day with a shift are matched to that day's window of the shift in the
  record's workshop (a record without workshop goes to the plant).
* Product intensities [kWh/unit] are fitted over the shift windows, kWh ≈ Σ_p a_p × units_p with a_p ≥ 0
  (non-negative least squares, :func:`scipy.optimize.nnls`). A window's *expected* energy is then what its
  product mix would take; ``index`` = actual / expected (below 1: better than the mix explains), and
  ``explained_share`` (R²) the part of the windows' energy differences the product mix explains.
* A team's energy is its window's energy split by the teams' expected energy (their products × a_p).
* CO2e: kWh × the location-based grid factor valid on the window's date (:mod:`models.factors`, the
  factor the KPIs use).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from workspace.errors import TanjianError

#: label of the energy outside every shift
NO_SHIFT = "(none)"


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def shift_windows(shifts, first: dt.date, last: dt.date) -> pd.DataFrame:
    """Every shift's working windows whose start day is in ``[first, last]``.

    Returns
    -------
    pandas.DataFrame
        Columns ``date`` (the start day, datetime.date), ``shift`` (id), ``start``, ``end`` (local,
        tz-naive Timestamps), sorted by start.

    Raises
    ------
    TanjianError
        When two shifts' windows overlap (their energy would be counted twice).
    """
    rows = []
    day = first
    while day <= last:
        for s in shifts:
            if day.weekday() not in s.weekdays:
                continue
            a, b = _minutes(s.start), _minutes(s.end)
            t0 = pd.Timestamp(day) + pd.Timedelta(minutes=a)
            t1 = pd.Timestamp(day) + pd.Timedelta(minutes=b + (1440 if b <= a else 0))
            rows.append((day, s.id, t0, t1))
        day += dt.timedelta(days=1)
    out = pd.DataFrame(rows, columns=["date", "shift", "start", "end"]).sort_values("start", kind="stable")
    out = out.reset_index(drop=True)
    if len(out) > 1:
        bad = out["start"].to_numpy()[1:] < out["end"].to_numpy()[:-1]
        if bad.any():
            i = int(np.nonzero(bad)[0][0])
            a, b = out.iloc[i], out.iloc[i + 1]
            raise TanjianError(f"shifts {a['shift']} ({a['start']:%Y-%m-%d %H:%M}…{a['end']:%H:%M}) and "
                               f"{b['shift']} ({b['start']:%Y-%m-%d %H:%M}…) overlap: their energy would be "
                               f"counted twice (site.shifts)")
    return out


def energy_in_windows(energy: pd.DataFrame, windows: pd.DataFrame) -> pd.DataFrame:
    """Energy of each group (column of ``energy``) in each window [kWh].

    ``energy``: energy per regular interval (local interval starts) [kWh]. An interval a window edge cuts
    counts by the share of it inside (energy taken as even within it); NaN intervals count 0 (their
    share is in the result's ``attrs["coverage"]`` per window as the share of intervals held).
    """
    if len(energy) == 0 or len(windows) == 0:
        return pd.DataFrame(0.0, index=windows.index, columns=energy.columns)
    idx = energy.index
    step = (idx[1] - idx[0]) if len(idx) > 1 else pd.Timedelta(hours=1)
    v = energy.to_numpy(dtype=float)
    held = np.isfinite(v)
    cum = np.vstack([np.zeros((1, v.shape[1])), np.cumsum(np.where(held, v, 0.0), axis=0)])
    t0 = idx[0].value
    st = step.value

    def upto(times: pd.Series) -> np.ndarray:
        x = (pd.DatetimeIndex(times).as_unit("ns").asi8 - t0) / st  # position in intervals
        x = np.clip(x, 0, len(idx))
        k = np.minimum(np.floor(x).astype(int), len(idx) - 1)
        frac = (x - k)[:, None]
        return cum[k] + frac * (cum[k + 1] - cum[k])

    out = upto(windows["end"]) - upto(windows["start"])
    res = pd.DataFrame(out, index=windows.index, columns=energy.columns)
    return res


def _production_frame(production: pd.DataFrame) -> pd.DataFrame:
    p = production
    if "kind" in p:
        p = p[p["kind"] == "production"]
    p = p.copy()
    p["date"] = pd.to_datetime(p["period_start"]).dt.date
    p["daily"] = p["period_start"] == p["period_end"]
    for c in ("shift", "team", "workshop"):
        if c not in p:
            p[c] = None
        p[c] = p[c].where(p[c].notna() & (p[c] != ""), None)
    p["quantity"] = p["quantity"].astype(float)
    return p


def fit_intensities(kwh: np.ndarray, units: pd.DataFrame) -> tuple[pd.Series, float]:
    """Non-negative least squares kWh ≈ units @ a: the products' intensities a [kWh/unit] and R² (share
    of the variance of ``kwh`` about its mean the fit explains, 0 when it does worse than the mean; NaN with
    fewer than two rows)."""
    from scipy.optimize import nnls

    A = units.to_numpy(dtype=float)
    y = np.asarray(kwh, dtype=float)
    if A.size == 0 or len(y) == 0:
        return pd.Series(dtype=float), float("nan")
    a, _ = nnls(A, y)
    fitted = A @ a
    ss = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float(((y - fitted) ** 2).sum()) / ss if len(y) > 1 and ss > 0 else float("nan")
    r2 = max(r2, 0.0) if r2 == r2 else r2  # no intercept: a fit worse than the mean explains nothing (0)
    return pd.Series(a, index=units.columns, name="kwh_per_unit"), r2


@dataclass
class UnitReport:
    """The tables of :func:`unit_consumption` (see its docstring)."""

    windows: pd.DataFrame
    shifts: pd.DataFrame
    teams: pd.DataFrame
    products: pd.DataFrame
    off_shift: pd.Series
    explained_share: float
    attrs: dict = field(default_factory=dict)


def _per(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    g = df.groupby(by, dropna=False)[["kwh", "units", "expected_kwh", "kgco2e"]].sum(min_count=1)
    g["kwh_per_unit"] = g["kwh"] / g["units"].where(g["units"] > 0)
    g["kgco2e_per_unit"] = g["kgco2e"] / g["units"].where(g["units"] > 0)
    g["index"] = g["kwh"] / g["expected_kwh"].where(g["expected_kwh"] > 0)
    return g


def shift_tables(window_kwh: pd.DataFrame, production: pd.DataFrame, *,
                 factor_of=None, plant: str = "plant") -> UnitReport:
    """The unit-consumption tables from energy per shift window and the production records (pure).

    Parameters
    ----------
    window_kwh : pandas.DataFrame
        Columns ``date``, ``shift``, ``group``, ``kwh`` [kWh]: one row per window and group (shift
        ``(none)`` for energy outside the shifts).
    production : pandas.DataFrame
        Activity records (:data:`workspace.business.contract.COLUMNS`) of kind production: ``item``
        (product), ``period_start``, ``period_end``, ``quantity`` [units], ``workshop``, ``shift``, ``team``.
    factor_of : callable, optional
        date → grid factor [kgCO2/kWh] (None: no CO2e, columns NaN).
    plant : str
        Group of records without a workshop.

    Returns
    -------
    UnitReport
        ``windows``: per (date, shift, group): ``kwh``, ``units``, ``expected_kwh``, ``index``,
        ``kwh_per_unit``, ``kgco2e``, ``kgco2e_per_unit`` and one column per product (units made);
        ``shifts``: the same summed per (group, shift) over the period; ``teams`` per (group, shift,
        team); ``products``: ``units``, ``kwh_per_unit`` (fitted intensity), ``kgco2e_per_unit``,
        ``alone_kwh_per_unit`` (from windows that made only this product; NaN if none);
        ``off_shift``: kWh per group outside every shift; ``explained_share`` (R² of the fit).
    """
    w = window_kwh.copy()
    w["date"] = pd.to_datetime(w["date"]).dt.date
    p = _production_frame(production)
    if (~p["daily"] & p["shift"].notna()).any():
        raise TanjianError("production records with a shift must cover one day each (period_start = period_end)")
    p = p[p["daily"] & p["shift"].notna()]
    p = p.assign(group=p["workshop"].fillna(plant))
    on = w[w["shift"] != "(none)"]
    unknown = p.merge(on[["date", "shift", "group"]].drop_duplicates(), how="left",
                      on=["date", "shift", "group"], indicator=True)
    miss = unknown[unknown["_merge"] == "left_only"]
    if len(miss):
        r = miss.iloc[0]
        where = f"{r.get('source_file', '')}:{r.get('row', '')}: " if "source_file" in miss else ""
        raise TanjianError(f"{where}production of {r['item']} on {r['date']} shift {r['shift']} in {r['group']}: "
                           f"no such shift window or no metered energy for that group ({len(miss)} record(s))")
    mix = p.pivot_table(index=["date", "shift", "group"], columns="item", values="quantity", aggfunc="sum",
                        fill_value=0.0)
    products = list(mix.columns)
    on = on.set_index(["date", "shift", "group"]).join(mix, how="left").fillna({c: 0.0 for c in products})
    made = on[products].sum(axis=1) if products else pd.Series(0.0, index=on.index)
    fit_rows = on[made > 0]
    a, r2 = fit_intensities(fit_rows["kwh"].to_numpy(), fit_rows[products])
    on["units"] = made
    on["expected_kwh"] = (on[products].to_numpy() @ a.reindex(products).fillna(0).to_numpy()) if products else 0.0
    on["expected_kwh"] = on["expected_kwh"].where(made > 0)
    dates = on.index.get_level_values("date")
    f = np.array([factor_of(d) for d in dates]) if factor_of is not None else np.full(len(on), np.nan)
    on["kgco2e"] = on["kwh"].to_numpy() * f
    on["kwh_per_unit"] = on["kwh"] / on["units"].where(on["units"] > 0)
    on["kgco2e_per_unit"] = on["kgco2e"] / on["units"].where(on["units"] > 0)
    on["index"] = on["kwh"] / on["expected_kwh"]
    windows = on.reset_index()
    shifts = _per(windows, ["group", "shift"])
    # teams: each window's energy split by the teams' expected energy
    tp = p.groupby(["date", "shift", "group", "team", "item"], dropna=False)["quantity"].sum().reset_index()
    tp["exp"] = tp["quantity"] * tp["item"].map(a).fillna(0.0)
    tot = tp.groupby(["date", "shift", "group"])["exp"].transform("sum")
    key = windows.set_index(["date", "shift", "group"])
    wk = key.loc[list(zip(tp["date"], tp["shift"], tp["group"]))]
    share = np.where(tot > 0, tp["exp"] / tot.where(tot > 0, 1.0), 0.0)
    tp["kwh"] = wk["kwh"].to_numpy() * share
    tp["kgco2e"] = wk["kgco2e"].to_numpy() * share
    tp["units"] = tp["quantity"]
    tp["expected_kwh"] = tp["exp"]
    teams = _per(tp, ["group", "shift", "team"])
    # products
    units = p.groupby("item")["quantity"].sum()
    alone = {}
    for prod in products:
        only = windows[(windows[prod] > 0) & (windows[products].drop(columns=prod).sum(axis=1) == 0)]
        alone[prod] = float(only["kwh"].sum() / only[prod].sum()) if len(only) else np.nan
    fac = float(np.nanmean(f)) if len(f) and np.isfinite(f).any() else np.nan
    prod_t = pd.DataFrame({"units": units.reindex(products), "kwh_per_unit": a.reindex(products),
                           "alone_kwh_per_unit": pd.Series(alone)})
    prod_t["kgco2e_per_unit"] = prod_t["kwh_per_unit"] * fac
    prod_t.index.name = "product"
    off = w[w["shift"] == "(none)"].groupby("group")["kwh"].sum()
    return UnitReport(windows=windows, shifts=shifts, teams=teams, products=prod_t, off_shift=off,
                      explained_share=r2, attrs={"mean_factor_kgco2_per_kwh": fac})


def _gaps(windows: pd.DataFrame, lo: pd.Timestamp, hi: pd.Timestamp) -> pd.DataFrame:
    """The parts of ``[lo, hi)`` no window covers, cut at local midnights: columns ``date`` (the day they
    lie in), ``start``, ``end``."""
    out, cur = [], lo
    for a, b in zip(windows["start"], windows["end"]):
        if b <= cur:
            continue
        if a > cur:
            out.append((cur, min(a, hi)))
        cur = max(cur, b)
        if cur >= hi:
            break
    if cur < hi:
        out.append((cur, hi))
    rows = []
    for a, b in out:
        while a < b:
            m = min(b, a.normalize() + pd.Timedelta(days=1))
            rows.append((a.date(), a, m))
            a = m
    return pd.DataFrame(rows, columns=["date", "start", "end"])


def window_energy(store, site, first: dt.date, last: dt.date, *, by: str = "workshop", exact: bool | None = None,
                  as_of=None) -> pd.DataFrame:
    """Energy per shift window and group from the store [kWh]: columns ``date``, ``shift``, ``group``,
    ``kwh``; the energy outside every shift as shift ``(none)`` per day.

    The windows starting on the days ``[first, last]`` count whole (the last may end the day after); a
    shift that started the day before ``first`` is left to that day. So windows plus ``(none)`` add up to
    the group's energy from ``first`` 00:00 (less that earlier shift's part) to the end of the last window
    or day.
    """
    from workspace.store.energy import energy

    lo = pd.Timestamp(first)
    hi = pd.Timestamp(last) + pd.Timedelta(days=1)
    allw = shift_windows(site.shifts, first - dt.timedelta(days=1), last)
    win = allw[allw["date"] >= first].reset_index(drop=True)
    edges = {_minutes(s.start) % 60 for s in site.shifts} | {_minutes(s.end) % 60 for s in site.shifts}
    if exact is None:
        exact = (hi - lo) <= pd.Timedelta(days=62)
    freq = "1h"
    if exact and edges - {0}:
        freq = f"{int(np.gcd.reduce([60, *edges]))}min"
    hi_read = max(hi, win["end"].max()) if len(win) else hi
    e = energy(store, lo, hi_read, by=by, freq=freq, as_of=as_of).to_pandas()
    gaps = _gaps(allw, lo, hi_read)
    parts = []
    for frame, label in ((win, None), (gaps, NO_SHIFT)):
        got = energy_in_windows(e, frame)
        for g in e.columns:
            parts.append(pd.DataFrame({"date": frame["date"].to_numpy(),
                                       "shift": frame["shift"].to_numpy() if label is None else label,
                                       "group": g, "kwh": got[g].to_numpy()}))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["date", "shift", "group", "kwh"])
    return out.groupby(["date", "shift", "group"], sort=False, as_index=False)["kwh"].sum()


def grid_factor(library=None):
    """date → the location-based grid factor [kgCO2/kWh] (:data:`models.scope2.DEFAULT_GRID_FACTOR`)."""
    from models.scope2 import DEFAULT_GRID_FACTOR, DEFAULT_GRID_REGION
    from models.series import default_library

    lib = default_library(library)
    cache: dict = {}

    def at(day):
        if day not in cache:
            cache[day] = lib.lookup(DEFAULT_GRID_FACTOR, day, DEFAULT_GRID_REGION).value_in("kgCO2/kWh")
        return cache[day]
    return at


def unit_consumption(store, site, production: pd.DataFrame, first: dt.date, last: dt.date, *,
                     by: str = "workshop", library=None, exact: bool | None = None, as_of=None) -> UnitReport:
    """Unit consumption per shift window, shift, team and product over the local days ``[first, last]``
    (see the module docstring; the tables as :func:`shift_tables`).

    ``production``: activity records, e.g. ``load_activity(cfg.paths.data_dir, first, last,
    kinds=["production"])``. ``by``: "workshop" (records name their workshop) or "plant".
    """
    teams = {sh.id: set(sh.teams) for sh in site.shifts if sh.teams}
    if teams and len(production):
        for _, r in production.iterrows():
            t = r.get("team")
            if r.get("shift") in teams and isinstance(t, str) and t and t not in teams[r["shift"]]:
                where = f"{r.get('source_file', '')}:{r.get('row', '')}: " if r.get("source_file") else ""
                raise TanjianError(f"{where}team: {t!r} does not work shift {r['shift']} (site.shifts teams: "
                                   f"{', '.join(sorted(teams[r['shift']]))})")
    w = window_energy(store, site, first, last, by=by, exact=exact, as_of=as_of)
    prod = production
    if by == "plant" and len(prod):
        prod = prod.assign(workshop=site.plant.id)
    out = shift_tables(w, prod, factor_of=grid_factor(library), plant=site.plant.id)
    out.attrs.update(period=(first.isoformat(), last.isoformat()), by=by)
    return out


def roles(store, site, start, end, *, as_of=None) -> pd.DataFrame:
    """Energy of main and auxiliary machines (``Device.role``) per workshop over ``[start, end)`` [kWh].

    Returns
    -------
    pandas.DataFrame
        Index workshop; columns ``main``, ``auxiliary``, ``unassigned`` (device meters without a role),
        ``unmetered`` (the workshop total minus its device meters) [kWh], and ``main_share`` [-] of the
        metered devices' energy.
    """
    from workspace.store.energy import energy

    dev = energy(store, start, end, by="device", freq=None, as_of=as_of).to_pandas()
    ws = energy(store, start, end, by="workshop", freq=None, as_of=as_of).to_pandas()
    info = {d.id: d for d in site.devices}
    rows = {}
    for w in ws.index:
        r = {"main": 0.0, "auxiliary": 0.0, "unassigned": 0.0}
        for d, v in dev.items():
            if d in info and info[d].workshop == w and np.isfinite(v):
                r[info[d].role or "unassigned"] += float(v)
        r["unmetered"] = float(ws[w]) - sum(r.values()) if np.isfinite(ws[w]) else np.nan
        metered = r["main"] + r["auxiliary"] + r["unassigned"]
        r["main_share"] = r["main"] / metered if metered > 0 else np.nan
        rows[w] = r
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "workshop"
    return out
