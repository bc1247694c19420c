"""The drill-down page: plant -> workshop -> line -> device (and any meter, from the topology), with a breadcrumb
to go up and the children listed to go down. At each level, for the period of the URL (``?node=WS-CW&period=
day&date=...&against=week``, as the EMS page): energy against the period before, peak and mean load, the
load curve against the period before, the daily trend of the last 30 days, the time-of-use split and its cost,
the data quality of its meters, its children's energy, and the same figures of its similar nodes (devices of
the same class, the other lines or workshops).

Every figure is the query API's (:mod:`workspace.store.query`) or a model's (:mod:`models.energy`) for the
node's group (``by`` = its level); nothing is computed here but the selection of a row. Labels, headers and
numbers are in the session's language (:mod:`dashboards.i18n`); a workshop is named in that language where the
site model has the name. A drill-down read is kept for the server process per (configuration, store, snapshot,
node, period, language) (:func:`kept_drill_view`): a later session at the same snapshot reads nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from dataclasses import dataclass
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import holoviews as hv
import pandas as pd
import panel as pn
import param

from workspace.config import Config
from workspace.errors import TanjianError

from . import ems_data as E
from . import i18n
from .i18n import N_
from .kept import Kept
from .tables import CSS, TOOLS, downloads, table_html
from .render import esc

log = logging.getLogger(__name__)

LEVELS = ("plant", "workshop", "line", "device", "meter")
#: the levels as a person reads them (msgids)
LEVEL_LABELS = {"plant": N_("plant"), "workshop": N_("workshop"), "line": N_("line"), "device": N_("device"),
                "meter": N_("meter")}
#: the KPI tiles: key, label (msgid), unit
KPIS = (("this_kwh", N_("Energy"), "kWh"), ("before_kwh", N_("Before"), "kWh"), ("change_pct", N_("Change"), "%"),
        ("peak_kw", N_("Peak load"), "kW"), ("mean_kw", N_("Mean load"), "kW"), ("load_factor", N_("Load factor"), "-"))
#: the tables under the charts: key, title (msgid)
TABLES = (("tou", N_("Time of use")), ("children", N_("Below")), ("similar", N_("Similar")),
          ("quality", N_("Data quality")))
AGAINST_TEXT = {"day": N_("{level} · {period} against the day before"),
                "week": N_("{level} · {period} against the same span a week before"),
                "month": N_("{level} · {period} against the same span a month before"),
                "year": N_("{level} · {period} against the same span a year before")}


@dataclass(frozen=True)
class Level:
    """A node of the drill-down: its level (one of :data:`LEVELS`, the query API's ``by``), id and name."""

    kind: str
    id: str
    name: str = ""


def resolve(site, node: str | None, lang: str = "en") -> tuple[Level, str]:
    """The level of ``node`` (a plant, workshop, line, device or meter id; a transformer stands for its
    incomer meter), and a note in ``lang`` when it is unknown (then the plant)."""
    plant = Level("plant", site.plant.id, site.plant.name)
    if not node or node == site.plant.id:
        return plant, ""
    for w in site.workshops:
        if w.id == node:
            return Level("workshop", w.id, i18n.site_name(w, lang)), ""
        for ln in w.lines:
            if ln.id == node:
                return Level("line", ln.id, ln.name), ""
    for d in site.devices:
        if d.id == node:
            return Level("device", d.id, d.name), ""
    for t in site.transformers:
        if t.id == node and t.meter:
            node = t.meter
    for m in site.meters:
        if m.id == node:
            return Level("meter", m.id, m.name or ""), ""
    _ = i18n.gettext_for(lang)
    return plant, _("{node} is not a workshop, line, device or meter of the site model: showing the plant").format(
        node=repr(node))


def breadcrumb(site, lv: Level, lang: str = "en") -> list[Level]:
    """From the plant down to ``lv``."""
    plant = Level("plant", site.plant.id, site.plant.name)
    ws = {w.id: w for w in site.workshops}
    line_ws = {ln.id: w.id for w in site.workshops for ln in w.lines}
    out = [plant]

    def workshop(wid):
        if wid in ws:
            out.append(Level("workshop", wid, i18n.site_name(ws[wid], lang)))

    if lv.kind == "line":
        workshop(line_ws.get(lv.id))
    elif lv.kind == "device":
        d = site.device(lv.id)
        workshop(d.workshop)
        if d.line:
            out.append(Level("line", d.line, next((ln.name for ln in ws[d.workshop].lines if ln.id == d.line), "")))
    elif lv.kind == "meter":
        workshop(site.meter(lv.id).workshop)
    if lv.kind != "plant":
        out.append(lv)
    return out


def children(site, lv: Level, lang: str = "en") -> list[Level]:
    """One level down: workshops of the plant, lines of a workshop (and its devices on no line), devices of a
    line, a meter's sub-meters."""
    if lv.kind == "plant":
        return [Level("workshop", w.id, i18n.site_name(w, lang)) for w in site.workshops]
    if lv.kind == "workshop":
        w = next(w for w in site.workshops if w.id == lv.id)
        return [Level("line", ln.id, ln.name) for ln in w.lines] + \
            [Level("device", d.id, d.name) for d in site.devices if d.workshop == lv.id and not d.line]
    if lv.kind == "line":
        return [Level("device", d.id, d.name) for d in site.devices if d.line == lv.id]
    if lv.kind == "meter":
        return [Level("meter", m.id, m.name or "") for m in site.meters if m.parent == lv.id]
    return []


def similar(site, lv: Level, lang: str = "en") -> list[Level]:
    """Nodes to compare with: devices of the same class, the other lines, the other workshops (itself first)."""
    if lv.kind == "device":
        kind = site.device(lv.id).kind
        return [Level("device", d.id, d.name) for d in site.devices if d.kind == kind]
    if lv.kind == "line":
        return [Level("line", ln.id, ln.name) for w in site.workshops for ln in w.lines]
    if lv.kind == "workshop":
        return [Level("workshop", w.id, i18n.site_name(w, lang)) for w in site.workshops]
    return []


def _q(lv: Level) -> dict:
    """``by`` and ``meters`` of the query API for ``lv``."""
    return {"by": lv.kind, "meters": [lv.id] if lv.kind == "meter" else None}


def meters_of(site, lv: Level) -> list[str]:
    """The electricity meters whose sum is ``lv``'s figure (for its data quality)."""
    from workspace.store.query import device_meters

    if lv.kind == "plant":
        return list(site.top_meters("electricity"))
    if lv.kind == "workshop":
        return list(site.top_meters("electricity", lv.id))
    if lv.kind == "meter":
        return [lv.id]
    dm = device_meters(site)
    devs = [lv.id] if lv.kind == "device" else [d.id for d in site.devices if d.line == lv.id]
    return [m for d in devs for m in dm.get(d, [])]


def energy_of(store, lvs: list[Level], start, end, *, as_of=None) -> pd.Series:
    """Energy [kWh] of each node over ``[start, end)`` (NaN for a node without meters), indexed by id."""
    from workspace.store.energy import energy

    out = {}
    kinds = {lv.kind for lv in lvs}
    for kind in kinds:
        ids = [lv.id for lv in lvs if lv.kind == kind]
        e = energy(store, start, end, by=kind, freq=None, meters=ids if kind == "meter" else None,
                   as_of=as_of).to_pandas()
        out.update({i: float(e[i]) if i in e.index else float("nan") for i in ids})
    return pd.Series({lv.id: out[lv.id] for lv in lvs}, dtype=float)


def comparison(store, lvs: list[Level], p: E.Period, *, as_of=None) -> pd.DataFrame:
    """Per node: ``this_kwh``, ``before_kwh`` (the same span ``against`` earlier), ``change_kwh``, ``change_pct``."""
    if not lvs:
        return pd.DataFrame()
    df = pd.DataFrame({"name": [lv.name for lv in lvs], "level": [lv.kind for lv in lvs],
                       "this_kwh": energy_of(store, lvs, p.start, p.end, as_of=as_of).to_numpy(),
                       "before_kwh": energy_of(store, lvs, *p.before, as_of=as_of).to_numpy()},
                      index=pd.Index([lv.id for lv in lvs], name="node"))
    df["change_kwh"] = df["this_kwh"] - df["before_kwh"]
    df["change_pct"] = df["change_kwh"] / df["before_kwh"].where(df["before_kwh"] > 0) * 100.0
    return df


def comparisons(store, groups: list[list[Level]], p: E.Period, *, as_of=None) -> list[pd.DataFrame]:
    """:func:`comparison` of each group of nodes, reading the energy of a node that is in several groups once
    (one query per level and span for all the groups together)."""
    every = list(dict.fromkeys(lv for g in groups for lv in g))
    if not every:
        return [pd.DataFrame() for _g in groups]
    df = comparison(store, every, p, as_of=as_of)
    at = {lv: i for i, lv in enumerate(every)}
    return [df.iloc[[at[lv] for lv in g]] if g else pd.DataFrame() for g in groups]


#: drill-downs already read, shared by every session: (configuration, store, snapshot, node, period, language)
#: -> DrillView. A snapshot never changes, so a kept view is never stale.
_VIEWS = Kept(size=64)


def kept_drill_view(store, cfg, lv: Level, p: E.Period, *, as_of: str, lang: str = "en") -> DrillView:
    """:func:`drill_view` once per (configuration, store, snapshot, node, period, language) for the whole
    process; the view is shared: a caller copies before changing it."""
    key = (id(cfg), str(getattr(cfg, "source", "")), str(store.path), str(as_of), lv, p, lang)
    return _VIEWS.get(key, lambda: drill_view(store, cfg, lv, p, as_of=as_of, lang=lang))


def forget() -> None:
    """Drop the kept drill-downs (the next session reads again)."""
    _VIEWS.forget()


@dataclass
class DrillView:
    """What the drill-down shows for one node and period (every table the query API's or a model's)."""

    level: Level
    crumbs: list[Level]
    kpis: dict
    load: pd.DataFrame
    trend: pd.DataFrame
    tou: pd.DataFrame
    quality: pd.DataFrame
    children: pd.DataFrame
    similar: pd.DataFrame
    notes: list[str]


def drill_view(store, cfg, lv: Level, p: E.Period, *, as_of=None, lang: str = "en") -> DrillView:
    """Read the drill-down of ``lv`` over period ``p`` at snapshot ``as_of`` (names and notes in ``lang``)."""
    from models.energy.load import load_curve, trend
    from models.energy.tou import tou_cost
    from workspace.tariffs import config_tariff

    site, notes, _ = cfg.site, [], i18n.gettext_for(lang)
    q = _q(lv)
    freq = E.LOAD_FREQ[p.kind]
    now = load_curve(store, p.start, p.end, freq=freq, as_of=as_of, **q)
    then = load_curve(store, *p.before, freq=freq, as_of=as_of, **q)
    if lv.id not in now.columns:
        notes.append(_("{node} has no electricity meter of its own: its energy is only in its parent's "
                       "total").format(node=lv.id))
        load = pd.DataFrame(columns=["this_kw", "before_kw"])
    else:
        load = pd.DataFrame({"this_kw": now[lv.id]})
        load["before_kw"] = pd.Series(then[lv.id].to_numpy(), index=then.index + p.offset).reindex(load.index)
    kids, sim = children(site, lv, lang), similar(site, lv, lang)
    kids, me, sim = comparisons(store, [kids, [lv], sim if len(sim) > 1 else []], p, as_of=as_of)
    row = me.iloc[0]
    s = load["this_kw"].dropna() if len(load) else pd.Series(dtype=float)
    kpis = {"this_kwh": row.this_kwh, "before_kwh": row.before_kwh, "change_pct": row.change_pct,
            "peak_kw": float(s.max()) if len(s) else float("nan"), "mean_kw": float(s.mean()) if len(s) else float("nan")}
    kpis["load_factor"] = kpis["mean_kw"] / kpis["peak_kw"] if kpis["peak_kw"] and kpis["peak_kw"] > 0 else float("nan")
    t0 = p.end - pd.Timedelta(days=30)
    tr = trend(store, t0, p.end, every="day", as_of=as_of, **q)
    tr = tr[[lv.id]].rename(columns={lv.id: "kwh"}) if lv.id in tr else pd.DataFrame()
    try:
        tou = tou_cost(store, config_tariff(cfg), p.start, p.end, as_of=as_of, **q)
        tou = tou.loc[[lv.id]] if lv.id in tou.index else pd.DataFrame()
    except TanjianError as exc:
        tou = pd.DataFrame()
        notes.append(str(exc))
    meters = meters_of(site, lv)
    quality = store.quality_report(p.start, p.end, meters=meters, as_of=as_of) if meters else pd.DataFrame()
    if len(quality):
        quality = quality[[c for c in quality.columns if c in ("completeness_pct", "estimated_pct") or
                           quality[c].dtype.kind in "iu" and quality[c].sum() > 0 and c not in ("minutes",)]]
    return DrillView(lv, breadcrumb(site, lv, lang), kpis, load, tr, tou, quality, kids, sim, notes)


def few_ticks(plot, element) -> None:
    """HoloViews hook: about four round time ticks, so that the axis reads on a 390 px phone."""
    plot.state.xaxis[0].ticker.desired_num_ticks = 4


def link(node: str, p: E.Period) -> str:
    return "/drill?" + urlencode({"node": node, **p.query()})


def _linked(df: pd.DataFrame, p: E.Period, name: str, lang: str = "en", label: str = "") -> str:
    """``table_html`` of ``df`` with each node id a link one level down (or across)."""
    h = table_html(df, name, lang=lang, label=label)
    for nid in df.index:
        h = h.replace(f'<td data-col="node">{esc(nid)}</td>',
                      f'<td data-col="node"><a href="{esc(link(nid, p))}" data-drill="{esc(nid)}">{esc(nid)}</a></td>')
    return h


def kpi_html(v: DrillView, lang: str = "en") -> str:
    _ = i18n.gettext_for(lang)
    k = v.kpis
    cells = "".join(f'<div class="tj-k" data-kpi="{esc(n.split()[0].lower())}" data-value="{float(k[key])!r}" '
                    f'data-unit="{u}"><div class="l">{esc(_(n))}</div><div class="v">'
                    f'{i18n.number(k[key], lang, 1 if u != "-" else 2)} <small>{u}</small></div></div>'
                    for key, n, u in KPIS)
    return ('<style>.tj-ks{display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));gap:8px}'
            '.tj-k{border:1px solid #ccd;border-radius:8px;padding:6px 10px}.tj-k .l{font-size:13px;color:#666}'
            f'.tj-k .v{{font-size:22px;font-weight:700}}</style><div class="tj-ks">{cells}</div>')


class DrillPage(pn.viewable.Viewer):
    """The drill-down of one session; ``query``: ``node`` and the period keys of :func:`ems_data.period_from_query`."""

    node = param.String(default="")

    def __init__(self, cfg: Config, query: dict | None = None, store=None, lang: str = "en", **params):
        self._cfg = cfg
        self._store = store
        self.lang = i18n.language(lang)
        self._ = i18n.gettext_for(self.lang)
        query = query or {}
        self._period, self._notes = E.period_from_query(
            query, dt.datetime.now(ZoneInfo(cfg.site.plant.timezone)).date())
        n = query.get("node")
        n = n[0] if isinstance(n, (list, tuple)) and n else n
        super().__init__(node=(n.decode() if isinstance(n, bytes) else n) or "", **params)

    def store(self):
        if self._store is None:
            from workspace.store import Store

            self._store = Store.open(self._cfg.paths.store, self._cfg.site)
        return self._store

    def view(self) -> DrillView:
        lv, note = resolve(self._cfg.site, self.node, self.lang)
        store = self.store()
        v = kept_drill_view(store, self._cfg, lv, self._period, as_of=store.tip(), lang=self.lang)
        return dataclasses.replace(v, notes=[note, *v.notes] if note else list(v.notes))

    @param.depends("node")
    def _body(self):
        try:
            v = self.view()
        except Exception as exc:  # noqa: BLE001 - keep the page alive; say what broke
            log.exception("drill-down of %s failed", self.node)
            return pn.pane.HTML(f'<p class="tj-note">{esc(type(exc).__name__)}: {esc(exc)}</p>', stylesheets=[CSS])
        p, _, lang = self._period, self._, self.lang
        crumbs = " › ".join(f'<a href="{esc(link(c.id, p))}" data-crumb="{esc(c.id)}">{esc(c.id)} {esc(c.name)}</a>'
                            if c != v.level else f'<b data-crumb="{esc(c.id)}">{esc(c.id)} {esc(c.name)}</b>'
                            for c in v.crumbs)
        where = _(AGAINST_TEXT[p.against]).format(level=_(LEVEL_LABELS[v.level.kind]), period=p.label)
        parts = [pn.pane.HTML(f'<nav aria-label="{esc(_("Breadcrumb"))}">{crumbs}</nav><p data-where>{esc(where)}</p>',
                              stylesheets=[CSS])]
        parts += [pn.pane.HTML(f'<p class="tj-note">{esc(E.note_text(n, _))}</p>', stylesheets=[CSS])
                  for n in self._notes + v.notes]
        parts.append(pn.pane.HTML(kpi_html(v, lang), sizing_mode="stretch_width"))
        opts = dict(responsive=True, height=260, default_tools=TOOLS, active_tools=[], show_grid=True)
        if len(v.load):  # few time ticks: the axis reads on a 390 px phone
            parts.append(pn.pane.HoloViews(
                (hv.Curve((v.load.index, v.load["before_kw"]), ("time", _("Time")), ("kw", _("Load [kW]")),
                          label=_("before")).opts(color="#7f8c9a", line_dash="dashed") *
                 hv.Curve((v.load.index, v.load["this_kw"]), ("time", _("Time")), ("kw", _("Load [kW]")),
                          label=_("this period")).opts(
                     color="#2fbf71")).opts(legend_position="top_left", hooks=[few_ticks], **opts), sizing_mode="stretch_width"))
        if len(v.trend):
            parts.append(pn.pane.HoloViews(hv.Bars((v.trend.index.strftime("%m-%d"), v.trend["kwh"]),
                                                   ("day", _("Day")), ("kwh", _("Energy per day [kWh]"))).opts(
                                                       xrotation=60, **opts),
                                           sizing_mode="stretch_width"))
        for name, title in TABLES:
            df, title = getattr(v, name), _(title)
            if df.empty:
                continue
            if "level" in df:  # the level column in the page's language (the CSV keeps the key)
                df = df.assign(level=[_(LEVEL_LABELS.get(x, x)) for x in df["level"]])
            body = _linked(df, p, name, lang, title) if name in ("children", "similar") else \
                table_html(df, name, lang=lang, label=title)
            parts.append(pn.pane.HTML(f'<h4 data-title="{name}">{esc(title)}</h4>{body}', stylesheets=[CSS],
                                      sizing_mode="stretch_width"))
            parts.append(downloads(getattr(v, name), f"drill-{v.level.id}-{name}-{p.start:%Y%m%d}", lang))
        return pn.Column(*parts, sizing_mode="stretch_width")

    def __panel__(self):
        return pn.Column(self._body, sizing_mode="stretch_width")


def view(ctx):
    """The page for the app shell (:mod:`dashboards.registry`): its state from the URL's query."""
    return DrillPage(ctx.cfg, dict(ctx.query), lang=ctx.lang)
