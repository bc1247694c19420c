"""Emission quotas: hand-entered ones with an audit trail, overridden by the regulator's on chain.

The audit trail is ``<state_dir>/quotas.jsonl``, append-only and fsync'd, one JSON object a line::

    {"time": "2026-03-02T08:00:00+00:00", "action": "set", "source": "hand", "enterprise": "E1",
     "year": 2026, "amount_kg": 1200000, "author": "li.wei", "reason": "allocation letter 2026-07"}
    {"time": "…", "action": "override", "source": "chain", "enterprise": "E1", "year": 2026,
     "amount_kg": 1150000, "overrides_kg": 1200000, "author": "regulator 0x…", "reason": "…",
     "chain": {"chain_id": 31337, "contract": "0x…", "revision": 1, "block": 12}}

:func:`QuotaBook.effective` returns the quota that applies: the latest on-chain revision when the
regulator has set one (it overrides any hand-entered value, and the first time the workspace sees
a revision it writes an ``override`` entry saying so), else the latest hand-entered value. When the
node cannot be reached, the latest on-chain revision recorded in the trail still applies.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from web3 import Web3

from workspace.errors import ChainError

from ._tx import Sender, send
from .node import NODE_DOWN_ERRORS
from .registry import id32, text_of

log = logging.getLogger(__name__)

TRAIL_NAME = "quotas.jsonl"


@dataclass(frozen=True)
class Quota:
    """The quota that applies to an enterprise and year.

    Attributes
    ----------
    enterprise : str
        Enterprise id (e.g. its unified social credit code).
    year : int
        Compliance year.
    amount_kg : int
        Quota [kg CO2e].
    source : {"chain", "hand"}
        Set by the regulator on chain, or hand-entered.
    entry : dict
        The audit-trail entry it comes from.
    """

    enterprise: str
    year: int
    amount_kg: int
    source: str
    entry: dict


class QuotaBook:
    """Quotas of the workspace and their audit trail.

    Parameters
    ----------
    state_dir : path
        Directory of ``quotas.jsonl`` (created if missing).
    registry : Contract, optional
        The QuotaRegistry; without it only hand-entered quotas exist.
    """

    def __init__(self, state_dir: str | os.PathLike, registry: Any = None):
        self.path = Path(state_dir) / TRAIL_NAME
        self.registry = registry

    def entries(self, enterprise: str | None = None, year: int | None = None) -> list[dict]:
        """Audit-trail entries in the order written, optionally of one enterprise and year."""
        if not self.path.exists():
            return []
        out = []
        lines = self.path.read_bytes().split(b"\n")
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                e = json.loads(line)
            except json.JSONDecodeError:
                if n == len(lines):  # torn by a crash
                    log.warning("%s: ignoring a torn last line", self.path)
                    continue
                raise ChainError(f"{self.path}:{n}: not a JSON quota entry") from None
            if (enterprise is None or e["enterprise"] == enterprise) and (year is None or e["year"] == year):
                out.append(e)
        return out

    def _append(self, entry: dict) -> dict:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as f:
            f.seek(0, os.SEEK_END)
            end = f.tell()
            if end:
                f.seek(end - 1)
                if f.read(1) != b"\n":  # a torn last line: cut it off
                    f.seek(0)
                    keep = f.read().rfind(b"\n") + 1
                    f.truncate(keep)
            f.write((json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        return entry

    def set(self, enterprise: str, year: int, amount_kg: int, *, author: str, reason: str) -> dict:
        """Hand-enter a quota [kg CO2e]; returns the audit-trail entry written."""
        if not author.strip() or not reason.strip():
            raise ChainError("a hand-entered quota needs an author and a reason")
        if amount_kg < 0:
            raise ChainError(f"quota {amount_kg} kg CO2e is negative")
        id32(enterprise)  # the id must fit on chain too
        return self._append({"time": _now(), "action": "set", "source": "hand", "enterprise": enterprise,
                             "year": int(year), "amount_kg": int(amount_kg), "author": author,
                             "reason": reason})

    def effective(self, enterprise: str, year: int) -> Quota | None:
        """The quota that applies (see the module docstring); None when none was ever set."""
        trail = self.entries(enterprise, year)
        hand = [e for e in trail if e["source"] == "hand"]
        seen = [e for e in trail if e["source"] == "chain"]
        if self.registry is not None:
            try:
                amount, revisions, block, ts, reason = self.registry.functions.quotaOf(
                    id32(enterprise), int(year)).call()
                if revisions:
                    chain_id = self.registry.w3.eth.chain_id
                    known = [e for e in seen if e["chain"]["revision"] == revisions
                             and e["chain"]["contract"] == self.registry.address
                             and e["chain"]["chain_id"] == chain_id]
                    if not known:
                        regulator = self.registry.functions.regulator().call()
                        before = seen[-1]["amount_kg"] if seen else (hand[-1]["amount_kg"] if hand else None)
                        seen.append(self._append({
                            "time": _now(), "action": "override", "source": "chain", "enterprise": enterprise,
                            "year": int(year), "amount_kg": int(amount), "overrides_kg": before,
                            "author": f"regulator {regulator}",
                            "reason": (f"quota set on chain by the regulator (revision {revisions}, "
                                       f"'{text_of(reason)}') overrides the "
                                       + ("hand-entered one" if hand else "previous value")),
                            "chain": {"chain_id": chain_id, "contract": self.registry.address,
                                      "revision": revisions, "block": block}}))
                        log.warning("quota of %s for %d: on-chain %d kg CO2e overrides %s kg", enterprise,
                                    year, amount, before)
            except NODE_DOWN_ERRORS as exc:
                log.warning("quota registry unreachable (%s); using the quota last seen", exc)
        if seen:
            e = seen[-1]
            return Quota(enterprise, int(year), e["amount_kg"], "chain", e)
        if hand:
            e = hand[-1]
            return Quota(enterprise, int(year), e["amount_kg"], "hand", e)
        return None


def set_on_chain(w3: Web3, registry: Any, regulator: Sender, enterprise: str, year: int, amount_kg: int,
                 reason: str) -> dict:
    """The regulator sets a quota on chain [kg CO2e]; returns the receipt.

    ``reason`` is a short code or reference (at most 32 bytes of UTF-8).
    """
    return send(w3, registry.functions.setQuota(id32(enterprise), int(year), int(amount_kg), id32(reason)),
                regulator)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
