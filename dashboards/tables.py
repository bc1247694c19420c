"""The pages' tables, one home: an HTML table whose cells carry their raw values (so a browser test can read
the figure shown), column headers with their units, and CSV/XLSX downloads of every table; plus the chart tools
every page uses (no wheel zoom: the wheel scrolls the page; PNG through the save tool).

Headers are in the page's language: a column name is split into its words and its unit (``peak_kwh`` ->
``peak`` and ``[kWh]``), the words translated with the gettext context ``"column"`` of the catalogue
(:mod:`dashboards.i18n`: ``msgctxt "column"``; the header table in both languages), the unit kept. Numbers
take the language's format (:func:`dashboards.i18n.number`). CSV keeps the raw column names (a program reads
it); XLSX has the headers as on the page.
"""

from __future__ import annotations

import html
import io

import pandas as pd
import panel as pn

from . import i18n


def esc(s: object) -> str:
    """``s`` as HTML text (this module imports no page module: the park page, which reaches no store, uses it)."""
    return html.escape(str(s), quote=True)

TOOLS = ["save", "pan", "box_zoom", "reset"]  # no wheel zoom: the wheel scrolls the page
CSS = """
.tj-t { border-collapse: collapse; font-size: 14px; font-variant-numeric: tabular-nums; }
.tj-t th { text-align: left; padding: 4px 8px; border-bottom: 2px solid #999; white-space: nowrap; }
.tj-t td { padding: 3px 8px; border-bottom: 1px solid #ddd; white-space: nowrap; }
.tj-t td.n { text-align: right; }
.tj-wrap { overflow-x: auto; max-width: 100%; }
.tj-note { color: #a15c00; }
"""


def table_html(df: pd.DataFrame, name: str, digits: int = 1, lang: str = "en", label: str = "") -> str:
    """An HTML table of ``df`` in ``lang``; every cell carries its raw value (``data-value``), its row and
    column names. ``label`` names the scrolling region for a screen reader (default ``name``)."""
    _ = i18n.gettext_for(lang)
    if df.empty:
        return f"<p>{esc(_('(no rows)'))}</p>"
    d = df.reset_index()
    if isinstance(d.columns, pd.MultiIndex):
        d.columns = [" ".join(str(x) for x in c if str(x)) for c in d.columns]
    head = "".join(f'<th data-col="{esc(c)}">{esc(header(c, lang))}</th>' for c in d.columns)
    rows = []
    for _, r in d.iterrows():
        cells = []
        for c in d.columns:
            v = r[c]
            if isinstance(v, float):
                txt = "–" if v != v else "0" if v == 0 else i18n.number(v, lang, 3 if abs(v) < 10 else digits)
                cells.append(f'<td class="n" data-col="{esc(c)}" data-value="{float(v)!r}">{txt}</td>')
            else:
                cells.append(f'<td data-col="{esc(c)}">{esc(v)}</td>')
        rows.append(f'<tr data-row="{esc(r.iloc[0])}">{"".join(cells)}</tr>')
    return (f'<div class="tj-wrap" tabindex="0" role="region" aria-label="{esc(label or name)}"><table class="tj-t" data-table="{esc(name)}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


#: column-name suffix -> (word added to the header or "", unit); the first that matches wins
UNIT_SUFFIXES = (("_share_pct", ("share", "%")), ("_pct", ("", "%")), ("_cny_per_kwh", ("", "CNY/kWh")),
                 ("_kwh", ("", "kWh")), ("_kw", ("", "kW")), ("_cny", ("", "CNY")), ("_kva", ("", "kVA")),
                 ("_minutes", ("", "min")), ("_kg", ("", "kg CO₂e")), ("_t", ("", "t CO₂e")),
                 ("_kwp", ("", "kWp")), ("_mwh", ("", "MWh")), ("_kcny", ("", "k CNY")),
                 ("_s", ("", "s")), ("_min", ("", "min")))
#: header words the catalogue had no translation for, per language (a test reads it after drawing the pages)
UNTRANSLATED: dict[str, set[str]] = {}


def header(col, lang: str = "en") -> str:
    """A column name as a person reads it in ``lang``, its unit in brackets: ``peak_kwh`` -> ``peak [kWh]``
    (``峰 [kWh]`` in Chinese)."""
    c = str(col)
    word, unit = "", ""
    for suffix, (w, u) in UNIT_SUFFIXES:
        if c.endswith(suffix) and len(c) > len(suffix):
            c, word, unit = c[: -len(suffix)], w, u
            break
    sep = "" if i18n.language(lang) == "zh" else " "  # Chinese words are not spaced
    text = sep.join(t for t in (_column(c.replace("_", " "), lang), _column(word, lang) if word else "") if t)
    return f"{text} [{unit}]" if unit else text


def _column(words: str, lang: str) -> str:
    """One header's words in ``lang`` (``msgctxt "column"``); a missing translation is kept in English and noted."""
    if not words.strip():
        return words
    out = i18n.pgettext_for(lang)("column", words)
    if out == words and i18n.language(lang) != "en":
        UNTRANSLATED.setdefault(i18n.language(lang), set()).add(words)
    return out


def csv_bytes(df: pd.DataFrame) -> io.BytesIO:
    """The table as UTF-8 CSV with a BOM (so spreadsheet programs read the Chinese names)."""
    return io.BytesIO(df.to_csv().encode("utf-8-sig"))


def xlsx_bytes(df: pd.DataFrame, sheet: str = "table", lang: str = "en") -> io.BytesIO:
    """The table as an XLSX workbook of one sheet (headers with their units in ``lang``, as on the page)."""
    out = io.BytesIO()
    d = df.copy()
    for c in d.columns:  # Excel keeps no time zone
        if isinstance(d[c].dtype, pd.DatetimeTZDtype):
            d[c] = d[c].dt.tz_localize(None)
    if isinstance(d.columns, pd.MultiIndex):
        d.columns = [" ".join(str(x) for x in c if str(x)) for c in d.columns]
    d.columns = [header(c, lang) for c in d.columns]
    d.to_excel(out, sheet_name=sheet[:31], engine="openpyxl")
    out.seek(0)
    return out


def downloads(df: pd.DataFrame, stem: str, lang: str = "en") -> pn.Row:
    """CSV and XLSX buttons of one table (every table of the pages can be taken away); the XLSX headers in
    ``lang``."""
    _ = i18n.gettext_for(lang)
    return pn.Row(pn.widgets.FileDownload(callback=lambda: csv_bytes(df), filename=f"{stem}.csv",
                                          label=_("Download CSV"), width=150),
                  pn.widgets.FileDownload(callback=lambda: xlsx_bytes(df, stem.split("-")[0], lang),
                                          filename=f"{stem}.xlsx", label=_("Download XLSX"), width=150),
                  css_classes=["tj-downloads"])
