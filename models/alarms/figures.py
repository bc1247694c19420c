"""Figures the energy models compute, turned into alarm snapshot quantities (never recomputed here):

- ``load_rate`` by transformer: :func:`models.energy.transformers.load_rate` of the incomer's newest power
  with its newest power factor (kVA load rate; PF 1 where the meter gives none);
- ``anomaly_score`` by device: :func:`models.energy.anomaly.score` of the hour in progress against a
  :func:`~models.energy.anomaly.baseline` learned from the previous ``baseline_days`` (re-learned once a
  local day: :class:`AnomalyWatch`);
- ``unit_consumption`` by ``group/shift``: the kWh per unit of a
  :func:`models.energy.unit_consumption.unit_consumption` report (:func:`unit_consumption_figures`).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from models.energy.anomaly import baseline, device_power, score
from models.energy.transformers import load_rate


def transformer_load_rates(store, now: dt.datetime, power: pd.Series, *, lookback_min: int = 15) -> pd.Series:
    """kVA load rate of every transformer whose incomer is in ``power`` (kW by meter, as gathered)."""
    from workspace.store.query import readings

    trs = [t for t in store.site.transformers if t.meter in power.index]
    if not trs:
        return pd.Series(dtype=float)
    t = pd.Timestamp(now).tz_convert(store.tz).floor("min") + pd.Timedelta(minutes=1)
    pf = readings(store, t - pd.Timedelta(minutes=lookback_min), t, "power_factor", meters=[x.meter for x in trs])
    last_pf = pf.ffill().iloc[-1] if len(pf) else pd.Series(np.nan, index=[x.meter for x in trs])
    rates = [load_rate(power[x.meter], x.rated_kva, last_pf.get(x.meter, np.nan)) for x in trs]
    return pd.Series(np.asarray(rates, dtype=float), index=[x.id for x in trs])


class AnomalyWatch:
    """Scores each device's power in the hour in progress against its hour-of-week baseline."""

    def __init__(self, store, *, baseline_days: int = 28):
        self.store = store
        self.days = baseline_days
        self._base = None
        self._day: dt.date | None = None

    def scores(self, now: dt.datetime) -> pd.Series:
        tz = self.store.tz
        local = pd.Timestamp(now).tz_convert(tz).tz_localize(None)
        today = local.normalize()
        if self._day != today.date():
            hist = device_power(self.store, self.store.site, today - pd.Timedelta(days=self.days), today)
            self._base = baseline(hist)
            self._day = today.date()
        hour = local.floor("h")
        cur = device_power(self.store, self.store.site, hour, hour + pd.Timedelta(hours=1))
        if cur.empty:
            return pd.Series(dtype=float)
        z = score(cur, self._base)
        return z.iloc[-1].astype(float) if len(z) else pd.Series(dtype=float)


def unit_consumption_figures(report, day: dt.date | None = None) -> pd.Series:
    """kWh per unit by ``"group/shift"`` from a unit-consumption report's shift windows (of ``day`` only
    when given)."""
    w = report.windows
    if day is not None and "date" in w.columns:
        w = w[pd.to_datetime(w["date"]).dt.date == day]
    if w.empty:
        return pd.Series(dtype=float)
    kwh = w.groupby(["group", "shift"])["kwh"].sum()
    units = w.groupby(["group", "shift"])["units"].sum()
    per = (kwh / units.where(units > 0)).astype(float)
    per.index = [f"{g}/{s}" for g, s in per.index]
    return per


class UnitConsumptionWatch:
    """kWh per unit of the shift windows that started today, by ``group/shift``, recomputed once an hour
    from the production imports of yesterday and today (:func:`models.energy.unit_consumption.unit_consumption`);
    empty without production records."""

    def __init__(self, store, load_production, *, every_s: float = 3600.0):
        self.store = store
        self.load_production = load_production  # (first: date, last: date) -> production records
        self.every_s = every_s
        self._at: float | None = None
        self._last = pd.Series(dtype=float)

    def figures(self, now: dt.datetime) -> pd.Series:
        from models.energy.unit_consumption import unit_consumption

        t = pd.Timestamp(now).timestamp()
        if self._at is not None and t - self._at < self.every_s:
            return self._last
        today = pd.Timestamp(now).tz_convert(self.store.tz).date()
        first = today - dt.timedelta(days=1)
        prod = self.load_production(first, today)
        self._at = t
        if prod is None or not len(prod):
            self._last = pd.Series(dtype=float)
        else:
            self._last = unit_consumption_figures(unit_consumption(self.store, self.store.site, prod, first, today),
                                                  today)
        return self._last
