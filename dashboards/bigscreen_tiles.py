"""The big screen's tiles beyond the KPIs and the load curve: energy and CO2e trends, the allowance with the year's
forecast, time-of-use shares and cost, the active alarms and the floor plan with live device states.

Each tile is a :class:`Tile`: built empty (a placeholder, so the first paint never waits for it), filled by
:meth:`Tile.update` on every refresh of the page with the figures of :mod:`dashboards.bigscreen_data` (computed
once per snapshot for all sessions), and updated in place: an HTML pane's ``object`` or a chart's
``ColumnDataSource.data``, never a new layout. ``dashboards/pages.yaml`` (``bigscreen_tiles:``) lists the tile
factories, ``callable(ctx) -> Tile``; a tile names the ``area`` of the wall it goes in.

Every figure shown carries its raw value and unit in ``data-value`` / ``data-unit`` (and its tile the snapshot it
was read at, ``data-snapshot``), every label goes through the catalogue (``ctx._``), every number has its unit and
period.
"""

from __future__ import annotations

import html as _html
import logging
from urllib.parse import quote

import pandas as pd
import panel as pn

from . import bigscreen_data as data
from .render import fmt_co2e, fmt_energy

log = logging.getLogger(__name__)

GREEN, ORANGE, RED, AMBER, GREY = "#2fbf71", "#f4a261", "#ff5c5c", "#f4c542", "#7f8c9a"
STATE_COLOR = {"running": GREEN, "standby": AMBER, "off": "#4b5a6a", "alarm": RED, "no data": "none"}
PRIORITY_COLOR = {"critical": "#ff4d4d", "high": "#ff9f43", "medium": "#f4c542", "low": "#8fb3d9"}
TOU_COLOR = {"sharp": "#ff5c5c", "peak": "#f4a261", "flat": "#8fb3d9", "valley": "#2fbf71"}
PLAN_W = 760  # [px] width of the floor plan drawing
ALARM_ROWS = 7
TREND_HEIGHT = 190  # [px]

CSS = """
.tj-tile { background: #17202b; border: 1px solid #2a3644; border-radius: 10px; padding: 8px 14px;
  color: #e8edf2; box-sizing: border-box; font-family: Inter, "Noto Sans", "Noto Sans CJK SC", sans-serif; }
.tj-tile h2 { font-size: 17px; font-weight: 600; color: #aab6c3; margin: 0 0 6px 0; letter-spacing: .03em; }
.tj-tile h2 small { font-weight: 400; font-size: 13px; color: #93a1b0; margin-left: 6px; }
.tj-wait { color: #93a1b0; font-size: 15px; }
.tj-kv2 { width: 100%; border-collapse: collapse; font-size: 15px; }
.tj-kv2 td { padding: 3px 0; border-bottom: 1px solid #2a3644; }
.tj-kv2 td:first-child { color: #aab6c3; }
.tj-kv2 td.v { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.tj-u { color: #aab6c3; font-size: .85em; }
.tj-bar { display: flex; height: 20px; border-radius: 4px; overflow: hidden; margin: 2px 0 8px 0; }
.tj-bar span { display: block; height: 100%; }
.tj-keys { font-size: 13px; color: #c9d3dd; display: flex; flex-wrap: wrap; gap: 4px 12px; }
.tj-dot { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 4px;
  vertical-align: baseline; }
.tj-counts { display: flex; gap: 8px; margin-bottom: 6px; flex-wrap: wrap; }
.tj-count { border-radius: 6px; padding: 2px 10px; font-size: 15px; font-weight: 600; color: #0d141b; }
.tj-alarms { width: 100%; border-collapse: collapse; font-size: 14px; table-layout: fixed; }
.tj-alarms td { padding: 3px 4px; border-bottom: 1px solid #2a3644; overflow: hidden; text-overflow: ellipsis;
  white-space: nowrap; }
.tj-alarms a { color: #9fd8ff; }
.tj-ok-msg { color: #7fe0a8; font-size: 15px; }
.tj-plan a:focus rect, .tj-plan a:focus circle { stroke: #ffffff; stroke-width: 3; }
.tj-warn2 { color: #ffb347; font-size: 13px; }
"""


