"""The MQTT collector against Debian's mosquitto: TLS with per-client certificates, passwords, an ACL,
QoS 1 persistent sessions, payload mapping, signed payloads, and a fuzz of the mapping."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import math
import threading
import time
from pathlib import Path

import eth_account  # noqa: F401 - imported here: its import raises the recursion limit, not inside hypothesis
import numpy as np
import paho.mqtt.client as mqtt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.mqtt.payload import PayloadError
from collectors.mqtt.signed import decode_message
from collectors.service import CollectionService
from tanjian.simulator.broker import BrokerUser, Mosquitto
from tests.small_sites import write_site
from workspace.batch import decode_batch
from workspace.clock import Clock
from workspace.config import load_config
from workspace.errors import ConfigError
from workspace.journal import Journal
from workspace.store import Store

UTC = dt.timezone.utc
T0 = "2026-03-02T00:00:00Z"
ROOT = Path(__file__).resolve().parents[2]

USERS = [
    BrokerUser("collector", "c0llect-pw", read=("plant/#",)),
    BrokerUser("gw-a", "gw-a-pw", write=("plant/gw-a/#",)),
    BrokerUser("gw-b", "gw-b-pw", write=("plant/gw-b/#",)),
]

# clamp meter A: energy in Wh, power in W, ISO time; meter B: nested kWh counter, epoch-ms time
MAPPING_A = {"topic": "plant/gw-a/+/M-A1", "counter": "e", "rate": "p", "voltage": "v", "current": "i",
             "power_factor": "pf", "units": {"counter": "Wh", "rate": "W"},
             "time": {"field": "ts", "format": "iso8601"}}
MAPPING_B = {"topic": "plant/gw-b/M-B1", "counter": "energy.total", "rate": "energy.power_kw",
             "time": {"field": "t", "format": "epoch_ms"}}


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    b = Mosquitto(tmp_path_factory.mktemp("mosquitto"), USERS).start()
    yield b
    b.stop()


def make_cfg(folder: Path, broker: Mosquitto, *, client_id: str, require_signature: bool = False,
             device_key: str | None = None, password: str = "c0llect-pw", flush_interval_s: float = 0.1,
             version: str = "5"):
    (folder / "collector.pw").write_text(password + "\n")
    (folder / "collector.pw").chmod(0o600)
    gw = {"id": "GW-MQTT", "protocol": "mqtt", "host": "127.0.0.1", "port": broker.port,
          "mqtt": {"client_id": client_id, "username": "collector", "password_file": "collector.pw",
                   "tls": broker.tls("collector"), "flush_interval_s": flush_interval_s, "version": version,
                   "require_signature": require_signature}}
    ma = {"id": "M-A1", "medium": "electricity", "family": "clamp", "gateway": "GW-MQTT", "device": "D-WELD",
          "workshop": "WS-A", "mqtt": dict(MAPPING_A, **({"device_key": device_key} if device_key else {}))}
    mb = {"id": "M-B1", "medium": "electricity", "family": "clamp", "gateway": "GW-MQTT", "device": "D-CNC",
          "workshop": "WS-A", "mqtt": MAPPING_B}
    return load_config(write_site(folder, [gw], [ma, mb]))


class Publisher:
    """A gateway's own MQTT client (TLS with its certificate, its password), MQTT 5."""

    def __init__(self, broker: Mosquitto, user: str, password: str | None = None):
        self.acks: dict[int, object] = {}
        self.connected = threading.Event()
        self.refused = None
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{user}-{time.monotonic_ns()}",
                        protocol=mqtt.MQTTv5)
        c.username_pw_set(user, password if password is not None else broker.users[user].password)
        t = broker.tls(user)
        c.tls_set(ca_certs=t["ca_file"], certfile=t["cert_file"], keyfile=t["key_file"])
        c.on_connect = self._on_connect
        c.on_publish = self._on_publish
        c.on_disconnect = self._on_disconnect
        self.disconnects: list = []
        c.connect("127.0.0.1", broker.port)
        c.loop_start()
        self.client = c
        self.connected.wait(10)

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        self.acks[mid] = reason_code

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self.disconnects.append(reason_code)

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            self.refused = reason_code
        self.connected.set()

    def publish(self, topic: str, payload: dict | bytes):
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        info = self.client.publish(topic, data, qos=1)
        # wait for the broker's PUBACK; a message published while the connection is down (rc NO_CONN)
        # is kept by paho and sent when it reconnects
        deadline = time.monotonic() + 20
        while info.mid not in self.acks and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.acks.get(info.mid)

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def collect(cfg, until, *, timeout_s: float = 30.0, registry=None, journal=None, store=None):
    """Run the collection service until ``until(service)`` holds (or the timeout); returns the service."""
    own = journal is None
    journal = journal or Journal(cfg.paths.journal, writer=True)

    async def main():
        stop = asyncio.Event()
        svc = CollectionService(cfg.site, journal, store, Clock(), device_registry=registry,
                                health_path=cfg.paths.run / "health.json")
        task = asyncio.create_task(svc.run(stop))
        deadline = time.monotonic() + timeout_s
        while not until(svc) and time.monotonic() < deadline and not task.done():
            await asyncio.sleep(0.05)
        stop.set()
        await task
        return svc

    try:
        return asyncio.run(main())
    finally:
        if own:
            journal.close()


