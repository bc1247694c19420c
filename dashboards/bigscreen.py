"""The management big screen: today's, yesterday's, this month's and this year's electricity and
CO2e, the live load curve, the workshop breakdown and the last on-chain anchor, on a dark wall page.

One :class:`BigScreen` per browser session; it re-reads the store (at the branch tip, so new folds
by the collector appear) every ``cfg.dashboards.refresh_s`` seconds.
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

import holoviews as hv
import pandas as pd
import panel as pn
import param
from bokeh.models import DatetimeTickFormatter

from workspace.config import Config
from workspace.errors import TanjianError
from workspace.store import Store

from . import registry, render
from .feeds import PlantView, last_anchor, methodology_status, read_plant
from .shell import no_wheel

log = logging.getLogger(__name__)

ACCENT = "#2fbf71"  # carbon green
CO2_COLOR = "#f4a261"
YESTERDAY_COLOR = "#7f8c9a"
LOAD_HEIGHT, BARS_HEIGHT, RIGHT_WIDTH = 320, 235, 600  # [px] sized for a 1920x1080 wall


def _few_ticks(plot, element) -> None:
    """At most four value ticks, so the numbers of a narrow bar chart never overlap."""
    from bokeh.models import BasicTicker

    plot.state.xaxis[0].ticker = BasicTicker(desired_num_ticks=4)


def _clock_axis(plot, element) -> None:
    """Hours and minutes on the time axis, without the date line HoloViews adds below."""
    plot.state.xaxis[0].formatter = DatetimeTickFormatter(hourmin="%H:%M", hours="%H:%M", days="%H:%M",
                                                          minutes="%H:%M", context=None)

CSS = """
:host { --tj-fg: #e8edf2; --tj-dim: #93a1b0; --tj-card: #17202b; --tj-line: #2a3644; }
.tj-cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(300px, 100%), 1fr)); gap: 16px; }
.tj-card, .tj-anchor { background: var(--tj-card); border: 1px solid var(--tj-line);
  border-radius: 10px; padding: 14px 18px; color: var(--tj-fg); box-sizing: border-box;
  font-family: Inter, "Noto Sans", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; }
.tj-card-title { font-size: 20px; font-weight: 600; color: var(--tj-dim); text-transform: uppercase;
  letter-spacing: .06em; margin-bottom: 8px; }
.tj-metric { margin: 6px 0 10px 0; }
.tj-metric-label { font-size: 15px; color: var(--tj-dim); }
.tj-big { font-size: 44px; font-weight: 700; font-variant-numeric: tabular-nums; color: #ffffff;
  line-height: 1.1; }