def esc(s: object) -> str:
    return _html.escape(str(s), quote=True)


def raw(v) -> str:
    return "" if v is None or v != v else repr(float(v))


def num(v: float | None, digits: int = 0) -> str:
    if v is None or v != v:
        return "–"
    return f"{v:,.{digits}f}"


def html_pane(text: str = "", **kw) -> pn.pane.HTML:
    from .bigscreen import CSS as PAGE_CSS

    if "width" not in kw:
        kw.setdefault("sizing_mode", "stretch_width")
    return pn.pane.HTML(text, stylesheets=[PAGE_CSS + CSS], margin=(4, 6), **kw)  # one sheet per shadow root


def box(width: int) -> dict:
    """Pane options of a tile ``width`` px wide on the wall that shrinks to a phone's width (flex item)."""
    return dict(sizing_mode="stretch_width", max_width=width, styles={"flex": f"1 1 {width}px", "min-width": "0"})


def placeholder(title: str, _) -> str:
    return (f'<div class="tj-tile"><h2>{esc(title)}</h2><div class="tj-wait" data-loading>{esc(_("loading…"))}'
            f'</div></div>')


class Tile:
    """One tile of the wall: ``panel`` (what the layout holds) and :meth:`update` (fill it in place).

    Attributes
    ----------
    area : str
        Where it goes: ``charts`` (beside the load curve), ``plan`` (the right of the middle row), ``row``
        (the bottom row), ``cards`` (the KPI row).
    slow : bool
        Computed after the first paint (its figures may take a while the first time).
    """

    area = "row"
    slow = True
    title = ""

    def __init__(self, ctx):
        self.ctx = ctx
        self._ = ctx._
        self.panel = html_pane(placeholder(self._(self.title), self._))
        self._shown = None  # the figures object now on the screen

    def compute(self, frame):
        """The tile's figures for ``frame`` (a :class:`dashboards.bigscreen.Frame`), from the shared cache."""
        raise NotImplementedError

    def render(self, figures) -> str:
        raise NotImplementedError

    def update(self, frame) -> None:
        try:
            figures = self.compute(frame)
        except Exception as exc:  # noqa: BLE001 - one tile's failure is shown in it; the wall stays up
            log.warning("big screen tile %s: %s", type(self).__name__, exc)
            self.panel.object = (f'<div class="tj-tile" data-tile-error><h2>{esc(self._(self.title))}</h2>'
                                 f'<div class="tj-warn2">{esc(str(exc).splitlines()[0][:200])}</div></div>')
            self._shown = None
            return
        if figures is self._shown:  # the same figures (the cache's object): nothing to send
            return
        self._shown = figures
        self.panel.object = self.render(figures)


# -- trends ----------------------------------------------------------------------------------------------
def _fig(height: int):
    from bokeh.models import DatetimeTickFormatter, Range1d
    from bokeh.plotting import figure

    f = figure(height=height, x_range=Range1d(0, 1), sizing_mode="stretch_width", x_axis_type="datetime",
               toolbar_location=None, tools="", background_fill_color="#17202b", border_fill_color="#17202b", outline_line_color=None,
               min_border_left=50, min_border_right=50)
    for ax in (f.xaxis, f.yaxis):
        ax.major_label_text_color = "#c9d3dd"
        ax.axis_label_text_color = "#aab6c3"
        ax.axis_line_color = "#4b5a6a"
        ax.major_tick_line_color = "#4b5a6a"
        ax.minor_tick_line_color = None
        ax.major_label_text_font_size = "13px"
        ax.axis_label_text_font_size = "13px"
        ax.axis_label_text_font_style = "normal"
    f.grid.grid_line_color = "#2a3644"
    f.xaxis.ticker.desired_num_ticks = 4  # readable at a phone's width too
    f.xaxis.formatter = DatetimeTickFormatter(days="%m-%d", months="%m-%d", hours="%H:%M", hourmin="%H:%M",
                                              minutes="%H:%M", context=None)
    return f


