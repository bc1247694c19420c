"""Scope 2 machinery: electricity records from statements, the market-based allocation of contractual
instruments, and the location-based series along time.

The formulas are the package's (``rules.yaml``: the ``purchased_electricity`` source, each view's grid factor);
this module only prepares what they compute with: :func:`statement_records` turns statement rows into one
record per workshop and billing period (the store's top meters stand in without statements,
:mod:`models.metered`); :func:`market_lines` lets green power contracts and GECs cover electricity at 0 and
sends the rest through the package's formula with the market view's grid factor (no residual mix is published
for China).

Along time (KPIs, the big screen, the allowance): :func:`electricity_location_based` multiplies each
interval of an energy series by the grid factor valid on its local date (:mod:`models.series`).
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
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import xarray as xr

from models.factors import FactorLibrary
from models.factors.uncertainty import pct
from models.lines import NO_RESIDUAL_MIX, Line, make_line, merge
from models.records import origin_of
from models.series import (apply_along_time, cached_series, default_library, factor_along_time, local_index,
                           provenance, unit_scale)
from workspace.units import SERIES_UNITS, convert

if TYPE_CHECKING:
    from models.context import Context

__all__ = ["DEFAULT_GRID_FACTOR", "DEFAULT_GRID_REGION", "electricity_location_based", "market_lines",
           "statement_records"]

log = logging.getLogger(__name__)

#: Default grid factor id for Plant 18's location-based scope 2 (see module docstring).
DEFAULT_GRID_FACTOR = "grid_average"
#: Default grid region for Plant 18's location-based scope 2 (see module docstring).
DEFAULT_GRID_REGION = "CN"


def market_lines(ctx: Context, elec: list[Line], instruments: pd.DataFrame, source, grid: tuple[str, str]) -> list[Line]:
    """Market-based scope 2 electricity: contractual instruments at 0, the rest through the package's
    electricity ``source`` with the market view's ``grid`` factor (no residual mix is published for China)."""
    from models.sources import Group, evaluate

    if not elec:
        if not instruments.empty:
            log.warning("%d green power / GEC record(s) but no purchased electricity in the period: nothing to "
                        "cover, market-based scope 2 is 0", len(instruments))
        return []
    total = sum(convert(ln.quantity, ln.unit, "MWh") for ln in elec)
    claimed, lines = 0.0, []
    for (kind, item), g in instruments.groupby(["kind", "item"], sort=True):
        mwh = sum(convert(q, u, "MWh") for q, u in zip(g["quantity"], g["unit"]))
        take = min(mwh, total - claimed)
        if take < mwh:
            log.warning("%s %s: %.3f MWh of instruments exceed the electricity left to cover; %.3f MWh claimed",
                        kind, item, mwh, take)
        claimed += take
        rec = dict(workshop=None, device=None, period_start=min(g["period_start"]), period_end=max(g["period_end"]))
        label = "green power contract" if kind == "green_power" else "green electricity certificates (1 GEC = 1 MWh)"
        rows = tuple(f"{Path(str(f)).name}:{int(r)}" for f, r in zip(g["source_file"], g["row"]))
        lines.append(make_line("purchased_electricity", f"{kind}:{item}", "CO2", rec, take, "MWh",
                               origin_of(g) + f" [{label}]", [], 0.0, "tCO2/MWh", pct(ctx.u, "activity:instrument"), [],
                               formula="E = MWh covered by contractual instruments x 0", basis="market",
                               rule=source.id, rows=rows))
    rest = total - claimed
    residual = []
    for ln in elec:
        # instruments cover every electricity line in proportion; each residual part takes its own period's factor
        q = convert(ln.quantity, ln.unit, "MWh") * (rest / total if total else 0.0)
        g = Group(item="residual", workshop=None, device=None, period_start=ln.period_start, period_end=ln.period_end,
                  unit="MWh", movements={"used": q}, origin=f"electricity not covered by instruments; factor: "
                  f"{NO_RESIDUAL_MIX}", rows=ln.activity_rows, u_key="activity:statement")
        residual.append(evaluate(ctx, source, g, grid=grid, basis="market"))
    return lines + merge(residual, ("source", "item"))


