"""The OPC UA collector against a second implementation: node-opcua's server (npm ``node-opcua-server``, run
by tests/collectors/opcua_node_server.mjs), not asyncua. Security as in production: Basic256Sha256,
SignAndEncrypt only, certificates made by our :func:`collectors.opcua.make_certificate` (what ``tanjian opcua
cert`` writes), the collector's trusted in the server's own PKI and the server's the only one the collector
trusts. The readings journaled must be, value for value and instant for instant, what the Node server
published."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from collectors.opcua import make_certificate
from collectors.service import CollectionService
from tanjian.simulator import PlantSimulator
from tests.collectors.test_opcua import EXAMPLE, OPC_METERS, START, _wait
from tests.conftest import free_port
from workspace.batch import decode_batch
from workspace.clock import Clock
from workspace.config import load_config
from workspace.journal import Journal

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("opcua_node_server.mjs")
NODE_URI = "urn:tanjian:test:node-opcua"
UPDATES = 8  # instants the Node server publishes, one a second (a simulated minute apart)

pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None, reason="node (Node.js) is not installed"),
    pytest.mark.skipif(not (ROOT / "node_modules" / "node-opcua-server").is_dir(),
                       reason="node_modules/node-opcua-server missing: run `make test` (npm ci)"),
]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """The collector's and the Node server's keys and certificates, and a stranger's nobody trusts."""
    d = tmp_path_factory.mktemp("pki-interop")
    make_certificate(d / "collector.key.pem", d / "collector.der", "urn:tanjian:test:collector")
    make_certificate(d / "stranger.key.pem", d / "stranger.der", "urn:tanjian:test:stranger")
    make_certificate(d / "node-server.key.pem", d / "node-server.der", NODE_URI, server=True, host="127.0.0.1")
    cert = x509.load_der_x509_certificate((d / "node-server.der").read_bytes())
    (d / "node-server.pem").write_bytes(cert.public_bytes(Encoding.PEM))  # node-opcua reads PEM
    return d


def _config(tmp_path: Path, pki: Path, port: int, client: str = "collector"):
    """The shipped OPC UA example pointed at the Node server, with the test's certificates."""
    mb_port = free_port()
    text = EXAMPLE.read_text().replace("opc.tcp://127.0.0.1:4840/tanjian/", f"opc.tcp://127.0.0.1:{port}/interop") \
        .replace("port: 5021", f"port: {mb_port}")
    (tmp_path / "pki").mkdir()
    shutil.copy(pki / f"{client}.der", tmp_path / "pki" / "collector.der")
    shutil.copy(pki / f"{client}.key.pem", tmp_path / "pki" / "collector.key.pem")
    shutil.copy(pki / "node-server.der", tmp_path / "pki" / "scada.der")
    p = tmp_path / "tanjian.yaml"
    p.write_text(text)
    return load_config(p, data_dir=tmp_path / "var")


class NodeServer:
    """The Node.js OPC UA server as a process; ``published`` is what it printed it published."""

    def __init__(self, tmp_path: Path, pki: Path, port: int):
        self.dir = tmp_path / "node-pki-root"
        self.dir.mkdir()
        for f in ("node-server.pem", "node-server.key.pem", "collector.der"):
            shutil.copy(pki / f, self.dir / f)
        self.args = ["node", str(SCRIPT), str(port), str(self.dir), START.isoformat().replace("+00:00", "Z"),
                     str(UPDATES)]
        self.published: dict[dt.datetime, dict[str, float]] = {}

    async def __aenter__(self):
        self.proc = await asyncio.create_subprocess_exec(*self.args, stdout=subprocess.PIPE,
                                                         stderr=subprocess.DEVNULL)
        self.namespace = None
        while self.namespace is None:
            line = await asyncio.wait_for(self.proc.stdout.readline(), 60)
            assert line, "the Node OPC UA server ended before listening"
            self._take(line)
        self._reader = asyncio.create_task(self._read())
        return self

    def _take(self, line: bytes) -> None:
        if not line.startswith(b"{"):
            return
        doc = json.loads(line)
        if "listening" in doc:
            self.namespace = doc["namespace"]
        else:
            self.published[dt.datetime.fromisoformat(doc["time"].replace("Z", "+00:00"))] = doc["values"]

    async def _read(self):
        while line := await self.proc.stdout.readline():
            self._take(line)

    async def __aexit__(self, *exc):
        self.proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(self.proc.wait(), 30)
        await self._reader


