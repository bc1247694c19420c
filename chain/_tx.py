"""Private helpers: sending a contract transaction from an unlocked node account or a local key."""

from __future__ import annotations

import ast
import logging
import re
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from eth_abi import decode
from web3.exceptions import ContractLogicError

from workspace.errors import ChainError

log = logging.getLogger(__name__)

Sender = str | LocalAccount

try:  # the in-process test chain reports reverts with its own exception
    from eth_tester.exceptions import TransactionFailed as _TesterFailed

    REVERT_ERRORS: tuple[type[BaseException], ...] = (ContractLogicError, _TesterFailed)
except ImportError:  # pragma: no cover - eth-tester is an optional extra of web3
    REVERT_ERRORS = (ContractLogicError,)


def address_of(sender: Sender) -> str:
    return sender.address if isinstance(sender, LocalAccount) else Web3.to_checksum_address(sender)


def _revert_data(exc: BaseException) -> bytes | None:
    data = getattr(exc, "data", None)
    if isinstance(data, str) and data.startswith("0x"):
        return bytes.fromhex(data[2:])
    msg = str(exc.args[0]) if exc.args else ""
    m = re.search(r"execution reverted: (b'.*'|b\".*\")$", msg)  # eth-tester formats the bytes
    if m:
        try:
            return ast.literal_eval(m.group(1))
        except (ValueError, SyntaxError):
            return None
    return None


def decode_revert(abi: list, exc: BaseException) -> str:
    """Name and arguments of the custom error in a revert (``RootAlreadyAnchored(0x…)``), or the
    node's message when the revert data is not one of ``abi``'s errors."""
    data = _revert_data(exc)
    if data and len(data) >= 4:
        for item in abi:
            if item.get("type") != "error":
                continue
            sig = f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"
            if Web3.keccak(text=sig)[:4] == data[:4]:
                args = decode([i["type"] for i in item["inputs"]], data[4:])
                shown = ", ".join(Web3.to_hex(a) if isinstance(a, bytes) else str(a) for a in args)
                return f"{item['name']}({shown})"
    return str(exc)


def send(w3: Web3, call: Any, sender: Sender, *, value: int = 0, timeout: float = 120.0,
         contract: Any = None) -> dict:
    """Send a contract call (``contract.functions.f(...)``) or, with ``call=None``, a plain value
    transfer (``value`` [wei] to ``contract``, an address); wait for the receipt.

    Reverts are raised as :class:`ChainError` naming the contract's custom error; network errors
    propagate unchanged so that callers can tell "node down" from "node said no".
    """
    frm = address_of(sender)
    try:
        if call is None:
            tx: dict = {"from": frm, "to": Web3.to_checksum_address(contract), "value": value}
            tx["gas"] = w3.eth.estimate_gas(tx)
        else:
            tx = call.build_transaction({"from": frm, "value": value})
        if isinstance(sender, LocalAccount):
            tx.setdefault("nonce", w3.eth.get_transaction_count(frm, "pending"))
            tx.setdefault("chainId", w3.eth.chain_id)
            signed = sender.sign_transaction(tx)
            tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
        else:
            tx_hash = w3.eth.send_transaction(tx)
    except REVERT_ERRORS as exc:
        what = decode_revert(call.contract_abi if call is not None else [], exc)
        raise ChainError(f"transaction from {frm} reverted: {what}") from exc
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout, poll_latency=0.2)
    if receipt["status"] != 1:
        raise ChainError(f"transaction {Web3.to_hex(tx_hash)} from {frm} failed in block "
                         f"{receipt['blockNumber']}")
    return dict(receipt)
