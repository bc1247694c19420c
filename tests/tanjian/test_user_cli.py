"""``tanjian user add | passwd | role | disable | enable | list``: passwords from a 0600 file only, one-line
refusals (exit 2), every change an audit entry naming who and why."""

from __future__ import annotations

import os

from tests.tanjian.test_audit_cli import run
from workspace import audit
from workspace.accounts import Accounts
from workspace.config import EXAMPLE


def _pw(path, text, mode=0o600):
    path.write_text(text + "\n")
    os.chmod(path, mode)
    return path


def test_user_commands(tmp_path):
    d = tmp_path / "var"
    base = ["--config", str(EXAMPLE), "--data-dir", str(d)]
    pw = _pw(tmp_path / "pw", "twelve chars at least")
    rc, out, err = run([*base, "user", "add", "zhao", "--role", "meter_reader", "--password-file", str(pw),
                        "--by", "admin", "--reason", "new meter reader"])
    assert rc == 0, err
    assert Accounts(d).authenticate("zhao", "twelve chars at least").role == "meter_reader"
    loose = _pw(tmp_path / "loose", "twelve chars at least", 0o644)
    rc, out, err = run([*base, "user", "passwd", "zhao", "--password-file", str(loose)])
    assert rc == 2 and err.strip() == (f"tanjian user: {loose}: the password file is accessible by group or others "
                                       f"(mode 0644); run `chmod 600 {loose}`")
    rc, _, err = run([*base, "user", "add", "wang", "--role", "auditor", "--password-file", str(pw)])
    assert rc == 2 and "unknown role 'auditor'" in err and len(err.strip().splitlines()) == 1
    rc, _, err = run([*base, "user", "role", "zhao", "energy_manager"])  # --reason is required
    assert rc == 2 and "--reason" in err
    rc, out, _ = run([*base, "user", "role", "zhao", "energy_manager", "--by", "admin", "--reason", "promoted"])
    assert rc == 0 and "zhao is now energy_manager" in out
    rc, out, _ = run([*base, "user", "disable", "zhao", "--by", "admin", "--reason", "left the plant"])
    assert rc == 0
    rc, out, _ = run([*base, "user", "list"])
    assert rc == 0 and out.split()[:3] == ["zhao", "energy_manager", "disabled"]
    acts = [(e["user"], e["action"], e["reason"]) for _, e in audit.entries(d)]
    assert ("admin", "user_add", "new meter reader") in acts and ("admin", "user_role", "promoted") in acts
    assert acts[-1] == ("admin", "user_disable", "left the plant")
