"""Plant KPIs for the big screen: energy and location-based CO2e today, yesterday, this month and
this year, and the workshop breakdown. One place computes them; pages only show them.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import xarray as xr

from models.emissions import electricity_location_based, natural_gas_combustion
from models.factors import FactorLibrary
from workspace.store import Store

PERIODS = ("today", "yesterday", "month", "year")


def periods(now: dt.datetime, tz: ZoneInfo) -> dict[str, tuple[pd.Timestamp, pd.Timestamp]]:
    """Local [start, end) of each KPI period at instant ``now``."""
    n = pd.Timestamp(now).tz_convert(tz) if pd.Timestamp(now).tzinfo else pd.Timestamp(now).tz_localize(tz)
    n = n.floor("min")
    day = n.normalize()
    return {
        "today": (day, n),
        "yesterday": (day - pd.Timedelta(days=1), day),
        "month": (day.replace(day=1), n),
        "year": (day.replace(month=1, day=1), n),
    }


def _co2e(energy: xr.DataArray, gas: xr.DataArray, library: FactorLibrary | None) -> xr.DataArray:
    e = electricity_location_based(energy.fillna(0), library=library)
    g = natural_gas_combustion(gas.fillna(0), library=library)
    return e, g


def plant_kpis(store: Store, now: dt.datetime | None = None, *, library: FactorLibrary | None = None,
               as_of=None) -> pd.DataFrame:
    """Electricity [kWh], natural gas [m3] and location-based emissions [kgCO2e] per period.

    Parameters
    ----------
    store : Store
    now : datetime, optional
        The instant "today" ends at (default: the newest reading in the store).
    library : FactorLibrary, optional

    Returns
    -------
    pandas.DataFrame
        Index ``PERIODS``; columns ``electricity_kWh``, ``natural_gas_m3``,
        ``electricity_kgCO2e``, ``natural_gas_kgCO2e``, ``co2e_kg``. ``attrs`` hold the period
        bounds, the snapshot read and the factor provenance.
    """
    tz = store.tz
    if now is None:
        now = store.latest_time(as_of) or dt.datetime.now(tz)
        now = pd.Timestamp(now) + pd.Timedelta(minutes=1)  # include the newest slot
    p = periods(now, tz)
    start, end = min(p["year"][0], p["yesterday"][0]), p["today"][1]
    kw = dict(by="plant", freq="1D", as_of=as_of)
    elec = store.energy(start.tz_localize(None), end.tz_localize(None), medium="electricity", **kw)
    gas = store.energy(start.tz_localize(None), end.tz_localize(None), medium="natural_gas", **kw)
    e_co2, g_co2 = _co2e(elec, gas, library)
    days = pd.DatetimeIndex(elec.time.values)
    rows = {}
    for name, (lo, hi) in p.items():
        sel = (days >= lo.tz_localize(None).normalize()) & (days < hi.tz_localize(None))
        ek = float(np.nansum(elec.values[sel]))
        gm = float(np.nansum(gas.values[sel]))
        ec = float(np.nansum(e_co2.values[sel]))
        gc = float(np.nansum(g_co2.values[sel]))
        rows[name] = {"electricity_kWh": ek, "natural_gas_m3": gm, "electricity_kgCO2e": ec,
                      "natural_gas_kgCO2e": gc, "co2e_kg": ec + gc}
    df = pd.DataFrame.from_dict(rows, orient="index").loc[list(PERIODS)]
    df.attrs = {"periods": {k: (str(a), str(b)) for k, (a, b) in p.items()}, "now": str(now),
                "snapshot": elec.attrs["snapshot"], "timezone": str(tz),
                "factor_ids": list(e_co2.attrs.get("factor_ids", [])) + list(g_co2.attrs.get("factor_ids", [])),
                "sources": list(e_co2.attrs.get("sources", [])) + list(g_co2.attrs.get("sources", []))}
    return df


def workshop_breakdown(store: Store, start, end, *, library: FactorLibrary | None = None,
                       as_of=None) -> pd.DataFrame:
    """Per workshop: electricity [kWh], natural gas [m3] and location-based CO2e [kg] over [start, end)."""
    elec = store.energy(start, end, by="workshop", medium="electricity", freq="1D", as_of=as_of)
    gas = store.energy(start, end, by="workshop", medium="natural_gas", freq="1D", as_of=as_of)
    e_co2, g_co2 = _co2e(elec, gas, library)
    out = pd.DataFrame({"electricity_kWh": elec.sum("time", min_count=1).to_pandas(),
                        "electricity_kgCO2e": e_co2.sum("time").to_pandas()})
    out["natural_gas_m3"] = gas.sum("time", min_count=1).to_pandas().reindex(out.index).fillna(0.0)
    out["natural_gas_kgCO2e"] = g_co2.sum("time").to_pandas().reindex(out.index).fillna(0.0)
    out["co2e_kg"] = out["electricity_kgCO2e"] + out["natural_gas_kgCO2e"]
    names = {w.id: w.name for w in store.site.workshops}
    out.insert(0, "name", [names.get(i, i) for i in out.index])
    out.index.name = "workshop"
    return out
