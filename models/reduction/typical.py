"""Representative days: k-medoids of a year's daily load and PV profiles, with the error against the full year.

``tsam`` (the usual library for typical periods) pins older pandas and highspy than this workspace, so the
clustering is written here: each day is a vector of 24 normalised load hours and 24 normalised PV hours;
k-medoids (PAM-style alternation, started from k-means++ seeds with a fixed seed, so results repeat) picks k
real days, and each stands for the days of its cluster (its weight). :func:`typical_error` reports how far the
representative year is from the full one for the figures the plan depends on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Typical:
    """k representative days: ``days`` (their dates), ``weights`` (days each stands for; sum = days of the
    year) and ``members`` (cluster index of every day of the year)."""

    days: tuple[pd.Timestamp, ...]
    weights: np.ndarray
    members: np.ndarray

    def hours(self, series: pd.Series) -> np.ndarray:
        """The representative days' hourly values of a full-year hourly series, day after day (k x 24)."""
        by_day = _daily(series)
        return np.concatenate([by_day.loc[d].to_numpy() for d in self.days])

    def hour_weights(self) -> np.ndarray:
        """Each representative hour's weight [hours of the year it stands for] (k x 24)."""
        return np.repeat(self.weights.astype(float), 24)


def _daily(series: pd.Series) -> pd.DataFrame:
    s = series.copy()
    s.index = pd.DatetimeIndex(s.index)
    df = pd.DataFrame({"day": s.index.normalize(), "hour": s.index.hour, "v": s.to_numpy()})
    out = df.pivot_table(index="day", columns="hour", values="v", aggfunc="mean")
    if out.shape[1] != 24 or out.isna().any().any():
        raise ValueError("a year of complete hourly values is needed (24 per day)")
    return out


def _kmedoids(x: np.ndarray, k: int, seed: int = 17, iters: int = 100) -> tuple[np.ndarray, np.ndarray]:
    n = len(x)
    d = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=2))
    rng = np.random.default_rng(seed)
    medoids = [int(rng.integers(n))]
    for _ in range(1, k):  # k-means++ seeding, deterministic through the seed
        dist = d[:, medoids].min(axis=1) ** 2
        medoids.append(int(rng.choice(n, p=dist / dist.sum())) if dist.sum() > 0 else int(rng.integers(n)))
    medoids = np.array(sorted(set(medoids)))
    for _ in range(iters):
        members = d[:, medoids].argmin(axis=1)
        new = medoids.copy()
        for c in range(len(medoids)):
            idx = np.flatnonzero(members == c)
            if len(idx):
                new[c] = idx[d[np.ix_(idx, idx)].sum(axis=1).argmin()]
        if np.array_equal(np.sort(new), np.sort(medoids)):
            break
        medoids = np.array(sorted(set(new)))
    members = d[:, medoids].argmin(axis=1)
    return medoids, members


def typical_days(load: pd.Series, pv: pd.Series | None, k: int, *, seed: int = 17) -> Typical:
    """k representative days of a year of hourly ``load`` (and ``pv``; both on the same local hours)."""
    L = _daily(load)
    feats = [L.to_numpy() / max(float(L.to_numpy().max()), 1e-12)]
    if pv is not None:
        P = _daily(pv).reindex(L.index)
        feats.append(P.to_numpy() / max(float(P.to_numpy().max()), 1e-12))
    x = np.hstack(feats)
    k = min(k, len(x))
    if k == len(x):
        return Typical(tuple(L.index), np.ones(len(x), dtype=int), np.arange(len(x)))
    med, members = _kmedoids(x, k, seed)
    weights = np.bincount(members, minlength=len(med))
    return Typical(tuple(L.index[med]), weights, members)


def self_consumed(load_kwh: np.ndarray, pv_kwh: np.ndarray, weights: np.ndarray | None = None) -> float:
    """PV energy used on site [kWh]: the sum over hours of min(load, PV), weighted."""
    w = np.ones_like(load_kwh) if weights is None else weights
    return float((w * np.minimum(load_kwh, pv_kwh)).sum())


def typical_error(load: pd.Series, pv_kwh_per_kwp: pd.Series, price: pd.Series, typ: Typical,
                  kwp: float) -> pd.DataFrame:
    """Full year against representative days for a PV system of ``kwp``: yearly load, PV yield,
    self-consumption and the load's cost at ``price`` [CNY/kWh]; columns full, typical, error (relative)."""
    w = typ.hour_weights()
    lf, pf, cf = load.to_numpy(), pv_kwh_per_kwp.to_numpy() * kwp, price.to_numpy()
    lt, pt, ct = typ.hours(load), typ.hours(pv_kwh_per_kwp) * kwp, typ.hours(price)
    rows = {
        "load_mwh": ((lf.sum()) / 1000, (w * lt).sum() / 1000),
        "pv_mwh": (pf.sum() / 1000, (w * pt).sum() / 1000),
        "self_consumed_mwh": (self_consumed(lf, pf) / 1000, self_consumed(lt, pt, w) / 1000),
        "load_cost_kcny": ((lf * cf).sum() / 1000, (w * lt * ct).sum() / 1000),
    }
    out = pd.DataFrame(rows, index=["full", "typical"]).T
    out["error"] = out["typical"] / out["full"].where(out["full"] != 0) - 1
    return out
