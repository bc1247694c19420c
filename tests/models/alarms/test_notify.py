"""Notifications through apprise to real local peers: an SMTP server (aiosmtpd) receives the e-mail, a
webhook receiver (http.server in a thread) receives the JSON body."""

from __future__ import annotations

import json
import threading
from email import message_from_bytes
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest

from models.alarms import AlarmDB, AlarmEngine, RuleSet
from models.alarms.notify import Channel, Notifier

T0 = 1_780_000_000.0
RULES = RuleSet.model_validate({"source": "test", "rules": [
    {"id": "room-smoke", "kind": "room", "quantity": "room.smoke", "message": "smoke detected in room {target}",
     "above": 0.5, "priority": "critical"},
    {"id": "p-high", "kind": "threshold", "quantity": "power", "message": "{target} draws {value} kW",
     "above": 40, "priority": "low"},
]})


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
            return "250 OK"

    import socket

    with socket.socket() as s:  # a free port (the controller's start-up check cannot use port 0)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    c = Controller(inbox, hostname="127.0.0.1", port=port)
    c.start()
    try:
        yield inbox, port
    finally:
        c.stop()


@pytest.fixture
def webhook():
    got = []

    class H(BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("Content-Length", 0))
            got.append((self.path, self.headers.get("Content-Type"), self.rfile.read(n)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *a):  # keep the test output quiet
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    try:
        yield got, srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()
        th.join()


def test_email_and_webhook_received(tmp_path, smtp, webhook):
    inbox, sport = smtp
    got, wport = webhook
    notifier = Notifier([
        Channel(f"mailto://alarms:x@127.0.0.1:{sport}?mode=insecure&from=alarms@plant18.example"
                f"&to=energy@plant18.example&user=&pass=", "high"),
        Channel(f"json://127.0.0.1:{wport}/hooks/alarms", "low"),
    ], site="Plant 18")
    db = AlarmDB(tmp_path / "alarms.sqlite")
    e = AlarmEngine(RULES, db, notify=notifier)
    e.evaluate(T0, {"room.smoke": pd.Series({"DR-1": 1.0, "DR-2": 0.0}), "power": pd.Series({"M1": 45.0})})
    # the e-mail channel takes high and critical: only the smoke alarm
    assert len(inbox.messages) == 1
    frm, to, raw = inbox.messages[0]
    msg = message_from_bytes(raw, policy=email_policy)
    assert (frm, to) == ("alarms@plant18.example", ["energy@plant18.example"])
    body = msg.get_body(preferencelist=("plain", "html")).get_content()
    assert "smoke detected in room DR-1" in body and "draws" not in body
    assert msg["Subject"] == "Plant 18: 1 alarm(s), highest critical"
    # the webhook takes everything: one POST with both alarms, in apprise's JSON body
    assert len(got) == 1
    path, ctype, data = got[0]
    doc = json.loads(data)
    assert path == "/hooks/alarms" and ctype.startswith("application/json")
    assert doc["title"] == "Plant 18: 2 alarm(s), highest critical"
    assert "[critical] room-smoke on DR-1: smoke detected in room DR-1" in doc["message"]
    assert "[low] p-high on M1: M1 draws 45 kW" in doc["message"]
    # a repeat (clear, raise again inside the group window) sends nothing more
    e.evaluate(T0 + 60, {"room.smoke": pd.Series({"DR-1": 0.0, "DR-2": 0.0}), "power": pd.Series({"M1": 45.0})})
    e.evaluate(T0 + 120, {"room.smoke": pd.Series({"DR-1": 1.0, "DR-2": 0.0}), "power": pd.Series({"M1": 45.0})})
    assert len(inbox.messages) == 1 and len(got) == 1
    db.close()


def test_unknown_url_refused():
    with pytest.raises(ValueError, match="apprise"):
        Notifier([Channel("nonsense://x")])


def test_back_from_shelving_is_notified(tmp_path):
    sent = []
    db = AlarmDB(tmp_path / "alarms.sqlite")
    e = AlarmEngine(RULES, db, notify=sent.append)
    e.evaluate(T0, {"room.smoke": pd.Series({"DR-1": 1.0})})
    (aid,) = [a["id"] for a in db.alarms()]
    db.shelve(aid, "Li Wei", "detector being cleaned", until=T0 + 600, at=T0 + 10)
    e.evaluate(T0 + 300, {"room.smoke": pd.Series({"DR-1": 1.0})})  # still shelved: nothing
    e.evaluate(T0 + 600, {"room.smoke": pd.Series({"DR-1": 1.0})})  # expired, still smoke: in view again
    assert [[(t.event, t.state, t.message) for t in batch] for batch in sent] == [
        [("raise", "UNACK", "smoke detected in room DR-1")],
        [("unshelve", "UNACK", "smoke detected in room DR-1")]]
    db.close()
