"""The alarms page: the alarms an operator sees (or all of them) with filters by state, priority, kind and
text; acknowledge, shelve (with a reason and an expiry) and unshelve by the logged-in person; each alarm's
history of events; and its path to the source in the topology (``/topology?node=<target>``). Laid out as a
single column of cards so that it reads on a phone.

The actions go through :class:`models.alarms.AlarmDB` (the alarm log's own event, with the person) and
:func:`workspace.audit.record` (the hash-chained audit trail), as ``tanjian alarms ack|shelve|unshelve`` do.
The server checks the permission (``alarm.ack``; ``alarm.shelve`` for shelving) of the account of the
session before every action, whatever the browser sent. Without accounts (an open server) the person types
a name, which is recorded as given. Labels are in the session's language (:mod:`dashboards.i18n`); an alarm's
message, rule and target are the alarm log's own text.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from zoneinfo import ZoneInfo

import pandas as pd
import panel as pn
import param

from workspace.config import Config

from . import i18n
from .actor import ActionRefused, Actor, parse_number, session_actor
from .i18n import N_
from .render import esc

log = logging.getLogger(__name__)

PRIORITIES = ("critical", "high", "medium", "low")
VIEWS = {"shown": N_("To see"), "shelved": N_("Shelved"), "all": N_("All")}
PRIORITY_LABELS = {"critical": N_("critical"), "high": N_("high"), "medium": N_("medium"), "low": N_("low")}
#: the alarm log's events (models.alarms) as a person reads them
EVENT_LABELS = {"raise": N_("raised"), "repeat": N_("repeated"), "clear": N_("cleared"), "ack": N_("acknowledged"),
                "shelve": N_("shelved"), "unshelve": N_("unshelved"), "suppress": N_("suppressed"),
                "release": N_("released"), "close": N_("closed")}
ACTIONS = {"ack": N_("Acknowledge"), "shelve": N_("Shelve"), "unshelve": N_("Unshelve")}
PRIORITY_COLORS = {"critical": "#b00020", "high": "#d9480f", "medium": "#b08900", "low": "#4a6b8a"}
STATE_LABELS = {"UNACK": N_("unacknowledged"), "ACKED": N_("acknowledged"), "RTNUN": N_("returned, unacknowledged"),
                "NORM": N_("normal"), "SHLVD": N_("shelved"), "DSUPR": N_("suppressed")}
CSS = """
.tj-alarm { border: 1px solid #ccd; border-left: 6px solid var(--p); border-radius: 8px; padding: 8px 12px;
  margin: 0 0 8px 0; font-size: 15px; line-height: 1.4; overflow-wrap: anywhere; }
