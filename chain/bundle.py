"""Exporting a batch with its proof bundle (``tanjian.proof/1``).

For batch ``seq`` two files are written:

- ``batch-<seq:08d>.json`` — exactly the batch's canonical bytes as journaled, so that
  ``sha256sum`` gives ``batch.sha256`` and ``(printf '\\x00'; cat FILE) | sha256sum`` gives the leaf;
- ``batch-<seq:08d>.proof.json`` — the bundle (schema: ``chain/proof-bundle.schema.json``): the
  batch's seq, file name, SHA-256 and leaf hash; the anchored tree (size, root, inclusion proof);
  and the anchor (chain id, contract, transaction, block, gateway).

The anchor used is the earliest recorded one whose tree covers the batch (tree size > seq).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from web3 import Web3

from workspace.errors import ChainError
from workspace.journal import Journal

from . import merkle
from .anchor import anchors
from .ledger import Ledger

FORMAT = "tanjian.proof/1"
SCHEMA_PATH = Path(__file__).resolve().parent / "proof-bundle.schema.json"


def batch_file_name(seq: int) -> str:
    return f"batch-{seq:08d}.json"


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


def make_bundle(seq: int, batch_bytes: bytes, ledger: Ledger, anchor: dict) -> dict:
    """The proof bundle of batch ``seq`` (bytes as journaled) under ``anchor``."""
    size = anchor["tree_size"]
    leaf = merkle.leaf_hash(batch_bytes)
    if ledger.size() < size:
        ledger.sync()
    if ledger.leaf_hash(seq) != leaf:
        raise ChainError(f"batch {seq}: the journal's bytes do not hash to ledger leaf {seq} "
                         f"(rebuild the ledger cache)")
    root = ledger.root(size)
    if Web3.to_hex(root) != anchor["root"].lower():
        raise ChainError(f"ledger root of the first {size} batches is {Web3.to_hex(root)} but the anchor "
                         f"in tx {anchor['tx_hash']} recorded {anchor['root']}: the journal changed "
                         f"after anchoring")
    return {
        "format": FORMAT,
        "batch": {"seq": seq, "file": batch_file_name(seq),
                  "sha256": hashlib.sha256(batch_bytes).hexdigest(), "leaf_hash": Web3.to_hex(leaf)},
        "tree": {"size": size, "root": Web3.to_hex(root),
                 "inclusion_proof": [Web3.to_hex(p) for p in ledger.inclusion_proof(seq, size)]},
        "anchor": {"chain_id": anchor["chain_id"], "contract": anchor["contract"],
                   "tx_hash": anchor["tx_hash"], "block_number": anchor["block_number"],
                   "gateway": anchor["gateway"]},
    }


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
    bundle = make_bundle(seq, batch_bytes, ledger, anchor)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    batch_path = out / batch_file_name(seq)
    bundle_path = out / bundle_file_name(seq)
    _write(batch_path, batch_bytes)
    _write(bundle_path, (json.dumps(bundle, indent=2) + "\n").encode("utf-8"))
    return batch_path, bundle_path


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
