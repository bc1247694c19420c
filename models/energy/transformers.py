"""Transformer loading: the load rate from the incomer meter, overload episodes and their duration, the
economic operating band, the estimated losses and early signs of trouble (a rising load, a poor power factor).

Load rate β = S / S_rated with S = P / PF where the incomer meter measures the power factor, else S = P
(PF taken as 1: the rate is then a lower bound; ``attrs["apparent"]`` says which). Losses (no-load P0 and
load Pk at rated current) come from the site model's transformer (nameplate) or, by rated kVA, from
``workspace/data/transformer-losses.csv``. Energy lost over a period: P0 x hours + Pk x sum(β² x Δt).

The economic band follows the rule of GB/T 13462-2008 《电力变压器经济运行》 as commonly quoted (the text
was not read here): the loss-optimal load rate β_JZ = sqrt(P0 / Pk) (reactive terms left out), the
economic region β_JZ² … 1 and its best part 1.33 β_JZ² … 0.75. The site model's ``economic_band`` wins.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from workspace.errors import TanjianError

#: default losses by rated kVA (a data file of the core, with its source)
LOSS_FILE = Path(__file__).resolve().parents[2] / "workspace" / "data" / "transformer-losses.csv"
#: the band rule's source, written into results
BAND_SOURCE = "GB/T 13462-2008 best economic region 1.33 x (P0/Pk) .. 0.75 (as commonly quoted, unverified)"


@dataclass(frozen=True)
class Losses:
    """A transformer's no-load loss P0 and load loss Pk at rated current [kW], and where they come from."""

    no_load_kw: float
    load_kw: float
    source: str


