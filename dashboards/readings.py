"""The hand-reading page (``/readings``): a meter reader on a phone picks the meter (or scans the QR
label on it, which opens ``/readings?meter=ID``), types the value on the register, takes a photo of the
display and submits.

The page only shows and collects: the plausibility check, the evidence store and the inbox are
:mod:`workspace.business.manual`'s. The verdict is shown while typing; errors block the submission, warnings
need the reader's explicit confirmation. A submitted reading waits in the inbox until the collector
journals it (a batch flagged MANUAL whose note carries the reader and the photo's SHA-256).

The photo input is ``<input type="file" accept="image/*">``: on Android and iOS it offers the camera
directly. Panel 1.9's ``FileInput`` has no ``capture`` attribute, so the phone may also offer its
gallery; that is allowed (a photo taken earlier is still evidence).

Labels are in the session's language (:mod:`dashboards.i18n`); a plausibility finding is
:mod:`workspace.business.manual`'s own text; workshops are named in the language where the site model has it.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import logging
from zoneinfo import ZoneInfo

import panel as pn
import param

from workspace.business.manual import (check_plausible, last_reading, photo_media_type, queued_reading,
                                       rating, submit_manual_reading)
from workspace.config import Config
from workspace.errors import StoreError, TanjianError
from workspace.units import MEDIUM_UNITS

from . import i18n, render

log = logging.getLogger(__name__)

CSS = """
:host { font-family: Inter, "Noto Sans", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; }
.tj-card { background: #f4f7f5; border: 1px solid #d5e2da; border-radius: 10px; padding: 10px 12px;
  font-size: 15px; color: #223; }
.tj-card b { font-size: 18px; }
.tj-dim { color: #5b6670; font-size: 14px; }
.tj-verdict { font-size: 16px; font-weight: 600; padding: 10px 12px; border-radius: 8px; margin: 4px 0; }
.tj-ok { background: #e3f6ea; color: #11663a; border: 2px solid #2fbf71; }
.tj-warning { background: #fff6e0; color: #7a4b00; border: 2px solid #f0a500; }
.tj-error { background: #fde8e8; color: #9b1c1c; border: 2px solid #e02424; }
.tj-incomplete { background: #f1f3f5; color: #555; border: 2px dashed #bbb; font-weight: 500; }
.tj-verdict ul { margin: 6px 0 0 0; padding-left: 18px; font-weight: 500; font-size: 15px; }
.tj-done { background: #e3f6ea; color: #11663a; border: 2px solid #2fbf71; border-radius: 8px;
  padding: 10px 12px; font-size: 15px; }
.tj-done code { overflow-wrap: anywhere; }
.tj-fail { background: #fde8e8; color: #9b1c1c; border: 2px solid #e02424; border-radius: 8px;
  padding: 10px 12px; font-size: 15px; }
.tj-photo img { max-width: 100%; max-height: 260px; border-radius: 8px; border: 1px solid #ccc; }
code { font-family: "JetBrains Mono", "DejaVu Sans Mono", monospace; font-size: 13px; }
"""
INPUT_CSS = ".bk-input { font-size: 18px; min-height: 44px; }"  # >= 16 px: phones do not zoom on focus
CHECK_CSS = "input[type=checkbox] { width: 24px; height: 24px; } label { font-size: 16px; }"  # a thumb's target
PREVIEW_PX = 480  # longest side of the photo preview sent back to the phone [px]


def _label(cfg: Config, meter_id: str, lang: str = "en") -> str:
    m = cfg.site.meter(meter_id)
    ws = {w.id: i18n.site_name(w, lang) for w in cfg.site.workshops}
    _ = i18n.gettext_for(lang)
    where = ws.get(m.workshop, m.workshop) if m.workshop else _("plant")
    return f"{m.id} · {m.name or ''} · {where}"


def preview(data: bytes) -> str:
    """A small JPEG of the photo as a ``data:`` URL ('' when Pillow cannot read it, e.g. HEIC)."""
    try:
        from PIL import Image, ImageOps

        with Image.open(io.BytesIO(data)) as im:
            im.draft("RGB", (PREVIEW_PX, PREVIEW_PX))  # a JPEG decodes at 1/2..1/8 scale: quick on 12 MP
            im = ImageOps.exif_transpose(im).convert("RGB")
            im.thumbnail((PREVIEW_PX, PREVIEW_PX))
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=80)
    except Exception:  # noqa: BLE001 - any unreadable image: no preview, the bytes are still kept
        return ""
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


class ReadingForm(pn.viewable.Viewer):
    """The hand-reading form of one browser session.

    Parameters
    ----------
    cfg : Config
    meter : str, optional
        Meter chosen on arrival (the ``?meter=`` of a QR label).
    lang : str
        ``"zh"`` or ``"en"``.
    """

    problems = param.List(default=[], doc="plausibility findings for the current meter, value and time")
    note = param.String(default="", doc="what is missing or unreadable in the form")
    submitted = param.Dict(default=None, allow_None=True, doc="the last queued reading")
    failure = param.String(default="", doc="why the last submission was refused")

    def __init__(self, cfg: Config, meter: str | None = None, lang: str = "en", **params):
        self._cfg = cfg
        self._tz = ZoneInfo(cfg.site.plant.timezone)
        self._store = None
        self.lang = i18n.language(lang)
        self._ = _ = i18n.gettext_for(self.lang)
        super().__init__(**params)
        options = {_label(cfg, m.id, self.lang): m.id for m in cfg.site.meters}
        self.link_note = ""
        if meter and meter not in options.values():
            self.link_note = _("the link names meter {meter}, which is not in the site model").format(meter=repr(meter))
            meter = None
        self.meter_input = pn.widgets.AutocompleteInput(
            name=_("Meter (id, name or workshop)"), options=options, value=meter or None,
            search_strategy="includes", case_sensitive=False, min_characters=1, restrict=True,
            placeholder=_("M-TR-1, compressor, welding …"), sizing_mode="stretch_width", stylesheets=[INPUT_CSS])
        self.value_input = pn.widgets.TextInput(name=_("Reading"), placeholder=_("e.g. 12345.6"),
                                                sizing_mode="stretch_width", stylesheets=[INPUT_CSS])
        self.time_input = pn.widgets.TextInput(name=_("Read at (blank = now)"),
                                               placeholder=_("now, or YYYY-MM-DD HH:MM"),
                                               sizing_mode="stretch_width", stylesheets=[INPUT_CSS])
        self.reader_input = pn.widgets.TextInput(name=_("Reader"), placeholder=_("your name"),
                                                 sizing_mode="stretch_width", stylesheets=[INPUT_CSS])
        if pn.state.user:  # logged in (dashboards.auth): the reading is the account's, not a typed name
            self.reader_input.value = self.reader_input.value_input = pn.state.user
            self.reader_input.disabled = True
        self.photo_input = pn.widgets.FileInput(name=_("Photo"), accept="image/*", multiple=False,
                                                sizing_mode="stretch_width")  # name: the input's label
        self.confirm = pn.widgets.Checkbox(name=_("I checked the value against the meter"), value=False,
                                           visible=False, stylesheets=[CHECK_CSS])
        self.button = pn.widgets.Button(name=_("Submit"), button_type="primary", disabled=True, height=48,
                                        sizing_mode="stretch_width")
        self.meter_input.param.watch(self._changed, "value")
        self.value_input.param.watch(self._changed, "value_input")
        self.time_input.param.watch(self._changed, "value_input")
        self.reader_input.param.watch(self._gate, "value_input")
        self.photo_input.param.watch(self._photo_changed, "value")
        self.confirm.param.watch(self._gate, "value")
        self.button.on_click(self.submit)
        self._changed()

    # -- model ---------------------------------------------------------------------------------------
    def _open_store(self):
        if self._store is None:
            from workspace.store import Store

            try:
                self._store = Store.open(self._cfg.paths.store, self._cfg.site)
            except StoreError:
                return None
        return self._store

    def _unit(self) -> str:
        m = self.meter_input.value
        return MEDIUM_UNITS[self._cfg.site.meter(m).medium][0] if m else "kWh | m³"

    def _time(self) -> dt.datetime:
        text = (self.time_input.value_input or "").strip()
        if not text:
            return dt.datetime.now(self._tz).replace(microsecond=0)
        t = dt.datetime.fromisoformat(text.replace("/", "-"))
        return t if t.tzinfo else t.replace(tzinfo=self._tz)

    def _counter(self) -> float | None:
        text = (self.value_input.value_input or "").strip().replace(" ", "")
        if not text:
            return None
        if "," in text:
            raise ValueError(self._("use digits and a decimal point, without thousands separators"))
        return float(text)

    def _changed(self, *_events) -> None:
        """Re-check plausibility after the meter, the value or the time changed."""
        _ = self._
        self.value_input.name = f"{_('Reading')} [{self._unit()}]"
        self.submitted = None if _events else self.submitted
        self.failure = ""
        self.confirm.value = False
        meter_missing, reading_missing = not self.meter_input.value, False
        try:
            counter = self._counter()
            reading_missing = counter is None
        except ValueError as exc:
            self.problems, self.note = [], _("the reading is not a number: {error}").format(error=exc)
            return self._gate()
        try:
            when = self._time()
        except ValueError:
            self.problems, self.note = [], _("the time is not YYYY-MM-DD HH:MM")
            return self._gate()
        if meter_missing or reading_missing:
            self.problems = []
            self.note = (_("enter the meter and the reading to check the value") if meter_missing and reading_missing
                         else _("enter the meter to check the value") if meter_missing
                         else _("enter the reading to check the value"))
            return self._gate()
        self.note = ""
        self.problems = check_plausible(self._cfg.site, self._open_store(), self.meter_input.value, when, counter,
                                        inbox=self._cfg.paths.inbox)
        self._gate()

    def _photo_changed(self, *_events) -> None:
        self.submitted = None
        self.failure = ""
        self._gate()

    def _photo_ok(self) -> bool:
        data = self.photo_input.value
        if not data:
            return False
        try:
            photo_media_type(data)
        except TanjianError:
            return False
        return True

    def _gate(self, *_events) -> None:
        """Enable the button only for a complete, unblocked reading."""
        errors = any(p.severity == "error" for p in self.problems)
        warnings = any(p.severity == "warning" for p in self.problems)
        self.confirm.visible = warnings and not errors
        ready = (not self.note and self.meter_input.value and not errors
                 and (self.confirm.value or not warnings)
                 and bool((self.reader_input.value_input or "").strip()) and self._photo_ok())
        self.button.disabled = not ready

    def submit(self, *_events) -> dict | None:
        """Store the photo and queue the reading (bound to the button)."""
        self.failure = ""
        try:
            self._may_submit()
            counter = self._counter()
            when = self._time()
            if counter is None or not self.meter_input.value:
                raise TanjianError(self._("choose the meter and enter the reading first"))
            sub = submit_manual_reading(
                self._cfg.site, self._open_store(), self._cfg.paths.inbox, self._cfg.paths.evidence,
                meter=self.meter_input.value, time=when, counter=counter,
                reader=self.reader_input.value_input or "", photo=self.photo_input.value or b"",
                photo_name=self.photo_input.filename or "photo.jpg", confirmed=self.confirm.value)
        except (TanjianError, ValueError) as exc:
            self.failure = str(exc)
            log.warning("hand reading refused: %s", exc)
            return None
        self.submitted = {"meter": self.meter_input.value, "counter": counter, "time": when,
                          "sha256": sub.photo.sha256, "request": sub.request.name,
                          "reader": self.reader_input.value_input.strip()}
        done = self.submitted
        self.value_input.value = self.value_input.value_input = ""
        self.confirm.value = False
        self.button.disabled = True
        self.submitted = done  # clearing the value above resets it
        return done

    def _may_submit(self) -> None:
        """The server's own check at the moment of the action (not only the route's): with accounts, the session's
        account must hold ``reading.submit`` now (enabled, its role now)."""
        from .actor import has_accounts, session_actor

        if has_accounts(self._cfg):
            who = session_actor(self._cfg)
            if who is None or not who.may("reading.submit"):
                raise TanjianError(self._("this session's account may not submit hand readings"))

    # -- view ----------------------------------------------------------------------------------------
    def _meter_card(self, m_id: str | None) -> str:
        _, esc, lang = self._, render.esc, self.lang
        if not m_id:
            extra = f'<div class="tj-dim">{esc(self.link_note)}</div>' if self.link_note else ""
            return f'<div class="tj-card" data-meter="">{esc(_("No meter chosen yet"))}{extra}</div>'
        m = self._cfg.site.meter(m_id)
        unit, rate_unit = MEDIUM_UNITS[m.medium]
        store = self._open_store()
        last = last_reading(store, m_id) if store is not None else None
        last_txt = (esc(_("{value} {unit} at {time}").format(value=i18n.number(last.counter, lang, 2), unit=unit,
                                                            time=f"{last.time:%Y-%m-%d %H:%M}"))
                    if last else esc(_("none yet")))
        queued = queued_reading(self._cfg.paths.inbox, m_id, self._tz)
        if queued is not None and (last is None or queued.time > last.time):
            last_txt += (f'<br><span class="tj-dim">{esc(_("queued"))}:</span> ' + esc(_("{value} {unit} at {time}").format(
                value=i18n.number(queued.counter, lang, 2), unit=unit, time=f"{queued.time:%Y-%m-%d %H:%M}")))
        limit, source = rating(self._cfg.site, m_id)
        limit_txt = f"{i18n.number(limit, lang, 1)} {rate_unit} ({esc(source)})" if limit else esc(_("none"))
        return (f'<div class="tj-card" data-meter="{esc(m_id)}" '
                f'data-last-counter="{last.counter if last else ""}">'
                f'<b>{esc(m_id)}</b> {esc(m.name or "")}<br>'
                f'<span class="tj-dim">{esc(_("last reading"))}:</span> {last_txt}<br>'
                f'<span class="tj-dim">{esc(_("rating"))}:</span> {limit_txt}</div>')

    def _verdict(self, *_deps) -> str:
        _ = self._
        if self.note:
            return f'<div class="tj-verdict tj-incomplete" data-verdict="incomplete">{render.esc(self.note)}</div>'
        kind = ("error" if any(p.severity == "error" for p in self.problems)
                else "warning" if self.problems else "ok")
        head = {"ok": "✓ " + _("Plausible"), "warning": "⚠ " + _("Please confirm"),
                "error": "✗ " + _("Not accepted")}[kind]
        head = render.esc(head)
        items = "".join(f'<li data-problem="{p.code}" data-severity="{p.severity}">{render.esc(p.message)}</li>'
                        for p in self.problems)
        return (f'<div class="tj-verdict tj-{kind}" data-verdict="{kind}">{head}'
                f'{f"<ul>{items}</ul>" if items else ""}</div>')

    def _photo(self, data: bytes | None) -> str:
        _ = self._
        if not data:
            return f'<div class="tj-photo tj-dim" data-photo="">{render.esc(_("No photo yet"))}</div>'
        try:
            photo_media_type(data)
        except TanjianError as exc:
            return f'<div class="tj-photo tj-fail" data-photo="invalid">{render.esc(exc)}</div>'
        import hashlib

        sha = hashlib.sha256(data).hexdigest()
        src = preview(data)
        img = (f'<img src="{src}" alt="{render.esc(_("photo of the meter"))}">' if src
               else render.esc(_("(no preview for this format)")))
        size = _("{n} bytes").format(n=i18n.number(len(data), self.lang))
        return (f'<div class="tj-photo" data-photo="{sha}">{img}<div class="tj-dim">'
                f'{render.esc(size)}, SHA-256 <code>{sha[:16]}…</code></div></div>')

    def _result(self, *_deps) -> str:
        if self.failure:
            return f'<div class="tj-fail" data-submit="refused">{render.esc(self.failure)}</div>'
        s = self.submitted
        if not s:
            return '<div data-submit=""></div>'
        _ = self._
        done = _("{meter} = {value} at {time} by {reader}: queued for the ledger.").format(
            meter=s["meter"], value=i18n.number(s["counter"], self.lang, 2), time=f"{s['time']:%Y-%m-%d %H:%M}",
            reader=s["reader"])
        return (f'<div class="tj-done" data-submit="queued" data-submitted-sha256="{s["sha256"]}">'
                f'✓ {render.esc(done)}<br>'
                f'{render.esc(_("Photo SHA-256"))}: <code>{s["sha256"]}</code></div>')

    def __panel__(self) -> pn.viewable.Viewable:
        def html(fn, *deps):
            return pn.pane.HTML(pn.bind(fn, *deps), stylesheets=[CSS], sizing_mode="stretch_width")

        return pn.Column(
            self.meter_input, html(self._meter_card, self.meter_input.param.value),
            self.value_input, self.time_input, self.reader_input,
            pn.pane.HTML(f'<div class="tj-dim">{render.esc(self._("Photo of the display (camera)"))}</div>',
                         stylesheets=[CSS], sizing_mode="stretch_width"),
            self.photo_input, html(self._photo, self.photo_input.param.value),
            html(self._verdict, self.param.problems, self.param.note), self.confirm, self.button,
            html(self._result, self.param.submitted, self.param.failure),
            sizing_mode="stretch_width", max_width=560)


def view(ctx) -> pn.viewable.Viewable:
    """The hand-reading form of one session (``?meter=ID`` chooses the meter; the shell wraps it)."""
    meter = (ctx.arg("meter") or "").strip() or None
    return ReadingForm(ctx.cfg, meter, lang=ctx.lang)
