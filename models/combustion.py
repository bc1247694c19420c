"""Combustion of natural gas along time (KPIs, the big screen, the allowance).

The inventory's combustion lines are the package's (``rules.yaml``: ``stationary_combustion`` and
``mobile_combustion``, evaluated by :mod:`models.sources`). Along time, :func:`natural_gas_combustion`
evaluates the package's formula for natural gas with the parameters valid on each interval's local date
(:mod:`models.series`), so that the series and the inventory compute the same thing.

References
----------
.. [1] NDRC, 《机械设备制造企业温室气体排放核算方法与报告指南（试行）》,
   发改办气候〔2015〕1722号: E = FC x NCV x CC x OF x 44/12.
"""

from __future__ import annotations

import pandas as pd
import xarray as xr

from models.expression import compile_formula
from models.factors import Factor, FactorLibrary
from models.series import apply_along_time, cached_series, default_library, local_index, provenance, unit_scale
from workspace.units import SERIES_UNITS

__all__ = ["DEFAULT_METHODOLOGY", "natural_gas_combustion", "natural_gas_emission_factor"]

#: the package whose natural-gas formula the series use unless told otherwise (the Chinese guideline)
DEFAULT_METHODOLOGY = "cn-machinery-2015"


def _package(methodology):
    from models.packages import series_methodology

    return series_methodology(methodology)


def _gas_formula(meth):
    """(source, formula) of natural gas burnt in stationary equipment under ``meth``."""
    src = next(s for s in meth.rules.sources if s.matches("fuel", "natural_gas", "stationary") and not s.also)
    return src, compile_formula(src.formula)


def natural_gas_emission_factor(net_calorific_value, carbon_content, oxidation_rate,
                                methodology=DEFAULT_METHODOLOGY):
    """CO2 emitted per volume of natural gas burnt, by the package's formula (NCV x CC x OF x 44/12 in the
    Chinese guideline).

    Parameters
    ----------
    net_calorific_value : numeric or xarray.DataArray
        Net (lower) calorific value. [GJ/Nm3]
    carbon_content : numeric or xarray.DataArray
        Carbon content per unit of heat. [tC/GJ]
    oxidation_rate : numeric or xarray.DataArray
        Fraction of the carbon oxidised. [1]
    methodology : str or models.packages.Methodology
        Package (id, directory or loaded) whose natural-gas formula names the roles ``NCV``, ``CC`` and ``OF``.

    Returns
    -------
    numeric or xarray.DataArray
        Emission factor. [kgCO2/Nm3]
    """
    meth = _package(methodology)
    src, f = _gas_formula(meth)
    values = {"AD": 1.0, "NCV": net_calorific_value, "CC": carbon_content, "OF": oxidation_rate}
    units = {"AD": "Nm3", "NCV": "GJ/Nm3", "CC": "tC/GJ", "OF": "1"}
    for n in f.names:
        if n in meth.rules.constants:
            values[n], units[n] = meth.rules.constants[n][0], meth.rules.constants[n][1]
    return f.plan(units, "kgCO2").fn(values)


def _natural_gas_factor_series(
    lib: FactorLibrary, index: pd.DatetimeIndex, time: xr.DataArray, region: str, methodology
) -> tuple[xr.DataArray, tuple[Factor, ...]]:
    """kgCO2/Nm3 along ``time``: the package's formula over the library rows valid on each date."""
    meth = _package(methodology)
    src, f = _gas_formula(meth)
    prefix = str(src.items.get("natural_gas", "natural_gas"))
    values, units, used = {"AD": 1.0}, {"AD": "Nm3"}, ()
    for n in f.names:
        if n == "AD":
            continue
        if n in meth.rules.constants:
            values[n], units[n] = meth.rules.constants[n][0], meth.rules.constants[n][1]
            continue
        role = src.factors[n]
        s = lib.series(role.factor_id("natural_gas", prefix, meth.rules.gwp_default), index, region)
        values[n], units[n] = s.to_numpy(), s.attrs["unit"]
        used += s.attrs["factors"]
    out = f.plan(units, "kgCO2").fn(values)
    return xr.DataArray(out, coords={"time": time}, dims="time"), used


def natural_gas_combustion(
    volume: xr.DataArray,
    region: str = "CN",
    library: FactorLibrary | None = None,
    methodology=DEFAULT_METHODOLOGY,
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
    methodology : str or models.packages.Methodology
        Package (id, directory, or the loaded active one) whose natural-gas formula is evaluated.

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
    lib = default_library(library)
    nm3_per_unit = unit_scale(volume, SERIES_UNITS["volume"], "volume")
    index = local_index(volume, "volume")

    def build():
        f, rows = _natural_gas_factor_series(lib, index, volume["time"], region, methodology)
        return f.values, rows

    factor, used = cached_series(lib, ("natural_gas", region, _package(methodology).sha256), index, build)
    out = apply_along_time(volume, nm3_per_unit, factor, "kgCO2/Nm3")
    out.name = "emissions_natural_gas"
    out.attrs = {
        "units": "kgCO2",
        "timezone": volume.attrs["timezone"],
        "method": f"fuel combustion, E = {_gas_formula(_package(methodology))[1].text} "
                  f"(methodology {_package(methodology).id})",
        **provenance(lib, used),
    }
    return out
