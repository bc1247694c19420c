"""The park page: a table of enterprises, drilled down to one enterprise's reports, never below them.

Everything shown comes from verified report packages (:mod:`models.park`): figures and the checks of each
package, the failing check named. No reading, meter or store of any plant is reachable from here.

The view-model functions (:func:`enterprise_rows`, :func:`enterprise_reports`) are plain pandas and tested
on their own; :class:`ParkPage` only lays them out. :func:`view` is the page's entry for the page frame
(``dashboards.park:view``): it reads the park's settings (drop folder, deployment record, node URL) from
``<data_dir>/park.yaml``. Headers and labels are in the session's language (:mod:`dashboards.i18n`); both
tables download as CSV and XLSX (:func:`dashboards.tables.downloads`).
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd
import panel as pn
import param

from models.park import quota_position
from models.park.verify import PackageVerdict

from . import i18n
from .tables import downloads, header

CSS = """
.tj-park-table { width: 100%; border-collapse: collapse; font-size: 15px; }
.tj-park-table th { text-align: left; border-bottom: 2px solid #ccc; padding: 6px 8px; }
.tj-park-table td { border-bottom: 1px solid #e5e5e5; padding: 6px 8px; }
.tj-park-fail { color: #9b1c1c; font-weight: 700; }
.tj-park-ok { color: #11663a; font-weight: 700; }
"""


def enterprise_rows(verdicts: list[PackageVerdict], year: int) -> pd.DataFrame:
    """One row an enterprise: sector, packages, verified, failed (``period: check``), verified emissions,
    quota, forecast for ``year`` [kg CO2e]."""
    rows = {}
    for v in verdicts:
        r = rows.setdefault(v.enterprise, {"enterprise": v.enterprise, "sector": v.sector, "packages": 0,
                                           "verified": 0, "failed": [], "emitted_kg": 0.0})
        r["packages"] += 1
        if v.ok:
            r["verified"] += 1
            r["emitted_kg"] += v.emissions_kg.get("total", 0.0)
            r["sector"] = v.sector
        elif v.failed:
            r["failed"].append(f"{v.period}: {v.failed}")
    df = pd.DataFrame([{**r, "failed": ", ".join(r["failed"])} for r in rows.values()],
                      columns=["enterprise", "sector", "packages", "verified", "failed", "emitted_kg"])
    q = quota_position(verdicts, year)[["quota_kg", "forecast_kg"]] if len(df) else None
    if q is not None and len(q):
        df = df.merge(q, left_on="enterprise", right_index=True, how="left")
    else:
        df["quota_kg"], df["forecast_kg"] = float("nan"), float("nan")
    return df.sort_values("enterprise").reset_index(drop=True)


def enterprise_reports(verdicts: list[PackageVerdict], enterprise: str) -> pd.DataFrame:
    """One enterprise's packages: period, status, failing check and why, verified total [kg CO2e]."""
    rows = [{"period": v.period, "status": v.status, "failed_check": v.failed or "",
             "detail": v.detail() if v.failed else "", "total_kg": v.emissions_kg.get("total")}
            for v in verdicts if v.enterprise == enterprise]
    return pd.DataFrame(rows, columns=["period", "status", "failed_check", "detail", "total_kg"]).sort_values(
        "period").reset_index(drop=True)


def _table(df: pd.DataFrame, css_id: str, lang: str = "en") -> str:
    _ = i18n.gettext_for(lang)

    def cell(col, x):
        if isinstance(x, float):
            return "" if pd.isna(x) else i18n.number(x, lang)
        text = html.escape(str(x))
        if col in ("failed", "status", "failed_check") and text:
            cls = "tj-park-ok" if text == "verified" else "tj-park-fail"
            shown = html.escape(_("verified")) if col == "status" and text == "verified" else text
            return f'<span class="{cls}" data-value="{text}">{shown}</span>'
        return text
    head = "".join(f'<th data-col="{html.escape(c)}">{html.escape(header(c, lang))}</th>' for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(c, r[c])}</td>" for c in df.columns) + "</tr>"
                   for _, r in df.iterrows())
    return f'<table class="tj-park-table" id="{css_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


class ParkPage(pn.viewable.Viewer):
    """Enterprises of the park and, for the one selected, its reports (the drill stops there)."""

    enterprise = param.String(default="", doc="the enterprise drilled into ('' = none)")

    def __init__(self, verdicts: list[PackageVerdict], year: int, lang: str = "en", **params):
        super().__init__(**params)
        self.verdicts, self.year = verdicts, year
        self.lang = i18n.language(lang)
        self._ = i18n.gettext_for(self.lang)
        self.rows = enterprise_rows(verdicts, year)
        names = list(self.rows["enterprise"])
        self._select = pn.widgets.Select(label=self._("Enterprise"), options=[""] + names, value=self.enterprise)
        self._select.link(self, value="enterprise")
        self.param.watch(lambda e: setattr(self._select, "value", e.new), "enterprise")

    @param.depends("enterprise")
    def _detail(self):
        if not self.enterprise:
            return pn.pane.Markdown(self._("Choose an enterprise to see its reports."))
        df = enterprise_reports(self.verdicts, self.enterprise)
        return pn.Column(pn.pane.HTML(_table(df, "tj-park-reports", self.lang), stylesheets=[CSS],
                                      sizing_mode="stretch_width"),
                         downloads(df, f"park-{self.enterprise}-reports", self.lang), sizing_mode="stretch_width")

    def __panel__(self):
        return pn.Column(
            pn.pane.Markdown("## " + self._("The park — {year}: verified report packages").format(year=self.year)),
            pn.pane.HTML(_table(self.rows, "tj-park-enterprises", self.lang), stylesheets=[CSS],
                         sizing_mode="stretch_width"),
            downloads(self.rows, f"park-{self.year}-enterprises", self.lang),
            self._select, pn.panel(self._detail), stylesheets=[CSS], sizing_mode="stretch_width")


def view(ctx):
    """The page for the page frame: the park's settings from ``<data_dir>/park.yaml``
    (``drop``, ``deployment``, ``rpc``, ``year``)."""
    from ruamel.yaml import YAML

    from chain.calls import batching_web3
    from models.park import scan_drop
    from models.park.scale import verify_all

    where = Path(ctx.cfg.paths.data_dir, "park.yaml")
    lang = i18n.language(getattr(ctx, "lang", "en"))
    if not where.is_file():
        _ = i18n.gettext_for(lang)
        return pn.pane.Markdown(_("No park is configured: {file} (drop, deployment, rpc, year) is missing from the "
                                  "data folder.").format(file=where.name))
    settings = YAML(typ="safe").load(where.read_text("utf-8"))
    deployment = json.loads(Path(settings["deployment"]).read_text("utf-8"))
    verdicts = verify_all(scan_drop(settings["drop"]), batching_web3(settings["rpc"]), deployment)
    page = ParkPage(verdicts, int(settings["year"]), lang=lang, enterprise=ctx.arg("enterprise", "") or "")
    if pn.state.location is not None:
        pn.state.location.sync(page, {"enterprise": "enterprise"})
    return page
