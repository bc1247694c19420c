"""``tanjian audit show | verify | export`` on a workspace whose audit head went into the ledger."""

from __future__ import annotations

import contextlib
import io
import json

from tanjian.cli import main
from workspace import audit
from workspace.config import EXAMPLE
from workspace.inbox import drain
from workspace.journal import Journal


def run(argv: list[str]) -> tuple[int, str, str]:
    """``tanjian ARGV`` in process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    return rc, out.getvalue(), err.getvalue()


def test_audit_verify_against_the_journaled_head_and_export(tmp_path):
    d = tmp_path / "var"
    base = ["--config", str(EXAMPLE), "--data-dir", str(d)]
    audit.record(d, "li.wei", "quota_set", "plant-18 2026 1200000 kg", "allocation letter",
                 time="2026-12-05T03:00:00.000Z")
    audit.record(d, "wang", "login", "dashboards", time="2026-12-05T03:01:00.000Z")
    assert audit.queue_head(d) is not None
    with Journal(d / "journal", writer=True) as j:
        assert drain(d / "inbox", j, "plant-18") == 1  # the head document is ledger batch 0
    assert audit.journal_heads(d / "journal") == {1: audit.head(d).hash}

    rc, out, err = run([*base, "audit", "verify"])
    assert rc == 0, err
    assert "2 entries" in out and "1 head(s) in the ledger match (newest: entry 1)" in out
    rc, out, _ = run([*base, "audit", "show", "--action", "login"])
    assert rc == 0 and "wang" in out and "li.wei" not in out
    rc, out, _ = run([*base, "audit", "export", "--out", str(tmp_path / "a.csv"), "--format", "csv"])
    assert rc == 0
    assert (tmp_path / "a.csv").read_text().splitlines()[0] == "n,time,user,action,what,reason,prev,hash"

    # An insider rewrites the trail consistently (every digest and hash recomputed): the journaled head names it.
    lines = audit.trail_path(d).read_bytes().splitlines()
    audit.trail_path(d).unlink()
    for line in lines:
        e = json.loads(line)
        audit.record(d, e["user"], e["action"], e["what"].replace("1200000", "2400000"), e["reason"], time=e["time"])
    rc, out, err = run([*base, "audit", "verify"])
    assert rc == 1
    assert "entry 1: field 'hash'" in err and "differs from the head anchored with the ledger" in err
    rc, _, err = run([*base, "audit", "export", "--out", str(tmp_path / "b.jsonl")])
    assert rc == 1 and "refused" in err and not (tmp_path / "b.jsonl").exists()
