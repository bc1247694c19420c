"""The alarm engine against hand-worked traces: on-delay, deadband, off-delay, grouping, ack, shelve,
suppression by design, restart. Times are seconds from a fixed UTC instant T0."""

from __future__ import annotations

import pandas as pd
import pytest

from models.alarms import AlarmDB, AlarmEngine, BadTransition, RuleSet, State
from models.alarms.rules import load_rules

T0 = 1_780_000_000.0  # 2026-05-28T20:26:40Z, any fixed instant


def ruleset(*rules) -> RuleSet:
    return RuleSet.model_validate({"source": "test limits", "rules": list(rules)})


POWER = {"id": "p-high", "kind": "threshold", "quantity": "power", "message": "{target} draws {value} kW > {limit}",
         "above": 40.0, "deadband": 5.0, "on_delay_s": 120, "off_delay_s": 60, "priority": "high",
         "group_window_s": 600}


def snap(**kw) -> dict:
    return {q: pd.Series(v, dtype=float) for q, v in kw.items()}


@pytest.fixture
def db(tmp_path):
    d = AlarmDB(tmp_path / "alarms.sqlite")
    yield d
    d.close()


def run(engine, trace, quantity="power", target="M1"):
    """Evaluate a per-minute trace; returns the transitions of each minute."""
    return [engine.evaluate(T0 + 60 * k, snap(**{quantity: {target: v}})) for k, v in enumerate(trace)]


def test_chattering_held_back_by_on_delay_and_deadband(db):
    # limit 40 kW, deadband 5 (clears only below 35), on-delay 120 s, off-delay 60 s.
    # minute: 0   1   2   3   4   5   6   7   8   9  10
    # kW:     39  41  39  41  42  43  38  41  36  34  33
    # cond:   F   T   T*  T   T   T   T*  T   T*  F   F    (* kept true by the deadband: 39, 38, 36 > 35)
    # the condition starts at minute 1 and holds: 120 s later (minute 3) the alarm raises; it ends
    # at minute 9 (34 < 35) and after 60 s (minute 10) the alarm clears. Without the deadband the
    # 39 at minute 2 would have reset the on-delay, and 38 and 36 would have cleared it twice.
    e = AlarmEngine(ruleset(POWER), db)
    out = run(e, [39, 41, 39, 41, 42, 43, 38, 41, 36, 34, 33])
    events = [(k, t.event, t.state) for k, ts in enumerate(out) for t in ts]
    assert events == [(3, "raise", "UNACK"), (10, "clear", "RTNUN")]
    a = db.alarms()[0]
    assert a["count"] == 1 and a["message"] == "M1 draws 41 kW > 40" and a["value"] == 41.0


def test_no_deadband_no_delay_chatters(db):
    # the same trace with neither: raise at 1, 3, 7; clear at 2, 6, 8 (the test above can fail)
    e = AlarmEngine(ruleset({**POWER, "deadband": 0, "on_delay_s": 0, "off_delay_s": 0}), db)
    out = run(e, [39, 41, 39, 41, 42, 43, 38, 41, 36, 34, 33])
    kinds = [(k, t.event) for k, ts in enumerate(out) for t in ts]
    assert kinds == [(1, "raise"), (2, "clear"), (3, "repeat"), (6, "clear"), (7, "repeat"), (8, "clear")]
    # the repeats are grouped on one alarm: one row, count 3
    rows = db.alarms()
    assert len(rows) == 1 and rows[0]["count"] == 3


def test_group_window_then_a_new_alarm(db):
    r = {**POWER, "on_delay_s": 0, "off_delay_s": 0, "deadband": 0, "group_window_s": 300}
    e = AlarmEngine(ruleset(r), db)
    e.evaluate(T0, snap(power={"M1": 50}))
    a = db.alarms()[0]
    db.ack(a["id"], "Li Wei", at=T0 + 10)
    e.evaluate(T0 + 60, snap(power={"M1": 30}))  # ACKED + clear -> NORM, cleared at T0+60
    assert db.alarm(a["id"])["state"] == "NORM"
    e.evaluate(T0 + 300, snap(power={"M1": 30}))  # 240 s after clearing: still open (window 300)
    assert db.alarm(a["id"])["closed"] == 0
    e.evaluate(T0 + 360, snap(power={"M1": 30}))  # 300 s: closed
    assert db.alarm(a["id"])["closed"] == 1
    e.evaluate(T0 + 420, snap(power={"M1": 55}))  # a new alarm, a new row
    rows = db.alarms()
    assert len(rows) == 2 and rows[0]["id"] != a["id"] and rows[0]["state"] == "UNACK"


