"""Anchoring the ledger root on chain, and the local record of anchors (``anchors.jsonl``).

Before anchoring, every new leaf is signed with the gateway key (:mod:`chain.signatures`). Each
anchor covers the whole ledger up to its tree size, so after an outage one transaction with
the newest root covers every batch journaled meanwhile (consistency proofs link it to the earlier
roots). The chain is the truth about what is anchored (``latest()``, ``anchorOf(root)``);
``<state_dir>/anchors.jsonl`` is an append-only, fsync'd record, one JSON object per line::

    {"root": "0x…", "tree_size": 12, "period_start": 1767225600, "period_end": 1767229200,
     "tx_hash": "0x…", "block_number": 7, "block_time": 1767229260, "chain_id": 31337,
     "contract": "0x…", "gateway": "0x…", "plant": "plant-18"}

``period_start`` / ``period_end`` [unix seconds, UTC] span the reading times of the batches the
anchor adds since the previous anchor of that plant on that contract. Each plant has its own log in
the AnchorRegistry; the gateway's plant is the one the DeviceRegistry records for its key.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import BadFunctionCallOutput

from workspace.batch import MAGIC2, decode_columns, parse_time
from workspace.errors import ChainError

from ._tx import send
from .deploy import ANCHORS_NAME, registry
from .ledger import Ledger
from .node import NODE_DOWN_ERRORS, rpc_url_of
from .registry import KeyKind, device_registry_of, text_of
from .signatures import SignatureLog

log = logging.getLogger(__name__)

FIELDS = ("root", "tree_size", "period_start", "period_end", "tx_hash", "block_number", "block_time",
          "chain_id", "contract", "gateway", "plant")


def anchors(state_dir: str | os.PathLike, contract: str | None = None) -> list[dict]:
    """Anchor records of ``<state_dir>/anchors.jsonl`` in the order written.

    Parameters
    ----------
    state_dir : path
        Chain state directory.
    contract : str, optional
        Keep only anchors in this registry (e.g. the current deployment).
    """
    path = Path(state_dir) / ANCHORS_NAME
    if not path.exists():
        return []
    records = []
    lines = path.read_bytes().split(b"\n")
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            if n == len(lines):  # a line torn by a crash: that anchor is re-read from the chain
                log.warning("%s: ignoring a torn last line", path)
                continue
            raise ChainError(f"{path}:{n}: not a JSON anchor record") from None
        if contract is None or rec["contract"].lower() == contract.lower():
            records.append(rec)
    return records


def _append_record(state_dir: Path, record: dict) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / ANCHORS_NAME
    line = json.dumps({k: record[k] for k in FIELDS if k in record}, separators=(",", ":")) + "\n"
    with open(path, "a+b") as f:
        f.seek(0, os.SEEK_END)
        end = f.tell()
        if end:
            f.seek(0)
            data = f.read()
            keep = data.rfind(b"\n") + 1
            if keep < end:  # a line torn by a crash: drop it (the chain still has that anchor)
                log.warning("%s: removing a torn last line of %d bytes", path, end - keep)
                f.truncate(keep)
        f.write(line.encode())
        f.flush()
        os.fsync(f.fileno())


def batch_period(ledger: Ledger, start: int, stop: int) -> tuple[int, int]:
    """Earliest and latest reading time of batches ``start <= seq < stop`` [unix seconds, UTC];
    ``(0, 0)`` when they hold no readings."""
    times = []
    ms = []  # columnar batches: [ms since the epoch]
    for _, payload in ledger.journal.records(start, stop):
        if payload[:16] == MAGIC2:
            t = decode_columns(payload).time
            if len(t):
                ms += [int(t.min()), int(t.max())]
            continue
        obj = json.loads(payload)
        col = obj["columns"].index("time")
        times.extend(row[col] for row in obj["rows"])
    secs = [int(parse_time(t).timestamp()) for t in (min(times), max(times))] if times else []
    secs += [v // 1000 for v in ms]
    if not secs:
        return 0, 0
    return min(secs), max(secs)


class AnchorService:
    """Anchors the ledger's root with the gateway key.

    Parameters
    ----------
    w3 : Web3
        Connection to the node (may be down; see :meth:`anchor_once`).
    contract_address : str
        The AnchorRegistry (see :func:`chain.deploy.ensure_deployment`).
    account : LocalAccount
        Registered gateway key (:func:`chain.keys.load_account`).
    ledger : Ledger
        The plant's ledger.
    state_dir : path
        Where ``anchors.jsonl`` is kept.
    confirmations : int
        Blocks (including the one with the transaction) to wait before recording an anchor [-].
    confirm_timeout : float
        Longest wait for the receipt and confirmations [s]; an anchor confirmed later is picked
        up from the chain's events on the next call.
    before_anchor : callable, optional
        Called first by each :meth:`anchor_once` (the audit trail queues its head for the ledger).
    """

    def __init__(self, w3: Web3, contract_address: str, account: LocalAccount, ledger: Ledger,
                 state_dir: str | os.PathLike, confirmations: int = 1, confirm_timeout: float = 120.0,
                 before_anchor=None):
        self.w3 = w3
        self.before_anchor = before_anchor  # e.g. queue the audit trail's head for the ledger
        self.account = account
        self.ledger = ledger
        self.state_dir = Path(state_dir)
        self.confirmations = max(1, int(confirmations))
        self.confirm_timeout = confirm_timeout
        self.set_contract(contract_address)

        self.signatures = SignatureLog(self.state_dir)

    def set_contract(self, contract_address: str) -> None:
        """Anchor into another registry (after a redeployment)."""
        self.contract_address = Web3.to_checksum_address(contract_address)
        self.registry = registry(self.w3, self.contract_address)
        self._plant: bytes | None = None

    def plant(self) -> bytes:
        """The gateway's plant id (``bytes32``) as the registry's DeviceRegistry records it.

        Raises
        ------
        ChainError
            When the gateway key is not registered as a gateway, or was revoked.
        """
        if self._plant is None:
            devices = device_registry_of(self.w3, self.registry)
            kind, plant, _, _, revoked_at = devices.functions.keyOf(self.account.address).call()
            if kind != KeyKind.GATEWAY:
                raise ChainError(f"{self.account.address} is not a registered gateway in DeviceRegistry "
                                 f"{devices.address}: run `tanjian chain deploy`")
            if revoked_at:
                raise ChainError(f"gateway {self.account.address} was revoked in block {revoked_at}: "
                                 f"it can no longer anchor; register a new key")
            self._plant = bytes(plant)
        return self._plant

    @property
    def rpc_url(self) -> str:
        return rpc_url_of(self.w3)

    def last_anchor(self) -> dict | None:
        """The newest recorded anchor in this service's registry, or None."""
        recs = anchors(self.state_dir, self.contract_address)
        return recs[-1] if recs else None

    def anchor_once(self) -> dict | None:
        """Anchor the current root if the ledger grew since the latest anchor on chain.

        Returns the new anchor record, or None when there was nothing to anchor or the node could
        not be reached (logged as a warning naming the RPC URL; nothing is lost: the next call
        anchors the newest root, which covers every earlier batch).
        """
        if self.before_anchor is not None:
            self.before_anchor()
        self.ledger.sync()
        size = self.ledger.size()
        self.signatures.sign_up_to(self.ledger, self.account, size)
        try:
            return self._anchor(size)
        except NODE_DOWN_ERRORS as exc:
            log.warning("chain node %s is unreachable (%s: %s); %d batches wait for anchoring, "
                        "will retry", self.rpc_url, type(exc).__name__, exc, size - self._local_size())
            return None

    def _local_size(self) -> int:
        last = self.last_anchor()
        return last["tree_size"] if last else 0

    def _anchor(self, size: int) -> dict | None:
        w3, reg = self.w3, self.registry
        chain_id = w3.eth.chain_id
        if len(w3.eth.get_code(self.contract_address)) == 0:
            raise ChainError(f"no AnchorRegistry at {self.contract_address} on chain {chain_id} "
                             f"({self.rpc_url}): run `tanjian chain deploy`")
        try:
            plant = self.plant()
            _, onchain_size = reg.functions.latest(plant).call()
        except BadFunctionCallOutput as exc:
            raise ChainError(f"{self.contract_address} on {self.rpc_url} is not an AnchorRegistry") from exc
        if onchain_size > self._local_size():
            self._reconcile(chain_id, plant)
        if size <= onchain_size:
            if size < onchain_size:
                log.warning("registry %s already holds a tree of %d batches of plant %s but this ledger "
                            "has %d", self.contract_address, onchain_size, text_of(plant), size)
            return None
        root = self.ledger.root(size)
        if reg.functions.anchorOf(root).call()[0] != 0:  # cannot happen unless sizes disagree
            raise ChainError(f"root {Web3.to_hex(root)} is already anchored in {self.contract_address}")
        start, end = batch_period(self.ledger, onchain_size, size)
        receipt = send(w3, reg.functions.anchor(root, size, start, end), self.account,
                       timeout=self.confirm_timeout)
        self._wait_confirmations(receipt["blockNumber"])
        block = w3.eth.get_block(receipt["blockNumber"])
        record = {"root": Web3.to_hex(root), "tree_size": size, "period_start": start, "period_end": end,
                  "tx_hash": Web3.to_hex(receipt["transactionHash"]), "block_number": receipt["blockNumber"],
                  "block_time": int(block["timestamp"]), "chain_id": chain_id,
                  "contract": self.contract_address, "gateway": self.account.address,
                  "plant": text_of(plant)}
        _append_record(self.state_dir, record)
        log.info("anchored root %s of %d batches in block %d (tx %s)", record["root"], size,
                 record["block_number"], record["tx_hash"])
        return record

    def _wait_confirmations(self, block_number: int) -> None:
        target = block_number + self.confirmations - 1
        deadline = time.monotonic() + self.confirm_timeout
        while self.w3.eth.block_number < target:
            if time.monotonic() > deadline:
                raise ChainError(f"anchor in block {block_number} has not reached {self.confirmations} "
                                 f"confirmations within {self.confirm_timeout:.0f} s; it is recorded "
                                 f"once confirmed")
            time.sleep(0.5)

    def _reconcile(self, chain_id: int, plant: bytes) -> None:
        """Record anchors that are on chain but missing locally (crash between send and record)."""
        known = {r["root"].lower() for r in anchors(self.state_dir, self.contract_address)}
        head = self.w3.eth.block_number
        for ev in self.registry.events.Anchored.get_logs(from_block=0, to_block=head,
                                                             argument_filters={"plant": plant}):
            root = Web3.to_hex(ev["args"]["root"])
            if root.lower() in known or ev["blockNumber"] + self.confirmations - 1 > head:
                continue
            block = self.w3.eth.get_block(ev["blockNumber"])
            a = ev["args"]
            record = {"root": root, "tree_size": a["treeSize"], "period_start": a["periodStart"],
                      "period_end": a["periodEnd"], "tx_hash": Web3.to_hex(ev["transactionHash"]),
                      "block_number": ev["blockNumber"], "block_time": int(block["timestamp"]),
                      "chain_id": chain_id, "contract": self.contract_address, "gateway": a["gateway"],
                      "plant": text_of(a["plant"])}
            _append_record(self.state_dir, record)
            log.warning("recorded anchor %s of %d batches found on chain but missing from %s",
                        root, a["treeSize"], self.state_dir / ANCHORS_NAME)

    def run(self, interval_s: float, stop_event: threading.Event, also: tuple = ()) -> None:
        """Anchor every ``interval_s`` [s] until ``stop_event`` is set (run it in a thread).

        ``also``: callables run after each anchoring, e.g. the methodology sync's
        :meth:`chain.methodology_sync.MethodologyWatcher.poll` (the registry's ``MethodologyPublished``
        events); an error in one is logged and the loop goes on.
        """
        log.info("anchoring every %.0f s to %s via %s", interval_s, self.contract_address, self.rpc_url)
        while not stop_event.is_set():
            try:
                self.anchor_once()
            except ChainError as exc:
                log.error("anchoring failed: %s", exc)
            except OSError as exc:  # a full disk refused the local record: the chain has it, reconciled next time
                log.error("anchoring failed: %s: %s (retried in %.0f s)", type(exc).__name__, exc, interval_s)
            for task in also:
                try:
                    task()
                except (ChainError, *NODE_DOWN_ERRORS) as exc:
                    log.error("%s failed: %s", getattr(task, "__qualname__", task), exc)
            stop_event.wait(interval_s)
