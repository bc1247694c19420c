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

from .actor import ActionRefused, Actor, has_accounts, session_actor
from .tables import CSS, table_html
from .render import esc

log = logging.getLogger(__name__)

MAX_BYTES = 20 * 1024 * 1024  # a business file larger than this is refused before it is read [bytes]


def base_info(site) -> pd.DataFrame:
    """The enterprise and plant as the site model records them."""
    e, p = site.enterprise, site.plant
    rows = {"enterprise": e.name, "企业名称": getattr(e, "name_zh", None) or "", "credit code 统一社会信用代码":
            getattr(e, "credit_code", None) or "", "plant": f"{p.id} {p.name}", "timezone": p.timezone,
            "workshops": len(site.workshops), "devices": len(site.devices), "meters": len(site.meters)}
    return pd.DataFrame({"value": [str(v) for v in rows.values()]}, index=pd.Index(list(rows), name="field"))


def import_upload(cfg: Config, who: Actor | None, name: str, data: bytes, mapping: str, *,
                  accept_good_rows: bool = False, reason: str = ""):
    """Import the uploaded file ``name`` (its bytes ``data``) with ``mapping`` as ``who``.

    Returns ``(ImportResult, [])`` or ``(None, problems)`` where ``problems`` are ``file:row:column: message``
    lines (nothing imported). Raises :class:`ActionRefused` for the person's mistakes before the file is read.
    """
    from workspace import audit
    from workspace.business.imports import import_file
    from workspace.business.sheets import ActivityFileError, format_problem

    if who is None:
        raise ActionRefused("log in (or type your name) first: the import names who imported the file")
    if not who.may("import"):
        raise ActionRefused(f"{who.name} ({who.role}) may not import business files (needs permission import)")
    if not data:
        raise ActionRefused("choose a file first 请选择文件")
    if len(data) > MAX_BYTES:
        raise ActionRefused(f"{name}: {len(data):,} bytes; at most {MAX_BYTES:,}")
    if mapping not in cfg.imports:
        raise ActionRefused(f"no import mapping {mapping!r}; mappings: {', '.join(sorted(cfg.imports))}")
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

    def __init__(self, cfg: Config, query: dict | None = None, _=lambda s: s, **params):
        self._cfg, self._, self._query = cfg, _, dict(query or {})
        super().__init__(**params)
        self._name = pn.widgets.TextInput(name="Your name 姓名", visible=not has_accounts(cfg))
        self._file = pn.widgets.FileInput(name="File 文件", accept=".csv,.xlsx", multiple=False)
        self._mapping = pn.widgets.Select(name="Mapping 映射", options=sorted(cfg.imports), width=220)
        self._good = pn.widgets.Select(name="A file with bad rows 有错误行的文件",
                                       options={"refuse it whole 整个拒绝": False,
                                                "import the good rows, list the bad ones 仅导入正确行": True},
                                       value=False, width=360)
        self._reason = pn.widgets.TextInput(name="Reason 原因", placeholder="e.g. October ERP output")
        self._go = pn.widgets.Button(name="Import 导入", button_type="primary", width=140)
        self._go.on_click(lambda _e: self.do_import())

    def do_import(self) -> None:
        who = session_actor(self._cfg, self._name.value)
        try:
            r, problems = import_upload(self._cfg, who, self._file.filename or "", self._file.value or b"",
                                        self._mapping.value, accept_good_rows=self._good.value,
                                        reason=self._reason.value or "")
        except ActionRefused as exc:
            self.result = f'<p class="tj-note" data-refused="import">{esc(exc)}</p>'
        else:
            if r is None:
                items = "".join(f"<li>{esc(p)}</li>" for p in problems)
                self.result = (f'<p class="tj-note" data-problems="{len(problems)}">{len(problems)} problem(s); '
                               f'nothing was imported 有错误，未导入:</p><ul>{items}</ul>')
            elif r.status == "already":
                self.result = (f'<p data-done="already">already imported on {esc(r.imported_at)} by '
                               f'{esc(r.author)}: nothing changed 已导入过</p>')
            else:
                left = "".join(f"<li>{esc(x)}</li>" for x in r.rejected + r.repeated)
                self.result = (f'<p data-done="import" data-records="{r.records}">{r.records} record(s) imported '
                               f'(sha256 <code>{esc(r.sha256[:16])}</code>…); the file is kept as evidence and its '
                               f'hash queued for the ledger</p>' + (f"<p>left out 未导入:</p><ul>{left}</ul>" if left
                                                                   else ""))
        self.tick += 1

    @param.depends("tick", "result")
    def _imports(self):
        df = imports_table(self._cfg)
        body = table_html(df, "imports") if len(df) else "<p>no files imported yet 尚未导入文件</p>"
        return pn.Column(pn.pane.HTML(self.result, stylesheets=[CSS], sizing_mode="stretch_width"),
                         pn.pane.HTML("<h4>Imported files 已导入文件</h4>" + body, stylesheets=[CSS],
                                      sizing_mode="stretch_width"), sizing_mode="stretch_width")

    def _section(self, tab: str):
        from .data_factors import FactorSection
        from .data_health import HealthSection
        from .data_vouchers import VoucherSection

        if tab == "vouchers":
            return VoucherSection(self._cfg, self._name, self._)
        if tab == "devices":
            return HealthSection(self._cfg, self._, meter=self._query.get("meter"))
        if tab == "factors":
            return FactorSection(self._cfg, self._name, self._)
        return pn.Column(
            pn.pane.HTML("<h4>Enterprise 企业基本信息</h4>" + table_html(base_info(self._cfg.site), "base"),
                         stylesheets=[CSS], sizing_mode="stretch_width"),
            pn.pane.HTML('<p>Meters without a data interface: <a href="/readings">hand reading with a photo '
                         '人工抄表</a></p>', sizing_mode="stretch_width"),
            "#### Import a business file 导入业务文件 (CSV, XLSX)",
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
    return DataPage(ctx.cfg, dict(ctx.query), _=ctx.gettext)
