"""The verifier page: upload a batch export and its proof bundle, check that the batch is the one
proven and (if the chain node answers) that its ledger root is anchored on chain.

The checks are :func:`chain.verify.verify_bundle`'s, in its order; the page only shows them. Labels are in the
session's language (:mod:`dashboards.i18n`); a check's detail is the verifier library's own text.
"""

from __future__ import annotations

import logging

import panel as pn
import param

from workspace.config import Config

from . import i18n, render
from .feeds import Verification, file_hashes, verify_upload
from .i18n import N_

log = logging.getLogger(__name__)

CSS = """
:host { font-family: Inter, "Noto Sans", "Noto Sans CJK SC", sans-serif; }
.tj-verdict { font-size: 22px; font-weight: 700; padding: 14px 18px; border-radius: 8px; margin: 8px 0; }
.tj-verdict-pass { background: #e3f6ea; color: #11663a; border: 2px solid #2fbf71; }
.tj-verdict-fail { background: #fde8e8; color: #9b1c1c; border: 2px solid #e02424; }
.tj-verdict-offline { background: #fff6e0; color: #7a4b00; border: 2px solid #f0a500; }
.tj-note { color: #555; font-size: 14px; margin: 4px 0 10px 0; }
.tj-table { width: 100%; border-collapse: collapse; font-size: 15px; margin: 8px 0 14px 0; }
.tj-table th { text-align: left; border-bottom: 2px solid #ccc; padding: 6px 8px; color: #444; }
.tj-table td { border-bottom: 1px solid #e5e5e5; padding: 6px 8px; vertical-align: top;
  word-break: break-all; }
.tj-table td:first-child { white-space: nowrap; font-weight: 600; word-break: normal; }
.tj-badge { display: inline-block; white-space: nowrap; min-width: 44px; text-align: center;
  padding: 2px 8px; border-radius: 4px;
  font-weight: 700; font-size: 13px; color: white; }
.tj-pass { background: #2fbf71; } .tj-fail { background: #e02424; } .tj-skip { background: #8a8f98; }
.tj-pass-text { color: #11663a; white-space: nowrap; } .tj-fail-text { color: #9b1c1c; }
code { font-size: 14px; font-family: "JetBrains Mono", "DejaVu Sans Mono", monospace; font-size: 13px; }
.tj-upload { font-size: 14px; color: #333; }
"""

INTRO = N_("""
Check a **batch export** (`batch-NNNNNNNN.json`, or `.tjb` for a columnar batch: exactly the bytes the plant
journaled) against its
**proof bundle** (`batch-NNNNNNNN.proof.json`, format `tanjian.proof/2`).

The checks, in order: `format` (the bundle's schema), `leaf` (the file's SHA-256 and RFC 9162 leaf hash
equal the bundle's), `signature` (the gateway key signed that leaf), `inclusion` (the Merkle proof leads
from the leaf to the anchored root), `consistency` (that root is a prefix of every later anchored root),
then on chain: `chain_id`, `anchor` (our registry holds that root and tree size) and `gateway` (the
signer was an active gateway of the plant when it anchored). Without a reachable chain node only the
first five run.

Compare the hashes below yourself: `sha256sum FILE` and `(printf '\\x00'; cat FILE) | sha256sum`.
""")


