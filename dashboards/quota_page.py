"""The quota (allowance) page: the year's allowance and where it comes from (the regulator's value on chain,
as last seen, or the hand-entered one with its author and reason), the monthly settlement, the forecast of the
year's emissions with its interval, the alarm, the electricity used, the allowance's trail; and entry or
adjustment of the allowance by a person with the ``quota`` permission.

Figures: :func:`models.quota.quota_status` (the same as ``tanjian allowance status``). The adjustment goes
through :meth:`chain.quota.QuotaBook.set` (the allowance's own append-only trail, with author and reason) and
:func:`workspace.audit.record` (``quota_set``), as ``tanjian quota set`` does. The page does not reach the chain
node: an on-chain value shows as last recorded in the trail (``tanjian allowance status`` refreshes it).
Labels, headers and numbers are in the session's language (:mod:`dashboards.i18n`).
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

import holoviews as hv
import pandas as pd
import panel as pn
import param

from workspace.config import Config
from workspace.errors import TanjianError

from . import i18n
from .actor import ActionRefused, Actor, has_accounts, parse_number, session_actor
from .tables import CSS, TOOLS, downloads, table_html
from .render import esc

log = logging.getLogger(__name__)


def enterprise_id(site) -> str:
    """The id allowances are filed under: the unified social credit code, else the plant id (as the CLI)."""
    return site.enterprise.credit_code or site.plant.id


def book(cfg: Config):
    from chain.quota import QuotaBook

    return QuotaBook(cfg.paths.chain, None)


def status(cfg: Config, store, year: int, *, as_of=None):
    """:func:`models.quota.quota_status` of the site's enterprise (the trail's allowance, no chain call)."""
    from models.quota import quota_status

    return quota_status(store, book(cfg), enterprise_id(cfg.site), year, as_of=as_of)


def adjust(cfg: Config, who: Actor | None, year: int, amount_t: float, reason: str, lang: str = "en") -> dict:
    """Enter or adjust the allowance of ``year`` to ``amount_t`` [t CO2e] as ``who`` (permission ``quota``).

    Returns the trail entry written. Raises :class:`ActionRefused` with one line for the person, in ``lang``.
    """
    from workspace import audit

    _ = i18n.gettext_for(lang)
    if who is None:
        raise ActionRefused(_("log in (or type your name) first: the allowance's trail names its author"))
    if not who.may("quota"):
        raise ActionRefused(_("{name} ({role}) may not enter a quota (needs permission quota)").format(
            name=who.name, role=who.role))
    if not reason.strip():
        raise ActionRefused(_("an allowance entry needs a reason (e.g. the regulator's letter)"))
    if not (amount_t == amount_t) or amount_t < 0 or amount_t > 1e9:
        raise ActionRefused(_("allowance {amount} t CO2e: give 0 to 1,000,000,000 t").format(amount=amount_t))
    if not 2000 <= year <= 2100:
        raise ActionRefused(_("year {year}: give a year 2000..2100").format(year=year))
    amount_kg = round(amount_t * 1000)
    ent = enterprise_id(cfg.site)
    try:
        entry = book(cfg).set(ent, year, amount_kg, author=who.name, reason=reason.strip())
    except TanjianError as exc:
        raise ActionRefused(str(exc)) from None
    audit.record(cfg.paths.data_dir, who.name, "quota_set", f"{ent} {year} {amount_kg} kg by hand", reason.strip())
    return entry


def settlement_chart(table: pd.DataFrame, _=None):
    """Cumulative emissions against the cumulative allowance [t CO2e] per month (labels in the language of ``_``)."""
    _ = _ or (lambda s: s)
    if table.empty:
        return None
    x = [str(m) for m in table.index]
    month = ("month", _("Month"))
    return (hv.Curve((x, table["cum_quota_kg"] / 1000), month, ("t", "t CO₂e"), label=_("allowance")).opts(
                color="#7f8c9a", line_dash="dashed") *
            hv.Curve((x, table["cum_emissions_kg"] / 1000), month, ("t", "t CO₂e"), label=_("emitted")).opts(
                color="#f4a261", line_width=3)).opts(
        responsive=True, height=260, default_tools=TOOLS, active_tools=[], toolbar="above", show_grid=True,
        legend_position="top_left")


class QuotaPage(pn.viewable.Viewer):
    """The quota page of one session; ``query``: ``year``."""

    year = param.Integer(default=2026, bounds=(2000, 2100))
    message = param.String(default="")
    tick = param.Integer(default=0)

    def __init__(self, cfg: Config, query: dict | None = None, store=None, lang: str = "en", **params):
        self._cfg = cfg
        self._store = store
        self.lang = i18n.language(lang)
        self._ = _ = i18n.gettext_for(self.lang)
        y = (query or {}).get("year")
        y = y[0] if isinstance(y, (list, tuple)) and y else y
        y = y.decode() if isinstance(y, bytes) else y
        now = dt.datetime.now(ZoneInfo(cfg.site.plant.timezone)).year
        super().__init__(year=int(y) if y and str(y).isdigit() and 2000 <= int(y) <= 2100 else now, **params)
        self._name = pn.widgets.TextInput(name=_("Your name"), visible=not has_accounts(cfg))
        self._amount = pn.widgets.TextInput(name=_("Allowance [t CO₂e]"), placeholder=_("e.g. 3650"), width=200)
        self._reason = pn.widgets.TextInput(name=_("Reason"), placeholder=_("e.g. 2026 allocation letter"))

    def store(self):
        if self._store is None:
            from workspace.store import Store

            self._store = Store.open(self._cfg.paths.store, self._cfg.site)
        return self._store

    def do_adjust(self) -> None:
        _ = self._
        who = session_actor(self._cfg, self._name.value)
        try:
            if not (self._amount.value or "").strip():
                raise ActionRefused(_("give the allowance in t CO2e"))
            amount = parse_number(self._amount.value, _("Allowance [t CO₂e]"), 0.0, 1e9)
            e = adjust(self._cfg, who, self.year, amount, self._reason.value or "", self.lang)
        except ActionRefused as exc:
            self.message = f'<p class="tj-note" data-refused="quota">{esc(exc)}</p>'
        else:
            done = _("{year}: allowance {amount} t CO₂e entered by {person}").format(
                year=self.year, amount=i18n.number(e["amount_kg"] / 1000, self.lang, 1), person=e["author"])
            self.message = f'<p data-done="quota">{esc(done)}</p>'
            self._reason.value = ""
        self.tick += 1

    @param.depends("year", "tick")
    def _body(self):
        _, lang = self._, self.lang
        parts = [pn.pane.HTML(self.message, stylesheets=[CSS])] if self.message else []
        ent = enterprise_id(self._cfg.site)
        try:
            st = status(self._cfg, self.store(), self.year)
        except TanjianError as exc:
            parts.append(pn.pane.HTML(f'<p class="tj-note" data-note="quota">{esc(exc)}</p>', stylesheets=[CSS]))
            st = None
        if st is not None:
            q = st.quota
            src = (_("set on chain by the regulator (as last seen)") if q.source == "chain"
                   else _("hand-entered by {person}").format(person=q.entry.get("author")))
            fc = st.forecast
            cards = [(_("Allowance"), q.amount_kg / 1000, src),
                     (_("Emitted so far"), float(st.settlement["cum_emissions_kg"].iloc[-1]) / 1000
                      if len(st.settlement) else float("nan"), _("to {day}").format(day=fc.last_day) if fc else ""),
                     (_("Forecast of the year"), fc.total_kg / 1000 if fc else float("nan"),
                      _("{level} interval {lower} … {upper} t").format(
                          level=f"{fc.level:.0%}", lower=i18n.number(fc.lower_kg / 1000, lang, 1),
                          upper=i18n.number(fc.upper_kg / 1000, lang, 1)) if fc else st.forecast_note),
                     (_("Electricity"), st.electricity_kwh / 1000, _("MWh, year to date"))]
            html = "".join(f'<div class="tj-k" data-kpi="{i}" data-value="{v!r}"><div class="l">{esc(t)}</div>'
                           f'<div class="v">{i18n.number(v, lang, 1)} <small>{"MWh" if i == 3 else "t CO₂e"}'
                           f'</small></div><div class="l">{esc(n)}</div></div>' for i, (t, v, n) in enumerate(cards))
            parts.append(pn.pane.HTML(
                '<style>.tj-ks{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:8px}'
                '.tj-k{border:1px solid #ccd;border-radius:8px;padding:6px 10px}.tj-k .l{font-size:13px;color:#666}'
                f'.tj-k .v{{font-size:22px;font-weight:700}}</style><div class="tj-ks">{html}</div>',
                sizing_mode="stretch_width"))
            if st.alarm is not None:
                parts.append(pn.pane.HTML(f'<p class="tj-note" data-alarm="{esc(st.alarm.severity)}"><b>'
                                          f'{esc(st.alarm.severity)}</b>: {esc(st.alarm.message)}</p>',
                                          stylesheets=[CSS]))
            fig = settlement_chart(st.settlement, _)
            if fig is not None:
                parts.append(pn.pane.HoloViews(fig, sizing_mode="stretch_width"))
            title = _("Monthly settlement [kg CO₂e]")
            parts.append(pn.pane.HTML(f'<h4 data-title="settlement">{esc(title)}</h4>' +
                                      table_html(st.settlement, "settlement", lang=lang, label=title),
                                      stylesheets=[CSS], sizing_mode="stretch_width"))
            parts.append(downloads(st.settlement, f"settlement-{ent}-{self.year}", lang))
        trail = pd.DataFrame(book(self._cfg).entries(ent, self.year))
        if len(trail):
            trail = trail[[c for c in ("time", "source", "amount_kg", "author", "reason") if c in trail]]
            title = _("Trail")
            parts.append(pn.pane.HTML(f'<h4 data-title="trail">{esc(title)}</h4>' +
                                      table_html(trail.set_index("time"), "trail", lang=lang, label=title),
                                      stylesheets=[CSS], sizing_mode="stretch_width"))
            parts.append(downloads(trail.set_index("time"), f"quota-trail-{ent}-{self.year}", lang))
        go = pn.widgets.Button(name=_("Enter allowance"), button_type="primary", width=180)
        go.on_click(lambda _e: self.do_adjust())
        parts.append(pn.Column("#### " + _("Enter or adjust {year}").format(year=self.year), self._name,
                               pn.FlexBox(self._amount, self._reason), go, sizing_mode="stretch_width"))
        return pn.Column(*parts, sizing_mode="stretch_width")

    def __panel__(self):
        years = list(range(self.year - 5, self.year + 2))
        return pn.Column(pn.widgets.Select.from_param(self.param.year, name=self._("Year"), options=years, width=120),
                         self._body,
                         sizing_mode="stretch_width")


def view(ctx):
    """The page for the app shell (:mod:`dashboards.registry`)."""
    return QuotaPage(ctx.cfg, dict(ctx.query), lang=ctx.lang)
