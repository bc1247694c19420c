"""Gateway key rotation through the DeviceRegistry: a new key takes over the plant's anchoring, the old one is
revoked for good.

Steps, each safe to repeat after a crash (a second run picks up where the first stopped):

1. a new keystore ``<keystore>.next`` (same password, mode 0600), unless it exists;
2. the registry's admin registers the new key as a gateway of the same plant (no-op when done);
3. the old key's balance (less the gas of the transfer) moves to the new key, so it can pay for anchors;
4. the keystores swap: the old one is kept as ``<keystore>.retired-<address>``, the new one takes its name;
5. the admin revokes the old key (its past anchors stay valid: verifiers check a key was active *at the
   anchor's block*, ``activeAt``).

The plant's anchor log in the AnchorRegistry continues: it is keyed by plant, not by gateway.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from web3 import Web3

from workspace.errors import ChainError

from ._tx import Sender, send
from .deploy import ensure_gateway
from .keys import create_keystore, keystore_address, load_account, read_password
from .registry import DEVICE_REGISTRY, KeyKind, from_deployment

log = logging.getLogger(__name__)

#: gas of a plain value transfer [gas] (Ethereum yellow paper, G_transaction)
TRANSFER_GAS = 21_000


@dataclass(frozen=True)
class Rotation:
    old: str
    new: str
    retired_keystore: Path
    moved_wei: int
    revoked_in_block: int | None


def _move_balance(w3: Web3, old, to: str) -> int:
    """Send ``old``'s balance less the transfer's largest fee to ``to``; returns the wei moved (0: too little)."""
    base = w3.eth.get_block("latest").get("baseFeePerGas", w3.eth.gas_price)
    tip = w3.eth.max_priority_fee
    max_fee = 2 * base + tip  # EIP-1559: room for the base fee to double before inclusion
    value = w3.eth.get_balance(old.address) - TRANSFER_GAS * max_fee
    if value <= 0:
        return 0
    tx = {"from": old.address, "to": Web3.to_checksum_address(to), "value": value, "gas": TRANSFER_GAS,
          "maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip, "type": 2, "chainId": w3.eth.chain_id,
          "nonce": w3.eth.get_transaction_count(old.address, "pending")}
    tx_hash = w3.eth.send_raw_transaction(old.sign_transaction(tx).raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120, poll_latency=0.2)
    if receipt["status"] != 1:
        raise ChainError(f"moving the old gateway's balance failed in block {receipt['blockNumber']}")
    return value


def rotate_gateway(w3: Web3, info: dict, keystore: str | os.PathLike, password_file: str | os.PathLike | None,
                   plant: str, *, admin: Sender) -> Rotation:
    """Rotate the gateway key of ``keystore`` (see the module docstring); returns what was done.

    Parameters
    ----------
    info : dict
        The deployment (``chain.connect.deployment``).
    admin : str or LocalAccount
        The DeviceRegistry's admin (it registers the new key and revokes the old one).
    """
    keystore = Path(keystore)
    password = read_password(password_file)
    nxt = keystore.with_name(keystore.name + ".next")
    old = load_account(keystore, password)
    devices = from_deployment(w3, info, DEVICE_REGISTRY)
    kind, _, _, _, revoked = devices.functions.keyOf(old.address).call()
    if kind == KeyKind.GATEWAY and revoked and nxt.exists():
        raise ChainError(f"{keystore} holds the revoked key {old.address} and {nxt} is left from a rotation: "
                         f"move {nxt} over {keystore} by hand after checking it")
    if not nxt.exists():
        create_keystore(nxt, password)
    new_address = keystore_address(nxt)
    ensure_gateway(w3, info, new_address, plant, deployer=admin)
    moved = _move_balance(w3, old, new_address)
    retired = keystore.with_name(f"{keystore.name}.retired-{old.address}")
    os.replace(keystore, retired)
    os.replace(nxt, keystore)
    receipt = send(w3, devices.functions.revoke(old.address), admin)
    log.warning("gateway key rotated for plant %s: %s -> %s (old key revoked in block %d, kept as %s)", plant,
                old.address, Web3.to_checksum_address(new_address), receipt["blockNumber"], retired)
    return Rotation(old.address, Web3.to_checksum_address(new_address), retired, moved, receipt["blockNumber"])

