"""The energy-management (EMS) page: load curves against the period before, energy compared per workshop,
transformer load, time-of-use shares and cost with the load-move calculator, maximum demand and the basic
charge, start-up/standby energy per device, and unit consumption per shift and team.

Every table is a :class:`dashboards.ems_data.Section` (the models' own numbers); this module only draws
them. The period is in the URL (``?period=week&date=2026-12-01&against=year``) so a view can be shared;
only the visible tab is computed. Charts keep the mouse wheel for the page (no wheel zoom) and offer PNG
through their save tool; every table downloads as CSV.
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
from .render import esc
from .tables import CSS, TOOLS, downloads, table_html  # noqa: F401 - re-used by the EMS tabs

log = logging.getLogger(__name__)

TITLES = {"load": "Load 负荷", "compare": "Comparison 同比环比", "transformers": "Transformers 变压器",
          "tou": "Time of use 峰谷", "demand": "Demand 需量", "states": "Standby 待机", "unit": "Unit consumption 单耗"}
PERIOD_COLORS = {"sharp": "#d62728", "peak": "#ff7f0e", "flat": "#2ca02c", "valley": "#1f77b4"}


def _opts(**kw) -> dict:
    return dict(responsive=True, height=320, default_tools=TOOLS, tools=["hover"], active_tools=[],
                show_grid=True, toolbar="above", **kw)  # the toolbar above: the plot keeps the width of a phone


def chart(sec: E.Section):
    """The section's chart, or None for sections shown as a table only."""
    df = sec.table
    if df.empty:
        return None
    if sec.name == "load":
        return (hv.Curve((df.index, df["before_kw"]), "time", ("kw", "Load [kW]"), label="before").opts(
                    color="#7f8c9a", line_dash="dashed")
                * hv.Curve((df.index, df["this_kw"]), "time", ("kw", "Load [kW]"), label="this period").opts(
                    color="#2fbf71", line_width=2)).opts(**_opts(legend_position="top_left"))
    if sec.name == "transformers":
        r = sec.extra["rates"]
        return hv.Overlay([hv.Curve((r.index, r[c]), "time", ("rate", "Load rate [-]"), label=c) for c in r.columns]
                          ).opts(**_opts(legend_position="top_left"))
    if sec.name == "tou":
        rows = []
        for g in df.index:
            for per in PERIOD_COLORS:
                rows.append((str(g), per, float(df.loc[g, f"{per}_kwh"])))
        return hv.Bars(rows, ["group", "period"], ("kwh", "Energy [kWh]")).opts(
            stacked=True, cmap=PERIOD_COLORS, xrotation=30, **_opts(legend_position="right"))
    if sec.name == "compare":
        d = df.drop(index=[g for g in df.index if g not in set(df.index[1:])], errors="ignore")
        rows = [(str(g), w, float(d.loc[g, c])) for g in d.index for w, c in
                (("this", "this_kwh"), ("before", "before_kwh"))]
        return hv.Bars(rows, ["group", "which"], ("kwh", "Energy [kWh]")).opts(
            multi_level=False, xrotation=30, cmap={"this": "#2fbf71", "before": "#7f8c9a"}, **_opts())
    if sec.name == "states" and {"running_kwh", "standby_kwh", "startup_kwh"} <= set(df.columns):
        rows = [(str(d), s, float(df.loc[d, f"{s}_kwh"])) for d in df.index[::-1] for s in ("running", "startup", "standby")]
        o = _opts(legend_position="bottom_right")
        o["height"] = max(320, 16 * len(df) + 90)  # one readable row per device, on a phone too
        return hv.Bars(rows, ["device", "state"], ("kwh", "Energy [kWh]")).opts(
            stacked=True, invert_axes=True, cmap={"running": "#2fbf71", "startup": "#f4a261", "standby": "#d62728"},
            **o)
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
    """

    kind = param.Selector(default="day", objects=list(E.KINDS), doc="period length")
    date = param.CalendarDate(default=None, allow_None=True, doc="a day inside the period (local)")
    against = param.Selector(default="day", objects=list(E.AGAINST), doc="compared with the same span this much before")
    tab = param.Selector(default="load", objects=list(E.SECTIONS))

    def __init__(self, cfg: Config, query: dict | None = None, store=None, **params):
        self._cfg = cfg
        self._store = store
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
                self._cache[key] = E._empty(name, TITLES[name], str(exc))
        return self._cache[key]

    # -- the load-move calculator ------------------------------------------------------------------
    def move(self, from_text: str, to_text: str, kw: float) -> str:
        """HTML of the calculator's answer (or the one-line refusal) for the period's first day."""
        try:
            r = E.load_move(self._cfg, self.period.start.date(), E.parse_hours(from_text, "from hours"),
                            E.parse_hours(to_text, "to hours"), kw)
        except TanjianError as exc:
            return f'<p class="tj-note" data-move="refused">{esc(exc)}</p>'
        return (f'<p data-move="saving" data-value="{r["saving_cny"]!r}">Moving {r["kwh"]:,.1f} kWh a day '
                f'saves <b>{r["saving_cny"]:,.2f} CNY</b> a day (cost {r["cost_before_cny"]:,.2f} → '
                f'{r["cost_after_cny"]:,.2f} CNY; maximum demand not re-judged).</p>')

    def _calculator(self):
        f = pn.widgets.TextInput(name="From hours 移出时段", value="18-21", width=160)
        t = pn.widgets.TextInput(name="To hours 移入时段", value="0-3", width=160)
        kw = pn.widgets.TextInput(name="Power 功率 [kW]", value="100", width=140)
        go = pn.widgets.Button(name="Calculate 计算", button_type="primary", width=120)

        def run(_=None):
            from .actor import ActionRefused, parse_number

            try:
                p = parse_number(kw.value, "power [kW]", 0.0, 1e6)
            except ActionRefused as exc:
                self._move_out.object = f'<p class="tj-note" data-move="refused">{esc(exc)}</p>'
                return
            self._move_out.object = self.move(f.value, t.value, p)
        go.on_click(run)
        run()
        return pn.Column("### Load-move calculator 负荷转移", pn.FlexBox(f, t, kw, go), self._move_out,
                         sizing_mode="stretch_width")

    # -- views -------------------------------------------------------------------------------------
    def _body(self, name: str):
        sec = self.section(name)
        parts = [pn.pane.HTML(f"<h3>{esc(sec.title or TITLES[name])}</h3>", stylesheets=[CSS], margin=(0, 8))]
        if sec.note:
            parts.append(pn.pane.HTML(f'<p class="tj-note" data-note="{esc(name)}">{esc(sec.note)}</p>',
                                      stylesheets=[CSS]))
        fig = chart(sec)
        if fig is not None:
            parts.append(pn.pane.HoloViews(fig, sizing_mode="stretch_width", min_height=320))
        if name != "load":
            parts.append(pn.pane.HTML(table_html(sec.table, name), stylesheets=[CSS], sizing_mode="stretch_width"))
        for k, extra in sec.extra.items():
            if name == "unit":
                parts += [pn.pane.HTML(f"<h4>{esc(k)}</h4>" + table_html(extra, f"{name}-{k}"), stylesheets=[CSS],
                                       sizing_mode="stretch_width")]
        if not sec.table.empty:
            parts.append(downloads(sec.table, f"ems-{name}-{self.period.start:%Y%m%d}-{self.kind}"))
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
            return pn.pane.HTML(f'<p class="tj-note">{esc(TITLES[self.tab])}: {esc(type(exc).__name__)}: '
                                f'{esc(exc)}</p>', stylesheets=[CSS])

    def _sync_url(self) -> None:
        loc = pn.state.location
        if loc is not None:  # this page's keys replaced, the shell's (lang, theme) kept
            from urllib.parse import parse_qsl, urlencode

            q = dict(parse_qsl((loc.search or "").lstrip("?")))
            q.update(self.period.query(), tab=self.tab)
            loc.search = "?" + urlencode(q)

    def __panel__(self):
        kind = pn.widgets.Select.from_param(self.param.kind, name="Period 周期", width=120)
        date = pn.widgets.TextInput(name="Date 日期 (YYYY-MM-DD)", value=self.date.isoformat(), width=170)

        def set_date(e):
            try:
                self.date = dt.date.fromisoformat(e.new.strip())
            except ValueError:
                date.value = self.date.isoformat()  # back to the day shown; the field says what it wants
        date.param.watch(set_date, "value")
        against = pn.widgets.Select.from_param(self.param.against, name="Against 对比", width=120)
        notes = [pn.pane.HTML(f'<p class="tj-note">{esc(n)}</p>', stylesheets=[CSS]) for n in self._url_notes]
        return pn.Column(pn.FlexBox(kind, date, against), self._tabs, *notes, self._active, sizing_mode="stretch_width")

    @param.depends("tab")
    def _tabs(self):
        """One button per section, wrapping on a narrow screen; the open one filled."""
        buttons = []
        for s in E.SECTIONS:
            b = pn.widgets.Button(name=TITLES[s], button_type="primary",
                                  button_style="solid" if s == self.tab else "outline", margin=(2, 3))
            b.on_click(lambda _e, x=s: setattr(self, "tab", x))
            buttons.append(b)
        return pn.FlexBox(*buttons, sizing_mode="stretch_width")


def view(ctx):
    """The page for the app shell (:mod:`dashboards.registry`): its state from the URL's query."""
    return EmsPage(ctx.cfg, dict(ctx.query))