class TrendsTile(Tile):
    """Electricity [MWh] (bars) and CO2e [t] (line) per day of the last 30 days; the year to date beside the same
    span of last year."""

    area = "charts"
    title = "Last 30 days: electricity and CO₂e per day"

    def __init__(self, ctx):
        from bokeh.models import ColumnDataSource, DataRange1d, LinearAxis

        super().__init__(ctx)
        _ = self._
        self.src = ColumnDataSource({"day": [], "mwh": [], "t": []})
        f = _fig(TREND_HEIGHT)
        f.xaxis.formatter.hours = f.xaxis.formatter.hourmin = "%m-%d"
        f.vbar(x="day", top="mwh", width=0.8 * 86_400_000, source=self.src, color=GREEN, alpha=0.8)
        f.y_range.start = 0
        f.yaxis.axis_label = _("Electricity [MWh/day]")
        f.extra_y_ranges = {"co2": DataRange1d(start=0)}
        line = f.line(x="day", y="t", source=self.src, color=ORANGE, line_width=2, y_range_name="co2")
        f.scatter(x="day", y="t", source=self.src, color=ORANGE, size=5, y_range_name="co2")
        f.extra_y_ranges["co2"].renderers = [line]
        ax = LinearAxis(y_range_name="co2", axis_label=_("CO₂e [t/day]"))
        ax.major_label_text_color = "#c9d3dd"
        ax.axis_label_text_color = "#aab6c3"
        ax.axis_label_text_font_style = "normal"
        ax.major_label_text_font_size = "13px"
        f.add_layout(ax, "right")
        self.fig = f
        self.head = html_pane(self._head(None))
        self.panel = pn.Column(self.head, pn.pane.Bokeh(f, sizing_mode="stretch_width", height=TREND_HEIGHT, margin=(0, 6)),
                               sizing_mode="stretch_width", margin=0)

    def _head(self, tr) -> str:
        _ = self._
        title = (f'<h2 class="tj-h" style="margin:0">{esc(_(self.title))} <span class="tj-legend">■ '
                 f'{esc(_("electricity"))}</span> <span class="tj-legend" style="color:{ORANGE}">● CO₂e</span></h2>')
        if tr is None:
            return title + f'<div class="tj-wait" data-loading>{esc(_("loading…"))}</div>'
        y, ly = tr["ytd"], tr["last_ytd"]

        def cell(d, key, unit_kind):
            v = d[key]
            if v is None:
                return f'<b data-ytd="{key}" data-value="">{esc(_("no readings"))}</b>'
            text, unit = fmt_energy(v) if unit_kind == "e" else fmt_co2e(v)
            return f'<b data-value="{raw(v)}" data-unit="{"kWh" if unit_kind == "e" else "kgCO2e"}">{text}</b> ' \
                   f'<span class="tj-u">{unit}</span>'

        change = ""
        if y["electricity_kWh"] is not None and ly["electricity_kWh"]:
            pct = (y["electricity_kWh"] / ly["electricity_kWh"] - 1) * 100
            change = f' · <b data-ytd-change-pct="{pct!r}">{pct:+.1f} %</b>'
        return (title + f'<div class="tj-status" data-trends data-snapshot="{esc(tr["snapshot"])}">'
                f'<span data-ytd="this" data-start="{y["start"]:%Y-%m-%d}" data-end="{y["end"]:%Y-%m-%d %H:%M}">'
                f'{esc(_("Year to date"))} {y["start"]:%Y}: {cell(y, "electricity_kWh", "e")} · '
                f'{cell(y, "co2e_kg", "c")}</span> — <span data-ytd="last" data-start="{ly["start"]:%Y-%m-%d}" '
                f'data-end="{ly["end"]:%Y-%m-%d %H:%M}">{esc(_("same span last year"))} {ly["start"]:%Y}: '
                f'{cell(ly, "electricity_kWh", "e")} · {cell(ly, "co2e_kg", "c")}</span>{change}</div>')

    def compute(self, frame):
        meth = (frame.methodology or {}).get("package")
        return data.cached("trends", frame.where, frame.snapshot,
                           lambda: data.trends(frame.store, frame.snapshot, meth), max_age_s=frame.slow_age_s)

    def update(self, frame) -> None:
        try:
            tr = self.compute(frame)
        except Exception as exc:  # noqa: BLE001 - shown in the tile
            log.warning("big screen trends: %s", exc)
            self.head.object = f'<div class="tj-warn2">{esc(str(exc).splitlines()[0][:200])}</div>'
            return
        if tr is self._shown or tr is None:
            return
        self._shown = tr
        d = tr["daily"]
        last = d.index[-1] if len(d) else pd.Timestamp.now().normalize()
        self.fig.x_range.start = last - pd.Timedelta(days=data.TREND_DAYS - 0.5)
        self.fig.x_range.end = last + pd.Timedelta(days=0.5)
        self.src.data = {"day": list(d.index), "mwh": (d["electricity_kWh"] / 1000).tolist(),
                         "t": (d["co2e_kg"] / 1000).tolist()}
        self.head.object = self._head(tr)


