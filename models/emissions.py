"""Emissions from purchased electricity and natural-gas combustion.

Pure functions over :class:`xarray.DataArray` activity data with a ``time``
dimension of local wall-clock timestamps (tz-naive, IANA zone in
``attrs["timezone"]``) and a ``units`` attribute. Factors come from a
:class:`models.factors.FactorLibrary`; every result records, in its attributes,
the rows used (``factor_ids``), their citations (``sources``) and the SHA-256 of
the factor file.

Default for Plant 18 (Changsha, Hunan), location-based scope 2: the MEE/NBS
national average grid factor, vintage-matched (``factor_id="grid_average"``,
``region="CN"``). It is the only grid series whose 2021, 2022 and 2023 values
could all be confirmed in reports of the MEE/NBS releases, and it matches the
national basis of Chinese enterprise reporting. The Hunan provincial values
(``region="CN-HN"``) are the more local choice GHG Protocol prefers, but are so far
found only in third-party compilations and stop at data year 2022; switch once
they are confirmed. See the header of ``models/data/emission-factors.csv``.

References
----------
.. [1] WRI/WBCSD, GHG Protocol Scope 2 Guidance, 2015, ch. 6-7.
.. [2] NDRC, 《机械设备制造企业温室气体排放核算方法与报告指南（试行）》,
   发改办气候〔2015〕1722号: E = FC x NCV x CC x OF x 44/12.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import xarray as xr

from models.factors import VALIDITY_TIMEZONE, Factor, FactorLibrary, convert
from workspace.errors import TanjianError

__all__ = [
    "ActivityDataError",
    "DEFAULT_GRID_FACTOR",
    "DEFAULT_GRID_REGION",
    "CO2_PER_C",
    "electricity_location_based",
    "location_based_total",
    "natural_gas_combustion",
    "natural_gas_emission_factor",
]

#: Default grid factor id for Plant 18's location-based scope 2 (see module docstring).
DEFAULT_GRID_FACTOR = "grid_average"
#: Default grid region for Plant 18's location-based scope 2 (see module docstring).
DEFAULT_GRID_REGION = "CN"

#: Mass ratio of CO2 to carbon, 44/12 (molar masses rounded as in the NDRC guidelines). [tCO2/tC]
CO2_PER_C = 44.0 / 12.0

#: Accepted ``units`` of active energy and their size in kWh. [kWh/unit]
_ENERGY_UNITS = {"Wh": 1e-3, "kWh": 1.0, "MWh": 1e3}
#: Accepted ``units`` of gas volume (at standard conditions) and their size in Nm3. [Nm3/unit]
_VOLUME_UNITS = {"m3": 1.0, "Nm3": 1.0, "10^4Nm3": 1e4}

_LIBRARY: FactorLibrary | None = None


class ActivityDataError(TanjianError):
    """Activity data (energy, volume) lacks a unit, time zone or the expected dimensions."""


def _library(library: FactorLibrary | None) -> FactorLibrary:
    """The given library, or the packaged one (loaded once)."""
    global _LIBRARY
    if library is not None:
        return library
    if _LIBRARY is None:
        _LIBRARY = FactorLibrary.load()
    return _LIBRARY


def _scale(data: xr.DataArray, units: dict[str, float], what: str) -> float:
    """Size of ``data``'s unit in the reference unit of ``units``; raise if unknown."""
    unit = data.attrs.get("units")
    if unit not in units:
        raise ActivityDataError(
            f"{what} {data.name or ''!s}: attrs['units'] is {unit!r}; expected one of {', '.join(units)}"
        )
    return units[unit]


def _local_index(data: xr.DataArray, what: str) -> pd.DatetimeIndex:
    """The ``time`` coordinate as timestamps that date each interval in local time.

    ``attrs["timezone"]`` names the wall clock; ``attrs["interval_label"]`` is
    ``"start"`` (default) or ``"end"``: an end-labelled interval belongs to the
    date just before its label, so midnight closes the previous day.
    """
    if "time" not in data.dims:
        raise ActivityDataError(f"{what} has no 'time' dimension (dims: {data.dims})")
    index = pd.DatetimeIndex(data["time"].values)
    if index.tz is not None:
        raise ActivityDataError(f"{what} time must be tz-naive local wall clock with attrs['timezone']")
    tz = data.attrs.get("timezone")
    if not tz:
        raise ActivityDataError(f"{what} lacks attrs['timezone'] (e.g. 'Asia/Shanghai')")
    label = data.attrs.get("interval_label", "start")
    if label not in ("start", "end"):
        raise ActivityDataError(f"{what} attrs['interval_label'] must be 'start' or 'end', not {label!r}")
    if label == "end":
        index = index - pd.Timedelta(1, "ns")
    if tz == VALIDITY_TIMEZONE:
        return index
    try:
        return index.tz_localize(tz, ambiguous="raise", nonexistent="raise")
    except Exception as exc:  # unknown zone, DST gap or overlap
        raise ActivityDataError(f"{what}: cannot place time in zone {tz!r}: {exc}") from exc


