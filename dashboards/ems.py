"""The energy-management (EMS) page: load curves against the period before, energy compared per workshop,
transformer load, time-of-use shares and cost with the load-move calculator, maximum demand and the basic
charge, start-up/standby energy per device, and unit consumption per shift and team.

Every table is a :class:`dashboards.ems_data.Section` (the models' own numbers); this module only draws
them. The period is in the URL (``?period=week&date=2026-12-01&against=year``) so a view can be shared;
only the visible tab is computed. Charts keep the mouse wheel for the page (no wheel zoom) and offer PNG
through their save tool; every table downloads as CSV and XLSX. Every label is the catalogue's in the session's
language (``?lang=``, :mod:`dashboards.i18n`).
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401 - the Bokeh renderer, so that .opts work outside a server too
import pandas as pd
import panel as pn
import param

from workspace.config import Config
from workspace.errors import TanjianError

from . import ems_data as E
from . import i18n
from .i18n import N_
from .render import esc
from .tables import CSS, TOOLS, downloads, table_html  # noqa: F401 - re-used by the EMS tabs

log = logging.getLogger(__name__)

TITLES = {"load": N_("Load"), "compare": N_("Comparison"), "transformers": N_("Transformers"),
          "tou": N_("Time of use"), "demand": N_("Demand"), "states": N_("Standby"), "unit": N_("Unit consumption")}
#: the period selectors' choices (msgids)
KIND_LABELS = {"day": N_("Day"), "week": N_("Week"), "month": N_("Month")}
AGAINST_LABELS = {"day": N_("Day before"), "week": N_("Week before"), "month": N_("Month before"),
                  "year": N_("Year before")}
#: names of the chart series (msgids)
SERIES = {"before": N_("before"), "this": N_("this period"), "running": N_("running"), "startup": N_("start-up"),
          "standby": N_("standby"), "sharp": N_("sharp"), "peak": N_("peak"), "flat": N_("flat"),
          "valley": N_("valley")}
EXTRA_TITLES = {"teams": N_("Per team"), "products": N_("Per product")}
PERIOD_COLORS = {"sharp": "#d62728", "peak": "#ff7f0e", "flat": "#2ca02c", "valley": "#1f77b4"}


def _opts(**kw) -> dict:
    return dict(responsive=True, height=320, default_tools=TOOLS, tools=["hover"], active_tools=[],
                show_grid=True, toolbar="above", **kw)  # the toolbar above: the plot keeps the width of a phone


def chart(sec: E.Section, _=None):
    """The section's chart (its axes and series named in the language of ``_``), or None for sections shown
    as a table only."""
    _ = _ or (lambda s: s)
    df = sec.table
    if df.empty:
        return None
    t_ax, kw_ax, kwh_ax = ("time", _("Time")), ("kw", _("Load [kW]")), ("kwh", _("Energy [kWh]"))
    if sec.name == "load":
        return (hv.Curve((df.index, df["before_kw"]), t_ax, kw_ax, label=_(SERIES["before"])).opts(
                    color="#7f8c9a", line_dash="dashed")
                * hv.Curve((df.index, df["this_kw"]), t_ax, kw_ax, label=_(SERIES["this"])).opts(
                    color="#2fbf71", line_width=2)).opts(**_opts(legend_position="top_left"))
    if sec.name == "transformers":
        r = sec.extra["rates"]
        return hv.Overlay([hv.Curve((r.index, r[c]), t_ax, ("rate", _("Load rate [-]")), label=c) for c in r.columns]
                          ).opts(**_opts(legend_position="top_left"))
    if sec.name == "tou":
        rows = []
        for g in df.index:
            for per in PERIOD_COLORS:
                rows.append((str(g), _(SERIES[per]), float(df.loc[g, f"{per}_kwh"])))
        return hv.Bars(rows, [("group", _("Group")), ("period", _("Period"))], kwh_ax).opts(
            stacked=True, cmap={_(SERIES[k]): c for k, c in PERIOD_COLORS.items()}, xrotation=30,
            **_opts(legend_position="right"))
    if sec.name == "compare":
        d = df.drop(index=[g for g in df.index if g not in set(df.index[1:])], errors="ignore")
        rows = [(str(g), _(SERIES[w]), float(d.loc[g, c])) for g in d.index for w, c in
                (("this", "this_kwh"), ("before", "before_kwh"))]
        return hv.Bars(rows, [("group", _("Group")), ("which", _("Period"))], kwh_ax).opts(
            multi_level=False, xrotation=30, cmap={_(SERIES["this"]): "#2fbf71", _(SERIES["before"]): "#7f8c9a"},
            **_opts())
    if sec.name == "states" and {"running_kwh", "standby_kwh", "startup_kwh"} <= set(df.columns):
        rows = [(str(d), _(SERIES[s]), float(df.loc[d, f"{s}_kwh"])) for d in df.index[::-1]
                for s in ("running", "startup", "standby")]
        o = _opts(legend_position="bottom_right")
        o["height"] = max(320, 16 * len(df) + 90)  # one readable row per device, on a phone too
        return hv.Bars(rows, [("device", _("Device")), ("state", _("State"))], kwh_ax).opts(
            stacked=True, invert_axes=True, cmap={_(SERIES["running"]): "#2fbf71", _(SERIES["startup"]): "#f4a261",
                                                  _(SERIES["standby"]): "#d62728"}, **o)
    return None


class EmsPage(pn.viewable.Viewer):
    """The EMS page of one browser session.

    Parameters
    ----------
    cfg : Config
    query : dict, optional
        The URL query (``pn.state.session_args``): ``period``, ``date``, ``against``, ``tab``.
    store : Store, optional
        An open store (default: opened from ``cfg``).
    lang : str
        ``"zh"`` or ``"en"``: the language of every label and number.
    """

    kind = param.Selector(default="day", objects=list(E.KINDS), doc="period length")
    date = param.CalendarDate(default=None, allow_None=True, doc="a day inside the period (local)")
    against = param.Selector(default="day", objects=list(E.AGAINST), doc="compared with the same span this much before")
    tab = param.Selector(default="load", objects=list(E.SECTIONS))

    def __init__(self, cfg: Config, query: dict | None = None, store=None, lang: str = "en", **params):
        self._cfg = cfg
        self._store = store
        self.lang = i18n.language(lang)
        self._ = i18n.gettext_for(self.lang)
        tz = ZoneInfo(cfg.site.plant.timezone)
        p, self._url_notes = E.period_from_query(query or {}, dt.datetime.now(tz).date())
        tab = (query or {}).get("tab")
        tab = tab[0] if isinstance(tab, (list, tuple)) and tab else tab
        tab = tab.decode() if isinstance(tab, bytes) else tab
        super().__init__(kind=p.kind, date=p.date, against=p.against,
                         tab=tab if tab in E.SECTIONS else "load", **params)
        self._cache: dict = {}
        self._move_out = pn.pane.HTML("", stylesheets=[CSS])

    @property
    def period(self) -> E.Period:
        return E.Period(self.kind, self.date, self.against)

    def store(self):
        if self._store is None:
            from workspace.store import Store

            self._store = Store.open(self._cfg.paths.store, self._cfg.site)
        return self._store

    def section(self, name: str) -> E.Section:
        """Section ``name`` of the current period at the store's tip (cached per snapshot)."""
        store = self.store()
        snap = store.tip()
        key = (name, self.period, snap)
        if key not in self._cache:
            try:
                self._cache[key] = E.section(name, store, self._cfg, self.period, as_of=snap)
            except TanjianError as exc:
                self._cache[key] = E._empty(name, TITLES[name], N_("Cannot compute: {error}"), error=str(exc))
        return self._cache[key]

    # -- the load-move calculator ------------------------------------------------------------------
    def move(self, from_text: str, to_text: str, kw: float) -> str:
        """HTML of the calculator's answer (or the one-line refusal) for the period's first day."""
        _, n = self._, lambda v, d: i18n.number(v, self.lang, d)
        try:
            r = E.load_move(self._cfg, self.period.start.date(), E.parse_hours(from_text, _("from hours")),
                            E.parse_hours(to_text, _("to hours")), kw)
        except TanjianError as exc:
            return f'<p class="tj-note" data-move="refused">{esc(exc)}</p>'
        text = _("Moving {kwh} kWh a day saves <b>{saving} CNY</b> a day (cost {before} → {after} CNY; maximum "
                 "demand not re-judged).").format(kwh=n(r["kwh"], 1), saving=n(r["saving_cny"], 2),
                                                  before=n(r["cost_before_cny"], 2), after=n(r["cost_after_cny"], 2))
        return f'<p data-move="saving" data-value="{r["saving_cny"]!r}">{text}</p>'

    def _calculator(self):
        _ = self._
        f = pn.widgets.TextInput(name=_("From hours"), value="18-21", width=160)
        t = pn.widgets.TextInput(name=_("To hours"), value="0-3", width=160)
        kw = pn.widgets.TextInput(name=_("Power [kW]"), value="100", width=140)
        go = pn.widgets.Button(name=_("Calculate"), button_type="primary", width=120)

        def run(_e=None):
            from .actor import ActionRefused, parse_number

            try:
                p = parse_number(kw.value, _("Power [kW]"), 0.0, 1e6)
            except ActionRefused as exc:
                self._move_out.object = f'<p class="tj-note" data-move="refused">{esc(exc)}</p>'
                return
            self._move_out.object = self.move(f.value, t.value, p)
        go.on_click(run)
        run()
        return pn.Column(f"### {_('Load-move calculator')}", pn.FlexBox(f, t, kw, go), self._move_out,
                         sizing_mode="stretch_width")

    # -- views -------------------------------------------------------------------------------------
    def _body(self, name: str):
        _, lang = self._, self.lang
        sec = self.section(name)
        title = sec.title_text(_) or _(TITLES[name])
        parts = [pn.pane.HTML(f'<h3 data-title="{esc(name)}">{esc(title)}</h3>', stylesheets=[CSS], margin=(0, 8))]
        if sec.note:
            parts.append(pn.pane.HTML(f'<p class="tj-note" data-note="{esc(name)}">{esc(sec.note_text(_))}</p>',
                                      stylesheets=[CSS]))
        fig = chart(sec, _)
        if fig is not None:
            parts.append(pn.pane.HoloViews(fig, sizing_mode="stretch_width", min_height=320))
        stem = f"ems-{name}-{self.period.start:%Y%m%d}-{self.kind}"
        if name != "load":
            parts.append(pn.pane.HTML(table_html(sec.table, name, lang=lang, label=title), stylesheets=[CSS],
                                      sizing_mode="stretch_width"))
        if not sec.table.empty:
            parts.append(downloads(sec.table, stem, lang))
        for k, extra in sec.extra.items():
            if name == "unit":
                t = _(EXTRA_TITLES.get(k, k))
                parts += [pn.pane.HTML(f"<h4>{esc(t)}</h4>" + table_html(extra, f"{name}-{k}", lang=lang, label=t),
                                       stylesheets=[CSS], sizing_mode="stretch_width")]
                if not extra.empty:
                    parts.append(downloads(extra, f"{stem}-{k}", lang))
        if name == "tou":
            parts.append(self._calculator())
        return pn.Column(*parts, sizing_mode="stretch_width")

    @param.depends("kind", "date", "against", "tab")
    def _active(self):
        self._sync_url()
        try:
            return self._body(self.tab)
        except Exception as exc:  # noqa: BLE001 - keep the page alive; say what broke
            log.exception("EMS section %s failed", self.tab)
            return pn.pane.HTML(f'<p class="tj-note">{esc(self._(TITLES[self.tab]))}: {esc(type(exc).__name__)}: '
                                f'{esc(exc)}</p>', stylesheets=[CSS])

    def _sync_url(self) -> None:
        loc = pn.state.location
        if loc is not None:  # this page's keys replaced, the shell's (lang, theme) kept
            from urllib.parse import parse_qsl, urlencode

            q = dict(parse_qsl((loc.search or "").lstrip("?")))
            q.update(self.period.query(), tab=self.tab)
            loc.search = "?" + urlencode(q)

    def __panel__(self):
        _ = self._
        kind = pn.widgets.Select.from_param(self.param.kind, name=_("Period"), width=120,
                                            options={_(v): k for k, v in KIND_LABELS.items()})
        date = pn.widgets.TextInput(name=_("Date (YYYY-MM-DD)"), value=self.date.isoformat(), width=170)

        def set_date(e):
            try:
                self.date = dt.date.fromisoformat(e.new.strip())
            except ValueError:
                date.value = self.date.isoformat()  # back to the day shown; the field says what it wants
        date.param.watch(set_date, "value")
        against = pn.widgets.Select.from_param(self.param.against, name=_("Against"), width=140,
                                               options={_(v): k for k, v in AGAINST_LABELS.items()})
        notes = [pn.pane.HTML(f'<p class="tj-note">{esc(E.note_text(n, _))}</p>', stylesheets=[CSS])
                 for n in self._url_notes]
        return pn.Column(pn.FlexBox(kind, date, against), self._tabs, *notes, self._active, sizing_mode="stretch_width")

    @param.depends("tab")
    def _tabs(self):
        """One button per section, wrapping on a narrow screen; the open one filled."""
        buttons = []
        for s in E.SECTIONS:
            b = pn.widgets.Button(name=self._(TITLES[s]), button_type="primary",
                                  button_style="solid" if s == self.tab else "outline", margin=(2, 3))
            b.on_click(lambda _e, x=s: setattr(self, "tab", x))
            buttons.append(b)
        return pn.FlexBox(*buttons, sizing_mode="stretch_width")


def view(ctx):
    """The page for the app shell (:mod:`dashboards.registry`): its state from the URL's query."""
    return EmsPage(ctx.cfg, dict(ctx.query), lang=ctx.lang)