def trends(ctx) -> Tile:
    return TrendsTile(ctx)


# -- allowance -------------------------------------------------------------------------------------------
class QuotaTile(Tile):
    """The year's allowance: used so far, the forecast of the year with its interval, the green share."""

    area = "cards"
    title = "Allowance"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.panel = html_pane(placeholder(self._(self.title), self._), **box(340))

    def compute(self, frame):
        return data.cached("quota", frame.where, frame.snapshot,
                           lambda: data.quota(frame.cfg, frame.store, frame.snapshot) or "none",
                           max_age_s=frame.slow_age_s)

    def render(self, q) -> str:
        _ = self._
        if q == "none":
            return (f'<div class="tj-tile tj-quota" data-quota="none"><h2>{esc(_("Allowance"))}</h2>'
                    f'<div class="tj-wait">{esc(_("No allowance entered for this year (the Quota page)."))}</div>'
                    f'</div>')
        used = q.emitted_kg / q.quota_kg if q.quota_kg else float("nan")
        rows = [(_("Allowance"), f'<b data-quota-kg="{raw(q.quota_kg)}" data-value="{raw(q.quota_kg)}" '
                                 f'data-unit="kgCO2e">{num(q.quota_kg / 1000, 0)}</b> <span class="tj-u">tCO₂e</span>'),
                (_("Emitted this year"), f'<b data-emitted-kg="{raw(q.emitted_kg)}" data-value="{raw(q.emitted_kg)}" '
                                         f'data-unit="kgCO2e">{num(q.emitted_kg / 1000, 1)}</b> <span class="tj-u">'
                                         f'tCO₂e ({used:.1%})</span>')]
        if q.forecast_kg is not None:
            rows.append((_("Forecast for the year"),
                         f'<b data-forecast-kg="{raw(q.forecast_kg)}" data-value="{raw(q.forecast_kg)}" '
                         f'data-unit="kgCO2e">{num(q.forecast_kg / 1000, 0)}</b> <span class="tj-u">tCO₂e</span>'))
            rows.append((f'{_("interval")} {q.level:.0%}',
                         f'<span data-lower-kg="{raw(q.lower_kg)}" data-upper-kg="{raw(q.upper_kg)}">'
                         f'{num(q.lower_kg / 1000, 0)}–{num(q.upper_kg / 1000, 0)}</span> <span class="tj-u">tCO₂e'
                         f'</span>'))
        else:
            rows.append((_("Forecast for the year"), f'<span class="tj-u" data-forecast-kg="" title="{esc(q.note)}">'
                                                     f'{esc(_("not enough days yet"))}</span>'))
        if q.green_share is not None:
            rows.append((_("Green electricity"), f'<b data-green-share="{raw(q.green_share)}">{q.green_share:.1%}</b>'))
        body = "".join(f'<tr><td>{esc(k)}</td><td class="v">{v}</td></tr>' for k, v in rows)
        warn = f'<div class="tj-warn2">⚠ {esc(q.alarm)}</div>' if q.alarm else ""
        return (f'<div class="tj-tile tj-quota" data-quota="{q.year}" data-snapshot="{esc(q.snapshot)}">'
                f'<h2>{esc(_("Allowance"))} {q.year}</h2><table class="tj-kv2">{body}</table>{warn}</div>')


