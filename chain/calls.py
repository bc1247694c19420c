"""Batched chain look-ups: many read-only calls in one JSON-RPC batch, then served from memory.

Verifying a park's packages asks the same few contracts the same kinds of questions for every package
(``anchorOf(root)``, ``keyOf(signer)``, ``activeAt(...)``, ``quotaOf(...)``, the contracts' code, the chain
id). :class:`BatchingProvider` is an HTTP provider that keeps the answers of read-only requests made at
``latest`` for the life of one verification pass, and :meth:`BatchingProvider.prefetch` asks a whole list of
``eth_call`` s in one JSON-RPC batch request (web3's ``make_batch_request``), so that the checks themselves
(:mod:`chain.verify`, unchanged) find their answers already there: one round trip for hundreds of
look-ups instead of one per check. Create a fresh provider per pass: the cache never expires.
"""

from __future__ import annotations

from typing import Any

from web3 import Web3
from web3.providers.rpc import HTTPProvider

from workspace.errors import ChainError

#: read-only methods whose answer at ``latest`` is kept for the pass
CACHED = ("eth_chainId", "eth_getCode", "eth_call")


def _key(method: str, params: Any) -> tuple | None:
    if method == "eth_chainId":
        return (method,)
    if method == "eth_getCode":
        return (method, str(params[0]).lower(), str(params[1]) if len(params) > 1 else "latest")
    if method == "eth_call":
        tx = params[0]
        block = params[1] if len(params) > 1 else "latest"
        if block != "latest" or "data" not in tx:
            return None
        return (method, str(tx.get("to", "")).lower(), str(tx["data"]).lower())
    return None


class BatchingProvider(HTTPProvider):
    """An HTTP provider that batches and remembers read-only look-ups (see the module docstring).

    Attributes
    ----------
    round_trips : int
        HTTP requests made to the node (a batch counts once).
    calls : int
        JSON-RPC requests answered (from the node or from memory).
    """

    def __init__(self, rpc_url: str, timeout: float = 30.0):
        super().__init__(rpc_url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None)
        self.cache: dict[tuple, Any] = {}
        self.round_trips = 0
        self.calls = 0

    def make_request(self, method, params):  # noqa: D102 (web3's hook)
        self.calls += 1
        key = _key(method, params)
        if key is not None and key in self.cache:
            return {"jsonrpc": "2.0", "id": 0, "result": self.cache[key]}
        self.round_trips += 1
        resp = super().make_request(method, params)
        if key is not None and isinstance(resp, dict) and "result" in resp:
            self.cache[key] = resp["result"]
        return resp

    def prefetch(self, calls: list[tuple[str, str]]) -> int:
        """Ask every ``(to, data)`` ``eth_call`` not yet known in one batch; returns how many were asked."""
        todo, seen = [], set()
        for to, data in calls:
            k = ("eth_call", to.lower(), data.lower())
            if k not in self.cache and k not in seen:
                seen.add(k)
                todo.append((k, to, data))
        if not todo:
            return 0
        self.round_trips += 1
        out = super().make_batch_request([("eth_call", [{"to": to, "data": data}, "latest"])
                                          for _, to, data in todo])
        if not isinstance(out, list):
            raise ChainError(f"node {self.endpoint_uri} refused the batch: {out.get('error') if isinstance(out, dict) else out}")
        for (k, _, _), resp in zip(todo, out):
            if "result" in resp:  # a reverted call is left out: asked again (and reported) by its check
                self.cache[k] = resp["result"]
        return len(todo)


def call_data(fn: Any) -> tuple[str, str]:
    """``(to, data)`` of a contract function call (``contract.functions.f(args)``), for :meth:`prefetch`."""
    return fn.address, fn._encode_transaction_data()


def batching_web3(rpc_url: str, timeout: float = 30.0) -> Web3:
    """A Web3 on a fresh :class:`BatchingProvider` (``w3.provider.prefetch``, ``w3.provider.round_trips``)."""
    return Web3(BatchingProvider(rpc_url, timeout))
