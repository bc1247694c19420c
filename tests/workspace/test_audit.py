"""The audit trail: canonical entries, the hash chain, and an edit, removal, reordering or rewrite NAMED."""

from __future__ import annotations

import hashlib
import json

import pytest

from workspace import audit
from workspace.audit import AuditError


def _lines(d):
    return audit.trail_path(d).read_bytes().splitlines(keepends=True)


def _write(d, lines):
    audit.trail_path(d).write_bytes(b"".join(lines))


def _three(d):
    for i, (u, a, w, r) in enumerate([("li.wei", "correction", "M-101 08:00 = 5", "misread"),
                                      ("wang", "quota_set", "plant-18 2026 1200000 kg", "letter 7"),
                                      ("zhao", "login", "dashboards", "")]):
        audit.record(d, u, a, w, r, time=f"2026-12-05T03:0{i}:00.000Z")


def test_entry_zero_is_the_hand_written_canonical_json(tmp_path):
    e = audit.record(tmp_path, "li.wei", "login", "dashboards", time="2026-12-05T03:00:00.000Z")
    # The digests by hand: SHA-256 of each field's canonical JSON (a JSON string with its quotes), first 16 hex.
    dig = {k: hashlib.sha256(json.dumps(v, ensure_ascii=False).encode()).hexdigest()[:16]
           for k, v in [("action", "login"), ("reason", ""), ("time", "2026-12-05T03:00:00.000Z"),
                        ("user", "li.wei"), ("what", "dashboards")]}
    # Sorted keys, no spaces: action, digests{action,reason,time,user,what}, n, prev, reason, time, user, what.
    body = ('{"action":"login","digests":{"action":"%s","reason":"%s","time":"%s","user":"%s","what":"%s"},'
            '"n":0,"prev":"%s","reason":"","time":"2026-12-05T03:00:00.000Z","user":"li.wei","what":"dashboards"}'
            % (dig["action"], dig["reason"], dig["time"], dig["user"], dig["what"], "0" * 64))
    want_hash = hashlib.sha256(body.encode()).hexdigest()
    assert e["hash"] == want_hash
    line = body[:-1] + ',"hash":"%s"}' % want_hash
    # "hash" sorts between "digests" and "n": rebuild the line in key order.
    obj = json.loads(line)
    assert _lines(tmp_path) == [json.dumps(obj, sort_keys=True, separators=(",", ":")).encode() + b"\n"]
    e1 = audit.record(tmp_path, "wang", "logout", "dashboards")
    assert e1["n"] == 1 and e1["prev"] == want_hash
    assert audit.verify(tmp_path) == audit.Head(1, e1["hash"])


def test_unknown_action_and_empty_user_refused(tmp_path):
    with pytest.raises(AuditError, match="unknown action 'delete_everything'"):
        audit.record(tmp_path, "x", "delete_everything", "all")
    with pytest.raises(AuditError, match="needs a user"):
        audit.record(tmp_path, " ", "login", "dashboards")


def test_edited_field_is_named(tmp_path):
    _three(tmp_path)
    lines = _lines(tmp_path)
    lines[1] = lines[1].replace(b"letter 7", b"letter 8")
    _write(tmp_path, lines)
    with pytest.raises(AuditError, match=r":2: entry 1: field 'reason' was edited"):
        audit.verify(tmp_path)


def test_edited_entry_with_recomputed_digests_and_hash_breaks_the_next_link(tmp_path):
    _three(tmp_path)
    lines = _lines(tmp_path)
    e = json.loads(lines[1])
    e["what"] = "plant-18 2026 9999999 kg"
    e["digests"]["what"] = audit.field_digest(e["what"])
    e["hash"] = audit.entry_hash(e)
    lines[1] = audit.canonical(e) + b"\n"
    _write(tmp_path, lines)
    with pytest.raises(AuditError, match=r"entry 2: field 'prev' does not match the hash of entry 1"):
        audit.verify(tmp_path)


def test_edited_hash_is_named(tmp_path):
    _three(tmp_path)
    lines = _lines(tmp_path)
    e = json.loads(lines[2])
    e["hash"] = "f" * 64
    lines[2] = audit.canonical(e) + b"\n"
    _write(tmp_path, lines)
    with pytest.raises(AuditError, match=r"entry 2: field 'hash'"):
        audit.verify(tmp_path)


def test_removed_entry_is_named(tmp_path):
    _three(tmp_path)
    lines = _lines(tmp_path)
    _write(tmp_path, [lines[0], lines[2]])
    with pytest.raises(AuditError, match=r"entry 1: holds entry 2: entry 1 was removed"):
        audit.verify(tmp_path)


def test_reordered_entries_are_named(tmp_path):
    _three(tmp_path)
    lines = _lines(tmp_path)
    _write(tmp_path, [lines[0], lines[2], lines[1]])
    with pytest.raises(AuditError, match=r"entry 1: holds entry 2"):
        audit.verify(tmp_path)


def test_consistent_rewrite_is_caught_by_the_anchored_head(tmp_path):
    _three(tmp_path)
    anchored = {2: audit.head(tmp_path).hash}
    # Rewrite the whole trail consistently (as someone with write access to the file could).
    audit.trail_path(tmp_path).unlink()
    _three(tmp_path)
    lines = _lines(tmp_path)
    audit.trail_path(tmp_path).unlink()
    for i, line in enumerate(lines):
        e = json.loads(line)
        audit.record(tmp_path, e["user"], e["action"], e["what"] + (" (rewritten)" if i == 0 else ""),
                     e["reason"], time=e["time"])
    assert audit.verify(tmp_path).n == 2  # consistent on its own
    with pytest.raises(AuditError, match=r"entry 2: field 'hash' .* differs from the head anchored"):
        audit.verify(tmp_path, anchored=anchored)
    lines = _lines(tmp_path)
    _write(tmp_path, lines[:2])
    with pytest.raises(AuditError, match=r"entry 2, anchored with the ledger, is missing"):
        audit.verify(tmp_path, anchored={2: "0" * 64})


def test_inbox_requests_are_recorded_but_not_the_audit_head(tmp_path):
    from workspace.inbox import submit

    submit(tmp_path / "inbox", {"kind": "meter_replaced", "author": "li.wei", "reason": "meter broken",
                                "meter": "M-101", "time": "2026-12-01T08:00:00+08:00", "old_final": 1234.5,
                                "new_initial": 0.0})
    [(_, e)] = list(audit.entries(tmp_path))
    assert (e["user"], e["action"], e["reason"]) == ("li.wei", "meter_replaced", "meter broken")
    assert e["what"] == "M-101 2026-12-01T08:00:00+08:00 old final 1234.5 new initial 0.0"
    assert audit.queue_head(tmp_path) is not None  # the head document goes into the inbox ...
    assert audit.queue_head(tmp_path) is None      # ... once per head
    assert [e["n"] for _, e in audit.entries(tmp_path)] == [0]  # ... and is not itself an audit entry
    req = json.loads(sorted((tmp_path / "inbox").glob("*.json"))[-1].read_text())
    assert (req["name"], req["sha256"]) == ("audit-head-0", e["hash"])
