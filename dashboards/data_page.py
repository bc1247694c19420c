"""The data-collection page, in four tabs (``?tab=`` of the URL): the enterprise's base information with the import
of business files (the ERP output, settlement statements, invoices) in the browser, every row problem shown as
``file:row:column: message``, and the files imported so far; manual vouchers for purchased resources
(:mod:`dashboards.data_vouchers`); the IoT collection status and device health with the hand-reading page and
each meter's QR label (:mod:`dashboards.data_health`); the measured emission factors with their evidence
(:mod:`dashboards.data_factors`).

The import goes through :func:`workspace.business.imports.import_file` (the same as ``tanjian import``: a file
with a bad row is refused whole unless the good rows are accepted; the same bytes twice change nothing; the file
is kept as evidence and its hash queued for the ledger), after the server checked the person's ``import``
permission, and is recorded in the audit trail (``import``).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import pandas as pd
import panel as pn
import param

from workspace.config import Config
from workspace.errors import TanjianError

from . import i18n
from .actor import ActionRefused, Actor, has_accounts, session_actor
from .i18n import N_
from .tables import CSS, downloads, table_html
from .render import esc

log = logging.getLogger(__name__)

MAX_BYTES = 20 * 1024 * 1024  # a business file larger than this is refused before it is read [bytes]


def base_info(site, lang: str = "en") -> pd.DataFrame:
    """The enterprise and plant as the site model records them, the fields named in ``lang``."""
    _ = i18n.gettext_for(lang)
    e, p = site.enterprise, site.plant
    rows = {N_("Enterprise"): e.name, N_("Chinese name"): getattr(e, "name_zh", None) or "",
            N_("Unified social credit code"): getattr(e, "credit_code", None) or "",
            N_("Plant"): f"{p.id} {i18n.site_name(p, lang)}", N_("Time zone"): p.timezone,
            N_("Workshops"): len(site.workshops), N_("Devices"): len(site.devices), N_("Meters"): len(site.meters)}
    return pd.DataFrame({"value": [str(v) for v in rows.values()]},
                        index=pd.Index([_(k) for k in rows], name="field"))


def import_upload(cfg: Config, who: Actor | None, name: str, data: bytes, mapping: str, *,
                  accept_good_rows: bool = False, reason: str = "", lang: str = "en"):
    """Import the uploaded file ``name`` (its bytes ``data``) with ``mapping`` as ``who``.

    Returns ``(ImportResult, [])`` or ``(None, problems)`` where ``problems`` are ``file:row:column: message``
    lines (nothing imported). Raises :class:`ActionRefused` for the person's mistakes before the file is read,
    in ``lang`` (the importer's own messages name file, row and column as the command line does).
    """
    from workspace import audit
    from workspace.business.imports import import_file
    from workspace.business.sheets import ActivityFileError, format_problem

    _ = i18n.gettext_for(lang)
    if who is None:
        raise ActionRefused(_("log in (or type your name) first: the import names who imported the file"))
    if not who.may("import"):
        raise ActionRefused(_("{person} ({role}) may not import business files (needs permission import)")
                            .format(person=who.name, role=who.role))
    if not data:
        raise ActionRefused(_("choose a file first"))
    if len(data) > MAX_BYTES:
        raise ActionRefused(_("{file}: {size} bytes; at most {limit}").format(
            file=name, size=i18n.number(len(data), lang), limit=i18n.number(MAX_BYTES, lang)))
    if mapping not in cfg.imports:
        raise ActionRefused(_("no import mapping '{mapping}'; mappings: {mappings}").format(
            mapping=mapping, mappings=", ".join(sorted(cfg.imports))))
    safe = Path(name or "upload").name or "upload"  # the name only, never a path the browser sent
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / safe
        path.write_bytes(data)
        try:
            r = import_file(cfg, path, mapping, author=who.name, reason=reason.strip() or None,
                            accept_good_rows=accept_good_rows)
        except ActivityFileError as exc:
            return None, [format_problem(p) for p in exc.problems]
        except TanjianError as exc:
            raise ActionRefused(str(exc)) from None
    if r.status == "imported":
        audit.record(cfg.paths.data_dir, who.name, "import", f"{safe} sha256 {r.sha256} mapping {mapping}",
                     reason.strip() or f"import of {safe}")
    return r, []


def imports_table(cfg: Config) -> pd.DataFrame:
    """The imported files, newest first (:func:`workspace.business.imports.list_imports`)."""
    from workspace.business.imports import list_imports

    rows = list_imports(cfg.paths.data_dir)
    if not rows:
        return pd.DataFrame()
    df = pd.DataFrame(rows)[["time", "file", "mapping", "records", "rejected", "author", "sha256"]]
    df["sha256"] = df["sha256"].str[:16]
    return df.iloc[::-1].set_index("time")


class DataPage(pn.viewable.Viewer):
    """The data-collection page of one session."""

    result = param.String(default="", doc="the last import's outcome (HTML)")
    tick = param.Integer(default=0)

    def __init__(self, cfg: Config, query: dict | None = None, lang: str = "en", **params):
        self.lang = i18n.language(lang)
        self._cfg, self._query = cfg, dict(query or {})
        self._ = _ = i18n.gettext_for(self.lang)
        super().__init__(**params)
        self._name = pn.widgets.TextInput(name=_("Your name"), visible=not has_accounts(cfg))
        self._file = pn.widgets.FileInput(name=_("File"), accept=".csv,.xlsx", multiple=False)
        self._mapping = pn.widgets.Select(name=_("Mapping"), options=sorted(cfg.imports), width=220)
        self._good = pn.widgets.Select(name=_("A file with bad rows"),
                                       options={_("refuse it whole"): False,
                                                _("import the good rows and list the bad ones"): True},
                                       value=False, width=360)
        self._reason = pn.widgets.TextInput(name=_("Reason"), placeholder=_("e.g. October ERP output"))
        self._go = pn.widgets.Button(name=_("Import"), button_type="primary", width=140)
        self._go.on_click(lambda _e: self.do_import())

    def do_import(self) -> None:
        _, lang = self._, self.lang
        who = session_actor(self._cfg, self._name.value)
        try:
            r, problems = import_upload(self._cfg, who, self._file.filename or "", self._file.value or b"",
                                        self._mapping.value, accept_good_rows=self._good.value,
                                        reason=self._reason.value or "", lang=lang)
        except ActionRefused as exc:
            self.result = f'<p class="tj-note" data-refused="import">{esc(exc)}</p>'
        else:
            if r is None:
                items = "".join(f"<li>{esc(p)}</li>" for p in problems)
                self.result = (f'<p class="tj-note" data-problems="{len(problems)}">{len(problems)} '
                               f'{esc(_("problem(s); nothing was imported"))}:</p><ul>{items}</ul>')
            elif r.status == "already":
                self.result = (f'<p data-done="already">' + esc(_("already imported on {when} by {person}: nothing "
                               "changed").format(when=r.imported_at, person=r.author)) + "</p>")
            else:
                left = "".join(f"<li>{esc(x)}</li>" for x in r.rejected + r.repeated)
                self.result = (f'<p data-done="import" data-records="{r.records}">'
                               + esc(_("{n} record(s) imported (sha256 {sha}…); the file is kept as evidence and its "
                                       "hash queued for the ledger").format(n=i18n.number(r.records, lang),
                                                                            sha=r.sha256[:16])) + "</p>"
                               + (f"<p>{esc(_('left out'))}:</p><ul>{left}</ul>" if left else ""))
        self.tick += 1

    @param.depends("tick", "result")
    def _imports(self):
        _, lang = self._, self.lang
        df = imports_table(self._cfg)
        title = _("Imported files")
        body = (table_html(df, "imports", lang=lang, label=title) if len(df)
                else f"<p>{esc(_('no files imported yet'))}</p>")
        return pn.Column(pn.pane.HTML(self.result, stylesheets=[CSS], sizing_mode="stretch_width"),
                         pn.pane.HTML(f"<h4>{esc(title)}</h4>" + body, stylesheets=[CSS],
                                      sizing_mode="stretch_width"),
                         *([downloads(df, "imports", lang)] if len(df) else []), sizing_mode="stretch_width")

    def _section(self, tab: str):
        from .data_factors import FactorSection
        from .data_health import HealthSection
        from .data_vouchers import VoucherSection

        _, lang = self._, self.lang
        if tab == "vouchers":
            return VoucherSection(self._cfg, self._name, lang=lang)
        if tab == "devices":
            return HealthSection(self._cfg, lang=lang, meter=self._query.get("meter"))
        if tab == "factors":
            return FactorSection(self._cfg, self._name, lang=lang)
        title = _("Enterprise base information")
        return pn.Column(
            pn.pane.HTML(f"<h4>{esc(title)}</h4>" + table_html(base_info(self._cfg.site, lang), "base", lang=lang,
                                                                label=title),
                         stylesheets=[CSS], sizing_mode="stretch_width"),
            pn.pane.HTML(f'<p>{esc(_("Meters without a data interface:"))} <a href="/readings?lang={lang}">'
                         f'{esc(_("hand reading with a photo"))}</a></p>', sizing_mode="stretch_width"),
            f"#### {_('Import a business file')} (CSV, XLSX)",
            pn.FlexBox(self._mapping, self._file), self._good, self._reason, self._go, self._imports,
            sizing_mode="stretch_width")

    def __panel__(self):
        _ = self._
        titles = {"imports": _("Enterprise and imports"), "vouchers": _("Manual vouchers"),
                  "devices": _("Devices and collection"), "factors": _("Measured factors")}
        keys = list(titles)
        first = self._query.get("tab") if self._query.get("tab") in titles else "imports"
        # built when first shown: one file input in the document at a time, and no device scan unless asked
        tabs = pn.Tabs(*[(titles[k], pn.Column(sizing_mode="stretch_width")) for k in keys], active=keys.index(first),
                       dynamic=True, sizing_mode="stretch_width")

        def show(event=None):
            k = keys[tabs.active]
            box = tabs[tabs.active]
            if not box.objects:
                box.objects = [self._section(k)]
        tabs.param.watch(show, "active")
        show()
        return pn.Column(self._name, tabs, sizing_mode="stretch_width")


def view(ctx):
    """The page for the app shell (:mod:`dashboards.registry`)."""
    return DataPage(ctx.cfg, dict(ctx.query), lang=ctx.lang)