.tj-co2 { color: #ffd6a8; }
.tj-mid { font-size: 26px; font-weight: 600; font-variant-numeric: tabular-nums; color: var(--tj-fg); }
.tj-unit { font-size: 0.5em; font-weight: 500; color: var(--tj-dim); }
.tj-small .tj-mid { font-size: 22px; }
.tj-status { font-size: 16px; color: var(--tj-dim); padding: 2px 4px; }
.tj-status b { color: var(--tj-fg); }
.tj-status code, .tj-anchor code, .tj-methodology code { font-family: "JetBrains Mono", "DejaVu Sans Mono", monospace;
  color: #9fd8b8; }
.tj-stale, .tj-warn { color: #ffb347; font-weight: 600; margin-left: 12px; }
.tj-note { font-size: 14px; color: var(--tj-dim); margin-top: 6px; }
.tj-kv { width: 100%; border-collapse: collapse; margin-top: 8px; font-size: 16px; color: var(--tj-fg); }
.tj-anchor { margin-top: 14px; }
.tj-methodology { margin-top: 2px; padding: 2px 18px; font-size: 14px; color: var(--tj-dim); white-space: nowrap;
  overflow: hidden; text-overflow: ellipsis; }
.tj-methodology b { color: var(--tj-fg); font-weight: 600; }
.tj-kv td { padding: 4px 0; border-bottom: 1px solid var(--tj-line); }
.tj-kv td:first-child { color: var(--tj-dim); width: 45%; }
.tj-table { width: 100%; border-collapse: collapse; font-size: 18px; color: var(--tj-fg); }
.tj-table th { text-align: left; color: var(--tj-dim); font-weight: 600; font-size: 14px;
  text-transform: uppercase; letter-spacing: .05em; border-bottom: 1px solid var(--tj-line); padding: 6px 8px; }
.tj-table td { padding: 7px 8px; border-bottom: 1px solid var(--tj-line); }
.tj-table th:not(:first-child) { text-align: right; }
.tj-num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.tj-legend { color: #2fbf71; text-transform: none; letter-spacing: 0; font-size: 16px; margin-left: 14px; }
.tj-legend-y { color: #aab4bf; }
.tj-zh { color: var(--tj-dim); font-size: 15px; margin-left: 6px; }
.tj-h { font-size: 20px; font-weight: 600; color: var(--tj-dim); text-transform: uppercase;
  letter-spacing: .06em; margin: 0 0 6px 2px; font-family: Inter, "Noto Sans", sans-serif; }
"""


#: how often the page asks the chain whether the active methodology package is the published one [s]
GUARD_EVERY_S = 60.0


def methodology_card(m: dict | None) -> str:
    """The methodology the figures are computed with: id, version, package hash, on-chain status."""
    esc = render.esc
    if not m:
        return ""
    sha = str(m.get("sha256") or "")
    # one line under the anchor card (the shell's header names the methodology too): the wall keeps fitting 1080 px
    return (f'<div class="tj-methodology" data-methodology="{esc(m.get("id", ""))}" '
            f'data-methodology-status="{esc(m.get("status", ""))}" data-methodology-sha256="{esc(sha)}" '
            f'title="{esc(m.get("reason", ""))}">'
            f'<b>{esc(m.get("id", ""))} {esc(m.get("version", ""))}</b> · '
            f'<code title="{esc(sha)}">{esc(sha[:8])}…</code> · <b>{esc(m.get("label", ""))}</b></div>')


def html(obj, **kw) -> pn.pane.HTML:
    """An HTML pane styled with the page's stylesheet (Panel panes live in their own shadow DOM)."""
    if "width" not in kw:
        kw.setdefault("sizing_mode", "stretch_width")
    return pn.pane.HTML(obj, stylesheets=[CSS], margin=(4, 8), **kw)


def load_plot(view: PlantView | None) -> hv.Overlay:
    """Today's plant load [kW] as an area over the whole local day, yesterday's dashed behind it."""
    if view is None:
        return hv.Overlay([hv.Curve([], "time", "load")])
    day0 = view.today[0].tz_localize(None)
    today = view.load_today
    yday = view.load_yesterday
    yday = pd.Series(yday.to_numpy(), index=yday.index + pd.Timedelta(days=1))  # on today's clock
    unit = view.load_units
    y = hv.Curve((yday.index, yday.to_numpy()), "time", ("load", f"Load [{unit}]"), label="yesterday").opts(
        color=YESTERDAY_COLOR, line_dash="dashed", line_width=2)
    t = hv.Area((today.index, today.to_numpy()), "time", ("load", f"Load [{unit}]"), label="today").opts(
        color=ACCENT, fill_alpha=0.35, line_color=ACCENT, line_width=2)
    return (y * t).opts(
        hv.opts.Overlay(responsive=True, height=LOAD_HEIGHT, hooks=[_clock_axis, no_wheel],
                        xlim=(day0, day0 + pd.Timedelta(days=1)),
                        show_legend=False, show_grid=True, toolbar=None, xlabel="", active_tools=[],
                        ylabel=f"Plant load [{unit}] ({view.load_freq} mean)", fontscale=1.3))


def workshop_bars(view: PlantView | None, what: str) -> hv.Bars:
    """Electricity [kWh] (``what="electricity"``) or CO2e [t] (``"co2e"``) of each workshop today, as
    horizontal bars in the order of the workshop table (largest CO2e on top)."""
    if view is None or view.breakdown.empty:
        return hv.Bars([], "workshop", "value")
    b = view.breakdown.sort_values("co2e_kg")
    opts = dict(invert_axes=True, responsive=True, height=BARS_HEIGHT, toolbar=None, show_grid=True,
                fontscale=1.2, xlabel="", active_tools=[], hooks=[no_wheel, _few_ticks])
    if what == "electricity":
        return hv.Bars((list(b["name"]), b["electricity_kWh"].to_numpy()), "workshop",
                       ("kWh", "Electricity today [kWh]")).opts(color=ACCENT, **opts)
    return hv.Bars((list(b["name"]), b["co2e_kg"].to_numpy() / 1000), "workshop",
                   ("t", "CO₂e today [t]")).opts(color=CO2_COLOR, **opts)


class BigScreen(pn.viewable.Viewer):
    """The big screen of one plant, for one browser session.

    Parameters
    ----------
    cfg : Config
        The workspace configuration (store, chain state, refresh period).
    """

    view = param.ClassSelector(class_=PlantView, default=None, allow_None=True,
                               doc="numbers read at one snapshot of the store")
    anchor = param.Dict(default=None, allow_None=True, doc="newest anchor record, or None")
    methodology = param.Dict(default=None, allow_None=True,
                             doc="active methodology package and its on-chain status (feeds.methodology_status)")
    now = param.Date(default=None, allow_None=True, doc="wall-clock time of the last refresh (local)")
    error = param.String(default="", doc="why the last refresh failed, if it did")
    load_freq = param.Selector(default="5min", objects=["1min", "5min", "15min"], doc="load curve interval")

    def __init__(self, cfg: Config, gettext=None, tiles=(), **params):
        self._cfg = cfg
        self._tiles = list(tiles)
        self._ = gettext or (lambda text: text)
        self._store: Store | None = None
        self._callback = None
        self._guarded_at = None  # when the methodology guard last asked the chain
        super().__init__(**params)
        self.refresh()

    @property
    def title(self) -> str:
        return f"{self._cfg.site.plant.name} · 碳鉴 carbon & energy"

    def _open(self) -> Store:
        if self._store is None:
            self._store = Store.open(self._cfg.paths.store, self._cfg.site)
        return self._store

    def refresh(self) -> None:
        """Re-read the store if the collector committed since the last read, and the anchor record."""
        now = dt.datetime.now(ZoneInfo(self._cfg.site.plant.timezone))
        updates: dict = {"now": now, "error": ""}
        meth = self.methodology
        if self._guarded_at is None or (now - self._guarded_at).total_seconds() >= GUARD_EVERY_S:
            meth = updates["methodology"] = methodology_status(self._cfg)
            self._guarded_at = now
        try:
            store = self._open()
            snap = store.tip()
            changed = meth is not self.methodology and (self.methodology or {}).get("sha256") != meth.get("sha256")
            if self.view is None or self.view.snapshot != snap or changed:
                updates["view"] = read_plant(store, snap, load_freq=self.load_freq, methodology=meth)
                log.debug("big screen read snapshot %s", snap)
        except TanjianError as exc:
            log.warning("big screen cannot read the store: %s", exc)
            updates["error"] = str(exc)
        except Exception as exc:  # noqa: BLE001 - keep the wall page alive; say what broke
            log.exception("big screen refresh failed")
            updates["error"] = f"refresh failed: {type(exc).__name__}: {exc}"
        updates["anchor"] = last_anchor(self._cfg.paths.chain)
        self.param.update(**updates)

    def start(self) -> None:
        """Refresh every ``cfg.dashboards.refresh_s`` in this session (call from the page function)."""
        if self._callback is None:
            self._callback = pn.state.add_periodic_callback(
                self.refresh, period=int(self._cfg.dashboards.refresh_s * 1000))

    def stop(self) -> None:
        if self._callback is not None:
            self._callback.stop()
            self._callback = None

    # -- views -----------------------------------------------------------------------------------
    @param.depends("view", "now", "error")
    def _status(self) -> str:
        return render.status_line(self.view, self.now, self._cfg.site.plant.timezone, self.error)

    @param.depends("view")
    def _cards(self) -> str:
        return render.kpi_cards(self.view.kpis) if self.view is not None else ""

    @param.depends("methodology")
    def _methodology(self) -> str:
        return methodology_card(self.methodology)

    @param.depends("anchor", "now")
    def _anchor(self) -> str:
        return render.anchor_card(self.anchor, self.now)

    @param.depends("view")
    def _workshops(self) -> str:
        if self.view is None:
            return ""
        zh = {w.id: w.name_zh for w in self._cfg.site.workshops if w.name_zh}
        return render.workshop_table(self.view.breakdown, zh)

    @param.depends("view")
    def _load(self):
        return load_plot(self.view)

    @param.depends("view")
    def _bars_electricity(self):
        return workshop_bars(self.view, "electricity")

    @param.depends("view")
    def _bars_co2e(self):
        return workshop_bars(self.view, "co2e")

    def __panel__(self) -> pn.viewable.Viewable:
        # cards across the top; below: load curve and workshop bars | workshop table and anchor
        _ = self._
        left = pn.Column(
            html(f'<h2 class="tj-h">{_("Plant load today")} <span class="tj-legend">■ {_("today")}</span> '
                 f'<span class="tj-legend tj-legend-y">- - {_("yesterday")}</span></h2>'),
            pn.pane.HoloViews(self._load, sizing_mode="stretch_width", height=LOAD_HEIGHT),
            html(f'<h2 class="tj-h">{_("Workshops today: electricity and CO₂e")}</h2>' if not self._tiles else
                 f'<h2 class="tj-h">{_("Workshops today: electricity")}</h2>'),
            # the extra tiles take the CO2e bars' place (their numbers are in the workshop table beside): the
            # wall keeps fitting 1920x1080
            pn.Row(pn.pane.HoloViews(self._bars_electricity, sizing_mode="stretch_width", height=BARS_HEIGHT),
                   *(self._tiles or [pn.pane.HoloViews(self._bars_co2e, sizing_mode="stretch_width",
                                                       height=BARS_HEIGHT)]),
                   sizing_mode="stretch_width"),
            sizing_mode="stretch_width")
        right = pn.Column(html(f'<h2 class="tj-h">{_("Workshops today")}</h2>', width=RIGHT_WIDTH),
                          html(self._workshops, width=RIGHT_WIDTH), html(self._anchor, width=RIGHT_WIDTH),
                          html(self._methodology, width=RIGHT_WIDTH),
                          width=RIGHT_WIDTH + 20)
        return pn.Column(html(self._status), html(self._cards),
                         pn.Row(left, right, sizing_mode="stretch_width"), sizing_mode="stretch_width")


def tiles(ctx) -> list:
    """The extra tiles of ``bigscreen_tiles:`` in ``dashboards/pages.yaml`` that have data now (a tile callable
    returns None while its data does not exist: no placeholder is shown)."""
    out = []
    for spec in registry.tiles():
        try:
            t = spec(ctx)
        except Exception:  # noqa: BLE001 - one broken tile must not take the wall down; the log says which
            log.exception("big screen tile %s failed", spec)
            continue
        if t is not None:
            out.append(t)
    return out


def quota_card(cfg, _) -> str | None:
    """The year's allowance: emitted so far, the forecast with its interval, green share (:func:`models.quota.
    quota_status`, allowances as last seen: no chain call from a page); None when the year has no allowance."""
    from chain.quota import QuotaBook
    from models.quota import quota_status

    store = Store.open(cfg.paths.store, cfg.site)
    t = store.latest_time()
    if t is None:
        return None
    ent = cfg.site.enterprise.credit_code or cfg.site.plant.id  # the id allowances are filed under
    book = QuotaBook(cfg.paths.chain, None)
    if book.effective(ent, t.year) is None:
        return None
    st = quota_status(store, book, ent, t.year)
    used = float(st.settlement["emissions_kg"].sum()) / 1000
    allow = st.quota.amount_kg / 1000
    rows = [(_("Allowance"), f"{allow:,.1f} tCO₂e"), (_("Emitted this year"), f"{used:,.1f} tCO₂e "
                                                                              f"({used / allow:.0%})")]
    if st.forecast is not None:
        fc = st.forecast
        rows.append((_("Forecast for the year"), f"{fc.total_kg / 1000:,.1f} tCO₂e ({fc.level:.0%}: "
                                                  f"{fc.lower_kg / 1000:,.1f}–{fc.upper_kg / 1000:,.1f})"))
    if st.green_share is not None:
        rows.append((_("Green electricity"), f"{st.green_share:.1%}"))
    body = "".join(f"<tr><td>{render.esc(k)}</td><td>{render.esc(v)}</td></tr>" for k, v in rows)
    return (f'<div class="tj-anchor" data-quota-kg="{st.quota.amount_kg}" data-emitted-kg="{used * 1000:.3f}">'
            f'<div class="tj-card-title">{render.esc(_("Allowance"))} {t.year}</div>'
            f'<table class="tj-kv">{body}</table></div>')


def view(ctx) -> pn.viewable.Viewable:
    """The big screen of one session (the shell wraps it; :mod:`dashboards.registry`); extra tiles go in its
    right column, each only when its data exists."""
    extra = tiles(ctx)
    try:
        quota = quota_card(ctx.cfg, ctx._)
    except Exception:  # noqa: BLE001 - the wall shows what it can; the log says why the tile is missing
        log.exception("big screen: the allowance tile failed")
        quota = None
    if quota:
        extra.insert(0, html(quota, width=RIGHT_WIDTH - 40))
    screen = BigScreen(ctx.cfg, gettext=ctx._, tiles=extra)
    screen.start()
    return screen
