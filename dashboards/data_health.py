"""The data-collection page's IoT section: the collection status per gateway and per device (protocol, last
reading, age, gaps, rejected frames, state ok/stale/dead/flapping, from :func:`collectors.fleet.device_status`),
each meter linked to the hand-reading page, and the QR label of a chosen meter (:mod:`dashboards.labels`).
"""

from __future__ import annotations

import logging
import re

import pandas as pd
import panel as pn

from workspace.config import Config
from workspace.errors import TanjianError

from . import i18n
from .i18n import N_
from .render import esc
from .tables import CSS, downloads, table_html

log = logging.getLogger(__name__)

#: the reasons :func:`collectors.fleet.classify` gives (its English) -> the msgid that says them with their fields
REASONS = (
    (re.compile(r"never read"), N_("never read")),
    (re.compile(r"last reading (?P<n>[\d,.]+) periods ago \(≥ (?P<limit>[\d.e+]+)\)"),
     N_("last reading {n} periods ago (≥ {limit})")),
    (re.compile(r"never answered since the collector started \((?P<n>\d+) failed attempt\(s\)\)"),
     N_("never answered since the collector started ({n} failed attempt(s))")),
    (re.compile(r"(?P<n>\d+) failed attempt\(s\) in a row"), N_("{n} failed attempt(s) in a row")),
    (re.compile(r"(?P<errors>\d+) of (?P<attempts>\d+) reads failed \((?P<share>\d+%)\)"),
     N_("{errors} of {attempts} reads failed ({share})")),
)
STATE_COLOURS = {"dead": "#b00020", "stale": "#8a5a00", "flapping": "#6a3fb5", "ok": "#1b7f3b"}
HEALTH_CSS = CSS + """
.tj-state { font-weight: 700; }
.tj-counts { display: flex; flex-wrap: wrap; gap: 6px 18px; font-size: 15px; margin: 4px 0 8px 0; }
.tj-label svg { width: 100%; max-width: 420px; height: auto; border: 1px solid #ccc; }
"""


def collection_status(cfg: Config, store=None, now: float | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(devices, gateways) of :mod:`collectors.fleet` for the workspace, with local times as text."""
    from collectors.fleet import device_status, gateway_status, local_time

    if store is None:
        from workspace.store import Store

        try:
            store = Store.open(cfg.paths.store, cfg.site)
        except TanjianError:
            store = None  # no store yet: the collector's health alone
    dev = device_status(cfg.paths.data_dir, cfg.site, store, now=now)
    gw = gateway_status(dev)
    tz = cfg.site.plant.timezone
    show = dev.assign(last_reading=local_time(dev["last_reading"], tz))
    if len(gw):
        gw = gw.assign(newest_reading=local_time(gw["newest_reading"], tz))
    show.attrs = dev.attrs
    return show, gw


def reason_text(reason: str, lang: str) -> str:
    """A device's state reason in ``lang``; the device's own last error (``; last error: …``) is kept as the
    device or library wrote it."""
    _ = i18n.gettext_for(lang)
    head, sep, err = str(reason or "").partition("; last error: ")
    for pattern, msgid in REASONS:
        m = pattern.fullmatch(head)
        if m:
            head = _(msgid).format(**m.groupdict())
            break
    return head + (f"; {_('last error')}: {err}" if sep else "")


def _device_rows(dev: pd.DataFrame, lang: str = "en") -> str:
    """The device table with each state coloured and each meter linked to its hand-reading page."""
    _ = i18n.gettext_for(lang)
    order = {"dead": 0, "stale": 1, "flapping": 2, "ok": 3}
    d = dev.assign(_o=dev["state"].map(order)).sort_values(["_o", "gateway"]).drop(columns="_o")
    d = d.assign(reason=d["reason"].map(lambda r: reason_text(r, lang)))
    html = table_html(d, "devices", lang=lang, label=_("Devices"))
    for s, colour in STATE_COLOURS.items():
        html = html.replace(f'<td data-col="state">{s}</td>',
                            f'<td data-col="state" data-state="{s}"><span class="tj-state" style="color:{colour}">'
                            f'{esc(_(s))}</span></td>')
    for m in d.index:
        html = html.replace(f'<td data-col="meter">{esc(m)}</td>',
                            f'<td data-col="meter"><a href="/readings?meter={esc(m)}&amp;lang={lang}" data-reading="{esc(m)}">'
                            f'{esc(m)}</a></td>', 1)
    return html


def label_svg(cfg: Config, meter: str) -> str:
    """The QR label of ``meter`` (the same SVG ``tanjian labels --out x.svg`` prints)."""
    from .labels import labels_for, svg

    return svg(labels_for(cfg.site, cfg.dashboards.public_url, [meter]))


class HealthSection(pn.viewable.Viewer):
    """Collection status and device health, refreshed on demand."""

    def __init__(self, cfg: Config, lang: str = "en", meter: str | None = None, **params):
        self.lang = i18n.language(lang)
        self._cfg = cfg
        self._ = _ = i18n.gettext_for(self.lang)
        super().__init__(**params)
        ids = cfg.site.meter_ids()
        self._refresh = pn.widgets.Button(name=_("Refresh"), width=120)
        self._meter = pn.widgets.Select(name=_("Meter for its QR label"), options=ids,
                                        value=meter if meter in ids else ids[0], width=220)
        self._body = pn.Column(sizing_mode="stretch_width")
        self._refresh.on_click(lambda _e: self.render())
        self._label = pn.pane.HTML(pn.bind(self._label_html, self._meter), sizing_mode="stretch_width",
                                   stylesheets=[HEALTH_CSS])
        self.render()

    def _label_html(self, meter: str) -> str:
        _ = self._
        return (f'<div class="tj-label" data-label="{esc(meter)}">{label_svg(self._cfg, meter)}</div>'
                f'<p><a href="/readings?meter={esc(meter)}&amp;lang={self.lang}">{esc(_("Hand reading of"))} {esc(meter)}</a></p>')

    def render(self) -> None:
        _, lang = self._, self.lang
        dev, gw = collection_status(self._cfg)
        counts = dev["state"].value_counts()
        when = dev.attrs.get("health_written_at")
        head = (f'<div class="tj-counts" data-states="1">'
                + "".join(f'<span data-count="{s}"><b style="color:{c}">{int(counts.get(s, 0))}</b> {esc(_(s))}</span>'
                          for s, c in STATE_COLOURS.items())
                + "</div><p class=\"tj-note\">"
                + esc(_("Collector health written")) + f" {esc(str(when)[:19] if when is not None else '–')} UTC; "
                + esc(_("gaps and completeness over the last 24 hours; thresholds in device_states.yaml"))
                + "</p>")
        self._body.objects = [
            pn.pane.HTML(head + f"<h4>{esc(_('Gateways'))}</h4>" + table_html(gw, "gateways", lang=lang, label=_("Gateways")),
                         stylesheets=[HEALTH_CSS], sizing_mode="stretch_width"),
            downloads(gw, "gateways", lang),
            pn.pane.HTML(f"<h4>{esc(_('Devices'))}</h4>" + _device_rows(dev, lang), stylesheets=[HEALTH_CSS],
                         sizing_mode="stretch_width"),
            downloads(dev, "devices", lang),
        ]

    def __panel__(self):
        _ = self._
        return pn.Column(f"#### {_('IoT collection status and device health')}", self._refresh, self._body,
                         f"#### {_('Hand reading and QR labels')}", self._meter, self._label,
                         sizing_mode="stretch_width")
