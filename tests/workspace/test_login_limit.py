"""Failed logins per source address across accounts (workspace.login_limit through Accounts.authenticate).

roles.yaml: source_max_failures = 20 within source_window_s = 600 s lock the address for source_lockout_s =
900 s. Hand-worked with a clock we move: 19 failures at t = 0..18 s do not lock; the 20th at t = 19 s does, until
t = 19 + 900 = 919 s; a try at t = 20 s gets Retry-After = 919 - 20 = 899 s (+1 for the part second: 900 s
shown as int(899) + 1). Failures spread wider than the window never add up: 19 at t = 0 and 19 at t = 700 s
(700 - 0 >= 600: the first 19 are forgotten) lock nothing.
"""

from __future__ import annotations

import pytest

from workspace import audit
from workspace.accounts import Accounts, LoginRefused, policy

PW = "correct horse battery"


class Clock:
    def __init__(self, t=1_000_000.0):
        self.t = t

    def __call__(self):
        return self.t


def fail(acc, name, source, clock, at):
    clock.t = 1_000_000.0 + at
    with pytest.raises(LoginRefused) as e:
        acc.authenticate(name, "wrong password!!", source=source)
    return e.value


def test_policy_numbers():
    rules = policy()["login"]
    assert (rules["source_max_failures"], rules["source_window_s"], rules["source_lockout_s"]) == (20, 600, 900)


def test_many_accounts_from_one_address_lock_the_address_only(tmp_path):
    clock = Clock()
    acc = Accounts(tmp_path, clock=clock)
    acc.add("li.wei", "analyst", PW, by="admin")
    for i in range(19):  # 19 different (unknown) names: each account rule sees one failure at most
        assert fail(acc, f"spray-{i}", "10.0.0.9", clock, i).why == "unknown"
    clock.t = 1_000_000.0 + 18.5
    assert acc.authenticate("li.wei", PW, source="10.0.0.8").name == "li.wei"  # another address: unaffected
    e = fail(acc, "spray-19", "10.0.0.9", clock, 19)  # the 20th failure locks the address
    assert e.why == "unknown"
    e = fail(acc, "li.wei", "10.0.0.9", clock, 20)  # then even a right password would not be looked at
    assert e.why == "source" and e.retry_after == 900 and "try again in 900 s" in str(e)
    clock.t = 1_000_000.0 + 20
    with pytest.raises(LoginRefused, match="too many failed logins from 10.0.0.9"):
        acc.authenticate("li.wei", PW, source="10.0.0.9")
    clock.t = 1_000_000.0 + 919.5  # 19 + 900 = 919: the lock-out is over
    assert acc.authenticate("li.wei", PW, source="10.0.0.9").name == "li.wei"
    locks = [(e["what"], e["reason"]) for _, e in audit.entries(tmp_path) if e["action"] == "source_locked_out"]
    assert locks == [("address 10.0.0.9", "20 failed logins within 600 s, any accounts; locked for 900 s")]


def test_failures_wider_apart_than_the_window_do_not_add_up(tmp_path):
    clock = Clock()
    acc = Accounts(tmp_path, clock=clock)
    for i in range(19):
        fail(acc, f"spray-{i}", "10.0.0.9", clock, i)
    for i in range(19):
        fail(acc, f"spray-{i}", "10.0.0.9", clock, 700 + i)
    assert acc.limit().retry_after("10.0.0.9") == 0.0
    assert fail(acc, "spray-x", "10.0.0.9", clock, 720).why == "unknown"  # 20 within 600 s now: 19 at 700..718 s and this one at 720 s
    assert acc.limit().retry_after("10.0.0.9") == pytest.approx(900.0)
