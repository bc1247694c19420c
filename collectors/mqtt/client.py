"""The MQTT collector: readings pushed by IoT gateways and wireless clamp meters through a broker.

One :class:`MqttCollector` per ``protocol: mqtt`` gateway holds a persistent session with the broker
(MQTT 5 ``clean_start`` false with a session expiry, or 3.1.1 ``clean_session`` false), subscribes
to every meter's topic filter at QoS 1, maps each message onto a :class:`~workspace.batch.Reading`
(:func:`collectors.mqtt.payload.map_payload`) and journals what arrived as one batch per flush
interval. The broker gets its acknowledgement (PUBACK, sent with paho's ``manual_ack``) only after the
batch is fsync'd in the journal, so a crash never loses a message the broker considers delivered: what was not
acknowledged is delivered again when the collector reconnects. Several readings of one meter in one
minute (a device publishing every 10 s) are all acknowledged, but only the minute's first is journaled:
the service's :class:`~collectors.minute.MinuteRule` counts the others ``superseded``; the same rule
keeps a message redelivered after a crash between the fsync and the PUBACK out of the journal.

A device that publishes at QoS 0 (Tasmota, Shelly Gen1 by default) gets no such guarantee: the broker
keeps nothing for the collector's session while it is away unless it queues QoS 0 messages
(``queue_qos0_messages``; docs/collectors.md, "QoS 0"). Meters fed by several topics, or by messages
carrying some of the fields, are combined into one reading a minute (:mod:`collectors.mqtt.combine`); a
message is acknowledged once the reading it contributed to is journaled.

Rejected messages
-----------------
A message that cannot be mapped (:mod:`collectors.mqtt.payload`) or whose signature is refused
(:mod:`collectors.mqtt.signed`) is refused with a reason naming the topic and the field, logged,
counted in the meter's health, and kept verbatim in
``<data_dir>/quarantine/mqtt-<gateway>.jsonl`` (fsync'd before the broker is acknowledged): nothing
is lost, and nothing a device sends can stop the collector.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workspace.batch import Reading
from workspace.clock import Clock
from workspace.errors import CollectorError, JournalError
from workspace.site import Gateway, Meter

from ..polling import DeviceHealth
from .combine import MinuteCombiner, Outcome
from .payload import Fragment, PayloadError
from .signed import DeviceKeyCache, decode_message

log = logging.getLogger(__name__)


# -- the collector -----------------------------------------------------------------------------------
@dataclass
class _Received:
    mid: int
    qos: int
    generation: int  # connection the message came on: a PUBACK only makes sense on that one
    reading: Reading | None
    rejected: dict | None = None
    also: list = field(default_factory=list)  # (mid, qos, generation) of the other messages combined in it


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
    timezone : str or None
        IANA zone of offset-less ISO 8601 times (Tasmota's ``Time``) when a mapping names none: the
        site's (None: such times are refused).

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
                 quarantine: Path | None = None, registry: Any = None, port_offset: int = 0,
                 timezone: str | None = None):
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
        self.timezone = timezone
        #: meters fed by several topics or partial messages: their fragments, combined per minute
        self.combiners = {m.id: MinuteCombiner(m.id, {q for s in m.mqtt.sources() for q in s.fields()},
                                               m.mqtt.combine_wait_s)
                          for m in self.meters if m.mqtt.combined}

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
                for c in self.combiners.values():
                    dropped += len(c.reset())
                if dropped:
                    log.info("gateway %s: %d unacknowledged messages will be delivered again by the broker",
                             self.gateway.id, dropped)
        gh.consecutive_failures = 0
        gh.last_seen = time.time()
        client.subscribe([(t, self.settings.qos) for t in dict.fromkeys(t for m in self.meters
                                                                         for t in m.mqtt.topics)])
        self.connected.set()
        log.info("gateway %s: connected to %s:%d as %s (session %s), %d topic filters", self.gateway.id,
                 self.gateway.host, self.port, self.settings.client_id,
                 "resumed" if flags.session_present else "new", sum(len(m.mqtt.topics) for m in self.meters))

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        was_connected = self.connected.is_set()
        self.connected.clear()
        if reason_code.is_failure and was_connected:  # a refused CONNECT was recorded by _on_connect
            gh = self.health[self.gateway.id]
            gh.errors += 1
            gh.consecutive_failures += 1  # failing until connected again: `tanjian status` shows the broker down
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

        found = next((m for m in self.meters if any(topic_matches_sub(t, topic) for t in m.mqtt.topics)),
                     None)
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
                                     require_signature=self.settings.require_signature, zone=self.timezone)
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
            if isinstance(reading, Fragment):  # a part of a minute: journaled when the minute closes
                self._combine(meter.id, lambda c: c.add(reading, (msg.mid, msg.qos, self._generation)))
            else:
                self._received.append(_Received(msg.mid, msg.qos, self._generation, reading, rejected))
            n = len(self._received)
        if n >= self.settings.max_batch and self._loop is not None and self._wake is not None:
            try:
                self._loop.call_soon_threadsafe(self._wake.set)
            except RuntimeError:  # the loop closed while stopping: the final flush has run or will not
                pass

    def _combine(self, meter_id: str, step: Callable[[MinuteCombiner], list[Outcome]]) -> None:
        """Apply ``step`` to a meter's combiner, queue the minutes it closes and count in the meter's
        health the fragments it superseded; under the lock."""
        c = self.combiners[meter_id]
        superseded, incomplete = c.superseded, c.incomplete
        self._take(step(c))
        self.health[meter_id].superseded += c.superseded - superseded
        if c.incomplete > incomplete:
            log.warning("gateway %s: meter %s: %d minute(s) closed without a counter: no reading",
                        self.gateway.id, meter_id, c.incomplete - incomplete)

    def _take(self, outcomes: list[Outcome]) -> None:
        """Queue closed minutes (their readings, and every message they account for); under the lock."""
        for o in outcomes:
            (mid, qos, gen), *rest = o.refs
            self._received.append(_Received(mid, qos, gen, o.reading, also=rest))

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
            if self.combiners:
                now = self.clock.now()
                for mid in self.combiners:
                    self._combine(mid, lambda c: c.due(now))
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
        acks = [(r.mid, r.qos, r.generation) for r in taken] + [a for r in taken for a in r.also]
        for mid, qos, generation in acks:
            if qos > 0 and generation == gen and client is not None:
                client.ack(mid, qos)
        self.acknowledged += len(acks)
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
