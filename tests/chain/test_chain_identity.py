"""Device-signed payloads checked against the DeviceRegistry: registered keys pass, others are refused."""

from __future__ import annotations

import pytest
from eth_account import Account

from chain._tx import send
from chain.deploy import deploy_contracts
from chain.identity import sign_device_payload, verify_device_payload
from chain.node import connect
from chain.registry import DEVICE_REGISTRY, KeyKind, from_deployment, id32
from workspace.errors import VerificationError

PAYLOAD = b'{"meter":"M-TR-1","time":"2026-03-02T08:00:00Z","energy_kwh":120345.5}'


@pytest.fixture
def devices():
    w3 = connect("tester")
    info = deploy_contracts(w3, w3.eth.accounts[0])
    return w3, from_deployment(w3, info, DEVICE_REGISTRY)


def register(w3, devices, kind=KeyKind.DEVICE):
    key = Account.create()
    send(w3, devices.functions.register(key.address, kind, id32("plant-18"), w3.eth.accounts[3]),
         w3.eth.accounts[0])
    return key


def test_a_registered_device_payload_is_accepted(devices):
    w3, dev = devices
    key = register(w3, dev)
    sig = sign_device_payload(key, PAYLOAD)
    assert len(sig) == 65
    assert verify_device_payload(PAYLOAD, sig, key.address, dev) == "plant-18"


def test_unregistered_revoked_and_wrong_kind_keys_are_refused(devices):
    w3, dev = devices
    stranger = Account.create()
    with pytest.raises(VerificationError, match=f"device key {stranger.address} is not registered") as e:
        verify_device_payload(PAYLOAD, sign_device_payload(stranger, PAYLOAD), stranger.address, dev)
    assert e.value.check == "device"
    key = register(w3, dev)
    send(w3, dev.functions.revoke(key.address), w3.eth.accounts[0])
    with pytest.raises(VerificationError, match="of plant 'plant-18' was revoked in block"):
        verify_device_payload(PAYLOAD, sign_device_payload(key, PAYLOAD), key.address, dev)
    gw = register(w3, dev, KeyKind.GATEWAY)
    with pytest.raises(VerificationError, match="registered as gateway, not as device"):
        verify_device_payload(PAYLOAD, sign_device_payload(gw, PAYLOAD), gw.address, dev,
                              kinds=(KeyKind.DEVICE,))


def test_a_changed_payload_or_a_borrowed_identity_fails_the_signature(devices):
    w3, dev = devices
    key, other = register(w3, dev), register(w3, dev)
    sig = sign_device_payload(key, PAYLOAD)
    with pytest.raises(VerificationError, match="but was signed by") as e:
        verify_device_payload(PAYLOAD.replace(b"120345.5", b"120345.6"), sig, key.address, dev)
    assert e.value.check == "signature"
    with pytest.raises(VerificationError,
                       match=f"claims device {other.address} but was signed by {key.address}"):
        verify_device_payload(PAYLOAD, sig, other.address, dev)
    with pytest.raises(VerificationError, match="malformed"):
        verify_device_payload(PAYLOAD, sig[:64] + b"\x05", key.address, dev)
