"""The workspace's way onto its chain, from the configuration: the node, the deployment, the registries,
the anchoring service.

Everything that talks to the chain on behalf of a configured workspace (the app's commands, the MQTT
collector's signature checks, the allowance status, the methodology guard) goes through these functions:

- :func:`connect`: a Web3 connection to ``chain.rpc_url``, checked against ``chain.chain_id``;
- :func:`deployment`: the contract addresses to use (``chain.contracts`` of the configuration over the
  ``deployment.json`` this workspace wrote when it deployed its own);
- :func:`registry`: one registry contract (AnchorRegistry, DeviceRegistry, MethodologyRegistry,
  QuotaRegistry) by name, at an explicit address or the deployment's;
- :func:`device_registry`: the DeviceRegistry (gateway and device keys);
- :func:`anchoring_service`: the :class:`chain.anchor.AnchorService` with the gateway's key.

web3 is imported when a function is called, not when this module is imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workspace.errors import ChainError

if TYPE_CHECKING:
    from web3 import Web3

    from workspace.config import Config

    from .anchor import AnchorService


def connect(cfg: Config, rpc_url: str | None = None) -> Web3:
    """A connection to the configuration's node (or to ``rpc_url``).

    Parameters
    ----------
    cfg : Config
    rpc_url : str, optional
        Another node to use; then ``chain.chain_id`` is not checked.

    Raises
    ------
    ChainError
        The node answers with another chain id than ``chain.chain_id`` of the configuration.
    """
    from .node import connect as connect_node

    w3 = connect_node(rpc_url or cfg.chain.rpc_url)
    if cfg.chain.chain_id is not None and rpc_url is None:
        got = w3.eth.chain_id
        if got != cfg.chain.chain_id:
            raise ChainError(f"{cfg.chain.rpc_url} is chain {got}, "
                             f"the configuration expects {cfg.chain.chain_id}")
    return w3


def deployment(cfg: Config) -> dict | None:
    """The registries to use: ``chain.contracts`` of the YAML file (a consortium's published addresses)
    over the ``deployment.json`` this workspace wrote when it deployed its own; None when neither exists.

    The dict has ``contracts`` (name -> ``{"address": ...}``), ``address`` (the AnchorRegistry) and
    ``chain_id``, as :func:`chain.deploy.read_deployment` returns it.
    """
    from .deploy import read_deployment

    info = read_deployment(cfg.paths.chain)
    if not cfg.chain.contracts:
        return info
    info = dict(info or {}, chain_id=cfg.chain.chain_id)
    info["contracts"] = {**(info.get("contracts") or {}),
                         **{name: {"address": addr} for name, addr in cfg.chain.contracts.items()}}
    if "AnchorRegistry" in cfg.chain.contracts:
        info["address"] = cfg.chain.contracts["AnchorRegistry"]
    return info


def registry(cfg: Config, w3: Web3, name: str, address: str | None = None) -> Any:
    """The registry contract ``name`` (see :mod:`chain.registry`) at ``address``, else the deployment's.

    Raises
    ------
    ChainError
        No address given, no ``chain.contracts`` in the configuration and no ``deployment.json``.
    """
    from .registry import contract, from_deployment

    if address:
        return contract(w3, name, address)
    info = deployment(cfg)
    if info is None:
        raise ChainError(f"no chain.contracts in the configuration and no {cfg.paths.chain / 'deployment.json'}: "
                         f"pass --contract, set the consortium's addresses, or run `tanjian chain deploy`")
    return from_deployment(w3, info, name)


def device_registry(cfg: Config, w3: Web3 | None = None) -> Any:
    """The DeviceRegistry: at ``chain.contracts.DeviceRegistry`` when the configuration names it, else the
    deployment's (connecting to the configuration's node unless ``w3`` is given)."""
    from .registry import DEVICE_REGISTRY

    w3 = connect(cfg) if w3 is None else w3
    return registry(cfg, w3, DEVICE_REGISTRY, (cfg.chain.contracts or {}).get(DEVICE_REGISTRY))


def anchoring_service(cfg: Config) -> AnchorService:
    """The anchoring service of this workspace: its ledger, the AnchorRegistry, the gateway's key.

    With ``rpc_url: tester`` (an in-process chain that ends with the process) the contracts are deployed
    here; otherwise they must exist (``chain.contracts`` or ``deployment.json``).

    Raises
    ------
    ChainError
        No deployment known, or the node is another chain than configured.
    """
    from .anchor import AnchorService
    from .deploy import ensure_deployment
    from .keys import load_account
    from .ledger import Ledger

    w3 = connect(cfg)
    account = load_account(cfg.chain.keystore, password_file=cfg.chain.password_file)
    if cfg.chain.rpc_url == "tester":  # nothing outlives this process: set everything up here
        info = ensure_deployment(w3, cfg.paths.chain, account.address, plant=cfg.site.plant.id)
    else:
        info = deployment(cfg)
        if info is None:
            raise ChainError(f"no chain.contracts in the configuration and no {cfg.paths.chain / 'deployment.json'}: "
                             f"set the consortium's addresses or run `tanjian chain deploy` first")
    ledger = Ledger(cfg.paths.journal, cfg.paths.chain)
    from workspace.audit import queue_head

    return AnchorService(w3, info["address"], account, ledger, cfg.paths.chain,
                         confirmations=cfg.chain.confirmations,
                         before_anchor=lambda: queue_head(cfg.paths.data_dir))
