"""Device identity off chain: checking a device-signed payload against the DeviceRegistry.

A device (a meter's gateway module, an MQTT client) signs each payload with its key as an EIP-191
personal_sign message over the payload bytes (the same scheme as :mod:`chain.signatures`, applied
to the raw payload). :func:`verify_device_payload` recovers the signer and accepts the payload only
when the signer is the claimed device and that key is registered as an active device (or gateway)
in the DeviceRegistry.
"""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from web3 import Web3

from workspace.errors import VerificationError

from .registry import KeyKind, text_of


def sign_device_payload(account: LocalAccount, payload: bytes) -> bytes:
    """EIP-191 personal_sign signature of ``payload`` by a device key [65 bytes]."""
    return bytes(account.sign_message(encode_defunct(primitive=bytes(payload))).signature)


def verify_device_payload(payload: bytes, signature: bytes, device_address: str, registry: Any, *,
                          kinds: tuple[KeyKind, ...] = (KeyKind.DEVICE, KeyKind.GATEWAY)) -> str:
    """Check that ``payload`` was signed by ``device_address`` and that this key is active now.

    Parameters
    ----------
    payload : bytes
        The payload exactly as received.
    signature : bytes
        Its signature (r || s || v) [65 bytes].
    device_address : str
        The address the payload claims to come from.
    registry : Contract
        The DeviceRegistry.
    kinds : tuple of KeyKind
        Kinds of key accepted.

    Returns
    -------
    str
        The plant id the key is registered for.

    Raises
    ------
    VerificationError
        ``check="signature"`` when the signature is malformed or by another key;
        ``check="device"`` when the key is not registered, is of another kind, or was revoked.
    """
    try:
        claimed = Web3.to_checksum_address(device_address)
    except ValueError:
        raise VerificationError("signature", f"{device_address!r} is not an address") from None
    try:
        signer = Account.recover_message(encode_defunct(primitive=bytes(payload)), signature=bytes(signature))
    except Exception as exc:  # noqa: BLE001 - eth_keys raises several types for malformed signatures
        raise VerificationError("signature", f"payload signature claimed by {claimed} is malformed: "
                                             f"{type(exc).__name__}") from None
    if signer != claimed:
        raise VerificationError("signature", f"payload claims device {claimed} but was signed by {signer}")
    kind, plant, owner, registered, revoked = registry.functions.keyOf(claimed).call()
    if kind == KeyKind.NONE:
        raise VerificationError("device", f"device key {claimed} is not registered in DeviceRegistry "
                                          f"{registry.address}; payload refused")
    if kind not in kinds:
        wanted = " or ".join(k.name.lower() for k in kinds)
        raise VerificationError("device", f"key {claimed} is registered as {KeyKind(kind).name.lower()}, "
                                          f"not as {wanted}; payload refused")
    if revoked:
        raise VerificationError("device", f"device key {claimed} of plant {text_of(plant)!r} was revoked in "
                                          f"block {revoked}; payload refused")
    return text_of(plant)
