"""HTML fragments of the pages, from values the feeds read (formatting only, no arithmetic on data).

Every value element carries its raw value and unit in ``data-*`` attributes (``data-kpi``,
``data-value``, ``data-unit``; ``data-workshop``; ``data-anchor-*``; ``data-check``/
``data-status``; ``data-verdict``) so that a browser test, or a screen scraper, reads exactly
what the model computed while people read the formatted text.
"""

from __future__ import annotations

import datetime as dt
import html

import pandas as pd

from models.kpi import PERIODS

from .feeds import PlantView, Verification

PERIOD_LABELS = {"today": "Today", "yesterday": "Yesterday", "month": "This month", "year": "This year"}
#: data-kpi name -> (plant_kpis column, unit of the raw value)
KPI_COLUMNS = {"electricity": ("electricity_kWh", "kWh"), "co2e": ("co2e_kg", "kgCO2e"),
               "natural-gas": ("natural_gas_m3", "m3")}
STALE_AFTER = dt.timedelta(minutes=5)


def esc(s: object) -> str:
    return html.escape(str(s), quote=True)


def _raw(v: float) -> str:
    return repr(float(v))


def fmt_energy(kwh: float) -> tuple[str, str]:
    """(text, unit) of an electricity amount given in [kWh]: kWh below 100 MWh, else MWh."""
    if kwh != kwh:  # NaN
        return "–", "kWh"
    if abs(kwh) >= 100_000:
        return f"{kwh / 1000:,.1f}", "MWh"
    return f"{kwh:,.0f}", "kWh"


def fmt_co2e(kg: float) -> tuple[str, str]:
    """(text, unit) of emissions given in [kgCO2e], shown in tonnes."""
    if kg != kg:
        return "–", "tCO₂e"
    t = kg / 1000
    digits = 2 if abs(t) < 10 else 1 if abs(t) < 1000 else 0
    return f"{t:,.{digits}f}", "tCO₂e"


def fmt_gas(m3: float) -> tuple[str, str]:
    """(text, unit) of a natural-gas volume [m3]."""
    if m3 != m3:
        return "–", "m³"
    return (f"{m3:,.0f}" if abs(m3) >= 100 else f"{m3:,.1f}"), "m³"


FORMATS = {"electricity": fmt_energy, "co2e": fmt_co2e, "natural-gas": fmt_gas}


def kpi_value(kind: str, period: str, value: float, cls: str = "tj-big") -> str:
    """One KPI value element: formatted text with its raw value in ``data-value``."""
    unit = KPI_COLUMNS[kind][1]
    text, shown_unit = FORMATS[kind](value)
    return (f'<span class="{cls}" data-kpi="{kind}-{period}" data-value="{_raw(value)}" data-unit="{unit}">'
            f'{text}<span class="tj-unit"> {shown_unit}</span></span>')


def kpi_cards(kpis: pd.DataFrame) -> str:
    """The four period cards: electricity, CO2e and natural gas of each period."""
    cards = []
    for period in PERIODS:
        row = kpis.loc[period]
        cards.append(
            f'<div class="tj-card" data-period="{period}">'
            f'<div class="tj-card-title">{PERIOD_LABELS[period]}</div>'
            f'<div class="tj-metric"><div class="tj-metric-label">⚡ Electricity</div>'
            f'{kpi_value("electricity", period, row["electricity_kWh"])}</div>'
            f'<div class="tj-metric"><div class="tj-metric-label">CO₂e (location-based)</div>'
            f'{kpi_value("co2e", period, row["co2e_kg"], "tj-big tj-co2")}</div>'
            f'<div class="tj-metric tj-small"><div class="tj-metric-label">Natural gas</div>'
            f'{kpi_value("natural-gas", period, row["natural_gas_m3"], "tj-mid")}</div>'
            f'</div>')
    snap = esc(kpis.attrs.get("snapshot", ""))  # which store version these numbers are from
    return f'<div class="tj-cards" data-snapshot="{snap}">{"".join(cards)}</div>'


def ago(seconds: float) -> str:
    """"just now", "4 min ago", "3 h 12 min ago", "2 d ago"."""
    s = max(0, int(seconds))
    if s < 60:
        return "just now"
    m = s // 60
    if m < 60:
        return f"{m} min ago"
    h = m // 60
    if h < 48:
        return f"{h} h {m % 60} min ago"
    return f"{h // 24} d ago"


def status_line(view: PlantView | None, now: dt.datetime, timezone: str, error: str = "") -> str:
    """"data as of …", the snapshot id, and a warning when readings stopped arriving."""
    if view is None or view.as_of is None:
        msg = esc(error or "no readings in the store yet")
        return f'<div class="tj-status tj-warn" data-as-of="">{msg}</div>'
    as_of = view.as_of
    stale = ""
    lag = (now - as_of).total_seconds()
    if now - as_of > STALE_AFTER:
        stale = f'<span class="tj-stale">⚠ no new readings for {ago(lag).removesuffix(" ago")}</span>'
    err = f'<span class="tj-stale">⚠ {esc(error)}</span>' if error else ""
    return (f'<div class="tj-status" data-as-of="{as_of.isoformat()}" data-snapshot="{esc(view.snapshot)}">'
            f'data as of <b>{as_of:%Y-%m-%d %H:%M}</b> ({esc(timezone)}) · snapshot '
            f'<code>{esc(view.snapshot)}</code> · updated {now:%H:%M:%S} {stale}{err}</div>')