def journaled(cfg) -> list:
    with Journal(cfg.paths.journal) as j:
        return [(b.source, r) for _, data in j.records() for b in [decode_batch(data)] for r in b.readings]


def connected(svc) -> bool:
    return all(p.connected.is_set() for p in svc.pushers)


# -- the collector with a real broker ------------------------------------------------------------------
def test_readings_land_in_the_journal_with_exact_values(tmp_path, broker):
    cfg = make_cfg(tmp_path, broker, client_id="coll-exact")
    collect(cfg, connected)  # first connection: the broker now keeps the session and its subscriptions
    a, b = Publisher(broker, "gw-a"), Publisher(broker, "gw-b")
    a.publish("plant/gw-a/clamp-7/M-A1", {"e": 1234567, "p": 2500, "v": 230.1, "i": 3.62, "pf": 0.93,
                                          "ts": "2026-03-02T08:00:00+08:00"})
    b.publish("plant/gw-b/M-B1", {"energy": {"total": 88.25, "power_kw": 1.5}, "t": 1772409600000})
    a.close(), b.close()
    store = Store.open(cfg.paths.store, cfg.site, create=True)
    svc = collect(cfg, lambda s: s.acknowledged >= 2, store=store)  # folds into the store when it stops
    got = sorted(journaled(cfg), key=lambda x: x[1].meter)
    assert [s for s, _ in got] == ["mqtt/GW-MQTT", "mqtt/GW-MQTT"]
    ra, rb = got[0][1], got[1][1]
    # 1234567 Wh = 1234.567 kWh; 2500 W = 2.5 kW; 08:00 at +08:00 is 00:00 UTC
    assert (ra.meter, ra.counter, ra.rate, ra.voltage, ra.current, ra.power_factor) == \
        ("M-A1", 1234.567, 2.5, 230.1, 3.62, 0.93)
    assert ra.time == dt.datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    # 1772409600 s = 2026-01-01 (1767225600) + 59 days (January and February): 2026-03-02T00:00Z
    assert (rb.meter, rb.counter, rb.rate) == ("M-B1", 88.25, 1.5)
    assert rb.time == dt.datetime(2026, 3, 2, tzinfo=UTC)
    assert math.isnan(rb.voltage)
    health = json.loads((cfg.paths.run / "health.json").read_text())["devices"]
    assert health["M-A1"]["reads"] == 1 and health["M-B1"]["reads"] == 1 and health["M-A1"]["errors"] == 0
    assert svc.pushers[0].acknowledged == 2
    # and in the store, in the minute slot of 2026-03-02T00:00Z
    ds = store.dataset()
    slot = {"time": np.datetime64("2026-03-02T00:00")}
    assert float(ds.counter.sel(meter="M-A1", **slot)) == 1234.567
    assert float(ds.counter.sel(meter="M-B1", **slot)) == 88.25