def quota(ctx) -> Tile:
    return QuotaTile(ctx)


# -- time of use -----------------------------------------------------------------------------------------
class TouTile(Tile):
    """Shares of sharp / peak / flat / valley energy and the energy cost, today and this month."""

    title = "Time of use: shares and cost"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.panel = html_pane(placeholder(self._(self.title), self._), **box(420))

    def compute(self, frame):
        return data.cached("tou", frame.where, frame.snapshot, lambda: data.tou(frame.cfg, frame.store,
                                                                                frame.snapshot) or "none",
                           max_age_s=frame.slow_age_s)

    def render(self, t) -> str:
        _ = self._
        if t == "none":
            return placeholder(_(self.title), _).replace(esc(_("loading…")), esc(_("no readings yet")))
        names = {"sharp": _("sharp"), "peak": _("peak"), "flat": _("flat"), "valley": _("valley")}
        parts = []
        for key, label in (("month", _("This month")), ("today", _("Today"))):
            r = t[key]
            a, b = t["periods"][key]
            share = {p: r[f"{p}_share_pct"] if r[f"{p}_share_pct"] == r[f"{p}_share_pct"] else 0.0 for p in TOU_COLOR}
            bar = "".join(f'<span style="width:{max(share[p], 0):.2f}%;'
                          f'background:{TOU_COLOR[p]}" title="{esc(names[p])} {num(r[f"{p}_share_pct"], 1)} %" '
                          f'data-tou-share="{key}-{p}" data-value="{raw(r[f"{p}_share_pct"])}" data-unit="%"></span>'
                          for p in TOU_COLOR)
            cost = (f'<b data-tou-cost="{key}" data-value="{raw(r["energy_cny"])}" data-unit="CNY">'
                    f'{num(r["energy_cny"])}</b> <span class="tj-u">{esc(_("CNY"))}</span>')
            parts.append(f'<div data-tou-period="{key}" data-start="{a:%Y-%m-%d %H:%M}" data-end="{b:%Y-%m-%d %H:%M}">'
                         f'<div style="display:flex;justify-content:space-between;font-size:15px">'
                         f'<span>{esc(label)} · <span class="tj-u">{num(r["total_kwh"])} kWh</span></span>'
                         f'<span>{cost} <span class="tj-u">· {num(r["mean_cny_per_kwh"], 3)} {esc(_("CNY"))}/kWh'
                         f'</span></span></div><div class="tj-bar">{bar}</div></div>')
        m = t["month"]
        keys = "".join(f'<span><span class="tj-dot" style="background:{TOU_COLOR[p]}"></span>{esc(names[p])} '
                       f'{num(m[f"{p}_share_pct"], 1)} % · {num(m[f"{p}_cny"])} {esc(_("CNY"))}</span>'
                       for p in TOU_COLOR)
        return (f'<div class="tj-tile tj-tou" data-snapshot="{esc(t["snapshot"])}" data-tariff="{esc(t["tariff"])}">'
                f'<h2>{esc(_(self.title))}</h2>{"".join(parts)}<div class="tj-keys">{keys}</div>'
                f'<div class="tj-u" style="font-size:12px;margin-top:4px">{esc(_("tariff"))} {esc(t["tariff"])} '
                f'({esc(t["status"] or "")}); {esc(_("legend: this month"))}</div></div>')


def tou(ctx) -> Tile:
    return TouTile(ctx)


