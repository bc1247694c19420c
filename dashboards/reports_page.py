"""The reports page: issue the GHG reports of a period (JSON, XLSX, PDF; the Chinese guideline's and the ISO
14064-1 layouts) and download them, each with its SHA-256 and its ledger status (its ledger batch, and whether
the newest anchor on chain covers it); the reports issued before, from each folder's ``SHA256SUMS``. Checking a
copy against its proof is the verifier page's (``/verify``).

Issuing goes through :func:`models.reports.issue.issue` (as ``tanjian report``: the inventory computed, the
files written, their hashes recorded, put into the ledger and into the audit trail as ``report_issue``) after
the server checked the person's ``report`` permission. Reports are written under ``<data_dir>/reports/web/``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import panel as pn
import param

from workspace.config import Config
from workspace.errors import TanjianError

from .actor import ActionRefused, Actor, has_accounts, parse_day, session_actor
from .tables import CSS, table_html
from .render import esc

log = logging.getLogger(__name__)

FORMATS = ("json", "xlsx", "pdf")


def reports_dir(cfg: Config) -> Path:
    return Path(cfg.paths.data_dir) / "reports" / "web"


def ledger_status(batch: int | None, anchor: dict | None) -> str:
    """``anchored`` when the newest anchor's tree holds the batch, ``in ledger, not yet anchored``, or
    ``queued for the collector`` (no batch yet)."""
    if batch is None:
        return "queued for the collector"
    if anchor and int(anchor.get("tree_size", 0)) > batch:
        return "anchored"
    return "in ledger, not yet anchored"


def issue_reports(cfg: Config, who: Actor | None, start: dt.date, end: dt.date, formats, reason: str) -> pd.DataFrame:
    """Issue the reports of ``[start, end]`` (inclusive days) as ``who``; one row per file: name, sha256, size,
    batch, status. Raises :class:`ActionRefused` with one line for the person."""
    from models.reports.issue import issue

    from .feeds import last_anchor

    if who is None:
        raise ActionRefused("log in (or type your name) first: a report names who issued it")
    if not who.may("report"):
        raise ActionRefused(f"{who.name} ({who.role}) may not issue reports (needs permission report)")
    if start is None or end is None or end < start:
        raise ActionRefused("give the period's first and last day, the last not before the first")
    fmts = tuple(f for f in FORMATS if f in set(formats))
    if not fmts:
        raise ActionRefused(f"choose at least one format ({', '.join(FORMATS)})")
    try:
        res = issue(cfg, start, end, reports_dir(cfg) / f"{start}_{end}", author=who.name,
                    reason=reason.strip() or f"GHG report {start}..{end}", formats=fmts)
    except TanjianError as exc:
        raise ActionRefused(str(exc)) from None
    anchor = last_anchor(cfg.paths.chain)
    rows = [{"file": r["name"], "sha256": r["sha256"], "bytes": r["size"], "batch": r["batch"],
             "ledger": ledger_status(r["batch"], anchor)} for r in res["ledger"]]
    return pd.DataFrame(rows).set_index("file") if rows else pd.DataFrame()


def issued(cfg: Config) -> pd.DataFrame:
    """The reports issued from this page: one row per file of every ``SHA256SUMS``, with whether the file on
    disk still has that hash."""
    rows = []
    for sums in sorted(reports_dir(cfg).glob("*/SHA256SUMS"), reverse=True):
        for line in sums.read_text().splitlines():
            if "  " not in line:
                continue
            digest, name = line.split("  ", 1)
            p = sums.parent / name
            ok = p.exists() and hashlib.sha256(p.read_bytes()).hexdigest() == digest
            rows.append({"period": sums.parent.name, "file": name, "sha256": digest,
                         "on disk": "unchanged" if ok else "changed or missing"})
    return pd.DataFrame(rows).set_index("period") if rows else pd.DataFrame()


class ReportsPage(pn.viewable.Viewer):
    """The reports page of one session."""

    result = param.String(default="")
    tick = param.Integer(default=0)

    def __init__(self, cfg: Config, query: dict | None = None, **params):
        self._cfg = cfg
        super().__init__(**params)
        today = dt.datetime.now(ZoneInfo(cfg.site.plant.timezone)).date()
        first = today.replace(day=1)
        self._name = pn.widgets.TextInput(name="Your name 姓名", visible=not has_accounts(cfg))
        self._start = pn.widgets.TextInput(name="First day 起始日 (YYYY-MM-DD)", value=first.isoformat(), width=190)
        self._end = pn.widgets.TextInput(name="Last day 截止日 (YYYY-MM-DD)", value=today.isoformat(), width=190)
        self._formats = pn.widgets.CheckButtonGroup(name="Formats 格式", options=list(FORMATS), value=list(FORMATS))
        self._reason = pn.widgets.TextInput(name="Reason 原因", placeholder="e.g. monthly report to the board")
        self._go = pn.widgets.Button(name="Issue reports 生成报告", button_type="primary", width=170)
        self._go.on_click(lambda _e: self.do_issue())
        self._files: list[Path] = []

    def do_issue(self) -> None:
        who = session_actor(self._cfg, self._name.value)
        try:
            start, end = parse_day(self._start.value, "first day"), parse_day(self._end.value, "last day")
            df = issue_reports(self._cfg, who, start, end, self._formats.value, self._reason.value or "")
        except ActionRefused as exc:
            self.result = f'<p class="tj-note" data-refused="report">{esc(exc)}</p>'
        else:
            folder = reports_dir(self._cfg) / f"{start}_{end}"
            self._files = [folder / f for f in df.index]
            self.result = f'<p data-done="report" data-files="{len(df)}">{len(df)} file(s) issued by ' \
                          f'{esc(who.name)}</p>' + table_html(df, "issued-now")
        self.tick += 1

    @param.depends("tick")
    def _output(self):
        downloads = [pn.widgets.FileDownload(file=str(p), filename=p.name, label=p.name, width=330)
                     for p in self._files if p.exists()]
        df = issued(self._cfg)
        return pn.Column(pn.pane.HTML(self.result, stylesheets=[CSS], sizing_mode="stretch_width"),
                         pn.FlexBox(*downloads),
                         pn.pane.HTML("<h4>Issued reports 已生成报告</h4>" + (table_html(df, "issued") if len(df)
                                      else "<p>none yet 暂无</p>") +
                                      '<p>Check a copy against its proof: <a href="/verify">proof verifier 存证核验</a>'
                                      '</p>', stylesheets=[CSS], sizing_mode="stretch_width"),
                         sizing_mode="stretch_width")

    def __panel__(self):
        return pn.Column("#### GHG reports 温室气体报告", self._name, pn.FlexBox(self._start, self._end),
                         self._formats, self._reason, self._go, self._output, sizing_mode="stretch_width")


def view(ctx):
    """The page for the app shell (:mod:`dashboards.registry`)."""
    return ReportsPage(ctx.cfg, dict(ctx.query))
