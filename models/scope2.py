"""Scope 2: purchased electricity and heat, and the three views of scope 2.

Location-based lines (electricity x grid average, heat x heat factor) with, where the
methodology counts scope 3, the T&D losses (category 3c); the market-based lines (green power
contracts and GECs at 0, the rest at the grid average: no residual mix is published for China);
and the Chinese compliance view (purchased electricity incl. green power x the compliance grid
factor). Electricity comes from statements (:func:`statement_records`) or, without them, from
the store's top meters (:mod:`models.metered`). Formulas and sources: ``docs/accounting.md``.

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
from typing import TYPE_CHECKING

import pandas as pd
import xarray as xr

from models.factors import FactorError, FactorLibrary
from models.factors.uncertainty import pct
from models.lines import NO_RESIDUAL_MIX, Line, make_line, merge
from models.records import balance, origin_of, yearly
from models.rounding import dec
from models.series import (apply_along_time, cached_series, default_library, factor_along_time, local_index,
                           provenance, unit_scale)
from workspace.units import SERIES_UNITS, apply, convert, quantity

if TYPE_CHECKING:
    from models.context import Context

__all__ = ["DEFAULT_GRID_FACTOR", "DEFAULT_GRID_REGION", "compliance", "electricity_lines",
           "electricity_location_based", "heat_lines", "market_lines", "statement_records"]

log = logging.getLogger(__name__)

#: Default grid factor id for Plant 18's location-based scope 2 (see module docstring).
DEFAULT_GRID_FACTOR = "grid_average"
#: Default grid region for Plant 18's location-based scope 2 (see module docstring).
DEFAULT_GRID_REGION = "CN"


def electricity_lines(ctx: Context, recs: list[dict]) -> list[Line]:
    """Location-based lines (grid average) and, for scope 3, T&D losses."""
    rules = ctx.m.rules
    lines = []
    for rec in recs:
        s, e = rec["period_start"], rec["period_end"]
        grid = ctx.r.get(rules.GRID[0], s, e, rules.GRID[1])
        act = quantity(rec["qty"], rec["unit"])
        t = apply(act, (grid.id, grid.q), to="tCO2e", what=f"electricity {rec['origin']}")
        lines.append(make_line("purchased_electricity", "electricity", "CO2", rec, rec["qty"], rec["unit"], rec["origin"],
                           [grid], t, f"tCO2/{rec['unit']}", pct(ctx.u, rec["u_key"]), [pct(ctx.u, "factor:grid")],
                           formula="E = net purchased electricity x grid average factor", dq=rec["dq"]))
        if rules.SCOPE3:
            td = ctx.r.get("grid_td_loss_rate", s, e, allow_unverified=True)
            tt = apply(act, (td.id, td.q), (grid.id, grid.q), to="tCO2e", what=f"T&D losses {rec['origin']}")
            lines.append(make_line("td_losses", "electricity", "CO2", rec, rec["qty"], rec["unit"], rec["origin"],
                               [td, grid], tt, f"tCO2/{rec['unit']}", pct(ctx.u, rec["u_key"]),
                               [pct(ctx.u, "factor:td_loss"), pct(ctx.u, "factor:grid")],
                               formula="E = electricity x T&D loss rate x grid factor (scope 3 category 3c)",
                               dq=rec["dq"], scope3_category=3))
    return lines


def heat_lines(ctx: Context, df: pd.DataFrame) -> list[Line]:
    lines = []
    for (item, ws, dev, _y), g in yearly(df).groupby(["item", "workshop", "device", "year"], dropna=False, sort=True):
        s, e = min(g["period_start"]), max(g["period_end"])
        qty, how = balance(g, "GJ", f"heat {item}")
        rec = dict(workshop=None if pd.isna(ws) else ws, device=None if pd.isna(dev) else dev, period_start=s,
                   period_end=e)
        f = ctx.r.get(ctx.m.rules.HEAT_FACTOR, s, e)
        t = apply(quantity(qty, "GJ"), (f.id, f.q), to="tCO2e", what=f"heat {origin_of(g)}")
        lines.append(make_line("purchased_heat", item, "CO2", rec, qty, "GJ", origin_of(g) + f" [{how}]", [f], t, "tCO2/GJ",
                           pct(ctx.u, "activity:heat"), [pct(ctx.u, "factor:heat")],
                           formula="E = net purchased heat x heat factor"))
    return lines


def market_lines(ctx: Context, elec: list[Line], instruments: pd.DataFrame) -> list[Line]:
    """Market-based scope 2 electricity: instruments at 0, the rest at the grid average (no residual mix)."""
    if not elec:
        if not instruments.empty:
            log.warning("%d green power / GEC record(s) but no purchased electricity in the period: nothing to "
                        "cover, market-based scope 2 is 0", len(instruments))
        return []
    rules = ctx.m.rules
    total = sum(convert(ln.quantity, ln.unit, "MWh") for ln in elec)
    s, e = min(ln.period_start for ln in elec), max(ln.period_end for ln in elec)
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
        lines.append(make_line("purchased_electricity", f"{kind}:{item}", "CO2", rec, take, "MWh",
                           origin_of(g) + f" [{label}]", [], 0.0, "tCO2/MWh", pct(ctx.u, "activity:instrument"), [],
                           formula="E = MWh covered by contractual instruments x 0", basis="market"))
    rest = total - claimed
    u_ad = max((pct(ctx.u, "activity:meter"), pct(ctx.u, "activity:statement")))
    residual = []
    for ln in elec:
        # instruments cover every electricity line in proportion; each residual part takes its own period's factor
        q = convert(ln.quantity, ln.unit, "MWh") * (rest / total if total else 0.0)
        grid = ctx.r.get(rules.GRID[0], ln.period_start, ln.period_end, rules.GRID[1])
        t = apply(quantity(q, "MWh"), (grid.id, grid.q), to="tCO2e")
        rec = dict(workshop=None, device=None, period_start=ln.period_start, period_end=ln.period_end)
        residual.append(make_line("purchased_electricity", "residual", "CO2", rec, q, "MWh",
                              f"electricity not covered by instruments; factor: {NO_RESIDUAL_MIX}", [grid], t,
                              "tCO2/MWh", u_ad, [pct(ctx.u, "factor:grid")],
                              formula="E = (electricity - instruments) x grid average", basis="market"))
    return lines + merge(residual, ("source", "item"))


def compliance(ctx: Context, lines: list[Line], elec: list[Line]) -> dict:
    rules = ctx.m.rules
    label = ("Chinese compliance view (MEE key-enterprise reporting): purchased electricity incl. green power x "
             f"{rules.COMPLIANCE_GRID[0]} (0.5703 for 2022-2025 reporting); green power is not deducted")
    n_refused = len(ctx.r.refused)
    try:
        t_e = 0.0
        used = []
        for ln in elec:
            f = ctx.r.get(rules.COMPLIANCE_GRID[0], ln.period_start, ln.period_end, rules.COMPLIANCE_GRID[1])
            if len(ctx.r.refused) > n_refused:
                # an unverified compliance factor makes this view unavailable, not the inventory
                row, s, e = ctx.r.refused[n_refused]
                del ctx.r.refused[n_refused:]
                raise FactorError(
                    f"factor {row.factor_id!r} for {s}..{e} is unverified ({row.key}, line {row.line} of "
                    f"{ctx.r.lib.path}); allow unverified factors explicitly (allow_unverified=True, "
                    f"tanjian inventory --allow-unverified) to use it")
            used.append(f.id)
            t_e += apply(quantity(ln.quantity, ln.unit), (f.id, f.q), to="tCO2e")
    except FactorError as exc:
        return {"label": label, "available": False, "reason": str(exc), "scope2_electricity_tco2e": None,
                "total_tco2e": None, "factors": []}
    other = sum(ln.tco2e for ln in lines if ln.scope == 1 or ln.source == "purchased_heat")
    return {"label": label, "available": True, "reason": None, "scope2_electricity_tco2e": dec(t_e, 3),
            "total_tco2e": dec(other + t_e, 3), "factors": sorted(set(used))}


def statement_records(st: pd.DataFrame) -> list[dict]:
    """Electricity records [MWh] of statement rows, one per workshop and billing period.

    A period's ``total`` row is taken when there is one, else the sum of its time-of-use rows.
    """
    recs = []
    for (ws, s, e), g in st.groupby(["workshop", "period_start", "period_end"], dropna=False, sort=True):
        g_tot = g[g["item"] == "total"]
        use = g_tot if not g_tot.empty else g
        mwh = sum(convert(q, u, "MWh") for q, u in zip(use["quantity"], use["unit"]))
        recs.append(dict(workshop=None if pd.isna(ws) else ws, device=None, period_start=s, period_end=e,
                         qty=mwh, unit="MWh", origin=origin_of(use), u_key="activity:statement",
                         dq=(None, None)))
    return recs


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
    lib = default_library(library)
    kwh_per_unit = unit_scale(energy, SERIES_UNITS["energy"], "energy")
    index = local_index(energy, "energy")

    def build():
        f, rows = factor_along_time(lib, factor_id, index, energy["time"], region, "kgCO2/kWh", allow_unverified)
        return f.values, rows

    factor, used = cached_series(lib, ("electricity", factor_id, region, allow_unverified), index, build)
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