@pytest.mark.parametrize("version", ["5", "3.1.1"])
def test_qos1_messages_published_while_the_collector_is_away_arrive_when_it_returns(tmp_path, broker,
                                                                                   version):
    cfg = make_cfg(tmp_path, broker, client_id=f"coll-away-{version}", version=version)
    collect(cfg, connected)
    a = Publisher(broker, "gw-a")
    for k in range(5):
        a.publish("plant/gw-a/c/M-A1", {"e": 1000 * (k + 1), "p": 0, "v": 230, "i": 0, "pf": 1,
                                        "ts": f"2026-03-02T00:0{k}:00Z"})
    a.close()
    collect(cfg, lambda s: s.acknowledged >= 5)
    got = sorted(r.counter for _, r in journaled(cfg))
    assert got == [1.0, 2.0, 3.0, 4.0, 5.0]
    # acknowledged to the broker: a third session gets nothing again
    svc = collect(cfg, lambda s: False, timeout_s=1.5)
    assert svc.acknowledged == 0 and len(journaled(cfg)) == 5


def test_a_message_is_acknowledged_to_the_broker_only_once_journaled(tmp_path, broker):
    cfg = make_cfg(tmp_path, broker, client_id="coll-nack")
    collect(cfg, connected)
    a = Publisher(broker, "gw-a")
    a.publish("plant/gw-a/c/M-A1", {"e": 7000, "p": 0, "v": 230, "i": 0, "pf": 1, "ts": T0})
    a.close()

    # Fault injection: a journal that refuses every batch (a disk that fails writes; the real
    # DiskFullError path is covered in test_durability). Nothing may be acknowledged to the broker.
    from workspace.errors import JournalError

    async def refuse(readings, source):
        raise JournalError("injected: the disk refuses writes")

    async def main():
        from collectors.mqtt.client import MqttCollector

        stop = asyncio.Event()
        g = cfg.site.gateways[0]
        c = MqttCollector(g, [m for m in cfg.site.meters], Clock(), refuse)
        task = asyncio.create_task(c.run(stop))
        deadline = time.monotonic() + 20
        while not c.health["M-A1"].reads and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # a few flushes, all refused
        stop.set()
        await task
        return c

    c = asyncio.run(main())
    assert c.health["M-A1"].reads == 1 and c.acknowledged == 0
    collect(cfg, lambda s: s.acknowledged >= 1)  # the broker delivers it again
    assert [r.counter for _, r in journaled(cfg)] == [7.0]


def test_the_acl_keeps_a_gateway_to_its_own_topics(tmp_path, broker):
    cfg = make_cfg(tmp_path, broker, client_id="coll-acl")
    collect(cfg, connected)
    a = Publisher(broker, "gw-a")
    denied = a.publish("plant/gw-b/M-B1", {"energy": {"total": 999.0, "power_kw": 0}, "t": 1772409600000})
    a.close()
    a = Publisher(broker, "gw-a")
    a.publish("plant/gw-a/c/M-A1", {"e": 5000, "p": 0, "v": 230, "i": 0, "pf": 1, "ts": T0})
    a.close()
    collect(cfg, lambda s: s.acknowledged >= 1)
    time.sleep(0.2)
    assert [(r.meter, r.counter) for _, r in journaled(cfg)] == [("M-A1", 5.0)]
    # MQTT 5 (our publisher): mosquitto answers the refused PUBLISH with PUBACK reason 135 "Not authorized"
    assert denied is not None and denied.value == 135


def test_a_wrong_password_is_refused(tmp_path, broker):
    p = Publisher(broker, "gw-a", password="not-the-password")
    assert p.connected.wait(10)
    p.close()
    # MQTT 5 CONNACK reason 134 "bad user name or password" or 135 "not authorized"
    assert p.refused is not None and p.refused.value in (134, 135)
    cfg = make_cfg(tmp_path, broker, client_id="coll-badpw", password="wrong")
    svc = collect(cfg, lambda s: s.pushers[0].health["GW-MQTT"].errors > 0, timeout_s=15)
    err = svc.pushers[0].health["GW-MQTT"].last_error
    assert "refused the connection" in err and not svc.pushers[0].connected.is_set()


