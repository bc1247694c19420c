"""The contract set and its identifiers: names, ABIs, role accounts and the ``bytes32`` id encoding.

Plant, enterprise and methodology ids and version labels are stored on chain as ``bytes32``: the
id's UTF-8 bytes, right-padded with zero bytes (what ``cast --format-bytes32-string`` prints); an
id longer than 32 bytes is refused. The contracts (``chain/contracts/``) and their roles:

- ``DeviceRegistry``: gateway and device keys, each with its plant and responsible person, and their
  revocation. Changed by the admin (the deployer); a key's owner may revoke it.
- ``AnchorRegistry``: ledger roots per plant; asks the DeviceRegistry who is an active gateway.
  Changed by active gateways.
- ``MethodologyRegistry``: methodology versions (package SHA-256, effective window). Changed by the
  industry association.
- ``QuotaRegistry``: quota per enterprise and year, every revision kept. Changed by the regulator.
"""

from __future__ import annotations

import enum
from typing import Any

from web3 import Web3

from workspace.errors import ChainError

from .artefacts import load_artefact

DEVICE_REGISTRY = "DeviceRegistry"
ANCHOR_REGISTRY = "AnchorRegistry"
METHODOLOGY_REGISTRY = "MethodologyRegistry"
QUOTA_REGISTRY = "QuotaRegistry"
REPORT_REQUESTS = "ReportRequests"
#: Deployment order (AnchorRegistry's constructor takes the DeviceRegistry's address).
CONTRACT_NAMES = (DEVICE_REGISTRY, ANCHOR_REGISTRY, METHODOLOGY_REGISTRY, QUOTA_REGISTRY)
#: deployed beside the set when needed (chain.requests.deploy_requests), never required by a deployment
OPTIONAL_CONTRACTS = (REPORT_REQUESTS,)


class KeyKind(enum.IntEnum):
    """``DeviceRegistry.Kind``."""

    NONE = 0
    GATEWAY = 1
    DEVICE = 2


def id32(text: str) -> bytes:
    """An id as ``bytes32``: UTF-8, right-padded with zero bytes [32 bytes].

    Raises
    ------
    ChainError
        When the id is empty or longer than 32 bytes in UTF-8.
    """
    raw = text.encode("utf-8")
    if not raw or len(raw) > 32:
        raise ChainError(f"id {text!r} must be 1 to 32 bytes of UTF-8 to be stored on chain "
                         f"(it is {len(raw)})")
    return raw.ljust(32, b"\x00")


def text_of(value: bytes) -> str:
    """The id stored in a ``bytes32`` (inverse of :func:`id32`)."""
    return bytes(value).rstrip(b"\x00").decode("utf-8", errors="replace")


def contract(w3: Web3, name: str, address: str) -> Any:
    """The contract object ``name`` (one of :data:`CONTRACT_NAMES`) at ``address``."""
    if name not in CONTRACT_NAMES + OPTIONAL_CONTRACTS:
        raise ChainError(f"unknown contract {name!r}; known: {', '.join(CONTRACT_NAMES + OPTIONAL_CONTRACTS)}")
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=load_artefact(name)["abi"])


def from_deployment(w3: Web3, info: dict, name: str) -> Any:
    """Contract ``name`` of a deployment record (``deployment.json``, see :mod:`chain.deploy`)."""
    contracts = info.get("contracts") or {}
    if name not in contracts:
        raise ChainError(f"the deployment on chain {info.get('chain_id')} has no {name}: "
                         f"run `tanjian chain deploy`")
    return contract(w3, name, contracts[name]["address"])


def device_registry_of(w3: Web3, anchor_registry: Any) -> Any:
    """The DeviceRegistry an AnchorRegistry consults."""
    return contract(w3, DEVICE_REGISTRY, anchor_registry.functions.devices().call())
