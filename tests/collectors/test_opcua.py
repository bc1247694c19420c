"""The OPC UA collector against a real asyncua server (the simulated SCADA) over loopback, secured with
Basic256Sha256 SignAndEncrypt and certificates made for the test; beside a real pymodbus gateway."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import shutil
from pathlib import Path

import pytest

from collectors.opcua import make_certificate
from collectors.service import CollectionService
from tanjian.simulator import PlantSimulator
from tanjian.simulator.model import LoadModel
from tanjian.simulator.opcua import SERVER_URI, OpcUaPlantServer
from workspace.units import factor, unit_problem
from tests.conftest import free_port
from workspace.batch import decode_batch
from workspace.clock import Clock
from workspace.config import load_config
from workspace.errors import ConfigError
from workspace.journal import Journal
from workspace.store import Store

UTC = dt.timezone.utc
EXAMPLE = Path(__file__).resolve().parents[2] / "workspace" / "examples" / "opcua-scada.yaml"
START = dt.datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 in Changsha, a Tuesday: the day shift runs
OPC_METERS = ("M-MAIN", "M-WELD-01", "M-GAS")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """Keys and certificates: the collector's, the SCADA's, and a stranger's nobody trusts."""
    d = tmp_path_factory.mktemp("pki")

    make_certificate(d / "collector.key.pem", d / "collector.der", "urn:tanjian:test:collector")
    make_certificate(d / "stranger.key.pem", d / "stranger.der", "urn:tanjian:test:stranger")
    make_certificate(d / "scada.key.pem", d / "scada.der", SERVER_URI, server=True)
    trusted = d / "trusted"
    trusted.mkdir()
    shutil.copy(d / "collector.der", trusted / "collector.der")
    return d


def _config(tmp_path: Path, pki: Path, *, client: str = "collector"):
    """The shipped example on free ports, with the test's certificates."""
    ua_port, mb_port = free_port(), free_port()
    text = EXAMPLE.read_text().replace("127.0.0.1:4840", f"127.0.0.1:{ua_port}").replace("port: 5021",
                                                                                         f"port: {mb_port}")
    (tmp_path / "pki").mkdir(exist_ok=True)
    shutil.copy(pki / f"{client}.der", tmp_path / "pki" / "collector.der")
    shutil.copy(pki / f"{client}.key.pem", tmp_path / "pki" / "collector.key.pem")
    shutil.copy(pki / "scada.der", tmp_path / "pki" / "scada.der")
    p = tmp_path / "tanjian.yaml"
    p.write_text(text)
    return load_config(p, data_dir=tmp_path / "var")


def _server(cfg, pki, clock, model=None, users=None, url=None):
    return OpcUaPlantServer(cfg.site, "GW-SCADA", clock, pki / "scada.der", pki / "scada.key.pem",
                            pki / "trusted", seed=cfg.simulation.seed, update_s=0.5, model=model, users=users,
                            url=url)


async def _wait(cond, timeout_s=90.0):
    """Until ``cond()`` holds (no timing is asserted: the limit only ends a hung test)."""
    for _ in range(int(timeout_s / 0.1)):
        if cond():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not reached")


def test_example_validates_and_converts_units_by_hand():
    cfg = load_config(EXAMPLE)
    gw = {g.id: g for g in cfg.site.gateways}["GW-SCADA"]
    assert gw.opcua.security_policy == "Basic256Sha256" and gw.opcua.security_mode == "SignAndEncrypt"
    assert Path(gw.opcua.certificate) == EXAMPLE.parent / "pki" / "collector.der"  # relative to the file
    # 1 Wh = 0.001 kWh; 1 L/s = 3600 L/h = 3.6 m3/h; 1 W = 0.001 kW
    assert factor("electricity", "counter", "Wh") == 0.001
    assert factor("natural_gas", "rate", "L/s") == 3.6
    assert factor("electricity", "rate", "W") == 0.001
    assert factor("water", "counter", None) == 1.0
    assert unit_problem("natural_gas", "counter", "kWh") is not None


