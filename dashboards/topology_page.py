"""The topology page: the single-line diagram of the power system (transformer -> incomer -> workshop mains ->
device meters -> devices, with the distribution rooms, PV and battery) and the gas, water and compressed-air
networks (source -> main meters -> sub-meters), drawn as SVG from :func:`workspace.topology.build`.

Each meter shows its live value (the mean rate of the last 15 minutes of the newest snapshot, from the query
API); a node named in the URL (``?node=D-LC-01``, the alarms page's link) has its path to the transformer or
source drawn in red, with the meters on it listed (where to look at the figures); the open alarms' targets
are marked. Every node is a link to its drill-down (``/drill?node=<id>``). A device measured by one meter is
drawn inside that meter's box, so the diagram stays readable at 70 devices. Labels are in the session's
language (:mod:`dashboards.i18n`); node ids are the site model's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import quote

import pandas as pd
import panel as pn
import param

from workspace.config import Config

from . import i18n
from .i18n import N_
from .render import esc

log = logging.getLogger(__name__)

NETWORKS = {"electricity": N_("Power"), "natural_gas": N_("Gas"), "water": N_("Water"),
            "compressed_air": N_("Compressed air")}
COL_W, ROW_H, BOX_W, BOX_H = 210, 28, 190, 22  # [px]
KIND_FILL = {"transformer": "#fde2b3", "source": "#fde2b3", "meter": "#e3eefc", "device": "#eef7ea",
             "room": "#f2e6fa", "pv": "#fff7c2", "battery": "#fff7c2"}
LIVE_WINDOW = pd.Timedelta(minutes=15)
#: the diagram's look as one style sheet instead of attributes on each of its (at 1,000 meters about 900) boxes
#: and edges: a box's fill by its kind's class, the usual stroke by class "n" (a box on the red path or alarmed
#: keeps its red stroke as attributes), an edge by class "e"
KIND_CLASS = {k: f"k{i}" for i, k in enumerate(KIND_FILL)}
STYLE = ("<style>" + "".join(f".tj-topo .{c}{{fill:{KIND_FILL[k]}}}" for k, c in KIND_CLASS.items()) +
         ".tj-topo .k{fill:#fff}.tj-topo .n{stroke:#6b7785;stroke-width:1}"
         ".tj-topo .e{fill:none;stroke:#9aa5b1;stroke-width:1}.tj-topo text{fill:#1d2733}"
         ".tj-topo tspan{font-weight:700}</style>")


@dataclass(frozen=True)
class Box:
    """One drawn node: its id, column (depth), row, the text, and the ids it stands for (a meter and its device)."""

    id: str
    depth: int
    row: float
    text: str
    kind: str
    ids: tuple[str, ...]


def layout(topo, medium: str) -> tuple[list[Box], list[tuple[str, str]]]:
    """Boxes and edges (parent box id, child box id) of ``medium``'s trees, depth left to right, leaves one row
    each, a parent level with its first child. A device alone under its meter is folded into the meter's box."""
    boxes: dict[str, Box] = {}
    edges: list[tuple[str, str]] = []
    nxt = [0.0]

    def folded(nid):
        n = topo.nodes[nid]
        kids = [c for c in n.children]
        if n.kind == "meter" and len(kids) == 1 and topo.nodes[kids[0]].kind == "device" \
                and not topo.nodes[kids[0]].children:
            return kids[0]
        return None

    def place(nid: str, depth: int) -> float:
        n = topo.nodes[nid]
        dev = folded(nid)
        kids = [] if dev else list(n.children)
        rows = [place(c, depth + 1) for c in kids]
        for c in kids:
            edges.append((nid, c))
        if rows:
            row = min(rows)  # level with its first child: the roots at the top, where a person looks
        else:
            row = nxt[0]
            nxt[0] += 1
        text = nid if not dev else f"{nid} · {dev}"
        boxes[nid] = Box(nid, depth, row, text, n.kind, (nid, dev) if dev else (nid,))
        return row

    for root in topo.roots(medium):
        place(root, 0)
    if medium == "electricity":  # rooms, PV and batteries hang under transformers already; orphans last
        for nid, n in topo.nodes.items():
            if n.medium == medium and n.parent is None and nid not in boxes:
                place(nid, 0)
    return list(boxes.values()), edges