# -- signed payloads -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def registry():
    """The DeviceRegistry on the in-process eth-tester chain, with one registered clamp-meter key."""
    from eth_account import Account

    from chain._tx import send
    from chain.deploy import deploy_contracts
    from chain.node import connect
    from chain.registry import DEVICE_REGISTRY, KeyKind, from_deployment, id32

    w3 = connect("tester")
    dev = from_deployment(w3, deploy_contracts(w3, w3.eth.accounts[0]), DEVICE_REGISTRY)
    key = Account.from_key("0x" + "11" * 32)
    send(w3, dev.functions.register(key.address, KeyKind.DEVICE, id32("T1"), w3.eth.accounts[3]),
         w3.eth.accounts[0])
    return dev, key


def test_signed_payloads_are_accepted_and_unsigned_or_unknown_keys_refused(tmp_path, broker, registry,
                                                                            caplog):
    from eth_account import Account

    from tanjian.simulator.mqtt import signed_envelope

    dev, key = registry
    cfg = make_cfg(tmp_path, broker, client_id="coll-signed", require_signature=True, device_key=key.address)
    collect(cfg, connected, registry=dev)
    body = json.dumps({"e": 4000, "p": 1000, "v": 230, "i": 4.5, "pf": 0.97, "ts": T0}).encode()
    stranger = Account.from_key("0x" + "22" * 32)
    a = Publisher(broker, "gw-a")
    a.publish("plant/gw-a/c/M-A1", signed_envelope(key, body))  # accepted
    a.publish("plant/gw-a/c/M-A1", body)  # unsigned: refused
    a.publish("plant/gw-a/c/M-A1", signed_envelope(stranger, body))  # unknown key: refused
    tampered = json.loads(signed_envelope(key, body))
    tampered["payload"] = tampered["payload"].replace("4000", "9000")
    a.publish("plant/gw-a/c/M-A1", json.dumps(tampered).encode())  # changed after signing: refused
    a.close()
    with caplog.at_level(logging.WARNING, logger="collectors.mqtt.client"):
        svc = collect(cfg, lambda s: s.pushers[0].acknowledged >= 4, registry=dev)
    assert [(r.meter, r.counter, r.rate) for _, r in journaled(cfg)] == [("M-A1", 4.0, 1.0)]
    h = svc.pushers[0].health["M-A1"]
    assert (h.reads, h.errors) == (1, 3)
    msgs = [r.getMessage() for r in caplog.records if r.name == "collectors.mqtt.client"]
    assert any("'plant/gw-a/c/M-A1'" in m and "unsigned payload refused" in m for m in msgs)
    assert any(f"unknown device {stranger.address}" in m for m in msgs)
    assert any(f"but was signed by" in m for m in msgs)
    quarantine = cfg.paths.data_dir / "quarantine" / "mqtt-GW-MQTT.jsonl"
    kept = [json.loads(x) for x in quarantine.read_text().splitlines()]
    assert len(kept) == 3 and kept[0]["payload"] == body.decode() and kept[0]["topic"] == "plant/gw-a/c/M-A1"


# -- configuration ------------------------------------------------------------------------------------
def test_mqtt_configuration_errors_name_file_line_and_field(tmp_path, broker):
    cfg = make_cfg(tmp_path, broker, client_id="coll-cfg")
    path = tmp_path / "tanjian.yaml"
    doc = json.loads(path.read_text())
    doc["site"]["meters"][0]["mqtt"]["topic"] = "plant/gw-a/#/M-A1"
    doc["site"]["meters"][1]["mqtt"]["units"] = {"counter": "m3"}
    path.write_text(json.dumps(doc, indent=1))
    with pytest.raises(ConfigError) as e:
        load_config(path)
    text = str(e.value)
    assert "site.meters[0].mqtt: Value error, topic 'plant/gw-a/#/M-A1': '+' must fill a whole level" in text
    assert f"{path}:" in text
    doc["site"]["meters"][0]["mqtt"]["topic"] = "plant/gw-a/+/M-A1"
    del doc["site"]["meters"][0]["mqtt"]
    path.write_text(json.dumps(doc, indent=1))
    with pytest.raises(ConfigError) as e:
        load_config(path)
    text = str(e.value)
    assert "site.meters[0].mqtt: meter 'M-A1' on mqtt gateway 'GW-MQTT' needs an 'mqtt' mapping" in text
    assert "site.meters[1].mqtt.units.counter: meter 'M-B1': unit 'm3' of counter does not fit its medium, " \
           "electricity (use kWh, Wh, MWh)" in text
    assert cfg.site.gateways[0].mqtt.password_file == str(tmp_path / "collector.pw")


