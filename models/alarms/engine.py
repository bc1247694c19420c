"""The evaluation step: every rule against every target at once, then the few transitions written.

:meth:`AlarmEngine.evaluate` is what the app runs each minute. The rules are laid out once as one vector
of *points* (a rule on a target); each step gathers the snapshot's values into that vector and applies,
with numpy over all points together:

- the limit with its deadband (hysteresis): a high alarm's condition starts above ``limit`` and ends
  only below ``limit - deadband`` (low alarms mirrored); a missing value holds the condition (the
  ``offline`` rule reports the silence);
- the on-delay (the condition must hold ``on_delay_s`` before the alarm raises) and the off-delay (it
  must be gone ``off_delay_s`` before it clears): chattering does not reach the operator;
- suppression by design (``suppressed_by``: another rule's active alarm on the same target).

Only the points that changed go to the alarm log (:class:`~models.alarms.db.AlarmDB`), in one
transaction; shelving expiries and the closing of groups are checked on the open alarms only. After a
restart the active alarms come back from the log (their condition counts as settled).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .db import AlarmDB
from .lifecycle import SHOWN, State, next_state
from .rules import RuleSet

log = logging.getLogger(__name__)

#: snapshot: quantity -> values by target id (a pandas Series of floats)
Snapshot = dict[str, pd.Series]


@dataclass(frozen=True)
class Transition:
    """What one evaluation did to one alarm."""

    alarm: int
    rule: str
    target: str
    event: str  # raise | repeat | clear | suppress | release | unshelve | close
    state: str
    priority: str
    message: str
    value: float | None


def _epoch(now) -> float:
    if isinstance(now, (int, float)):
        return float(now)
    if now.tzinfo is None:
        raise ValueError("evaluate() needs an aware time (UTC or the site's zone)")
    return now.timestamp()


class AlarmEngine:
    """Evaluates a :class:`~models.alarms.rules.RuleSet` into an :class:`~models.alarms.db.AlarmDB`.

    Parameters
    ----------
    rules : RuleSet
    db : AlarmDB
    notify : callable, optional
        Called with the list of :class:`Transition` s that put an active, unacknowledged alarm in front of
        the operator (a new alarm, one released from suppression or back from shelving; not a repeat),
        after they are committed (see :class:`models.alarms.notify.Notifier`).
    """

    def __init__(self, rules: RuleSet, db: AlarmDB, notify=None):
        self.rules = [r for r in rules.rules if r.enabled]
        self.db = db
        self.notify = notify
        self._key = None  # the targets of each rule the layout was built for
        self._restored = False

    # -- layout ----------------------------------------------------------------------------------
    def _targets(self, snap: Snapshot) -> list[list[str]]:
        out = []
        for r in self.rules:
            s = snap.get(r.quantity)
            out.append(list(r.targets) if r.targets is not None else ([] if s is None else list(s.index)))
        return out

    def _layout(self, targets: list[list[str]], now: float) -> None:
        old = getattr(self, "_pos", {})
        old_state = (getattr(self, "cond", None), getattr(self, "since", None), getattr(self, "active", None),
                     getattr(self, "suppressed", None))
        n = [len(t) for t in targets]
        self.rule_of = np.repeat(np.arange(len(self.rules)), n)
        self.target_of = [t for ts in targets for t in ts]
        self.limit = np.repeat([r.limit for r in self.rules], n).astype(float)
        self.high = np.repeat([r.high for r in self.rules], n).astype(bool)
        self.band = np.repeat([r.deadband for r in self.rules], n).astype(float)
        self.on_delay = np.repeat([r.on_delay_s for r in self.rules], n).astype(float)
        self.off_delay = np.repeat([r.off_delay_s for r in self.rules], n).astype(float)
        self._pos = {(self.rules[ri].id, t): i for i, (ri, t) in enumerate(zip(self.rule_of, self.target_of))}
        p = len(self.target_of)
        self.cond = np.zeros(p, bool)
        self.since = np.full(p, -np.inf)
        self.active = np.zeros(p, bool)
        self.suppressed = np.zeros(p, bool)
        self._new_points = [i for key, i in self._pos.items() if key not in old]
        if old and old_state[0] is not None:  # carry the state of points that stay
            for key, i in self._pos.items():
                j = old.get(key)
                if j is not None:
                    self.cond[i], self.since[i], self.active[i], self.suppressed[i] = (
                        old_state[0][j], old_state[1][j], old_state[2][j], old_state[3][j])
        self._sup = []  # (points, their suppressor's points) per suppressing rule
        by_rule = {r.id: k for k, r in enumerate(self.rules)}
        for k, r in enumerate(self.rules):
            for s in r.suppressed_by:
                if s not in by_rule:
                    continue
                pts = [self._pos[(r.id, t)] for t in targets[k] if (s, t) in self._pos]
                sup = [self._pos[(s, t)] for t in targets[k] if (s, t) in self._pos]
                if pts:
                    self._sup.append((np.array(pts), np.array(sup)))
        self._starts = np.concatenate([[0], np.cumsum(n)]).astype(int)

    def _restore(self, points=None) -> None:
        """Active alarms from the log: their condition is taken as settled (no new on-delay). ``points``:
        only these (the points a layout change added: a target back after an absence), default all."""
        only = None if points is None else set(points)
        for a in self.db.open_alarms():
            i = self._pos.get((a["rule"], a["target"]))
            if only is not None and i not in only:
                continue
            if i is not None and a["active"]:
                self.cond[i] = self.active[i] = True
            if i is not None and a["state"] == State.DSUPR.value:
                self.suppressed[i] = True
        self._restored = True

    # -- one step --------------------------------------------------------------------------------
    def values(self, snap: Snapshot) -> np.ndarray:
        """The snapshot's values in point order (NaN where a target has none)."""
        out = np.full(len(self.target_of), np.nan)
        for k, r in enumerate(self.rules):
            s = snap.get(r.quantity)
            lo, hi = self._starts[k], self._starts[k + 1]
            if s is None or hi == lo:
                continue
            if r.targets is None and s.index.equals(pd.Index(self.target_of[lo:hi])):
                out[lo:hi] = s.to_numpy(dtype=float, na_value=np.nan)
            else:
                out[lo:hi] = s.reindex(self.target_of[lo:hi]).to_numpy(dtype=float, na_value=np.nan)
        return out

    def step(self, now: float, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The vectorised part: new conditions, delays, suppression. Returns the points that raised,
        cleared, became suppressed and were released (boolean masks)."""
        hi = np.where(self.cond, v > self.limit - self.band, v > self.limit)
        lo = np.where(self.cond, v < self.limit + self.band, v < self.limit)
        c = np.where(self.high, hi, lo)
        c = np.where(np.isnan(v), self.cond, c)
        changed = c != self.cond
        self.since[changed] = now
        self.cond = c
        held = now - self.since
        rise = ~self.active & c & (held >= self.on_delay)
        fall = self.active & ~c & (held >= self.off_delay)
        self.active = self.active ^ (rise | fall)
        sup = np.zeros_like(self.active)
        for pts, by in self._sup:
            sup[pts] |= self.active[by]
        start, end = sup & ~self.suppressed, ~sup & self.suppressed
        self.suppressed = sup
        return rise, fall, start, end

    def evaluate(self, now, snap: Snapshot) -> list[Transition]:
        """Evaluate every rule at ``now`` (aware datetime, or UTC seconds) on ``snap`` and write the
        transitions; returns them."""
        t = _epoch(now)
        targets = self._targets(snap)
        key = tuple(map(tuple, targets))
        if key != self._key:
            self._layout(targets, t)
            self._key = key
            self._restore(None if not self._restored else self._new_points)
        v = self.values(snap)
        rise, fall, start, end = self.step(t, v)
        out: list[Transition] = []
        changed = np.nonzero(rise | fall | start | end)[0]
        with self.db.transaction():
            open_ = {(a["rule"], a["target"]): a for a in self.db.open_alarms()}
            for i in changed:
                out += self._write(int(i), t, v[i], open_, rise[i], fall[i], start[i], end[i])
            out += self._housekeeping(t, open_)
        rules = self.rules_by_id  # a new alarm, or one back in view active (released, shelving expired)
        new = [x for x in out if x.event in ("raise", "release", "unshelve") and x.state == State.UNACK.value
               and (x.rule not in rules or rules[x.rule].notify)]
        if new and self.notify is not None:
            try:
                self.notify(new)
            except Exception:  # a notification channel down must not stop the alarm loop; it is logged
                log.exception("alarm notification failed")
        return out

    @property
    def rules_by_id(self):
        return {r.id: r for r in self.rules}

    def _text(self, k: int, target: str, value: float) -> str:
        r = self.rules[k]
        return r.message.format(target=target, value=f"{value:.4g}", limit=f"{r.limit:g}")

    def _write(self, i: int, t: float, value: float, open_: dict, rise, fall, start, end) -> list[Transition]:
        k = int(self.rule_of[i])
        r, target = self.rules[k], self.target_of[i]
        a = open_.get((r.id, target))
        val = None if np.isnan(value) else float(value)
        out = []

        def tr(alarm_id, event, state, msg):
            out.append(Transition(alarm_id, r.id, target, event, state.value, r.priority, msg, val))

        if rise:
            msg = self._text(k, target, value)
            if a is None:
                state = State.DSUPR if self.suppressed[i] else State.UNACK
                aid = self.db.insert(rule=r.id, target=target, kind=r.kind, priority=r.priority, state=state,
                                     message=msg, value=val, at=t)
                a = open_[(r.id, target)] = {"id": aid, "state": state.value, "active": 1, "cleared_at": None,
                                             "count": 1, "rule": r.id, "target": target, "message": msg,
                                             "priority": r.priority}
                tr(aid, "raise", state, msg)
            else:
                state = next_state(a["state"], "raise")
                self.db.update(a["id"], "repeat", t, detail=msg, state=state.value, active=1, value=val,
                               message=msg, last_raised=t, count=a["count"] + 1, cleared_at=None)
                a.update(state=state.value, active=1, count=a["count"] + 1, cleared_at=None, message=msg)
                tr(a["id"], "repeat", state, msg)
        if fall and a is not None:
            state = next_state(a["state"], "clear")
            self.db.update(a["id"], "clear", t, detail=f"value {val:.4g}" if val is not None else "no value",
                           state=state.value, active=0,
                           cleared_at=t)
            a.update(state=state.value, active=0, cleared_at=t)
            tr(a["id"], "clear", state, a.get("message", ""))
        if start and a is not None and a["state"] != State.SHLVD.value:
            self.db.update(a["id"], "suppress", t, state=State.DSUPR.value)
            a["state"] = State.DSUPR.value
            tr(a["id"], "suppress", State.DSUPR, a.get("message", ""))
        if end and a is not None and a["state"] == State.DSUPR.value:
            state = next_state(a["state"], "release", active=bool(a["active"]))
            self.db.update(a["id"], "release", t, state=state.value, **({} if a["active"] else {"cleared_at": t}))
            a.update(state=state.value)
            if not a["active"]:
                a["cleared_at"] = t
            tr(a["id"], "release", state, a.get("message", ""))
        return out

    def _housekeeping(self, t: float, open_: dict) -> list[Transition]:
        out = []
        rules = self.rules_by_id
        for (rid, target), a in open_.items():
            r = rules.get(rid)
            if a["state"] == State.SHLVD.value and a.get("shelved_until") is not None and a["shelved_until"] <= t:
                state = next_state(a["state"], "unshelve", active=bool(a["active"]))
                self.db.update(a["id"], "unshelve", t, detail="shelving expired", state=state.value,
                               shelved_until=None)
                a["state"] = state.value
                out.append(Transition(a["id"], rid, target, "unshelve", state.value, a.get("priority", ""),
                                      a.get("message", ""), a.get("value")))
            window = r.group_window_s if r is not None else 0.0
            if (a["state"] == State.NORM.value and not a["active"] and a["cleared_at"] is not None
                    and t - a["cleared_at"] >= window):
                self.db.update(a["id"], "close", t, closed=1)
                out.append(Transition(a["id"], rid, target, "close", a["state"], a.get("priority", ""),
                                      a.get("message", ""), a.get("value")))
        return out


def shown(db: AlarmDB) -> list[dict]:
    """The alarms an operator sees now (UNACK, ACKED, RTNUN), most urgent first."""
    order = {p: k for k, p in enumerate(("critical", "high", "medium", "low"))}
    rows = [a for a in db.open_alarms() if a["state"] in {s.value for s in SHOWN}]
    return sorted(rows, key=lambda a: (order.get(a["priority"], 9), -a["last_raised"]))


def as_utc(t: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc)
