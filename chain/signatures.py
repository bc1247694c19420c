"""Gateway signatures of the ledger's leaves, kept beside the ledger in ``signatures.bin``.

Scheme ``eip191-personal-sign``: the gateway key signs the 32-byte leaf hash of each batch as an
EIP-191 version 0x45 message ("personal_sign")::

    digest    = keccak256(b"\\x19Ethereum Signed Message:\\n32" || leaf_hash)
    signature = r (32 bytes) || s (32 bytes) || v (1 byte, 27 or 28)

so any Ethereum tool recovers the signer, e.g. ``cast wallet verify --address GATEWAY 0x<leaf_hash>
0x<signature>``. EIP-191 rather than EIP-712: the signed value is a single hash, already bound to
its plant and sequence number by the batch bytes, and personal_sign is what every wallet and CLI
can check without a typed-data definition.

``signatures.bin`` holds 65 bytes per leaf, in leaf order, append-only and fsync'd. A torn last
record (a crash mid-write) is cut off on open and signed again.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from workspace.errors import ChainError

from .ledger import Ledger

log = logging.getLogger(__name__)

SCHEME = "eip191-personal-sign"
SIGNATURES_NAME = "signatures.bin"
SIGNATURE_SIZE = 65  # bytes: r || s || v


def sign_leaf(account: LocalAccount, leaf: bytes) -> bytes:
    """EIP-191 personal_sign signature of a 32-byte leaf hash [65 bytes]."""
    if len(leaf) != 32:
        raise ChainError(f"a leaf hash is 32 bytes, got {len(leaf)}")
    return bytes(account.sign_message(encode_defunct(primitive=bytes(leaf))).signature)


def recover_signer(leaf: bytes, signature: bytes) -> str | None:
    """Checksummed address that signed ``leaf`` with ``signature`` (None when malformed)."""
    if len(leaf) != 32 or len(signature) != SIGNATURE_SIZE:
        return None
    try:
        return Account.recover_message(encode_defunct(primitive=bytes(leaf)), signature=bytes(signature))
    except Exception:  # noqa: BLE001 - eth_keys raises several types for malformed signatures
        return None


class SignatureLog:
    """Signatures of the leaves of one ledger, ``<state_dir>/signatures.bin``.

    Parameters
    ----------
    state_dir : path
        Directory of the ledger's cache (created if missing).
    """

    def __init__(self, state_dir: str | os.PathLike):
        self.path = Path(state_dir) / SIGNATURES_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        raw = self.path.read_bytes() if self.path.exists() else b""
        keep = len(raw) - len(raw) % SIGNATURE_SIZE
        if keep != len(raw):
            log.warning("%s: cutting a torn last record of %d bytes", self.path, len(raw) - keep)
            with open(self.path, "r+b") as f:
                f.truncate(keep)
                f.flush()
                os.fsync(f.fileno())
        self._sigs = [raw[i:i + SIGNATURE_SIZE] for i in range(0, keep, SIGNATURE_SIZE)]

    def __len__(self) -> int:
        return len(self._sigs)

    def get(self, seq: int) -> bytes:
        """Signature of leaf ``seq`` [65 bytes]."""
        if not 0 <= seq < len(self._sigs):
            raise ChainError(f"batch {seq} has no gateway signature in {self.path} "
                             f"({len(self._sigs)} signed)")
        return self._sigs[seq]

    def sign_up_to(self, ledger: Ledger, account: LocalAccount, size: int) -> int:
        """Sign leaves ``len(self) .. size-1`` of ``ledger`` with ``account``; return how many.

        Written in one fsync'd append, so the file never holds a signature for a leaf whose
        predecessors are unsigned.
        """
        start = len(self._sigs)
        if size <= start:
            return 0
        new = [sign_leaf(account, leaf) for leaf in ledger.leaf_hashes(size)[start:]]
        try:
            with open(self.path, "ab") as f:
                f.write(b"".join(new))
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            # a full disk may have taken part of the write: cut the file back to the signatures it held, or
            # the next append would put signature k+1 where leaf k's belongs
            try:
                os.truncate(self.path, start * SIGNATURE_SIZE)
            except OSError:
                pass
            raise ChainError(f"cannot sign batches {start}..{size - 1}: writing {self.path} failed ({exc}); "
                             f"retried at the next anchoring") from exc
        self._sigs.extend(new)
        log.info("signed batches %d..%d with gateway %s", start, size - 1, account.address)
        return len(new)