def test_the_example_mqtt_configuration_validates():
    cfg = load_config(ROOT / "workspace" / "examples" / "mqtt-gateway.yaml")
    gws = [g for g in cfg.site.gateways if g.protocol == "mqtt"]
    assert gws and all(m.mqtt is not None for m in cfg.site.meters if m.gateway == gws[0].id)


# -- the payload mapping under hypothesis ---------------------------------------------------------------
def _meter():
    from workspace.site import Meter

    return Meter.model_validate({"id": "M-A1", "medium": "electricity", "family": "clamp", "gateway": "G",
                                 "mqtt": MAPPING_A})


ARRIVAL = dt.datetime(2026, 3, 2, tzinfo=UTC)
KEY_A = "0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A"  # address of the test key 0x11...11
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                           lambda kids: st.lists(kids, max_size=4)
                           | st.dictionaries(st.text(max_size=4), kids, max_size=4), max_leaves=12)
near_valid = st.fixed_dictionaries({"e": st.integers() | st.floats() | st.text(max_size=3) | st.none(),
                                    "p": st.floats(), "v": st.floats(), "i": st.floats(), "pf": st.floats(),
                                    "ts": st.text(max_size=30) | st.integers() | st.just(T0)})


def _check(payload: bytes):
    try:
        r = decode_message(_meter(), payload, "plant/gw-a/x/M-A1", ARRIVAL)
    except PayloadError as exc:
        assert "plant/gw-a/x/M-A1" in str(exc) or "M-A1" in str(exc)
        return
    assert math.isfinite(r.counter) and r.counter >= 0 and r.time.tzinfo is not None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_fuzz_arbitrary_bytes_are_mapped_or_refused_clearly(data):
    _check(data)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({"payload": st.text(max_size=40) | st.just(json.dumps({"e": 1, "ts": T0})),
                              "device": st.text(max_size=44) | st.just(KEY_A),
                              "signature": st.text(max_size=140) | st.just("0x" + "00" * 65)
                              | st.binary(min_size=65, max_size=65).map(lambda b: "0x" + b.hex())})
       | st.dictionaries(st.sampled_from(["payload", "device", "signature", "x"]), json_values, max_size=4))
def test_fuzz_signed_envelopes_are_checked_or_refused_clearly(obj):
    from workspace.site import Meter

    m = Meter.model_validate({"id": "M-A1", "medium": "electricity", "family": "clamp", "gateway": "G",
                              "mqtt": dict(MAPPING_A, device_key=KEY_A)})
    try:
        decode_message(m, json.dumps(obj).encode(), "t/x", ARRIVAL, require_signature=True)
    except PayloadError as exc:
        assert str(exc).startswith("topic 't/x'")
    else:
        raise AssertionError(f"a forged envelope was accepted: {obj!r}")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(json_values, near_valid))
def test_fuzz_json_payloads_are_mapped_or_refused_clearly(obj):
    _check(json.dumps(obj).encode())  # json.dumps writes NaN/Infinity for such floats: refused too


def test_the_mapping_refuses_bad_payloads_with_a_reason():
    m = _meter()
    ok = {"e": 1, "p": 1, "v": 1, "i": 1, "pf": 1, "ts": "2026-03-02T00:00:00Z"}
    cases = [
        (b"\xff\xfe", "payload is not UTF-8"),
        (b"{not json", "payload is not JSON"),
        (b"[1, 2]", "payload is a JSON list, not an object"),
        (json.dumps({k: v for k, v in ok.items() if k != "e"}).encode(), "field 'e' is missing"),
        (json.dumps(dict(ok, e="12")).encode(), "field 'e' is str '12', not a number"),
        (json.dumps(dict(ok, e=True)).encode(), "field 'e' is bool True, not a number"),
        (b'{"e": NaN, "p": 1, "v": 1, "i": 1, "pf": 1, "ts": "2026-03-02T00:00:00Z"}',
         "NaN is not a number JSON"),
        (json.dumps(dict(ok, e=-5)).encode(), "counter 'e' is negative (-0.005)"),
        (json.dumps(dict(ok, ts="2026-03-02 00:00")).encode(), "has no UTC offset"),
        (json.dumps(dict(ok, ts="yesterday")).encode(), "'yesterday' is not ISO 8601"),
    ]
    for payload, why in cases:
        with pytest.raises(PayloadError, match="plant/x") as e:
            decode_message(m, payload, "plant/x", ARRIVAL)
        assert why in str(e.value), (payload, str(e.value))


