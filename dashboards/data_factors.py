"""The data-collection page's measured emission factors: the plant's lab values in use (the workspace's file
:func:`models.factors.measured_file.measured_path`, given to ``tanjian inventory --measured``), each with value,
unit, period, lab, report and the SHA-256 of its evidence (and whether the evidence store holds it); and a new
one added after the checks of the command line (:func:`models.factors.measured_file.add_measured`), with the
lab report uploaded into the evidence store or its hash typed. The server checks ``factor.measured`` at the
moment of the action; the audit trail records ``factor_change``.
"""

from __future__ import annotations

import hashlib
import logging
import re

import pandas as pd
import panel as pn
import param

from workspace.config import Config

from . import i18n
from .actor import ActionRefused, Actor, session_actor
from .render import esc
from .tables import CSS, downloads, table_html

log = logging.getLogger(__name__)
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def add_as(cfg: Config, who: Actor | None, row: dict, evidence: bytes = b"", evidence_name: str = "",
           reason: str = ""):
    """Add the measured factor ``row`` as ``who``; the lab report ``evidence`` (bytes) gives the hash when
    uploaded (a typed ``evidence_sha256`` must then be the same). Returns the :class:`MeasuredFactor`.

    Raises
    ------
    ActionRefused
        No person, no permission, evidence and typed hash disagreeing, or the checks' problems (every one,
        ``measured.csv:line:column: message``); nothing is written then.
    """
    from models.errors import InventoryError
    from models.factors.measured_file import add_measured
    from workspace import audit
    from workspace.evidence import EvidenceStore

    if who is None:
        raise ActionRefused("log in (or type your name) first: a measured factor names who added it")
    if not who.may("factor.measured"):
        raise ActionRefused(f"{who.name} ({who.role}) may not add measured factors (needs permission "
                            f"factor.measured)")
    row = {k: str(v or "").strip() for k, v in row.items()}
    if evidence:
        sha = hashlib.sha256(evidence).hexdigest()
        typed = row.get("evidence_sha256", "").lower()
        if typed and typed != sha:
            raise ActionRefused(f"evidence_sha256: the typed hash {typed[:16]}… is not the uploaded report's "
                                f"{sha[:16]}…")
        row["evidence_sha256"] = sha
    try:
        m = add_measured(cfg.paths.data_dir, row)
    except InventoryError as exc:
        raise ActionRefused(str(exc)) from None
    if evidence:
        EvidenceStore(cfg.paths.evidence).put(evidence, name=evidence_name or f"{m.report}.pdf",
                                              media_type="application/pdf" if evidence[:5] == b"%PDF-"
                                              else "application/octet-stream", author=who.name,
                                              reason=f"lab report {m.report} of measured {m.factor_id}")
    audit.record(cfg.paths.data_dir, who.name, "factor_change",
                 f"{m.factor_id} = {m.value:g} {m.unit} {m.applies_from}..{m.applies_to} evidence {m.evidence_sha256}",
                 reason.strip() or f"lab report {m.report} by {m.lab}")
    return m


def factors_table(cfg: Config) -> pd.DataFrame:
    """The workspace's measured factors: value, unit, period, lab, report, evidence hash, evidence held
    (``yes``/``no``; the page shows them in its language)."""
    from models.factors.measured_file import read_measured
    from workspace.evidence import EvidenceStore

    ms = read_measured(cfg.paths.data_dir)
    if not ms:
        return pd.DataFrame()
    ev = EvidenceStore(cfg.paths.evidence)
    df = pd.DataFrame([{"factor_id": m.factor_id, "value": m.value, "unit": m.unit,
                        "period": f"{m.applies_from}..{m.applies_to}", "lab": m.lab, "report": m.report,
                        "evidence_sha256": m.evidence_sha256,
                        "evidence held": "yes" if _HEX64.match(m.evidence_sha256) and m.evidence_sha256 in ev
                        else "no"} for m in ms])
    return df.set_index("factor_id")


