"""An electricity settlement statement reconciled with the metered energy of the plant's top electricity
meters, per time-of-use period (``tanjian reconcile``); each local hour goes to its period by the plant
tariff's time-of-use schedule (:mod:`workspace.tariffs`), month by month.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from ..errors import TanjianError
from ..tariffs import PERIODS
from .contract import TOU_PERIODS
from .documents import load_activity
from ..units import convert
from .sheets import parse_month

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..config import Config
    from ..tariffs import Schedule


def reconcile(cfg: "Config", month: str, *, store=None, schedule: "Schedule | None" = None) -> "pd.DataFrame":
    """The month's electricity settlement statement against the plant's metered energy, per TOU period.

    Parameters
    ----------
    cfg : Config
    month : str
        ``YYYY-MM``: the statement whose billing period overlaps this month (one per month).
    store : workspace.store.Store, optional
        Opened store (default: open ``cfg.paths.store``).
    schedule : workspace.tariffs.Schedule, optional
        The time-of-use schedule (default: that of the plant's tariff, :func:`workspace.tariffs.config_tariff`).

    Returns
    -------
    pandas.DataFrame
        Index ``sharp, peak, flat, valley, total``; columns ``bill_kwh`` [kWh], ``metered_kwh`` [kWh] (the sum
        of the plant's top electricity meters over the statement's own period, each local hour assigned to its
        period), ``difference_kwh`` = metered − bill [kWh] and ``difference_pct`` = difference / bill × 100 [%].
        ``attrs``: ``period_start``, ``period_end``, ``coverage`` (share of measured meter-minutes [-]),
        ``tou_status`` (the schedule file's status), ``schedule`` (its id), ``region``, ``sources``
        (statement files).
    """
    import pandas as pd

    first, last = parse_month(month)
    bill = load_activity(cfg.paths.data_dir, first, last, kinds=["electricity_statement"])
    if bill.empty:
        raise TanjianError(f"no electricity settlement statement overlaps {month}: import one first "
                           f"(tanjian import FILE --mapping …)")
    periods = sorted(set(zip(bill.period_start, bill.period_end)))
    if len(periods) != 1:
        raise TanjianError(f"{month}: statements for several billing periods overlap the month "
                           f"({', '.join(f'{a}…{b}' for a, b in periods)}); reconcile needs one")
    p0, p1 = periods[0]
    kwh = bill.apply(lambda r: convert(r.quantity, r.unit, "kWh"), axis=1)
    per = kwh.groupby(bill["item"]).sum()
    if schedule is None:
        from ..tariffs import config_tariff

        schedule = config_tariff(cfg).schedule
    schedule.check_covers(dt.date.fromisoformat(p0), dt.date.fromisoformat(p1), "billing period")
    if store is None:
        from ..store import Store

        store = Store.open(cfg.paths.store, cfg.site)
    lo = dt.datetime.fromisoformat(p0)
    hi = dt.datetime.fromisoformat(p1) + dt.timedelta(days=1)
    e = store.energy(lo, hi, by="plant", freq="1h")
    series = e.sel(group=cfg.site.plant.id).to_pandas()
    idx = schedule.period_index(series.index)
    metered = series.groupby([PERIODS[i] for i in idx]).sum(min_count=1)
    out = pd.DataFrame(index=list(TOU_PERIODS), columns=["bill_kwh", "metered_kwh"], dtype=float)
    for p in TOU_PERIODS[:-1]:
        out.loc[p, "bill_kwh"] = per.get(p, float("nan"))
        # a period the schedule gives no hour of the billing period: nothing metered in it (0, not unknown)
        out.loc[p, "metered_kwh"] = metered.get(p, float("nan") if p in metered.index else 0.0)
    out.loc["total", "bill_kwh"] = per["total"] if "total" in per else out["bill_kwh"].iloc[:4].sum(min_count=1)
    out.loc["total", "metered_kwh"] = series.sum(min_count=1)
    out["difference_kwh"] = out["metered_kwh"] - out["bill_kwh"]
    out["difference_pct"] = out["difference_kwh"] / out["bill_kwh"] * 100.0
    out.attrs.update(period_start=p0, period_end=p1, coverage=e.attrs["coverage"], region=schedule.region,
                     schedule=schedule.id, tou_status=[schedule.status],
                     sources=sorted(set(bill.source_file)))
    return out