# -- alarms ----------------------------------------------------------------------------------------------
class AlarmsTile(Tile):
    """The alarms an operator sees: count per priority, the most urgent and newest first."""

    title = "Active alarms"
    slow = False

    def __init__(self, ctx):
        super().__init__(ctx)
        self.panel = html_pane(placeholder(self._(self.title), self._), **box(470))

    def compute(self, frame):
        return frame.alarms

    def render(self, a) -> str:
        _ = self._
        tz = self.ctx.cfg.site.plant.timezone
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(tz)
        counts = "".join(f'<span class="tj-count" style="background:{PRIORITY_COLOR[p]}" data-priority-count="{p}" '
                         f'data-value="{a["counts"][p]}">{esc(_(p))} {a["counts"][p]}</span>'
                         for p in data.PRIORITIES)
        rows = []
        for r in a["rows"][:ALARM_ROWS]:
            t = data.as_local(r["last_raised"], zone)
            rows.append(f'<tr data-alarm="{int(r["id"])}" data-target="{esc(r["target"])}" '
                        f'data-priority="{esc(r["priority"])}" data-state="{esc(r["state"])}">'
                        f'<td style="width:52px">{t:%H:%M}</td>'
                        f'<td style="width:74px;color:{PRIORITY_COLOR.get(r["priority"], "#fff")}">{esc(_(r["priority"]))}'
                        f'</td><td style="width:92px"><a href="{target_link(self.ctx.cfg.site, r["target"])}">'
                        f'{esc(r["target"])}</a></td><td title="{esc(r["message"])}">{esc(r["message"])}</td></tr>')
        more = len(a["rows"]) - ALARM_ROWS
        body = (f'<table class="tj-alarms">{"".join(rows)}</table>' if rows else
                f'<div class="tj-ok-msg" data-no-alarms>✓ {esc(_("No active alarms"))}</div>')
        tail = (f'<div class="tj-u" style="font-size:13px">+{more} {esc(_("more on the Alarms page"))}</div>'
                if more > 0 else "")
        return (f'<div class="tj-tile tj-alarm-tile" data-alarm-count="{len(a["rows"])}">'
                f'<h2><a href="/alarms" style="color:inherit">{esc(_(self.title))}</a></h2>'
                f'<div class="tj-counts">{counts}</div>{body}{tail}</div>')


def alarms(ctx) -> Tile:
    return AlarmsTile(ctx)


# -- floor plan ------------------------------------------------------------------------------------------
def target_link(site, nid: str) -> str:
    """The drill-down of a device, meter or transformer; the topology (its path) for anything else."""
    if nid in {d.id for d in site.devices} or nid in {m.id for m in site.meters} or \
            nid in {t.id for t in site.transformers}:
        return f"/drill?node={quote(nid, safe='')}"
    return f"/topology?node={quote(nid, safe='')}"


def _clip(text: str, chars: float) -> str:
    """``text`` cut to about ``chars`` Latin characters (a CJK character counts two), "…" when cut."""
    out, n = "", 0.0
    for ch in text:
        n += 2 if ord(ch) > 0x2E80 else 1
        if n > chars:
            return out.rstrip() + "…"
        out += ch
    return out


