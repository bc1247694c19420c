"""Signed MQTT payloads: the envelope a signing device publishes, its check against the meter's key
and the DeviceRegistry (asked once per key and TTL), and :func:`decode_message`, which opens an
envelope when there is one and maps the payload.

A device that signs its readings publishes an envelope instead of the bare JSON::

    {"payload": "<the reading's JSON, as a string>", "device": "0x<address>", "signature": "0x<65 bytes>"}

The signature is EIP-191 ``personal_sign`` over the UTF-8 bytes of ``payload``
(:func:`chain.identity.sign_device_payload`). It is accepted when ``device`` is the key configured
for the meter (``mqtt.device_key``), the signature recovers to that key and, when the collector has
the DeviceRegistry, the key is registered there and not revoked
(:func:`chain.identity.verify_device_payload`). A gateway with ``require_signature`` refuses bare
payloads.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from workspace.batch import Reading
from workspace.site import Meter

from .payload import Fragment, PayloadError, map_fragment, map_payload, parse_json

log = logging.getLogger(__name__)


# -- envelopes --------------------------------------------------------------------------------------
def envelope(obj: Any) -> bool:
    """Whether a decoded payload is a signed envelope (it carries a ``signature``)."""
    return isinstance(obj, dict) and "signature" in obj


def check_signed(obj: dict, meter: Meter, topic: str, registry: Any = None) -> bytes:
    """The inner payload bytes of a signed envelope, once its signature is accepted for ``meter``.

    Raises
    ------
    PayloadError
        When the envelope is malformed, the device is not the meter's registered key, the signature is
        not by that key, or the registry refuses the key.
    """
    from eth_account import Account
    from eth_account.messages import encode_defunct

    inner, device, sig = obj.get("payload"), obj.get("device"), obj.get("signature")
    if set(obj) != {"payload", "device", "signature"}:
        raise PayloadError(f"topic {topic!r}: a signed envelope has exactly 'payload', 'device' and "
                           f"'signature' (got {', '.join(sorted(map(str, obj)))})")
    if not isinstance(inner, str) or not isinstance(device, str) or not isinstance(sig, str):
        raise PayloadError(f"topic {topic!r}: envelope fields 'payload', 'device' and 'signature' must be "
                           f"strings")
    try:
        sig_bytes = bytes.fromhex(sig.removeprefix("0x"))
    except ValueError:
        raise PayloadError(f"topic {topic!r}: signature is not hexadecimal") from None
    if len(sig_bytes) != 65:
        raise PayloadError(f"topic {topic!r}: signature has {len(sig_bytes)} bytes, not 65")
    registered = meter.mqtt.device_key
    if registered is None:
        raise PayloadError(f"topic {topic!r}: unknown device {device}: meter {meter.id} has no registered "
                           f"device key")
    if device.lower() != registered.lower():
        raise PayloadError(f"topic {topic!r}: unknown device {device}: meter {meter.id}'s registered key is "
                           f"{registered}")
    data = inner.encode("utf-8")
    if registry is not None:
        from chain.identity import verify_device_payload
        from workspace.errors import VerificationError

        try:
            verify_device_payload(data, sig_bytes, device, registry)
        except VerificationError as exc:
            if exc.check == "signature" and isinstance(registry, DeviceKeyCache):
                registry.forget(device)  # ask the registry afresh at this key's next message
            raise PayloadError(f"topic {topic!r}: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - the node is down or answers nonsense: refuse, do not guess
            raise PayloadError(f"topic {topic!r}: cannot check device key {device} against the "
                               f"DeviceRegistry ({type(exc).__name__}: {exc})") from None
        return data
    try:
        signer = Account.recover_message(encode_defunct(primitive=data), signature=sig_bytes)
    except Exception as exc:  # noqa: BLE001 - eth_keys raises several types for malformed signatures
        raise PayloadError(f"topic {topic!r}: signature is malformed ({type(exc).__name__})") from None
    if signer.lower() != registered.lower():
        raise PayloadError(f"topic {topic!r}: payload claims device {device} but was signed by {signer}")
    return data


def decode_message(meter: Meter, payload: bytes, topic: str, arrival: dt.datetime, *,
                   require_signature: bool = False, registry: Any = None,
                   zone: str | None = None) -> Reading | Fragment:
    """A message's reading for ``meter``: envelope check (if signed), then :func:`map_payload` (or
    :func:`map_fragment` when the meter's messages are combined per minute). ``zone``: the IANA zone of
    an offset-less ISO 8601 time when the mapping names none (the site's).

    Raises
    ------
    PayloadError
        Naming the topic and what is wrong; never anything else for any payload bytes.
    """
    obj = parse_json(payload, topic)
    if envelope(obj):
        obj = parse_json(check_signed(obj, meter, topic, registry), topic)
    elif require_signature:
        raise PayloadError(f"topic {topic!r}: unsigned payload refused: gateway requires payloads signed "
                           f"by the meter's device key")
    if meter.mqtt.combined:
        return map_fragment(meter, obj, topic, arrival, zone=zone)
    return map_payload(meter, obj, topic, arrival, zone=zone)


def device_registry_for(cfg) -> Any:
    """The DeviceRegistry that signed payloads are checked against, or None (with a warning saying why).

    Only looked up when some mqtt meter has a ``device_key`` or a gateway requires signatures; when the
    chain or the registry cannot be reached, signatures are still checked against each meter's
    configured ``device_key``, but a revoked key is not noticed: the log says so.
    """
    signed = any(m.mqtt is not None and m.mqtt.device_key for m in cfg.site.meters) or any(
        g.mqtt is not None and g.mqtt.require_signature for g in cfg.site.gateways)
    if not signed:
        return None
    try:
        from chain.connect import connect, device_registry
        from chain.node import is_up

        w3 = connect(cfg)
        registry = device_registry(cfg, w3)
        if not is_up(w3):
            raise RuntimeError(f"the chain node {cfg.chain.rpc_url} does not answer")
        log.info("MQTT device signatures are checked against DeviceRegistry %s", registry.address)
        return registry
    except Exception as exc:  # noqa: BLE001 - the chain is optional for collection; say what is missing
        log.warning("MQTT device signatures are checked against the configured device_key only, not the "
                    "DeviceRegistry (revocations are not seen): %s", exc)
        return None


# -- the DeviceRegistry, asked once per key and TTL ----------------------------------------------------
class DeviceKeyCache:
    """The DeviceRegistry's record of each device key, kept ``ttl_s`` seconds: one chain call per key
    and TTL instead of one per signed message.

    It stands in for the registry contract where :func:`chain.identity.verify_device_payload` takes
    one (it offers ``address`` and ``functions.keyOf(key).call()``, the only parts that function uses),
    so the checks themselves stay in one place.

    Trade-off: a key revoked on chain is still accepted for at most ``ttl_s`` after its record was
    last fetched (default 300 s: at most five minutes of readings from a revoked key reach the
    journal), against one ``eth_call`` per message without the cache (a thousand clamp meters
    publishing every 10 s: 100 calls/s on the node, and each message waits for one). What is
    never kept: a key the registry does not know (asked again at every message, so a key registered
    after the collector started is accepted at once), and a key whose signature failed to verify
    (forgotten: its next message asks the registry again). ``ttl_s=0`` asks at every message.

    Parameters
    ----------
    registry : Contract
        The DeviceRegistry.
    ttl_s : float
        How long a record is used before it is fetched again [s, monotonic wall clock].
    now : callable
        The time source [s] (``time.monotonic``).

    Attributes
    ----------
    calls : int
        ``keyOf`` calls made to the chain.
    hits : int
        Answers given from the cache.
    """

    def __init__(self, registry: Any, ttl_s: float = 300.0, now: Callable[[], float] = time.monotonic):
        self.registry = registry
        self.address = registry.address
        self.ttl_s = float(ttl_s)
        self.now = now
        self.calls = 0
        self.hits = 0
        self._records: dict[str, tuple[float, tuple]] = {}  # lower-case address -> (fetched at, record)
        self._lock = threading.Lock()
        self.functions = _KeyOfFunctions(self)

    def key_of(self, key: str) -> tuple:
        """The registry's ``keyOf(key)`` record: (kind, plant, owner, registeredAt, revokedAt)."""
        k = key.lower()
        t = self.now()
        with self._lock:
            hit = self._records.get(k)
            if hit is not None and t - hit[0] < self.ttl_s:
                self.hits += 1
                return hit[1]
        record = tuple(self.registry.functions.keyOf(key).call())
        with self._lock:
            self.calls += 1
            if record[0] != 0 and self.ttl_s > 0:  # Kind.None: unknown, never kept
                self._records[k] = (t, record)
            else:
                self._records.pop(k, None)
        return record

    def forget(self, key: str) -> None:
        """Drop ``key``'s record: the next check asks the registry."""
        with self._lock:
            self._records.pop(key.lower(), None)


class _KeyOfCall:
    def __init__(self, cache: DeviceKeyCache, key: str):
        self.cache, self.key = cache, key

    def call(self) -> tuple:
        return self.cache.key_of(self.key)


class _KeyOfFunctions:
    """``registry.functions`` as :func:`chain.identity.verify_device_payload` uses it."""

    def __init__(self, cache: DeviceKeyCache):
        self._cache = cache

    def keyOf(self, key: str) -> _KeyOfCall:  # noqa: N802 - the contract's function name
        return _KeyOfCall(self._cache, key)
