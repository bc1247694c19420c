"""Verifying many packages: chain look-ups batched, packages spread over a dask.distributed cluster.

:func:`prefetch` asks, in two JSON-RPC batches, everything the checks of :mod:`models.park.verify` will
ask the chain about a list of packages (round 1: ``anchorOf`` of every root, ``keyOf`` of every signer,
the methodology version active at every period, every quota; round 2: whether each signer was an active
gateway in its anchoring block); the checks then run unchanged against
:class:`chain.calls.BatchingProvider`'s memory. :func:`verify_on_cluster` cuts the drop folder's packages
into chunks, and each dask task verifies a chunk with its own batching connection.

The same code runs on a real scheduler: ``verify_on_cluster(folders, rpc_url, deployment,
client=Client("tcp://scheduler:8786"))``; the workers need the drop folder (a shared mount) and the node.
"""

from __future__ import annotations

import os
from pathlib import Path

from web3 import Web3

from chain.calls import batching_web3, call_data
from chain.registry import (ANCHOR_REGISTRY, DEVICE_REGISTRY, METHODOLOGY_REGISTRY, QUOTA_REGISTRY, KeyKind,
                            from_deployment, id32)

from .package import Package, load_package
from .verify import PackageVerdict, period_start, verify_package


def _b(hexstr: str) -> bytes:
    return bytes.fromhex(hexstr.removeprefix("0x"))


def prefetch(packages: list[Package], w3: Web3, deployment: dict) -> None:
    """Ask the chain, in two batches, all that the checks of ``packages`` will ask (see the module docstring)."""
    provider = w3.provider
    anchors = from_deployment(w3, deployment, ANCHOR_REGISTRY)
    devices = from_deployment(w3, deployment, DEVICE_REGISTRY)
    methods = from_deployment(w3, deployment, METHODOLOGY_REGISTRY)
    quotas = from_deployment(w3, deployment, QUOTA_REGISTRY)
    first, readable = [], []
    for p in packages:
        try:
            root, signer = p.bundle["tree"]["root"], Web3.to_checksum_address(p.bundle["signature"]["signer"])
            m = p.figures["methodology"]
            first += [call_data(anchors.functions.anchorOf(_b(root))),
                      call_data(devices.functions.keyOf(signer)),
                      call_data(methods.functions.activeAt(id32(str(m["id"])),
                                                            int(period_start(p.period).timestamp()))),
                      call_data(quotas.functions.quotaOf(id32(p.enterprise), int(p.period[:4])))]
            first += [call_data(anchors.functions.anchorOf(_b(e["root"]))) for e in p.bundle.get("consistency", [])]
            readable.append((p, root, signer))
        except (KeyError, TypeError, ValueError, AttributeError):
            continue  # an unreadable package fails its own check; nothing to ask for it
    provider.prefetch(first)
    second = []
    for p, root, signer in readable:
        block = anchors.functions.anchorOf(_b(root)).call()[5]  # from memory now
        second.append(call_data(devices.functions.activeAt(signer, KeyKind.GATEWAY, block)))
    provider.prefetch(second)


def verify_all(packages: list[Package], w3: Web3, deployment: dict) -> list[PackageVerdict]:
    """Verify ``packages`` with batched look-ups (when ``w3`` is on a :class:`chain.calls.BatchingProvider`)."""
    if hasattr(w3.provider, "prefetch"):
        prefetch(packages, w3, deployment)
    return [verify_package(p, w3, deployment) for p in packages]


def verify_folders(folders: list[str | os.PathLike], rpc_url: str, deployment: dict) -> tuple[list, int, int]:
    """One task: load and verify package folders on a fresh batching connection.

    Returns ``(verdicts, round_trips, calls)``: the node's HTTP round trips and the look-ups answered.
    """
    w3 = batching_web3(rpc_url)
    verdicts = verify_all([load_package(f) for f in folders], w3, deployment)
    return verdicts, w3.provider.round_trips, w3.provider.calls


def verify_on_cluster(folders: list[str | os.PathLike], rpc_url: str, deployment: dict, client,
                      chunk: int = 100) -> tuple[list[PackageVerdict], int, int]:
    """Verify package folders on a dask.distributed ``client``, ``chunk`` packages a task.

    Returns ``(verdicts, round_trips, calls)`` summed over the tasks, verdicts in the folders' order.
    """
    folders = [str(Path(f)) for f in folders]
    parts = [folders[i:i + chunk] for i in range(0, len(folders), chunk)]
    futures = client.map(verify_folders, parts, rpc_url=rpc_url, deployment=deployment, pure=False)
    results = client.gather(futures)
    verdicts = [v for vs, _, _ in results for v in vs]
    return verdicts, sum(r for _, r, _ in results), sum(c for _, _, c in results)
