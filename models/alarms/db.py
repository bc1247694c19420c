"""The alarm log: every alarm and every event of its life in one SQLite file under the data dir.

WAL journal, ``synchronous=FULL``: a committed transition survives a crash or a power cut. The
evaluation loop is the writer of transitions; a person's acknowledgement or shelving (the CLI, a page)
is one short transaction of its own, serialised by SQLite's lock (``busy_timeout`` 5 s). Times are UTC
seconds since the epoch.

``alarms`` holds one row per alarm *group*: a rule on a target, from its first raise until it has been
back to normal for the rule's ``group_window_s`` (then ``closed``); a repeat inside that window counts on
the same row (``count``) instead of opening a new alarm. ``events`` keeps every transition, with the
person who made it where a person did.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from .lifecycle import BadTransition, State, next_state

SCHEMA = """
CREATE TABLE IF NOT EXISTS alarms (
    id INTEGER PRIMARY KEY,
    rule TEXT NOT NULL, target TEXT NOT NULL, kind TEXT NOT NULL, priority TEXT NOT NULL,
    state TEXT NOT NULL, active INTEGER NOT NULL, message TEXT NOT NULL, value REAL,
    first_raised REAL NOT NULL, last_raised REAL NOT NULL, cleared_at REAL, count INTEGER NOT NULL,
    acked_by TEXT, acked_at REAL, shelved_by TEXT, shelve_reason TEXT, shelved_until REAL,
    closed INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS alarms_open ON alarms(rule, target) WHERE closed = 0;
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, alarm INTEGER NOT NULL REFERENCES alarms(id), at REAL NOT NULL,
    event TEXT NOT NULL, state TEXT NOT NULL, user TEXT, detail TEXT
);
CREATE INDEX IF NOT EXISTS events_alarm ON events(alarm);
"""

FILE = "alarms.sqlite"


class AlarmNotFound(KeyError):
    """No alarm has this id."""


class AlarmDB:
    """The alarm log at ``path`` (a file; created with its tables when missing)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # one evaluation at a time, possibly on a worker thread (the alarm loop): never two at once
        self.con = sqlite3.connect(self.path, timeout=5.0, isolation_level=None, check_same_thread=False)
        self.con.row_factory = sqlite3.Row
        self.con.execute("PRAGMA journal_mode=WAL")
        self.con.execute("PRAGMA synchronous=FULL")
        self.con.executescript(SCHEMA)

    @classmethod
    def in_data_dir(cls, data_dir: str | Path) -> "AlarmDB":
        return cls(Path(data_dir) / FILE)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "AlarmDB":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- reading ---------------------------------------------------------------------------------
    def open_alarms(self) -> list[dict]:
        return [dict(r) for r in self.con.execute("SELECT * FROM alarms WHERE closed = 0 ORDER BY id")]

    def alarms(self, *, shown_only: bool = False, state: str | None = None, limit: int = 1000) -> list[dict]:
        """Alarms, newest first: all (``shown_only=False``), or those an operator sees (UNACK, ACKED, RTNUN)."""
        sql, par = "SELECT * FROM alarms", []
        if shown_only:
            sql += " WHERE closed = 0 AND state IN ('UNACK', 'ACKED', 'RTNUN')"
        elif state is not None:
            sql += " WHERE state = ?"
            par.append(state)
        sql += " ORDER BY last_raised DESC, id DESC LIMIT ?"
        return [dict(r) for r in self.con.execute(sql, (*par, limit))]

    def alarm(self, alarm_id: int) -> dict:
        row = self.con.execute("SELECT * FROM alarms WHERE id = ?", (alarm_id,)).fetchone()
        if row is None:
            raise AlarmNotFound(alarm_id)
        return dict(row)

    def events(self, alarm_id: int) -> list[dict]:
        return [dict(r) for r in self.con.execute("SELECT * FROM events WHERE alarm = ? ORDER BY id", (alarm_id,))]

    # -- the engine's writes (inside one transaction per evaluation: see :meth:`transaction`) ---------
    def transaction(self):
        return _Tx(self.con)

    def insert(self, *, rule: str, target: str, kind: str, priority: str, state: State, message: str,
               value: float | None, at: float) -> int:
        cur = self.con.execute(
            "INSERT INTO alarms (rule, target, kind, priority, state, active, message, value, first_raised, "
            "last_raised, count) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, 1)",
            (rule, target, kind, priority, state.value, message, value, at, at))
        self._event(cur.lastrowid, at, "raise", state, None, message)
        return int(cur.lastrowid)

    def update(self, alarm_id: int, event: str, at: float, *, user: str | None = None, detail: str | None = None,
               **cols) -> None:
        if cols:
            sets = ", ".join(f"{k} = ?" for k in cols)
            self.con.execute(f"UPDATE alarms SET {sets} WHERE id = ?", (*cols.values(), alarm_id))
        state = cols.get("state") or self.alarm(alarm_id)["state"]
        self._event(alarm_id, at, event, State(state), user, detail)

    def _event(self, alarm_id: int, at: float, event: str, state: State, user: str | None,
               detail: str | None) -> None:
        self.con.execute("INSERT INTO events (alarm, at, event, state, user, detail) VALUES (?, ?, ?, ?, ?, ?)",
                         (alarm_id, at, event, state.value, user, detail))

    # -- a person's actions ------------------------------------------------------------------------
    def ack(self, alarm_id: int, user: str, *, note: str | None = None, at: float | None = None) -> dict:
        """Acknowledge by ``user`` (a named person; required). UNACK -> ACKED, RTNUN -> NORM."""
        return self._act(alarm_id, "ack", user, note, at, lambda a, t: {"acked_by": user, "acked_at": t})

    def shelve(self, alarm_id: int, user: str, reason: str, until: float, *, at: float | None = None) -> dict:
        """Shelve until ``until`` (UTC seconds), with a reason; the evaluation unshelves it at expiry."""
        if not reason or not reason.strip():
            raise ValueError("shelving needs a reason")
        t0 = time.time() if at is None else at
        if until <= t0:
            raise ValueError("the shelving must end in the future")
        return self._act(alarm_id, "shelve", user, reason, at,
                         lambda a, t: {"shelved_by": user, "shelve_reason": reason, "shelved_until": until})

    def unshelve(self, alarm_id: int, user: str | None, *, at: float | None = None) -> dict:
        return self._act(alarm_id, "unshelve", user, None, at,
                         lambda a, t: {"shelved_until": None})

    def _act(self, alarm_id: int, event: str, user: str | None, detail: str | None, at: float | None,
             cols) -> dict:
        if event != "unshelve" and (not user or not user.strip()):
            raise ValueError(f"{event} needs the name of the person")
        at = time.time() if at is None else at
        with self.transaction():
            a = self.alarm(alarm_id)
            if a["closed"]:
                raise BadTransition(f"alarm {alarm_id} is closed")
            new = next_state(a["state"], event, active=bool(a["active"]))
            upd = {"state": new.value, **cols(a, at)}
            if new == State.NORM and not a["active"] and a["cleared_at"] is None:
                upd["cleared_at"] = at
            self.update(alarm_id, event, at, user=user, detail=detail, **upd)
        return self.alarm(alarm_id)


class _Tx:
    def __init__(self, con: sqlite3.Connection):
        self.con = con

    def __enter__(self):
        self.con.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.con.execute("ROLLBACK" if exc_type else "COMMIT")
