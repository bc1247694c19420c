"""The park page: a table of enterprises, drilled down to one enterprise's reports, never below them.

Everything shown comes from verified report packages (:mod:`models.park`): figures and the checks of each
package, the failing check named. No reading, meter or store of any plant is reachable from here.

The view-model functions (:func:`enterprise_rows`, :func:`enterprise_reports`) are plain pandas and tested
on their own; :class:`ParkPage` only lays them out. :func:`view` is the page's entry for the page frame
(``dashboards.park:view``): it reads the park's settings (drop folder, deployment record, node URL) from
``<data_dir>/park.yaml``.
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

#: the park's own table styles: dashboards/tables.py reaches dashboards.feeds and so the store (through
#: dashboards.render), which the contract park-holds-no-store forbids this page
CSS = """
.tj-park-table { border-collapse: collapse; font-size: 14px; font-variant-numeric: tabular-nums; }
.tj-park-table th { text-align: left; padding: 4px 8px; border-bottom: 2px solid #999; white-space: nowrap; }
.tj-park-table td { padding: 3px 8px; border-bottom: 1px solid #ddd; }
.tj-park-table td.n { text-align: right; white-space: nowrap; }
#tj-park-enterprises td[data-col="failed"]:not(:empty),
#tj-park-reports td[data-col="failed_check"]:not(:empty) { color: #9b1c1c; font-weight: 700; }
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
    q = quota_position(verdicts, year)[["quota_kg", "forecast_kg"]].astype(float) if len(df) else None
    if q is not None and len(q):
        df = df.merge(q, left_on="enterprise", right_index=True, how="left")
    else:
        df["quota_kg"], df["forecast_kg"] = float("nan"), float("nan")
    return df.sort_values("enterprise").reset_index(drop=True)


def enterprise_reports(verdicts: list[PackageVerdict], enterprise: str) -> pd.DataFrame:
    """One enterprise's packages: period, status, failing check, verified total [kg CO2e] and why it failed."""
    rows = [{"period": v.period, "status": v.status, "failed_check": v.failed or "",
             "detail": v.detail() if v.failed else "", "total_kg": v.emissions_kg.get("total")}
            for v in verdicts if v.enterprise == enterprise]
    return pd.DataFrame(rows, columns=["period", "status", "failed_check", "total_kg", "detail"]).sort_values(
        "period").reset_index(drop=True)


def _table(df: pd.DataFrame, css_id: str, name: str, key: str) -> str:
    """``df`` as an HTML table as the pages' tables are (dashboards/tables.py): every cell names its column
    (``data-col``) and carries its raw number (``data-value``), every row its ``key`` (``data-row``); headers
    with the unit in brackets (``emitted_kg`` -> ``emitted [kg]``)."""
    def head(c: str) -> str:
        return f"{c[:-3].replace('_', ' ')} [kg]" if c.endswith("_kg") else c.replace("_", " ")

    def cell(c, x) -> str:
        if isinstance(x, float):
            text = "–" if x != x else f"{x:,.0f}"
            return f'<td class="n" data-col="{c}" data-value="{x!r}">{text}</td>'
        return f'<td data-col="{c}">{html.escape(str(x))}</td>'

    cols = list(df.columns)
    body = "".join(f'<tr data-row="{html.escape(str(r[key]))}">' + "".join(cell(c, r[c]) for c in cols) + "</tr>"
                   for _, r in df.iterrows())
    return (f'<div id="{css_id}" role="region" aria-label="{html.escape(name)}" style="overflow-x:auto">'
            f'<table class="tj-park-table"><thead><tr>{"".join(f"<th>{head(c)}</th>" for c in cols)}</tr></thead>'
            f'<tbody>{body}</tbody></table></div>')


class ParkPage(pn.viewable.Viewer):
    """Enterprises of the park and, for the one selected, its reports (the drill stops there)."""

    enterprise = param.String(default="", doc="the enterprise drilled into ('' = none)")

    def __init__(self, verdicts: list[PackageVerdict], year: int, translate=None, **params):
        super().__init__(**params)
        self.verdicts, self.year = verdicts, year
        self._ = translate or (lambda text: text)  # the page frame's ctx._ (dashboards/i18n.py)
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
        return pn.pane.HTML(_table(df, "tj-park-reports", f"reports of {self.enterprise}", "period"),
                            stylesheets=[CSS], sizing_mode="stretch_width")

    def __panel__(self):
        return pn.Column(
            pn.pane.Markdown(f"## {self._('The park')} — {self.year}: {self._('verified report packages')}"),
            pn.pane.HTML(_table(self.rows, "tj-park-enterprises", "enterprises of the park", "enterprise"),
                         stylesheets=[CSS], sizing_mode="stretch_width"),
            self._select, pn.panel(self._detail), stylesheets=[CSS], sizing_mode="stretch_width")


def view(ctx):
    """The page for the page frame: the park's settings from ``<data_dir>/park.yaml``
    (:mod:`models.park.config`: a drop folder or an S3 bucket, deployment, rpc, year)."""
    import datetime as dt

    from chain.calls import batching_web3
    from models.park.config import load_park
    from models.park.s3drop import scan
    from models.park.scale import verify_all
    from workspace.errors import TanjianError

    where = Path(ctx.cfg.paths.data_dir, "park.yaml")
    if not where.is_file():
        return pn.pane.Markdown(ctx._("No park is configured: park.yaml (drop or s3, deployment, rpc, year) is "
                                      "missing from the data folder."))
    try:
        cfg = load_park(where)
        if cfg.deployment is None or cfg.rpc is None:
            raise TanjianError(f"{where}: deployment and rpc are needed to verify the packages")
        deployment = json.loads(cfg.deployment.read_text("utf-8"))
        verdicts = verify_all(scan(cfg), batching_web3(cfg.rpc), deployment)
    except (TanjianError, OSError, ValueError) as exc:
        return pn.pane.Markdown(f"{ctx._('The park’s packages cannot be read:')} {html.escape(str(exc))}")
    page = ParkPage(verdicts, cfg.year or dt.date.today().year, translate=ctx._,
                    enterprise=ctx.arg("enterprise", "") or "")
    if pn.state.location is not None:
        pn.state.location.sync(page, {"enterprise": "enterprise"})
    return page
