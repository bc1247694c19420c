"""HTML fragments of the pages, from values the feeds read (formatting only, no arithmetic on data).

Every value element carries its raw value and unit in ``data-*`` attributes (``data-kpi``,
``data-value``, ``data-unit``; ``data-workshop``; ``data-anchor-*``; ``data-check``/
``data-status``; ``data-verdict``) so that a browser test, or a screen scraper, reads exactly
what the model computed while people read the formatted text.

Every function takes ``lang`` (``"zh"`` or ``"en"``, default English): labels from the gettext catalogue
(:mod:`dashboards.i18n`), numbers in the language's format; the units stay as they are (kWh, t CO₂e, m³).
"""

from __future__ import annotations

import datetime as dt
import html

import pandas as pd

from models.kpi import PERIODS

from . import i18n
from .feeds import PlantView, Verification
from .i18n import N_

PERIOD_LABELS = {"today": N_("Today"), "yesterday": N_("Yesterday"), "month": N_("This month"),
                 "year": N_("This year")}
#: data-kpi name -> (plant_kpis column, unit of the raw value)
KPI_COLUMNS = {"electricity": ("electricity_kWh", "kWh"), "co2e": ("co2e_kg", "kgCO2e"),
               "natural-gas": ("natural_gas_m3", "m3")}
STALE_AFTER = dt.timedelta(minutes=5)


def esc(s: object) -> str:
    return html.escape(str(s), quote=True)


def _raw(v: float) -> str:
    return repr(float(v))


def fmt_energy(kwh: float, lang: str = "en") -> tuple[str, str]:
    """(text, unit) of an electricity amount given in [kWh]: kWh below 100 MWh, else MWh."""
    if kwh != kwh:  # NaN
        return "–", "kWh"
    if abs(kwh) >= 100_000:
        return i18n.number(kwh / 1000, lang, 1), "MWh"
    return i18n.number(kwh, lang), "kWh"


def fmt_co2e(kg: float, lang: str = "en") -> tuple[str, str]:
    """(text, unit) of emissions given in [kgCO2e], shown in tonnes."""
    if kg != kg:
        return "–", "tCO₂e"
    t = kg / 1000
    digits = 2 if abs(t) < 10 else 1 if abs(t) < 1000 else 0
    return i18n.number(t, lang, digits), "tCO₂e"


def fmt_gas(m3: float, lang: str = "en") -> tuple[str, str]:
    """(text, unit) of a natural-gas volume [m3]."""
    if m3 != m3:
        return "–", "m³"
    return i18n.number(m3, lang, 0 if abs(m3) >= 100 else 1), "m³"


FORMATS = {"electricity": fmt_energy, "co2e": fmt_co2e, "natural-gas": fmt_gas}


def kpi_value(kind: str, period: str, value: float, cls: str = "tj-big", lang: str = "en") -> str:
    """One KPI value element: formatted text with its raw value in ``data-value``."""
    unit = KPI_COLUMNS[kind][1]
    text, shown_unit = FORMATS[kind](value, lang)
    return (f'<span class="{cls}" data-kpi="{kind}-{period}" data-value="{_raw(value)}" data-unit="{unit}">'
            f'{text}<span class="tj-unit"> {shown_unit}</span></span>')


def kpi_cards(kpis: pd.DataFrame, lang: str = "en") -> str:
    """The four period cards: electricity, CO2e and natural gas of each period."""
    _ = i18n.gettext_for(lang)
    cards = []
    for period in PERIODS:
        row = kpis.loc[period]
        cards.append(
            f'<div class="tj-card" data-period="{period}">'
            f'<div class="tj-card-title">{esc(_(PERIOD_LABELS[period]))}</div>'
            f'<div class="tj-metric"><div class="tj-metric-label">⚡ {esc(_("Electricity"))}</div>'
            f'{kpi_value("electricity", period, row["electricity_kWh"], lang=lang)}</div>'
            f'<div class="tj-metric"><div class="tj-metric-label">{esc(_("CO₂e (location-based)"))}</div>'
            f'{kpi_value("co2e", period, row["co2e_kg"], "tj-big tj-co2", lang)}</div>'
            f'<div class="tj-metric tj-small"><div class="tj-metric-label">{esc(_("Natural gas"))}</div>'
            f'{kpi_value("natural-gas", period, row["natural_gas_m3"], "tj-mid", lang)}</div>'
            f'</div>')
    snap = esc(kpis.attrs.get("snapshot", ""))  # which store version these numbers are from
    return f'<div class="tj-cards" data-snapshot="{snap}">{"".join(cards)}</div>'