class FactorSection(pn.viewable.Viewer):
    """The measured factors of the workspace and the form to add one."""

    result = param.String(default="")
    tick = param.Integer(default=0)

    def __init__(self, cfg: Config, name_input: pn.widgets.TextInput, lang: str = "en", **params):
        from models.factors import FactorLibrary

        self.lang = i18n.language(lang)
        self._cfg, self._who_name = cfg, name_input
        self._ = _ = i18n.gettext_for(self.lang)
        super().__init__(**params)
        ids = sorted({f.factor_id for f in FactorLibrary.load().factors})
        self._factor = pn.widgets.Select(name=_("Factor"), options=ids, width=300)
        self._value = pn.widgets.TextInput(name=_("Value"), width=140)
        self._unit = pn.widgets.TextInput(name=_("Unit"), placeholder="tC/TJ", width=120)
        self._from = pn.widgets.TextInput(name=_("Valid from (YYYY-MM-DD)"), width=190)
        self._to = pn.widgets.TextInput(name=_("Valid to (YYYY-MM-DD)"), width=190)
        self._lab = pn.widgets.TextInput(name=_("Laboratory"), width=260)
        self._report = pn.widgets.TextInput(name=_("Report number"), width=200)
        self._hash = pn.widgets.TextInput(name=_("Evidence SHA-256 (or upload the report)"), width=520)
        self._file = pn.widgets.FileInput(name=_("Lab report"), accept=".pdf,.jpg,.jpeg,.png", multiple=False)
        self._go = pn.widgets.Button(name=_("Add measured factor"), button_type="primary", width=200)
        self._go.on_click(lambda _e: self.do_add())

    def do_add(self) -> None:
        _ = self._
        who = session_actor(self._cfg, self._who_name.value)
        row = {"factor_id": self._factor.value, "value": self._value.value, "unit": self._unit.value,
               "applies_from": self._from.value, "applies_to": self._to.value, "lab": self._lab.value,
               "report": self._report.value, "evidence_sha256": self._hash.value}
        try:
            m = add_as(self._cfg, who, row, self._file.value or b"", self._file.filename or "")
        except ActionRefused as exc:
            lines = str(exc).splitlines()
            items = "".join(f'<li data-problem="factor">{esc(x)}</li>' for x in lines[1:])
            self.result = f'<p class="tj-note" data-refused="factor">{esc(lines[0])}</p>' + (
                f"<ul>{items}</ul>" if items else "")
        else:
            self.result = (f'<p data-done="factor" data-factor="{esc(m.factor_id)}">{esc(_("added"))}: '
                           f'{esc(m.factor_id)} = {m.value:g} {esc(m.unit)}, {m.applies_from}..{m.applies_to}</p>')
        self.tick += 1

    @param.depends("tick")
    def _list(self):
        _, lang = self._, self.lang
        from models.factors.measured_file import measured_path

        df = factors_table(self._cfg)
        title = _("Measured factors in use")
        shown = df.assign(**{"evidence held": df["evidence held"].map(_)}) if len(df) else df
        body = table_html(shown, "measured", lang=lang, label=title) if len(df) else f"<p>{esc(_('no measured factor yet'))}</p>"
        rel = measured_path(self._cfg.paths.data_dir).relative_to(self._cfg.paths.data_dir)
        use = (f'<p class="tj-note">{esc(_("Used by"))} <code>tanjian inventory --measured '
               f'&lt;data_dir&gt;/{esc(rel.as_posix())}</code></p>')
        return pn.Column(pn.pane.HTML(self.result, stylesheets=[CSS], sizing_mode="stretch_width"),
                         pn.pane.HTML(f"<h4>{esc(title)}</h4>" + body + use,
                                      stylesheets=[CSS], sizing_mode="stretch_width"),
                         *([downloads(df, "measured-factors", lang)] if len(df) else []), sizing_mode="stretch_width")

    def __panel__(self):
        _ = self._
        return pn.Column(f"#### {_('Measured emission factors and their evidence')}", self._list,
                         pn.FlexBox(self._factor, self._value, self._unit, self._from, self._to),
                         pn.FlexBox(self._lab, self._report), self._hash, self._file, self._go,
                         sizing_mode="stretch_width")
