"""Known-answer and property tests for :mod:`chain.merkle` (RFC 9162 section 2.1).

Expected values are the RFC 6962 test vectors published by transparency-dev/merkle
(https://github.com/transparency-dev/merkle, commit 417fb0c314750d94e53942e9f92e79b6d35915db):
leaves, node and root hashes from ``testonly/constants.go``, proofs from ``cmd/proofgen/main.go``
(whose leaf indices are 1-based there, 0-based here), and the probe files of ``testdata/`` copied to
``tests/data/merkle/``. Hasher values are from ``rfc6962/rfc6962_test.go``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from chain import merkle

DATA = Path(__file__).parents[1] / "data" / "merkle"


def hx(s: str) -> bytes:
    return bytes.fromhex(s)


LEAVES = [hx(s) for s in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                          "606162636465666768696a6b6c6d6e6f")]

# Leaf hashes (level 0 of testonly.NodeHashes); the first reproduces with
#   printf '\x00' | sha256sum            -> 6e340b9c...
# and the second with
#   printf '\x00\x00' | sha256sum        -> 96a296d2...
LEAF_HASHES = [hx(s) for s in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
)]

# testonly.RootHashes(): root of the tree of the first n leaves, n = 0..8.
ROOTS = [hx(s) for s in (
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",  # printf '' | sha256sum
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]

# cmd/proofgen/main.go inclusionProofs: (0-based index, tree size, proof)
INCLUSION = [
    (0, 1, []),
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]

# cmd/proofgen/main.go consistencyProofs: (old size, new size, proof)
CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]


# -- hashing (rfc6962/rfc6962_test.go) -------------------------------------------------------------
def test_hasher_known_answers():
    # echo -n | sha256sum
    assert merkle.root([]) == merkle.EMPTY_ROOT == ROOTS[0]
    # echo -n 00 | xxd -r -p | sha256sum
    assert merkle.leaf_hash(b"") == hx("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
    # echo -n 004C313233343536 | xxd -r -p | sha256sum
    assert merkle.leaf_hash(b"L123456") == hx(
        "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56")
    # echo -n 014E3132334E343536 | xxd -r -p | sha256sum
    assert merkle.node_hash(b"N123", b"N456") == hx(
        "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb")


def test_empty_tree_differs_from_empty_leaf():
    assert merkle.root([]) != merkle.root([b""])


@pytest.mark.parametrize("i", range(8))
def test_leaf_hashes(i):
    assert merkle.leaf_hash(LEAVES[i]) == LEAF_HASHES[i]


@pytest.mark.parametrize("n", range(9))
def test_roots_per_size(n):
    assert merkle.root(LEAVES[:n]) == ROOTS[n]
    assert merkle.root_from_hashes(LEAF_HASHES[:n]) == ROOTS[n]


@pytest.mark.parametrize("index,size,proof", INCLUSION)
def test_inclusion_proof_known_answers(index, size, proof):
    proof = [hx(p) for p in proof]
    assert merkle.inclusion_proof(LEAVES[:size], index) == proof
    assert merkle.verify_inclusion(LEAVES[index], index, size, proof, ROOTS[size])


@pytest.mark.parametrize("old,new,proof", CONSISTENCY)
def test_consistency_proof_known_answers(old, new, proof):
    proof = [hx(p) for p in proof]
    assert merkle.consistency_proof(LEAVES[:new], old) == proof
    assert merkle.verify_consistency(old, new, ROOTS[old], ROOTS[new], proof)


# -- mutations -----------------------------------------------------------------------------------
def _flip(b: bytes, i: int = 0) -> bytes:
    return b[:i] + bytes([b[i] ^ 0x01]) + b[i + 1:]


@pytest.mark.parametrize("index,size,proof", [v for v in INCLUSION if v[2]])
def test_mutated_inclusion_proofs_fail(index, size, proof):
    proof = [hx(p) for p in proof]
    leaf, rt = LEAVES[index], ROOTS[size]
    assert merkle.verify_inclusion(leaf, index, size, proof, rt)
    for k in range(len(proof)):
        for pos in (0, 31):
            bad = list(proof)
            bad[k] = _flip(bad[k], pos)
            assert not merkle.verify_inclusion(leaf, index, size, bad, rt), (k, pos)
    assert not merkle.verify_inclusion(leaf, index ^ 1, size, proof, rt)          # wrong index
    # wrong size (as in proofgen: size*2, size/2; size±1 can keep the leaf's path shape unchanged)
    assert not merkle.verify_inclusion(leaf, index, size * 2, proof, rt)
    assert not merkle.verify_inclusion(leaf, index, size // 2, proof, rt)
    assert not merkle.verify_inclusion(leaf, index, size, proof[:-1], rt)         # truncated
    assert not merkle.verify_inclusion(leaf, index, size, proof + [rt], rt)       # extended
    assert not merkle.verify_inclusion(leaf + b"\x00", index, size, proof, rt)    # other data
    assert not merkle.verify_inclusion(leaf, index, size, proof, _flip(rt))       # other root
    assert not merkle.verify_inclusion(leaf, index, size, proof, rt[:31])         # short root


@pytest.mark.parametrize("old,new,proof", [v for v in CONSISTENCY if v[2]])
def test_mutated_consistency_proofs_fail(old, new, proof):
    proof = [hx(p) for p in proof]
    r1, r2 = ROOTS[old], ROOTS[new]
    for k in range(len(proof)):
        bad = list(proof)
        bad[k] = _flip(bad[k], 7)
        assert not merkle.verify_consistency(old, new, r1, r2, bad), k
    assert not merkle.verify_consistency(old, new, r1, r2, proof[:-1])
    assert not merkle.verify_consistency(old, new, r1, r2, proof + [r2])
    assert not merkle.verify_consistency(old, new, _flip(r1), r2, proof)
    assert not merkle.verify_consistency(old, new, r1, _flip(r2), proof)
    assert not merkle.verify_consistency(old + 1, new, r1, r2, proof)
    assert not merkle.verify_consistency(old, new * 2, r1, r2, proof)
    assert not merkle.verify_consistency(old * 2, new, r1, r2, proof)
    assert not merkle.verify_consistency(new, old, r2, r1, proof)
    assert not merkle.verify_consistency(0, new, merkle.EMPTY_ROOT, r2, proof)


def test_size_is_bound_by_the_root_not_the_path():
    # Index 1 has the same path shape in trees of size 5 and 6: the proof alone cannot tell the
    # sizes apart, the root does. This is why a bundle must carry the anchored (root, size) pair.
    proof5 = merkle.inclusion_proof(LEAVES[:5], 1)
    assert merkle.verify_inclusion(LEAVES[1], 1, 5, proof5, ROOTS[5])
    assert not merkle.verify_inclusion(LEAVES[1], 1, 6, proof5, ROOTS[6])


# -- the published probe files -------------------------------------------------------------------
def _b64(v):
    return base64.b64decode(v) if v else b""


def _probes(kind):
    files = sorted((DATA / kind).rglob("*.json"))
    assert len(files) > 80, f"probe files missing under {DATA / kind}"
    return [pytest.param(json.loads(f.read_text()), id=str(f.relative_to(DATA / kind))) for f in files]


@pytest.mark.parametrize("probe", _probes("inclusion"))
def test_transparency_dev_inclusion_probes(probe):
    proof = [_b64(p) for p in probe["proof"] or []]
    got = merkle.verify_inclusion_hash(_b64(probe["leafHash"]), probe["leafIdx"], probe["treeSize"],
                                       proof, _b64(probe["root"]))
    assert got is not probe["wantErr"], probe["desc"]


@pytest.mark.parametrize("probe", _probes("consistency"))
def test_transparency_dev_consistency_probes(probe):
    proof = [_b64(p) for p in probe["proof"] or []]
    got = merkle.verify_consistency(probe["size1"], probe["size2"], _b64(probe["root1"]),
                                    _b64(probe["root2"]), proof)
    assert got is not probe["wantErr"], probe["desc"]


# -- properties ----------------------------------------------------------------------------------
def _reference_mth(leaves):
    """RFC 9162 MTH written literally (recursive), independent of chain.merkle's bottom-up code."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _reference_mth(leaves[:k]) + _reference_mth(leaves[k:])).digest()