def _loss_table() -> dict[float, tuple[float, float, str]]:
    with open(LOSS_FILE, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    return {float(r["rated_kva"]): (float(r["no_load_loss_kw"]), float(r["load_loss_kw"]),
                                    f"{r['source']} ({r['status']})") for r in rows}


def losses(tr) -> Losses:
    """P0 and Pk of a :class:`workspace.site.Transformer`: its own fields where given, else the default
    table's row of the same rated kVA, else the next larger rating (conservative, said in ``source``).

    Raises
    ------
    TanjianError
        For a rating above the table with no nameplate losses.
    """
    if tr.no_load_loss_kw is not None and tr.load_loss_kw is not None:
        return Losses(tr.no_load_loss_kw, tr.load_loss_kw, tr.loss_source or "site model (nameplate)")
    table = _loss_table()
    sizes = sorted(k for k in table if k >= tr.rated_kva)
    if not sizes:
        raise TanjianError(f"transformer {tr.id}: {tr.rated_kva:g} kVA is above the default loss table "
                           f"({LOSS_FILE.name}); give no_load_loss_kw and load_loss_kw in the site model")
    p0, pk, src = table[sizes[0]]
    if sizes[0] != tr.rated_kva:
        src = f"{src}, row {sizes[0]:g} kVA (next larger than {tr.rated_kva:g} kVA)"
    p0 = tr.no_load_loss_kw if tr.no_load_loss_kw is not None else p0
    pk = tr.load_loss_kw if tr.load_loss_kw is not None else pk
    return Losses(p0, pk, f"{LOSS_FILE.name}: {src}")


def economic_band(tr) -> tuple[float, float, str]:
    """(low, high, source) of the load rate the transformer should run in [-]."""
    if tr.economic_band is not None:
        return float(tr.economic_band[0]), float(tr.economic_band[1]), "site model"
    lo = losses(tr)
    beta2 = lo.no_load_kw / lo.load_kw if lo.load_kw > 0 else 0.0
    return min(1.33 * beta2, 0.75), 0.75, BAND_SOURCE


def optimal_load_rate(tr) -> float:
    """The load rate of least loss per kW carried, β_JZ = sqrt(P0 / Pk) [-]."""
    lo = losses(tr)
    return float(np.sqrt(lo.no_load_kw / lo.load_kw)) if lo.load_kw > 0 else float("nan")


def load_rate(power_kw, rated_kva: float, power_factor=None):
    """Load rate β = S / S_rated [-] of a power (scalar, array or Series) [kW].

    ``power_factor`` (same shape, or None): S = P / PF [kVA]; where it is missing or not in (0, 1]
    the rate is taken with PF = 1 (S = P), the lowest the load can be. A negative power (export
    through the transformer) loads it too: its magnitude counts.
    """
    p = np.abs(np.asarray(power_kw, dtype=float))
    if power_factor is None:
        s = p
    else:
        pf = np.abs(np.asarray(power_factor, dtype=float))
        ok = np.isfinite(pf) & (pf > 0) & (pf <= 1)
        s = np.where(ok, p / np.where(ok, pf, 1.0), p)
    out = s / float(rated_kva)
    if isinstance(power_kw, pd.Series):
        return pd.Series(out, index=power_kw.index, name=power_kw.name)
    return out if np.ndim(out) else float(out)


def overloads(rate: pd.Series, *, threshold: float = 1.0, min_minutes: float = 0.0) -> pd.DataFrame:
    """Episodes where a load-rate series stays above ``threshold``.

    Parameters
    ----------
    rate : pandas.Series
        Load rate [-] on a regular local time index (interval starts).
    threshold : float
        Rate above which the transformer is overloaded (1.0 = rated).
    min_minutes : float
        Shorter episodes are left out [min].

    Returns
    -------
    pandas.DataFrame
        One row per episode: ``start``, ``end`` (end of its last interval), ``minutes`` [min],
        ``peak_rate`` [-], ``mean_rate`` [-].
    """
    cols = ["start", "end", "minutes", "peak_rate", "mean_rate"]
    if len(rate) == 0:
        return pd.DataFrame(columns=cols)
    step = _step(rate.index)
    over = (rate.to_numpy() > threshold)
    rows = []
    i, n = 0, len(over)
    while i < n:
        if not over[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and over[j + 1]:
            j += 1
        seg = rate.iloc[i:j + 1]
        minutes = (j + 1 - i) * step / pd.Timedelta(minutes=1)
        if minutes >= min_minutes:
            rows.append((rate.index[i], rate.index[j] + step, minutes, float(seg.max()), float(seg.mean())))
        i = j + 1
    return pd.DataFrame(rows, columns=cols)


def _step(index: pd.DatetimeIndex) -> pd.Timedelta:
    if index.freq is not None:
        return pd.Timedelta(index.freq)
    if len(index) > 1:
        return pd.Timedelta(int(np.median(np.diff(index.as_unit("ns").asi8))), "ns")
    return pd.Timedelta(minutes=1)


def energy_losses(rate: pd.Series, tr) -> dict[str, float]:
    """Estimated energy lost in the transformer over the series' span [kWh]: no-load P0 x hours (the
    transformer energised all through) and load Pk x sum(β² Δt) over intervals with a rate.

    Mean rates per interval understate the β² term a little when the load swings inside it.
    """
    lo = losses(tr)
    step_h = _step(rate.index) / pd.Timedelta(hours=1)
    hours = len(rate) * step_h
    b = rate.to_numpy(dtype=float)
    load = float(np.nansum(b * b) * step_h * lo.load_kw)
    no_load = lo.no_load_kw * hours
    return {"no_load_kwh": no_load, "load_kwh": load, "loss_kwh": no_load + load}


def transformer_loads(store, site, start, end, *, freq: str = "15min", as_of=None) -> pd.DataFrame:
    """Load rate of every transformer of the site per interval, from its incomer meter [-].

    Returns
    -------
    pandas.DataFrame
        Index local time (interval starts), one column per transformer id. ``attrs``: ``power_kw``
        (DataFrame of the incomers' mean power [kW]), ``power_factor`` (their mean power factor, NaN
        where not measured), ``apparent`` (transformer → "measured PF" or "PF taken as 1").
    """
    from workspace.store.query import power, readings

    trs = list(site.transformers)
    meters = [t.meter for t in trs]
    p = power(store, start, end, meters=meters, freq=freq, as_of=as_of).to_pandas()
    pf = readings(store, start, end, "power_factor", meters=meters, freq=freq, as_of=as_of)
    pf = pf.reindex(p.index)
    rates, apparent = {}, {}
    for t in trs:
        f = pf[t.meter] if t.meter in pf else None
        has_pf = f is not None and f.notna().any()
        rates[t.id] = load_rate(p[t.meter], t.rated_kva, f if has_pf else None)
        apparent[t.id] = "measured PF" if has_pf else "PF taken as 1"
    out = pd.DataFrame(rates, index=p.index)
    out.attrs = {"power_kw": p.rename(columns={t.meter: t.id for t in trs}),
                 "power_factor": pf.rename(columns={t.meter: t.id for t in trs}), "apparent": apparent,
                 "freq": freq, "units": "1"}
    return out


def trend_per_week(series: pd.Series) -> float:
    """Least-squares slope of a series' daily maxima [unit per week]; NaN with fewer than 3 days."""
    daily = series.resample("1D").max().dropna()
    if len(daily) < 3:
        return float("nan")
    x = (daily.index - daily.index[0]) / pd.Timedelta(days=7)
    return float(np.polyfit(np.asarray(x, float), daily.to_numpy(float), 1)[0])


def transformer_report(store, site, start, end, *, freq: str = "15min", overload_at: float = 1.0,
                       rising_per_week: float = 0.05, pf_low: float = 0.90, as_of=None) -> pd.DataFrame:
    """One row per transformer over ``[start, end)``: how loaded, how long overloaded, how much lost,
    and early signs.

    Returns
    -------
    pandas.DataFrame
        Index transformer id; columns ``rated_kva``, ``peak_kw``, ``peak_rate``, ``mean_rate`` [-],
        ``overload_minutes``, ``longest_overload_minutes`` [min] (rate above ``overload_at``),
        ``band_low``, ``band_high`` [-], ``in_band_pct`` [% of intervals with a rate], ``optimal_rate``
        [-], ``no_load_kwh``, ``load_kwh``, ``loss_kwh`` [kWh], ``loss_pct`` [% of the energy carried],
        ``trend_per_week`` [load rate per week, daily peaks], ``pf_mean``, ``pf_min`` [-],
        ``signs`` (text: "rising load", "low PF", "overloaded", "underloaded"; "" when none),
        ``apparent`` (how S was found). ``attrs``: loss and band sources per transformer.
    """
    rates = transformer_loads(store, site, start, end, freq=freq, as_of=as_of)
    p, pf = rates.attrs["power_kw"], rates.attrs["power_factor"]
    step_h = _step(rates.index) / pd.Timedelta(hours=1) if len(rates) else 0.25
    rows, sources = {}, {}
    for t in site.transformers:
        r = rates[t.id]
        ep = overloads(r, threshold=overload_at)
        lo, hi, bsrc = economic_band(t)
        held = r.dropna()
        lost = energy_losses(r, t)
        carried = float(np.nansum(np.abs(p[t.id].to_numpy())) * step_h)
        trend = trend_per_week(r)
        f = pf[t.id]
        signs = []
        if len(ep):
            signs.append("overloaded")
        if np.isfinite(trend) and trend >= rising_per_week:
            signs.append("rising load")
        if f.notna().any() and float(f.mean()) < pf_low:
            signs.append("low PF")
        if len(held) and float(held.max()) < lo:
            signs.append("underloaded")
        rows[t.id] = {
            "rated_kva": t.rated_kva, "peak_kw": float(p[t.id].max()) if len(held) else np.nan,
            "peak_rate": float(held.max()) if len(held) else np.nan,
            "mean_rate": float(held.mean()) if len(held) else np.nan,
            "overload_minutes": float(ep["minutes"].sum()) if len(ep) else 0.0,
            "longest_overload_minutes": float(ep["minutes"].max()) if len(ep) else 0.0,
            "band_low": lo, "band_high": hi,
            "in_band_pct": float(((held >= lo) & (held <= hi)).mean() * 100) if len(held) else np.nan,
            "optimal_rate": optimal_load_rate(t), **lost,
            "loss_pct": lost["loss_kwh"] / carried * 100 if carried > 0 else np.nan,
            "trend_per_week": trend, "pf_mean": float(f.mean()) if f.notna().any() else np.nan,
            "pf_min": float(f.min()) if f.notna().any() else np.nan, "signs": ", ".join(signs),
            "apparent": rates.attrs["apparent"][t.id]}
        sources[t.id] = {"losses": losses(t).source, "band": bsrc}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "transformer"
    out.attrs = {"sources": sources, "period": (str(start), str(end)), "freq": freq}
    return out