def live_values(store, site, medium: str, *, as_of=None) -> tuple[dict[str, float], str, str]:
    """Mean rate per meter of ``medium`` over the last 15 minutes of the snapshot: ({meter: value}, unit,
    the window's text); ({}, "", why) for an empty store (why: a msgid)."""
    latest = store.latest_time(as_of)
    if latest is None:
        return {}, "", N_("no readings yet")
    tz = site.plant.timezone
    end = pd.Timestamp(latest)
    end = (end.tz_convert(tz) if end.tzinfo else end.tz_localize("UTC").tz_convert(tz)).tz_localize(None)
    end = end.floor("1min") + pd.Timedelta(minutes=1)
    start = end - LIVE_WINDOW
    meters = [m.id for m in site.meters if m.medium.value == medium]
    if not meters:
        return {}, "", ""
    p = store.power(start, end, by="meter", medium=medium, freq="1min", meters=meters, as_of=as_of)  # minutes, averaged
    df = p.to_pandas()
    vals = df.mean(axis=0, skipna=True).dropna().to_dict() if len(df) else {}
    return {k: float(v) for k, v in vals.items()}, p.attrs.get("units", ""), f"{start:%H:%M}–{end:%H:%M}"


def drill_link(nid: str) -> str:
    return f"/drill?node={quote(nid, safe='')}"


def svg(boxes: list[Box], edges, *, values: dict[str, float], unit: str, path: set[str], alarmed: set[str],
        names: dict[str, str], lang: str = "en") -> str:
    """The diagram as SVG: each box a link to its drill-down; ``path`` boxes and edges in red; ``alarmed`` boxes
    with a red border. Every box carries ``data-node`` and, when it has one, ``data-value`` [unit]."""
    _ = i18n.gettext_for(lang)
    if not boxes:
        return f"<p>{esc(_('(nothing to draw)'))}</p>"
    pos = {b.id: (10 + b.depth * COL_W, 10 + b.row * ROW_H) for b in boxes}
    width = 20 + (max(b.depth for b in boxes) + 1) * COL_W
    height = 20 + (max(b.row for b in boxes) + 1) * ROW_H
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {width:.0f} {height:.0f}" role="group" aria-label="{esc(_("Topology"))}" '
           f'class="tj-topo" style="font: 12px Inter, \'Noto Sans CJK SC\', sans-serif">', STYLE]
    for a, b in sorted(edges, key=lambda e: e[0] in path and e[1] in path):  # the red path on top
        (x0, y0), (x1, y1) = pos[a], pos[b]
        hot = a in path and b in path
        xm = x0 + BOX_W + (x1 - x0 - BOX_W) / 2
        look = 'fill="none" stroke="#d62728" stroke-width="3"' if hot else 'class="e"'
        out.append(f'<path d="M{x0 + BOX_W},{y0 + BOX_H / 2} H{xm} V{y1 + BOX_H / 2} H{x1}" {look}/>')
    for b in boxes:
        x, y = pos[b.id]
        on_path = any(i in path for i in b.ids)
        alarm = any(i in alarmed for i in b.ids)
        v = values.get(b.id)
        vtxt = "" if v is None else f" {i18n.number(v, lang, 1)} {unit}"
        kind = KIND_CLASS.get(b.kind, "k")
        look = f'class="{kind}" stroke="#d62728" stroke-width="3"' if on_path or alarm else f'class="{kind} n"'
        title = " / ".join(f"{i} {names.get(i, '')}".strip() for i in b.ids)
        data_v = "" if v is None else f' data-value="{v!r}" data-unit="{esc(unit)}"'
        flags = (' data-path="1"' if on_path else "") + (' data-alarm="1"' if alarm else "")
        out.append(f'<a href="{drill_link(b.ids[-1])}" data-node="{esc(b.id)}"{data_v}{flags}>'
                   f'<title>{esc(title)}</title>'
                   f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="4" {look}/>'
                   f'<text x="{x + 5}" y="{y + 15}">{esc(b.text[:22])}<tspan>{esc(vtxt)}</tspan></text></a>')
    out.append("</svg>")
    return "".join(out)