def test_every_proof_verifies_for_sizes_1_to_40():
    data = [f"batch-{i}".encode() for i in range(40)]
    roots = [merkle.root(data[:n]) for n in range(41)]
    for n in range(1, 41):
        assert roots[n] == _reference_mth(data[:n]), n
        for i in range(n):
            p = merkle.inclusion_proof(data[:n], i)
            assert merkle.verify_inclusion(data[i], i, n, p, roots[n]), (i, n)
            if i + 1 < n:
                assert not merkle.verify_inclusion(data[i], i + 1, n, p, roots[n]) or p == []
        for m in range(1, n + 1):
            c = merkle.consistency_proof(data[:n], m)
            assert merkle.verify_consistency(m, n, roots[m], roots[n], c), (m, n)
            if m < n:
                assert not merkle.verify_consistency(m, n, roots[m], roots[n - 1], c), (m, n)


def test_proof_index_errors():
    with pytest.raises(IndexError):
        merkle.inclusion_proof(LEAVES[:3], 3)
    with pytest.raises(ValueError):
        merkle.consistency_proof(LEAVES[:3], 0)
    with pytest.raises(ValueError):
        merkle.consistency_proof(LEAVES[:3], 4)


# -- the level-by-level root and the Tree of perfect subtrees agree with RFC 9162's recursion -------
def _mth_by_definition(hashes):
    """MTH written as RFC 9162 section 2.1.1 defines it (recursive split at the largest power of two < n)."""
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return merkle.node_hash(_mth_by_definition(hashes[:k]), _mth_by_definition(hashes[k:]))


def test_root_and_tree_match_the_recursive_definition_for_every_size_up_to_70():
    leaves = [f"leaf {i}".encode() for i in range(70)]
    hashes = merkle.leaf_hashes(leaves)
    assert hashes == [merkle.leaf_hash(d) for d in leaves]
    tree = merkle.Tree(hashes)
    assert tree.size == 70 and tree.root(0) == merkle.EMPTY_ROOT
    for n in range(1, 71):
        want = _mth_by_definition(hashes[:n])
        assert merkle.root_from_hashes(hashes[:n]) == want == tree.root(n), n
        small = merkle.Tree(hashes[:n])
        for i in (0, n // 3, n - 1):
            proof = tree.inclusion_proof(i, n)
            assert proof == small.inclusion_proof(i)
            assert merkle.verify_inclusion_hash(hashes[i], i, n, proof, want)
        for m in (1, n // 2 or 1, n):
            proof = tree.consistency_proof(m, n)
            assert proof == small.consistency_proof(m)
            assert merkle.verify_consistency(m, n, tree.root(m), want, proof)
    with pytest.raises(IndexError):
        tree.root(71)
    with pytest.raises(IndexError):
        tree.inclusion_proof(5, 5)
