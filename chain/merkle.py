"""RFC 9162 (Certificate Transparency 2.0) Merkle tree: hashing, inclusion and consistency proofs.

This module stands on its own (standard library only) so that a verifier can copy or import it
without the rest of the workspace.

Hashing (RFC 9162 section 2.1.1), with SHA-256::

    MTH({})       = SHA-256()                         (empty tree)
    leaf hash     = SHA-256(0x00 || leaf input)
    node hash     = SHA-256(0x01 || left || right)
    MTH(D[n])     = node(MTH(D[0:k]), MTH(D[k:n]))    k = largest power of two < n

Functions come in two flavours: on *leaf inputs* (raw bytes, e.g. a canonical batch) and, with the
``_hash``/``_hashes`` suffix, on *leaf hashes* (32-byte digests), which is what the ledger caches.
:class:`Tree` keeps every perfect subtree's hash, so that many proofs of one tree (or of any of its
prefixes) cost O(log n) each after one O(n) build. Verification functions never raise on malformed
input: they return ``False``.

The root is computed level by level, pairing neighbours and carrying an unpaired last node up
unchanged; that gives MTH because the split point ``k`` of every subtree is a power of two, so the
pairs of each level are exactly the perfect subtrees of RFC 9162's recursion.

References
----------
.. [1] B. Laurie, E. Messeri, R. Stradling, "Certificate Transparency Version 2.0", RFC 9162,
   December 2021, sections 2.1.1 (tree), 2.1.3 (inclusion), 2.1.4 (consistency).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HASH_SIZE = 32  # bytes, SHA-256
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()

__all__ = [
    "EMPTY_ROOT", "HASH_SIZE", "Tree", "leaf_hash", "leaf_hashes", "node_hash", "root", "root_from_hashes",
    "inclusion_proof", "inclusion_proof_hashes", "consistency_proof", "consistency_proof_hashes",
    "verify_inclusion", "verify_inclusion_hash", "verify_consistency", "root_from_inclusion_proof",
]


# -- hashing -------------------------------------------------------------------------------------
def leaf_hash(data: bytes) -> bytes:
    """Leaf hash ``SHA-256(0x00 || data)`` of one leaf input [32 bytes]."""
    return hashlib.sha256(LEAF_PREFIX + bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Interior node hash ``SHA-256(0x01 || left || right)`` [32 bytes]."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def leaf_hashes(leaves: Sequence[bytes]) -> list[bytes]:
    """Leaf hashes of many leaf inputs, in order [32 bytes each]."""
    sha = hashlib.sha256
    return [sha(LEAF_PREFIX + bytes(d)).digest() for d in leaves]


def _split(n: int) -> int:
    """Largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _pair_up(level: list[bytes]) -> list[bytes]:
    """The next level: node hashes of neighbours ``(0,1), (2,3), …`` (an unpaired last node is dropped)."""
    sha = hashlib.sha256
    it = iter(level)
    return [sha(NODE_PREFIX + a + b).digest() for a, b in zip(it, it)]


def root_from_hashes(hashes: Sequence[bytes]) -> bytes:
    """Tree head (MTH) of a list of leaf hashes, in leaf order [32 bytes]."""
    if len(hashes) == 0:
        return EMPTY_ROOT
    level = list(hashes)
    while len(level) > 1:
        nxt = _pair_up(level)
        if len(level) & 1:
            nxt.append(level[-1])  # carried up unchanged
        level = nxt
    return level[0]


def root(leaves: Sequence[bytes]) -> bytes:
    """Tree head (MTH) of a list of leaf inputs (raw bytes, in order) [32 bytes]."""
    return root_from_hashes(leaf_hashes(leaves))


