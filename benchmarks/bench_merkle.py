"""Merkle log benchmark: tanjian's RFC 9162 tree against hashlib alone and pymerkle; gas per anchor.

Run ``python -m benchmarks.bench_merkle`` (``--leaves 1000000`` by default; ``--help`` for options).

Rows (one table, median of ``--repeat`` runs):

* **leaf hashing** — SHA-256(0x00 || leaf) of every leaf input [leaves/s];
* **root** — the tree head from the leaf hashes [ms];
* **tree build** — :class:`chain.merkle.Tree` (every perfect subtree kept) [ms];
* **inclusion proof** — one audit path from the built tree, mean over ``--proofs`` random leaves [µs];
* **verify inclusion** — RFC 9162 2.1.3.2 on those paths [µs];
* **consistency proof / verify** — from a random older size to the whole tree [µs].

Columns: tanjian (:mod:`chain.merkle`); **hashlib alone**, the limit: the same number of
``hashlib.sha256(...).digest()`` calls on the same byte strings in the tightest Python loop, with no
tree logic; **pymerkle** (``InmemoryTree``, RFC 9162-compatible hashing, checked to give the same root)
fed the same leaves (its ``append_entry`` hashes and stores each leaf, so it is compared on leaf
hashing + root). The gas table anchors roots covering 1 … ``--gas-max`` batches on the eth-tester chain
(one transaction whatever the number of batches) against one transaction per batch.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import sys
import time
from collections.abc import Callable

from chain import merkle


def _timed(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    """Median wall time of ``fn`` over ``repeat`` runs [s], and its last result."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def make_leaves(n: int, size: int, seed: int = 18) -> list[bytes]:
    """``n`` distinct pseudo-random leaf inputs of ``size`` bytes (deterministic)."""
    if size < 8:
        raise ValueError("leaves of at least 8 bytes (an 8-byte counter keeps them distinct)")
    body = random.Random(seed).randbytes(size - 8)
    return [i.to_bytes(8, "big") + body for i in range(n)]


def hashlib_limit_leaves(leaves: list[bytes]) -> list[bytes]:
    """SHA-256(0x00 || leaf) for every leaf with nothing else: the floor for leaf hashing."""
    sha = hashlib.sha256
    return [sha(b"\x00" + d).digest() for d in leaves]


def hashlib_limit_nodes(hashes: list[bytes]) -> int:
    """n - 1 node hashes SHA-256(0x01 || a || b) over 64-byte inputs, nothing else: the floor for a root."""
    sha = hashlib.sha256
    pair = b"\x01" + hashes[0] + hashes[-1]
    for _ in range(len(hashes) - 1):
        sha(pair).digest()
    return len(hashes) - 1


