"""Plant KPIs for the big screen: energy and location-based CO2e today, yesterday, this month and
this year, and the workshop breakdown; :func:`location_based_total`, the location-based emissions per
source and workshop of a period. One place computes them; pages only show them.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import xarray as xr

from models.combustion import natural_gas_combustion
from models.factors import FactorLibrary
from models.scope2 import DEFAULT_GRID_FACTOR, DEFAULT_GRID_REGION, electricity_location_based
from models.series import ActivityDataError, default_library
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


def _co2e(energy: xr.DataArray, gas: xr.DataArray, library: FactorLibrary | None,
          methodology=None) -> xr.DataArray:
    """Location-based electricity and natural-gas emissions by the formulas of ``methodology`` (the active
    package; default: the functions' own default package)."""
    kw = {} if methodology is None else {"methodology": methodology}
    library = default_library(library, methodology)  # a synced package's own factor file first
    e = electricity_location_based(energy.fillna(0), library=library, **kw)
    g = natural_gas_combustion(gas.fillna(0), library=library, **kw)
    return e, g


def plant_kpis(store: Store, now: dt.datetime | None = None, *, library: FactorLibrary | None = None,
               as_of=None, methodology=None) -> pd.DataFrame:
    """Electricity [kWh], natural gas [m3] and location-based emissions [kgCO2e] per period.

    Parameters
    ----------
    store : Store
    now : datetime, optional
        The instant "today" ends at (default: the newest reading in the store).
    library : FactorLibrary, optional
    methodology : models.packages.Methodology, optional
        The active package (:func:`models.guarded.active_methodology`): the packaged factor file must be the
        one it was sealed with (:func:`models.packages.check_library`), and ``attrs["methodology"]`` names it.

    Returns
    -------
    pandas.DataFrame
        Index ``PERIODS``; columns ``electricity_kWh``, ``natural_gas_m3``,
        ``electricity_kgCO2e``, ``natural_gas_kgCO2e``, ``co2e_kg``. ``attrs`` hold the period
        bounds, the snapshot read and the factor provenance.
    """
    if methodology is not None:
        from models.packages import check_library

        library = default_library(library, methodology)  # a synced package's own factor file first
        check_library(methodology, library)
    tz = store.tz
    if now is None:
        now = store.latest_time(as_of) or dt.datetime.now(tz)
        now = pd.Timestamp(now) + pd.Timedelta(minutes=1)  # include the newest slot
    p = periods(now, tz)
    start, end = min(p["year"][0], p["yesterday"][0]), p["today"][1]
    kw = dict(by="plant", freq="1D", as_of=as_of)
    elec = store.energy(start.tz_localize(None), end.tz_localize(None), medium="electricity", **kw)
    gas = store.energy(start.tz_localize(None), end.tz_localize(None), medium="natural_gas", **kw)
    e_co2, g_co2 = _co2e(elec, gas, library, methodology)
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
                "sources": list(e_co2.attrs.get("sources", [])) + list(g_co2.attrs.get("sources", [])),
                "methodology": None if methodology is None else {
                    "id": methodology.id, "version": methodology.version, "sha256": methodology.sha256}}
    return df


def workshop_breakdown(store: Store, start, end, *, library: FactorLibrary | None = None,
                       as_of=None, methodology=None) -> pd.DataFrame:
    """Per workshop: electricity [kWh], natural gas [m3] and location-based CO2e [kg] over [start, end), by the
    formulas of ``methodology`` (the active package) when given."""
    elec = store.energy(start, end, by="workshop", medium="electricity", freq="1D", as_of=as_of)
    gas = store.energy(start, end, by="workshop", medium="natural_gas", freq="1D", as_of=as_of)
    e_co2, g_co2 = _co2e(elec, gas, library, methodology)
    out = pd.DataFrame({"electricity_kWh": elec.sum("time", min_count=1).to_pandas(),
                        "electricity_kgCO2e": e_co2.sum("time").to_pandas()})
    out["natural_gas_m3"] = gas.sum("time", min_count=1).to_pandas().reindex(out.index).fillna(0.0)
    out["natural_gas_kgCO2e"] = g_co2.sum("time").to_pandas().reindex(out.index).fillna(0.0)
    out["co2e_kg"] = out["electricity_kgCO2e"] + out["natural_gas_kgCO2e"]
    names = {w.id: w.name for w in store.site.workshops}
    out.insert(0, "name", [names.get(i, i) for i in out.index])
    out.index.name = "workshop"
    return out