def floor_svg(site, fl: dict, _) -> str:
    """The floor plan: a dot per device, a square per transformer, room, PV array or battery, coloured by state;
    the workshops' outlines from their devices' positions; each a link to its drill-down."""
    plan = site.floor_plan
    s = PLAN_W / plan.width_m
    h = plan.depth_m * s

    def xy(p):
        return p[0] * s, h - p[1] * s

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="-4 -4 {PLAN_W + 8:.0f} {h + 8:.0f}" '
           f'width="100%" role="group" aria-label="{esc(_("Floor plan"))}" class="tj-plan" '
           f'style="max-width:{PLAN_W + 8}px;font:11px Inter,\'Noto Sans CJK SC\',sans-serif">',
           f'<rect x="0" y="0" width="{PLAN_W}" height="{h:.1f}" fill="#121a23" stroke="#2a3644"/>']
    devices = {d.id: d for d in site.devices}
    for w in site.workshops:  # the hall of a workshop: the box around its devices, 4 m of margin
        pts = [plan.positions[d] for d, dev in devices.items() if dev.workshop == w.id and d in plan.positions]
        if not pts:
            continue
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        x0, y1 = xy((max(min(xs) - 5, 0), min(max(ys) + 7, plan.depth_m)))
        x1, y0 = xy((min(max(xs) + 5, plan.width_m), max(min(ys) - 5, 0)))
        name = w.name_zh if _("Floor plan") != "Floor plan" and w.name_zh else w.name
        out.append(f'<rect x="{x0:.1f}" y="{y1:.1f}" width="{x1 - x0:.1f}" height="{y0 - y1:.1f}" rx="4" '
                   f'fill="#1a2531" stroke="#3a4a5c"/><text x="{x0 + 4:.1f}" y="{y1 + 12:.1f}" fill="#aab6c3">'
                   f'{esc(_clip(name, (x1 - x0 - 6) / 6.5))}</text>')
    for pid, st in fl["states"].items():
        x, y = xy(plan.positions[pid])
        state = st["state"]
        fill = STATE_COLOR[state]
        kw = "" if st["kw"] is None else f" · {st['kw']:,.1f} kW"
        label = f"{pid} {st['name']} · {_(state)}{kw}"
        if st["alarms"]:
            label += " · " + _("alarm") + ": " + ", ".join(st["alarms"])
        stroke = "#ffffff" if state == "alarm" else ("#93a1b0" if state == "no data" else "#0d141b")
        dash = ' stroke-dasharray="2 2"' if state == "no data" else ""
        if st["kind"] == "device":
            shape = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{7 if state == "alarm" else 5.5}" fill="{fill}" ' \
                    f'stroke="{stroke}" stroke-width="1.5"{dash}/>'
        else:
            shape = f'<rect x="{x - 6:.1f}" y="{y - 6:.1f}" width="12" height="12" fill="{fill}" ' \
                    f'stroke="{stroke}" stroke-width="1.5"{dash}/>'
        kwattr = "" if st["kw"] is None else f' data-value="{st["kw"]!r}" data-unit="kW"'
        out.append(f'<a href="{target_link(site, pid)}" data-node="{esc(pid)}" data-state="{state}"{kwattr} '
                   f'aria-label="{esc(label)}"><title>{esc(label)}</title>{shape}</a>')
    out.append("</svg>")
    return "".join(out)


class FloorPlanTile(Tile):
    """The floor plan with every device's live state."""

    area = "plan"
    title = "Floor plan: device states now"
    slow = True  # a day of every device's minutes the first time (the thresholds): after the first paint

    def __init__(self, ctx):
        super().__init__(ctx)
        self.panel = html_pane(placeholder(self._(self.title), self._), **box(PLAN_W + 40))

    def compute(self, frame):
        site = frame.cfg.site
        if site.floor_plan is None:
            return "none"
        th = data.cached("thresholds", frame.where, frame.snapshot,
                         lambda: data.thresholds(frame.store, site, frame.snapshot), max_age_s=3600)
        marks = data.alarm_positions(site, [a["target"] for a in frame.alarms["rows"]])
        key = (frame.snapshot, frame.alarm_key)
        return data.cached("floor", frame.where, key, lambda: data.floor(frame.store, site, frame.snapshot, th, marks))

    def render(self, fl) -> str:
        _ = self._
        if fl == "none":
            return placeholder(_(self.title), _).replace(esc(_("loading…")), esc(_("no floor plan in the site model")))
        site = self.ctx.cfg.site
        keys = "".join(
            f'<span data-state-count="{s}" data-value="{fl["counts"][s]}"><span class="tj-dot" style="background:'
            f'{STATE_COLOR[s] if s != "no data" else "transparent"};border:1px dashed #93a1b0"></span>{esc(_(s))} '
            f'{fl["counts"][s]}</span>' for s in data.FLOOR_STATES)
        at = "" if fl["at"] is None else f'{fl["at"]:%H:%M}'
        return (f'<div class="tj-tile" data-floor-plan data-snapshot="{esc(fl["snapshot"])}" data-at="{at}">'
                f'<h2>{esc(_(self.title))} <small>{esc(at)} · {esc(_("click a device for its drill-down"))}</small></h2>'
                f'{floor_svg(site, fl, _)}<div class="tj-keys" style="margin-top:4px">{keys}</div></div>')


def floor_plan(ctx) -> Tile:
    return FloorPlanTile(ctx)

