"""`tanjian demo --config workspace/examples/protocols.yaml`: one simulated peer per protocol (Modbus TCP,
Modbus RTU over TCP, DL/T 645-2007 and -1997 over TCP, MQTT through a real mosquitto with TLS, passwords, an ACL
and signed payloads, OPC UA Basic256Sha256 SignAndEncrypt), and the normal collector puts every meter's
readings into the store."""

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port_block
from workspace.config import load_config
from tanjian.demo.peers import MARKER, _claim, shifted_url
from workspace.errors import TanjianError

EXAMPLE = ROOT / "workspace" / "examples" / "protocols.yaml"
# every port of the example: dashboards, Modbus TCP, RTU/TCP, DL/T 645, MQTT (TLS), OPC UA
PORTS = (5006, 5040, 5041, 5042, 8883, 4843)


def _cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "tanjian", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=str(ROOT))


def test_example_covers_every_protocol_and_passes_config_check():
    r = _cli("--config", str(EXAMPLE), "config", "check")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "10 meters on 5 gateways" in r.stdout, r.stdout
    site = load_config(EXAMPLE).site
    assert {g.protocol for g in site.gateways} == {"modbus_tcp", "modbus_rtu_over_tcp", "dlt645_tcp", "mqtt",
                                                   "opcua"}
    assert {m.family for m in site.meters if m.gateway == "GW-645"} == {"dlt645-2007", "dlt645-1997"}
    clamps = next(g for g in site.gateways if g.protocol == "mqtt").mqtt
    assert clamps.tls is not None and clamps.tls.cert_file and clamps.require_signature
    ua = next(g for g in site.gateways if g.protocol == "opcua").opcua
    assert (ua.security_policy, ua.security_mode) == ("Basic256Sha256", "SignAndEncrypt")
    # relative certificate paths resolve beside the file, in the certs/ folder the demo makes
    assert Path(ua.certificate) == EXAMPLE.parent / "certs" / "opcua-collector.der"


def test_shifted_opcua_url():
    assert shifted_url("opc.tcp://127.0.0.1:4843/tanjian/", 100) == "opc.tcp://127.0.0.1:4943/tanjian/"
    assert shifted_url("opc.tcp://scada.local/ua", 1) == "opc.tcp://scada.local:4841/ua"  # default port 4840
    assert shifted_url("opc.tcp://scada.local/ua", 0) == "opc.tcp://scada.local/ua"


def test_demo_never_overwrites_certificates_it_did_not_make(tmp_path):
    own = tmp_path / "certs" / "mqtt-ca.crt"
    own.parent.mkdir()
    own.write_text("the plant's own CA")
    with pytest.raises(TanjianError, match="mqtt-ca.crt exists and was not written by the demo"):
        _claim(own)
    assert own.read_text() == "the plant's own CA"
    fresh = tmp_path / "demo" / "a.key"
    assert _claim(fresh) == fresh and (fresh.parent / MARKER).exists()  # a new folder becomes the demo's
    fresh.write_text("x")
    assert _claim(fresh) == fresh  # and the demo may rewrite what it wrote


def _readings(cfg) -> dict[str, int]:
    """Readings per meter in the store over the last two days and the next one (query API)."""
    from workspace.store import Store

    now = dt.datetime.now(dt.timezone.utc).astimezone(dt.timezone(dt.timedelta(hours=8))).replace(tzinfo=None)
    start, end = (now - dt.timedelta(days=2)).strftime("%Y-%m-%d"), (now + dt.timedelta(days=1)).strftime("%Y-%m-%d")
    df = Store.open(cfg.paths.store, cfg.site).quality_report(start, end)
    return {m: int(n) for m, n in df["readings"].items()}


