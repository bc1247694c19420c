"""The pages' tables, one home: an HTML table whose cells carry their raw values (so a browser test can read
the figure shown), column headers with their units, and CSV/XLSX downloads of every table; plus the chart tools
every page uses (no wheel zoom: the wheel scrolls the page; PNG through the save tool)."""

from __future__ import annotations

import io

import pandas as pd
import panel as pn

from .render import esc

TOOLS = ["save", "pan", "box_zoom", "reset"]  # no wheel zoom: the wheel scrolls the page
CSS = """
.tj-t { border-collapse: collapse; font-size: 14px; font-variant-numeric: tabular-nums; }
.tj-t th { text-align: left; padding: 4px 8px; border-bottom: 2px solid #999; white-space: nowrap; }
.tj-t td { padding: 3px 8px; border-bottom: 1px solid #ddd; white-space: nowrap; }
.tj-t td.n { text-align: right; }
.tj-wrap { overflow-x: auto; max-width: 100%; }
.tj-note { color: #a15c00; }
"""


def table_html(df: pd.DataFrame, name: str, digits: int = 1) -> str:
    """An HTML table of ``df``; every cell carries its raw value (``data-value``), its row and column names."""
    if df.empty:
        return "<p>(no rows)</p>"
    d = df.reset_index()
    head = "".join(f'<th data-col="{esc(c)}">{esc(header(c))}</th>' for c in d.columns)
    rows = []
    for _, r in d.iterrows():
        cells = []
        for c in d.columns:
            v = r[c]
            if isinstance(v, float):
                txt = "–" if v != v else "0" if v == 0 else f"{v:,.{3 if abs(v) < 10 else digits}f}"
                cells.append(f'<td class="n" data-col="{esc(c)}" data-value="{float(v)!r}">{txt}</td>')
            else:
                cells.append(f'<td data-col="{esc(c)}">{esc(v)}</td>')
        rows.append(f'<tr data-row="{esc(r.iloc[0])}">{"".join(cells)}</tr>')
    return (f'<div class="tj-wrap" tabindex="0" role="region" aria-label="{esc(name)}"><table class="tj-t" data-table="{esc(name)}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


UNIT_SUFFIXES = (("_share_pct", " share [%]"), ("_pct", " [%]"), ("_kwh", " [kWh]"), ("_kw", " [kW]"),
                 ("_cny_per_kwh", " [CNY/kWh]"), ("_cny", " [CNY]"), ("_kva", " [kVA]"), ("_minutes", " [min]"))


def header(col) -> str:
    """A column name as a person reads it, its unit in brackets: ``peak_kwh`` -> ``peak [kWh]``."""
    c = str(col)
    for suffix, unit in UNIT_SUFFIXES:
        if c.endswith(suffix):
            return c[: -len(suffix)].replace("_", " ") + unit
    return c.replace("_", " ")


def csv_bytes(df: pd.DataFrame) -> io.BytesIO:
    """The table as UTF-8 CSV with a BOM (so spreadsheet programs read the Chinese names)."""
    return io.BytesIO(df.to_csv().encode("utf-8-sig"))


def xlsx_bytes(df: pd.DataFrame, sheet: str = "table") -> io.BytesIO:
    """The table as an XLSX workbook of one sheet (headers with their units, as on the page)."""
    out = io.BytesIO()
    d = df.copy()
    for c in d.columns:  # Excel keeps no time zone
        if isinstance(d[c].dtype, pd.DatetimeTZDtype):
            d[c] = d[c].dt.tz_localize(None)
    d.columns = [header(c) for c in d.columns]
    d.to_excel(out, sheet_name=sheet[:31], engine="openpyxl")
    out.seek(0)
    return out


def downloads(df: pd.DataFrame, stem: str) -> pn.Row:
    """CSV and XLSX buttons of one table (every table of the pages can be taken away)."""
    return pn.Row(pn.widgets.FileDownload(callback=lambda: csv_bytes(df), filename=f"{stem}.csv", label="CSV",
                                          width=100),
                  pn.widgets.FileDownload(callback=lambda: xlsx_bytes(df, stem.split("-")[0]), filename=f"{stem}.xlsx",
                                          label="XLSX", width=100))
