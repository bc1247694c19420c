"""Who acts on a page: the logged-in account of the browser session (checked again against the accounts file
at the moment of the action), or on a server without accounts the name the person typed. Pages check the
permission of :class:`Actor` on the server before calling a model or workspace function, and name the actor in
the audit trail (:mod:`workspace.audit`).
"""

from __future__ import annotations

from dataclasses import dataclass

import panel as pn

from workspace.config import Config


class ActionRefused(Exception):
    """An action the person may not take or gave incomplete (the message is for the person)."""


@dataclass(frozen=True)
class Actor:
    """Who acts: the account's name and role (``role`` None on an open server: a typed name)."""

    name: str
    role: str | None

    def may(self, permission: str) -> bool:
        from workspace import accounts as A

        return self.role is None or A.may(self.role, permission)


def session_actor(cfg: Config, typed_name: str = "") -> Actor | None:
    """The person of this browser session: the logged-in account (checked again against the accounts
    file: enabled, its role now), or on a server without accounts the name typed; None when there is none."""
    from workspace import accounts as A

    accounts = A.Accounts(cfg.paths.data_dir)
    if accounts.exists():
        name = pn.state.user
        a = next((x for x in accounts.list() if x.name == name), None) if name else None
        return None if a is None or a.disabled else Actor(a.name, a.role)
    name = typed_name.strip()
    return Actor(name, None) if name else None


def has_accounts(cfg: Config) -> bool:
    """True when the workspace has accounts (then the login names the person; no name is typed)."""
    from workspace import accounts as A

    return A.Accounts(cfg.paths.data_dir).exists()


def parse_number(text, what: str, lo: float, hi: float) -> float:
    """A number typed by a person (plain text inputs: Panel's number spinners have unnamed buttons, an
    accessibility error); :class:`ActionRefused` naming ``what`` when it is not a number in [lo, hi]."""
    try:
        v = float(str(text).replace(",", "").replace("，", "").strip())
    except ValueError:
        raise ActionRefused(f"{what}: {text!r} is not a number") from None
    if not (lo <= v <= hi):
        raise ActionRefused(f"{what}: give {lo:g} to {hi:g}, not {v:g}")
    return v


def parse_day(text, what: str):
    """A date typed as YYYY-MM-DD; :class:`ActionRefused` naming ``what`` otherwise."""
    import datetime as dt

    try:
        return dt.date.fromisoformat(str(text).strip())
    except ValueError:
        raise ActionRefused(f"{what}: {text!r} is not a date (YYYY-MM-DD)") from None
