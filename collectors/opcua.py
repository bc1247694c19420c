"""OPC UA collection from a SCADA or DCS: subscribe to the meters' nodes, turn data changes into readings.

For each ``protocol: opcua`` gateway the collector opens one secure session (Basic256Sha256, by
default SignAndEncrypt, with the collector's certificate and key and only the configured server
certificate trusted), creates one subscription and monitors every node of every meter of that
gateway. The server pushes changes; the data-change handler checks each value (status code Good, a
number, not a boolean), scales and converts it to the stored unit, and files it under the meter and
the value's *source* timestamp (the instant the field device was read; the collector's clock only
when the server sends none). The collection service drains the filed values once per cycle
(:meth:`OpcUaCollector.drain`) into one journaled batch, the same path as the Modbus readings.

A reading is made for every counter value received; the meter's other quantities come from the
same source instant, else from the latest value received since the previous counter value, else
NaN. The newest instant of a meter waits for the next drain unless all its quantities are there
(a server may split one instant's values over two publish responses). Monitored items use the trigger *StatusValueTimestamp*, so a server that re-samples an unchanged
counter still sends it (an idle meter keeps producing readings). One reading per meter and minute is
not this module's business: the collection service applies that rule to every collector that is sent
its readings (:class:`collectors.minute.MinuteRule`).

When the server goes away (socket closed, keep-alive probe unanswered) every meter of the gateway
is marked down in its :class:`~collectors.polling.DeviceHealth` and the collector reconnects with
an exponential back-off; once connected again it reads what it missed from the server's history
(HistoryRead of raw values after each meter's last journaled reading). A rejected value (bad status, wrong type) is logged with the meter, the
quantity and the node, and counted in the meter's health.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from asyncua import Client, ua
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
from cryptography import x509

from collectors.polling import DeviceHealth
from workspace.batch import Reading
from workspace.clock import Clock
from workspace.errors import CollectorError
from workspace.site import Gateway, Meter
from workspace.units import factor

log = logging.getLogger(__name__)

POLICIES = {"Basic256Sha256": SecurityPolicyBasic256Sha256}
#: variant types accepted as a meter quantity (booleans, strings and the rest are rejected)
NUMERIC = {ua.VariantType.Double, ua.VariantType.Float, ua.VariantType.SByte, ua.VariantType.Byte,
           ua.VariantType.Int16, ua.VariantType.UInt16, ua.VariantType.Int32, ua.VariantType.UInt32,
           ua.VariantType.Int64, ua.VariantType.UInt64}


def application_uri(certificate: Path) -> str | None:
    """The application URI in a certificate's subject alternative names, if any (DER or PEM)."""
    data = Path(certificate).read_bytes()
    cert = x509.load_pem_x509_certificate(data) if data.lstrip().startswith(b"-----") \
        else x509.load_der_x509_certificate(data)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return None
    uris = san.value.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None


