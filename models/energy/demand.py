"""Maximum demand and the two-part tariff's basic charge: the highest 15-minute mean power of each month
(from the store's 15-min demand, :func:`workspace.store.query.demand`), and which basic-charge option is
cheaper, by the transformers' capacity (CNY/kVA·month) or by maximum demand (CNY/kW·month).

Billing by demand: the month's maximum demand, but not below ``demand_floor_share`` of the capacity (a
grid rule some provinces apply, given in the tariff file). Capacity: the sum of the site's transformers'
rated kVA (all in service). Break-even demand = capacity x capacity price / demand price.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workspace.errors import TanjianError
from workspace.tariffs import Tariff


def basic_charge_options(max_demand_kw: float, capacity_kva: float, tariff: Tariff) -> dict[str, float | str]:
    """The month's basic charge both ways (pure).

    Returns
    -------
    dict
        ``capacity_cny`` = kVA x capacity price; ``billed_demand_kw`` = max(max demand, floor share x
        kVA); ``demand_cny`` = billed demand x demand price; ``cheaper`` ("capacity" or "demand");
        ``saving_cny`` (of the cheaper against the other, >= 0); ``breakeven_kw`` (the demand at which
        both cost the same); ``chosen`` (the tariff's current option) and ``chosen_extra_cny`` (what the
        current choice costs above the cheaper one).
    """
    if tariff.capacity_price is None or tariff.demand_price is None:
        raise TanjianError(f"tariff {tariff.id}: no two-part basic charge (basic_charge in {tariff.path})")
    cap = capacity_kva * tariff.capacity_price
    billed = max(float(max_demand_kw), tariff.demand_floor_share * capacity_kva)
    dem = billed * tariff.demand_price
    cheaper = "demand" if dem < cap else "capacity"
    chosen = tariff.basic_chosen or "capacity"
    costs = {"capacity": cap, "demand": dem}
    return {"capacity_cny": cap, "billed_demand_kw": billed, "demand_cny": dem, "cheaper": cheaper,
            "saving_cny": abs(cap - dem),
            "breakeven_kw": cap / tariff.demand_price if tariff.demand_price > 0 else float("inf"),
            "chosen": chosen, "chosen_extra_cny": costs[chosen] - min(cap, dem)}


def max_demand(store, start, end, *, by: str = "plant", window: str = "15min", per: str = "MS",
               as_of=None) -> pd.DataFrame:
    """The highest ``window`` mean power of each ``per`` interval and group.

    Returns
    -------
    pandas.DataFrame
        Index ``(time, group)`` (``time``: each interval's local start); columns ``max_kw`` [kW] and
        ``at`` (local start of the window it happened in).
    """
    from workspace.store.query import demand

    d = demand(store, start, end, by=by, window=window, as_of=as_of).to_pandas()
    rows = []
    for t, chunk in d.groupby(pd.Grouper(freq=per)):
        for g in chunk.columns:
            col = chunk[g].dropna()
            rows.append((t, g, float(col.max()) if len(col) else np.nan, col.idxmax() if len(col) else pd.NaT))
    out = pd.DataFrame(rows, columns=["time", "group", "max_kw", "at"]).set_index(["time", "group"])
    out.attrs = {"window": window, "units": "kW"}
    return out


def basic_charge_report(store, site, tariff: Tariff, start, end, *, as_of=None) -> pd.DataFrame:
    """Per month of ``[start, end)``: the plant's maximum 15-min demand and both basic-charge options.

    Returns
    -------
    pandas.DataFrame
        Index month start; columns ``max_kw``, ``at``, ``capacity_kva`` and those of
        :func:`basic_charge_options`. A month only partly inside the period is judged on its part. A month
        without a single reading has no row; it is named in ``attrs["months_without_readings"]`` ("YYYY-MM").
    """
    capacity = float(sum(t.rated_kva for t in site.transformers))
    md = max_demand(store, start, end, by="plant", as_of=as_of).xs(site.plant.id, level="group")
    rows, empty = {}, []
    # column by column: a row of iterrows() mixes float and datetime into objects (NaN then is not a float)
    for t, max_kw, at in zip(md.index, md["max_kw"].to_numpy(float), md["at"]):
        if not np.isfinite(max_kw):
            empty.append(f"{t:%Y-%m}")
            continue
        rows[t] = {"max_kw": max_kw, "at": at, "capacity_kva": capacity,
                   **basic_charge_options(max_kw, capacity, tariff)}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "month"
    out.attrs = {"tariff": tariff.id, "tariff_status": tariff.status, "months_without_readings": empty}
    return out
