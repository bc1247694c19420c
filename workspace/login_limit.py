"""Failed logins counted per source address, across accounts: an address that fails too often is locked out.

The per-account rule of :mod:`workspace.accounts` (``max_failures`` consecutive failures lock *that account*)
stops an attacker guessing one account's password, but not one who tries a few passwords on each of many
accounts ("password spraying"), nor one who locks every account in turn. This rule counts the failed logins of
one source address, whatever account they named (unknown names included): ``source_max_failures`` failures
within ``source_window_s`` lock the address for ``source_lockout_s``; while it is locked, its logins are
refused before any password is looked at, with the seconds left (the server answers 429 with ``Retry-After``).
The numbers and their reasons are data (``login:`` of ``workspace/data/roles.yaml``).

Which address: the caller's (the dashboards give the socket's peer address, or the ``X-Forwarded-For`` address
only when the peer is one of ``dashboards.trusted_proxies``). The state lives in
``<data_dir>/accounts/sources.json`` (mode 0600, written atomically under an exclusive lock), so it survives a
restart of the server; entries older than the window and expired lock-outs are dropped at every write.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from .fsutil import write_atomic


class SourceLimit:
    """The failure counts of source addresses of one workspace.

    Parameters
    ----------
    data_dir : path
        The workspace's ``paths.data_dir``.
    rules : dict
        ``source_max_failures`` [-], ``source_window_s`` [s], ``source_lockout_s`` [s].
    clock : callable
        Seconds since the epoch.
    """

    def __init__(self, data_dir: str | os.PathLike, rules: dict, clock):
        self.path = Path(data_dir) / "accounts" / "sources.json"
        self.max_failures = int(rules["source_max_failures"])
        self.window_s = float(rules["source_window_s"])
        self.lockout_s = float(rules["source_lockout_s"])
        self.clock = clock

    def _read(self) -> dict:
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        return data if isinstance(data, dict) else {}

    def retry_after(self, source: str) -> float:
        """Seconds until ``source`` may try again (0 when it is not locked out)."""
        if not source:
            return 0.0
        s = self._read().get(source) or {}
        return max(0.0, float(s.get("locked_until", 0.0)) - self.clock())

    def failed(self, source: str) -> bool:
        """Count a failed login of ``source``; True when this failure locks the address out."""
        if not source:
            return False
        now = self.clock()
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            data = self._read()
            for addr in list(data):  # forget what the window and the lock-outs no longer need
                e = data[addr]
                e["failures"] = [t for t in e.get("failures", []) if now - t < self.window_s]
                if not e["failures"] and float(e.get("locked_until", 0.0)) <= now:
                    del data[addr]
            e = data.setdefault(source, {"failures": [], "locked_until": 0.0})
            e["failures"].append(now)
            locked = len(e["failures"]) >= self.max_failures and float(e.get("locked_until", 0.0)) <= now
            if locked:
                e["locked_until"] = now + self.lockout_s
                e["failures"] = []
            write_atomic(self.path, (json.dumps(data, sort_keys=True) + "\n").encode(),
                         what="writing the login failures per address")  # mkstemp: mode 0600
            return locked
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
