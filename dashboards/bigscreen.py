"""The management big screen, a dark wall page of 1920x1080: electricity, CO2e and natural gas today, yesterday,
this month and this year; the allowance with the year's forecast; today's load curve against yesterday's; the last
30 days and the year to date against last year; the floor plan with every device's state; the workshops today;
time-of-use shares and cost; the active alarms; the last on-chain anchor and the methodology the figures are
computed with.

One :class:`BigScreen` per browser session. Its layout is built once; every ``cfg.dashboards.refresh_s`` seconds
a periodic callback re-reads the store's tip and updates the panes in place (an HTML pane's ``object``, a chart's
``ColumnDataSource.data``). The figures are computed once per snapshot for all sessions of the server
(:func:`dashboards.bigscreen_data.cached`); the first paint shows what is already computed and placeholders for
the rest, which the session fills as soon as its page has loaded (``pn.state.onload``). The tiles beyond the KPIs
and the load curve are :mod:`dashboards.bigscreen_tiles`, listed in ``dashboards/pages.yaml``
(``bigscreen_tiles:``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from zoneinfo import ZoneInfo

import pandas as pd
import panel as pn
import param

from workspace.config import Config
from workspace.errors import TanjianError

from . import bigscreen_data as data
from . import registry
from .feeds import PlantView, last_anchor, methodology_status, read_plant
from .render import KPI_COLUMNS, FORMATS, ago, esc, fmt_co2e, fmt_energy

log = logging.getLogger(__name__)

ACCENT = "#2fbf71"  # carbon green
CO2_COLOR = "#f4a261"
YESTERDAY_COLOR = "#7f8c9a"
LOAD_HEIGHT = 190  # [px] sized for a 1920x1080 wall
#: how often the page asks the chain whether the active methodology package is the published one [s]
GUARD_EVERY_S = 60.0
#: how long a slow tile (trends, allowance forecast, time of use) may show figures of an older snapshot [s]
SLOW_AGE_S = 60.0

CSS = """
:host { --tj-fg: #e8edf2; --tj-dim: #aab6c3; --tj-card: #17202b; --tj-line: #2a3644; }
.tj-cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(230px, 100%), 1fr)); gap: 10px; }
.tj-card, .tj-anchor { background: var(--tj-card); border: 1px solid var(--tj-line);
  border-radius: 10px; padding: 8px 14px; color: var(--tj-fg); box-sizing: border-box;
  font-family: Inter, "Noto Sans", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; }
