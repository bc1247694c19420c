"""Deploying the contract set and keeping ``<state_dir>/deployment.json`` true to the chain.

``deployment.json``::

    {"chain_id": 31337, "address": "0x…AnchorRegistry", "block": 2, "tx": "0x…", "owner": "0x…",
     "contracts": {"DeviceRegistry": {"address": "0x…", "block": 1, "tx": "0x…"},
                   "AnchorRegistry": {…}, "MethodologyRegistry": {…}, "QuotaRegistry": {…}},
     "roles": {"owner": "0x…", "association": "0x…", "regulator": "0x…"}}

``address``/``block``/``tx`` repeat the AnchorRegistry's (what earlier readers of this file use).
On a consortium chain the owner (DeviceRegistry admin), the association and the regulator are
three different accounts; on a dev chain they default to the deployer.
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
from .artefacts import load_artefact
from .registry import (ANCHOR_REGISTRY, CONTRACT_NAMES, DEVICE_REGISTRY, METHODOLOGY_REGISTRY,
                       QUOTA_REGISTRY, KeyKind, contract, from_deployment, id32, text_of)

log = logging.getLogger(__name__)

DEPLOYMENT_NAME = "deployment.json"
ANCHORS_NAME = "anchors.jsonl"  # written by chain.anchor
#: Fund the gateway when its balance is below this [wei] (0.1 ether) ...
MIN_GATEWAY_BALANCE = 10**17
#: ... with this much from the deployer [wei] (1 ether; dev chains only).
GATEWAY_FUNDING = 10**18


def registry(w3: Web3, address: str) -> Any:
    """The AnchorRegistry contract object at ``address``."""
    return contract(w3, ANCHOR_REGISTRY, address)


def default_deployer(w3: Web3) -> str:
    """The node's first unlocked account (anvil and eth-tester dev accounts)."""
    accounts = w3.eth.accounts
    if not accounts:
        raise ChainError("the node has no unlocked account to deploy from; pass a deployer account")
    return accounts[0]


def _deploy_one(w3: Web3, name: str, deployer: Sender, *args: Any) -> dict:
    art = load_artefact(name)
    factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    receipt = send(w3, factory.constructor(*args), deployer)
    log.info("%s deployed at %s on chain %d (block %d) by %s", name, receipt["contractAddress"],
             w3.eth.chain_id, receipt["blockNumber"], address_of(deployer))
    return {"address": receipt["contractAddress"], "block": receipt["blockNumber"],
            "tx": Web3.to_hex(receipt["transactionHash"])}


def deploy_contracts(w3: Web3, deployer: Sender | None = None, *, association: str | None = None,
                     regulator: str | None = None) -> dict:
    """Deploy a fresh contract set; return its deployment record (not written anywhere).

    Parameters
    ----------
    w3 : Web3
        Connection to the node.
    deployer : str or LocalAccount, optional
        Becomes the DeviceRegistry admin (``roles.owner``); the node's first account by default.
    association, regulator : str, optional
        Addresses of the industry association (publishes methodologies) and of the regulator
        (sets quotas); the deployer by default (dev chains).
    """
    deployer = deployer or default_deployer(w3)
    owner = address_of(deployer)
    association = Web3.to_checksum_address(association or owner)
    regulator = Web3.to_checksum_address(regulator or owner)
    devices = _deploy_one(w3, DEVICE_REGISTRY, deployer)
    contracts = {
        DEVICE_REGISTRY: devices,
        ANCHOR_REGISTRY: _deploy_one(w3, ANCHOR_REGISTRY, deployer, devices["address"]),
        METHODOLOGY_REGISTRY: _deploy_one(w3, METHODOLOGY_REGISTRY, deployer, association),
        QUOTA_REGISTRY: _deploy_one(w3, QUOTA_REGISTRY, deployer, regulator),
    }
    a = contracts[ANCHOR_REGISTRY]
    return {"chain_id": w3.eth.chain_id, "address": a["address"], "block": a["block"], "tx": a["tx"],
            "owner": owner, "contracts": contracts,
            "roles": {"owner": owner, "association": association, "regulator": regulator}}


def deploy_registry(w3: Web3, deployer: Sender | None = None) -> str:
    """Deploy a fresh contract set; return its AnchorRegistry's checksummed address."""
    return deploy_contracts(w3, deployer)["address"]


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