def ago(seconds: float, lang: str = "en", suffix: bool = True) -> str:
    """"just now", "4 min ago", "3 h 12 min ago", "2 d ago" (without "ago" when not ``suffix``)."""
    _ = i18n.gettext_for(lang)
    s = max(0, int(seconds))
    if s < 60:
        return _("just now")
    m = s // 60
    if m < 60:
        span = _("{m} min").format(m=m)
    elif m // 60 < 48:
        span = _("{h} h {m} min").format(h=m // 60, m=m % 60)
    else:
        span = _("{d} d").format(d=m // 60 // 24)
    return _("{span} ago").format(span=span) if suffix else span


def status_line(view: PlantView | None, now: dt.datetime, timezone: str, error: str = "", lang: str = "en") -> str:
    """"data as of …", the snapshot id, and a warning when readings stopped arriving."""
    _ = i18n.gettext_for(lang)
    if view is None or view.as_of is None:
        msg = esc(error or _("no readings in the store yet"))
        return f'<div class="tj-status tj-warn" data-as-of="">{msg}</div>'
    as_of = view.as_of
    stale = ""
    lag = (now - as_of).total_seconds()
    if now - as_of > STALE_AFTER:
        stale = (f'<span class="tj-stale">⚠ '
                 f'{esc(_("no new readings for {span}").format(span=ago(lag, lang, suffix=False)))}</span>')
    err = f'<span class="tj-stale">⚠ {esc(error)}</span>' if error else ""
    return (f'<div class="tj-status" data-as-of="{as_of.isoformat()}" data-snapshot="{esc(view.snapshot)}">'
            f'{esc(_("data as of"))} <b>{as_of:%Y-%m-%d %H:%M}</b> ({esc(timezone)}) · {esc(_("snapshot"))} '
            f'<code>{esc(view.snapshot)}</code> · {esc(_("updated"))} {now:%H:%M:%S} {stale}{err}</div>')


def anchor_card(anchor: dict | None, now: dt.datetime, lang: str = "en") -> str:
    """The last anchor: root, tree size, block, age; "no anchor yet" when there is none."""
    _ = i18n.gettext_for(lang)
    title = esc(_("Last on-chain anchor"))
    if not anchor:
        return (f'<div class="tj-anchor" data-anchor="none"><div class="tj-card-title">{title}'
                f'</div><div class="tj-mid">{esc(_("no anchor yet"))}</div><div class="tj-note">'
                f'{esc(_("the ledger root is anchored by the anchoring service (`tanjian chain anchor`)"))}</div></div>')
    root = str(anchor["root"])
    short = f"{root[:10]}…{root[-6:]}"
    age = ago(now.timestamp() - int(anchor["block_time"]), lang)
    block_time = dt.datetime.fromtimestamp(int(anchor["block_time"]), now.tzinfo)
    return (
        f'<div class="tj-anchor" data-anchor="{esc(root)}" '
        f'data-anchor-tree-size="{int(anchor["tree_size"])}" data-anchor-block="{int(anchor["block_number"])}" '
        f'data-anchor-block-time="{int(anchor["block_time"])}">'
        f'<div class="tj-card-title">{title}</div>'
        f'<div class="tj-mid" title="{esc(root)}"><code>{esc(short)}</code></div>'
        f'<table class="tj-kv">'
        f'<tr><td>{esc(_("batches covered"))}</td><td>{i18n.number(int(anchor["tree_size"]), lang)}</td></tr>'
        f'<tr><td>{esc(_("block"))}</td><td>#{i18n.number(int(anchor["block_number"]), lang)} · {esc(_("chain"))} '
        f'{esc(anchor.get("chain_id", "?"))}</td></tr>'
        f'<tr><td>{esc(_("anchored"))}</td><td><b data-anchor-age>{esc(age)}</b> ({block_time:%H:%M:%S})</td></tr>'
        f'<tr><td>{esc(_("transaction"))}</td><td><code>{esc(str(anchor["tx_hash"])[:14])}…</code></td></tr>'
        f'</table></div>')


def workshop_table(breakdown: pd.DataFrame, names_zh: dict[str, str] | None = None, lang: str | None = None) -> str:
    """Workshops of :func:`models.kpi.workshop_breakdown`, largest CO2e first. With ``lang`` each workshop is
    named in that language (``names_zh`` in Chinese where the site has one, else the ``name`` column); without,
    the English name with the Chinese beside it (as before there was a language)."""
    names_zh = names_zh or {}
    _ = i18n.gettext_for(lang or "en")
    rows = []
    for ws, r in breakdown.sort_values("co2e_kg", ascending=False).iterrows():
        e_text, e_unit = fmt_energy(r["electricity_kWh"], lang or "en")
        c_text, c_unit = fmt_co2e(r["co2e_kg"], lang or "en")
        if lang is None:
            shown = esc(r["name"]) + (f' <span class="tj-zh">{esc(names_zh[ws])}</span>' if names_zh.get(ws) else "")
        else:
            shown = esc(names_zh.get(ws) or r["name"]) if i18n.language(lang) == "zh" else esc(r["name"])
        rows.append(
            f'<tr data-workshop="{esc(ws)}"><td>{shown}</td>'
            f'<td class="tj-num" data-value="{_raw(r["electricity_kWh"])}" data-unit="kWh">'
            f'{e_text} {e_unit}</td>'
            f'<td class="tj-num" data-value="{_raw(r["co2e_kg"])}" data-unit="kgCO2e">'
            f'{c_text} {c_unit}</td></tr>')
    return (f'<table class="tj-table"><thead><tr><th>{esc(_("Workshop"))}</th><th>{esc(_("Electricity"))}</th>'
            f'<th>CO₂e</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')


# -- verifier ---------------------------------------------------------------------------------------
VERDICT_TEXT = {
    "pass": N_("VERIFIED — this batch is in a ledger root anchored on chain"),
    "fail": N_("NOT VERIFIED"),
    "offline": N_("OFFLINE CHECKS PASSED — the chain was not consulted"),
}
CHECK_STATUS = {"pass": N_("PASS"), "fail": N_("FAIL"), "skip": N_("SKIP")}


def verification(v: Verification, lang: str = "en") -> str:
    """Verdict banner, hashes to compare with ``sha256sum``, and one row per check."""
    _ = i18n.gettext_for(lang)
    r = v.report
    verdict = v.verdict
    head = esc(_(VERDICT_TEXT[verdict]))
    if verdict == "fail":
        head += esc(_(": batch {seq} fails '{check}'").format(seq=r.seq if r.seq is not None else "?", check=r.failed))
    rows = "".join(
        f'<tr data-check="{esc(c.name)}" data-status="{esc(c.status)}"><td>{esc(c.name)}</td>'
        f'<td><span class="tj-badge tj-{esc(c.status)}">'
        f'{esc(_(CHECK_STATUS[c.status]) if c.status in CHECK_STATUS else c.status.upper())}</span></td>'
        f'<td>{esc(c.detail)}</td></tr>' for c in r.checks)

    def hash_row(label: str, got: str, claimed: str | None, attr: str) -> str:
        same = claimed is not None and claimed.lower().removeprefix("0x") == got
        mark = "✔ " + esc(_("matches the bundle")) if same else \
            ("✘ " + esc(_("bundle says {hash}").format(hash=claimed)) if claimed else "")
        return (f'<tr><td>{label}</td><td><code {attr}="{got}">{got}</code></td>'
                f'<td class="{"tj-pass-text" if same else "tj-fail-text"}">{mark}</td></tr>')

    return (
        f'<div class="tj-verdict tj-verdict-{verdict}" data-verdict="{verdict}" '
        f'data-file-sha256="{v.sha256}">'
        f'{head}</div>'
        f'<div class="tj-note" data-chain-note>{esc(v.chain_note)}</div>'
        f'<table class="tj-table tj-hashes"><tbody>'
        f'{hash_row(esc(_("SHA-256 of the file")), v.sha256, v.claimed_sha256, "data-sha256")}'
        f'{hash_row(esc(_("leaf hash SHA-256(0x00 ‖ file)")), v.leaf_hash, v.claimed_leaf_hash, "data-leaf-hash")}'
        f'</tbody></table>'
        f'<table class="tj-table tj-checks">'
        f'<thead><tr><th>{esc(_("check"))}</th><th>{esc(_("result"))}</th><th>{esc(_("detail"))}</th></tr></thead>'
        f'<tbody>{rows}</tbody></table>')