_SERIES_CACHE: dict[tuple, tuple] = {}  # (id(lib), sha256, what, ..., index) -> (lib, values, rows)
_SERIES_CACHE_MAX = 256


def _cached(lib: FactorLibrary, key: tuple, index: pd.DatetimeIndex, build) -> tuple[np.ndarray, tuple]:
    """``build()`` -> (values, rows) once per library object, request and local index.

    The big screen asks for the same factor along the same days at every refresh; a library is
    never changed after loading, and the library object is kept with its entry so that its
    ``id`` cannot be reused while the entry lives. Values are read-only arrays.
    """
    k = (id(lib), lib.sha256, *key, str(index.tz), index.asi8.tobytes())
    hit = _SERIES_CACHE.get(k)
    if hit is not None and hit[0] is lib:
        return hit[1], hit[2]
    values, rows = build()
    values = np.asarray(values, dtype=float)
    values.setflags(write=False)
    if len(_SERIES_CACHE) >= _SERIES_CACHE_MAX:
        _SERIES_CACHE.clear()
    _SERIES_CACHE[k] = (lib, values, rows)
    return values, rows


def _apply(activity: xr.DataArray, scale: float, factor: np.ndarray, factor_units: str) -> xr.DataArray:
    """``(activity * scale) * factor`` along ``time``, with the factor as coordinate
    ``emission_factor``: the same arithmetic as xarray's, without re-aligning coordinates that
    are the activity's own."""
    axis = activity.dims.index("time")
    shape = [1] * activity.ndim
    shape[axis] = len(factor)
    data = (np.asarray(activity.values) * scale) * factor.reshape(shape)
    ef = xr.Variable(("time",), factor.copy(), attrs={"units": factor_units})
    out = xr.DataArray(data, coords=activity.coords, dims=activity.dims)
    return out.assign_coords(emission_factor=ef)


def _factor_along_time(
    lib: FactorLibrary,
    factor_id: str,
    index: pd.DatetimeIndex,
    time: xr.DataArray,
    region: str,
    unit: str,
    allow_unverified: bool,
) -> tuple[xr.DataArray, tuple[Factor, ...]]:
    """Factor values in ``unit`` along ``time``, and the rows used."""
    s = lib.series(factor_id, index, region, allow_unverified=allow_unverified)
    values = s.to_numpy() * convert(1.0, s.attrs["unit"], unit)
    return xr.DataArray(values, coords={"time": time}, dims="time"), s.attrs["factors"]


def _provenance(lib: FactorLibrary, factors: tuple[Factor, ...]) -> dict[str, object]:
    """Attributes naming every factor row used and the factor file."""
    unique = list(dict.fromkeys(factors))
    return {
        "factor_ids": [f.key for f in unique],
        "sources": [f.source for f in unique],
        "factor_library": str(lib.path),
        "factor_library_sha256": lib.sha256,
    }


def electricity_location_based(
    energy: xr.DataArray,
    factor_id: str = DEFAULT_GRID_FACTOR,
    region: str = DEFAULT_GRID_REGION,
    library: FactorLibrary | None = None,
    *,
    allow_unverified: bool = False,
) -> xr.DataArray:
    """Location-based scope 2 emissions of purchased electricity.

    Each interval is multiplied by the grid factor valid on its local date, so a period
    crossing a validity boundary (e.g. 31 Dec -> 1 Jan) uses each day's own factor.

    Parameters
    ----------
    energy : xarray.DataArray
        Active energy imported over each interval. [kWh] (``attrs["units"]`` may also be
        ``"Wh"`` or ``"MWh"``). Dimension ``time`` holds tz-naive local wall-clock interval
        labels, ``attrs["timezone"]`` their IANA zone, ``attrs["interval_label"]`` ``"start"``
        (default) or ``"end"``; other dimensions (e.g. ``workshop``) are kept.
    factor_id : str, default "grid_average"
        Grid factor in the library. [tCO2/MWh]
    region : str, default "CN"
        Region code of the factor.
    library : FactorLibrary, optional
        Factor library; the packaged one by default.
    allow_unverified : bool, default False
        Accept factor rows whose status is ``unverified``.

    Returns
    -------
    xarray.DataArray
        Emissions over each interval, same coordinates as ``energy``. [kgCO2e]
        Coordinate ``emission_factor`` holds the factor applied. [kgCO2/kWh]
        Attributes ``factor_ids``, ``sources``, ``factor_library`` and
        ``factor_library_sha256`` trace every factor row used. The MEE/NBS grid factors
        cover CO2 only, so the CO2e figure contains no CH4/N2O from generation.

    Raises
    ------
    ActivityDataError
        If ``energy`` lacks ``time``, ``units`` or ``timezone``.
    models.factors.FactorError
        If no factor covers some interval's date (the message names the date).
    """
    lib = _library(library)
    kwh_per_unit = _scale(energy, _ENERGY_UNITS, "energy")
    index = _local_index(energy, "energy")

    def build():
        f, rows = _factor_along_time(lib, factor_id, index, energy["time"], region, "kgCO2/kWh", allow_unverified)
        return f.values, rows

    factor, used = _cached(lib, ("electricity", factor_id, region, allow_unverified), index, build)
    out = _apply(energy, kwh_per_unit, factor, "kgCO2/kWh")
    out.name = "emissions_location_based"
    out.attrs = {
        "units": "kgCO2e",
        "timezone": energy.attrs["timezone"],
        "method": "GHG Protocol scope 2, location-based (grid average)",
        "gases": "CO2 only (grid factor is CO2-only)",
        **_provenance(lib, used),
    }
    return out