# -- the benchmark, at a tiny size ----------------------------------------------------------------------
def test_the_mqtt_benchmark_runs_at_a_tiny_size(tmp_path):
    from benchmarks.bench_mqtt import run

    rows = run(n=20, folder=tmp_path)
    assert rows[0]["path"].startswith(("mosquitto_sub -q 1 > file", "paho subscriber -q 1 > file"))
    assert rows[1]["path"] == "tanjian MQTT collector -> journal"
    assert rows[2]["path"].startswith("publisher alone")
    assert all(r["messages"] == 20 and r["seconds"] > 0 for r in rows)


# -- alongside Modbus, fed by the clamp-meter simulator -------------------------------------------------
async def test_mqtt_meters_are_collected_alongside_modbus_from_the_clamp_simulator(tmp_path, broker):
    from tanjian.simulator import PlantSimulator
    from tanjian.simulator.mqtt import ClampPublisher
    from tests.conftest import free_port

    cfg = make_cfg(tmp_path, broker, client_id="coll-side")
    doc = json.loads((tmp_path / "tanjian.yaml").read_text())
    doc["site"]["gateways"].append({"id": "GW-TCP", "host": "127.0.0.1", "port": free_port()})
    doc["site"]["meters"].insert(0, {"id": "M-TR", "medium": "electricity", "family": "sdm630",
                                     "gateway": "GW-TCP", "unit_id": 1, "workshop": "WS-A"})
    doc["site"]["transformers"][0]["meter"] = "M-TR"
    (tmp_path / "tanjian.yaml").write_text(json.dumps(doc))
    cfg = load_config(tmp_path / "tanjian.yaml")
    clock = Clock.simulated(dt.datetime(2026, 11, 24, 2, 0, tzinfo=UTC), speed=60)  # 10:00 local, Tuesday
    sim = PlantSimulator(cfg.site, clock)
    await sim.start()
    journal = Journal(cfg.paths.journal, writer=True)
    svc = CollectionService(cfg.site, journal, None, clock, period_s=60)
    stop = asyncio.Event()
    task = asyncio.create_task(svc.run(stop))
    pub = ClampPublisher(cfg.site, "GW-MQTT", sim.model, port=broker.port, client_id="clamp-sim-a",
                         username="gw-a", password="gw-a-pw", **broker.tls("gw-a"))
    try:
        while not svc.pushers[0].connected.is_set():
            await asyncio.sleep(0.05)
        await asyncio.to_thread(pub.connect)
        when = clock.now().replace(microsecond=0)
        # M-A1 (ISO time) on gw-a's topics; M-B1's topic is gw-b's: the ACL drops it from gw-a
        for info in pub.publish_at(when):
            await asyncio.to_thread(info.wait_for_publish, 10)
        expected = {m.id: pub.values_at(m, when) for m in pub.meters}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            sources = {decode_batch(d).source for _, d in journal.records()}
            if {"modbus-tcp", "mqtt/GW-MQTT"} <= sources and svc.pushers[0].acknowledged >= 1:
                break
            await asyncio.sleep(0.1)
    finally:
        pub.close()
        stop.set()
        await task
        await sim.stop()
        journal.close()
    got = {}
    for _, d in Journal(cfg.paths.journal).records():
        b = decode_batch(d)
        for r in b.readings:
            got.setdefault((b.source, r.meter), r)
    assert ("modbus-tcp", "M-TR") in got  # polled as before
    # pushed meters are not polled
    assert not any(s == "modbus-tcp" and m in ("M-A1", "M-B1") for s, m in got)
    r = got[("mqtt/GW-MQTT", "M-A1")]
    assert r.time == when  # the payload's time, not the arrival time
    assert r.counter == pytest.approx(expected["M-A1"]["counter"], abs=1e-9)  # kWh -> Wh -> kWh
    assert r.rate == pytest.approx(expected["M-A1"]["rate"], abs=1e-9)
    assert (r.voltage, r.current, r.power_factor) == tuple(expected["M-A1"][q] for q in ("voltage", "current",
                                                                                          "power_factor"))
    assert ("mqtt/GW-MQTT", "M-B1") not in got