def test_ack_by_a_named_person(db):
    e = AlarmEngine(ruleset({**POWER, "on_delay_s": 0}), db)
    e.evaluate(T0, snap(power={"M1": 45}))
    aid = db.alarms()[0]["id"]
    with pytest.raises(ValueError, match="name of the person"):
        db.ack(aid, "  ")
    a = db.ack(aid, "Zhang San", note="checked on site", at=T0 + 30)
    assert (a["state"], a["acked_by"], a["acked_at"]) == ("ACKED", "Zhang San", T0 + 30)
    with pytest.raises(BadTransition):
        db.ack(aid, "Zhang San")
    ev = db.events(aid)
    assert [(x["event"], x["state"], x["user"], x["detail"]) for x in ev] == [
        ("raise", "UNACK", None, "M1 draws 45 kW > 40"), ("ack", "ACKED", "Zhang San", "checked on site")]


def test_rtnun_then_ack_is_normal(db):
    e = AlarmEngine(ruleset({**POWER, "on_delay_s": 0, "off_delay_s": 0}), db)
    e.evaluate(T0, snap(power={"M1": 45}))
    e.evaluate(T0 + 60, snap(power={"M1": 20}))
    aid = db.alarms()[0]["id"]
    assert db.alarm(aid)["state"] == "RTNUN"
    assert db.ack(aid, "Wang Fang", at=T0 + 90)["state"] == "NORM"


def test_shelve_with_reason_and_expiry(db):
    e = AlarmEngine(ruleset({**POWER, "on_delay_s": 0}), db)
    e.evaluate(T0, snap(power={"M1": 45}))
    aid = db.alarms()[0]["id"]
    with pytest.raises(ValueError, match="reason"):
        db.shelve(aid, "Li Wei", "", until=T0 + 3600, at=T0)
    a = db.shelve(aid, "Li Wei", "meter being recalibrated", until=T0 + 1800, at=T0 + 60)
    assert (a["state"], a["shelve_reason"], a["shelved_by"]) == ("SHLVD", "meter being recalibrated", "Li Wei")
    assert e.evaluate(T0 + 1200, snap(power={"M1": 46})) == []  # still shelved, still active
    # at the expiry (T0+1800) the evaluation unshelves it: the condition is active, so UNACK again
    out = e.evaluate(T0 + 1800, snap(power={"M1": 46}))
    assert [(t.event, t.state) for t in out] == [("unshelve", "UNACK")]
    assert db.events(aid)[-1]["detail"] == "shelving expired"


def test_unshelve_by_hand_when_cleared_is_normal(db):
    e = AlarmEngine(ruleset({**POWER, "on_delay_s": 0, "off_delay_s": 0}), db)
    e.evaluate(T0, snap(power={"M1": 45}))
    aid = db.alarms()[0]["id"]
    db.shelve(aid, "Li Wei", "known fault", until=T0 + 7200, at=T0 + 10)
    e.evaluate(T0 + 60, snap(power={"M1": 10}))  # clears while shelved
    assert db.alarm(aid)["state"] == "SHLVD" and db.alarm(aid)["active"] == 0
    assert db.unshelve(aid, "Li Wei", at=T0 + 120)["state"] == "NORM"


def test_suppressed_by_design_while_offline(db):
    offline = {"id": "offline", "kind": "offline", "message": "{target} silent for {value} s", "above": 300,
               "priority": "medium"}
    low = {"id": "p-low", "kind": "threshold", "quantity": "power", "message": "{target} stopped", "below": 1,
           "suppressed_by": ["offline"], "priority": "low"}
    e = AlarmEngine(ruleset(offline, low), db)
    # minute 0: M1 reads 0.5 kW (p-low raises); minute 1: M1 silent 600 s (offline raises; p-low suppressed)
    e.evaluate(T0, snap(power={"M1": 0.5}, age_s={"M1": 60}))
    out = e.evaluate(T0 + 60, snap(power={"M1": 0.5}, age_s={"M1": 600}))
    assert sorted((t.rule, t.event, t.state) for t in out) == [("offline", "raise", "UNACK"),
                                                               ("p-low", "suppress", "DSUPR")]
    # minute 2: back online (age 60 s), power 5 kW: offline clears, p-low is released and clears -> NORM
    out = e.evaluate(T0 + 120, snap(power={"M1": 5}, age_s={"M1": 60}))
    states = {t.rule: t.state for t in out}
    assert states["offline"] == "RTNUN"
    p = [a for a in db.alarms() if a["rule"] == "p-low"][0]
    assert p["state"] in ("NORM", "RTNUN") and p["active"] == 0