def natural_gas_emission_factor(net_calorific_value, carbon_content, oxidation_rate):
    """CO2 emitted per volume of natural gas burnt: NCV x CC x OF x 44/12.

    Parameters
    ----------
    net_calorific_value : numeric or xarray.DataArray
        Net (lower) calorific value. [GJ/Nm3]
    carbon_content : numeric or xarray.DataArray
        Carbon content per unit of heat. [tC/GJ]
    oxidation_rate : numeric or xarray.DataArray
        Fraction of the carbon oxidised. [1]

    Returns
    -------
    numeric or xarray.DataArray
        Emission factor. [kgCO2/Nm3]
    """
    t_co2_per_nm3 = net_calorific_value * carbon_content * oxidation_rate * CO2_PER_C
    return t_co2_per_nm3 * 1000.0  # 1 t = 1000 kg


def _natural_gas_factor_series(
    lib: FactorLibrary, index: pd.DatetimeIndex, time: xr.DataArray, region: str
) -> tuple[xr.DataArray, tuple[Factor, ...]]:
    """kgCO2/Nm3 along ``time`` from the library's NCV, carbon content and oxidation rows."""
    ncv, used_ncv = _factor_along_time(lib, "natural_gas_ncv", index, time, region, "GJ/Nm3", False)
    cc, used_cc = _factor_along_time(lib, "natural_gas_carbon_content", index, time, region, "tC/GJ", False)
    of, used_of = _factor_along_time(lib, "natural_gas_oxidation", index, time, region, "1", False)
    return natural_gas_emission_factor(ncv, cc, of), used_ncv + used_cc + used_of


def natural_gas_combustion(
    volume: xr.DataArray,
    region: str = "CN",
    library: FactorLibrary | None = None,
) -> xr.DataArray:
    """CO2 from stationary combustion of natural gas, with the guideline's default parameters.

    E = V x NCV x CC x OF x 44/12, with NCV, CC and OF taken from the library rows valid
    on each interval's local date (NDRC 2015 machinery-manufacturing guideline defaults).

    Parameters
    ----------
    volume : xarray.DataArray
        Gas burnt over each interval, at standard conditions. [m3] (= Nm3; ``attrs["units"]``
        may be ``"m3"``, ``"Nm3"`` or ``"10^4Nm3"``). Same time conventions as
        :func:`electricity_location_based`.
    region : str, default "CN"
        Region code of the fuel parameters.
    library : FactorLibrary, optional
        Factor library; the packaged one by default.

    Returns
    -------
    xarray.DataArray
        Emissions over each interval. [kgCO2] Coordinate ``emission_factor`` [kgCO2/Nm3];
        provenance attributes as in :func:`electricity_location_based`.

    Raises
    ------
    ActivityDataError
        If ``volume`` lacks ``time``, ``units`` or ``timezone``.
    models.factors.FactorError
        If a parameter is not covered on some interval's date.
    """
    lib = _library(library)
    nm3_per_unit = _scale(volume, _VOLUME_UNITS, "volume")
    index = _local_index(volume, "volume")

    def build():
        f, rows = _natural_gas_factor_series(lib, index, volume["time"], region)
        return f.values, rows

    factor, used = _cached(lib, ("natural_gas", region), index, build)
    out = _apply(volume, nm3_per_unit, factor, "kgCO2/Nm3")
    out.name = "emissions_natural_gas"
    out.attrs = {
        "units": "kgCO2",
        "timezone": volume.attrs["timezone"],
        "method": "fuel combustion, E = V x NCV x CC x OF x 44/12 (NDRC 2015 machinery guideline)",
        **_provenance(lib, used),
    }
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
    lib = _library(library)
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
