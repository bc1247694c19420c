"""The data-collection page's manual vouchers for purchased resources (fuel, purchased heat or steam, an electricity
bill): typed line by line with the voucher's scan, imported through :func:`workspace.business.vouchers.enter_voucher`
(the import path of ``tanjian import``: row problems shown as ``file:row:column: message``), after the server
checked the person's ``import`` permission, and recorded in the audit trail (``import``, naming the voucher); the vouchers imported
so far with who entered them and when.
"""

from __future__ import annotations

import logging

import pandas as pd
import panel as pn
import param

from workspace.config import Config
from workspace.errors import TanjianError

from . import i18n
from .actor import ActionRefused, Actor, session_actor
from .render import esc
from .tables import CSS, downloads, table_html

log = logging.getLogger(__name__)


def scan_type(data: bytes) -> str:
    """The scan's media type from its bytes: PDF or an image the hand-reading page accepts."""
    from workspace.business.manual import photo_media_type

    if data[:5] == b"%PDF-":
        return "application/pdf"
    try:
        return photo_media_type(data)
    except TanjianError:
        raise ActionRefused("the scan is not a PDF, JPEG, PNG, WebP or HEIC file") from None


def enter_as(cfg: Config, who: Actor | None, *, number: str, supplier: str, start: str, end: str, lines: list,
             scan: bytes, scan_name: str, accept_good_rows: bool = False, reason: str = ""):
    """Enter a voucher as ``who``: ``(ImportResult, [])`` or ``(None, problems)`` (``file:row:column: message``
    lines, nothing imported). Raises :class:`ActionRefused` for the person's mistakes before anything is read."""
    from workspace import audit
    from workspace.business.sheets import ActivityFileError, format_problem
    from workspace.business.vouchers import enter_voucher

    if who is None:
        raise ActionRefused("log in (or type your name) first: a voucher names who entered it")
    if not who.may("import"):
        raise ActionRefused(f"{who.name} ({who.role}) may not enter vouchers (needs permission import)")
    if not scan:
        raise ActionRefused("attach the voucher's scan (PDF or image) as evidence")
    media = scan_type(scan)
    try:
        r = enter_voucher(cfg, author=who.name, number=number, supplier=supplier, period_start=start,
                          period_end=end, lines=lines, scan=scan, scan_name=scan_name, scan_type=media,
                          accept_good_rows=accept_good_rows, reason=reason.strip() or None)
    except ActivityFileError as exc:
        return None, [format_problem(p) for p in exc.problems]
    except TanjianError as exc:
        raise ActionRefused(str(exc)) from None
    if r.status == "imported":
        audit.record(cfg.paths.data_dir, who.name, "import",
                     f"{r.document.name} sha256 {r.sha256} voucher {number.strip()} from {supplier.strip()}",
                     reason.strip() or f"manual voucher {number.strip()}")
    return r, []


def vouchers_table(cfg: Config) -> pd.DataFrame:
    """The imported voucher lines, newest first, with who entered them and when."""
    from workspace.business.vouchers import list_vouchers

    rows = list_vouchers(cfg.paths.data_dir)
    if not rows:
        return pd.DataFrame()
    df = pd.DataFrame(rows)
    df["time"] = df["time"].str[:19].str.replace("T", " ") + "Z"
    df["sha256"] = df["sha256"].str[:16]
    return df.set_index("time")


