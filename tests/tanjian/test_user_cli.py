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


def test_user_oidc_links(tmp_path):
    """``add --oidc`` without a password file: an OpenID-only account (no password login); ``user oidc`` links and
    unlinks, one identity per account, each change audited with its reason."""
    d = tmp_path / "var"
    base = ["--config", str(EXAMPLE), "--data-dir", str(d)]
    pw = _pw(tmp_path / "pw", "twelve chars at least")
    rc, out, err = run([*base, "user", "add", "ana", "--role", "analyst", "--oidc", "ana-sub", "--by", "admin",
                        "--reason", "SSO"])
    assert rc == 0 and "OpenID identity ana-sub (no password login)" in out, err
    acc = Accounts(d)
    assert acc.get("ana").oidc == "ana-sub"
    import pytest
    from workspace.accounts import LoginRefused

    with pytest.raises(LoginRefused):  # no password: the password form cannot open it
        acc.authenticate("ana", "")
    rc, _, err = run([*base, "user", "add", "bo", "--role", "analyst", "--password-file", str(pw),
                      "--oidc", "ana-sub"])
    assert rc == 2 and err.strip() == "tanjian user: OpenID identity 'ana-sub' is already account 'ana''s"
    rc, _, err = run([*base, "user", "oidc", "ana", "--unlink", "--reason", "x"])
    assert rc == 2 and "ana has no password: unlinking would leave no way to log in" in err
    rc, _, err = run([*base, "user", "oidc", "ana", "--reason", "x"])
    assert rc == 2 and err.strip() == "tanjian user oidc: give an IDENTITY, or --unlink (not both)"
    rc, out, _ = run([*base, "user", "oidc", "ana", "ana@plant18.example", "--by", "admin", "--reason", "by e-mail"])
    assert rc == 0 and acc.get("ana").oidc == "ana@plant18.example"
    assert acc.authenticate_oidc("ana@plant18.example", issuer="https://sso.plant18.example").name == "ana"
    acts = [(e["user"], e["action"], e["what"], e["reason"]) for _, e in audit.entries(d)]
    assert acts[-2:] == [("admin", "user_oidc", "ana: ana@plant18.example", "by e-mail"),
                         ("ana", "login", "oidc https://sso.plant18.example", "")]