def bench_tree(n: int, leaf_bytes: int, repeat: int, proofs: int) -> list[tuple[str, str, str, str]]:
    leaves = make_leaves(n, leaf_bytes)
    rng = random.Random(1)
    t_leaf, hashes = _timed(lambda: merkle.leaf_hashes(leaves), repeat)
    t_leaf_lim, lim_hashes = _timed(lambda: hashlib_limit_leaves(leaves), repeat)
    assert lim_hashes == hashes
    t_root, root = _timed(lambda: merkle.root_from_hashes(hashes), repeat)
    t_root_lim, _ = _timed(lambda: hashlib_limit_nodes(hashes), repeat)
    t_tree, tree = _timed(lambda: merkle.Tree(hashes), max(1, repeat // 2))
    assert tree.root() == root

    idx = [rng.randrange(n) for _ in range(proofs)]
    t0 = time.perf_counter()
    paths = [tree.inclusion_proof(i) for i in idx]
    t_proof = (time.perf_counter() - t0) / proofs
    t0 = time.perf_counter()
    ok = all(merkle.verify_inclusion_hash(hashes[i], i, n, p, root) for i, p in zip(idx, paths))
    t_verify = (time.perf_counter() - t0) / proofs
    assert ok
    olds = [rng.randrange(1, n) for _ in range(proofs)]
    t0 = time.perf_counter()
    cproofs = [tree.consistency_proof(m) for m in olds]
    t_cproof = (time.perf_counter() - t0) / proofs
    old_roots = [tree.root(m) for m in olds]
    t0 = time.perf_counter()
    ok = all(merkle.verify_consistency(m, n, r, root, p) for m, r, p in zip(olds, old_roots, cproofs))
    t_cverify = (time.perf_counter() - t0) / proofs
    assert ok

    pm = _pymerkle(leaves, root, idx[: max(1, proofs // 10)], repeat)

    def rate(t: float) -> str:
        return f"{n / t:,.0f}"

    rows = [
        ("leaf hashing [leaves/s]", rate(t_leaf), rate(t_leaf_lim),
         pm.get("leaf", "—")),
        ("root from leaf hashes [ms]", f"{t_root * 1e3:,.0f}", f"{t_root_lim * 1e3:,.0f}",
         pm.get("root", "—")),
        ("leaves -> root, total [ms]", f"{(t_leaf + t_root) * 1e3:,.0f}",
         f"{(t_leaf_lim + t_root_lim) * 1e3:,.0f}", pm.get("total", "—")),
        ("tree build, all subtrees kept [ms]", f"{t_tree * 1e3:,.0f}", "—", "—"),
        ("inclusion proof, built tree [µs]", f"{t_proof * 1e6:,.1f}", "—", pm.get("proof", "—")),
        ("verify inclusion [µs]", f"{t_verify * 1e6:,.1f}", f"{len(paths[0]) * t_root_lim / n * 1e6:,.1f}",
         pm.get("verify", "—")),
        ("consistency proof, built tree [µs]", f"{t_cproof * 1e6:,.1f}", "—", "—"),
        ("verify consistency [µs]", f"{t_cverify * 1e6:,.1f}", "—", "—"),
    ]
    return rows


def _pymerkle(leaves: list[bytes], root: bytes, idx: list[int], repeat: int) -> dict[str, str]:
    try:
        from pymerkle import InmemoryTree, verify_inclusion
    except ImportError:
        return {"leaf": "not installed"}
    n = len(leaves)

    def build():
        t = InmemoryTree(algorithm="sha256")
        for d in leaves:
            t.append_entry(d)
        return t

    t_build, tree = _timed(build, max(1, repeat // 2))
    t_root, pm_root = _timed(lambda: tree.get_root(n), max(1, repeat // 2))
    if pm_root != root:
        return {"leaf": "different root!"}
    t0 = time.perf_counter()
    proofs = [tree.prove_inclusion(i + 1, n) for i in idx]  # pymerkle indexes from 1
    t_proof = (time.perf_counter() - t0) / len(idx)
    t0 = time.perf_counter()
    for i, p in zip(idx, proofs):
        verify_inclusion(tree.get_leaf(i + 1), root, p)
    t_verify = (time.perf_counter() - t0) / len(idx)
    return {"leaf": f"{n / t_build:,.0f} (append)", "root": f"{t_root * 1e3:,.0f}",
            "total": f"{(t_build + t_root) * 1e3:,.0f}", "proof": f"{t_proof * 1e6:,.1f}",
            "verify": f"{t_verify * 1e6:,.1f}"}


def bench_gas(max_batches: int) -> list[tuple[str, str, str, str]]:
    """Gas of one anchor covering N batches vs N one-batch anchors, on the eth-tester chain."""
    from eth_account import Account

    from chain._tx import send
    from chain.deploy import deploy_contracts
    from chain.node import connect
    from chain.registry import ANCHOR_REGISTRY, DEVICE_REGISTRY, KeyKind, from_deployment, id32

    w3 = connect("tester")
    admin = w3.eth.accounts[0]
    info = deploy_contracts(w3, admin)
    reg, dev = from_deployment(w3, info, ANCHOR_REGISTRY), from_deployment(w3, info, DEVICE_REGISTRY)

    def gateway(plant: str):
        g = Account.create()
        send(w3, dev.functions.register(g.address, KeyKind.GATEWAY, id32(plant), admin), admin)
        send(w3, None, admin, value=10**20, contract=g.address)
        return g

    batched, single = gateway("batched"), gateway("single")
    rows = []
    size = 0
    per_batch = []
    for i in range(1, 11):  # one transaction per batch: ten batches, the rest is the same cost
        r = send(w3, reg.functions.anchor(hashlib.sha256(b"single %d" % i).digest(), i, i, i), single)
        per_batch.append(r["gasUsed"])
    one = statistics.median(per_batch[1:])
    first = per_batch[0]
    n = 1
    while n <= max_batches:
        size += n
        r = send(w3, reg.functions.anchor(hashlib.sha256(b"batched %d" % size).digest(), size, 0, n), batched)
        rows.append((f"anchor covering {n:,} batches [gas]", f"{r['gasUsed']:,}",
                     f"{first + one * (n - 1):,.0f}", f"{(first + one * (n - 1)) / r['gasUsed']:,.0f}x"))
        n *= 100
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_merkle", description=__doc__.splitlines()[0])
    p.add_argument("--leaves", type=int, default=1_000_000, help="tree size [leaves]")
    p.add_argument("--leaf-bytes", type=int, default=256, help="size of each leaf input [bytes]")
    p.add_argument("--repeat", type=int, default=3, help="runs per timing (median)")
    p.add_argument("--proofs", type=int, default=2000, help="proofs generated and verified")
    p.add_argument("--gas-max", type=int, default=1_000_000, help="largest batch count anchored at once")
    args = p.parse_args(argv)

    rows = bench_tree(args.leaves, args.leaf_bytes, args.repeat, args.proofs)
    gas = bench_gas(args.gas_max)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"Merkle log, {args.leaves:,} leaves of {args.leaf_bytes} bytes; Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} cores, load {load}; median of {args.repeat}\n")
    head = ("", "tanjian", "hashlib alone (limit)", "pymerkle")
    table = [head, *rows]
    table.append(("", "one anchor", "one tx per batch", "saving"))
    table += gas
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    for k, r in enumerate(table):
        cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))]
        print("| " + " | ".join(cells) + " |")
        if k == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
