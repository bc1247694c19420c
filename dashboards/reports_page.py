"""The reports page: issue the GHG reports of a period (JSON, XLSX, PDF; the Chinese guideline's and the ISO
14064-1 layouts) and download them, each with its SHA-256 and its ledger status (its ledger batch, and whether
the newest anchor on chain covers it); the reports issued before, from each folder's ``SHA256SUMS``, each issue's
JSON, XLSX and PDF downloadable with its SHA-256; and the hash-check widget (:mod:`dashboards.reports_check`): pick
an issued report, or drop a report with its document batch and proof bundle, and see each check pass or fail.

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

from . import i18n
from .actor import ActionRefused, Actor, has_accounts, parse_day, session_actor
from .i18n import N_
from .tables import CSS, downloads, table_html
from .render import esc

log = logging.getLogger(__name__)

FORMATS = ("json", "xlsx", "pdf")
#: a ledger status (:func:`ledger_status`) as the page shows it
LEDGER_TEXT = {"anchored": N_("anchored on chain")}


def reports_dir(cfg: Config) -> Path:
    return Path(cfg.paths.data_dir) / "reports" / "web"


def ledger_status(batch: int | None, anchor: dict | None) -> str:
    """``anchored`` when the newest anchor's tree holds the batch, ``in ledger, not yet anchored``, or
    ``queued for the collector`` (no batch yet)."""
    if batch is None:
        return N_("queued for the collector")
    if anchor and int(anchor.get("tree_size", 0)) > batch:
        return "anchored"
    return N_("in ledger, not yet anchored")


def issue_reports(cfg: Config, who: Actor | None, start: dt.date, end: dt.date, formats, reason: str,
                  lang: str = "en") -> pd.DataFrame:
    """Issue the reports of ``[start, end]`` (inclusive days) as ``who``; one row per file: name, sha256, size,
    batch, status. Raises :class:`ActionRefused` with one line for the person, in ``lang``."""
    from models.reports.issue import issue

    from .feeds import last_anchor

    _ = i18n.gettext_for(lang)
    if who is None:
        raise ActionRefused(_("log in (or type your name) first: a report names who issued it"))
    if not who.may("report"):
        raise ActionRefused(_("{person} ({role}) may not issue reports (needs permission report)").format(
            person=who.name, role=who.role))
    if start is None or end is None or end < start:
        raise ActionRefused(_("give the period's first and last day, the last not before the first"))
    fmts = tuple(f for f in FORMATS if f in set(formats))
    if not fmts:
        raise ActionRefused(_("choose at least one format ({formats})").format(formats=", ".join(FORMATS)))
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
                         "on disk": N_("unchanged") if ok else N_("changed or missing")})
    return pd.DataFrame(rows).set_index("period") if rows else pd.DataFrame()


def may_check(cfg: Config, who: Actor | None, lang: str = "en") -> None:
    """On a server with accounts, the session's account (checked again now) must hold ``page.reports``."""
    if has_accounts(cfg) and (who is None or not who.may("page.reports")):
        raise ActionRefused(i18n.gettext_for(lang)("log in with an account that may see reports (needs permission "
                                                   "page.reports)"))


def check_html(cfg: Config, v, report_name: str, report: bytes) -> str:
    """The report's own hashes, then the verifier's verdict and checks (:func:`dashboards.render.verification`)."""
    from .render import verification

    sha = hashlib.sha256(report).hexdigest()
    failed = v.report.failed
    return (f'<div data-check-report="{esc(report_name)}" data-failed="{esc(failed or "")}">'
            f'<p><b>{esc(report_name)}</b>: {len(report):,} bytes, SHA-256 <code data-report-sha256="{sha}">{sha}'
            f'</code></p>' + verification(v) + "</div>")


def issue_folders(cfg: Config) -> list[str]:
    """The issues' folders (``<first day>_<last day>``), newest first."""
    return sorted((p.parent.name for p in reports_dir(cfg).glob("*/SHA256SUMS")), reverse=True)


