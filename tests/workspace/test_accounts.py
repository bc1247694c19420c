"""Accounts: Argon2id hashes in a 0600 file, roles from data, lock-out and rate limit, audit entries."""

from __future__ import annotations

import json
import os
import stat

import pytest

from workspace import audit
from workspace.accounts import AccountError, Accounts, LoginRefused, permissions, policy, route_permission
from workspace.secrets import SecretFileError

PW = "correct horse battery"


class Clock:
    def __init__(self, t=1_000_000.0):
        self.t = t

    def __call__(self):
        return self.t


def test_add_hashes_with_argon2id_in_a_0600_file(tmp_path):
    acc = Accounts(tmp_path)
    acc.add("li.wei", "energy_manager", PW, by="admin", reason="new hire")
    st = acc.path.stat()
    assert stat.S_IMODE(st.st_mode) == 0o600
    raw = acc.path.read_text()
    assert PW not in raw
    h = json.loads(raw)["users"]["li.wei"]["hash"]
    assert h.startswith("$argon2id$v=19$")  # RFC 9106 Argon2id, version 0x13
    from argon2 import PasswordHasher

    assert PasswordHasher().verify(h, PW)
    [(_, e)] = list(audit.entries(tmp_path))
    assert (e["user"], e["action"], e["what"], e["reason"]) == ("admin", "user_add", "li.wei as energy_manager",
                                                                "new hire")


def test_looser_mode_refused_with_the_fix(tmp_path):
    acc = Accounts(tmp_path)
    acc.add("li.wei", "analyst", PW, by="admin")
    os.chmod(acc.path, 0o644)
    with pytest.raises(SecretFileError, match=r"accessible by group or others \(mode 0644\); run `chmod 600"):
        acc.get("li.wei")


@pytest.mark.parametrize("name,role,pw,msg", [
    ("Li Wei", "analyst", PW, "account name"),
    ("li", "auditor", PW, "unknown role 'auditor'"),
    ("li", "analyst", "short", "at least 12 characters"),
])
def test_bad_accounts_refused(tmp_path, name, role, pw, msg):
    with pytest.raises(AccountError, match=msg):
        Accounts(tmp_path).add(name, role, pw, by="admin")


def test_lockout_after_five_failures_and_rate_limit(tmp_path):
    clock = Clock()
    acc = Accounts(tmp_path, clock=clock)
    acc.add("zhao", "meter_reader", PW, by="admin")
    assert acc.authenticate("zhao", PW).role == "meter_reader"
    clock.t += 0.5  # sooner than min_interval_s = 1 s: refused without checking, even the right password
    with pytest.raises(LoginRefused) as e:
        acc.authenticate("zhao", PW)
    assert e.value.why == "rate"
    for i in range(4):
        clock.t += 2
        with pytest.raises(LoginRefused) as e:
            acc.authenticate("zhao", "wrong password!")
        assert e.value.why == "password"
    clock.t += 2
    with pytest.raises(LoginRefused) as e:  # the 5th consecutive failure locks for lockout_s = 900 s
        acc.authenticate("zhao", "wrong password!")
    assert e.value.why == "locked"
    clock.t += 899
    with pytest.raises(LoginRefused) as e:  # 2 + 899 = 901 s after the 5th failure? no: 899 s, still locked
        acc.authenticate("zhao", PW)
    assert e.value.why == "locked"
    clock.t += 2  # 901 s after the 5th failure: unlocked
    assert acc.authenticate("zhao", PW).name == "zhao"
    actions = [e["action"] for _, e in audit.entries(tmp_path)]
    assert actions == ["user_add", "login", "login_failed", "login_failed", "login_failed", "login_failed",
                       "login_failed", "locked_out", "login_failed", "login"]


def test_disabled_and_unknown_accounts_refused_alike(tmp_path):
    clock = Clock()
    acc = Accounts(tmp_path, clock=clock)
    acc.add("wang", "verifier", PW, by="admin")
    acc.set_disabled("wang", True, by="admin", reason="contract ended")
    with pytest.raises(LoginRefused, match="wrong name or password, or the account is disabled"):
        acc.authenticate("wang", PW)
    with pytest.raises(LoginRefused, match="wrong name or password, or the account is disabled"):
        acc.authenticate("nobody", PW)


def test_role_change_bumps_the_session_epoch(tmp_path):
    acc = Accounts(tmp_path)
    acc.add("wang", "verifier", PW, by="admin")
    assert acc.get("wang").session_epoch == 1
    acc.set_role("wang", "analyst", by="admin", reason="moved to the sustainability team")
    a = acc.get("wang")
    assert (a.role, a.session_epoch) == ("analyst", 2)
    assert [e["what"] for _, e in audit.entries(tmp_path)][-1] == "wang: verifier -> analyst"


def test_role_table():
    # The sentences, checked against the data file:
    assert permissions("meter_reader") == {"page.readings", "reading.submit"}  # readings and nothing else
    for outsider in ("verifier", "association", "regulator"):
        assert "series" not in permissions(outsider) and "page.bigscreen" not in permissions(outsider)
        assert "page.verify" in permissions(outsider)
    assert "jupyter" in permissions("analyst") and "jupyter" not in permissions("energy_manager")
    assert route_permission("/readings/ws") == "page.readings"
    assert route_permission("/") == "page.index"
    assert set(policy()["roles"]) == {"administrator", "energy_manager", "analyst", "meter_reader", "verifier",
                                      "association", "regulator"}