def statement_records(st: pd.DataFrame, unused: list[dict] | None = None) -> list[dict]:
    """Electricity records [MWh] of statement rows, one per workshop and billing period.

    A period's ``total`` row is taken when there is one, else the sum of its time-of-use rows; the
    time-of-use rows of a period with a total row are appended to ``unused`` with the reason.
    """
    recs = []
    for (ws, s, e), g in st.groupby(["workshop", "period_start", "period_end"], dropna=False, sort=True):
        g_tot = g[g["item"] == "total"]
        use = g_tot if not g_tot.empty else g
        if unused is not None and not g_tot.empty:
            tot_rows = ", ".join(f"{Path(str(f)).name}:{int(r)}" for f, r in zip(g_tot["source_file"], g_tot["row"]))
            for r in g[g["item"] != "total"].itertuples():
                unused.append({"file": Path(str(r.source_file)).name, "row": int(r.row), "kind": r.kind,
                               "item": r.item, "reason": f"time-of-use part of the billing period whose total row "
                                                         f"{tot_rows} is counted (not added twice)"})
        mwh = sum(convert(q, u, "MWh") for q, u in zip(use["quantity"], use["unit"]))
        recs.append(dict(workshop=None if pd.isna(ws) else ws, device=None, period_start=s, period_end=e,
                         qty=mwh, unit="MWh", origin=origin_of(use), u_key="activity:statement",
                         dq=(None, None), rows=tuple(f"{Path(str(f)).name}:{int(r)}"
                                                     for f, r in zip(use["source_file"], use["row"]))))
    return recs


def _per_kwh(methodology, grid):
    """kgCO2e per kWh along time: the package's electricity formula with AD = 1 kWh and its grid role = ``grid``
    [kgCO2/kWh] (constants as the package gives them)."""
    from models.expression import compile_formula
    from models.packages import series_methodology

    meth = series_methodology(methodology)
    src = next(s for s in meth.rules.sources if "electricity" in s.kind and s.scope == 2 and not s.also)
    f = compile_formula(src.formula)
    values, units = {"AD": 1.0}, {"AD": "kWh"}
    for n in f.names:
        if n == "AD":
            continue
        if n in meth.rules.constants:
            values[n], units[n] = meth.rules.constants[n][0], meth.rules.constants[n][1]
        elif src.factors[n].grid:
            values[n], units[n] = grid, "kgCO2/kWh"
        else:
            raise ValueError(f"{meth.id}: {src.id} formula {src.formula!r} names {n}, which a series cannot take")
    return f.plan(units, "kgCO2e").fn(values)


def electricity_location_based(
    energy: xr.DataArray,
    factor_id: str = DEFAULT_GRID_FACTOR,
    region: str = DEFAULT_GRID_REGION,
    library: FactorLibrary | None = None,
    *,
    allow_unverified: bool = False,
    methodology="cn-machinery-2015",
) -> xr.DataArray:
    """Location-based scope 2 emissions of purchased electricity, by the package's formula.

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
    methodology : str or models.packages.Methodology
        Package (id, directory, or the loaded active one) whose scope 2 electricity formula is evaluated per
        interval, with ``factor_id`` as its grid factor.

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
    lib = default_library(library)
    kwh_per_unit = unit_scale(energy, SERIES_UNITS["energy"], "energy")
    index = local_index(energy, "energy")

    def build():
        f, rows = factor_along_time(lib, factor_id, index, energy["time"], region, "kgCO2/kWh", allow_unverified)
        return _per_kwh(methodology, f.values), rows

    from models.packages import series_methodology

    key = ("electricity", factor_id, region, allow_unverified, series_methodology(methodology).sha256)
    factor, used = cached_series(lib, key, index, build)
    out = apply_along_time(energy, kwh_per_unit, factor, "kgCO2/kWh")
    out.name = "emissions_location_based"
    out.attrs = {
        "units": "kgCO2e",
        "timezone": energy.attrs["timezone"],
        "method": "GHG Protocol scope 2, location-based (grid average)",
        "gases": "CO2 only (grid factor is CO2-only)",
        **provenance(lib, used),
    }
    return out