def _expected(values: dict[str, float], meter: str) -> tuple[float, ...]:
    """(counter, rate, voltage, current, power factor) in stored units from the published node values."""
    v = {k.split(";s=")[1]: x for k, x in values.items()}
    nan = float("nan")
    if meter == "M-MAIN":  # kWh, kW, V, A, -
        return (v["M-MAIN.ActiveEnergy"], v["M-MAIN.ActivePower"], v["M-MAIN.Voltage"], v["M-MAIN.Current"],
                v["M-MAIN.PowerFactor"])
    if meter == "M-WELD-01":  # Wh and W -> kWh and kW
        return v["M-WELD-01.ActiveEnergy"] * 0.001, v["M-WELD-01.ActivePower"] * 0.001, nan, nan, nan
    return v["M-GAS.Volume"] * 0.01, v["M-GAS.Flow"] * 3.6, nan, nan, nan  # 0.01 m3 -> m3; L/s -> m3/h


async def test_readings_journaled_are_what_node_opcua_published(tmp_path, pki):
    port = free_port()
    cfg = _config(tmp_path, pki, port)
    clock = Clock.simulated(START, speed=60)
    j = Journal(cfg.paths.journal, writer=True)
    async with NodeServer(tmp_path, pki, port) as node, PlantSimulator(cfg.site, clock, cfg.simulation.seed):
        assert node.namespace == 2  # the example's node ids (ns=2;s=...) name the server's first own namespace
        svc = CollectionService(cfg.site, j, None, clock, backoff_initial_s=0.5, backoff_max_s=2)
        try:
            await svc.poll_once()  # starts the subscription
            await _wait(lambda: all(svc.health[m].last_seen for m in OPC_METERS))
            while len(node.published) < UPDATES:
                await asyncio.sleep(1.0)
                await svc.poll_once()
            await asyncio.sleep(1.5)  # the last instant's values reach the collector
            await svc.poll_once()
        finally:
            await svc.close()
    assert svc.subscriber.rejected == 0
    readings = [r for _, p in j.records() for b in [decode_batch(p)] if b.source == "opcua" for r in b.readings]
    j.close()
    for m in OPC_METERS:
        times = [r.time for r in readings if r.meter == m]
        assert len(times) >= UPDATES - 2 and times == sorted(times) and len(set(times)) == len(times), (m, times)
    for r in readings:
        assert r.time in node.published, r  # the server's source timestamp, as published
        want = _expected(node.published[r.time], r.meter)
        got = (r.counter, r.rate, r.voltage, r.current, r.power_factor)
        if r.meter == "M-MAIN":  # no conversion: every bit the same (Float nodes: the float32 published)
            assert got == want, (r, want)
        else:
            assert got[:2] == pytest.approx(want[:2], rel=1e-14), (r, want)
            assert all(x != x for x in got[2:])  # not mapped: NaN


async def test_node_server_refuses_an_untrusted_collector_certificate(tmp_path, pki):
    port = free_port()
    cfg = _config(tmp_path, pki, port, client="stranger")
    clock = Clock.simulated(START, speed=60)
    j = Journal(cfg.paths.journal, writer=True)
    async with NodeServer(tmp_path, pki, port):
        svc = CollectionService(cfg.site, j, None, clock, backoff_initial_s=30, backoff_max_s=60)
        try:
            await svc.poll_once()
            await _wait(lambda: svc.health["M-MAIN"].consecutive_failures >= 1)
        finally:
            await svc.close()
    h = svc.health["M-MAIN"]
    assert "the server refused to open a secure channel (Basic256Sha256 SignAndEncrypt): most often it does " \
        "not trust the collector's certificate" in h.last_error, h.last_error  # not asyncua's bare AssertionError
    assert h.last_seen is None and not svc.subscriber.connected["GW-SCADA"], h.last_error
    assert [r for _, p in j.records() for r in decode_batch(p).readings if r.meter in OPC_METERS] == []
    j.close()
