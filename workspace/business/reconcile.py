"""An electricity settlement statement reconciled with the metered energy of the plant's top electricity
meters, per time-of-use period (``tanjian import reconcile``); :func:`tou_periods` reads the periods'
hours from their data file.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import TanjianError
from .contract import TOU_PERIODS
from .documents import load_activity
from ..units import convert
from .sheets import parse_month

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..config import Config

#: the time-of-use periods' hours per region (the tariff data of the models)
TOU_FILE = Path(__file__).resolve().parents[2] / "models" / "data" / "tou-periods.csv"


def tou_periods(region: str = "CN-HN", path: Path | None = None) -> tuple[dict[int, str], list[dict]]:
    """Hour of the day (local, 0–23) → time-of-use period, and the rows of the data file used.

    Raises
    ------
    TanjianError
        When the file has no rows for ``region`` or its hours do not cover the day exactly once.
    """
    path = path or TOU_FILE
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    rows = [r for r in rows if r["region"] == region]
    if not rows:
        raise TanjianError(f"{path}: no time-of-use periods for region {region!r}")
    hour: dict[int, str] = {}
    for i, r in enumerate(rows):
        a, b = int(r["start_hour"]), int(r["end_hour"])
        if r["period"] not in TOU_PERIODS[:-1] or not 0 <= a < b <= 24:
            raise TanjianError(f"{path}: row {r}: period must be sharp|peak|flat|valley, 0 <= start < end <= 24")
        for h in range(a, b):
            if h in hour:
                raise TanjianError(f"{path}: hour {h} is in both {hour[h]} and {r['period']} ({region})")
            hour[h] = r["period"]
    if len(hour) != 24:
        raise TanjianError(f"{path}: hours {sorted(set(range(24)) - set(hour))} have no period ({region})")
    return hour, rows


def reconcile(cfg: "Config", month: str, *, store=None, region: str | None = None) -> "pd.DataFrame":
    """The month's electricity settlement statement against the plant's metered energy, per TOU period.

    Parameters
    ----------
    cfg : Config
    month : str
        ``YYYY-MM``: the statement whose billing period overlaps this month (one per month).
    store : workspace.store.Store, optional
        Opened store (default: open ``cfg.paths.store``).
    region : str, optional
        Region of the time-of-use periods in ``models/data/tou-periods.csv`` (default ``CN-HN`` for a plant
        in Hunan).

    Returns
    -------
    pandas.DataFrame
        Index ``sharp, peak, flat, valley, total``; columns ``bill_kwh`` [kWh], ``metered_kwh`` [kWh] (the sum
        of the plant's top electricity meters over the statement's own period, each local hour assigned to its
        period), ``difference_kwh`` = metered − bill [kWh] and ``difference_pct`` = difference / bill × 100 [%].
        ``attrs``: ``period_start``, ``period_end``, ``coverage`` (share of measured meter-minutes [-]),
        ``tou_status`` (the data file's status of the periods), ``sources`` (statement files).
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
    if region is None:
        region = "CN-HN" if cfg.site.plant.province.lower() in ("hunan", "湖南") else cfg.site.plant.province
    hour_period, rows = tou_periods(region)
    if store is None:
        from ..store import Store

        store = Store.open(cfg.paths.store, cfg.site)
    lo = dt.datetime.fromisoformat(p0)
    hi = dt.datetime.fromisoformat(p1) + dt.timedelta(days=1)
    e = store.energy(lo, hi, by="plant", freq="1h")
    series = e.sel(group=cfg.site.plant.id).to_pandas()
    hours = pd.DatetimeIndex(series.index).hour
    metered = series.groupby([hour_period[h] for h in hours]).sum(min_count=1)
    out = pd.DataFrame(index=list(TOU_PERIODS), columns=["bill_kwh", "metered_kwh"], dtype=float)
    for p in TOU_PERIODS[:-1]:
        out.loc[p, "bill_kwh"] = per.get(p, float("nan"))
        out.loc[p, "metered_kwh"] = metered.get(p, float("nan"))
    out.loc["total", "bill_kwh"] = per["total"] if "total" in per else out["bill_kwh"].iloc[:4].sum(min_count=1)
    out.loc["total", "metered_kwh"] = series.sum(min_count=1)
    out["difference_kwh"] = out["metered_kwh"] - out["bill_kwh"]
    out["difference_pct"] = out["difference_kwh"] / out["bill_kwh"] * 100.0
    out.attrs.update(period_start=p0, period_end=p1, coverage=e.attrs["coverage"], region=region,
                     tou_status=sorted({r["status"] for r in rows}),
                     sources=sorted(set(bill.source_file)))
    return out