class ReportsPage(pn.viewable.Viewer):
    """The reports page of one session."""

    result = param.String(default="")
    checked = param.String(default="", doc="the last hash check (HTML)")
    tick = param.Integer(default=0)

    def __init__(self, cfg: Config, query: dict | None = None, lang: str = "en", **params):
        self.lang = i18n.language(lang)
        self._cfg = cfg
        self._ = _ = i18n.gettext_for(self.lang)
        super().__init__(**params)
        today = dt.datetime.now(ZoneInfo(cfg.site.plant.timezone)).date()
        first = today.replace(day=1)
        self._name = pn.widgets.TextInput(name=_("Your name"), visible=not has_accounts(cfg))
        self._start = pn.widgets.TextInput(name=_("First day (YYYY-MM-DD)"), value=first.isoformat(), width=190)
        self._end = pn.widgets.TextInput(name=_("Last day (YYYY-MM-DD)"), value=today.isoformat(), width=190)
        self._formats = pn.widgets.CheckButtonGroup(name=_("Formats"), options=list(FORMATS), value=list(FORMATS))
        self._reason = pn.widgets.TextInput(name=_("Reason"), placeholder=_("e.g. monthly report to the board"))
        self._go = pn.widgets.Button(name=_("Issue reports"), button_type="primary", width=170)
        self._go.on_click(lambda _e: self.do_issue())
        self._files: list[Path] = []
        folders = issue_folders(cfg)
        q = dict(query or {})
        self._folder = pn.widgets.Select(name=_("Issued reports of"), options=folders,
                                         value=q.get("period") if q.get("period") in folders else
                                         (folders[0] if folders else None), width=260)
        self._pick = pn.widgets.Select(name=_("Report to check"), options=self._folder_files(self._folder.value),
                                       width=420)
        self._folder.param.watch(lambda e: setattr(self._pick, "options", self._folder_files(e.new)), "value")
        self._check_pick = pn.widgets.Button(name=_("Check this report"), button_type="primary", width=190)
        self._up_report = pn.widgets.FileInput(name=_("Report file"), accept=".json,.xlsx,.pdf", multiple=False)
        self._up_batch = pn.widgets.FileInput(name=_("Document batch"), accept=".json,.tjb", multiple=False)
        self._up_bundle = pn.widgets.FileInput(name=_("Proof bundle"), accept=".json", multiple=False)
        self._check_up = pn.widgets.Button(name=_("Check the dropped files"), button_type="primary", width=220)
        self._check_pick.on_click(lambda _e: self.do_check_issued())
        self._check_up.on_click(lambda _e: self.do_check_upload())

    def _folder_files(self, folder: str | None) -> list[str]:
        if not folder:
            return []
        sums = reports_dir(self._cfg) / folder / "SHA256SUMS"
        return [ln.split("  ", 1)[1] for ln in sums.read_text().splitlines() if "  " in ln] if sums.exists() else []

    def _issued_sha(self, folder: str, name: str) -> str | None:
        sums = reports_dir(self._cfg) / folder / "SHA256SUMS"
        for ln in sums.read_text().splitlines() if sums.exists() else []:
            if "  " in ln and ln.split("  ", 1)[1] == name:
                return ln.split("  ", 1)[0]
        return None

    def do_check_issued(self) -> None:
        from .reports_check import check_issued

        folder, name = self._folder.value, self._pick.value
        try:
            may_check(self._cfg, session_actor(self._cfg, self._name.value), self.lang)
            if not folder or not name:
                raise ActionRefused(self._("pick an issued report first"))
            path = reports_dir(self._cfg) / folder / name
            v = check_issued(self._cfg, path, self._issued_sha(folder, name))
            self.checked = check_html(self._cfg, v, name, path.read_bytes())
        except ActionRefused as exc:
            self.checked = f'<p class="tj-note" data-refused="check">{esc(exc)}</p>'
        self.tick += 1

    def do_check_upload(self) -> None:
        from .reports_check import check_report

        rep, batch, bundle = self._up_report.value, self._up_batch.value, self._up_bundle.value
        try:
            may_check(self._cfg, session_actor(self._cfg, self._name.value), self.lang)
            if not (rep and batch and bundle):
                raise ActionRefused(self._("drop the report, its document batch and the batch's proof bundle first"))
            name = Path(self._up_report.filename or "report").name
            v = check_report(self._cfg, rep, name, batch, bundle)
            self.checked = check_html(self._cfg, v, name, rep)
        except ActionRefused as exc:
            self.checked = f'<p class="tj-note" data-refused="check">{esc(exc)}</p>'
        self.tick += 1

    def do_issue(self) -> None:
        _, lang = self._, self.lang
        who = session_actor(self._cfg, self._name.value)
        try:
            start, end = parse_day(self._start.value, "first day"), parse_day(self._end.value, "last day")
            df = issue_reports(self._cfg, who, start, end, self._formats.value, self._reason.value or "",
                               lang)
        except ActionRefused as exc:
            self.result = f'<p class="tj-note" data-refused="report">{esc(exc)}</p>'
        else:
            folder = reports_dir(self._cfg) / f"{start}_{end}"
            self._files = [folder / f for f in df.index]
            self._folder.options = issue_folders(self._cfg)
            self._folder.value = folder.name
            self._pick.options = self._folder_files(folder.name)
            shown = df.assign(ledger=df["ledger"].map(lambda v: _(LEDGER_TEXT.get(v, v)))) if len(df) else df
            self.result = (f'<p data-done="report" data-files="{len(df)}">'
                           + esc(_("{n} file(s) issued by {person}").format(n=i18n.number(len(df), lang),
                                                                             person=who.name)) + "</p>"
                           + table_html(shown, "issued-now", lang=lang, label=_("Issued reports")))
        self.tick += 1

    @param.depends("tick")
    def _output(self):
        _, lang = self._, self.lang
        files = [pn.widgets.FileDownload(file=str(p), filename=p.name, label=p.name, width=330)
                 for p in self._files if p.exists()]
        df = issued(self._cfg)
        title = _("Issued reports")
        shown = df.assign(**{"on disk": df["on disk"].map(_)}) if len(df) else df
        return pn.Column(pn.pane.HTML(self.result, stylesheets=[CSS], sizing_mode="stretch_width"),
                         pn.FlexBox(*files),
                         pn.pane.HTML(f"<h4>{esc(title)}</h4>" + (table_html(shown, "issued", lang=lang, label=title)
                                                                  if len(df) else f"<p>{esc(_('none yet'))}</p>") +
                                      f'<p>{esc(_("Check a copy against its proof:"))} <a href="/verify?lang={lang}">'
                                      f'{esc(_("proof verifier"))}</a></p>', stylesheets=[CSS],
                                      sizing_mode="stretch_width"),
                         *([downloads(df, "issued-reports", lang)] if len(df) else []),
                         sizing_mode="stretch_width")

    @param.depends("tick")
    def _checked(self):
        from .verifier import CSS as VERIFY_CSS

        return pn.pane.HTML(self.checked, stylesheets=[VERIFY_CSS], sizing_mode="stretch_width")

    def _downloads(self, folder: str | None):
        """Every file of an issue with its format and SHA-256, each downloadable."""
        _ = self._
        if not folder:
            return pn.pane.HTML(f"<p>{esc(_('none yet'))}</p>")
        items = []
        for name in self._folder_files(folder):
            p = reports_dir(self._cfg) / folder / name
            sha = self._issued_sha(folder, name) or ""
            items.append(pn.Column(
                pn.widgets.FileDownload(file=str(p), filename=name, label=f"{p.suffix[1:].upper()} · {name}",
                                        width=330) if p.exists() else pn.pane.HTML(f"<p>{esc(name)}: {esc(_('missing'))}</p>"),
                pn.pane.HTML(f'<p class="tj-note" data-download="{esc(name)}" style="overflow-wrap:anywhere">SHA-256 '
                             f'<code>{esc(sha)}</code></p>',
                             stylesheets=[CSS], width=330), width=340))
        return pn.FlexBox(*items)

    def __panel__(self):
        _ = self._
        return pn.Column(f"#### {_('GHG reports')}", self._name, pn.FlexBox(self._start, self._end),
                         self._formats, self._reason, self._go, self._output,
                         f"#### {_('Downloads by format, with their hashes')}", self._folder,
                         pn.bind(self._downloads, self._folder),
                         f"#### {_('Hash check of a report')}",
                         pn.pane.Markdown(_("Pick an issued report, or drop a report file with the document batch "
                                            "that records its hash and that batch's proof bundle."),
                                          sizing_mode="stretch_width"),
                         pn.FlexBox(self._pick, self._check_pick),
                         pn.FlexBox(pn.Column(self._up_report), pn.Column(self._up_batch), pn.Column(self._up_bundle)),
                         self._check_up, self._checked, sizing_mode="stretch_width")


def view(ctx):
    """The page for the app shell (:mod:`dashboards.registry`)."""
    return ReportsPage(ctx.cfg, dict(ctx.query), lang=ctx.lang)