class Tree:
    """The hashes of every perfect subtree of a tree of leaf hashes, for fast roots and proofs.

    ``levels[k][i]`` is the hash of leaves ``i * 2**k .. (i + 1) * 2**k - 1``. Any prefix of the
    tree (``size`` leaves) is served from the same levels.

    Parameters
    ----------
    hashes : sequence of bytes
        Leaf hashes, in order.
    """

    def __init__(self, hashes: Sequence[bytes]):
        self.levels: list[list[bytes]] = [list(hashes)]
        while len(self.levels[-1]) > 1:
            self.levels.append(_pair_up(self.levels[-1]))

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self.levels[0])

    def _mth(self, lo: int, hi: int) -> bytes:
        n = hi - lo
        if n & (n - 1) == 0 and lo % n == 0:  # a perfect subtree: stored
            return self.levels[n.bit_length() - 1][lo // n]
        k = _split(n)
        return node_hash(self._mth(lo, lo + k), self._mth(lo + k, hi))

    def _size(self, size: int | None) -> int:
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise IndexError(f"tree size {size} requested from a tree of {self.size} leaves")
        return size

    def root(self, size: int | None = None) -> bytes:
        """Tree head of the first ``size`` leaves (all by default) [32 bytes]."""
        size = self._size(size)
        return EMPTY_ROOT if size == 0 else self._mth(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Audit path of leaf ``index`` in the tree of the first ``size`` leaves (RFC 9162 2.1.3.1)."""
        size = self._size(size)
        if not 0 <= index < size:
            raise IndexError(f"leaf index {index} is outside a tree of size {size}")
        return self._path(index, 0, size)

    def consistency_proof(self, old_size: int, size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[size]) of RFC 9162 section 2.1.4.1."""
        size = self._size(size)
        if not 0 < old_size <= size:
            raise ValueError(f"consistency proof needs 0 < old_size <= new_size (got {old_size}, {size})")
        return self._subproof(old_size, 0, size, True)

    def _path(self, m: int, lo: int, hi: int) -> list[bytes]:
        """PATH(m, D[lo:hi]) of RFC 9162 section 2.1.3.1, ``m`` relative to ``lo``."""
        n = hi - lo
        if n == 1:
            return []
        k = _split(n)
        if m < k:
            return self._path(m, lo, lo + k) + [self._mth(lo + k, hi)]
        return self._path(m - k, lo + k, hi) + [self._mth(lo, lo + k)]

    def _subproof(self, m: int, lo: int, hi: int, complete: bool) -> list[bytes]:
        """SUBPROOF(m, D[lo:hi], b) of RFC 9162 section 2.1.4.1."""
        n = hi - lo
        if m == n:
            return [] if complete else [self._mth(lo, hi)]
        k = _split(n)
        if m <= k:
            return self._subproof(m, lo, lo + k, complete) + [self._mth(lo + k, hi)]
        return self._subproof(m - k, lo + k, hi, False) + [self._mth(lo, lo + k)]


# -- proofs --------------------------------------------------------------------------------------
def inclusion_proof_hashes(hashes: Sequence[bytes], index: int) -> list[bytes]:
    """Inclusion proof (audit path) of leaf ``index`` in the tree of these leaf hashes.

    Parameters
    ----------
    hashes : sequence of bytes
        Leaf hashes of the whole tree, in order; the tree size is ``len(hashes)``.
    index : int
        Zero-based index of the leaf.

    Returns
    -------
    list of bytes
        Sibling hashes from the leaf up to the root (RFC 9162 section 2.1.3.1).
    """
    if not 0 <= index < len(hashes):
        raise IndexError(f"leaf index {index} is outside a tree of size {len(hashes)}")
    return Tree(hashes).inclusion_proof(index)


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """Inclusion proof of leaf ``index`` among leaf inputs (see :func:`inclusion_proof_hashes`)."""
    return inclusion_proof_hashes(leaf_hashes(leaves), index)


def consistency_proof_hashes(hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """Consistency proof between the first ``old_size`` leaves and the whole tree of these leaf hashes.

    Parameters
    ----------
    hashes : sequence of bytes
        Leaf hashes of the newer tree; its size is ``len(hashes)``.
    old_size : int
        Size of the older tree, ``0 < old_size <= len(hashes)``.

    Returns
    -------
    list of bytes
        PROOF(old_size, D[new_size]) of RFC 9162 section 2.1.4.1 (empty when the sizes are equal).
    """
    if not 0 < old_size <= len(hashes):
        raise ValueError(f"consistency proof needs 0 < old_size <= new_size (got {old_size}, {len(hashes)})")
    return Tree(hashes).consistency_proof(old_size)


def consistency_proof(leaves: Sequence[bytes], old_size: int) -> list[bytes]:
    """Consistency proof for leaf inputs (see :func:`consistency_proof_hashes`)."""
    return consistency_proof_hashes(leaf_hashes(leaves), old_size)


# -- verification --------------------------------------------------------------------------------
def _is_hash(x: object) -> bool:
    return isinstance(x, (bytes, bytearray)) and len(x) == HASH_SIZE


def root_from_inclusion_proof(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes | None:
    """Root that ``proof`` leads to from leaf hash ``leaf`` at ``index`` in a tree of ``size``.

    Implements steps 1-4 of RFC 9162 section 2.1.3.2; returns ``None`` when the proof cannot
    belong to that index and size (wrong length, malformed element).
    """
    if not (_is_hash(leaf) and 0 <= index < size) or not all(_is_hash(p) for p in proof):
        return None
    fn, sn, r = index, size - 1, bytes(leaf)
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None


def verify_inclusion_hash(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """Whether ``proof`` shows leaf hash ``leaf`` at ``index`` in the tree of ``size`` with head ``root``.

    Parameters
    ----------
    leaf : bytes
        Leaf hash [32 bytes].
    index, size : int
        Zero-based leaf index and tree size [leaves].
    proof : sequence of bytes
        Inclusion path, leaf to root.
    root : bytes
        Expected tree head [32 bytes].
    """
    got = root_from_inclusion_proof(leaf, index, size, proof)
    return got is not None and got == bytes(root)


def verify_inclusion(data: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """Whether ``proof`` shows leaf input ``data`` at ``index`` in the tree of ``size`` with head ``root``."""
    return verify_inclusion_hash(leaf_hash(data), index, size, proof, root)


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """Whether ``proof`` shows that the tree ``(old_size, old_root)`` is a prefix of ``(new_size, new_root)``.

    RFC 9162 section 2.1.4.2 for ``0 < old_size < new_size``; equal sizes verify only with an empty
    proof and equal roots; an empty old tree is rejected (the proof would be meaningless), as in
    transparency-dev/merkle.

    Parameters
    ----------
    old_size, new_size : int
        Tree sizes [leaves].
    old_root, new_root : bytes
        Tree heads [32 bytes].
    proof : sequence of bytes
        Consistency proof.
    """
    if not 0 < old_size <= new_size:
        return False
    if old_size == new_size:
        return len(proof) == 0 and bytes(old_root) == bytes(new_root)
    if not proof or not all(_is_hash(p) for p in proof) or not (_is_hash(old_root) and _is_hash(new_root)):
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # exact power of two: the old root is itself a node
        path.insert(0, bytes(old_root))
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == bytes(old_root) and sr == bytes(new_root) and sn == 0