_TOTAL_COLUMNS = (
    "source", "workshop", "activity", "activity_unit", "emissions_kgCO2e", "scope", "factor_ids", "sources",
)


def _by_group(emissions: xr.DataArray, activity: xr.DataArray, medium: str) -> list[dict[str, object]]:
    """One row per value of the non-time dimension (or one row if there is none)."""
    others = [d for d in activity.dims if d != "time"]
    if len(others) > 1:
        raise ActivityDataError(f"{medium}: at most one dimension besides 'time', got {activity.dims}")
    act = activity.sum("time")
    emi = emissions.sum("time")
    keys = act[others[0]].values.tolist() if others else ["(all)"]
    rows = []
    for i, key in enumerate(keys):
        rows.append(
            {
                "source": medium,
                "workshop": key,
                "activity": float(act.values[i] if others else act.values),
                "activity_unit": activity.attrs["units"],
                "emissions_kgCO2e": float(emi.values[i] if others else emi.values),
                "scope": 2 if medium == "electricity" else 1,
                "factor_ids": "; ".join(emissions.attrs["factor_ids"]),
                "sources": " | ".join(emissions.attrs["sources"]),
            }
        )
    return rows


def location_based_total(
    activity: dict[str, xr.DataArray],
    start: dt.date | None = None,
    end: dt.date | None = None,
    grid_factor_id: str = DEFAULT_GRID_FACTOR,
    grid_region: str = DEFAULT_GRID_REGION,
    library: FactorLibrary | None = None,
) -> pd.DataFrame:
    """Electricity (location-based) and natural-gas emissions per source and workshop for a period.

    Parameters
    ----------
    activity : dict of str to xarray.DataArray
        ``"electricity"``: active energy imported [kWh]; ``"natural_gas"``: gas burnt [m3].
        Conventions as in :func:`electricity_location_based`; at most one dimension besides
        ``time`` (e.g. ``workshop``).
    start, end : datetime.date, optional
        Inclusive local dates of the period (by interval label); default: all data.
    grid_factor_id, grid_region : str
        Grid factor for electricity. [tCO2/MWh]
    library : FactorLibrary, optional
        Factor library; the packaged one by default.

    Returns
    -------
    pandas.DataFrame
        One row per (source, workshop): ``activity`` [activity_unit], ``activity_unit``,
        ``emissions_kgCO2e`` [kgCO2e], ``scope``, ``factor_ids`` and ``sources``
        (the factor rows used, ``;``/``|``-separated). ``attrs["factor_library_sha256"]``
        names the factor file.

    Raises
    ------
    ActivityDataError
        If a medium is unknown or the data lack units, time zone or dimensions.
    """
    lib = default_library(library)
    functions = {
        "electricity": lambda a: electricity_location_based(a, grid_factor_id, grid_region, lib),
        "natural_gas": lambda a: natural_gas_combustion(a, library=lib),
    }
    rows = []
    for medium, data in activity.items():
        if medium not in functions:
            raise ActivityDataError(f"unknown medium {medium!r}; expected one of {', '.join(functions)}")
        if start is not None or end is not None:
            lo = None if start is None else pd.Timestamp(start)
            hi = None if end is None else pd.Timestamp(end) + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")
            data = data.sel(time=slice(lo, hi))
        rows.extend(_by_group(functions[medium](data), data, medium))
    out = pd.DataFrame(rows, columns=list(_TOTAL_COLUMNS))
    out.attrs["factor_library_sha256"] = lib.sha256
    return out
