"""The demo's simulated peers for every protocol but Modbus TCP (which :class:`PlantSimulator` serves).

For a configuration such as ``workspace/examples/protocols.yaml``, :class:`ProtocolPeers` starts, on
loopback and with the demo's port offset:

- ``modbus_rtu_over_tcp`` gateways: a simulated RS-485 bus behind a transparent serial server
  (:class:`tanjian.simulator.rtu.RtuBusSimulator`);
- ``dlt645_tcp`` gateways: simulated DL/T 645-2007 and -1997 meters behind a serial server
  (:class:`tanjian.simulator.dlt645.Dlt645BusSimulator`);
- ``mqtt`` gateways: Debian's mosquitto with TLS (client certificates), passwords and an ACL
  (:class:`tanjian.simulator.broker.Mosquitto`), and a clamp-meter publisher
  (:class:`tanjian.simulator.mqtt.ClampPublisher`) that signs each payload with the meter's key when the
  demo knows it (the publicly known test keys 0x11..11, 0x22..22, ...);
- ``opcua`` gateways: the simulated SCADA (:class:`tanjian.simulator.opcua.OpcUaPlantServer`,
  Basic256Sha256 SignAndEncrypt).

Certificates and passwords. The peers' own secrets (broker CA and server key, publisher passwords, the
SCADA's key) are made afresh at every start under ``<data_dir>/run/peers/``. The collector's side of them
is what the configuration names (MQTT ``password_file`` and ``tls`` files; OPC UA ``certificate``,
``private_key``, ``server_certificate``): the demo writes those files at every start too, but only where
no file is yet or where it made the file before (its folder holds :data:`MARKER`): it never overwrites a
plant's own certificates. Serial gateways (``modbus_rtu``, ``dlt645_serial``) need a device the demo
cannot make; they are reported and left to the collector's back-off.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import subprocess
import urllib.parse
from pathlib import Path

from workspace.errors import TanjianError

log = logging.getLogger(__name__)

#: written into every folder the demo puts collector-side certificates or passwords in
MARKER = "MADE-BY-TANJIAN-DEMO.txt"
MARKER_TEXT = ("The files in this folder were written by `tanjian demo` for its simulated broker and SCADA and\n"
               "are rewritten at each demo start. They are no plant's secrets: do not use them elsewhere.\n")
#: the publicly known test keys the simulated clamp meters sign with, when a meter's device_key is theirs
TEST_KEYS = tuple("0x" + f"{i:02x}" * 32 for i in (0x11, 0x22, 0x33, 0x44))
#: protocols whose peer this module simulates
SIMULATED = ("modbus_rtu_over_tcp", "dlt645_tcp", "mqtt", "opcua")


def _claim(path: Path) -> Path:
    """``path``, after checking the demo may write it (creating its folder and the folder's marker)."""
    folder = path.parent
    if path.exists() and not (folder / MARKER).exists():
        raise TanjianError(f"{path} exists and was not written by the demo (no {folder / MARKER}): the demo's "
                           f"simulated peers need their own certificates there; move the file or use another "
                           f"configuration")
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / MARKER).exists():
        (folder / MARKER).write_text(MARKER_TEXT)
    return path


def _write_secret(path: Path, data: bytes) -> None:
    _claim(path).write_bytes(data)
    path.chmod(0o600)


def shifted_url(url: str, port_offset: int) -> str:
    """An ``opc.tcp://`` URL with its port (default 4840) moved by ``port_offset``."""
    if not port_offset:
        return url
    u = urllib.parse.urlsplit(url)
    return u._replace(netloc=f"{u.hostname}:{(u.port or 4840) + port_offset}").geturl()