def test_survives_a_restart(tmp_path):
    path = tmp_path / "alarms.sqlite"
    rules = ruleset({**POWER, "on_delay_s": 0, "off_delay_s": 0})
    db = AlarmDB(path)
    AlarmEngine(rules, db).evaluate(T0, snap(power={"M1": 50, "M2": 10}))
    aid = db.alarms()[0]["id"]
    db.ack(aid, "Li Wei", at=T0 + 5)
    db.close()
    db2 = AlarmDB(path)  # a new process: the log, the acknowledgement and the active state are there
    e2 = AlarmEngine(rules, db2)
    assert e2.evaluate(T0 + 60, snap(power={"M1": 50, "M2": 10})) == []  # no second raise
    a = db2.alarm(aid)
    assert (a["state"], a["acked_by"], a["active"]) == ("ACKED", "Li Wei", 1)
    out = e2.evaluate(T0 + 120, snap(power={"M1": 20, "M2": 10}))
    assert [(t.alarm, t.event, t.state) for t in out] == [(aid, "clear", "NORM")]
    db2.close()


KINDS = [  # (rule, snapshot quantity, a value that raises it)
    ({"kind": "threshold", "quantity": "power", "above": 40}, "power", 41.0),
    ({"kind": "threshold", "quantity": "energy_day", "above": 800}, "energy_day", 812.5),
    ({"kind": "threshold", "quantity": "unit_consumption", "above": 950}, "unit_consumption", 1010.0),
    ({"kind": "peak_on", "above": 0.5}, "on_in_peak", 1.0),
    ({"kind": "transformer_overload", "above": 1.0}, "load_rate", 1.08),
    ({"kind": "anomaly", "above": 4.0}, "anomaly_score", 6.2),
    ({"kind": "offline", "above": 300}, "age_s", 900.0),
    ({"kind": "data_quality", "above": 0}, "flagged_minutes", 3.0),
    ({"kind": "room", "quantity": "room.temperature", "above": 35}, "room.temperature", 38.5),
    ({"kind": "room", "quantity": "room.leak", "above": 0.5}, "room.leak", 1.0),
    ({"kind": "room", "quantity": "room.smoke", "above": 0.5}, "room.smoke", 1.0),
    ({"kind": "room", "quantity": "room.door", "above": 0.5}, "room.door", 1.0),
    ({"kind": "room", "quantity": "room.humidity", "above": 80}, "room.humidity", 85.0),
    ({"kind": "room", "quantity": "room.switch", "below": 0.5}, "room.switch", 0.0),
    ({"kind": "onsite", "quantity": "onsite.fault", "above": 0.5}, "onsite.fault", 1.0),
    ({"kind": "onsite", "quantity": "onsite.soc", "below": 10}, "onsite.soc", 7.5),
]


@pytest.mark.parametrize("rule,quantity,value", KINDS, ids=[k[1] for k in KINDS])
def test_each_kind_raises(db, rule, quantity, value):
    e = AlarmEngine(ruleset({"id": "r", "message": "{target}: {value} vs {limit}", **rule}), db)
    quiet = rule["above"] - 1 if "above" in rule else rule["below"] + 1  # X2 stays on the normal side
    out = e.evaluate(T0, snap(**{quantity: {"X1": value, "X2": quiet}}))
    assert [(t.target, t.event) for t in out] == [("X1", "raise")]


def test_rules_file_errors_name_file_line_field(tmp_path):
    p = tmp_path / "rules.yaml"
    p.write_text("source: test\nrules:\n  - id: a\n    kind: threshold\n    message: m\n    above: 1\n"
                 "  - id: b\n    kind: room\n    quantity: room.colour\n    message: m\n    above: 1\n")
    from workspace.errors import ConfigError

    with pytest.raises(ConfigError) as e:
        load_rules(p)
    (f, line, field, msg), = e.value.problems
    assert (f, line, field) == (str(p), 7, "rules[1]") and "room.colour" in msg


def test_packaged_plant18_rules_load():
    rs = load_rules()
    assert {r.kind for r in rs.rules} == {"threshold", "peak_on", "transformer_overload", "anomaly", "offline",
                                          "data_quality", "room", "onsite"}


def test_a_target_that_goes_missing_keeps_its_alarm(db):
    # room DR-1's leak alarm raises; the room is then not read for a minute (its series lacks it: the
    # layout changes) and comes back still wet: no second raise, the same alarm, still UNACK
    e = AlarmEngine(ruleset({"id": "leak", "kind": "room", "quantity": "room.leak", "message": "{target} wet",
                             "above": 0.5}), db)
    assert [t.event for t in e.evaluate(T0, snap(**{"room.leak": {"DR-1": 1.0, "DR-2": 0.0}}))] == ["raise"]
    assert e.evaluate(T0 + 60, snap(**{"room.leak": {"DR-2": 0.0}})) == []
    assert e.evaluate(T0 + 120, snap(**{"room.leak": {"DR-1": 1.0, "DR-2": 0.0}})) == []
    (a,) = db.alarms()
    assert (a["state"], a["count"]) == ("UNACK", 1)