.tj-card-title { font-size: 17px; font-weight: 600; color: var(--tj-dim); letter-spacing: .04em; margin-bottom: 2px; }
.tj-card-title small { font-weight: 400; font-size: 12px; margin-left: 6px; }
.tj-metric { margin: 2px 0 2px 0; display: flex; flex-wrap: wrap; align-items: baseline; justify-content: space-between; gap: 8px; }
.tj-metric-label { font-size: 14px; color: var(--tj-dim); }
.tj-big { white-space: nowrap; font-size: 32px; font-weight: 700; font-variant-numeric: tabular-nums; color: #ffffff; line-height: 1.15; }
.tj-co2 { color: #ffd6a8; }
.tj-mid { font-size: 19px; font-weight: 600; font-variant-numeric: tabular-nums; color: var(--tj-fg); }
.tj-unit { font-size: 0.5em; font-weight: 500; color: var(--tj-dim); }
.tj-mid .tj-unit { font-size: 0.75em; }
.tj-status { font-size: 14px; color: var(--tj-dim); padding: 0 4px; }
.tj-status b { color: var(--tj-fg); }
.tj-status code, .tj-anchor code, .tj-methodology code { font-family: "JetBrains Mono", "DejaVu Sans Mono", monospace;
  color: #9fd8b8; }
.tj-stale, .tj-warn { color: #ffb347; font-weight: 600; margin-left: 12px; }
.tj-note { font-size: 13px; color: var(--tj-dim); margin-top: 4px; }
.tj-kv { width: 100%; border-collapse: collapse; margin-top: 4px; font-size: 15px; color: var(--tj-fg); }
.tj-methodology { margin-top: 2px; padding: 2px 14px; font-size: 13px; color: var(--tj-dim); white-space: nowrap;
  overflow: hidden; text-overflow: ellipsis; }
.tj-methodology b { color: var(--tj-fg); font-weight: 600; }
.tj-kv td { padding: 2px 0; border-bottom: 1px solid var(--tj-line); }
.tj-kv td:first-child { color: var(--tj-dim); width: 40%; }
.tj-table { width: 100%; border-collapse: collapse; font-size: 15px; color: var(--tj-fg); }
.tj-table th { text-align: left; color: var(--tj-dim); font-weight: 600; font-size: 13px;
  letter-spacing: .04em; border-bottom: 1px solid var(--tj-line); padding: 3px 6px; }
.tj-table td { padding: 4px 6px; border-bottom: 1px solid var(--tj-line); }
.tj-table th:not(:first-child) { text-align: right; }
.tj-num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.tj-legend { color: #2fbf71; letter-spacing: 0; font-size: 14px; margin-left: 12px; font-weight: 400; }
.tj-legend-y { color: #aab4bf; }
.tj-zh { color: var(--tj-dim); font-size: 13px; margin-left: 6px; }
.tj-h { font-size: 17px; font-weight: 600; color: var(--tj-dim); letter-spacing: .03em; margin: 0 0 2px 2px;
  font-family: Inter, "Noto Sans", "Noto Sans CJK SC", sans-serif; }
"""


def html(obj, **kw) -> pn.pane.HTML:
    """An HTML pane styled with the page's stylesheets (Panel panes live in their own shadow DOM)."""
    from .bigscreen_tiles import CSS as TILE_CSS

    if "width" not in kw:
        kw.setdefault("sizing_mode", "stretch_width")
    return pn.pane.HTML(obj, stylesheets=[CSS + TILE_CSS], margin=(2, 6), **kw)


# -- the fragments (formatting only; every value also in data-* attributes) --------------------------------
PERIOD_LABELS = {"today": "Today", "yesterday": "Yesterday", "month": "This month", "year": "This year"}


def _kpi_value(kind: str, period: str, value: float, cls: str) -> str:
    unit = KPI_COLUMNS[kind][1]
    text, shown = FORMATS[kind](value)
    return (f'<span class="{cls}" data-kpi="{kind}-{period}" data-value="{float(value)!r}" data-unit="{unit}">'
            f'{text}<span class="tj-unit"> {shown}</span></span>')


def kpi_cards(kpis: pd.DataFrame, _) -> str:
    """The four period cards (electricity, CO2e location-based, natural gas), each with its period's bounds."""
    cards = []
    bounds = kpis.attrs.get("periods", {})
    for period in PERIOD_LABELS:
        row = kpis.loc[period]
        a = b = None
        if period in bounds:
            a, b = pd.Timestamp(bounds[period][0]), pd.Timestamp(bounds[period][1])
        span = "" if a is None else (f'{a:%m-%d}' if period in ("today", "yesterday") else f'{a:%m-%d}–{b:%m-%d}')
        cards.append(
            f'<div class="tj-card" data-period="{period}" data-start="{"" if a is None else a.isoformat()}" '
            f'data-end="{"" if b is None else b.isoformat()}">'
            f'<div class="tj-card-title">{esc(_(PERIOD_LABELS[period]))}<small>{esc(span)}</small></div>'
            f'<div class="tj-metric"><span class="tj-metric-label">⚡ {esc(_("Electricity"))}</span>'
            f'{_kpi_value("electricity", period, row["electricity_kWh"], "tj-big")}</div>'
            f'<div class="tj-metric"><span class="tj-metric-label">CO₂e <span style="font-size:11px">'
            f'({esc(_("location-based"))})</span></span>'
            f'{_kpi_value("co2e", period, row["co2e_kg"], "tj-big tj-co2")}</div>'
            f'<div class="tj-metric"><span class="tj-metric-label">{esc(_("Natural gas"))}</span>'
            f'{_kpi_value("natural-gas", period, row["natural_gas_m3"], "tj-mid")}</div></div>')
    return f'<div class="tj-cards" data-snapshot="{esc(kpis.attrs.get("snapshot", ""))}">{"".join(cards)}</div>'


def status_line(view: PlantView | None, now: dt.datetime | None, timezone: str, error: str, _) -> str:
    """"data as of …", the snapshot, when the page was updated, a warning when readings stopped arriving."""
    if view is None or view.as_of is None:
        return f'<div class="tj-status tj-warn" data-as-of="">{esc(error or _("no readings in the store yet"))}</div>'
    as_of = view.as_of
    stale = ""
    if now is not None and now - as_of > dt.timedelta(minutes=5):
        stale = (f'<span class="tj-stale">⚠ {esc(_("no new readings for"))} '
                 f'{esc(_ago((now - as_of).total_seconds(), _).removesuffix(_(" ago")))}</span>')
    err = f'<span class="tj-stale">⚠ {esc(error)}</span>' if error else ""
    upd = "" if now is None else f' · {esc(_("updated"))} {now:%H:%M:%S}'
    return (f'<div class="tj-status" data-as-of="{as_of.isoformat()}" data-snapshot="{esc(view.snapshot)}">'
            f'{esc(_("data as of"))} <b>{as_of:%Y-%m-%d %H:%M}</b> ({esc(timezone)}) · {esc(_("snapshot"))} '
            f'<code>{esc(view.snapshot)}</code>{upd} {stale}{err}</div>')


def _ago(seconds: float, _) -> str:
    """:func:`dashboards.render.ago` through the catalogue."""
    text = ago(seconds)
    if text == "just now":
        return _("just now")
    for unit in (" d", " h", " min"):
        text = text.replace(unit, " " + _(unit.strip()))
    return text.replace(" ago", _(" ago"))


def anchor_card(anchor: dict | None, now: dt.datetime, _) -> str:
    """The last anchor: root, batches covered, block, age; "no anchor yet" when there is none."""
    title = f'<div class="tj-card-title">{esc(_("Last on-chain anchor"))}</div>'
    if not anchor:
        return (f'<div class="tj-anchor" data-anchor="none">{title}<div class="tj-mid">{esc(_("no anchor yet"))}'
                f'</div><div class="tj-note">{esc(_("the anchoring service anchors the ledger root"))} '
                f'(<code>tanjian chain anchor</code>)</div></div>')
    root = str(anchor["root"])
    block_time = dt.datetime.fromtimestamp(int(anchor["block_time"]), now.tzinfo)
    age = _ago(now.timestamp() - int(anchor["block_time"]), _)
    return (
        f'<div class="tj-anchor" data-anchor="{esc(root)}" data-anchor-tree-size="{int(anchor["tree_size"])}" '
        f'data-anchor-block="{int(anchor["block_number"])}" data-anchor-block-time="{int(anchor["block_time"])}">'
        f'{title}<div class="tj-mid" title="{esc(root)}"><code>{esc(root[:10])}…{esc(root[-6:])}</code></div>'
        f'<table class="tj-kv">'
        f'<tr><td>{esc(_("batches covered"))}</td><td>{int(anchor["tree_size"]):,}</td></tr>'
        f'<tr><td>{esc(_("block"))}</td><td>#{int(anchor["block_number"]):,} · {esc(_("chain"))} '
        f'{esc(anchor.get("chain_id", "?"))}</td></tr>'
        f'<tr><td>{esc(_("anchored"))}</td><td><b data-anchor-age>{esc(age)}</b> ({block_time:%H:%M:%S})</td></tr>'
        f'<tr><td>{esc(_("transaction"))}</td><td><code>{esc(str(anchor["tx_hash"])[:14])}…</code></td></tr>'
        f'</table></div>')


def workshop_table(breakdown: pd.DataFrame, names_zh: dict, lang: str, _) -> str:
    """Workshops today (:func:`models.kpi.workshop_breakdown`), largest CO2e first; the name in the page's language."""
    rows = []
    for ws, r in breakdown.sort_values("co2e_kg", ascending=False).iterrows():
        e_text, e_unit = fmt_energy(r["electricity_kWh"])
        c_text, c_unit = fmt_co2e(r["co2e_kg"])
        name = names_zh.get(ws) if lang == "zh" and names_zh.get(ws) else r["name"]
        rows.append(
            f'<tr data-workshop="{esc(ws)}"><td><a href="/drill?node={esc(ws)}" style="color:inherit">{esc(name)}'
            f'</a></td><td class="tj-num" data-value="{float(r["electricity_kWh"])!r}" data-unit="kWh">{e_text} '
            f'{e_unit}</td><td class="tj-num" data-value="{float(r["co2e_kg"])!r}" data-unit="kgCO2e">{c_text} '
            f'{c_unit}</td></tr>')
    return (f'<table class="tj-table"><thead><tr><th>{esc(_("Workshop"))}</th><th>{esc(_("Electricity"))}</th>'
            f'<th>CO₂e</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')


def methodology_card(m: dict | None, _=lambda s: s) -> str:
    """The methodology the figures are computed with: id, version, package hash, on-chain status."""
    if not m:
        return ""
    sha = str(m.get("sha256") or "")
    # one line under the anchor card (the shell's header names the methodology too): the wall keeps fitting 1080 px
    return (f'<div class="tj-methodology" data-methodology="{esc(m.get("id", ""))}" '
            f'data-methodology-status="{esc(m.get("status", ""))}" data-methodology-sha256="{esc(sha)}" '
            f'title="{esc(m.get("reason", ""))}">{esc(_("Methodology"))} '
            f'<b>{esc(m.get("id", ""))} {esc(m.get("version", ""))}</b> · '
            f'<code title="{esc(sha)}">{esc(sha[:8])}…</code> · <b>{esc(_(m.get("label", "")))}</b></div>')


def load_figure(_):
    """Today's plant load [kW] as an area over the whole local day, yesterday's dashed behind it (sources
    ``today`` and ``yesterday``: columns ``t`` and ``kw``)."""
    from bokeh.models import ColumnDataSource

    from .bigscreen_tiles import _fig

    f = _fig(LOAD_HEIGHT)
    f.xaxis.formatter.days = "%H:%M"
    yday = ColumnDataSource({"t": [], "kw": []})
    today = ColumnDataSource({"t": [], "kw": []})
    f.line(x="t", y="kw", source=yday, color=YESTERDAY_COLOR, line_dash="dashed", line_width=2)
    f.varea(x="t", y1=0, y2="kw", source=today, fill_color=ACCENT, fill_alpha=0.35)
    f.line(x="t", y="kw", source=today, color=ACCENT, line_width=2)
    f.y_range.start = 0
    return f, today, yday


@dataclasses.dataclass
class Frame:
    """What the tiles read for one refresh: the workspace, its open store, the snapshot, the methodology, the
    alarms shown now (and what identifies that state of the alarm log)."""

    cfg: Config
    store: object
    snapshot: str
    where: str
    methodology: dict | None
    alarms: dict
    alarm_key: tuple
    slow_age_s: float = SLOW_AGE_S


class BigScreen(pn.viewable.Viewer):
    """The big screen of one plant, for one browser session.

    Parameters
    ----------
    cfg : Config
        The workspace configuration (store, chain state, refresh period).
    gettext : callable, optional
        The session's ``_`` (:mod:`dashboards.i18n`).
    tiles : list of :class:`dashboards.bigscreen_tiles.Tile`
        The extra tiles (``bigscreen_tiles:`` of ``pages.yaml``).
    lang : str
        ``zh`` or ``en`` (workshop names).
    """

    view = param.ClassSelector(class_=PlantView, default=None, allow_None=True,
                               doc="numbers read at one snapshot of the store")
    anchor = param.Dict(default=None, allow_None=True, doc="newest anchor record, or None")
    methodology = param.Dict(default=None, allow_None=True,
                             doc="active methodology package and its on-chain status (feeds.methodology_status)")
    now = param.Date(default=None, allow_None=True, doc="wall-clock time of the last refresh (local)")
    error = param.String(default="", doc="why the last refresh failed, if it did")
    load_freq = param.Selector(default="5min", objects=["1min", "5min", "15min"], doc="load curve interval")

    def __init__(self, cfg: Config, gettext=None, tiles=(), lang: str = "en", **params):
        self._cfg = cfg
        self._tiles = list(tiles)
        self._ = gettext or (lambda text: text)
        self._lang = lang
        self._callback = None
        self._guarded_at = None  # when the methodology guard last asked the chain
        self._shown_view = None
        self.refresh_s = None  # how long the last refresh took [s]
        self.slow_age_s = SLOW_AGE_S  # how old the slow tiles' figures may be [s]
        super().__init__(**params)
        self._build()
        served = pn.state.curdoc is not None and pn.state.curdoc.session_context is not None
        if served:  # first paint: what the other sessions computed already; the rest once the page is up
            self.refresh(cached_only=True)
            pn.state.onload(self.refresh)
        else:
            self.refresh()

    @property
    def title(self) -> str:
        return f"{self._cfg.site.plant.name} · 碳鉴 carbon & energy"

    # -- reading ---------------------------------------------------------------------------------------
    def _methodology_now(self, now) -> dict | None:
        if self._guarded_at is None or (now - self._guarded_at).total_seconds() >= GUARD_EVERY_S:
            self._guarded_at = now
            where = str(self._cfg.paths.data_dir)
            return data.cached("methodology", where, int(time.monotonic() // GUARD_EVERY_S),
                               lambda: methodology_status(self._cfg))
        return self.methodology

    def refresh(self, cached_only: bool = False) -> None:
        """Re-read the store's tip and update the panes whose figures changed (in place).

        ``cached_only``: show only figures some session computed already for this snapshot (the first paint).
        """
        t0 = time.perf_counter()
        tz = ZoneInfo(self._cfg.site.plant.timezone)
        now = dt.datetime.now(tz)
        updates: dict = {"now": now, "error": ""}
        where = str(self._cfg.paths.data_dir)
        frame = None
        try:
            meth = self._methodology_now(now)
            updates["methodology"] = meth
            store = data.shared_store(self._cfg)
            snap = store.tip()
            key = (snap, (meth or {}).get("sha256"), self.load_freq)
            if cached_only:
                view = data.peek("plant", where, key)
            else:
                view = data.cached("plant", where, key, lambda: read_plant(store, snap, load_freq=self.load_freq,
                                                                           methodology=meth))
            if view is not None:
                updates["view"] = view
            alarm_key = data.alarm_log_key(self._cfg.paths.data_dir)
            alarms = data.cached("alarms", where, alarm_key, lambda: data.alarms(self._cfg.paths.data_dir),
                                 max_age_s=0)
            frame = Frame(self._cfg, store, snap, where, meth, alarms, alarm_key, self.slow_age_s)
        except TanjianError as exc:
            log.warning("big screen cannot read the store: %s", exc)
            updates["error"] = str(exc)
        except Exception as exc:  # noqa: BLE001 - keep the wall page alive; say what broke
            log.exception("big screen refresh failed")
            updates["error"] = f"refresh failed: {type(exc).__name__}: {exc}"
        updates["anchor"] = last_anchor(self._cfg.paths.chain)
        self.param.update(**updates)
        self._paint()
        if frame is not None:
            for tile in self._tiles:
                if cached_only and tile.slow:
                    continue
                tile.update(frame)
        self.refresh_s = time.perf_counter() - t0
        log.debug("big screen refreshed in %.3f s (snapshot %s)", self.refresh_s, frame and frame.snapshot)

    def start(self) -> None:
        """Refresh every ``cfg.dashboards.refresh_s`` in this session (call from the page function)."""
        if self._callback is None:
            self._callback = pn.state.add_periodic_callback(
                self.refresh, period=int(self._cfg.dashboards.refresh_s * 1000))

    def stop(self) -> None:
        if self._callback is not None:
            self._callback.stop()
            self._callback = None

    # -- the panes, updated in place -------------------------------------------------------------------
    def _status(self) -> str:
        return status_line(self.view, self.now, self._cfg.site.plant.timezone, self.error, self._)

    def _methodology(self) -> str:
        return methodology_card(self.methodology, self._)

    def _set(self, pane, text: str) -> None:
        if pane.object != text:
            pane.object = text

    def _paint(self) -> None:
        _ = self._
        self._set(self._p_status, self._status())
        self._set(self._p_method, self._methodology())
        self._set(self._p_anchor, anchor_card(self.anchor, self.now, _))
        v = self.view
        if v is None or v is self._shown_view:
            return
        self._shown_view = v
        self._p_cards.object = kpi_cards(v.kpis, _)
        zh = {w.id: w.name_zh for w in self._cfg.site.workshops if w.name_zh}
        self._p_workshops.object = workshop_table(v.breakdown, zh, self._lang, _)
        day0 = v.today[0].tz_localize(None)
        yday = v.load_yesterday
        self._src_today.data = {"t": list(v.load_today.index), "kw": v.load_today.to_numpy().tolist()}
        self._src_yday.data = {"t": list(yday.index + pd.Timedelta(days=1)), "kw": yday.to_numpy().tolist()}
        self._fig.x_range.start, self._fig.x_range.end = day0, day0 + pd.Timedelta(days=1)
        self._fig.yaxis.axis_label = f"{_('Load')} [{v.load_units}]"
        self._p_load_head.object = self._load_head(v)

    def _load_head(self, v) -> str:
        _ = self._
        day = "" if v is None else f'<small class="tj-zh">{v.today[0]:%Y-%m-%d}</small>'
        freq = v.load_freq if v is not None else self.load_freq
        return (f'<h2 class="tj-h">{esc(_("Plant load today"))} {day} <small class="tj-zh">({esc(_("mean per"))} '
                f'{esc(freq)})</small> <span class="tj-legend">■ {esc(_("today"))}</span> '
                f'<span class="tj-legend tj-legend-y">- - {esc(_("yesterday"))}</span></h2>')

    def _build(self) -> None:
        from .bigscreen_tiles import box, placeholder

        _ = self._
        wait = placeholder("", _)
        self._p_status = html("")
        self._p_cards = html(wait)
        self._p_workshops = html(wait)
        self._p_anchor = html("")
        self._p_method = html("")
        self._p_load_head = html(self._load_head(None))
        self._fig, self._src_today, self._src_yday = load_figure(_)
        by = {"cards": [], "charts": [], "plan": [], "row": []}
        for t in self._tiles:
            by.get(getattr(t, "area", "row"), by["row"]).append(t.panel)
        grow = {"flex": "1 1 640px", "min-width": "0"}
        cards = pn.FlexBox(pn.Column(self._p_cards, sizing_mode="stretch_width", styles={"flex": "1 1 900px"}),
                           *by["cards"], flex_wrap="wrap", sizing_mode="stretch_width", gap="4px")
        charts = pn.Column(self._p_load_head,
                           pn.pane.Bokeh(self._fig, sizing_mode="stretch_width", height=LOAD_HEIGHT, margin=(0, 6)),
                           *by["charts"], sizing_mode="stretch_width", styles=grow)
        middle = pn.FlexBox(charts, *by["plan"], flex_wrap="wrap", sizing_mode="stretch_width", gap="4px")
        side = pn.Column(self._p_anchor, self._p_method, **box(430))
        workshops = pn.Column(html(f'<h2 class="tj-h">{esc(_("Workshops today"))}</h2>'), self._p_workshops,
                              **box(470))
        bottom = pn.FlexBox(workshops, *by["row"], side, flex_wrap="wrap", sizing_mode="stretch_width", gap="4px")
        self._layout = pn.Column(self._p_status, cards, middle, bottom, sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


def tiles(ctx) -> list:
    """The tiles of ``bigscreen_tiles:`` in ``dashboards/pages.yaml`` for this session (a factory that fails or
    returns None is left out; the log says which)."""
    out = []
    for spec in registry.tiles():
        try:
            t = spec(ctx)
        except Exception:  # noqa: BLE001 - one broken tile must not take the wall down; the log says which
            log.exception("big screen tile %s failed", spec)
            continue
        if t is None:
            continue
        if not hasattr(t, "update"):  # a plain Viewable: shown as it is, in the bottom row
            t = _Static(t)
        out.append(t)
    return out


class _Static:
    """A tile that is a ready Viewable (no figures to refresh)."""

    area, slow = "row", False

    def __init__(self, viewable):
        self.panel = viewable

    def update(self, frame) -> None:
        pass


def view(ctx) -> pn.viewable.Viewable:
    """The big screen of one session (the shell wraps it; :mod:`dashboards.registry`)."""
    screen = BigScreen(ctx.cfg, gettext=ctx._, tiles=tiles(ctx), lang=ctx.lang)
    screen.start()
    return screen