def anchor_card(anchor: dict | None, now: dt.datetime) -> str:
    """The last anchor: root, tree size, block, age; "no anchor yet" when there is none."""
    if not anchor:
        return ('<div class="tj-anchor" data-anchor="none"><div class="tj-card-title">Last on-chain anchor'
                '</div><div class="tj-mid">no anchor yet</div><div class="tj-note">the ledger root is '
                'anchored by the anchoring service (`tanjian chain anchor`)</div></div>')
    root = str(anchor["root"])
    short = f"{root[:10]}…{root[-6:]}"
    age = ago(now.timestamp() - int(anchor["block_time"]))
    block_time = dt.datetime.fromtimestamp(int(anchor["block_time"]), now.tzinfo)
    return (
        f'<div class="tj-anchor" data-anchor="{esc(root)}" '
        f'data-anchor-tree-size="{int(anchor["tree_size"])}" data-anchor-block="{int(anchor["block_number"])}" '
        f'data-anchor-block-time="{int(anchor["block_time"])}">'
        f'<div class="tj-card-title">Last on-chain anchor</div>'
        f'<div class="tj-mid" title="{esc(root)}"><code>{esc(short)}</code></div>'
        f'<table class="tj-kv">'
        f'<tr><td>batches covered</td><td>{int(anchor["tree_size"]):,}</td></tr>'
        f'<tr><td>block</td><td>#{int(anchor["block_number"]):,} · chain '
        f'{esc(anchor.get("chain_id", "?"))}</td></tr>'
        f'<tr><td>anchored</td><td><b data-anchor-age>{age}</b> ({block_time:%H:%M:%S})</td></tr>'
        f'<tr><td>transaction</td><td><code>{esc(str(anchor["tx_hash"])[:14])}…</code></td></tr>'
        f'</table></div>')


def workshop_table(breakdown: pd.DataFrame, names_zh: dict[str, str] | None = None) -> str:
    """Workshops of :func:`models.kpi.workshop_breakdown`, largest CO2e first."""
    names_zh = names_zh or {}
    rows = []
    for ws, r in breakdown.sort_values("co2e_kg", ascending=False).iterrows():
        e_text, e_unit = fmt_energy(r["electricity_kWh"])
        c_text, c_unit = fmt_co2e(r["co2e_kg"])
        zh = f' <span class="tj-zh">{esc(names_zh[ws])}</span>' if names_zh.get(ws) else ""
        rows.append(
            f'<tr data-workshop="{esc(ws)}"><td>{esc(r["name"])}{zh}</td>'
            f'<td class="tj-num" data-value="{_raw(r["electricity_kWh"])}" data-unit="kWh">'
            f'{e_text} {e_unit}</td>'
            f'<td class="tj-num" data-value="{_raw(r["co2e_kg"])}" data-unit="kgCO2e">'
            f'{c_text} {c_unit}</td></tr>')
    return ('<table class="tj-table"><thead><tr><th>Workshop</th><th>Electricity</th><th>CO₂e</th></tr>'
            f'</thead><tbody>{"".join(rows)}</tbody></table>')


# -- verifier ---------------------------------------------------------------------------------------
VERDICT_TEXT = {
    "pass": "VERIFIED — this batch is in a ledger root anchored on chain",
    "fail": "NOT VERIFIED",
    "offline": "OFFLINE CHECKS PASSED — the chain was not consulted",
}


def verification(v: Verification) -> str:
    """Verdict banner, hashes to compare with ``sha256sum``, and one row per check."""
    r = v.report
    verdict = v.verdict
    head = VERDICT_TEXT[verdict]
    if verdict == "fail":
        head += f": batch {r.seq if r.seq is not None else '?'} fails '{esc(r.failed)}'"
    rows = "".join(
        f'<tr data-check="{esc(c.name)}" data-status="{esc(c.status)}"><td>{esc(c.name)}</td>'
        f'<td><span class="tj-badge tj-{esc(c.status)}">{esc(c.status.upper())}</span></td>'
        f'<td>{esc(c.detail)}</td></tr>' for c in r.checks)

    def hash_row(label: str, got: str, claimed: str | None, attr: str) -> str:
        same = claimed is not None and claimed.lower().removeprefix("0x") == got
        mark = "✔ matches the bundle" if same else ("✘ bundle says " + esc(claimed) if claimed else "")
        return (f'<tr><td>{label}</td><td><code {attr}="{got}">{got}</code></td>'
                f'<td class="{"tj-pass-text" if same else "tj-fail-text"}">{mark}</td></tr>')

    return (
        f'<div class="tj-verdict tj-verdict-{verdict}" data-verdict="{verdict}" '
        f'data-file-sha256="{v.sha256}">'
        f'{head}</div>'
        f'<div class="tj-note" data-chain-note>{esc(v.chain_note)}</div>'
        f'<table class="tj-table tj-hashes"><tbody>'
        f'{hash_row("SHA-256 of the file", v.sha256, v.claimed_sha256, "data-sha256")}'
        f'{hash_row("leaf hash SHA-256(0x00 ‖ file)", v.leaf_hash, v.claimed_leaf_hash, "data-leaf-hash")}'
        f'</tbody></table>'
        f'<table class="tj-table tj-checks">'
        f'<thead><tr><th>check</th><th>result</th><th>detail</th></tr></thead>'
        f'<tbody>{rows}</tbody></table>')