class Verifier(pn.viewable.Viewer):
    """The verifier of one browser session.

    Parameters
    ----------
    cfg : Config
        Gives ``chain.rpc_url``, the node consulted for the on-chain checks when it answers.
    lang : str
        ``"zh"`` or ``"en"``.
    """

    result = param.ClassSelector(class_=Verification, default=None, allow_None=True,
                                 doc="outcome of the last verification of the current files")
    message = param.String(default="", doc="what is missing before verifying")

    def __init__(self, cfg: Config, lang: str = "en", **params):
        self._cfg = cfg
        self.lang = i18n.language(lang)
        self._ = _ = i18n.gettext_for(self.lang)
        super().__init__(**params)
        self.batch_input = pn.widgets.FileInput(name=_("Batch file"), accept=".json,.tjb", multiple=False,
                                                sizing_mode="stretch_width")
        self.bundle_input = pn.widgets.FileInput(name=_("Proof bundle"), accept=".json", multiple=False,
                                                 sizing_mode="stretch_width")
        self.button = pn.widgets.Button(name=_("Verify"), button_type="primary", disabled=True, width=160,
                                        height=44)
        self.batch_input.param.watch(self._changed, "value")
        self.bundle_input.param.watch(self._changed, "value")
        self.button.on_click(self.verify)

    def _changed(self, *_events) -> None:
        self.result = None  # a result belongs to the files it was computed for
        self.button.disabled = not (self.batch_input.value and self.bundle_input.value)

    def verify(self, *_events) -> Verification | None:
        """Verify the uploaded pair (bound to the button)."""
        batch, bundle = self.batch_input.value, self.bundle_input.value
        if not batch or not bundle:
            self.message = self._("upload both the batch file and its proof bundle first")
            return None
        self.message = ""
        self.button.loading = True
        try:
            self.result = verify_upload(batch, bundle, self._cfg.chain.rpc_url,
                                        batch_name=self.batch_input.filename)
        finally:
            self.button.loading = False
        log.info("verified %s against %s: %s", self.batch_input.filename, self.bundle_input.filename,
                 self.result.verdict)
        return self.result

    @param.depends("result", "message")
    def _result(self) -> str:
        if self.message:
            return f'<div class="tj-note">{render.esc(self.message)}</div>'
        if self.result is None:
            return f'<div class="tj-note" data-verdict="">{render.esc(self._("No verification yet."))}</div>'
        return render.verification(self.result, self.lang)

    def _upload_status(self, value: bytes | None, filename: str | None, which: str) -> str:
        _ = self._
        if not value:
            return f'<div class="tj-upload" data-upload="{which}">{render.esc(_("no file yet"))}</div>'
        sha, _leaf = file_hashes(value)
        size = _("{n} bytes").format(n=i18n.number(len(value), self.lang))
        return (f'<div class="tj-upload" data-upload="{which}" data-bytes="{len(value)}" data-sha256="{sha}">'
                f'<b>{render.esc(filename or _("(unnamed)"))}</b>, {render.esc(size)}, SHA-256 '
                f'<code>{sha[:16]}…</code></div>')

    def __panel__(self) -> pn.viewable.Viewable:
        def md(text: str) -> pn.pane.Markdown:
            # code in the text's own colour: Panel's light blue fails WCAG AA contrast (axe-core)
            return pn.pane.Markdown(text, sizing_mode="stretch_width", stylesheets=[MD_CSS])

        def status(inp: pn.widgets.FileInput, which: str):
            return pn.pane.HTML(pn.bind(self._upload_status, inp.param.value, inp.param.filename, which),
                                stylesheets=[CSS], sizing_mode="stretch_width")

        _ = self._
        files = pn.Row(
            pn.Column(md("### 1 · " + _("Batch file (`.json` or `.tjb`)")), self.batch_input,
                      status(self.batch_input, "batch"),
                      sizing_mode="stretch_width"),
            pn.Column(md("### 2 · " + _("Proof bundle (`.proof.json`)")), self.bundle_input,
                      status(self.bundle_input, "bundle"), sizing_mode="stretch_width"),
            sizing_mode="stretch_width")
        return pn.Column(
            md(_(INTRO)),
            files, self.button,
            pn.pane.HTML(self._result, stylesheets=[CSS], sizing_mode="stretch_width"),
            sizing_mode="stretch_width", max_width=1400)


MD_CSS = "code { color: inherit; }"


def view(ctx) -> pn.viewable.Viewable:
    """The verifier of one session (the shell wraps it; :mod:`dashboards.registry`)."""
    return Verifier(ctx.cfg, lang=ctx.lang)
