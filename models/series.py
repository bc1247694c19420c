"""Emissions along time: what every time-series emission function shares.

Activity data are :class:`xarray.DataArray` with a ``time`` dimension of local wall-clock
timestamps (tz-naive, IANA zone in ``attrs["timezone"]``) and a ``units`` attribute
(:data:`workspace.units.SERIES_UNITS`). :func:`local_index` dates each interval in local time,
:func:`factor_along_time` takes each interval's factor row from a
:class:`models.factors.FactorLibrary` (kept by :func:`cached_series` for the big screen's
refreshes), :func:`apply_along_time` multiplies, and :func:`provenance` names the rows used and
the factor file. The formulas are the methodology package's, evaluated along time by
:func:`models.scope2.electricity_location_based` and :func:`models.combustion.natural_gas_combustion`.
"""

from __future__ import annotations

import functools
import os

import numpy as np
import pandas as pd
import xarray as xr

from models.factors import VALIDITY_TIMEZONE, Factor, FactorLibrary, convert
from workspace.errors import TanjianError

__all__ = ["ActivityDataError", "apply_along_time", "cached_series", "default_library", "factor_along_time",
           "local_index", "provenance", "unit_scale"]

_LIBRARY: FactorLibrary | None = None


class ActivityDataError(TanjianError):
    """Activity data (energy, volume) lacks a unit, time zone or the expected dimensions."""


def default_library(library: FactorLibrary | None, methodology=None) -> FactorLibrary:
    """The given library; else the factor file a synced ``methodology`` package brought with it
    (:attr:`~models.packages.Methodology.factor_path`, loaded once per path); else the packaged one (loaded once)."""
    global _LIBRARY
    if library is not None:
        return library
    own = getattr(methodology, "factor_path", None)
    if own is not None:  # keyed by the file's state: a byte changed on disk is read again (and refused by the seal)
        st = os.stat(own)
        return _synced_library(str(own), st.st_mtime_ns, st.st_size)
    if _LIBRARY is None:
        _LIBRARY = FactorLibrary.load()
    return _LIBRARY


@functools.lru_cache(maxsize=8)
def _synced_library(path: str, mtime_ns: int, size: int) -> FactorLibrary:
    return FactorLibrary.load(path)


def unit_scale(data: xr.DataArray, units: dict[str, float], what: str) -> float:
    """Size of ``data``'s unit in the reference unit of ``units``; raise if unknown."""
    unit = data.attrs.get("units")
    if unit not in units:
        raise ActivityDataError(
            f"{what} {data.name or ''!s}: attrs['units'] is {unit!r}; expected one of {', '.join(units)}"
        )
    return units[unit]


def local_index(data: xr.DataArray, what: str) -> pd.DatetimeIndex:
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


def cached_series(lib: FactorLibrary, key: tuple, index: pd.DatetimeIndex, build) -> tuple[np.ndarray, tuple]:
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


def apply_along_time(activity: xr.DataArray, scale: float, factor: np.ndarray, factor_units: str) -> xr.DataArray:
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


def factor_along_time(
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


def provenance(lib: FactorLibrary, factors: tuple[Factor, ...]) -> dict[str, object]:
    """Attributes naming every factor row used and the factor file."""
    unique = list(dict.fromkeys(factors))
    return {
        "factor_ids": [f.key for f in unique],
        "sources": [f.source for f in unique],
        "factor_library": str(lib.path),
        "factor_library_sha256": lib.sha256,
    }

