"""Activity records as the source builders read them.

A validated activity frame (:mod:`models.activity_input`) has one row per record. The builders
of each source family take the records of the inventory period (:func:`in_period`; a record
straddling an edge is refused), group them per calendar year (:func:`yearly`), turn a group's
movements into the quantity used (:func:`balance`: the stock balance or the quantity ``used``)
and name the rows a line came from (:func:`origin_of`, ``activity:FILE:ROWS``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from models.activity_input import ActivityFileError
from workspace.units import parse, quantity

__all__ = ["balance", "in_period", "origin_of", "period_records", "yearly"]


def origin_of(recs: pd.DataFrame) -> str:
    """``activity:FILE:ROWS[;FILE:ROWS]`` of the records ``recs``."""
    parts = []
    for f, g in recs.groupby("source_file", sort=True):
        rows = ",".join(str(r) for r in sorted(g["row"]))
        parts.append(f"{Path(str(f)).name}:{rows}")
    return "activity:" + ";".join(parts)


def in_period(df: pd.DataFrame, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Records inside [start, end]; a record straddling an edge is an error (no silent proration)."""
    if df.empty:
        return df
    inside = (df["period_start"] >= start) & (df["period_end"] <= end)
    outside = (df["period_end"] < start) | (df["period_start"] > end)
    bad = df[~inside & ~outside]
    if not bad.empty:
        raise ActivityFileError([(str(r.source_file), int(r.row), "period_start",
                                  f"{r.period_start}..{r.period_end} straddles the inventory period {start}..{end}; "
                                  f"split the record") for r in bad.itertuples()])
    return df[inside]


#: movements of a stock-take: dated at the previous period's end, they are the period's opening stock
STOCK_TAKE = ("opening_stock", "closing_stock")


def period_records(df: pd.DataFrame, start: dt.date, end: dt.date) -> pd.DataFrame:
    """The records of the inventory period [start, end], strictly.

    A stock-take (``opening_stock`` or ``closing_stock``) dated at the previous period's end (``start`` - 1 day,
    e.g. 2024-12-31 for a 2025 inventory: how a year-end stock-take is usually recorded) is the period's opening
    stock: it is returned as ``opening_stock`` dated ``start``, with a ``stock_note`` saying so. Any other record
    outside the period, or straddling one of its edges, is an error naming file:row (no silent drop, no
    proration).

    Raises
    ------
    ActivityFileError
        Listing every such record (file:row:period_start).
    """
    if df.empty:
        out = df.copy()
        out["stock_note"] = pd.Series(dtype=object)
        return out
    eve = start - dt.timedelta(days=1)
    problems, keep, notes = [], [], []
    out = df.copy()
    for i, r in enumerate(out.itertuples(index=False)):
        if r.period_start >= start and r.period_end <= end:
            keep.append(True)
            notes.append("")
            continue
        if r.period_start == r.period_end == eve and r.movement in STOCK_TAKE:
            keep.append(True)
            notes.append(f"{Path(str(r.source_file)).name}:{int(r.row)} {r.movement} of {eve} counted as the "
                         f"opening stock of {start}")
            continue
        keep.append(False)
        notes.append("")
        why = ("straddles" if r.period_end >= start and r.period_start <= end else "is outside")
        problems.append((str(r.source_file), int(r.row), "period_start",
                         f"{r.period_start}..{r.period_end} {why} the inventory period {start}..{end}; only a "
                         f"stock-take (opening_stock/closing_stock) dated {eve} may come before it (it counts as the "
                         f"opening stock); split the record or leave it out of this inventory's files"))
    if problems:
        raise ActivityFileError(problems)
    out["stock_note"] = notes
    moved = [bool(n) for n in notes]
    if any(moved):
        out.loc[moved, "movement"] = "opening_stock"
        out.loc[moved, "period_start"] = start
        out.loc[moved, "period_end"] = start
    return out


def yearly(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with a ``year`` column (calendar year of ``period_start``): records are grouped per year,
    so that a multi-year inventory uses each year's factor rows and stock balance."""
    out = df.copy()
    out["year"] = [d.year for d in out["period_start"]] if len(out) else []
    return out


def balance(g: pd.DataFrame, unit: str, what: str, recovered: bool = False) -> tuple[float, str]:
    """Quantity used by stock balance (opening + purchased − closing − sold [− recovered]) or as 'used'."""
    def total(move):
        sub = g[g["movement"] == move]
        return sum(float(quantity(q, u).to(parse(unit)).magnitude) for q, u in zip(sub["quantity"], sub["unit"]))

    moves = set(g["movement"])
    stock = moves & {"opening_stock", "closing_stock", "sold", "recovered"}
    if "used" in moves and (stock or "purchased" in moves):
        rows = ", ".join(f"{f}:{r}" for f, r in zip(g["source_file"], g["row"]))
        raise ActivityFileError([(str(g["source_file"].iloc[0]), int(g["row"].iloc[0]), "movement",
                                  f"{what}: 'used' mixed with stock movements in rows {rows}; give either the "
                                  f"quantity used or the stock balance")])
    if "used" in moves:
        return total("used"), "used"
    q = total("opening_stock") + total("purchased") - total("closing_stock") - total("sold")
    if recovered:
        q -= total("recovered")
    how = "stock balance (opening + purchased - closing - sold" + (" - recovered)" if recovered else ")")
    if not stock:
        how = "purchased (no stock records: stock change taken as 0)"
    if q < 0:
        raise ActivityFileError([(str(g["source_file"].iloc[0]), int(g["row"].iloc[0]), "quantity",
                                  f"{what}: stock balance is negative ({q:g} {unit})")])
    return q, how
