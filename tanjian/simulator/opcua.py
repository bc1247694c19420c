"""An OPC UA server standing in for a plant's SCADA: the load model's meters as nodes, secured.

One :class:`OpcUaPlantServer` serves the meters of one ``protocol: opcua`` gateway at the gateway's
endpoint URL, with one object per meter under ``Objects/Plant`` and one Double variable per quantity
the meter's ``opcua`` mapping names, at exactly that NodeId (its namespace index must be 2, the
first one the server registers). Values are published in the unit the mapping names (the inverse
of the collector's conversion), computed from :class:`~tanjian.simulator.model.LoadModel` for
the simulated instant of each update, which is also the value's source timestamp (whole
milliseconds, as the journal stores them). Each meter also has a ``<meter>.Status`` String node
("RUN"): map a quantity to it to see the collector reject a value of the wrong type.

Only Basic256Sha256 with SignAndEncrypt is offered, and a client is accepted only if its
certificate is in the trust folder (:class:`asyncua.crypto.validator.CertificateValidator` with
``TRUSTED_VALIDATION``).

Every quantity node is historized (the last ``history`` values, in memory), so a collector that lost
its connection can read what it missed (HistoryRead, raw values).

Faults: :meth:`OpcUaPlantServer.fail` makes a quantity's values Bad (``BadSensorFailure``, no
value), :meth:`OpcUaPlantServer.heal` makes them Good again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import logging
from pathlib import Path

import numpy as np
from asyncua import Server, ua
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.crypto.truststore import TrustStore
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from asyncua.server.user_managers import UserManager

from workspace.clock import Clock
from workspace.site import Medium, Site
from workspace.units import factor

from .model import LoadModel

log = logging.getLogger(__name__)

NAMESPACE = "urn:tanjian:simulator:plant"
SERVER_URI = "urn:tanjian:simulator:opcua"


class _Users(UserManager):
    """Only the configured user names, with their passwords."""

    def __init__(self, users: dict[str, str]):
        self.users = users

    def get_user(self, iserver, username=None, password=None, certificate=None):
        expected = self.users.get(username or "")
        if expected is None or password is None or not hmac.compare_digest(expected, password):
            log.warning("OPC UA simulator: user %r refused", username)
            return None
        return User(role=UserRole.User)


class OpcUaPlantServer:
    """The meters of one OPC UA gateway, served by asyncua and updated on a clock.

    Parameters
    ----------
    site : Site
    gateway : str
        Id of the ``protocol: opcua`` gateway whose meters and endpoint are served.
    clock : Clock
        Source of the simulated time.
    certificate, private_key : path
        The server's certificate (DER) and key (PEM); see :func:`collectors.opcua.make_certificate`.
    trusted : path
        Folder of the client certificates (DER or PEM) the server accepts.
    seed : int
        Seed of the load model.
    update_s : float
        Wall-clock time between two updates of every node [s].
    url : str, optional
        Endpoint URL to listen on (default: the gateway's).
    model : LoadModel, optional
        A model already built for the site (it caches days of rates).
    users : dict, optional
        User name -> password: when given, only those users may open a session (no anonymous ones).
    history : int
        Values kept per node for HistoryRead (a historian's memory; 0: none).
    """

    def __init__(self, site: Site, gateway: str, clock: Clock, certificate: Path, private_key: Path,
                 trusted: Path, *, seed: int = 18, update_s: float = 1.0, url: str | None = None,
                 model: LoadModel | None = None, users: dict[str, str] | None = None, history: int = 10_000):
        g = next(g for g in site.gateways if g.id == gateway)
        if g.protocol != "opcua":
            raise ValueError(f"gateway {gateway!r} is {g.protocol}, not opcua")
        self.site = site
        self.gateway = g
        self.clock = clock
        self.certificate = Path(certificate)
        self.private_key = Path(private_key)
        self.trusted = Path(trusted)
        self.update_s = update_s
        self.url = url or g.opcua.url
        self.model = model or LoadModel(site, seed)
        self.meters = [m for m in site.meters if m.gateway == gateway]
        self._index = {m: i for i, m in enumerate(self.model.meter_ids)}
        self._failed: set[tuple[str, str]] = set()
        self.users = dict(users) if users else None
        self.history = history
        self._status_nodes: set[ua.NodeId] = set()
        self._server: Server | None = None
        self._task: asyncio.Task | None = None
        self.updates = 0
        self.instants: list[dt.datetime] = []  # source time of every update, in order
        self.last_update: dt.datetime | None = None

    # -- faults ----------------------------------------------------------------------------------
    def fail(self, meter: str, quantity: str = "counter") -> None:
        """From the next update on, the quantity's value is Bad (``BadSensorFailure``)."""
        self._failed.add((meter, quantity))

    def heal(self, meter: str, quantity: str = "counter") -> None:
        self._failed.discard((meter, quantity))

    # -- values ----------------------------------------------------------------------------------
    def values(self, t: dt.datetime) -> dict[str, dict[str, float]]:
        """Each meter's quantities at ``t`` in the stored units [kWh|m3, kW|m3/h, V, A, -]."""
        counters, rates = self.model.at(t)
        out = {}
        for m in self.meters:
            i = self._index[m.id]
            v = {"counter": float(counters[i]), "rate": float(rates[i])}
            if m.medium == Medium.electricity:
                volts, amps, pf = self.model.electrical(np.array([rates[i]]), t.minute)
                v.update(voltage=float(volts[0]), current=float(amps[0]), power_factor=float(pf[0]))
            out[m.id] = v
        return out

    async def _update(self) -> None:
        now = self.clock.now()
        t = now.replace(microsecond=now.microsecond // 1000 * 1000)
        values = await asyncio.to_thread(self.values, t)
        server_time = dt.datetime.now(dt.timezone.utc)
        for m in self.meters:
            for q, node in (m.opcua or {}).items():
                nid = ua.NodeId.from_string(node.node_id)
                if nid in self._status_nodes:
                    continue  # a quantity mapped to the Status string: it stays "RUN"
                if (m.id, q) in self._failed:
                    dv = ua.DataValue(ua.Variant(None, ua.VariantType.Null),
                                      StatusCode=ua.StatusCode(ua.StatusCodes.BadSensorFailure),
                                      SourceTimestamp=t, ServerTimestamp=server_time)
                elif q in values[m.id]:
                    published = values[m.id][q] / (node.scale * factor(m.medium.value, q, node.unit))
                    dv = ua.DataValue(ua.Variant(published, ua.VariantType.Double), SourceTimestamp=t,
                                      ServerTimestamp=server_time)
                else:
                    continue
                await self._server.write_attribute_value(nid, dv)
        self.updates += 1
        self.last_update = t
        self.instants.append(t)

    async def _run(self) -> None:
        while True:
            try:
                await self._update()
            except Exception:  # noqa: BLE001 - keep serving; the log says what broke
                log.exception("OPC UA simulator %s: update failed", self.gateway.id)
            await asyncio.sleep(self.update_s)

    # -- serving ---------------------------------------------------------------------------------
    async def start(self) -> None:
        """Build the address space, listen, publish the first values and keep them updated."""
        await asyncio.to_thread(self.model.at, self.clock.now())  # integrate the counters up to now
        server = Server(user_manager=_Users(self.users) if self.users else None)
        await server.init()
        if self.users:
            server.set_identity_tokens([ua.UserNameIdentityToken])
        server.set_endpoint(self.url)
        server.set_server_name(f"tanjian simulated SCADA ({self.gateway.id})")
        await server.set_application_uri(SERVER_URI)
        server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
        await server.load_certificate(str(self.certificate))
        await server.load_private_key(str(self.private_key))
        store = TrustStore([self.trusted], [])
        await store.load()
        server.set_certificate_validator(CertificateValidator(
            CertificateValidatorOptions.TRUSTED_VALIDATION | CertificateValidatorOptions.PEER_CLIENT, store))
        idx = await server.register_namespace(NAMESPACE)
        historized = []
        plant = await server.nodes.objects.add_folder(ua.NodeId(f"{self.site.plant.id}", idx), "Plant")
        for m in self.meters:
            obj = await plant.add_object(ua.NodeId(f"{m.id}", idx), m.id)
            status = ua.NodeId(f"{m.id}.Status", idx)
            self._status_nodes.add(status)
            for q, node in (m.opcua or {}).items():
                nid = ua.NodeId.from_string(node.node_id)
                if nid == status:
                    continue
                if nid.NamespaceIndex != idx:
                    raise ValueError(f"meter {m.id}: node {node.node_id} is not in namespace {idx} "
                                     f"({NAMESPACE}), the only one the simulator serves")
                historized.append(await obj.add_variable(nid, q, 0.0, ua.VariantType.Double))
            await obj.add_variable(status, "Status", "RUN", ua.VariantType.String)
        self._server = server
        await server.start()
        await self._update()  # before the history starts: the nodes' placeholder 0.0 is no measurement
        if self.history:  # kept in memory, by count (the clock may be simulated): a SCADA's historian
            await server.historize_node_data_change(historized, period=None, count=self.history)
        self._task = asyncio.create_task(self._run(), name=f"opcua-sim-{self.gateway.id}")
        log.info("simulated SCADA %s serving %d meters at %s (Basic256Sha256 SignAndEncrypt)", self.gateway.id,
                 len(self.meters), self.url)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._server is not None:
            await self._server.stop()
            self._server = None

    async def __aenter__(self) -> "OpcUaPlantServer":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()
