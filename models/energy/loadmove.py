"""What moving a load would save: a device's energy in some hours of the day moved to other hours of the
same day, priced with the plant's time-of-use tariff.

The moved energy is the device's measured energy in the ``from`` hours (or a given power); it is spread
evenly over the ``to`` hours. Saving = Σ_days [Σ_h∈from E_h p(h) − (Σ_h∈from E_h) × mean_h∈to p(h)].
The maximum demand is not re-judged here (moving into hours that already peak can raise it: see
:mod:`models.energy.demand`); ``fits`` says whether the device's rated power can take the moved energy in
the ``to`` hours on top of what it already draws then.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from workspace.errors import TanjianError
from workspace.tariffs import Tariff


def _hours(hours, what: str) -> list[int]:
    hs = sorted(set(int(h) for h in hours))
    if not hs or any(not 0 <= h <= 23 for h in hs):
        raise TanjianError(f"{what} hours must be local hours 0..23, not {list(hours)}")
    return hs


def move_saving(tariff: Tariff, day: dt.date, from_hours, to_hours, *, kw: float | None = None,
                kwh_by_hour: dict[int, float] | None = None) -> dict[str, float]:
    """Saving of one day's move (pure): either a constant ``kw`` in every ``from`` hour, or the energy
    ``kwh_by_hour`` measured in them.

    Returns
    -------
    dict
        ``kwh`` moved, ``cost_before_cny``, ``cost_after_cny``, ``saving_cny``.
    """
    fh, th = _hours(from_hours, "from"), _hours(to_hours, "to")
    if set(fh) & set(th):
        raise TanjianError(f"from and to hours overlap: {sorted(set(fh) & set(th))}")
    hours = tariff.schedule.hours(day.month)
    price = {h: tariff.price(hours[h]) for h in range(24)}
    e = {h: (kw if kw is not None else (kwh_by_hour or {}).get(h, 0.0)) for h in fh}
    kwh = float(sum(e.values()))
    before = float(sum(e[h] * price[h] for h in fh))
    after = kwh * float(np.mean([price[h] for h in th]))
    return {"kwh": kwh, "cost_before_cny": before, "cost_after_cny": after, "saving_cny": before - after}


def device_move(store, site, tariff: Tariff, device: str, start, end, from_hours, to_hours, *,
                as_of=None) -> pd.DataFrame:
    """Saving of moving ``device``'s measured load from ``from_hours`` to ``to_hours`` on every day of
    ``[start, end)``.

    Returns
    -------
    pandas.DataFrame
        Index day; columns ``kwh`` moved, ``cost_before_cny``, ``cost_after_cny``, ``saving_cny``,
        ``fits`` (the device's rated power x the to-hours holds its own energy there plus the moved).
        ``attrs["total"]``: the sums.
    """
    from models.energy.tou import check_tariff_covers
    from workspace.store.query import device_meters

    from workspace.store.energy import energy

    fh, th = _hours(from_hours, "from"), _hours(to_hours, "to")
    if device not in device_meters(site):
        raise TanjianError(f"device {device!r} has no electricity meter of its own (Meter.device): its load "
                           f"cannot be measured")
    check_tariff_covers(tariff, start, end)
    dev = site.device(device)
    e = energy(store, start, end, by="device", freq="1h", as_of=as_of).to_pandas()[device]
    rows = {}
    for day, chunk in e.groupby(e.index.date):
        by_hour = {t.hour: float(v) for t, v in chunk.items() if np.isfinite(v)}
        r = move_saving(tariff, day, fh, th, kwh_by_hour=by_hour)
        room = sum(max(dev.rated_power_kw - by_hour.get(h, 0.0), 0.0) for h in th)
        rows[day] = {**r, "fits": bool(r["kwh"] <= room + 1e-9)}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "day"
    out.attrs = {"total": {k: float(out[k].sum()) for k in ("kwh", "cost_before_cny", "cost_after_cny",
                                                           "saving_cny")} if len(out) else {},
                 "device": device, "from_hours": fh, "to_hours": th, "tariff": tariff.id}
    return out