@pytest.mark.slow
def test_demo_collects_every_protocol_into_the_store(tmp_path):
    base = free_port_block(1)
    offset = base - 5006
    if not all(1024 < p + offset < 65000 for p in PORTS):
        offset = free_port_block(1) - 5006
    assert all(1024 < p + offset < 65000 for p in PORTS)
    cfg_path = tmp_path / "protocols.yaml"  # a copy: the demo writes certs/ beside the file it runs
    cfg_path.write_text(EXAMPLE.read_text())
    data = tmp_path / "data"
    cfg = load_config(cfg_path, data_dir=data)
    log_path = tmp_path / "demo.log"
    proc = _start(cfg_path, data, offset, log_path)
    got: dict[str, int] = {}
    try:
        text = _wait_ready(proc, log_path)
        for name in ("GW-MB (Modbus TCP)", "GW-RTU (Modbus RTU/TCP)", "GW-645 (DL/T 645)",
                     "GW-CLAMPS (MQTT broker)", "GW-SCADA (OPC UA SCADA)"):
            assert name in text, text[-3000:]
        # the certificates the configuration names were made beside it, and marked as the demo's
        for f in ("mqtt-ca.crt", "mqtt-collector.crt", "mqtt-collector.key", "mqtt-collector.password",
                  "opcua-collector.der", "opcua-collector.key.pem", "opcua-scada.der", MARKER):
            assert (tmp_path / "certs" / f).exists(), f
        assert (tmp_path / "certs" / "mqtt-collector.key").stat().st_mode & 0o077 == 0
        # polls run at each minute boundary: wait (at most ~3 cycles) until every meter is in the store
        deadline = time.monotonic() + 200
        while time.monotonic() < deadline:
            assert proc.poll() is None, log_path.read_text()[-4000:]
            try:
                got = _readings(cfg)
            except Exception:  # noqa: BLE001 - the store may not exist before the first fold
                got = {}
            if got and all(got.get(m.id, 0) > 0 for m in cfg.site.meters):
                break
            time.sleep(10)
    finally:
        code = _stop(proc)
    text = log_path.read_text()
    assert code == 0, text[-3000:]
    assert "stopped cleanly" in text
    assert "refuse" not in text.lower() and "Traceback" not in text, text[-3000:]
    got = _readings(cfg)
    by_protocol = {}
    gateways = {g.id: g.protocol for g in cfg.site.gateways}
    for m in cfg.site.meters:
        by_protocol.setdefault(gateways[m.gateway], {})[m.id] = got.get(m.id, 0)
    assert set(by_protocol) == {"modbus_tcp", "modbus_rtu_over_tcp", "dlt645_tcp", "mqtt", "opcua"}
    for protocol, meters in by_protocol.items():
        assert all(n > 0 for n in meters.values()), (protocol, meters, text[-3000:])
    # nothing left listening: the simulated peers (mosquitto too) stopped with the demo
    for port in PORTS[1:]:
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port + offset), timeout=2).close()
    # a second start on the same folders: the demo rewrites the certificates it made (a new broker CA) and the
    # collector resumes its persistent MQTT session
    ca = (tmp_path / "certs" / "mqtt-ca.crt").read_bytes()
    log2 = tmp_path / "demo2.log"
    proc = _start(cfg_path, data, offset, log2)
    try:
        text = _wait_ready(proc, log2)
        assert "(session resumed)" in text, text[-3000:]
        assert (tmp_path / "certs" / "mqtt-ca.crt").read_bytes() != ca
    finally:
        code = _stop(proc)
    assert code == 0 and "stopped cleanly" in log2.read_text(), log2.read_text()[-3000:]


def _start(cfg_path, data, offset, log_path):
    log = open(log_path, "w+")
    return subprocess.Popen([sys.executable, "-m", "tanjian", "--config", str(cfg_path), "--data-dir",
                             str(data), "demo", "--no-lab", "--no-chain", "--history-days", "0",
                             "--port-offset", str(offset)],
                            stdout=log, stderr=subprocess.STDOUT, cwd=str(ROOT), start_new_session=True)


def _wait_ready(proc, log_path) -> str:
    text = ""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and "Ctrl-C stops everything" not in text:
        assert proc.poll() is None, log_path.read_text()[-4000:]
        time.sleep(0.5)
        text = log_path.read_text()
    assert "Ctrl-C stops everything" in text, text[-4000:]
    return text


def _stop(proc) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=90)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
