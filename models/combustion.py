"""Combustion of fuels: stationary and mobile (scope 1) and their upstream emissions (scope 3).

E = FC x NCV x CC x OF x 44/12 per fuel and year, from fuel records (stock balance or quantity
used) or from the store's gas meters (:mod:`models.metered`); an invoice in GJ skips the NCV, a
liquid fuel invoiced by volume goes through its density. Where the methodology counts scope 3,
each fuel adds its upstream line (category 3a). Formulas and sources: ``docs/accounting.md``.

Along time (KPIs, the big screen, the allowance): :func:`natural_gas_combustion` applies the
guideline's natural-gas parameters valid on each interval's local date (:mod:`models.series`).

References
----------
.. [1] NDRC, 《机械设备制造企业温室气体排放核算方法与报告指南（试行）》,
   发改办气候〔2015〕1722号: E = FC x NCV x CC x OF x 44/12.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import xarray as xr

from models.activity_input import ActivityFileError
from models.factors import Factor, FactorLibrary
from models.factors.uncertainty import pct
from models.lines import Line, make_line
from models.records import balance, origin_of, yearly
from models.series import (apply_along_time, cached_series, default_library, factor_along_time, local_index,
                           provenance, unit_scale)
from workspace import units
from workspace.units import CO2_PER_C_VALUE, SERIES_UNITS, apply, parse, quantity

if TYPE_CHECKING:
    from models.context import Context

__all__ = ["MOBILE_FUELS", "fuel_lines", "natural_gas_combustion", "natural_gas_emission_factor"]

#: fuels counted as mobile combustion when a record does not say its use
MOBILE_FUELS = ("diesel", "gasoline")


def fuel_lines(ctx: Context, df: pd.DataFrame, store_gas: list[dict]) -> list[Line]:
    rules = ctx.m.rules
    lines = []
    groups = [(k[:4], g) for k, g in yearly(df).groupby(["item", "workshop", "device", "use", "year"], dropna=False,
                                                              sort=True)]
    recs = []
    for (item, ws, dev, use), g in groups:
        if item not in rules.FUEL_FACTOR_PREFIX:
            r0 = g.iloc[0]
            raise ActivityFileError([(str(r0.source_file), int(r0.row), "item",
                                      f"unknown fuel {item!r}; expected one of {', '.join(rules.FUEL_FACTOR_PREFIX)}")])
        unit = g["unit"].iloc[0]
        qty, how = balance(g, unit, f"fuel {item}")
        recs.append(dict(item=item, workshop=None if pd.isna(ws) else ws, device=None if pd.isna(dev) else dev,
                         use=use, period_start=min(g["period_start"]), period_end=max(g["period_end"]),
                         qty=qty, unit=unit, origin=origin_of(g) + f" [{how}]", u_key="activity:fuel_invoice",
                         dq=(None, None)))
    recs.extend(store_gas)
    for rec in recs:
        item = rec["item"]
        prefix = rules.FUEL_FACTOR_PREFIX[item]
        s, e = rec["period_start"], rec["period_end"]
        what = f"{item} {rec['origin']}"
        act = quantity(rec["qty"], rec["unit"])
        if act.dimensionality == parse("GJ").dimensionality:
            # the activity is already heat (an invoice in GJ): E = AD x CC x OF x 44/12, no NCV
            heat_params = []
            formula = "E = AD [GJ] x CC x OF x 44/12"
        elif act.dimensionality == parse("L").dimensionality and item != "natural_gas":
            # a liquid fuel invoiced by volume: mass = V x density, then as usual
            heat_params = [ctx.r.get(f"{item}_density", s, e), ctx.r.get(f"{prefix}_ncv", s, e)]
            formula = "E = V x density x NCV x CC x OF x 44/12"
        else:
            heat_params = [ctx.r.get(f"{prefix}_ncv", s, e)]
            formula = "E = FC x NCV x CC x OF x 44/12"
        cc = ctx.r.get(f"{prefix}_carbon_content", s, e)
        of = ctx.r.get(f"{prefix}_oxidation", s, e)
        params = heat_params + [cc, of]
        t = apply(act, *[(p.id, p.q) for p in params], ("44/12", units.CO2_PER_C), to="tCO2e", what=what)
        mobile = item in MOBILE_FUELS if rec["use"] not in ("stationary", "mobile") else rec["use"] == "mobile"
        source = "mobile_combustion" if mobile else "stationary_combustion"
        lines.append(make_line(source, item, "CO2", rec, rec["qty"], rec["unit"], rec["origin"], params, t,
                           f"tCO2/{rec['unit']}", pct(ctx.u, rec["u_key"]), [pct(ctx.u, f"factor:{item}")],
                           formula=formula, dq=rec["dq"]))
        if rules.SCOPE3:
            up = ctx.r.get(f"upstream_{item}", s, e, allow_unverified=True)
            tu = apply(act, *[(p.id, p.q) for p in heat_params], (up.id, up.q), to="tCO2e", what=what)
            lines.append(make_line("upstream_fuel", item, "CO2e", rec, rec["qty"], rec["unit"], rec["origin"],
                               heat_params + [up], tu, f"tCO2e/{rec['unit']}", pct(ctx.u, rec["u_key"]),
                               [pct(ctx.u, "factor:upstream")],
                               formula="E = FC x NCV x EF_upstream (scope 3 category 3a)", dq=rec["dq"],
                               scope3_category=3))
    return lines


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
    t_co2_per_nm3 = net_calorific_value * carbon_content * oxidation_rate * CO2_PER_C_VALUE
    return t_co2_per_nm3 * 1000.0  # 1 t = 1000 kg


def _natural_gas_factor_series(
    lib: FactorLibrary, index: pd.DatetimeIndex, time: xr.DataArray, region: str
) -> tuple[xr.DataArray, tuple[Factor, ...]]:
    """kgCO2/Nm3 along ``time`` from the library's NCV, carbon content and oxidation rows."""
    ncv, used_ncv = factor_along_time(lib, "natural_gas_ncv", index, time, region, "GJ/Nm3", False)
    cc, used_cc = factor_along_time(lib, "natural_gas_carbon_content", index, time, region, "tC/GJ", False)
    of, used_of = factor_along_time(lib, "natural_gas_oxidation", index, time, region, "1", False)
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
    lib = default_library(library)
    nm3_per_unit = unit_scale(volume, SERIES_UNITS["volume"], "volume")
    index = local_index(volume, "volume")

    def build():
        f, rows = _natural_gas_factor_series(lib, index, volume["time"], region)
        return f.values, rows

    factor, used = cached_series(lib, ("natural_gas", region), index, build)
    out = apply_along_time(volume, nm3_per_unit, factor, "kgCO2/Nm3")
    out.name = "emissions_natural_gas"
    out.attrs = {
        "units": "kgCO2",
        "timezone": volume.attrs["timezone"],
        "method": "fuel combustion, E = V x NCV x CC x OF x 44/12 (NDRC 2015 machinery guideline)",
        **provenance(lib, used),
    }
    return out
