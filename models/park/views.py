"""The park's views, from verified packages' figures only.

Emissions by enterprise, sector and month; each enterprise's quota position with a forecast for the year;
verification status with the failing check named; late or missing reports.

Forecast: the year's total is the verified emissions so far scaled to twelve months,
``forecast = sum(months reported) / n_months * 12`` (a straight-line run rate; months not yet
reported count as missing, not as zero).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from .verify import PackageVerdict


def _frame(verdicts: list[PackageVerdict]) -> pd.DataFrame:
    rows = [{"enterprise": v.enterprise, "sector": v.sector, "period": v.period,
             "total_kg": v.emissions_kg.get("total"), "quota_kg": v.quota_kg}
            for v in verdicts if v.ok]
    return pd.DataFrame(rows, columns=["enterprise", "sector", "period", "total_kg", "quota_kg"])


def by_enterprise(verdicts: list[PackageVerdict]) -> pd.Series:
    """Verified emissions per enterprise [kg CO2e]."""
    return _frame(verdicts).groupby("enterprise")["total_kg"].sum()


def by_sector(verdicts: list[PackageVerdict]) -> pd.Series:
    """Verified emissions per sector [kg CO2e]."""
    return _frame(verdicts).groupby("sector")["total_kg"].sum()


def by_month(verdicts: list[PackageVerdict]) -> pd.DataFrame:
    """Verified emissions, months × enterprises [kg CO2e]; a cell without a verified package is NaN."""
    return _frame(verdicts).pivot_table(index="period", columns="enterprise", values="total_kg", aggfunc="sum")


def quota_position(verdicts: list[PackageVerdict], year: int) -> pd.DataFrame:
    """Per enterprise: quota, verified emissions so far, months reported, forecast for the year, headroom.

    ``headroom_kg = quota_kg - forecast_kg`` (negative: on course to exceed the quota).
    """
    f = _frame(verdicts)
    f = f[f["period"].str.startswith(f"{year}-")]
    g = f.groupby("enterprise").agg(quota_kg=("quota_kg", "max"), emitted_kg=("total_kg", "sum"),
                                    months=("period", "nunique"))
    g["forecast_kg"] = g["emitted_kg"] / g["months"] * 12
    g["headroom_kg"] = g["quota_kg"] - g["forecast_kg"]
    g["used"] = g["emitted_kg"] / g["quota_kg"]
    return g


def status_table(verdicts: list[PackageVerdict]) -> pd.DataFrame:
    """One row a package: enterprise, period, sector, status ("verified" / "failed: <check>"), detail."""
    return pd.DataFrame([{"enterprise": v.enterprise, "period": v.period, "sector": v.sector, "status": v.status,
                          "failed_check": v.failed or "", "detail": v.detail() if v.failed else ""}
                         for v in verdicts],
                        columns=["enterprise", "period", "sector", "status", "failed_check", "detail"])


def lateness(verdicts: list[PackageVerdict], enterprises: list[str], periods: list[str], *,
             today: dt.date, due_day: int = 15) -> pd.DataFrame:
    """Reports due and not verified: one row per (enterprise, period) with ``state`` "missing" (nothing
    submitted) or "failed" (submitted, not verified), and ``days_late`` after the due date (the
    ``due_day`` of the month after the period); periods not yet due are left out."""
    got = {(v.enterprise, v.period): v for v in verdicts}
    rows = []
    for e in enterprises:
        for p in periods:
            y, m = (int(x) for x in p.split("-"))
            due = dt.date(y + m // 12, m % 12 + 1, due_day)
            if today <= due:
                continue
            v = got.get((e, p))
            if v is not None and v.ok:
                continue
            rows.append({"enterprise": e, "period": p, "due": due, "days_late": (today - due).days,
                         "state": "missing" if v is None else f"failed: {v.failed}"})
    return pd.DataFrame(rows, columns=["enterprise", "period", "due", "days_late", "state"])