class TopologyPage(pn.viewable.Viewer):
    """The topology page of one session. ``query``: ``network`` (electricity|natural_gas|water|compressed_air)
    and ``node`` (an id whose path to its source is highlighted; its network is chosen)."""

    network = param.Selector(default="electricity", objects=list(NETWORKS))
    node = param.String(default="")

    def __init__(self, cfg: Config, query: dict | None = None, store=None, lang: str = "en", **params):
        from workspace.topology import build

        self._cfg = cfg
        self._store = store
        self.lang = i18n.language(lang)
        self._ = i18n.gettext_for(self.lang)
        self._topo = build(cfg.site)
        q = {k: (v[0].decode() if isinstance(v, (list, tuple)) and v and isinstance(v[0], bytes)
                 else v[0] if isinstance(v, (list, tuple)) and v else v) for k, v in (query or {}).items()}
        init = {}
        if q.get("network") in NETWORKS:
            init["network"] = q["network"]
        self._notes = []
        if q.get("node"):
            if q["node"] in self._topo.nodes:
                init["node"] = q["node"]
                init["network"] = self._topo.nodes[self._topo.path(q["node"])[-1]].medium
            else:
                self._notes.append(self._("URL node={node}: not a node of the site model").format(
                    node=repr(q["node"])))
        super().__init__(**init, **params)

    def store(self):
        if self._store is None:
            from workspace.store import Store

            self._store = Store.open(self._cfg.paths.store, self._cfg.site)
        return self._store

    def alarmed(self) -> set[str]:
        """Targets of the alarms an operator sees now (none when there is no alarm log yet)."""
        from models.alarms import AlarmDB, shown

        from models.alarms.db import FILE
        if not (self._cfg.paths.data_dir / FILE).exists():
            return set()
        with AlarmDB.in_data_dir(self._cfg.paths.data_dir) as db:
            return {a["target"] for a in shown(db)}

    def diagram(self) -> str:
        _ = self._
        boxes, edges = layout(self._topo, self.network)
        try:
            store = self.store()
            snap = store.tip()
            values, unit, window = live_values(store, self._cfg.site, self.network, as_of=snap)
        except Exception as exc:  # noqa: BLE001 - the diagram without values still locates a fault
            log.warning("topology: no live values: %s", exc)
            values, unit, window = {}, "", _("no live values: {error}").format(error=exc)
        window = _(window) if window == "no readings yet" else window
        path = set(self._topo.path(self.node)) if self.node else set()
        names = {n.id: n.name for n in self._topo.nodes.values()}
        head = (f'<p data-window="{esc(window)}">' + esc(_("Live: mean rate {window} [{unit}]. Click a node for its "
                                                        "drill-down.").format(window=window, unit=unit)) + "</p>")
        return head + (f'<div style="overflow:auto; max-width:100%" tabindex="0" role="region" '
                       f'aria-label="{esc(_("Diagram"))}">') + svg(
            boxes, edges, values=values, unit=unit, path=path, alarmed=self.alarmed(), names=names,
            lang=self.lang) + "</div>"

    def located(self) -> str:
        if not self.node:
            return ""
        from workspace.topology import locate

        loc = locate(self._cfg.site, self.node)
        rooms = ", ".join(loc["rooms"]) or "–"
        _ = self._
        return (f'<p data-located="{esc(self.node)}"><b>{esc(self.node)}</b> → ' + " → ".join(
            f'<a href="{drill_link(n)}">{esc(n)}</a>' for n in loc["path"][1:]) +
            f'<br>{esc(_("Meters on the path"))}: {esc(", ".join(loc["meters"]) or "–")}; '
            f'{esc(_("distribution rooms"))}: {esc(rooms)}</p>')

    @param.depends("network", "node")
    def _view(self):
        return pn.Column(*[pn.pane.HTML(f'<p style="color:#a15c00">{esc(n)}</p>') for n in self._notes],
                         pn.pane.HTML(self.located(), sizing_mode="stretch_width"),
                         pn.pane.HTML(self.diagram(), sizing_mode="stretch_width"), sizing_mode="stretch_width")

    def __panel__(self):
        return pn.Column(pn.widgets.RadioButtonGroup.from_param(self.param.network,
                                                                options={self._(v): k for k, v in NETWORKS.items()}),
                         self._view, sizing_mode="stretch_width")


def view(ctx):
    """The page for the app shell (:mod:`dashboards.registry`): its state from the URL's query."""
    return TopologyPage(ctx.cfg, dict(ctx.query), lang=ctx.lang)
