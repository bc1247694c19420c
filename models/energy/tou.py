"""Energy and cost by time-of-use period (尖峰平谷: sharp, peak, flat, valley) per meter, workshop or plant
for any range, the share of each period and the energy cost under the plant's tariff
(:mod:`workspace.tariffs`).

Every hour's energy goes to the period its local start hour falls in that month (the Hunan schedule's
boundaries are whole hours); the store's hourly rollups answer a year at a thousand meters at once:
one (hours x 4) one-hot matrix times the (hours x groups) energy.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from workspace.errors import TanjianError
from workspace.tariffs import PERIODS, Tariff


def _days(start, end) -> tuple[dt.date, dt.date]:
    a = pd.Timestamp(start)
    b = pd.Timestamp(end) - pd.Timedelta(microseconds=1)
    return a.date(), b.date()


def check_tariff_covers(tariff: Tariff, start, end) -> None:
    """Refuse a period outside the tariff's or its schedule's validity (one clear line)."""
    a, b = _days(start, end)
    tariff.schedule.check_covers(a, b)
    if a < tariff.valid_from or (tariff.valid_to is not None and b > tariff.valid_to):
        raise TanjianError(f"period {a}…{b} is outside the validity of tariff {tariff.id} ({tariff.path}): "
                           f"{tariff.valid_from} … {tariff.valid_to or 'until replaced'}")


def split(energy: pd.DataFrame, tariff: Tariff) -> pd.DataFrame:
    """Energy and cost per period of hourly (or finer, whole-hour-aligned) energy (pure).

    Parameters
    ----------
    energy : pandas.DataFrame
        Energy per interval [kWh], index local interval starts (tz-naive), one column per group. NaN counts 0.
    tariff : workspace.tariffs.Tariff

    Returns
    -------
    pandas.DataFrame
        Index the groups; columns ``{period}_kwh`` [kWh], ``{period}_share_pct`` [% of the total],
        ``{period}_cny`` [CNY] for each of sharp, peak, flat, valley, then ``total_kwh``, ``energy_cny``
        and ``mean_cny_per_kwh``. ``attrs``: tariff and schedule ids and statuses, ``prices`` [CNY/kWh].
    """
    idx = tariff.schedule.period_index(energy.index)
    onehot = np.zeros((len(idx), len(PERIODS)))
    onehot[np.arange(len(idx)), idx] = 1.0
    v = energy.to_numpy(dtype=float)
    per = onehot.T @ np.where(np.isfinite(v), v, 0.0)  # (4, groups)
    prices = tariff.prices()
    total = per.sum(axis=0)
    out = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for i, p in enumerate(PERIODS):
            out[f"{p}_kwh"] = per[i]
            out[f"{p}_share_pct"] = np.where(total > 0, per[i] / total * 100.0, np.nan)
            out[f"{p}_cny"] = per[i] * (prices[i] if np.isfinite(prices[i]) else 0.0)
        out["total_kwh"] = total
        out["energy_cny"] = sum(out[f"{p}_cny"] for p in PERIODS)
        out["mean_cny_per_kwh"] = np.where(total > 0, out["energy_cny"] / total, np.nan)
    res = pd.DataFrame(out, index=pd.Index(energy.columns, name="group"))
    res.attrs = {"tariff": tariff.id, "tariff_status": tariff.status, "schedule": tariff.schedule.id,
                 "schedule_status": tariff.schedule.status, "prices": dict(zip(PERIODS, prices.tolist())),
                 "currency": "CNY"}
    return res


def tou_cost(store, tariff: Tariff, start, end, *, by: str = "plant", meters: list[str] | None = None,
             freq: str | None = None, as_of=None) -> pd.DataFrame:
    """Energy and cost by time-of-use period from the store over ``[start, end)`` (local).

    ``by``: plant, workshop, line, device or meter (the query API's groupings). ``freq``: None for one row
    per group, or a pandas frequency ("1D", "MS") for a row per interval and group (index ``(time,
    group)``). Columns as :func:`split`; ``attrs`` add the period and the store's ``coverage``.

    Raises
    ------
    TanjianError
        When the period is outside the tariff's or its schedule's validity.
    """
    from workspace.store.energy import energy

    check_tariff_covers(tariff, start, end)
    e = energy(store, start, end, by=by, freq="1h", meters=meters, as_of=as_of)
    df = e.to_pandas()
    if freq is None:
        out = split(df, tariff)
    else:
        parts = {t: split(chunk, tariff) for t, chunk in df.groupby(pd.Grouper(freq=freq)) if len(chunk)}
        out = pd.concat(parts, names=["time", "group"])
        out.attrs = next(iter(parts.values())).attrs if parts else {}
    out.attrs.update(period=(str(start), str(end)), coverage=e.attrs.get("coverage"), by=by)
    return out


def day_cost(hourly_kw: list[float] | np.ndarray, day: dt.date, tariff: Tariff) -> dict[str, float]:
    """Cost of a day's 24 hourly mean powers [kW] (pure, for planning and tests): kWh and CNY per period
    and in total."""
    hourly_kw = np.asarray(hourly_kw, dtype=float)
    if hourly_kw.shape != (24,):
        raise ValueError("hourly_kw needs 24 values (local hours 0..23)")
    df = pd.DataFrame({"day": hourly_kw}, index=pd.date_range(pd.Timestamp(day), periods=24, freq="1h"))
    r = split(df, tariff).loc["day"]
    return {k: float(v) for k, v in r.items()}
