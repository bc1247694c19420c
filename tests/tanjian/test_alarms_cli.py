"""``tanjian alarms`` on a real alarm log, and one cycle of the collector's alarm loop against the
simulator's distribution rooms (real Modbus) and a real store."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pandas as pd
import pytest

from models.alarms import AlarmDB, AlarmEngine, load_rules
from tanjian.cli import main
from tests.conftest import free_port_block
from workspace.clock import Clock

UTC = dt.timezone.utc


def run(tmp_path, capsys, *argv):
    try:
        rc = main(["--data-dir", str(tmp_path / "var"), "alarms", *argv])
    except SystemExit as exc:  # argparse refusing a value: exit 2
        rc = exc.code
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.fixture
def log_with_alarms(tmp_path):
    db = AlarmDB(tmp_path / "var" / "alarms.sqlite")
    e = AlarmEngine(load_rules(), db)
    # a leak in DR-1 (critical, no delay) and a meter silent for 900 s (high, no delay)
    now = dt.datetime.now(UTC)
    e.evaluate(now, {"room.leak": pd.Series({"DR-1": 1.0}), "age_s": pd.Series({"M-WR-03": 900.0})})
    ids = {a["rule"]: a["id"] for a in db.alarms()}
    db.close()
    return ids


def test_list_ack_shelve_show(tmp_path, capsys, log_with_alarms):
    ids = log_with_alarms
    rc, out, _ = run(tmp_path, capsys, "list")
    assert rc == 0
    lines = out.splitlines()
    assert "room-leak" in lines[1] and "critical" in lines[1]  # most urgent first
    assert "meter-offline" in lines[2] and "M-WR-03 has sent no reading for 900 s" in lines[2]
    rc, out, _ = run(tmp_path, capsys, "ack", str(ids["room-leak"]), "--user", "Zhang San", "--note", "pump running")
    assert rc == 0 and "acknowledged by Zhang San: now ACKED" in out
    rc, out, _ = run(tmp_path, capsys, "shelve", str(ids["meter-offline"]), "--user", "Li Wei", "--reason",
                     "gateway replaced today", "--hours", "2")
    assert rc == 0 and "gateway replaced today" in out
    rc, out, _ = run(tmp_path, capsys, "list", "--json")
    assert [(a["rule"], a["state"]) for a in json.loads(out)] == [("room-leak", "ACKED")]  # shelved: out of view
    rc, out, _ = run(tmp_path, capsys, "show", str(ids["meter-offline"]))
    assert rc == 0
    assert "path to source: M-WR-03 -> M-WS-CW -> M-TR-1 -> TR-1" in out
    assert "distribution room(s): DR-1" in out and "shelve" in out and "by Li Wei" in out
    rc, out, _ = run(tmp_path, capsys, "unshelve", str(ids["meter-offline"]), "--user", "Li Wei")
    assert rc == 0 and "now UNACK" in out  # still active: back in view, unacknowledged
    # each person's action is on the audit trail too, hash-chained
    from workspace import audit

    trail = [e for _, e in audit.entries(tmp_path / "var")]
    assert [(e["user"], e["action"], e["what"], e["reason"]) for e in trail] == [
        ("Zhang San", "alarm_ack", f"alarm #{ids['room-leak']} room-leak on DR-1", "pump running"),
        ("Li Wei", "alarm_shelve", f"alarm #{ids['meter-offline']} meter-offline on M-WR-03",
         trail[1]["reason"]),
        ("Li Wei", "alarm_unshelve", f"alarm #{ids['meter-offline']} meter-offline on M-WR-03", "")]
    assert trail[1]["reason"].startswith("gateway replaced today (until ")
    audit.verify(tmp_path / "var")


def test_with_accounts_the_user_must_exist_and_may_ack(tmp_path, capsys, log_with_alarms):
    from workspace.accounts import Accounts

    ids = log_with_alarms
    acc = Accounts(tmp_path / "var")
    acc.add("zhang", "energy_manager", "correct horse battery", by="admin")  # energy_manager: alarm.ack
    acc.add("wang", "analyst", "correct horse battery", by="admin")  # analyst: no alarm.ack
    leak = str(ids["room-leak"])
    rc, _, err = run(tmp_path, capsys, "ack", leak, "--user", "nobody")
    assert rc == 2 and err.strip() == ("tanjian alarms ack: --user nobody: no such account (this workspace has "
                                       "accounts: `tanjian user list`)")
    rc, _, err = run(tmp_path, capsys, "shelve", leak, "--user", "wang", "--reason", "x")
    # shelving needs alarm.shelve (roles.yaml), as on the alarms page; the analyst has neither
    assert rc == 2 and err.strip() == "tanjian alarms shelve: --user wang: role analyst has no permission " \
                                      "alarm.shelve (roles.yaml)"
    acc.add("li", "energy_manager", "correct horse battery", by="admin")
    acc.set_disabled("li", True, by="admin", reason="left the plant")
    rc, _, err = run(tmp_path, capsys, "unshelve", leak, "--user", "li")
    assert rc == 2 and "the account is disabled" in err
    from models.alarms import AlarmDB

    db = AlarmDB(tmp_path / "var" / "alarms.sqlite")
    assert db.alarm(ids["room-leak"])["state"] == "UNACK"  # nothing happened on the refusals
    db.close()
    rc, out, _ = run(tmp_path, capsys, "ack", leak, "--user", "zhang")
    assert rc == 0 and "acknowledged by zhang: now ACKED" in out


def test_refusals_are_one_line(tmp_path, capsys, log_with_alarms):
    rc, _, err = run(tmp_path, capsys, "ack", "999", "--user", "Li Wei")
    assert rc == 2 and err.strip() == "tanjian alarms ack: no alarm #999 (`tanjian alarms list --all` lists them)"
    rc, _, err = run(tmp_path, capsys, "ack", "1", "--user", "  ")
    assert rc == 2 and "--user a person's name, not blank" in err
    rc, _, err = run(tmp_path, capsys, "ack", str(log_with_alarms["room-leak"]), "--user", "A")
    rc, _, err = run(tmp_path, capsys, "ack", str(log_with_alarms["room-leak"]), "--user", "B")
    assert rc == 1 and err.strip() == "error: cannot ack an alarm that is ACKED"
    rc, _, err = run(tmp_path, capsys, "shelve", "1", "--user", "A", "--reason", "x", "--hours", "-1")
    assert rc == 2 and "--hours" in err


def test_rules_table(tmp_path, capsys):
    rc, out, _ = run(tmp_path, capsys, "rules")
    assert rc == 0 and "transformer-overload" in out and "critical" in out


async def test_alarm_loop_cycle_reads_the_rooms(fresh):
    from tanjian.alarm_loop import AlarmLoop, read_onsite, read_rooms
    from tanjian.simulator import PlantSimulator

    cfg, j, s = fresh
    gws = cfg.site.gateways
    offset = free_port_block(len(gws)) - min(g.port for g in gws)
    t = dt.datetime(2026, 7, 15, 7, 0, tzinfo=UTC)  # 15:00 local
    clock = Clock.simulated(t, speed=0.0)
    async with PlantSimulator(cfg.site, clock, cfg.simulation.seed, offset) as sim:
        sim.points.set("DR-2", "smoke", 1)
        sim.points.set("DR-1", "door", 1)
        sim.points.set("PV-2", "St", 7)  # SunSpec 103 St 7 = FAULT
        rooms = await read_rooms(cfg.site, offset)
        assert rooms["DR-2"]["smoke"] == 1.0 and rooms["DR-1"]["temperature"] == pytest.approx(28.0)
        onsite = await read_onsite(cfg.site, offset)
        assert (onsite["PV-1"][103]["St"], onsite["PV-2"][103]["St"]) == (4, 7)  # MPPT, FAULT
        assert onsite["BAT-1"][124]["ChaState"] == pytest.approx(70.0)
        loop = AlarmLoop(cfg, clock, port_offset=offset)
        out = await asyncio.to_thread(loop._evaluate, t, rooms, onsite)
    raised = {(x.rule, x.target) for x in out if x.event == "raise"}
    # smoke has no on-delay: raised at once; the door and the inverter fault have a 60 s on-delay: not yet
    assert ("inverter-fault", "PV-2") not in raised
    out = await asyncio.to_thread(loop._evaluate, t + dt.timedelta(seconds=60), rooms, onsite)
    assert {(x.rule, x.target) for x in out if x.event == "raise"} == {("inverter-fault", "PV-2"),
                                                                       ("room-door", "DR-1")}
    assert ("room-smoke", "DR-2") in raised and ("room-door", "DR-1") not in raised
    # the empty store: nothing read at all, no flood of offline alarms for every meter
    assert not any(rule == "meter-offline" for rule, _ in raised)
    loop.engine.db.close()