class ProtocolPeers:
    """The simulated peers a site's non-Modbus-TCP gateways need, started and stopped together.

    Parameters
    ----------
    cfg : workspace.config.Config
    clock : workspace.clock.Clock
    plant : tanjian.simulator.PlantSimulator
        Its load model and faults are shared, so a meter reads the same on every protocol.
    port_offset : int
        Added to every gateway's port, as for the collector.

    Attributes
    ----------
    site : workspace.site.Site
        The site the collector must use: OPC UA endpoint URLs moved by the port offset (the other
        protocols take the offset from the collector itself).
    """

    def __init__(self, cfg, clock, plant, port_offset: int = 0):
        self.cfg, self.clock, self.plant, self.port_offset = cfg, clock, plant, port_offset
        site = cfg.site
        self.gateways = [g for g in site.gateways if g.protocol in SIMULATED]
        gws = [g.model_copy(update={"opcua": g.opcua.model_copy(update={
            "url": shifted_url(g.opcua.url, port_offset)})}) if g.opcua is not None else g for g in site.gateways]
        self.site = site.model_copy(update={"gateways": gws})
        self.folder = cfg.paths.run / "peers"
        self._buses: list = []
        self._brokers: list = []
        self._publishers: list = []
        self._tasks: list[asyncio.Task] = []
        self.where: list[tuple[str, str]] = []  # (what, where) for the demo's banner

    # -- start -----------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start every peer; raises :class:`TanjianError` (after stopping what started) if one cannot."""
        if any(g.protocol == "opcua" for g in self.gateways):
            # asyncua logs every publish at INFO: the demo's log keeps its warnings and errors only
            logging.getLogger("asyncua").setLevel(logging.WARNING)
        if self.gateways:  # the Modbus TCP gateways PlantSimulator serves, in the same banner
            self.where += [(f"{g.id} (Modbus TCP)", f"{g.host}:{g.port + self.port_offset}")
                           for g in self.plant.tcp_gateways]
        try:
            for g in self.cfg.site.gateways:
                if g.protocol in ("modbus_rtu", "dlt645_serial"):
                    log.warning("gateway %s (%s on %s): the demo simulates no serial port: it stays "
                                "unreachable", g.id, g.protocol, g.device)
            for g in self.gateways:
                if g.protocol == "modbus_rtu_over_tcp":
                    from tanjian.simulator.rtu import RtuBusSimulator

                    bus = RtuBusSimulator(self.plant, g.id, port_offset=self.port_offset)
                    await bus.start()
                    self._buses.append(bus)
                    self.where.append((f"{g.id} (Modbus RTU/TCP)", f"{g.host}:{g.port + self.port_offset}"))
                elif g.protocol == "dlt645_tcp":
                    from tanjian.simulator.dlt645 import Dlt645BusSimulator

                    bus = Dlt645BusSimulator(self.plant, g.id, port_offset=self.port_offset)
                    await bus.start()
                    self._buses.append(bus)
                    self.where.append((f"{g.id} (DL/T 645)", f"{g.host}:{g.port + self.port_offset}"))
                elif g.protocol == "mqtt":
                    await self._start_mqtt(g)
                elif g.protocol == "opcua":
                    await self._start_opcua(g)
        except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
            await self.stop()
            raise TanjianError(f"the demo's simulated peer of gateway {g.id} ({g.protocol}) did not start: "
                               f"{exc}") from exc
        except BaseException:
            await self.stop()
            raise

    async def _start_mqtt(self, g) -> None:
        from tanjian.simulator.broker import BrokerUser, Mosquitto
        from tanjian.simulator.mqtt import ClampPublisher

        m = g.mqtt
        if m.tls is None or m.tls.cert_file is None or not m.username or not m.password_file:
            raise TanjianError(f"gateway {g.id}: the demo's broker requires TLS with a client certificate and a "
                               f"password; give the gateway mqtt.username, mqtt.password_file and mqtt.tls with "
                               f"ca_file, cert_file and key_file")
        meters = [x for x in self.cfg.site.meters if x.gateway == g.id and x.mqtt is not None]
        topics = tuple(sorted({x.mqtt.topic for x in meters}))
        collector = m.username
        publisher = f"sim-{g.id}".lower()
        pub_pw = secrets.token_urlsafe(18)
        col_pw = secrets.token_urlsafe(18)
        users = [BrokerUser(collector, col_pw, read=topics), BrokerUser(publisher, pub_pw, write=topics)]
        folder = self.folder / f"mosquitto-{g.id}"
        broker = await asyncio.to_thread(Mosquitto, folder, users, g.port + self.port_offset)
        # the collector's side, where the configuration looks for it
        _write_secret(Path(m.password_file), (col_pw + "\n").encode())
        shutil.copyfile(broker.certs["ca"][0], _claim(Path(m.tls.ca_file)))
        shutil.copyfile(broker.certs[collector][0], _claim(Path(m.tls.cert_file)))
        _write_secret(Path(m.tls.key_file), broker.certs[collector][1].read_bytes())
        await asyncio.to_thread(broker.start)
        self._brokers.append(broker)
        # the clamp meters: signed with a known test key when the meter's device_key is one of theirs
        from eth_account import Account

        known = {a.address.lower(): a for a in (Account.from_key(k) for k in TEST_KEYS)}
        keys = {}
        for x in meters:
            if x.mqtt.device_key and x.mqtt.device_key.lower() in known:
                keys[x.id] = known[x.mqtt.device_key.lower()]
            elif m.require_signature:
                log.warning("meter %s: the demo does not hold the private key of device_key %s; its simulated "
                            "payloads go unsigned and the collector will refuse them", x.id, x.mqtt.device_key)
        tls = broker.tls(publisher)
        pub = ClampPublisher(self.cfg.site, g.id, self.plant.model, host=g.host, port=g.port + self.port_offset,
                             client_id=f"sim-{g.id}", username=publisher, password=pub_pw, keys=keys, **tls)
        await asyncio.to_thread(pub.connect)
        self._publishers.append(pub)
        period = min(x.period_s for x in meters) if meters else 60.0
        self._tasks.append(asyncio.create_task(self._publish(pub, period), name=f"clamps-{g.id}"))
        self.where.append((f"{g.id} (MQTT broker)", f"mqtts://{g.host}:{g.port + self.port_offset}"))

    async def _publish(self, pub, period_s: float) -> None:
        """Publish every meter's reading now, then at each period boundary of the clock."""
        while True:
            now = self.clock.now()
            try:
                pub.publish_at(now.replace(microsecond=now.microsecond // 1000 * 1000))
            except Exception:  # noqa: BLE001 - keep publishing; the log says what broke
                log.exception("simulated clamp meters: publishing failed")
            epoch = self.clock.now().timestamp()
            await asyncio.sleep(self.clock.sleep_seconds((epoch // period_s + 1) * period_s - epoch))

    async def _start_opcua(self, g) -> None:
        from collectors.opcua import make_certificate
        from tanjian.simulator.opcua import SERVER_URI, OpcUaPlantServer

        e = g.opcua
        pki = self.folder / f"opcua-{g.id}"
        trusted = pki / "trusted"
        if trusted.exists():
            shutil.rmtree(trusted)
        trusted.mkdir(parents=True)
        await asyncio.to_thread(make_certificate, pki / "scada.key.pem", pki / "scada.der", SERVER_URI,
                                server=True, days=30)  # this host's name, as asyncua checks
        cert, key, server_cert = Path(e.certificate), Path(e.private_key), Path(e.server_certificate)
        for f in (cert, key, server_cert):
            _claim(f)
        uri = f"urn:tanjian:demo:{self.cfg.site.plant.id}:collector"
        await asyncio.to_thread(make_certificate, key, cert, uri, days=30)
        shutil.copyfile(pki / "scada.der", server_cert)
        shutil.copyfile(cert, trusted / "collector.der")
        url = shifted_url(e.url, self.port_offset)
        server = OpcUaPlantServer(self.cfg.site, g.id, self.clock, pki / "scada.der", pki / "scada.key.pem", trusted,
                                  seed=self.cfg.simulation.seed, url=url, model=self.plant.model)
        await server.start()
        self._buses.append(server)
        self.where.append((f"{g.id} (OPC UA SCADA)", url))

    # -- stop ------------------------------------------------------------------------------------
    async def stop(self) -> None:
        """Stop the publishers, the simulated buses and SCADA, then the brokers."""
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for p in self._publishers:
            try:
                await asyncio.to_thread(p.close)
            except Exception:  # noqa: BLE001 - stopping: report and go on
                log.exception("closing the clamp publisher")
        self._publishers.clear()
        for b in reversed(self._buses):
            try:
                await b.stop()
            except Exception:  # noqa: BLE001
                log.exception("stopping a simulated peer")
        self._buses.clear()
        for b in self._brokers:
            await asyncio.to_thread(b.stop)
        self._brokers.clear()


__all__ = ["MARKER", "ProtocolPeers", "shifted_url"]
