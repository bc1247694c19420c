"""Accounts and roles: who may log in, with which role, and what a role may do.

The role -> permission table, the route -> permission table and the login policy are data
(``workspace/data/roles.yaml``). Accounts live in ``<data_dir>/accounts/accounts.json``, mode 0600 (refused
when looser), written atomically under an exclusive lock::

    {"schema": 1, "users": {"li.wei": {"role": "energy_manager", "hash": "$argon2id$v=19$…",
     "disabled": false, "created": "2026-12-05T03:20:11Z", "failures": 0, "last_attempt": 0.0,
     "locked_until": 0.0, "session_epoch": 1, "oidc": null}}}

Passwords are hashed with Argon2id (``argon2-cffi``'s defaults, RFC 9106's second recommended option).
A login is refused without checking the password while the account is locked (``max_failures``
consecutive failures lock it for ``lockout_s``) or when it comes sooner than ``min_interval_s`` after the
previous attempt (a rate limit per account), or when its source address is locked out for failing too often
across accounts (:mod:`workspace.login_limit`). ``session_epoch`` grows at each password or role change and
at each disable, so cookies issued before it stop working. Every change and every login goes into the audit
trail (:mod:`workspace.audit`), the login with its method (``password from 10.0.0.5``, ``oidc <issuer> from
10.0.0.5``).

OpenID Connect logins (:mod:`dashboards.oidc`) map to accounts that exist here: ``oidc`` holds the identity
the provider must vouch for (its ``sub``, or its verified ``email``, as ``dashboards.oidc.match`` says), set by
``tanjian user add NAME --role ROLE --oidc IDENTITY`` or ``tanjian user oidc NAME IDENTITY``. The role is the
local account's, never the provider's; a disabled account is refused whatever the provider says. An account
added with ``--oidc`` and no password has no password login.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import functools
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from . import audit
from .errors import TanjianError
from .fsutil import write_atomic
from .secrets import check_private

ROLES_FILE = Path(__file__).with_name("data") / "roles.yaml"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")


class AccountError(TanjianError):
    """An account cannot be added or changed (bad name, unknown role, short password, ...)."""


class LoginRefused(TanjianError):
    """A login was refused; ``why`` is ``password``, ``locked``, ``rate``, ``source``, ``disabled`` or ``unknown``.

    ``retry_after``: seconds until a retry can succeed (``source``: the address's lock-out), else 0."""

    def __init__(self, why: str, message: str, retry_after: float = 0.0):
        self.why = why
        self.retry_after = retry_after
        super().__init__(message)


@functools.lru_cache(maxsize=1)
def policy() -> dict:
    """The parsed ``roles.yaml`` (roles, permissions, routes, login)."""
    from ruamel.yaml import YAML

    with open(ROLES_FILE, encoding="utf-8") as f:
        data = YAML(typ="safe").load(f)
    known = set(data["permissions"])
    for role, r in data["roles"].items():
        unknown = set(r["permissions"]) - known
        if unknown:
            raise TanjianError(f"{ROLES_FILE}: roles.{role}: unknown permission(s) {sorted(unknown)}")
    for route, perm in data["routes"].items():
        if perm not in known:
            raise TanjianError(f"{ROLES_FILE}: routes.{route}: unknown permission {perm!r}")
    return data


def roles() -> tuple[str, ...]:
    return tuple(policy()["roles"])


def permissions(role: str) -> frozenset[str]:
    """What ``role`` may do (empty for an unknown role)."""
    r = policy()["roles"].get(role)
    return frozenset(r["permissions"]) if r else frozenset()


def route_permission(path: str) -> str | None:
    """The permission a route of the dashboards needs (``/readings/ws`` is ``/readings``'s), or None."""
    routes = policy()["routes"]
    p = "/" + path.strip("/").split("/")[0] if path.strip("/") else "/"
    return routes.get(p)


def may(role: str, permission: str) -> bool:
    return permission in permissions(role)


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    disabled: bool
    created: str
    session_epoch: int
    oidc: str | None = None

    @property
    def permissions(self) -> frozenset[str]:
        return permissions(self.role)


def accounts_path(data_dir: str | os.PathLike) -> Path:
    return Path(data_dir) / "accounts" / "accounts.json"


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()


class Accounts:
    """The accounts of a workspace (``<data_dir>/accounts/accounts.json``).

    Parameters
    ----------
    data_dir : path
        The workspace's ``paths.data_dir``.
    clock : callable, optional
        Seconds since the epoch (default :func:`time.time`; tests pass their own).
    """

    def __init__(self, data_dir: str | os.PathLike, clock=time.time):
        self.data_dir = Path(data_dir)
        self.path = accounts_path(data_dir)
        self.clock = clock

    # -- file ----------------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.path.exists()

    def _read(self) -> dict:
        if not self.path.exists():
            return {"schema": 1, "users": {}}
        check_private(self.path, "the accounts file")
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except json.JSONDecodeError as exc:
            raise AccountError(f"{self.path}:{exc.lineno}: not JSON ({exc.msg})") from None
        if data.get("schema") != 1 or not isinstance(data.get("users"), dict):
            raise AccountError(f"{self.path}: not an accounts file of schema 1")
        return data

    def _change(self, fn):
        """Run ``fn(data)`` on the file's content under an exclusive lock and write the result back (0600)."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = self.path.with_suffix(".lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            data = self._read()
            out = fn(data)
            write_atomic(self.path, (json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n")
                         .encode("utf-8"), what="writing the accounts file")  # mkstemp: mode 0600
            return out
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    # -- queries -------------------------------------------------------------------------------
    def get(self, name: str) -> Account | None:
        u = self._read()["users"].get(name)
        return None if u is None else self._account(name, u)

    def list(self) -> list[Account]:
        return [self._account(n, u) for n, u in sorted(self._read()["users"].items())]

    @staticmethod
    def _account(name: str, u: dict) -> Account:
        return Account(name, u["role"], bool(u.get("disabled")), u.get("created", ""), int(u.get("session_epoch", 1)),
                       u.get("oidc") or None)

    # -- changes -------------------------------------------------------------------------------
    def _check_password(self, password: str) -> None:
        n = policy()["login"]["min_password_length"]
        if len(password) < n:
            raise AccountError(f"a password needs at least {n} characters (NIST SP 800-63B asks 8 or more)")

    @staticmethod
    def _check_role(role: str) -> None:
        if role not in roles():
            raise AccountError(f"unknown role {role!r}; the roles are {', '.join(roles())} ({ROLES_FILE})")

    def add(self, name: str, role: str, password: str | None, *, by: str, reason: str = "",
            oidc: str | None = None) -> Account:
        """Create an account (the audit entry names ``by``); ``oidc``: the OpenID Connect identity it logs in
        with (then ``password`` may be None: no password login)."""
        if not NAME_RE.match(name or ""):
            raise AccountError(f"account name {name!r}: 1-32 characters of a-z 0-9 . _ -, starting with a letter "
                               f"or digit")
        self._check_role(role)
        if password is None and not oidc:
            raise AccountError("an account needs a password, or an OpenID Connect identity (--oidc)")
        if password is not None:
            self._check_password(password)
        oidc = self._check_identity(oidc)
        digest = None if password is None else _hasher().hash(password)

        def fn(data):
            if name in data["users"]:
                raise AccountError(f"account {name!r} exists; change it with `tanjian user passwd|role`")
            self._identity_free(data, oidc, name)
            data["users"][name] = {"role": role, "hash": digest, "disabled": False,
                                   "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                                   "failures": 0, "last_attempt": 0.0, "locked_until": 0.0, "session_epoch": 1,
                                   "oidc": oidc}
        self._change(fn)
        audit.record(self.data_dir, by, "user_add", f"{name} as {role}" + (f", OpenID {oidc}" if oidc else ""),
                     reason)
        return self.get(name)

    @staticmethod
    def _check_identity(identity: str | None) -> str | None:
        if identity is None:
            return None
        identity = identity.strip()
        if not identity or len(identity) > 255 or any(c.isspace() for c in identity):
            raise AccountError(f"OpenID identity {identity!r}: the provider's sub or e-mail address, 1-255 "
                               f"characters without spaces")
        return identity

    @staticmethod
    def _identity_free(data: dict, identity: str | None, name: str) -> None:
        for other, u in data["users"].items():
            if identity and other != name and u.get("oidc") == identity:
                raise AccountError(f"OpenID identity {identity!r} is already account {other!r}'s")

    def set_oidc(self, name: str, identity: str | None, *, by: str, reason: str) -> None:
        """Link ``name`` to an OpenID Connect identity (None: unlink); its sessions end."""
        identity = self._check_identity(identity)

        def change(data):
            u = data["users"].get(name)
            if u is None:
                raise AccountError(f"no account {name!r}")
            if identity is None and not u.get("hash"):
                raise AccountError(f"{name} has no password: unlinking would leave no way to log in "
                                   f"(set one with `tanjian user passwd {name}` first)")
            self._identity_free(data, identity, name)
            u.update(oidc=identity, session_epoch=int(u.get("session_epoch", 1)) + 1)
        self._change(change)
        audit.record(self.data_dir, by, "user_oidc", f"{name}: {identity or 'unlinked'}", reason)

    def _update(self, name: str, fn) -> None:
        def change(data):
            u = data["users"].get(name)
            if u is None:
                raise AccountError(f"no account {name!r} (the accounts are: "
                                   f"{', '.join(sorted(data['users'])) or 'none'})")
            fn(u)
        self._change(change)

    def passwd(self, name: str, password: str, *, by: str, reason: str = "") -> None:
        self._check_password(password)
        digest = _hasher().hash(password)

        def fn(u):
            u.update(hash=digest, failures=0, locked_until=0.0, session_epoch=int(u.get("session_epoch", 1)) + 1)
        self._update(name, fn)
        audit.record(self.data_dir, by, "user_passwd", name, reason)

    def set_role(self, name: str, role: str, *, by: str, reason: str) -> None:
        self._check_role(role)
        old = {}

        def fn(u):
            old["role"] = u["role"]
            u.update(role=role, session_epoch=int(u.get("session_epoch", 1)) + 1)
        self._update(name, fn)
        audit.record(self.data_dir, by, "user_role", f"{name}: {old['role']} -> {role}", reason)

    def set_disabled(self, name: str, disabled: bool, *, by: str, reason: str) -> None:
        def fn(u):
            u.update(disabled=disabled, failures=0, locked_until=0.0,
                     session_epoch=int(u.get("session_epoch", 1)) + 1)
        self._update(name, fn)
        audit.record(self.data_dir, by, "user_disable" if disabled else "user_enable", name, reason)

    # -- login ---------------------------------------------------------------------------------
    def limit(self):
        """The failure counts per source address (:mod:`workspace.login_limit`)."""
        from .login_limit import SourceLimit

        return SourceLimit(self.data_dir, policy()["login"], self.clock)

    def authenticate(self, name: str, password: str, *, source: str = "") -> Account:
        """The account, when ``password`` is its password and it may log in now.

        Raises
        ------
        LoginRefused
            Unknown name, wrong password, disabled, locked, or too soon after the previous attempt
            (every refusal and every success is an audit entry; the message never says which names exist).
        """
        rules = policy()["login"]
        now = self.clock()
        where = f"password from {source}" if source else "password"
        outcome: dict = {}
        limit = self.limit()
        wait = limit.retry_after(source)
        if wait > 0:  # refused unchecked, and not audited again: the lock-out itself was
            raise LoginRefused("source", f"too many failed logins from {source}: try again in "
                                         f"{int(wait) + 1} s", retry_after=int(wait) + 1)

        def fn(data):
            u = data["users"].get(name)
            if u is None:
                outcome["why"] = "unknown"
                return
            if u.get("disabled"):
                outcome["why"] = "disabled"
                return
            if now < float(u.get("locked_until", 0.0)):
                outcome["why"] = "locked"
                return
            if now - float(u.get("last_attempt", 0.0)) < float(rules["min_interval_s"]):
                outcome["why"] = "rate"
                u["last_attempt"] = now
                return
            u["last_attempt"] = now
            from argon2.exceptions import VerificationError, InvalidHashError

            try:
                if not u.get("hash"):  # an OpenID-only account has no password login
                    raise InvalidHashError("no password")
                _hasher().verify(u["hash"], password)
            except (VerificationError, InvalidHashError):
                u["failures"] = int(u.get("failures", 0)) + 1
                outcome["why"] = "password"
                if u["failures"] >= int(rules["max_failures"]):
                    u["locked_until"] = now + float(rules["lockout_s"])
                    u["failures"] = 0
                    outcome["locked"] = True
                return
            u["failures"] = 0
            outcome["account"] = self._account(name, u)

        if not NAME_RE.match(name or ""):
            outcome["why"] = "unknown"
        else:
            self._change(fn)
        if "account" in outcome:
            audit.record(self.data_dir, name, "login", where)
            return outcome["account"]
        why = outcome["why"]
        user = name if NAME_RE.match(name or "") else "(invalid name)"
        audit.record(self.data_dir, user, "locked_out" if outcome.get("locked") else "login_failed", where, why)
        if limit.failed(source):
            audit.record(self.data_dir, user, "source_locked_out", f"address {source}",
                         f"{rules['source_max_failures']} failed logins within {rules['source_window_s']} s, "
                         f"any accounts; locked for {rules['source_lockout_s']} s")
        if why == "locked" or outcome.get("locked"):
            raise LoginRefused("locked", f"account locked after {rules['max_failures']} failed logins; "
                                         f"try again in {int(rules['lockout_s']) // 60} minutes")
        if why == "rate":
            raise LoginRefused("rate", f"too many attempts: wait {rules['min_interval_s']} s between logins")
        raise LoginRefused(why, "wrong name or password, or the account is disabled")

    def authenticate_oidc(self, identity: str, *, issuer: str, source: str = "") -> Account:
        """The account linked to ``identity``, which the OpenID provider ``issuer`` has just vouched for.

        Raises
        ------
        LoginRefused
            No account is linked to the identity, or it is disabled (both audited).
        """
        where = f"oidc {issuer}" + (f" from {source}" if source else "")
        found = [a for a in self.list() if a.oidc == identity]
        if not found:
            audit.record(self.data_dir, "(oidc)", "login_failed", f"{where}: {identity}", "unknown")
            raise LoginRefused("unknown", f"no tanjian account is linked to the identity {identity}; an "
                                          f"administrator links one with `tanjian user oidc NAME {identity}`")
        a = found[0]
        if a.disabled:
            audit.record(self.data_dir, a.name, "login_failed", where, "disabled")
            raise LoginRefused("disabled", f"the account {a.name} (identity {identity}) is disabled: the "
                                           f"provider's yes is not enough")
        audit.record(self.data_dir, a.name, "login", where)
        return a