def test_cli_makes_a_certificate_naming_the_application(tmp_path, capsys):
    from cryptography import x509

    from collectors.opcua import application_uri
    from tanjian.cli import main

    assert main(["opcua", "cert", "--out", str(tmp_path), "--name", "edge", "--uri", "urn:plant-ua:edge",
                 "--host", "edge-1", "--days", "30"]) == 0
    cert = x509.load_der_x509_certificate((tmp_path / "edge.der").read_bytes())
    assert application_uri(tmp_path / "edge.der") == "urn:plant-ua:edge"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["edge-1"]
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days == 30
    assert (tmp_path / "edge.key.pem").stat().st_mode & 0o777 == 0o600
    assert "urn:plant-ua:edge" in capsys.readouterr().out


def test_bad_opcua_config_names_file_line_and_field(tmp_path):
    text = EXAMPLE.read_text()
    text = text.replace('rate: {node_id: "ns=2;s=M-GAS.Flow", unit: L/s}', 'rate: {node_id: "ns=2;s=M-GAS.Flow", '
                                                                           'unit: furlong}')
    text = text.replace('counter: {node_id: "ns=2;s=M-WELD-01.ActiveEnergy", unit: Wh}',
                        'voltage: {node_id: "ns=2;s=M-WELD-01.Voltage"}')
    text = text.replace("security_mode: SignAndEncrypt", "security_mode: None")
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config(p)
    lines = text.splitlines()
    msg = str(e.value)
    mode_line = next(i for i, ln in enumerate(lines, 1) if "security_mode: None" in ln)
    assert f"bad.yaml:{mode_line}: site.gateways[0].opcua.security_mode:" in msg
    # cross-reference problems are reported once the fields themselves are valid
    p.write_text(text.replace("security_mode: None", "security_mode: Sign"))
    with pytest.raises(ConfigError) as e:
        load_config(p)
    msg = str(e.value)
    gas_line = next(i for i, ln in enumerate(lines, 1) if "unit: furlong" in ln)
    weld_line = next(i for i, ln in enumerate(lines, 1) if "M-WELD-01.Voltage" in ln) - 1  # the 'opcua:' key
    assert f"bad.yaml:{gas_line}: site.meters[2].opcua.rate.unit: meter 'M-GAS': rate: unknown unit 'furlong'" in msg
    assert f"bad.yaml:{weld_line}: site.meters[1].opcua: meter 'M-WELD-01' on opcua gateway 'GW-SCADA' needs" in msg