def make_certificate(key_file: Path, cert_file: Path, app_uri: str, *, server: bool = False,
                     host: str | None = None, days: int = 365) -> None:
    """Write a new RSA key (PEM) and a self-signed application certificate (DER) for it.

    The certificate carries ``app_uri`` and ``host`` in its subject alternative names and the key
    usages OPC UA asks for (OPC 10000-6 §6.2.2), for a client or (``server=True``) a server. Give the
    certificate to the other side to trust; keep the key readable by this side only (mode 0600).

    Parameters
    ----------
    key_file, cert_file : path
        Written (replaced if they exist): the key in PEM (mode 0600), the certificate in DER.
    app_uri : str
        Application URI, e.g. ``urn:plant18:tanjian:collector``.
    server : bool
        A server certificate (serverAuth) instead of a client one (clientAuth).
    host : str, optional
        Host name in the certificate (default: this host's name).
    days : int
        Validity [days].
    """
    from asyncua.crypto.cert_gen import (dump_private_key_as_pem, generate_private_key,
                                         generate_self_signed_app_certificate)
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import ExtendedKeyUsageOID

    key_file, cert_file = Path(key_file), Path(cert_file)
    key_file.parent.mkdir(parents=True, exist_ok=True)
    cert_file.parent.mkdir(parents=True, exist_ok=True)
    host = host or socket.gethostname()
    key = generate_private_key()
    use = [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
    cert = generate_self_signed_app_certificate(
        key, app_uri, {"organizationName": "tanjian"},
        [x509.UniformResourceIdentifier(app_uri), x509.DNSName(host)], extended=use, days=days)
    key_file.touch(mode=0o600)
    key_file.chmod(0o600)
    key_file.write_bytes(dump_private_key_as_pem(key))
    cert_file.write_bytes(cert.public_bytes(Encoding.DER))


@dataclass(frozen=True)
class _Item:
    meter: str
    quantity: str
    node_id: str
    multiplier: float  # scale x unit factor [-]


class _Handler:
    """asyncua's data-change callback for one gateway: checks values and files them."""

    def __init__(self, collector: "OpcUaCollector", items: dict[int, _Item]):
        self.collector = collector
        self.items = items  # client handle -> item

    def datachange_notification(self, node, val, data) -> None:
        item = self.items.get(data.monitored_item.ClientHandle)
        if item is None:
            return
        self.collector._receive(item, data.monitored_item.Value)

    def status_change_notification(self, status) -> None:
        log.info("OPC UA subscription status: %s", status)


class OpcUaCollector:
    """Subscriptions to the OPC UA gateways of a site; readings are drained once per cycle.

    Parameters
    ----------
    gateways : list of Gateway
        The ``protocol: opcua`` gateways (others are ignored).
    meters : list of Meter
        The site's meters; those on the OPC UA gateways are subscribed.
    clock : Clock
        Time stamps of values the server sends without a source timestamp.
    backoff_initial_s, backoff_max_s : float
        Wait after the first failed connection, doubled per failure up to the maximum [s, wall clock].
    base : path, optional
        Folder relative certificate, key and password paths are taken from (default: the working folder).

    Attributes
    ----------
    health : dict
        Meter id -> :class:`DeviceHealth`.
    connected : dict
        Gateway id -> whether its session and subscription are up.
    """

    def __init__(self, gateways: list[Gateway], meters: list[Meter], clock: Clock, *,
                 backoff_initial_s: float = 2.0, backoff_max_s: float = 300.0, base: Path | None = None):
        self.gateways = [g for g in gateways if g.protocol == "opcua"]
        ids = {g.id for g in self.gateways}
        self.meters = {m.id: m for m in meters if m.gateway in ids}
        self.clock = clock
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.base = Path(base) if base is not None else Path.cwd()
        self.health: dict[str, DeviceHealth] = {m: DeviceHealth(m) for m in self.meters}
        self.connected: dict[str, bool] = {g.id: False for g in self.gateways}
        self.rejected = 0
        self._filed: dict[str, dict[dt.datetime, dict[str, float]]] = {m: {} for m in self.meters}
        self._fresh: dict[str, dict[str, float]] = {m: {} for m in self.meters}
        self._last: dict[str, dict[str, tuple[dt.datetime, float]]] = {m: {} for m in self.meters}
        self._wanted = {m.id: set(m.opcua or ()) for m in self.meters.values()}  # quantities mapped
        self._emitted: dict[str, dt.datetime] = {}  # meter -> source time of its last reading drained
        self._catching_up: set[str] = set()  # gateways reading history: their meters wait
        self.caught_up = 0  # values read from the servers' history after reconnections
        self._stop = asyncio.Event()
        self._established: set[str] = set()  # gateways whose last session got as far as subscribing
        self._tasks: list[asyncio.Task] = []

    def __bool__(self) -> bool:
        return bool(self.gateways)

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Start one session task per gateway (idempotent; needs a running event loop)."""
        if self._tasks or not self.gateways:
            return
        self._stop.clear()
        for g in self.gateways:
            self._tasks.append(asyncio.create_task(self._keep_session(g), name=f"opcua-{g.id}"))

    async def close(self) -> None:
        """Stop every session and wait for the disconnects."""
        self._stop.set()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for g in self.gateways:
            self.connected[g.id] = False

    # -- values ----------------------------------------------------------------------------------
    def _receive(self, item: _Item, dv: ua.DataValue) -> None:
        h = self.health[item.meter]
        status = dv.StatusCode
        if status is not None and not status.is_good():
            self._reject(item, f"status {status.name}")
            return
        variant = dv.Value
        value = variant.Value if variant is not None else None
        vtype = variant.VariantType if variant is not None else None
        if vtype not in NUMERIC or isinstance(value, bool) or not isinstance(value, (int, float)):
            shown = vtype.name if vtype is not None else "no value"
            self._reject(item, f"a {shown} ({value!r}), not a number")
            return
        x = float(value) * item.multiplier
        if item.quantity == "counter" and not math.isfinite(x):
            self._reject(item, f"counter {x}")
            return
        when = dv.SourceTimestamp
        if when is None:
            when = self.clock.now()
        elif when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        self._filed[item.meter].setdefault(when, {})[item.quantity] = x
        last = self._last[item.meter].get(item.quantity)
        if last is None or when >= last[0]:
            self._last[item.meter][item.quantity] = (when, x)
        h.last_seen = time.time()

    def _reject(self, item: _Item, why: str) -> None:
        h = self.health[item.meter]
        h.errors += 1
        h.last_error = f"meter {item.meter}: {item.quantity} from node {item.node_id} rejected: {why}"
        self.rejected += 1
        log.warning("%s", h.last_error)

    def drain(self) -> list[Reading]:
        """The readings made from the values received since the last drain, in time order per meter.

        Every counter value makes a reading, however often the server sends them; the collection
        service's :class:`~collectors.minute.MinuteRule` then journals the first of each minute (what a
        poll at the minute would read) and counts the later ones as ``superseded`` in the meter's health.
        """
        out: list[Reading] = []
        nan = math.nan
        for mid, filed in self._filed.items():
            if not filed or self.meters[mid].gateway in self._catching_up:
                continue
            order = sorted(filed)
            newest = filed[order[-1]]
            if not self._wanted[mid] <= newest.keys():  # its other values may still be on their way
                self._filed[mid] = {order[-1]: newest}
                order = order[:-1]
            else:
                self._filed[mid] = {}
            done = self._emitted.get(mid)
            fresh = self._fresh[mid]
            h = self.health[mid]
            for when in order:
                group = filed[when]
                fresh.update({q: v for q, v in group.items() if q != "counter"})
                if "counter" not in group or (done is not None and when <= done):
                    continue  # no counter, or already drained (history overlapping the live values)
                self._emitted[mid] = done = when
                out.append(Reading(mid, when, group["counter"], fresh.get("rate", nan), fresh.get("voltage", nan),
                                   fresh.get("current", nan), fresh.get("power_factor", nan), 0))
                fresh.clear()
                h.reads += 1
        return out

    # -- sessions --------------------------------------------------------------------------------
    def _path(self, p: str) -> Path:
        q = Path(p)
        return q if q.is_absolute() else self.base / q

    def _items(self, g: Gateway) -> dict[int, _Item]:
        items: dict[int, _Item] = {}
        for m in self.meters.values():
            if m.gateway != g.id:
                continue
            for q, node in (m.opcua or {}).items():
                items[len(items) + 1] = _Item(m.id, q, node.node_id,
                                              node.scale * factor(m.medium.value, q, node.unit))
        return items

    async def _client(self, g: Gateway) -> Client:
        ep = g.opcua
        cert, key, server_cert = (self._path(ep.certificate), self._path(ep.private_key),
                                  self._path(ep.server_certificate))
        for what, p in (("certificate", cert), ("private_key", key), ("server_certificate", server_cert)):
            if not p.is_file():
                raise CollectorError(f"gateway {g.id}: opcua.{what} {p} does not exist")
        client = Client(ep.url, timeout=ep.timeout_s, watchdog_intervall=max(ep.timeout_s / 2, 0.5))
        uri = application_uri(cert)
        if uri:
            client.application_uri = uri  # servers check it against the certificate
        client.name = f"tanjian collector ({g.id})"
        if ep.username:
            client.set_user(ep.username)
            client.set_password(self._path(ep.password_file).read_text().strip())
        await client.set_security(POLICIES[ep.security_policy], certificate=str(cert), private_key=str(key),
                                  server_certificate=str(server_cert),
                                  mode=getattr(ua.MessageSecurityMode, ep.security_mode))
        return client

    async def _session(self, g: Gateway) -> None:
        """Connect, subscribe and stay until the connection is lost or the collector stops."""
        ep = g.opcua
        items = self._items(g)
        client = await self._client(g)
        lost = asyncio.Event()
        reason: list[Exception] = []

        async def on_lost(exc: Exception) -> None:
            reason.append(exc)
            lost.set()

        client.connection_lost_callback = on_lost
        try:
            await asyncio.wait_for(client.connect(), ep.timeout_s * 2)
        except (asyncio.TimeoutError, TimeoutError):
            raise CollectorError(f"gateway {g.id} ({ep.url}): no answer within {ep.timeout_s * 2:g} s") from None
        except AssertionError:  # asyncua's reading of a refusal it cannot parse (e.g. node-opcua's ServiceFault)
            raise CollectorError(f"gateway {g.id} ({ep.url}): the server refused to open a secure channel "
                                 f"({ep.security_policy} {ep.security_mode}): most often it does not trust the "
                                 f"collector's certificate (put it in the server's trusted list) or does not offer "
                                 f"this policy and mode") from None
        try:
            sub = await client.create_subscription(ep.publishing_interval_ms, _Handler(self, items))
            requests = []
            trigger = ua.DataChangeFilter(Trigger=ua.DataChangeTrigger.StatusValueTimestamp)
            for handle, it in items.items():
                rv = ua.ReadValueId(NodeId=ua.NodeId.from_string(it.node_id), AttributeId=ua.AttributeIds.Value)
                params = ua.MonitoringParameters(ClientHandle=handle, SamplingInterval=ep.sampling_interval_ms,
                                                 QueueSize=100, DiscardOldest=True, Filter=trigger)
                requests.append(ua.MonitoredItemCreateRequest(ItemToMonitor=rv,
                                                              MonitoringMode=ua.MonitoringMode.Reporting,
                                                              RequestedParameters=params))
            results = await sub.create_monitored_items(requests)
            for (handle, it), res in zip(items.items(), results):
                if isinstance(res, ua.StatusCode):
                    self._reject(it, f"the server refused to monitor it ({res.name})")
            self.connected[g.id] = True
            self._established.add(g.id)
            await self._catch_up(g, client, items)
            for m in self.meters.values():
                if m.gateway == g.id:
                    h = self.health[m.id]
                    if h.consecutive_failures:
                        log.info("meter %s answers again (gateway %s) after %d failures", m.id, g.id,
                                 h.consecutive_failures)
                    h.consecutive_failures = 0
                    h.backoff_s = 0.0
                    h.next_attempt = 0.0
            log.info("gateway %s: subscribed to %d nodes of %d meters at %s (%s %s, every %g ms)", g.id,
                     len(items), len({i.meter for i in items.values()}), ep.url, ep.security_policy,
                     ep.security_mode, ep.publishing_interval_ms)
            stop = asyncio.create_task(self._stop.wait())
            gone = asyncio.create_task(lost.wait())
            try:
                await asyncio.wait([stop, gone], return_when=asyncio.FIRST_COMPLETED)
            finally:
                stop.cancel()
                gone.cancel()
            if lost.is_set():
                why = reason[0] if reason else "connection lost"
                raise CollectorError(f"gateway {g.id} ({ep.url}): connection lost: {type(why).__name__}: {why}")
        finally:
            self.connected[g.id] = False
            try:
                await asyncio.wait_for(client.disconnect(), ep.timeout_s)
            except Exception as exc:  # noqa: BLE001 - the server may already be gone
                log.debug("gateway %s: disconnect: %s", g.id, exc)

    async def _catch_up(self, g: Gateway, client: Client, items: dict[int, _Item]) -> None:
        """After a reconnection, read from the server's history what was missed (HistoryRead, raw).

        Values after each meter's last journaled reading are filed like live ones (same checks); the
        gateway's meters are not drained meanwhile, so readings stay in time order. A server without
        history for a node says so (logged per node), and the gap stays.
        """
        since = {it.meter: self._emitted.get(it.meter) for it in items.values()}
        if not any(since.values()):
            return  # first session: nothing journaled yet
        self._catching_up.add(g.id)
        before = {m: dict(self._last[m]) for m in since}  # the values in force when the link went down
        try:
            n = 0
            for it in items.values():
                start = since[it.meter]
                if start is None:
                    continue
                try:
                    values = await client.get_node(it.node_id).read_raw_history(
                        start + dt.timedelta(milliseconds=1), None, 0, return_bounds=False)
                except Exception as exc:  # noqa: BLE001 - no history on that node: the gap stays
                    log.warning("gateway %s: no history of node %s (meter %s %s) since %s: %s", g.id,
                                it.node_id, it.meter, it.quantity, start.isoformat(), exc)
                    continue
                for dv in values:
                    self._receive(it, dv)
                n += len(values)
            self._fill_unchanged(since, before)
            self.caught_up += n
            log.info("gateway %s: read %d values missed while disconnected from the server's history", g.id, n)
        finally:
            self._catching_up.discard(g.id)

    def _fill_unchanged(self, since: dict, before: dict) -> None:
        """Historians store a value when it changes: an instant of the history without a meter's rate
        (voltage, …) had the rate last stored before it. Fill those from the history itself, starting
        from the values in force when the link went down."""
        for mid, start in since.items():
            if start is None:
                continue
            running = {q: v for q, (_, v) in before[mid].items() if q != "counter"}
            for when in sorted(self._filed[mid]):
                group = self._filed[mid][when]
                if when <= start:
                    continue
                running.update({q: v for q, v in group.items() if q != "counter"})
                if "counter" in group:
                    for q, v in running.items():
                        group.setdefault(q, v)

    async def _keep_session(self, g: Gateway) -> None:
        failures = 0
        while not self._stop.is_set():
            self._established.discard(g.id)
            try:
                await self._session(g)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure: mark down, back off, try again
                failures = 1 if g.id in self._established else failures + 1  # a lost session starts over
                msg = str(exc) if isinstance(exc, CollectorError) else \
                    f"gateway {g.id} ({g.opcua.url}): {type(exc).__name__}: {exc}"
                wait = min(self.backoff_max_s, self.backoff_initial_s * 2 ** (failures - 1))
                for m in self.meters.values():
                    if m.gateway == g.id:
                        h = self.health[m.id]
                        h.errors += 1
                        h.consecutive_failures += 1
                        h.last_error = msg
                        h.backoff_s = wait
                        h.next_attempt = time.time() + wait
                level = logging.WARNING if failures in (1, 5) or failures % 50 == 0 else logging.DEBUG
                log.log(level, "%s (failure %d; next try in %g s)", msg, failures, wait)
                try:
                    await asyncio.wait_for(self._stop.wait(), wait)
                except (asyncio.TimeoutError, TimeoutError):
                    pass