def _usable(w3: Web3, state_dir: Path, info: dict | None) -> dict | None:
    """``info`` if it describes a complete contract set with code on this chain, else None (why: logged)."""
    if info is None:
        return None
    chain_id = w3.eth.chain_id
    if info.get("chain_id") != chain_id:
        log.warning("%s records chain %s but the node is chain %d: deploying new contracts",
                    state_dir / DEPLOYMENT_NAME, info.get("chain_id"), chain_id)
        return None
    if len(w3.eth.get_code(Web3.to_checksum_address(info["address"]))) == 0:
        log.warning("no contract code at %s on chain %d (node restarted with a fresh chain?): "
                    "deploying new contracts", info["address"], chain_id)
        _set_aside_lost_anchors(state_dir, info)
        return None
    missing = [n for n in CONTRACT_NAMES if n not in (info.get("contracts") or {})]
    if missing:
        log.warning("%s lacks %s (written by an older tanjian): deploying the full contract set; "
                    "anchors in %s stay on chain", state_dir / DEPLOYMENT_NAME, ", ".join(missing),
                    info["address"])
        return None
    return info


def ensure_gateway(w3: Web3, info: dict, gateway_address: str, plant: str, *,
                   deployer: Sender | None = None, responsible: str | None = None) -> None:
    """Register ``gateway_address`` as an active gateway of ``plant`` unless it already is.

    Raises
    ------
    ChainError
        When the key was revoked (revocation is final: create a new key), belongs to another plant,
        or the deployer is not the DeviceRegistry admin.
    """
    deployer = deployer or default_deployer(w3)
    devices = from_deployment(w3, info, DEVICE_REGISTRY)
    gateway = Web3.to_checksum_address(gateway_address)
    kind, key_plant, _, _, revoked_at = devices.functions.keyOf(gateway).call()
    if kind != KeyKind.NONE:
        if revoked_at:
            raise ChainError(f"gateway {gateway} was revoked in block {revoked_at}; a revoked key is never "
                             f"registered again: create a new one (tanjian chain keygen)")
        if kind != KeyKind.GATEWAY or key_plant != id32(plant):
            raise ChainError(f"{gateway} is registered as {KeyKind(kind).name.lower()} of plant "
                             f"{text_of(key_plant)!r}, not as gateway of {plant!r}")
        return
    admin = devices.functions.admin().call()
    if admin != address_of(deployer):
        raise ChainError(f"gateway {gateway} is not registered in DeviceRegistry {devices.address} and only "
                         f"its admin {admin} can register it (deployer given: {address_of(deployer)})")
    owner = Web3.to_checksum_address(responsible or address_of(deployer))
    send(w3, devices.functions.register(gateway, KeyKind.GATEWAY, id32(plant), owner), deployer)
    log.info("gateway %s registered for plant %s (responsible %s) in %s", gateway, plant, owner,
             devices.address)


def ensure_deployment(w3: Web3, state_dir: str | os.PathLike, gateway_address: str, *,
                      deployer: Sender | None = None, fund: bool = True, plant: str = "default",
                      responsible: str | None = None, association: str | None = None,
                      regulator: str | None = None) -> dict:
    """Make sure the contract set exists on this chain with ``gateway_address`` registered and funded.

    Deploys when ``deployment.json`` is missing, records another chain id, lacks a contract, or its
    address holds no code (a dev node restarted with a fresh chain); registers the gateway for
    ``plant`` if it is not yet; tops the gateway's balance up from the deployer when below
    :data:`MIN_GATEWAY_BALANCE` (dev chains, where the deployer is a funded node account).

    Parameters
    ----------
    w3 : Web3
        Connection to the node.
    state_dir : path
        Chain state directory holding ``deployment.json``.
    gateway_address : str
        Address of the gateway key (see :mod:`chain.keys`).
    deployer : str or LocalAccount, optional
        Admin account; the node's first unlocked account by default.
    fund : bool
        Whether to top up the gateway's balance.
    plant : str
        Plant id the gateway anchors for (``site.plant.id``).
    responsible : str, optional
        Address of the person responsible for the gateway; the deployer by default.
    association, regulator : str, optional
        Role addresses for a new deployment (see :func:`deploy_contracts`).

    Returns
    -------
    dict
        The deployment record (as written to ``deployment.json``).
    """
    state_dir = Path(state_dir)
    deployer = deployer or default_deployer(w3)
    info = _usable(w3, state_dir, read_deployment(state_dir))
    if info is None:
        info = deploy_contracts(w3, deployer, association=association, regulator=regulator)
        _write_deployment(state_dir, info)
    ensure_gateway(w3, info, gateway_address, plant, deployer=deployer, responsible=responsible)
    gateway = Web3.to_checksum_address(gateway_address)
    if fund and w3.eth.get_balance(gateway) < MIN_GATEWAY_BALANCE:
        send(w3, None, deployer, value=GATEWAY_FUNDING, contract=gateway)
        log.info("gateway %s funded with %d wei by %s", gateway, GATEWAY_FUNDING, address_of(deployer))
    return info