async def test_values_land_in_journal_and_store_exactly(tmp_path, pki):
    cfg = _config(tmp_path, pki)
    clock = Clock.simulated(START, speed=60)  # one wall second = one simulated minute
    model = LoadModel(cfg.site, cfg.simulation.seed)
    mb = next(g for g in cfg.site.gateways if g.id == "GW-MB")
    j = Journal(cfg.paths.journal, writer=True)
    st = Store.open(cfg.paths.store, cfg.site, create=True)
    async with _server(cfg, pki, clock, model) as srv, PlantSimulator(cfg.site, clock, cfg.simulation.seed):
        svc = CollectionService(cfg.site, j, st, clock, backoff_initial_s=0.5, backoff_max_s=2)
        try:
            await svc.poll_once()  # starts the subscription
            await _wait(lambda: all(svc.health[m].last_seen for m in OPC_METERS))
            for _ in range(3):
                await asyncio.sleep(1.05)
                await svc.poll_once()
        finally:
            await svc.close()
    assert srv.updates >= 3 and mb.port
    batches = [decode_batch(p) for _, p in j.records()]
    ua_readings = [r for b in batches if b.source == "opcua" for r in b.readings]
    mb_readings = [r for b in batches if b.source == "modbus-tcp" for r in b.readings]
    assert {r.meter for r in ua_readings} == set(OPC_METERS)
    assert {r.meter for r in mb_readings} == {"M-CNC-01"}  # collected alongside, in their own batches
    expected = LoadModel(cfg.site, cfg.simulation.seed)  # the model, computed again for each instant
    idx = {m: i for i, m in enumerate(expected.meter_ids)}
    for r in ua_readings:
        assert r.time.microsecond % 1000 == 0  # the server's source timestamp, whole ms
        counters, rates = expected.at(r.time)
        c, p = float(counters[idx[r.meter]]), float(rates[idx[r.meter]])
        if r.meter == "M-MAIN":  # published in kWh and kW: no conversion, every bit the same
            v, i, pf = expected.electrical(rates[idx[r.meter]:idx[r.meter] + 1], r.time.minute)
            assert (r.counter, r.rate, r.voltage, r.current, r.power_factor) == (c, p, v[0], i[0], pf[0])
        else:  # published in Wh/W, or in 0.01 m3 and L/s: one rounding each way
            assert r.counter == pytest.approx(c, rel=1e-14) and r.rate == pytest.approx(p, rel=1e-14)
    # several instants per meter, each once, in order, and at most one per minute (the store's grid):
    # the later values of a minute are counted as superseded, not journaled as duplicates
    for m in OPC_METERS:
        times = [r.time for r in ua_readings if r.meter == m]
        minutes = [t.replace(second=0, microsecond=0) for t in times]
        assert len(times) >= 2 and times == sorted(times) and len(set(minutes)) == len(minutes)
    st.fold(j)
    ds = st.dataset()
    origin = dt.datetime.fromisoformat(ds.attrs["fold"]["origin"])
    last = {}
    for r in ua_readings:
        last[(r.meter, (r.time - origin) // dt.timedelta(minutes=1))] = r
    stored = 0
    for (m, slot), r in last.items():
        v = ds.counter.isel(time=slot).sel(meter=m).item()
        if v == r.counter:
            stored += 1
        else:  # the store keeps one reading per minute: it must be one of that minute's
            assert v in [x.counter for x in ua_readings if x.meter == m
                         and (x.time - origin) // dt.timedelta(minutes=1) == slot]
    assert stored >= 1
    q = st.quality_report(START - dt.timedelta(hours=1), START + dt.timedelta(hours=3), meters=list(OPC_METERS))
    assert int(q["duplicate"].sum()) == 0, q
    j.close()


async def test_bad_status_and_wrong_type_are_rejected_and_counted(tmp_path, pki, caplog):
    cfg = _config(tmp_path, pki)
    # map the welding robot's power to the SCADA's "Status" string node: a configuration mistake
    text = (tmp_path / "tanjian.yaml").read_text().replace("M-WELD-01.ActivePower", "M-WELD-01.Status")
    (tmp_path / "tanjian.yaml").write_text(text)
    cfg = load_config(tmp_path / "tanjian.yaml", data_dir=tmp_path / "var")
    clock = Clock.simulated(START, speed=60)
    j = Journal(cfg.paths.journal, writer=True)
    caplog.set_level(logging.WARNING, logger="collectors.opcua")
    async with _server(cfg, pki, clock) as srv:
        srv.fail("M-GAS", "counter")
        svc = CollectionService(cfg.site, j, None, clock, backoff_initial_s=0.5, backoff_max_s=2)
        try:
            await svc.poll_once()
            await _wait(lambda: svc.health["M-GAS"].errors >= 2 and svc.health["M-WELD-01"].errors >= 1
                        and svc.health["M-MAIN"].last_seen)
            srv.heal("M-GAS", "counter")
            await _wait(lambda: any("counter" in g for g in svc.subscriber._filed["M-GAS"].values()))
            await asyncio.sleep(0.6)
            await svc.poll_once()
        finally:
            await svc.close()
    h = svc.health
    assert "counter from node ns=2;s=M-GAS.Volume rejected: status BadSensorFailure" in h["M-GAS"].last_error
    assert "rate from node ns=2;s=M-WELD-01.Status rejected: a String ('RUN'), not a number" in \
        h["M-WELD-01"].last_error
    assert h["M-MAIN"].errors == 0
    assert any("M-GAS.Volume rejected: status BadSensorFailure" in r.getMessage() for r in caplog.records)
    readings = [r for _, p in j.records() for r in decode_batch(p).readings]
    weld = [r for r in readings if r.meter == "M-WELD-01"]
    assert weld and all(r.rate != r.rate for r in weld)  # the counter is kept, the rejected power is NaN
    gas = [r for r in readings if r.meter == "M-GAS"]
    assert gas and all(r.time >= min(x.time for x in readings if x.meter == "M-MAIN") for r in gas)
    j.close()


async def test_untrusted_client_certificate_is_refused(tmp_path, pki):
    cfg = _config(tmp_path, pki, client="stranger")
    clock = Clock.simulated(START, speed=60)
    j = Journal(cfg.paths.journal, writer=True)
    async with _server(cfg, pki, clock):
        svc = CollectionService(cfg.site, j, None, clock, backoff_initial_s=30, backoff_max_s=60)
        try:
            await svc.poll_once()
            await _wait(lambda: svc.health["M-MAIN"].consecutive_failures >= 1)
            await asyncio.sleep(1.0)
            await svc.poll_once()
        finally:
            await svc.close()
    h = svc.health["M-MAIN"]
    assert "BadCertificateUntrusted" in h.last_error or "BadSecurityChecksFailed" in h.last_error, h.last_error
    assert h.last_seen is None and h.backoff_s == 30
    assert not svc.subscriber.connected["GW-SCADA"]
    assert [r for _, p in j.records() for r in decode_batch(p).readings if r.meter in OPC_METERS] == []
    j.close()


async def test_server_stop_marks_devices_down_and_collection_catches_up(tmp_path, pki):
    cfg = _config(tmp_path, pki)
    clock = Clock.simulated(START, speed=60)
    model = LoadModel(cfg.site, cfg.simulation.seed)
    j = Journal(cfg.paths.journal, writer=True)
    svc = CollectionService(cfg.site, j, None, clock, backoff_initial_s=0.5, backoff_max_s=1)
    health = svc.health_path = tmp_path / "health.json"
    try:
        async with PlantSimulator(cfg.site, clock, cfg.simulation.seed):
            srv = _server(cfg, pki, clock, model)
            await srv.start()
            await svc.poll_once()
            await _wait(lambda: svc.health["M-MAIN"].last_seen is not None)
            await svc.poll_once()
            await srv.stop()  # the SCADA goes away
            await _wait(lambda: svc.health["M-MAIN"].consecutive_failures >= 1)
            stopped_at = clock.now()
            acked = await svc.poll_once()  # the Modbus meter is still collected
            assert acked >= 1
            svc.write_health()
            doc = json.loads(health.read_text())
            assert doc["devices"]["M-MAIN"]["consecutive_failures"] >= 1
            assert "GW-SCADA" in doc["devices"]["M-MAIN"]["last_error"]
            assert doc["devices"]["M-CNC-01"]["consecutive_failures"] == 0
            await asyncio.sleep(1.0)
            srv = _server(cfg, pki, clock, model)  # the SCADA returns on the same endpoint
            await srv.start()
            await _wait(lambda: svc.subscriber.connected["GW-SCADA"])
            await _wait(lambda: any("counter" in g for g in svc.subscriber._filed["M-MAIN"].values()))
            await asyncio.sleep(0.6)
            await svc.poll_once()
            h = svc.health["M-MAIN"]
            assert h.consecutive_failures == 0 and h.errors >= 1 and h.backoff_s == 0  # up again
            await srv.stop()
    finally:
        await svc.close()
    readings = [r for _, p in j.records() for r in decode_batch(p).readings]
    after = [r for r in readings if r.meter == "M-MAIN" and r.time > stopped_at]
    assert after  # readings flow again after the server's return
    counters, _ = LoadModel(cfg.site, cfg.simulation.seed).at(after[0].time)
    assert after[0].counter == float(counters[model.meter_ids.index("M-MAIN")])
    j.close()


@pytest.mark.parametrize("password", ["s3cret-of-the-shift", "wrong"])
async def test_user_and_password_file(tmp_path, pki, password):
    cfg = _config(tmp_path, pki)
    text = (tmp_path / "tanjian.yaml").read_text().replace(
        "        publishing_interval_ms: 1000\n",
        "        publishing_interval_ms: 1000\n        username: collector\n        password_file: pki/scada.password\n")
    (tmp_path / "tanjian.yaml").write_text(text)
    (tmp_path / "pki" / "scada.password").write_text(password + "\n")
    cfg = load_config(tmp_path / "tanjian.yaml", data_dir=tmp_path / "var")
    assert cfg.site.gateways[0].opcua.username == "collector"
    clock = Clock.simulated(START, speed=60)
    j = Journal(cfg.paths.journal, writer=True)
    async with _server(cfg, pki, clock, users={"collector": "s3cret-of-the-shift"}):
        svc = CollectionService(cfg.site, j, None, clock, backoff_initial_s=30, backoff_max_s=60)
        try:
            await svc.poll_once()
            h = svc.health["M-MAIN"]
            await _wait(lambda: h.last_seen is not None or h.consecutive_failures >= 1)
        finally:
            await svc.close()
    if password == "wrong":
        assert h.last_seen is None and "BadUserAccessDenied" in h.last_error, h.last_error
    else:
        assert h.last_seen is not None and h.errors == 0
    j.close()


async def test_network_outage_is_caught_up_from_the_servers_history(tmp_path, pki):
    """The SCADA keeps running; the network between it and the collector (a real socat relay) goes down."""
    import os
    import signal
    import subprocess

    if not shutil.which("socat"):
        pytest.skip("socat missing")
    cfg = _config(tmp_path, pki)
    relay_port = int(cfg.site.gateways[0].opcua.url.rsplit(":", 1)[1].split("/")[0])
    server_port = free_port()

    def relay():
        return subprocess.Popen(["socat", f"TCP-LISTEN:{relay_port},bind=127.0.0.1,reuseaddr,fork",
                                 f"TCP:127.0.0.1:{server_port}"], start_new_session=True)

    clock = Clock.simulated(START, speed=60)
    model = LoadModel(cfg.site, cfg.simulation.seed)
    j = Journal(cfg.paths.journal, writer=True)
    proc = relay()
    try:
        async with _server(cfg, pki, clock, model, url=f"opc.tcp://127.0.0.1:{server_port}/tanjian/") as srv:
            svc = CollectionService(cfg.site, j, None, clock, backoff_initial_s=0.5, backoff_max_s=1)
            try:
                await svc.poll_once()
                await _wait(lambda: svc.health["M-MAIN"].last_seen is not None)
                await asyncio.sleep(1.0)
                await svc.poll_once()
                os.killpg(proc.pid, signal.SIGTERM)  # the relay and its connections: the network is down
                proc.wait()
                await _wait(lambda: svc.health["M-MAIN"].consecutive_failures >= 1)
                cut = srv.updates
                await svc.poll_once()
                await _wait(lambda: srv.updates >= cut + 4)  # the SCADA goes on without us
                proc = relay()
                await _wait(lambda: svc.subscriber.connected["GW-SCADA"] and svc.subscriber.caught_up > 0)
                await asyncio.sleep(0.6)
                await svc.poll_once()
                last = srv.instants[-1]
            finally:
                await svc.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()
    readings = [r for _, p in j.records() for r in decode_batch(p).readings if r.meter == "M-MAIN"]
    times = [r.time for r in readings]
    assert times == sorted(times) and len(set(times)) == len(times)
    # every minute in which the SCADA published between our first reading and its last update before
    # our last poll has exactly one reading in the journal, outage included: the minute's first value
    # (the store keeps one a minute; the first is what a poll at the minute would read)
    def minute(t):
        return t.replace(second=0, microsecond=0)

    published = [t for t in srv.instants if times[0] <= t <= min(last, times[-1])]
    first_of = {}
    for t in sorted(published):
        first_of.setdefault(minute(t), t)
    got = {minute(t): t for t in times}
    assert len(got) == len(times)  # one a minute
    for mnt, t in first_of.items():
        assert got[mnt] == (times[0] if mnt == minute(times[0]) else t)
    assert len(first_of) >= 3
    expected = LoadModel(cfg.site, cfg.simulation.seed)
    k = expected.meter_ids.index("M-MAIN")
    for r in readings:
        counters, rates = expected.at(r.time)
        assert (r.counter, r.rate) == (float(counters[k]), float(rates[k]))
    j.close()
