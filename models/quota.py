"""The year's allowance (quota): monthly settlement, a forecast of the year's emissions, an alarm, green share.

The allowance comes from :class:`chain.quota.QuotaBook`: the regulator's value on the chain's
QuotaRegistry when one is set (and the registry configured), else the value entered by hand with an
author and a reason in the append-only audit trail ``<data_dir>/chain/quotas.jsonl``. This module does
not keep a trail of its own.

Settlement
----------
Each month's emissions are compared with the allowance pro rata by calendar days,
``Q x days / days_in_year``; for the month in progress only the days up to the last day with data
count. The cumulative balance is cumulative allowance minus cumulative emissions (negative: over).

Emissions: the full inventory of the active methodology
-------------------------------------------------------
"Current emissions" are the year-to-date inventory of the active methodology package
(:func:`models.guarded.active_methodology`), every source it counts (fuels, process gases, F-gases,
electricity and heat, from the store and the imported activity records), taken at its headline total:
the compliance view for the Chinese methodologies (the grid factor in force for the reporting year), the
gross location-based total otherwise (:func:`headline_tco2e`). That total is spread over the days in
proportion to the metered daily emissions (purchased electricity and natural gas from the store), which
give the plant's daily rhythm; the days' sum is exactly the inventory's total (:func:`scale_daily`).

Green share
-----------
Green electricity year to date over electricity used: green-power contracts (activity kind
``green_power``) plus imported green electricity certificates (kind ``gec``, 1 GEC = 1 MWh), each
record counted for the days of its period inside the year to date (pro rata by days,
:func:`green_supply`); electricity used is the inventory's purchased electricity. A hand-entered
figure (``tanjian allowance status --green-mwh``) overrides them and the output says so.

Forecast
--------
Daily emissions ``y_d`` [kgCO2e] follow a seasonal model

    y_d = s_m(d) * mu_w(d) + s_m(d) * e_d

``mu_w``: the mean of each weekday (the plant's weekly production cycle) fitted on the year's
observed days after dividing out ``s_m``, an optional monthly seasonal index (e.g. last year's
monthly mean daily emissions over its annual mean daily emissions; 1 when not given); ``e_d``: the
residuals. The point forecast of the year is the year-to-date actual plus ``sum s_m(d) * mu_w(d)``
over the days without data (the rest of the year, and gaps). The interval comes from a residual
moving-block bootstrap (blocks of 7 days keep a week's autocorrelation) [1]_: each replicate
rebuilds a pseudo-history ``mu_w + e*`` from resampled residual blocks, refits ``mu_w*`` (so the
uncertainty of the weekday means is included, which dominates for long horizons), then adds
``sum s_m (mu_w* + e**)`` over the days to predict with fresh resampled residuals. Residuals are
inflated by ``sqrt(n / (n - 7))`` for the 7 fitted means. The interval is the replicates'
``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles. The method assumes the weekday profile and
noise of the year so far carry on (scaled by ``s_m``); a shutdown or a new line breaks it.

References
----------
.. [1] A. C. Davison, D. V. Hinkley, *Bootstrap Methods and their Application*, Cambridge University
   Press, 1997, sections 6.3.3 (prediction from residual resampling) and 8.2.3 (block bootstrap).
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from workspace.errors import TanjianError

log = logging.getLogger(__name__)

__all__ = [
    "Alarm",
    "Forecast",
    "ForecastError",
    "QuotaStatus",
    "alarm",
    "GreenSupply",
    "daily_emissions",
    "forecast",
    "green_share",
    "green_supply",
    "headline_tco2e",
    "quota_status",
    "scale_daily",
    "settle",
]

#: Fewest observed days a forecast is made from. [d]
MIN_DAYS = 14
#: Block length of the residual bootstrap. [d]
BLOCK_DAYS = 7


class ForecastError(TanjianError):
    """Too few or inconsistent daily emissions to settle or forecast."""


def _year_days(year: int) -> pd.DatetimeIndex:
    return pd.date_range(dt.date(year, 1, 1), dt.date(year, 12, 31), freq="D")


def _as_year(daily: pd.Series, year: int) -> pd.Series:
    """``daily`` reindexed on the calendar days of ``year`` (NaN where no data); checks the index."""
    if not isinstance(daily.index, pd.DatetimeIndex):
        raise ForecastError("daily emissions need a DatetimeIndex of local dates")
    idx = daily.index.tz_localize(None) if daily.index.tz is not None else daily.index
    if (idx != idx.normalize()).any():
        raise ForecastError("daily emissions must be indexed by local midnight (one value per day)")
    if idx.has_duplicates:
        raise ForecastError(f"daily emissions repeat the day(s) {sorted(set(idx[idx.duplicated()].date))[:3]}")
    s = pd.Series(daily.to_numpy(dtype=float), index=idx)
    outside = s.index[(s.index.year != year)]
    if len(outside):
        raise ForecastError(f"daily emissions of {outside[0].date()} are outside the year {year}")
    if (s < 0).any():
        raise ForecastError(f"negative daily emissions on {s.index[(s < 0).to_numpy()][0].date()}")
    return s.reindex(_year_days(year))


def settle(daily: pd.Series, quota_kg: float, year: int) -> pd.DataFrame:
    """Monthly settlement of emissions against the allowance, pro rata by calendar days.

    Parameters
    ----------
    daily : pandas.Series
        Emissions per local day [kgCO2e], indexed by the day's local midnight (days of ``year``).
    quota_kg : float
        The year's allowance. [kgCO2e]
    year : int

    Returns
    -------
    pandas.DataFrame
        One row per month from January to the month of the last day with data, index ``month``
        (1..12). Columns: ``days`` counted (the whole month, or up to the last day with data),
        ``missing_days`` (counted days without data), ``emissions_kg`` [kgCO2e], ``quota_kg``
        (pro rata) [kgCO2e], ``balance_kg`` (quota - emissions) [kgCO2e], ``cum_emissions_kg``,
        ``cum_quota_kg``, ``cum_balance_kg`` [kgCO2e], ``over`` (cumulative emissions above the
        cumulative allowance).
    """
    if quota_kg < 0:
        raise ForecastError(f"allowance {quota_kg} kg CO2e is negative")
    s = _as_year(daily, year)
    seen = s.dropna()
    if seen.empty:
        raise ForecastError(f"no daily emissions in {year} to settle")
    last = seen.index[-1]
    n_year = 366 if calendar.isleap(year) else 365
    rows = []
    for month in range(1, last.month + 1):
        m = s[(s.index.month == month) & (s.index <= last)]
        rows.append({"month": month, "days": len(m), "missing_days": int(m.isna().sum()),
                     "emissions_kg": float(m.sum()), "quota_kg": quota_kg * len(m) / n_year})
    out = pd.DataFrame(rows).set_index("month")
    out["balance_kg"] = out["quota_kg"] - out["emissions_kg"]
    out["cum_emissions_kg"] = out["emissions_kg"].cumsum()
    out["cum_quota_kg"] = out["quota_kg"].cumsum()
    out["cum_balance_kg"] = out["cum_quota_kg"] - out["cum_emissions_kg"]
    out["over"] = out["cum_balance_kg"] < 0
    out.attrs = {"year": year, "quota_kg": float(quota_kg), "last_day": str(last.date()), "units": "kgCO2e"}
    return out


@dataclass(frozen=True)
class Forecast:
    """The year's emissions forecast.

    Attributes
    ----------
    year : int
    actual_kg : float
        Emissions of the days with data. [kgCO2e]
    total_kg : float
        Point forecast of the year. [kgCO2e]
    lower_kg, upper_kg : float
        Prediction interval at ``level``. [kgCO2e]
    level : float
        Coverage of the interval. [1]
    observed_days, predicted_days : int
        Days with data, and days forecast (the rest of the year and any gaps). [d]
    last_day : datetime.date
        Last day with data.
    weekday_means_kg : tuple of float
        Fitted mean of Monday..Sunday (before the monthly index). [kgCO2e/d]
    method : str
    """

    year: int
    actual_kg: float
    total_kg: float
    lower_kg: float
    upper_kg: float
    level: float
    observed_days: int
    predicted_days: int
    last_day: dt.date
    weekday_means_kg: tuple[float, ...]
    method: str = field(default="weekday-profile model x monthly index, residual moving-block bootstrap "
                                "(7-day blocks), refit per replicate")


def _block_draw(res: np.ndarray, rng: np.random.Generator, n_rep: int, length: int, block: int) -> np.ndarray:
    """``n_rep`` series of ``length`` residuals, each made of random consecutive blocks of ``res``."""
    n = len(res)
    block = min(block, n)
    n_blocks = -(-length // block)
    starts = rng.integers(0, n - block + 1, size=(n_rep, n_blocks))
    idx = (starts[:, :, None] + np.arange(block)).reshape(n_rep, n_blocks * block)[:, :length]
    return res[idx]


def forecast(daily: pd.Series, year: int, *, level: float = 0.9, n_boot: int = 2000, seed: int = 0,
             monthly_index: list[float] | None = None, block: int = BLOCK_DAYS) -> Forecast:
    """Forecast the year's emissions from its daily emissions so far (method: module docstring).

    Parameters
    ----------
    daily : pandas.Series
        Emissions per local day [kgCO2e], indexed by local midnight; days of ``year`` only.
    year : int
    level : float, default 0.9
        Coverage of the prediction interval. [1]
    n_boot : int, default 2000
        Bootstrap replicates.
    seed : int, default 0
        Seed of the bootstrap (the same inputs give the same interval).
    monthly_index : list of 12 float, optional
        Seasonal index of January..December [1] (e.g. last year's monthly mean daily emissions
        over its annual mean daily emissions); 1 for every month when not given.
    block : int, default 7
        Bootstrap block length. [d]

    Returns
    -------
    Forecast

    Raises
    ------
    ForecastError
        Fewer than 14 observed days, a weekday never observed, or a bad ``monthly_index``.
    """
    if not 0 < level < 1:
        raise ForecastError(f"level {level} must be between 0 and 1")
    s = _as_year(daily, year)
    if monthly_index is None:
        monthly_index = [1.0] * 12
    if len(monthly_index) != 12 or any(not np.isfinite(v) or v <= 0 for v in monthly_index):
        raise ForecastError(f"monthly_index needs 12 positive numbers, got {monthly_index!r}")
    seasonal = np.asarray(monthly_index, dtype=float)[s.index.month.to_numpy() - 1]
    seen = s.notna().to_numpy()
    n = int(seen.sum())
    if n < MIN_DAYS:
        raise ForecastError(f"{n} day(s) of {year} have emissions; a forecast needs at least {MIN_DAYS}")
    last = s.index[seen][-1]
    # the rest of the year, and the gaps before it, are predicted
    predict = ~seen
    dow = s.index.day_of_week.to_numpy()
    y = s.to_numpy()[seen] / seasonal[seen]
    dow_seen = dow[seen]
    counts = np.bincount(dow_seen, minlength=7)
    if (counts == 0).any():
        missing = [calendar.day_name[i] for i in np.flatnonzero(counts == 0)]
        raise ForecastError(f"no observed {', '.join(missing)} in {year}: the weekday profile cannot be fitted")
    mu = np.bincount(dow_seen, weights=y, minlength=7) / counts
    res = (y - mu[dow_seen]) * np.sqrt(n / max(n - 7, 1))
    actual = float(np.nansum(s.to_numpy()[seen]))
    point = actual + float((seasonal[predict] * mu[dow[predict]]).sum())
    m = int(predict.sum())
    if m == 0 or not res.any():
        lo = hi = point
    else:
        rng = np.random.default_rng(seed)
        fitted = mu[dow_seen]
        e_star = _block_draw(res, rng, n_boot, n, block)                   # pseudo-histories
        y_star = fitted[None, :] + e_star
        mu_star = np.stack([np.bincount(dow_seen, weights=row, minlength=7) for row in y_star]) / counts
        e_new = _block_draw(res, rng, n_boot, m, block)                    # future noise
        future = (seasonal[predict][None, :] * (mu_star[:, dow[predict]] + e_new)).sum(axis=1)
        totals = actual + future
        lo, hi = (float(v) for v in np.quantile(totals, [(1 - level) / 2, (1 + level) / 2]))
    return Forecast(year, actual, point, lo, hi, level, n, m, last.date(), tuple(float(v) for v in mu))


@dataclass(frozen=True)
class Alarm:
    """The forecast (or year-to-date actual) crosses the allowance.

    Attributes
    ----------
    severity : {"exceeded", "forecast", "risk"}
        ``exceeded``: the year-to-date emissions already exceed the allowance; ``forecast``: the
        point forecast does; ``risk``: only the upper bound of the interval does.
    message : str
    excess_kg : float
        The crossing figure minus the allowance. [kgCO2e]
    """

    severity: str
    message: str
    excess_kg: float


def alarm(fc: Forecast, quota_kg: float) -> Alarm | None:
    """The alarm the forecast raises against the allowance [kgCO2e], or None."""
    pct = int(round(fc.level * 100))
    if fc.actual_kg > quota_kg:
        return Alarm("exceeded", f"{fc.year}: emissions to {fc.last_day} ({fc.actual_kg / 1000:,.1f} t CO2e) "
                                 f"already exceed the allowance ({quota_kg / 1000:,.1f} t)", fc.actual_kg - quota_kg)
    if fc.total_kg > quota_kg:
        return Alarm("forecast", f"{fc.year}: forecast {fc.total_kg / 1000:,.1f} t CO2e (interval "
                                 f"{fc.lower_kg / 1000:,.1f}-{fc.upper_kg / 1000:,.1f}) exceeds the allowance "
                                 f"{quota_kg / 1000:,.1f} t", fc.total_kg - quota_kg)
    if fc.upper_kg > quota_kg:
        return Alarm("risk", f"{fc.year}: the upper bound of the {pct}% forecast interval "
                             f"({fc.upper_kg / 1000:,.1f} t CO2e) exceeds the allowance {quota_kg / 1000:,.1f} t",
                     fc.upper_kg - quota_kg)
    return None


def green_share(electricity_kwh: float, green_kwh: float) -> float:
    """Share of green electricity (green power contracts, GECs at 1 certificate = 1 MWh) in the electricity used.

    Parameters
    ----------
    electricity_kwh : float
        Electricity used. [kWh]
    green_kwh : float
        Green electricity bought or certified for the same period. [kWh]

    Returns
    -------
    float
        ``green / used``, capped at 1 (surplus certificates do not make more than all of it green). [1]
    """
    if electricity_kwh < 0 or green_kwh < 0:
        raise ForecastError(f"negative electricity ({electricity_kwh} kWh) or green electricity ({green_kwh} kWh)")
    if electricity_kwh == 0:
        return 0.0
    return min(green_kwh / electricity_kwh, 1.0)


def daily_emissions(store, year: int, *, library=None, as_of=None, methodology=None) -> tuple[pd.Series, dict]:
    """Location-based emissions per local day of ``year`` from the store: purchased electricity
    (vintage-matched grid factor) plus natural gas combustion.

    Parameters
    ----------
    store : workspace.store.Store
    year : int
    library : models.factors.FactorLibrary, optional
    as_of : snapshot id or datetime, optional
    methodology : models.packages.Methodology, optional
        The active package whose electricity and natural-gas formulas are evaluated (default: the functions').

    Returns
    -------
    (pandas.Series, dict)
        Emissions per local day [kgCO2e] (NaN for days without data, none after the newest
        reading), and ``{"electricity_kwh", "snapshot", "factor_ids"}``.
    """
    from models.combustion import natural_gas_combustion
    from models.scope2 import electricity_location_based

    latest = store.latest_time(as_of)
    if latest is None:
        raise ForecastError("the store holds no readings")
    latest = pd.Timestamp(latest).tz_convert(store.tz) if pd.Timestamp(latest).tzinfo else pd.Timestamp(latest)
    start = pd.Timestamp(dt.datetime(year, 1, 1))
    end = min(pd.Timestamp(dt.datetime(year + 1, 1, 1)), latest.tz_localize(None).normalize() + pd.Timedelta(days=1))
    if end <= start:
        raise ForecastError(f"the store has no data in {year} (newest reading {latest})")
    kw = dict(by="plant", freq="1D", as_of=as_of)
    elec = store.energy(start, end, medium="electricity", **kw)
    gas = store.energy(start, end, medium="natural_gas", **kw)
    kw = {} if methodology is None else {"methodology": methodology}
    e = electricity_location_based(elec, library=library, **kw).sum("group", min_count=1)
    g = natural_gas_combustion(gas.fillna(0), library=library, **kw).sum("group")
    total = e.to_pandas() + g.to_pandas().reindex(e.to_pandas().index).fillna(0.0)
    total.index = pd.DatetimeIndex(total.index)
    info = {"electricity_kwh": float(np.nansum(elec.values)), "snapshot": elec.attrs["snapshot"],
            "factor_ids": list(dict.fromkeys(e.attrs.get("factor_ids", []) + g.attrs.get("factor_ids", [])))}
    return total, info


def headline_tco2e(inv: dict) -> tuple[float, str]:
    """(total [tCO2e], which figure) of a canonical inventory: its ``totals.headline`` when the engine gives
    one, else the compliance view's total when available (Chinese methodologies), else the gross
    location-based total (scopes 1 and 2)."""
    head = (inv.get("totals") or {}).get("headline")
    if isinstance(head, dict) and head.get("tco2e") is not None:
        return float(head["tco2e"]), f"headline ({head.get('view', '?')} view)"
    comp = (inv.get("views") or {}).get("compliance") or {}
    if comp.get("available") and comp.get("total_tco2e") is not None:
        return float(comp["total_tco2e"]), "compliance view"
    return float(inv["totals"]["gross_location"]["tco2e"]), "gross location-based (scopes 1 and 2)"


def scale_daily(metered: pd.Series, total_kg: float) -> pd.Series:
    """Daily emissions whose sum is ``total_kg``, shaped like ``metered`` (NaN days stay NaN).

    When the metered days sum to zero the total is spread evenly over the days with data.
    """
    known = metered.notna()
    if not known.any():
        raise ForecastError("no day with metered data to spread the inventory's emissions over")
    base = float(metered[known].sum())
    out = metered.copy()
    if base > 0:
        out[known] = metered[known] * (total_kg / base)
    else:
        out[known] = total_kg / int(known.sum())
    return out


@dataclass(frozen=True)
class GreenSupply:
    """Green electricity of a period from the activity records.

    Attributes
    ----------
    kwh : float
        Contracts plus certificates, pro rata by days inside the period. [kWh]
    contracts_kwh, certificates_kwh : float
        The two parts. [kWh]
    records : list of dict
        Each record counted: kind, item, period, quantity, unit, counted kWh, source file and row.
    """

    kwh: float
    contracts_kwh: float
    certificates_kwh: float
    records: list = field(default_factory=list)


def green_supply(activity: pd.DataFrame | None, start: dt.date, end: dt.date) -> GreenSupply:
    """Green-power contracts (kind ``green_power``) and certificates (kind ``gec``, 1 GEC = 1 MWh) whose
    period overlaps [start, end] (inclusive local dates), each counted pro rata by the days of its period
    inside [start, end].

    Raises
    ------
    workspace.errors.UnitMismatch
        A record's unit is not an energy (or GEC).
    """
    from workspace.units import convert

    contracts = certs = 0.0
    recs = []
    if activity is None or activity.empty:
        return GreenSupply(0.0, 0.0, 0.0, [])
    for r in activity[activity["kind"].isin(("green_power", "gec"))].itertuples(index=False):
        a, b = dt.date.fromisoformat(str(r.period_start)[:10]), dt.date.fromisoformat(str(r.period_end)[:10])
        lo, hi = max(a, start), min(b, end)
        if hi < lo:
            continue
        share = ((hi - lo).days + 1) / ((b - a).days + 1)
        kwh = convert(float(r.quantity), str(r.unit), "kWh") * share
        if r.kind == "gec":
            certs += kwh
        else:
            contracts += kwh
        recs.append({"kind": r.kind, "item": r.item, "period": f"{a}..{b}", "quantity": float(r.quantity),
                     "unit": str(r.unit), "counted_kwh": kwh,
                     "source": f"{getattr(r, 'source_file', '') or ''}:{getattr(r, 'row', '') or ''}"})
    return GreenSupply(contracts + certs, contracts, certs, recs)


def _electricity_kwh(inv: dict) -> float | None:
    """Purchased electricity of a canonical inventory's lines [kWh]; None when it has none."""
    from workspace.units import convert

    total, seen = 0.0, False
    for ln in inv.get("lines", []):
        if ln.get("source") != "purchased_electricity":
            continue
        a = ln.get("activity") or {}
        total += convert(float(a["quantity"]), str(a["unit"]), "kWh")
        seen = True
    return total if seen else None


@dataclass(frozen=True)
class QuotaStatus:
    """Everything ``tanjian allowance status`` shows.

    Attributes
    ----------
    enterprise : str
    year : int
    quota : chain.quota.Quota
    settlement : pandas.DataFrame
        See :func:`settle`.
    forecast : Forecast or None
        None when too few days have data (``forecast_note`` says why).
    alarm : Alarm or None
    green_share : float or None
        Green electricity over electricity used, year to date [1]; None when not given.
    electricity_kwh : float
        Electricity used, year to date. [kWh]
    snapshot : str
        Store snapshot read.
    forecast_note : str
    emissions_basis : str
        What "emissions" are: the inventory's figure and methodology, or the metered location-based sum.
    green : GreenSupply or None
        Green electricity from the activity records (None when not looked at).
    green_override_kwh : float or None
        The hand-entered figure that replaced ``green`` (None: none).
    methodology : dict or None
        id, version, sha256 and ``chain_check`` of the package the inventory was computed with.
    """

    enterprise: str
    year: int
    quota: object
    settlement: pd.DataFrame
    forecast: Forecast | None
    alarm: Alarm | None
    green_share: float | None
    electricity_kwh: float
    snapshot: str
    forecast_note: str = ""
    emissions_basis: str = "metered location-based electricity and natural gas"
    green: GreenSupply | None = None
    green_override_kwh: float | None = None
    methodology: dict | None = None


def quota_status(store, book, enterprise: str, year: int, *, green_kwh: float | None = None, library=None,
                 level: float = 0.9, as_of=None, inventory: dict | None = None,
                 green: GreenSupply | None = None, methodology=None) -> QuotaStatus:
    """Allowance, settlement, forecast, alarm and green share of ``enterprise`` in ``year``.

    Parameters
    ----------
    store : workspace.store.Store
    book : chain.quota.QuotaBook
        The allowance's source (on-chain registry when it has one, else the hand-entered trail).
    enterprise : str
    year : int
    green_kwh : float, optional
        A hand-entered green electricity figure of the year to date [kWh]: overrides ``green`` (and is
        reported as an override).
    library, level, as_of
        Passed on to :func:`daily_emissions` and :func:`forecast`.
    inventory : dict, optional
        The canonical year-to-date inventory of the active methodology (see the module docstring): its
        headline total is what is settled and forecast; without it, the metered location-based sum.
    green : GreenSupply, optional
        Green electricity from the imported contracts and certificates (:func:`green_supply`).
    methodology : models.packages.Methodology, optional
        The active package: the metered daily shape is computed with its formulas.

    Raises
    ------
    ForecastError
        No allowance for the enterprise and year, or no data in the store for the year.
    """
    q = book.effective(enterprise, year)
    if q is None:
        raise ForecastError(f"no allowance for {enterprise} in {year}: enter one with `tanjian quota set "
                            f"{enterprise} {year} AMOUNT_T --author NAME --reason WHY`")
    daily, info = daily_emissions(store, year, library=library, as_of=as_of, methodology=methodology)
    basis, meth, used_kwh = "metered location-based electricity and natural gas", None, info["electricity_kwh"]
    if inventory is not None:
        total_t, which = headline_tco2e(inventory)
        daily = scale_daily(daily, total_t * 1000.0)
        m = inventory.get("methodology") or {}
        meth = {k: m.get(k) for k in ("id", "version", "sha256", "chain_check")}
        basis = (f"inventory {inventory['period']['start']}..{inventory['period']['end']} under {m.get('id')} "
                 f"{m.get('version')}: {which} {total_t:.3f} t")
        elec = _electricity_kwh(inventory)
        if elec is not None:
            used_kwh = elec
    table = settle(daily, q.amount_kg, year)
    fc, al, note = None, None, ""
    try:
        fc = forecast(daily, year, level=level)
        al = alarm(fc, q.amount_kg)
    except ForecastError as exc:
        note = str(exc)
        if daily.sum() > q.amount_kg:
            al = Alarm("exceeded", f"{year}: emissions so far exceed the allowance", float(daily.sum() - q.amount_kg))
    supply = green_kwh if green_kwh is not None else (green.kwh if green is not None else None)
    share = None if supply is None else green_share(used_kwh, supply)
    if al is not None:
        log.warning("allowance alarm (%s): %s", al.severity, al.message)
    return QuotaStatus(enterprise, year, q, table, fc, al, share, used_kwh, info["snapshot"], note, basis, green,
                       green_kwh, meth)
