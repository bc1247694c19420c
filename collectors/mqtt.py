"""The MQTT collector: readings pushed by IoT gateways and wireless clamp meters through a broker.

One :class:`MqttCollector` per ``protocol: mqtt`` gateway holds a persistent session with the broker
(MQTT 5 ``clean_start`` false with a session expiry, or 3.1.1 ``clean_session`` false), subscribes
to every meter's topic filter at QoS 1, maps each message onto a :class:`~workspace.batch.Reading`
(:func:`map_payload`) and journals what arrived as one batch per flush interval. The broker gets its
acknowledgement (PUBACK, sent with paho's ``manual_ack``) only after the batch is fsync'd in the
journal, so a crash never loses a message the broker considers delivered: what was not
acknowledged is delivered again when the collector reconnects. Several readings of one meter in one
minute (a device publishing every 10 s) are all acknowledged, but only the minute's first is journaled:
the service's :class:`~collectors.minute.MinuteRule` counts the others ``superseded``; the same rule
keeps a message redelivered after a crash between the fsync and the PUBACK out of the journal.

Signed payloads
---------------
A device that signs its readings publishes an envelope instead of the bare JSON::

    {"payload": "<the reading's JSON, as a string>", "device": "0x<address>", "signature": "0x<65 bytes>"}

The signature is EIP-191 ``personal_sign`` over the UTF-8 bytes of ``payload``
(:func:`chain.identity.sign_device_payload`). It is accepted when ``device`` is the key configured
for the meter (``mqtt.device_key``), the signature recovers to that key and, when the collector has
the DeviceRegistry, the key is registered there and not revoked
(:func:`chain.identity.verify_device_payload`). A gateway with ``require_signature`` refuses bare
payloads.

Rejected messages
-----------------
A message that cannot be mapped (not UTF-8, not JSON, a missing field, a wrong type, NaN, a negative
counter, a bad time, a bad or unknown signature) is refused with a reason naming the topic and the
field, logged, counted in the meter's health, and kept verbatim in
``<data_dir>/quarantine/mqtt-<gateway>.jsonl`` (fsync'd before the broker is acknowledged): nothing
is lost, and nothing a device sends can stop the collector.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import logging
import math
import os
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workspace.batch import Reading
from workspace.clock import Clock
from workspace.errors import CollectorError, JournalError
from workspace.site import MQTT_UNITS, Gateway, Medium, Meter, MqttMapping

from .polling import DeviceHealth

log = logging.getLogger(__name__)

QUANTITIES = ("counter", "rate", "voltage", "current", "power_factor")
#: the unit a reading carries each quantity in, by medium (what ``units`` converts to)
READING_UNITS = {
    True: {"counter": "kWh", "rate": "kW", "voltage": "V", "current": "A", "power_factor": "1"},
    False: {"counter": "m3", "rate": "m3/h", "voltage": "V", "current": "A", "power_factor": "1"},
}
MAX_PAYLOAD = 64 * 1024  # [bytes]; a reading is a few hundred


class PayloadError(CollectorError):
    """A message was refused; the text says which topic, which field and why."""


# -- payload mapping ---------------------------------------------------------------------------------
def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_json(data: bytes, topic: str) -> Any:
    """The JSON value of a message; NaN and Infinity (which strict JSON lacks) are refused."""
    if len(data) > MAX_PAYLOAD:
        raise PayloadError(f"topic {topic!r}: payload of {len(data)} bytes is larger than {MAX_PAYLOAD}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"topic {topic!r}: payload is not UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise PayloadError(f"topic {topic!r}: payload nests too deeply") from None
    except ValueError as exc:
        raise PayloadError(f"topic {topic!r}: payload is not JSON: {exc}") from None


def field_value(obj: Any, path: str, topic: str) -> Any:
    """The value at a dotted ``path`` of a JSON object; :class:`PayloadError` when it is absent."""
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            raise PayloadError(f"topic {topic!r}: field {path!r}: {part!r} is inside a "
                               f"{type(cur).__name__}, not an object")
        if part not in cur:
            raise PayloadError(f"topic {topic!r}: field {path!r} is missing")
        cur = cur[part]
    return cur


def _number(obj: Any, path: str, topic: str) -> float:
    v = field_value(obj, path, topic)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise PayloadError(f"topic {topic!r}: field {path!r} is {type(v).__name__} {v!r:.40}, not a number")
    try:
        x = float(v)
    except OverflowError:
        raise PayloadError(f"topic {topic!r}: field {path!r} is too large for a float") from None
    if not math.isfinite(x):
        raise PayloadError(f"topic {topic!r}: field {path!r} is not finite")
    return x


def _time(obj: Any, mapping: MqttMapping, topic: str) -> dt.datetime:
    spec = mapping.time
    v = field_value(obj, spec.field, topic)
    where = f"topic {topic!r}: time field {spec.field!r}"
    if spec.format == "iso8601":
        if not isinstance(v, str):
            raise PayloadError(f"{where} is {type(v).__name__}, not an ISO 8601 string")
        try:
            t = dt.datetime.fromisoformat(v.replace("Z", "+00:00") if v.endswith("Z") else v)
        except ValueError:
            raise PayloadError(f"{where}: {v!r:.40} is not ISO 8601") from None
        if t.tzinfo is None:
            raise PayloadError(f"{where}: {v!r} has no UTC offset (add Z or +08:00)")
        return t.astimezone(dt.timezone.utc)
    x = _number(obj, spec.field, topic)
    seconds = x / 1000.0 if spec.format == "epoch_ms" else x
    if not 0 <= seconds < 253402300800:  # 1970 .. 9999-12-31
        raise PayloadError(f"{where}: {x!r} is outside 1970..9999 as {spec.format}")
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)


def map_payload(meter: Meter, obj: Any, topic: str, arrival: dt.datetime) -> Reading:
    """The reading a decoded JSON payload carries for ``meter``, in the reading's units.

    Parameters
    ----------
    meter : Meter
        With its ``mqtt`` mapping.
    obj : object
        The decoded JSON (:func:`parse_json`).
    topic : str
        For the messages of errors.
    arrival : datetime.datetime
        When the message arrived; the reading's time unless the mapping names a time field.

    Raises
    ------
    PayloadError
        When the payload is not an object, a field is missing or not a finite number, the counter is
        negative, or the time is malformed.
    """
    mapping = meter.mqtt
    if not isinstance(obj, dict):
        raise PayloadError(f"topic {topic!r}: payload is a JSON {type(obj).__name__}, not an object")
    own = READING_UNITS[meter.medium == Medium.electricity]
    values: dict[str, float] = {}
    for q in QUANTITIES:
        path = getattr(mapping, q)
        if path is None:
            values[q] = math.nan
            continue
        x = _number(obj, path, topic)
        unit = mapping.units.get(q, own[q])
        factor = MQTT_UNITS[q].get(unit)
        if factor is None or (q in ("counter", "rate") and unit not in _compatible(meter.medium, q)):
            raise PayloadError(f"meter {meter.id}: unit {unit!r} of {q} does not fit its medium, "
                               f"{meter.medium.value}")
        values[q] = to_reading_unit(x, factor)
    if values["counter"] < 0:
        raise PayloadError(f"topic {topic!r}: counter {mapping.counter!r} is negative "
                           f"({values['counter']!r})")
    when = _time(obj, mapping, topic) if mapping.time is not None else arrival
    return Reading(meter.id, when, values["counter"], values["rate"], values["voltage"], values["current"],
                   values["power_factor"], 0)


def to_reading_unit(x: float, factor: float) -> float:
    """``x * factor``, dividing by the exact integer when the factor is one's reciprocal (Wh -> kWh
    divides by 1000, so 1234567 Wh is exactly the double nearest 1234.567 kWh)."""
    if factor < 1:
        inv = 1 / factor
        if abs(inv - round(inv)) < 1e-9:
            return x / round(inv)
    return x * factor


def from_reading_unit(x: float, factor: float) -> float:
    """Inverse of :func:`to_reading_unit` (for publishers and tests)."""
    if factor < 1:
        inv = 1 / factor
        if abs(inv - round(inv)) < 1e-9:
            return x * round(inv)
    return x / factor


def _compatible(medium: Medium, q: str) -> tuple[str, ...]:
    elec = {"counter": ("kWh", "Wh", "MWh"), "rate": ("kW", "W", "MW")}
    flow = {"counter": ("m3", "L"), "rate": ("m3/h", "L/min", "L/s")}
    return (elec if medium == Medium.electricity else flow)[q]


# -- signatures --------------------------------------------------------------------------------------
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
                   require_signature: bool = False, registry: Any = None) -> Reading:
    """A message's reading for ``meter``: envelope check (if signed), then :func:`map_payload`.

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
    return map_payload(meter, obj, topic, arrival)


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
        from chain.connect import connect as _connect, registry as _registry
        from chain.registry import DEVICE_REGISTRY

        from chain.node import is_up

        address = (cfg.chain.contracts or {}).get(DEVICE_REGISTRY)
        w3 = _connect(cfg)
        registry = _registry(cfg, w3, DEVICE_REGISTRY, address)
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


