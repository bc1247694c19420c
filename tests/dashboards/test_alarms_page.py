"""The alarms page: filters, the actions through the alarm log and the audit trail, the permission checked on
the server, refusals in one line, and the page drawn with an alarm open."""

from __future__ import annotations

import panel as pn
import pytest

from dashboards.alarms_page import ActionRefused, Actor, AlarmsPage, act, alarm_table, card_html, topology_link
from models.alarms import AlarmDB, State
from workspace import audit

T0 = 1_796_000_000.0  # 2026-11-30 00:53:20 UTC (date -u -d @1796000000) = 08:53:20 Asia/Shanghai


@pytest.fixture
def alarms(plant_cfg):
    """An alarm log with three alarms written by the engine's own insert (priorities high, low, critical)."""
    db = AlarmDB.in_data_dir(plant_cfg.paths.data_dir)
    ids = [db.insert(rule="overload", target="TR-1", kind="transformer_overload", priority="high",
                     state=State.UNACK, message="TR-1 load rate 1.12 above 1.00", value=1.12, at=T0),
           db.insert(rule="standby", target="D-LC-01", kind="threshold", priority="low", state=State.UNACK,
                     message="laser cutter on in the sharp period", value=42.0, at=T0 + 60),
           db.insert(rule="smoke", target="DR-1", kind="room", priority="critical", state=State.UNACK,
                     message="smoke in distribution room 1", value=1.0, at=T0 + 120)]
    yield plant_cfg, db, ids
    db.close()


def test_filters_and_order(alarms):
    cfg, db, ids = alarms
    df = alarm_table(db.alarms(), cfg.site.plant.timezone)
    assert list(df["id"]) == [ids[2], ids[0], ids[1]]  # critical, high, low
    assert df.iloc[0]["first_raised_local"] == "2026-11-30 08:55"  # T0 + 120 s = 08:55:20 in UTC+8
    assert list(alarm_table(db.alarms(), cfg.site.plant.timezone, priority="low")["id"]) == [ids[1]]
    assert list(alarm_table(db.alarms(), cfg.site.plant.timezone, text="LASER")["id"]) == [ids[1]]
    assert alarm_table(db.alarms(), cfg.site.plant.timezone, kind="nothing").empty


def test_ack_by_a_named_person_goes_to_the_log_and_the_audit_trail(alarms):
    cfg, db, ids = alarms
    a = act(cfg, db, Actor("li.wei", "energy_manager"), "ack", ids[0], reason="crew on site", now=T0 + 300)
    assert a["state"] == "ACKED" and a["acked_by"] == "li.wei" and a["acked_at"] == T0 + 300
    ev = db.events(ids[0])[-1]
    assert (ev["event"], ev["user"], ev["detail"]) == ("ack", "li.wei", "crew on site")
    last = list(audit.entries(cfg.paths.data_dir))[-1][1]
    assert last["action"] == "alarm_ack" and last["user"] == "li.wei" and f"alarm #{ids[0]}" in last["what"]
    with pytest.raises(ActionRefused, match=f"alarm #{ids[0]}"):  # already acknowledged
        act(cfg, db, Actor("li.wei", "energy_manager"), "ack", ids[0])


def test_the_server_checks_the_permission(alarms):
    cfg, db, ids = alarms
    n = len(list(audit.entries(cfg.paths.data_dir)))
    with pytest.raises(ActionRefused, match="needs permission alarm.ack"):
        act(cfg, db, Actor("wang.fang", "analyst"), "ack", ids[0])
    with pytest.raises(ActionRefused, match="log in"):
        act(cfg, db, None, "ack", ids[0])
    assert db.alarm(ids[0])["state"] == "UNACK"  # nothing changed, nothing recorded
    assert len(list(audit.entries(cfg.paths.data_dir))) == n


def test_shelve_needs_a_reason_and_ends_when_asked(alarms):
    cfg, db, ids = alarms
    who = Actor("li.wei", "energy_manager")
    with pytest.raises(ActionRefused, match="reason"):
        act(cfg, db, who, "shelve", ids[1], reason="  ")
    a = act(cfg, db, who, "shelve", ids[1], reason="cutter under maintenance", hours=8, now=T0 + 600)
    # 8 h = 28,800 s after T0 + 600
    assert a["state"] == "SHLVD" and a["shelved_until"] == T0 + 600 + 28_800
    assert a["shelve_reason"] == "cutter under maintenance"
    assert [x["id"] for x in db.alarms(state="SHLVD")] == [ids[1]]
    a = act(cfg, db, who, "unshelve", ids[1], now=T0 + 700)
    assert a["state"] != "SHLVD"
    actions = [e["action"] for _, e in audit.entries(cfg.paths.data_dir)][-2:]
    assert actions == ["alarm_shelve", "alarm_unshelve"]


def test_open_server_records_the_typed_name(alarms):
    cfg, db, ids = alarms
    page = AlarmsPage(cfg, {"alarm": [str(ids[2]).encode()], "view": [b"all"]})
    assert page.view == "all" and page.selected == ids[2] and page._name.visible  # no accounts: a name is typed
    page.do("ack")
    assert 'data-refused="ack"' in page.message and db.alarm(ids[2])["state"] == "UNACK"
    page._name.value = "zhao.min"
    page.do("ack")
    assert 'data-done="ack"' in page.message and db.alarm(ids[2])["acked_by"] == "zhao.min"
    col = page._detail()
    html = "".join(o.object for o in col.objects if isinstance(o, pn.pane.HTML))
    assert 'data-events="2"' in html and "zhao.min" in html  # raise + ack
    lst = page._list()
    html = "".join(o.object for o in lst.objects if isinstance(o, pn.pane.HTML))
    assert 'data-alarms="3"' in html and f'href="{topology_link("DR-1")}"' in html
    page.__panel__().get_root()


def test_card_escapes_the_message():
    a = {"id": 7, "priority": "high", "state": "UNACK", "kind": "k", "rule": "r", "target": "D-1",
         "message": "<script>x</script>", "count": 2, "value": None}
    h = card_html(a)
    assert "<script>" not in h and "&lt;script&gt;" in h and 'data-alarm="7"' in h
