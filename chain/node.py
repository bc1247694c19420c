"""Connecting to an EVM node: a Web3 connection, whether the node answers, what counts as "down".

``rpc_url`` is either an HTTP(S) JSON-RPC endpoint (anvil, Besu, any EVM chain) or the word
``"tester"`` for the in-process eth-tester chain (py-evm; unit tests only, it lives and dies with
the Python process). A local anvil node for the demo and the integration tests is started by the app
(``tanjian.simulator.anvil``): the chain only connects.
"""

from __future__ import annotations

import socket

import requests
from web3 import Web3
from web3.exceptions import ProviderConnectionError, RequestTimedOut, TimeExhausted

from workspace.errors import ChainError

TESTER = "tester"

#: Exceptions that mean "the node cannot be reached now" (as opposed to "the node said no").
NODE_DOWN_ERRORS: tuple[type[BaseException], ...] = (
    OSError, requests.exceptions.RequestException, ProviderConnectionError, RequestTimedOut, TimeExhausted,
)


def connect(rpc_url: str, timeout: float = 10.0) -> Web3:
    """A Web3 connection to ``rpc_url`` (or a fresh in-process eth-tester chain for ``"tester"``).

    Parameters
    ----------
    rpc_url : str
        ``http://host:port`` of a JSON-RPC node, or ``"tester"``.
    timeout : float
        Per-request timeout [s]. No automatic retries: callers decide how to catch up.

    Notes
    -----
    The connection is not tested here (a node that is down is a normal state for the anchoring
    service); use :func:`is_up`.
    """
    if rpc_url == TESTER:
        from web3 import EthereumTesterProvider

        return Web3(EthereumTesterProvider())
    if not rpc_url.startswith(("http://", "https://")):
        raise ChainError(f"unsupported RPC URL {rpc_url!r}: use http(s)://host:port or 'tester'")
    provider = Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout},
                                 exception_retry_configuration=None)
    return Web3(provider)


def rpc_url_of(w3: Web3) -> str:
    """The endpoint a Web3 object talks to, for messages (``"tester"`` for eth-tester)."""
    return str(getattr(w3.provider, "endpoint_uri", None) or TESTER)


def is_up(w3: Web3) -> bool:
    """Whether the node answers ``eth_chainId`` now."""
    try:
        w3.eth.chain_id
        return True
    except NODE_DOWN_ERRORS:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on at the time of the call."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]