class VoucherSection(pn.viewable.Viewer):
    """The voucher form of one session: lines added one by one, then the voucher entered as a whole."""

    result = param.String(default="")
    tick = param.Integer(default=0)

    def __init__(self, cfg: Config, name_input: pn.widgets.TextInput, lang: str = "en", **params):
        from workspace.business.vouchers import RESOURCES

        self.lang = i18n.language(lang)
        self._cfg, self._who_name = cfg, name_input
        self._ = _ = i18n.gettext_for(self.lang)
        super().__init__(**params)
        self._lines: list = []
        self._number = pn.widgets.TextInput(name=_("Voucher number"), width=200)
        self._supplier = pn.widgets.TextInput(name=_("Supplier"), width=260)
        self._start = pn.widgets.TextInput(name=_("Period start (YYYY-MM-DD)"), width=190)
        self._end = pn.widgets.TextInput(name=_("Period end (YYYY-MM-DD)"), width=190)
        self._resource = pn.widgets.Select(name=_("Resource"), options=list(RESOURCES), width=260)
        self._quantity = pn.widgets.TextInput(name=_("Quantity"), width=140)
        self._unit = pn.widgets.TextInput(name=_("Unit"), placeholder="t, Nm3, GJ, kWh", width=120)
        self._add = pn.widgets.Button(name=_("Add line"), width=120)
        self._clear = pn.widgets.Button(name=_("Clear lines"), width=120)
        self._scan = pn.widgets.FileInput(name=_("Scan of the voucher"), accept=".pdf,.jpg,.jpeg,.png,.webp",
                                          multiple=False)
        self._good = pn.widgets.Select(name=_("A voucher with bad lines"),
                                       options={_("refuse it whole"): False,
                                                _("import the good lines and list the bad ones"): True},
                                       value=False, width=360)
        self._go = pn.widgets.Button(name=_("Enter voucher"), button_type="primary", width=160)
        self._add.on_click(lambda _e: self.add_line())
        self._clear.on_click(lambda _e: self.clear_lines())
        self._go.on_click(lambda _e: self.do_enter())

    def add_line(self) -> None:
        from workspace.business.vouchers import VoucherLine

        self._lines.append(VoucherLine(self._resource.value, self._quantity.value or "", self._unit.value or ""))
        self._quantity.value = ""
        self.tick += 1

    def clear_lines(self) -> None:
        self._lines = []
        self.tick += 1

    def do_enter(self) -> None:
        _ = self._
        who = session_actor(self._cfg, self._who_name.value)
        try:
            r, problems = enter_as(self._cfg, who, number=self._number.value or "", supplier=self._supplier.value or "",
                                   start=self._start.value or "", end=self._end.value or "", lines=list(self._lines),
                                   scan=self._scan.value or b"", scan_name=self._scan.filename or "",
                                   accept_good_rows=self._good.value)
        except ActionRefused as exc:
            self.result = f'<p class="tj-note" data-refused="voucher">{esc(exc)}</p>'
        else:
            if r is None:
                items = "".join(f'<li data-problem="voucher">{esc(p)}</li>' for p in problems)
                self.result = (f'<p class="tj-note" data-problems="{len(problems)}">{len(problems)} '
                               f'{esc(_("problem(s); nothing was imported"))}:</p><ul>{items}</ul>')
            elif r.status == "already":
                self.result = f'<p data-done="already">{esc(_("already imported: nothing changed"))}</p>'
            else:
                left = "".join(f'<li data-problem="voucher">{esc(x)}</li>' for x in r.rejected + r.repeated)
                self.result = (f'<p data-done="voucher" data-records="{r.records}">{r.records} '
                               f'{esc(_("line(s) imported"))} (sha256 <code>{esc(r.sha256[:16])}</code>…)</p>'
                               + (f"<p>{esc(_('left out'))}:</p><ul>{left}</ul>" if left else ""))
                self._lines = []
        self.tick += 1

    @param.depends("tick")
    def _pending(self):
        _, lang = self._, self.lang
        if self._lines:
            df = pd.DataFrame([{"line": k + 1, "resource": ln.resource, "quantity": ln.quantity, "unit": ln.unit}
                               for k, ln in enumerate(self._lines)]).set_index("line")
            body = table_html(df, "voucher-lines", lang=lang, label=_("Lines of this voucher"))
        else:
            body = f"<p>{esc(_('no line yet'))}</p>"
        vt = vouchers_table(self._cfg)
        listed = table_html(vt, "vouchers", lang=lang, label=_("Vouchers entered")) if len(vt) else f"<p>{esc(_('no voucher entered yet'))}</p>"
        return pn.Column(pn.pane.HTML(f"<h5>{esc(_('Lines of this voucher'))}</h5>" + body, stylesheets=[CSS],
                                      sizing_mode="stretch_width"),
                         pn.pane.HTML(self.result, stylesheets=[CSS], sizing_mode="stretch_width"),
                         pn.pane.HTML(f"<h4>{esc(_('Vouchers entered'))}</h4>" + listed, stylesheets=[CSS],
                                      sizing_mode="stretch_width"),
                         *([downloads(vt, "vouchers", lang)] if len(vt) else []), sizing_mode="stretch_width")

    def __panel__(self):
        _ = self._
        return pn.Column(f"#### {_('Manual vouchers for purchased resources')}",
                         pn.FlexBox(self._number, self._supplier, self._start, self._end),
                         pn.FlexBox(self._resource, self._quantity, self._unit, self._add, self._clear),
                         self._scan, self._good, self._go, self._pending, sizing_mode="stretch_width")