def test_without_a_reachable_registry_signatures_fall_back_to_the_configured_key(tmp_path, broker, caplog):
    from collectors.mqtt.signed import device_registry_for

    cfg = make_cfg(tmp_path, broker, client_id="coll-noreg", device_key="0x" + "ab" * 20)
    with caplog.at_level(logging.WARNING, logger="collectors.mqtt.signed"):
        assert device_registry_for(cfg) is None
    assert "checked against the configured device_key only" in caplog.text


def test_queued_messages_survive_a_broker_restart(tmp_path):
    """persistence on: the absent collector's session and its QoS 1 messages outlive the broker process."""
    own = Mosquitto(tmp_path / "broker", USERS).start()
    try:
        cfg = make_cfg(tmp_path, own, client_id="coll-restart")
        collect(cfg, connected)
        a = Publisher(own, "gw-a")
        a.publish("plant/gw-a/c/M-A1", {"e": 2500, "p": 0, "v": 230, "i": 0, "pf": 1, "ts": T0})
        a.close()
        own.stop()
        own.start()
        collect(cfg, lambda s: s.acknowledged >= 1)
    finally:
        own.stop()
    assert [(r.meter, r.counter) for _, r in journaled(cfg)] == [("M-A1", 2.5)]


def test_a_reconnect_while_messages_wait_journals_each_message_once(tmp_path):
    """Messages held back (journal refusing) are delivered again by the broker after a reconnect to the
    same session: the collector drops its own copies, so each is journaled once."""
    from collectors.mqtt.client import MqttCollector
    from workspace.batch import encode_batch
    from workspace.errors import JournalError

    own = Mosquitto(tmp_path / "broker", USERS).start()
    cfg = make_cfg(tmp_path, own, client_id="coll-reconnect")
    journal = Journal(cfg.paths.journal, writer=True)
    refusing = True

    async def journal_batch(readings, source):
        if refusing:  # fault injection: a disk that refuses writes (see the test above)
            raise JournalError("injected: the disk refuses writes")
        journal.append(encode_batch("T1", journal.next_seq, source, readings))

    async def main():
        nonlocal refusing
        stop = asyncio.Event()
        c = MqttCollector(cfg.site.gateways[0], cfg.site.meters, Clock(), journal_batch)
        task = asyncio.create_task(c.run(stop))

        async def until(cond):
            deadline = time.monotonic() + 20
            while not cond() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)

        await until(c.connected.is_set)
        a = await asyncio.to_thread(Publisher, own, "gw-a")
        await asyncio.to_thread(a.publish, "plant/gw-a/c/M-A1", {"e": 3000, "p": 0, "v": 230, "i": 0, "pf": 1,
                                                                  "ts": T0})
        await asyncio.to_thread(a.close)
        await until(lambda: c.health["M-A1"].reads == 1)
        await asyncio.sleep(0.3)  # flushes refused: the message waits, unacknowledged
        await asyncio.to_thread(own.stop)
        await until(lambda: not c.connected.is_set())
        await asyncio.to_thread(own.start)
        await until(lambda: c.health["M-A1"].reads == 2)  # the broker's second delivery
        refusing = False
        await until(lambda: c.acknowledged >= 1)
        await asyncio.sleep(0.3)
        stop.set()
        await task
        return c

    try:
        c = asyncio.run(main())
    finally:
        own.stop()
        journal.close()
    assert c.health["M-A1"].reads == 2 and c.acknowledged == 1
    assert [(r.meter, r.counter) for _, r in journaled(cfg)] == [("M-A1", 3.0)]
