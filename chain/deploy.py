"""Deploying the AnchorRegistry and keeping ``<state_dir>/deployment.json`` true to the chain.

``deployment.json``::

    {"chain_id": 31337, "address": "0x…", "block": 1, "tx": "0x…", "owner": "0x…"}
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from web3 import Web3

from workspace.errors import ChainError

from ._tx import Sender, address_of, send
from .compile import load_artefact

log = logging.getLogger(__name__)

DEPLOYMENT_NAME = "deployment.json"
ANCHORS_NAME = "anchors.jsonl"  # written by chain.anchor
#: Fund the gateway when its balance is below this [wei] (0.1 ether) ...
MIN_GATEWAY_BALANCE = 10**17
#: ... with this much from the deployer [wei] (1 ether; dev chains only).
GATEWAY_FUNDING = 10**18


def registry(w3: Web3, address: str) -> Any:
    """The AnchorRegistry contract object at ``address``."""
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=load_artefact()["abi"])


def default_deployer(w3: Web3) -> str:
    """The node's first unlocked account (anvil and eth-tester dev accounts)."""
    accounts = w3.eth.accounts
    if not accounts:
        raise ChainError("the node has no unlocked account to deploy from; pass a deployer account")
    return accounts[0]


def deploy_registry(w3: Web3, deployer: Sender | None = None) -> str:
    """Deploy a fresh AnchorRegistry owned by ``deployer``; return its checksummed address."""
    return _deploy(w3, deployer or default_deployer(w3))["address"]


def _deploy(w3: Web3, deployer: Sender) -> dict:
    art = load_artefact()
    factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    receipt = send(w3, factory.constructor(), deployer)
    address = receipt["contractAddress"]
    log.info("AnchorRegistry deployed at %s on chain %d (block %d) by %s", address, w3.eth.chain_id,
             receipt["blockNumber"], address_of(deployer))
    return {"chain_id": w3.eth.chain_id, "address": address, "block": receipt["blockNumber"],
            "tx": Web3.to_hex(receipt["transactionHash"]), "owner": address_of(deployer)}


def read_deployment(state_dir: str | os.PathLike) -> dict | None:
    """The recorded deployment, or None when there is none."""
    path = Path(state_dir) / DEPLOYMENT_NAME
    if not path.exists():
        return None
    return json.loads(path.read_text("utf-8"))


def _write_deployment(state_dir: Path, info: dict) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = state_dir / (DEPLOYMENT_NAME + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, state_dir / DEPLOYMENT_NAME)


def _set_aside_lost_anchors(state_dir: Path, lost: dict) -> None:
    """Move the anchor records of a chain that no longer exists out of the way.

    A dev node restarted without its state redeploys the registry at the same address with the same
    chain id, so those records would look valid but their roots are nowhere on chain now. The next
    anchor covers every batch again.
    """
    path = state_dir / ANCHORS_NAME
    if not path.exists():
        return
    aside = state_dir / f"anchors.lost-{lost.get('chain_id')}-{str(lost.get('tx', ''))[:10]}.jsonl"
    os.replace(path, aside)
    log.warning("anchors recorded on the vanished chain moved to %s; the next anchor covers all batches",
                aside)


def ensure_deployment(w3: Web3, state_dir: str | os.PathLike, gateway_address: str, *,
                      deployer: Sender | None = None, fund: bool = True) -> dict:
    """Make sure a registry exists on this chain with ``gateway_address`` registered and funded.

    Deploys when ``deployment.json`` is missing, records another chain id, or its address holds
    no code (a dev node restarted with a fresh chain); registers the gateway if it is not active;
    tops the gateway's balance up from the deployer when below :data:`MIN_GATEWAY_BALANCE` (dev
    chains, where the deployer is a funded node account).

    Parameters
    ----------
    w3 : Web3
        Connection to the node.
    state_dir : path
        Chain state directory holding ``deployment.json``.
    gateway_address : str
        Address of the gateway key (see :mod:`chain.keys`).
    deployer : str or LocalAccount, optional
        Owner account; the node's first unlocked account by default.
    fund : bool
        Whether to top up the gateway's balance.

    Returns
    -------
    dict
        The deployment record (as written to ``deployment.json``).
    """
    state_dir = Path(state_dir)
    deployer = deployer or default_deployer(w3)
    chain_id = w3.eth.chain_id
    info = read_deployment(state_dir)
    if info is not None:
        if info.get("chain_id") != chain_id:
            log.warning("%s records chain %s but the node is chain %d: deploying a new registry",
                        state_dir / DEPLOYMENT_NAME, info.get("chain_id"), chain_id)
            info = None
        elif len(w3.eth.get_code(Web3.to_checksum_address(info["address"]))) == 0:
            log.warning("no contract code at %s on chain %d (node restarted with a fresh chain?): "
                        "deploying a new registry", info["address"], chain_id)
            _set_aside_lost_anchors(state_dir, info)
            info = None
    if info is None:
        info = _deploy(w3, deployer)
        _write_deployment(state_dir, info)
    reg = registry(w3, info["address"])
    gateway = Web3.to_checksum_address(gateway_address)
    if not reg.functions.isGateway(gateway).call():
        owner = reg.functions.owner().call()
        if owner != address_of(deployer):
            raise ChainError(f"gateway {gateway} is not registered in {info['address']} and only its "
                             f"owner {owner} can register it (deployer given: {address_of(deployer)})")
        send(w3, reg.functions.setGateway(gateway, True), deployer)
        log.info("gateway %s registered in %s", gateway, info["address"])
    if fund and w3.eth.get_balance(gateway) < MIN_GATEWAY_BALANCE:
        send(w3, None, deployer, value=GATEWAY_FUNDING, contract=gateway)
        log.info("gateway %s funded with %d wei by %s", gateway, GATEWAY_FUNDING, address_of(deployer))
    return info
