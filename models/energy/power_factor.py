"""The power-factor adjustment of the electricity bill (《功率因数调整电费办法》, 1983): the month's average
power factor from active and reactive energy, PF = kWh / sqrt(kWh² + kvarh²), rounded to two decimals and
looked up in the tariff's table (standard 0.90, 0.85 or 0.80), applied to the month's basic plus energy
charge; and the capacitor bank (kvar) that would bring it to a target.

The store keeps each minute's power and power factor, not reactive energy: a minute's reactive power is
P x tan(arccos PF) (its sign, leading or lagging, is not known: all reactive energy counts, as a meter
with a backstop counts it). A minute without a PF reading is left out of both sums.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workspace.tariffs import Tariff


def monthly_pf(kwh: float, kvarh: float) -> float:
    """Average power factor [-] of active ``kwh`` and reactive ``kvarh`` energy."""
    s = float(np.hypot(kwh, kvarh))
    return kwh / s if s > 0 else float("nan")


def reactive_kvar(power_kw, power_factor):
    """Reactive power [kvar] of an active power [kW] at a power factor [-] (arrays or scalars)."""
    pf = np.clip(np.asarray(power_factor, dtype=float), 1e-6, 1.0)
    return np.abs(np.asarray(power_kw, dtype=float)) * np.tan(np.arccos(pf))


def compensation_kvar(mean_kw: float, pf_now: float, pf_target: float = 0.95) -> float:
    """Reactive power to add [kvar] to lift the mean load from ``pf_now`` to ``pf_target``:
    Qc = P (tan φ1 − tan φ2)."""
    if pf_now >= pf_target:
        return 0.0
    return float(mean_kw * (np.tan(np.arccos(pf_now)) - np.tan(np.arccos(pf_target))))


def adjustment(pf: float, charge_cny: float, tariff: Tariff, standard: float | None = None) -> dict[str, float]:
    """The adjustment of a month's charge (basic + energy) [CNY] at average power factor ``pf``.

    Returns
    -------
    dict
        ``pf_rounded``, ``adjustment_pct`` [%] (+ increase, − reduction), ``adjustment_cny``.
    """
    pct = tariff.pf_adjustment_pct(pf, standard)
    return {"pf_rounded": float(np.floor(pf * 100 + 0.5 + 1e-9) / 100), "adjustment_pct": pct,
            "adjustment_cny": charge_cny * pct / 100.0}


def pf_report(store, site, tariff: Tariff, start, end, *, target: float = 0.95, as_of=None) -> pd.DataFrame:
    """Per month of ``[start, end)``: the plant's active and reactive energy (its top electricity meters),
    the average PF, the energy and basic charge, the adjustment, and the capacitor bank to reach ``target``.

    Returns
    -------
    pandas.DataFrame
        Index month; columns ``kwh``, ``kvarh``, ``pf``, ``energy_cny`` (TOU energy cost),
        ``basic_cny`` (the tariff's current basic-charge option), ``adjustment_pct``, ``adjustment_cny``,
        ``compensation_kvar``. ``attrs["pf_minutes_pct"]``: share of the meter-minutes with power that also have a PF reading.
    """
    from models.energy.demand import basic_charge_options, max_demand
    from models.energy.tou import tou_cost
    from workspace.store.query import power, readings

    meters = site.top_meters("electricity")
    p = power(store, start, end, meters=meters, freq="1min", as_of=as_of).to_pandas()
    pf = readings(store, start, end, "power_factor", meters=meters, as_of=as_of).reindex(p.index)
    have = np.isfinite(pf.to_numpy()) & np.isfinite(p.to_numpy())
    kw = np.where(have, np.abs(p.to_numpy()), 0.0)
    kvar = np.where(have, reactive_kvar(np.nan_to_num(p.to_numpy()), np.nan_to_num(pf.to_numpy(), nan=1.0)), 0.0)
    frame = pd.DataFrame({"kwh": kw.sum(axis=1) / 60.0, "kvarh": kvar.sum(axis=1) / 60.0,
                          "minutes": have.any(axis=1).astype(float)}, index=p.index)
    months = frame.groupby(pd.Grouper(freq="MS")).sum()
    cost = tou_cost(store, tariff, start, end, freq="MS", as_of=as_of).xs(site.plant.id, level="group")
    md = max_demand(store, start, end, as_of=as_of).xs(site.plant.id, level="group")
    capacity = float(sum(t.rated_kva for t in site.transformers))
    rows = {}
    for t, r in months.iterrows():
        if r.kwh <= 0:
            continue
        f = monthly_pf(r.kwh, r.kvarh)
        energy_cny = float(cost.loc[t, "energy_cny"]) if t in cost.index else np.nan
        basic = np.nan
        if tariff.capacity_price is not None and t in md.index and np.isfinite(md.loc[t, "max_kw"]):
            o = basic_charge_options(md.loc[t, "max_kw"], capacity, tariff)
            basic = o["capacity_cny"] if o["chosen"] == "capacity" else o["demand_cny"]
        adj = adjustment(f, np.nansum([energy_cny, basic]), tariff)
        hours = r.minutes / 60.0  # the minutes with a reading: the mean load while measured
        rows[t] = {"kwh": r.kwh, "kvarh": r.kvarh, "pf": f, "energy_cny": energy_cny, "basic_cny": basic, **adj,
                   "compensation_kvar": compensation_kvar(r.kwh / hours if hours else 0.0, f, target)}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "month"
    read = np.isfinite(p.to_numpy())
    out.attrs = {"pf_minutes_pct": float(have.sum() / read.sum() * 100) if read.sum() else float("nan"),
                 "standard": tariff.pf_standard, "table": tariff.pf_source, "target": target}
    return out