# -- the collector -----------------------------------------------------------------------------------
@dataclass
class _Received:
    mid: int
    qos: int
    generation: int  # connection the message came on: a PUBACK only makes sense on that one
    reading: Reading | None
    rejected: dict | None = None


def read_secret(path: str) -> str:
    """First line of a password file (a file readable by others is used but logged)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise CollectorError(f"cannot read MQTT password file {p}: {exc.strerror or exc}") from None
    if p.stat().st_mode & 0o077:
        log.warning("MQTT password file %s is readable by group or others (chmod 600 it)", p)
    return text.splitlines()[0] if text else ""


class MqttCollector:
    """Subscribe to one MQTT gateway's broker and journal its meters' readings.

    Parameters
    ----------
    gateway : Gateway
        ``protocol: mqtt``, with its ``mqtt`` settings (file paths absolute or relative to the cwd).
    meters : list of Meter
        The gateway's meters, each with its ``mqtt`` mapping.
    clock : Clock
        Arrival time stamps.
    journal_batch : callable
        ``async journal_batch(readings, source)``: journals one batch and returns once it is fsync'd
        (optionally the number of readings journaled: the service's supersedes repeats of a minute);
        raises :class:`~workspace.errors.JournalError` when it is not.
    quarantine : path or None
        JSON-lines file for refused messages.
    registry : Contract or None
        The DeviceRegistry to check signing keys against (None: the configured ``device_key`` only);
        its answers are kept ``mqtt.registry_ttl_s`` per key (:class:`DeviceKeyCache`).
    port_offset : int
        Added to the gateway's port (tests).

    Attributes
    ----------
    health : dict
        Meter id -> :class:`~collectors.polling.DeviceHealth` (``reads`` accepted, ``errors`` refused);
        the gateway id -> its connection's health.
    acknowledged, rejected : int
        Messages acknowledged to the broker after journaling, and refused.
    key_cache : DeviceKeyCache or None
        The registry's answers per device key (None without a registry).
    """

    def __init__(self, gateway: Gateway, meters: list[Meter], clock: Clock,
                 journal_batch: Callable[[list[Reading], str], Awaitable[None]], *,
                 quarantine: Path | None = None, registry: Any = None, port_offset: int = 0):
        if gateway.mqtt is None:
            raise CollectorError(f"gateway {gateway.id} has no mqtt settings")
        self.gateway = gateway
        self.settings = gateway.mqtt
        self.meters = [m for m in meters if m.mqtt is not None]
        self.clock = clock
        self.journal_batch = journal_batch
        self.quarantine = quarantine
        self.key_cache = None if registry is None else DeviceKeyCache(registry, self.settings.registry_ttl_s)
        self.registry = self.key_cache
        self.port = (gateway.port or 1883) + port_offset
        self.source = f"mqtt/{gateway.id}"
        self.health: dict[str, DeviceHealth] = {m.id: DeviceHealth(m.id) for m in self.meters}
        self.health[gateway.id] = DeviceHealth(gateway.id)
        self.acknowledged = 0
        self.rejected = 0
        self.connected = threading.Event()
        self._lock = threading.Lock()
        self._received: list[_Received] = []
        self._waiting: list[_Received] = []  # taken for a flush the journal refused: retried
        self._generation = 0
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client = None
        self._topic_meter: dict[str, Meter | None] = {}

    @property
    def registry_calls(self) -> int:
        """``keyOf`` calls made to the DeviceRegistry since the start (0 without a registry)."""
        return self.key_cache.calls if self.key_cache is not None else 0

    # -- paho side (its network thread) ------------------------------------------------------------
    def _make_client(self):
        import paho.mqtt.client as mqtt

        s = self.settings
        v5 = s.version == "5"
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=s.client_id,
                             protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
                             clean_session=None if v5 else False, manual_ack=True)
        if s.username is not None:
            client.username_pw_set(s.username, read_secret(s.password_file) if s.password_file else None)
        if s.tls is not None:
            client.tls_set(ca_certs=s.tls.ca_file, certfile=s.tls.cert_file, keyfile=s.tls.key_file)
        client.reconnect_delay_set(1, 30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        gh = self.health[self.gateway.id]
        if reason_code.is_failure:
            gh.errors += 1
            gh.consecutive_failures += 1
            gh.last_error = f"broker {self.gateway.host}:{self.port} refused the connection: {reason_code}"
            log.error("gateway %s: %s", self.gateway.id, gh.last_error)
            return
        with self._lock:
            self._generation += 1
            if flags.session_present:
                # the broker sends again, with their packet ids, whatever we had not acknowledged: drop the
                # copies not yet journaled so that each is journaled once (those of a flush under way come
                # back too: the service's minute rule supersedes them)
                dropped = len(self._received) + len(self._waiting)
                self._received, self._waiting = [], []
                if dropped:
                    log.info("gateway %s: %d unacknowledged messages will be delivered again by the broker",
                             self.gateway.id, dropped)
        gh.consecutive_failures = 0
        gh.last_seen = time.time()
        client.subscribe([(m.mqtt.topic, self.settings.qos) for m in self.meters])
        self.connected.set()
        log.info("gateway %s: connected to %s:%d as %s (session %s), %d topic filters", self.gateway.id,
                 self.gateway.host, self.port, self.settings.client_id,
                 "resumed" if flags.session_present else "new", len(self.meters))

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        was_connected = self.connected.is_set()
        self.connected.clear()
        if reason_code.is_failure and was_connected:  # a refused CONNECT was recorded by _on_connect
            gh = self.health[self.gateway.id]
            gh.errors += 1
            gh.last_error = f"disconnected from {self.gateway.host}:{self.port}: {reason_code}"
            log.warning("gateway %s: %s (reconnecting; unacknowledged messages will be delivered again)",
                        self.gateway.id, gh.last_error)

    def meter_for(self, topic: str) -> Meter | None:
        """The first meter (in configuration order) whose topic filter matches ``topic``.

        Remembered per topic (a gateway's devices publish on a few fixed topics), so that a message
        does not test every filter of a large gateway.
        """
        if topic in self._topic_meter:
            return self._topic_meter[topic]
        from paho.mqtt.client import topic_matches_sub

        found = next((m for m in self.meters if topic_matches_sub(m.mqtt.topic, topic)), None)
        if len(self._topic_meter) >= 100_000:  # topics invented by a misbehaving client: start over
            self._topic_meter.clear()
        self._topic_meter[topic] = found
        return found

    def _on_message(self, client, userdata, msg) -> None:
        arrival = self.clock.now()
        topic = msg.topic
        meter = self.meter_for(topic)
        reading, rejected = None, None
        try:
            if meter is None:
                raise PayloadError(f"topic {topic!r} matches no meter of gateway {self.gateway.id}")
            reading = decode_message(meter, msg.payload, topic, arrival, registry=self.registry,
                                     require_signature=self.settings.require_signature)
        except PayloadError as exc:
            rejected = self._refuse(meter, topic, msg.payload, str(exc), arrival)
        except Exception as exc:  # noqa: BLE001 - a device's bytes must never stop the collector
            log.exception("gateway %s: unexpected %s on topic %r", self.gateway.id, type(exc).__name__, topic)
            rejected = self._refuse(meter, topic, msg.payload, f"unexpected {type(exc).__name__}: {exc}",
                                    arrival)
        else:
            h = self.health[meter.id]
            h.reads += 1
            h.consecutive_failures = 0
            h.last_seen = time.time()
        with self._lock:
            self._received.append(_Received(msg.mid, msg.qos, self._generation, reading, rejected))
            n = len(self._received)
        if n >= self.settings.max_batch and self._loop is not None and self._wake is not None:
            try:
                self._loop.call_soon_threadsafe(self._wake.set)
            except RuntimeError:  # the loop closed while stopping: the final flush has run or will not
                pass

    def _refuse(self, meter: Meter | None, topic: str, payload: bytes, reason: str,
                arrival: dt.datetime) -> dict:
        h = self.health[meter.id if meter is not None else self.gateway.id]
        h.errors += 1
        h.consecutive_failures += 1
        h.last_error = reason
        self.rejected += 1
        log.warning("gateway %s: message refused: %s", self.gateway.id, reason)
        try:
            text = payload.decode("utf-8")
            body = {"payload": text}
        except UnicodeDecodeError:
            body = {"payload_base64": base64.b64encode(payload).decode()}
        return {"gateway": self.gateway.id, "topic": topic, "meter": meter.id if meter else None,
                "arrival": arrival.astimezone(dt.timezone.utc).isoformat(), "reason": reason, **body}

    # -- asyncio side ------------------------------------------------------------------------------
    def start(self) -> None:
        """Connect (in paho's network thread; it reconnects by itself)."""
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        client = self._make_client()
        s = self.settings
        if s.version == "5":
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = s.session_expiry_s
            props.ReceiveMaximum = s.receive_maximum
            client.connect_async(self.gateway.host, self.port, s.keepalive_s, clean_start=False,
                                 properties=props)
        else:
            client.connect_async(self.gateway.host, self.port, s.keepalive_s)
        self._client = client
        client.loop_start()

    def stop(self) -> None:
        """Disconnect; messages not yet acknowledged stay with the broker (persistent session)."""
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None
        self.connected.clear()

    async def flush(self) -> int:
        """Journal what arrived as one batch, then acknowledge it to the broker; returns the readings
        journaled."""
        with self._lock:
            taken, self._received = self._waiting + self._received, []
            self._waiting = []
        if not taken:
            return 0
        readings = [r.reading for r in taken if r.reading is not None]
        refused = [r.rejected for r in taken if r.rejected is not None]
        try:
            if refused and self.quarantine is not None:
                await asyncio.to_thread(self._keep_refused, refused)
                for r in taken:
                    r.rejected = None
            journaled = 0
            if readings:
                n = await self.journal_batch(readings, self.source)
                journaled = n if isinstance(n, int) else len(readings)  # the service's: minute rule applied
                for r in taken:
                    r.reading = None
        except (JournalError, OSError) as exc:
            log.error("gateway %s: %s; %d messages stay unacknowledged with the broker and are retried",
                      self.gateway.id, exc, len(taken))
            with self._lock:
                self._waiting = taken + self._waiting
            return 0
        with self._lock:
            gen = self._generation
        client = self._client
        for r in taken:
            if r.qos > 0 and r.generation == gen and client is not None:
                client.ack(r.mid, r.qos)
        self.acknowledged += len(taken)
        return journaled

    def _keep_refused(self, refused: list[dict]) -> None:
        self.quarantine.parent.mkdir(parents=True, exist_ok=True)
        with open(self.quarantine, "a", encoding="utf-8") as f:
            for doc in refused:
                f.write(json.dumps(doc, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, then journal and acknowledge every ``flush_interval_s`` until ``stop`` is set."""
        try:
            self.start()
        except (CollectorError, OSError, ValueError) as exc:  # unreadable password or TLS files
            gh = self.health[self.gateway.id]
            gh.errors += 1
            gh.last_error = f"cannot start: {exc}"
            log.error("gateway %s: cannot start the MQTT client: %s", self.gateway.id, exc)
            return
        try:
            while not stop.is_set():
                waiter = asyncio.ensure_future(self._wake.wait())
                stopper = asyncio.ensure_future(stop.wait())
                await asyncio.wait({waiter, stopper}, timeout=self.settings.flush_interval_s,
                                   return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                stopper.cancel()
                self._wake.clear()
                await self.flush()
            await self.flush()
        finally:
            self.stop()
