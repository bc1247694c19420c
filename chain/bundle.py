"""Exporting a batch with its proof bundle (``tanjian.proof/2``).

For batch ``seq`` two files are written:

- ``batch-<seq:08d>.json`` (``.tjb`` for a columnar ``tanjian.batch/2`` batch) — exactly the batch's canonical bytes as journaled, so that
  ``sha256sum`` gives ``batch.sha256`` and ``(printf '\\x00'; cat FILE) | sha256sum`` gives the leaf;
- ``batch-<seq:08d>.proof.json`` — the bundle (schema: ``chain/proof-bundle.schema.json``): the
  batch's seq, file name, SHA-256 and leaf hash; the gateway's signature of the leaf hash
  (:mod:`chain.signatures`); the anchored tree (size, root, inclusion proof); consistency proofs
  from that root to every later root of the plant anchored in the same contract and known at export
  time; and the anchor (chain id, contract, transaction, block, gateway, plant).

The anchor used is the earliest recorded one whose tree covers the batch (tree size > seq).
``tanjian.proof/1`` (no signature, no consistency proofs) is no longer written or accepted.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from web3 import Web3

from workspace.batch import MAGIC2
from workspace.errors import ChainError
from workspace.fsutil import write_atomic
from workspace.journal import Journal

from . import merkle
from .anchor import anchors
from .ledger import Ledger
from .signatures import SCHEME, SignatureLog, recover_signer

FORMAT = "tanjian.proof/2"
SCHEMA_PATH = Path(__file__).resolve().parent / "proof-bundle.schema.json"


def batch_file_name(seq: int, payload: bytes = b"") -> str:
    """``batch-<seq>.json`` for a ``tanjian.batch/1`` batch, ``batch-<seq>.tjb`` for a columnar
    ``tanjian.batch/2`` one (its first bytes ``payload``)."""
    return f"batch-{seq:08d}.tjb" if payload[:16] == MAGIC2 else f"batch-{seq:08d}.json"


def bundle_file_name(seq: int) -> str:
    return f"batch-{seq:08d}.proof.json"


def load_schema() -> dict:
    """The JSON Schema of a proof bundle."""
    return json.loads(SCHEMA_PATH.read_text("utf-8"))


def covering_anchor(anchors_state_dir: str | os.PathLike, seq: int, contract: str | None = None) -> dict:
    """The earliest recorded anchor whose tree includes batch ``seq``.

    Raises
    ------
    ChainError
        When no anchor covers the batch yet.
    """
    recs = anchors(anchors_state_dir, contract)
    covering = [r for r in recs if r["tree_size"] > seq]
    if not covering:
        covered = max((r["tree_size"] for r in recs), default=0)
        raise ChainError(f"batch {seq} is not anchored yet; last anchor covers {covered} batches")
    return min(covering, key=lambda r: (r["tree_size"], r["block_number"]))


def later_anchors(anchors_state_dir: str | os.PathLike, anchor: dict) -> list[dict]:
    """Recorded anchors of the same contract and plant with a larger tree than ``anchor``, by size."""
    recs = anchors(anchors_state_dir, anchor["contract"])
    later = {r["root"].lower(): r for r in recs
             if r["tree_size"] > anchor["tree_size"] and r.get("plant") == anchor.get("plant")}
    return sorted(later.values(), key=lambda r: r["tree_size"])


def make_bundle(seq: int, batch_bytes: bytes, ledger: Ledger, anchor: dict, signature: bytes,
                later: list[dict] | None = None) -> dict:
    """The proof bundle of batch ``seq`` (bytes as journaled) under ``anchor``.

    Parameters
    ----------
    seq : int
        Batch sequence number (= leaf index).
    batch_bytes : bytes
        The batch as journaled.
    ledger : Ledger
        The ledger holding it.
    anchor : dict
        The anchor record covering it (see :mod:`chain.anchor`).
    signature : bytes
        Gateway signature of its leaf hash [65 bytes].
    later : list of dict, optional
        Later anchor records of the same plant and contract, each given a consistency proof.
    """
    size = anchor["tree_size"]
    leaf = merkle.leaf_hash(batch_bytes)
    if ledger.size() < max([size] + [r["tree_size"] for r in later or []]):
        ledger.sync()
    if ledger.leaf_hash(seq) != leaf:
        raise ChainError(f"batch {seq}: the journal's bytes do not hash to ledger leaf {seq} "
                         f"(rebuild the ledger cache)")
    signer = recover_signer(leaf, signature)
    if signer is None:
        raise ChainError(f"batch {seq}: the stored gateway signature is malformed")
    root = _checked_root(ledger, anchor)
    consistency = []
    for r in later or []:
        _checked_root(ledger, r)
        consistency.append({"size": r["tree_size"], "root": r["root"].lower(),
                            "proof": [Web3.to_hex(p)
                                      for p in ledger.consistency_proof(size, r["tree_size"])]})
    return {
        "format": FORMAT,
        "batch": {"seq": seq, "file": batch_file_name(seq, batch_bytes),
                  "sha256": hashlib.sha256(batch_bytes).hexdigest(), "leaf_hash": Web3.to_hex(leaf)},
        "signature": {"scheme": SCHEME, "signer": signer, "value": Web3.to_hex(signature)},
        "tree": {"size": size, "root": Web3.to_hex(root),
                 "inclusion_proof": [Web3.to_hex(p) for p in ledger.inclusion_proof(seq, size)]},
        "consistency": consistency,
        "anchor": {"chain_id": anchor["chain_id"], "contract": anchor["contract"],
                   "tx_hash": anchor["tx_hash"], "block_number": anchor["block_number"],
                   "gateway": anchor["gateway"], "plant": anchor.get("plant", "")},
    }


def _checked_root(ledger: Ledger, anchor: dict) -> bytes:
    size = anchor["tree_size"]
    root = ledger.root(size)
    if Web3.to_hex(root) != anchor["root"].lower():
        raise ChainError(f"ledger root of the first {size} batches is {Web3.to_hex(root)} but the anchor "
                         f"in tx {anchor['tx_hash']} recorded {anchor['root']}: the journal changed "
                         f"after anchoring")
    return root


def export_batch(journal_dir: str | os.PathLike, ledger: Ledger, anchors_state_dir: str | os.PathLike,
                 seq: int, out_dir: str | os.PathLike, *, contract: str | None = None) -> tuple[Path, Path]:
    """Write batch ``seq`` and its proof bundle into ``out_dir``.

    Parameters
    ----------
    journal_dir : path
        The plant's journal directory.
    ledger : Ledger
        The ledger over that journal.
    anchors_state_dir : path
        Directory holding ``anchors.jsonl``.
    seq : int
        Batch sequence number.
    out_dir : path
        Output directory (created if missing).
    contract : str, optional
        Only use anchors in this registry (the current deployment).

    Returns
    -------
    (Path, Path)
        Paths of the batch file and of the bundle.
    """
    with Journal(journal_dir) as journal:
        if seq >= len(journal):
            raise ChainError(f"batch {seq} is not in the journal {journal.path} ({len(journal)} batches)")
        batch_bytes = journal.read(seq)
    anchor = covering_anchor(anchors_state_dir, seq, contract)
    signature = SignatureLog(ledger.cache_dir).get(seq)
    later = later_anchors(anchors_state_dir, anchor)
    bundle = make_bundle(seq, batch_bytes, ledger, anchor, signature, later)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    batch_path = out / batch_file_name(seq, batch_bytes)
    bundle_path = out / bundle_file_name(seq)
    write_atomic(batch_path, batch_bytes)
    write_atomic(bundle_path, (json.dumps(bundle, indent=2) + "\n").encode("utf-8"))
    return batch_path, bundle_path