.tj-alarm .h { display: flex; flex-wrap: wrap; gap: 4px 12px; align-items: baseline; }
.tj-alarm .p { font-weight: 700; color: var(--p); text-transform: uppercase; font-size: 13px; }
.tj-alarm .m { font-size: 16px; margin: 4px 0; }
.tj-alarm .d { color: #666; font-size: 13px; }
.tj-alarm a { color: #0b63c5; }
.tj-ev { border-collapse: collapse; font-size: 13px; }
.tj-ev td, .tj-ev th { padding: 2px 8px; border-bottom: 1px solid #ddd; text-align: left; }
.tj-refused { color: #b00020; font-weight: 600; }
.tj-done { color: #1b7f3b; font-weight: 600; }
"""


def alarm_table(rows: list[dict], tz: str, *, priority: str = "", kind: str = "", text: str = "") -> pd.DataFrame:
    """The alarms ``rows`` (the log's dicts) filtered (``priority``, ``kind``, ``text`` in the rule, target or
    message, case-insensitive), with local times; sorted by priority, then newest first."""
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    if priority:
        df = df[df["priority"] == priority]
    if kind:
        df = df[df["kind"] == kind]
    if text:
        t = text.lower()
        df = df[df[["rule", "target", "message"]].apply(lambda r: any(t in str(v).lower() for v in r), axis=1)]
    zone = ZoneInfo(tz)
    for c in ("first_raised", "last_raised", "cleared_at", "acked_at", "shelved_until"):
        if c in df:
            df[c + "_local"] = [dt.datetime.fromtimestamp(v, zone).strftime("%Y-%m-%d %H:%M") if v == v and v
                                is not None else "" for v in df[c]]
    order = {p: k for k, p in enumerate(PRIORITIES)}
    df = df.assign(_p=df["priority"].map(order).fillna(9)).sort_values(["_p", "last_raised"], ascending=[True, False])
    return df.drop(columns="_p")


def read_alarms(db, view: str) -> list[dict]:
    """The log's alarms for ``view``: ``shown`` (UNACK, ACKED, RTNUN), ``shelved`` or ``all``."""
    from models.alarms import shown

    if view == "shown":
        return shown(db)
    if view == "shelved":
        return db.alarms(state="SHLVD")
    return db.alarms(limit=500)


def act(cfg: Config, db, who: Actor | None, action: str, alarm_id: int, *, reason: str = "",
        hours: float = 8.0, now: float | None = None, lang: str = "en") -> dict:
    """Acknowledge, shelve or unshelve alarm ``alarm_id`` as ``who``: permission checked here, then the alarm
    log's transition (with the person) and the audit trail's entry. Returns the alarm after the action.
    A refusal is in ``lang``.

    Raises
    ------
    ActionRefused
        No person, not permitted, no reason for a shelving, or a transition the alarm's state does not allow.
    """
    from models.alarms import AlarmNotFound, BadTransition
    from workspace import audit

    _ = i18n.gettext_for(lang)
    perm = {"ack": "alarm.ack", "shelve": "alarm.shelve", "unshelve": "alarm.shelve"}.get(action)
    if perm is None:
        raise ActionRefused(_("unknown action {action}").format(action=repr(action)))
    if who is None:
        raise ActionRefused(_("log in (or type your name) first: every action is recorded with the person's name"))
    if not who.may(perm):
        raise ActionRefused(_("{name} ({role}) may not {action} alarms (needs permission {perm})").format(
            name=who.name, role=who.role, action=action, perm=perm))
    now = time.time() if now is None else now
    try:
        if action == "ack":
            a = db.ack(alarm_id, who.name, note=reason.strip() or None, at=now)
            detail = reason.strip()
        elif action == "shelve":
            if not reason.strip():
                raise ActionRefused(_("shelving needs a reason"))
            if not 0 < hours <= 24 * 30:
                raise ActionRefused(_("shelve for 0 to 720 hours, not {hours}").format(hours=f"{hours:g}"))
            until = now + hours * 3600.0
            a = db.shelve(alarm_id, who.name, reason.strip(), until, at=now)
            detail = f"{reason.strip()} (until {dt.datetime.fromtimestamp(until, ZoneInfo(cfg.site.plant.timezone)):%Y-%m-%d %H:%M})"
        else:
            a = db.unshelve(alarm_id, who.name, at=now)
            detail = ""
    except AlarmNotFound:
        raise ActionRefused(_("no alarm #{id}").format(id=alarm_id)) from None
    except (BadTransition, ValueError) as exc:
        raise ActionRefused(f"alarm #{alarm_id}: {exc}") from None
    audit.record(cfg.paths.data_dir, who.name, f"alarm_{action}", f"alarm #{a['id']} {a['rule']} on {a['target']}",
                 detail)
    return a


def topology_link(target: str) -> str:
    """The topology page with ``target``'s path to its source highlighted."""
    from urllib.parse import quote

    return f"/topology?node={quote(target, safe='')}"


def card_html(a: dict, lang: str = "en") -> str:
    """One alarm as a card in ``lang`` (its raw fields in ``data-*`` attributes)."""
    _ = i18n.gettext_for(lang)
    color = PRIORITY_COLORS.get(a["priority"], "#666")
    value = "" if a.get("value") is None or a["value"] != a["value"] else \
        " · " + _("value {value}").format(value=f"{a['value']:,.3g}")
    who = []
    if a.get("acked_by"):
        who.append(esc(_("acknowledged by {person} at {time}").format(person=a["acked_by"],
                                                                     time=a.get("acked_at_local", ""))))
    if a.get("shelved_by") and a.get("state") == "SHLVD":
        who.append(esc(_("shelved by {person} until {time}: {reason}").format(
            person=a["shelved_by"], time=a.get("shelved_until_local", ""), reason=a.get("shelve_reason") or "")))
    state = _(STATE_LABELS[a["state"]]) if a["state"] in STATE_LABELS else a["state"]
    prio = _(PRIORITY_LABELS[a["priority"]]) if a["priority"] in PRIORITY_LABELS else a["priority"]
    times = _("first {first} · last {last}").format(first=a.get("first_raised_local", ""),
                                                    last=a.get("last_raised_local", ""))
    return (f'<div class="tj-alarm" style="--p:{color}" data-alarm="{a["id"]}" data-state="{esc(a["state"])}" '
            f'data-priority="{esc(a["priority"])}"><div class="h"><span class="p">{esc(prio)}</span>'
            f'<b>#{a["id"]}</b><span>{esc(state)}</span>'
            f'<span class="d">{esc(a["kind"])} · {esc(a["rule"])}</span></div>'
            f'<div class="m">{esc(a["message"])}</div>'
            f'<div class="d">{esc(a["target"])} · {esc(times)} · ×{a["count"]}{esc(value)}'
            f' · <a href="{topology_link(a["target"])}" data-topology="{esc(a["target"])}">{esc(_("topology"))}</a></div>'
            + (f'<div class="d">{"; ".join(who)}</div>' if who else "") + "</div>")


def events_html(events: list[dict], tz: str, lang: str = "en") -> str:
    _ = i18n.gettext_for(lang)
    zone = ZoneInfo(tz)

    def ev(e):
        return _(EVENT_LABELS[e["event"]]) if e["event"] in EVENT_LABELS else e["event"]

    def st(e):
        return _(STATE_LABELS[e["state"]]) if e["state"] in STATE_LABELS else e["state"]
    rows = "".join(f"<tr><td>{dt.datetime.fromtimestamp(e['at'], zone):%m-%d %H:%M}</td><td>{esc(ev(e))}</td>"
                   f"<td>{esc(st(e))}</td><td>{esc(e['user'] or '')}</td><td>{esc(e['detail'] or '')}</td></tr>"
                   for e in events)
    head = "".join(f"<th>{esc(_(h))}</th>" for h in (N_("time"), N_("event"), N_("state"), N_("person"),
                                                     N_("detail")))
    return f'<table class="tj-ev" data-events="{len(events)}"><tr>{head}</tr>{rows}</table>'


class AlarmsPage(pn.viewable.Viewer):
    """The alarms page of one browser session.

    Parameters
    ----------
    cfg : Config
    query : dict, optional
        URL query: ``view`` (shown|shelved|all), ``priority``, ``alarm`` (an id to open).
    """

    view = param.Selector(default="shown", objects=list(VIEWS))
    priority = param.Selector(default="", objects=["", *PRIORITIES])
    kind = param.String(default="")
    text = param.String(default="")
    selected = param.Integer(default=None, allow_None=True, doc="the alarm whose history and actions are open")
    message = param.String(default="", doc="the last action's outcome (HTML)")
    tick = param.Integer(default=0, doc="bumped after an action or a refresh")

    def __init__(self, cfg: Config, query: dict | None = None, lang: str = "en", **params):
        from models.alarms import AlarmDB

        self._cfg = cfg
        self.lang = i18n.language(lang)
        self._ = _ = i18n.gettext_for(self.lang)
        self._db = AlarmDB.in_data_dir(cfg.paths.data_dir)
        q = {k: (v[0].decode() if isinstance(v, (list, tuple)) and v and isinstance(v[0], bytes)
                 else v[0] if isinstance(v, (list, tuple)) and v else v) for k, v in (query or {}).items()}
        init = {}
        if q.get("view") in VIEWS:
            init["view"] = q["view"]
        if q.get("priority") in PRIORITIES:
            init["priority"] = q["priority"]
        if str(q.get("alarm", "")).isdigit():
            init["selected"] = int(q["alarm"])
        super().__init__(**init, **params)
        self._name = pn.widgets.TextInput(name=_("Your name"), placeholder=_("needed: no login on this server"),
                                          visible=not self._has_accounts())
        self._reason = pn.widgets.TextInput(name=_("Note or reason"), placeholder=_("why (needed to shelve)"))
        self._hours = pn.widgets.TextInput(name=_("Shelve for [h]"), value="8")

    def _has_accounts(self) -> bool:
        from workspace import accounts as A

        return A.Accounts(self._cfg.paths.data_dir).exists()

    def rows(self) -> pd.DataFrame:
        return alarm_table(read_alarms(self._db, self.view), self._cfg.site.plant.timezone,
                           priority=self.priority, kind=self.kind, text=self.text)

    def do(self, action: str) -> None:
        """Run ``action`` on the selected alarm as the session's person; the outcome goes to ``message``."""
        _ = self._
        if self.selected is None:
            self.message = f'<p class="tj-refused">{esc(_("choose an alarm first"))}</p>'
            return
        who = session_actor(self._cfg, self._name.value)
        try:
            hours = parse_number(self._hours.value, _("Shelve for [h]"), 0.0, 720.0) if action == "shelve" else 8.0
            a = act(self._cfg, self._db, who, action, self.selected, reason=self._reason.value or "", hours=hours,
                    lang=self.lang)
        except ActionRefused as exc:
            self.message = f'<p class="tj-refused" data-refused="{esc(action)}">{esc(exc)}</p>'
        else:
            state = _(STATE_LABELS[a["state"]]) if a["state"] in STATE_LABELS else a["state"]
            done = _("#{id}: {action} by {person} → {state}").format(id=a["id"], action=_(ACTIONS[action]),
                                                                     person=who.name, state=state)
            self.message = f'<p class="tj-done" data-done="{esc(action)}">{esc(done)}</p>'
            self._reason.value = ""
        self.tick += 1

    @param.depends("view", "priority", "kind", "text", "tick")
    def _list(self):
        _ = self._
        df = self.rows()
        if df.empty:
            return pn.pane.HTML(f'<p data-alarms="0">{esc(_("no alarms here"))}</p>', stylesheets=[CSS])
        ids = [int(i) for i in df["id"]]
        pick = pn.widgets.Select(name=_("Alarm"), options={
            f"#{r.id} {_(PRIORITY_LABELS.get(r.priority, r.priority))} {r.target}: {r.message[:60]}": int(r.id)
            for r in df.itertuples()}, value=self.selected if self.selected in ids else None,
            sizing_mode="stretch_width")
        pick.param.watch(lambda e: setattr(self, "selected", e.new), "value")
        cards = "".join(card_html(r, self.lang) for r in df.to_dict("records"))
        return pn.Column(pick, pn.pane.HTML(f'<div data-alarms="{len(df)}">{cards}</div>', stylesheets=[CSS],
                                            sizing_mode="stretch_width"), sizing_mode="stretch_width")

    @param.depends("selected", "tick", "message")
    def _detail(self):
        parts = [pn.pane.HTML(self.message, stylesheets=[CSS])] if self.message else []
        if self.selected is None:
            return pn.Column(*parts, sizing_mode="stretch_width")
        try:
            a = self._db.alarm(self.selected)
        except KeyError:
            return pn.Column(pn.pane.HTML(f'<p class="tj-refused">{esc(self._("no alarm #{id}").format(id=self.selected))}'
                                          '</p>', stylesheets=[CSS]))
        _ = self._
        rows = alarm_table([a], self._cfg.site.plant.timezone).to_dict("records")
        buttons = []
        for action, color in (("ack", "primary"), ("shelve", "warning"), ("unshelve", "default")):
            b = pn.widgets.Button(name=_(ACTIONS[action]), button_type=color, min_width=120)
            b.on_click(lambda _e, x=action: self.do(x))
            buttons.append(b)
        hist = events_html(self._db.events(self.selected), self._cfg.site.plant.timezone, self.lang)
        return pn.Column(*parts, pn.pane.HTML(card_html(rows[0], self.lang), stylesheets=[CSS],
                                              sizing_mode="stretch_width"),
                         self._name, self._reason, self._hours, pn.FlexBox(*buttons),
                         pn.pane.HTML(f"<h4>{esc(_('History'))}</h4>" + hist, stylesheets=[CSS],
                                      sizing_mode="stretch_width"),
                         sizing_mode="stretch_width")

    def __panel__(self):
        _ = self._
        filters = pn.FlexBox(
            pn.widgets.RadioButtonGroup.from_param(self.param.view, options={_(v): k for k, v in VIEWS.items()}),
            pn.widgets.Select.from_param(self.param.priority, name=_("Priority"),
                                         options={_("all"): "", **{_(PRIORITY_LABELS[p]): p for p in PRIORITIES}},
                                         width=140),
            pn.widgets.TextInput.from_param(self.param.text, name=_("Search"), placeholder=_("rule, device, text"),
                                            width=200))
        return pn.Column(filters, self._detail, self._list, sizing_mode="stretch_width")


def view(ctx):
    """The page for the app shell (:mod:`dashboards.registry`): its state from the URL's query."""
    return AlarmsPage(ctx.cfg, dict(ctx.query), lang=ctx.lang)
