"""MQTT devices by configuration: Tasmota, Shelly Gen1, Shelly Gen2 and the Shelly Pro 3EM, each mapped by a
preset (workspace/data/mqtt_presets.yaml), their payloads published in the vendors' documented shapes with
Debian's ``mosquitto_pub`` to a real mosquitto, collected and journaled.

Payload shapes, from the vendors' documentation:

- Tasmota ``tele/<topic>/SENSOR``: Tasmota docs "Power Monitoring"
  (https://tasmota.github.io/docs/Power-Monitoring/) and "MQTT" (https://tasmota.github.io/docs/MQTT/);
  a published one-phase example:
  https://blog.mylocalbytes.com/kb/2022-01-10/LB-PM-Power-Monitoring ({"Time": "2022-01-11T21:57:38",
  "ENERGY": {"TotalStartTime": ..., "Total": 3.705, ..., "Power": 5, ..., "Factor": 1.00, "Voltage": 233,
  "Current": 0.021}}: a local time without an offset); three phases give arrays ("Voltage": [229, 230, 231]).
- Shelly Gen1 ``shellies/<model>-<id>/relay/0/power`` (W) and ``.../relay/0/energy`` (watt-minutes), plain
  numbers: Shelly Gen1 API, MQTT section (https://shelly-api-docs.shelly.cloud/gen1/#shelly-plug-plugs-mqtt).
- Shelly Gen2 ``<id>/status/<component:id>`` (status_ntf) and ``<id>/events/rpc`` NotifyStatus
  ({"method": "NotifyStatus", "params": {"ts": ..., "switch:0": {changed attributes}}}):
  https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/Mqtt and
  https://shelly-api-docs.shelly.cloud/gen2/General/Notifications; Switch status (apower W, voltage,
  current, aenergy.total Wh): https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/Switch#status
- Shelly Pro 3EM ``em:0`` (total_act_power W, a_voltage, total_current) and ``emdata:0`` (total_act Wh):
  https://shelly-api-docs.shelly.cloud/gen2/Devices/Gen2/ShellyPro3EM/,
  https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/EM#status and
  https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/EMData#status
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.mqtt.combine import MinuteCombiner
from collectors.mqtt.payload import Fragment, PayloadError
from collectors.mqtt.signed import decode_message
from collectors.service import CollectionService
from tanjian.simulator.broker import BrokerUser, Mosquitto
from tests.small_sites import write_site
from workspace.batch import decode_batch
from workspace.clock import Clock
from workspace.config import load_config
from workspace.errors import ConfigError
from workspace.journal import Journal
from workspace.mqtt_mapping import mqtt_presets
from workspace.site import Meter

ROOT = Path(__file__).resolve().parents[2]
UTC = dt.timezone.utc
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
MOSQUITTO_PUB = shutil.which("mosquitto_pub")
USERS = [BrokerUser("collector", "c0llect-pw", read=("#",)),
         BrokerUser("devices", "dev1ces-pw", write=("#",))]
#: the simulated instant the collector starts at: 5 s into a minute, so that a test's messages share it
T0 = dt.datetime(2026, 3, 2, 8, 0, 5, tzinfo=UTC)

# -- the devices' payloads, in the vendors' documented shapes ---------------------------------------------
TASMOTA_1P = {"Time": "2026-03-02T16:00:03",  # local time (Asia/Shanghai), no offset, as Tasmota sends it
              "ENERGY": {"TotalStartTime": "2025-10-21T22:15:00", "Total": 3.705, "Yesterday": 0.028,
                         "Today": 0.026, "Period": 1, "Power": 5, "ApparentPower": 5, "ReactivePower": 0,
                         "Factor": 1.00, "Voltage": 233, "Current": 0.021}}
TASMOTA_3P = {"Time": "2026-03-02T16:00:04",
              "ENERGY": {"TotalStartTime": "2025-10-21T22:15:00", "Total": 1234.567, "Yesterday": 21.5,
                         "Today": 7.25, "Power": [1200, 1300, 1100], "ApparentPower": [1260, 1350, 1170],
                         "ReactivePower": [380, 360, 400], "Factor": [0.95, 0.96, 0.94], "Frequency": 50,
                         "Voltage": [229, 230, 231], "Current": [5.24, 5.65, 4.76]}}
SHELLY_SWITCH_STATUS = {"id": 0, "source": "init", "output": True, "apower": 123.4, "voltage": 229.8,
                        "current": 0.62, "aenergy": {"total": 12345.678, "by_minute": [1.9, 2.0, 2.1],
                                                     "minute_ts": 1772438400},
                        "temperature": {"tC": 41.2, "tF": 106.2}}
PRO3EM_EM = {"id": 0, "a_current": 4.029, "a_voltage": 236.1, "a_act_power": 951.2, "a_aprt_power": 951.9,
             "a_pf": 1, "a_freq": 50, "b_current": 4.022, "b_voltage": 236.2, "b_act_power": 950.5,
             "b_aprt_power": 951.1, "b_pf": 1, "b_freq": 50, "c_current": 4.011, "c_voltage": 236.0,
             "c_act_power": 952.0, "c_aprt_power": 952.6, "c_pf": 1, "c_freq": 50, "n_current": None,
             "total_current": 12.062, "total_act_power": 2853.7, "total_aprt_power": 2855.6,
             "user_calibrated_phase": []}
PRO3EM_EMDATA = {"id": 0, "a_total_act_energy": 2776175.19, "a_total_act_ret_energy": 0,
                 "b_total_act_energy": 2773960.32, "b_total_act_ret_energy": 0,
                 "c_total_act_energy": 2779426.27, "c_total_act_ret_energy": 0,
                 "total_act": 8329561.78, "total_act_ret": 0}


def notify(device: str, ts: float, **components) -> dict:
    """A Gen2 NotifyStatus frame as published on <device>/events/rpc."""
    return {"src": device, "dst": f"{device}/events", "method": "NotifyStatus",
            "params": {"ts": ts, **components}}


def meter(mid: str, mapping: dict, device: str = "D-WELD") -> dict:
    return {"id": mid, "medium": "electricity", "family": "clamp", "gateway": "GW-MQTT", "device": device,
            "workshop": "WS-A", "mqtt": mapping}


def make_cfg(folder: Path, broker: Mosquitto, meters: list[dict], client_id: str):
    (folder / "collector.pw").write_text("c0llect-pw\n")
    (folder / "collector.pw").chmod(0o600)
    gw = {"id": "GW-MQTT", "protocol": "mqtt", "host": "127.0.0.1", "port": broker.port,
          "mqtt": {"client_id": client_id, "username": "collector", "password_file": "collector.pw",
                   "tls": broker.tls("collector"), "flush_interval_s": 0.1}}
    return load_config(write_site(folder, [gw], meters))


def mosquitto_pub(broker: Mosquitto, topic: str, payload, qos: int = 1) -> None:
    """Publish one message with Debian's mosquitto_pub (TLS, the devices' account), QoS 1 by default."""
    t = broker.tls("devices")
    data = payload if isinstance(payload, str) else json.dumps(payload)
    subprocess.run([MOSQUITTO_PUB, "-h", "127.0.0.1", "-p", str(broker.port), "--cafile", t["ca_file"],
                    "--cert", t["cert_file"], "--key", t["key_file"], "-u", "devices", "-P", "dev1ces-pw",
                    "-q", str(qos), "-i", f"dev-{time.monotonic_ns()}", "-t", topic, "-m", data],
                   check=True, capture_output=True, timeout=20)


def collect(cfg, messages: list[tuple[str, object]], *, expect_acks: int, clock: Clock | None = None,
            timeout_s: float = 30.0):
    """Start the collection service, publish ``messages`` once it is connected, run until the broker has
    been acknowledged ``expect_acks`` messages; returns (service, journaled readings)."""
    broker = cfg._broker

    async def main():
        with Journal(cfg.paths.journal, writer=True) as journal:
            stop = asyncio.Event()
            svc = CollectionService(cfg.site, journal, None, clock or Clock.simulated(T0),
                                    health_path=cfg.paths.run / "health.json")
            task = asyncio.create_task(svc.run(stop))
            deadline = time.monotonic() + timeout_s
            while not all(p.connected.is_set() for p in svc.pushers) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            for topic, payload in messages:
                await asyncio.to_thread(mosquitto_pub, broker, topic, payload)
            while sum(p.acknowledged for p in svc.pushers) < expect_acks and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)
            stop.set()
            await task
            return svc

    svc = asyncio.run(main())
    with Journal(cfg.paths.journal) as j:
        readings = [r for _, data in j.records() for r in decode_batch(data).readings]
    return svc, readings


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    if MOSQUITTO_PUB is None:
        pytest.skip("mosquitto_pub (Debian mosquitto-clients) is not installed")
    b = Mosquitto(tmp_path_factory.mktemp("mosquitto-devices"), USERS).start()
    yield b
    b.stop()


def _cfg(tmp_path, broker, meters, client_id):
    cfg = make_cfg(tmp_path, broker, meters, client_id)
    cfg._broker = broker
    return cfg


# -- with mosquitto_pub and a real broker -------------------------------------------------------------------
def test_tasmota_one_and_three_phases_with_a_local_time_read_in_the_sites_zone(tmp_path, broker):
    cfg = _cfg(tmp_path, broker, [meter("M-T1", {"preset": "tasmota", "device": "tasmota_5A9AE8"}),
                                  meter("M-T3", {"preset": "tasmota_3phase", "device": "tasmota_3F0001"},
                                        "D-CNC")], "coll-tasmota")
    svc, rs = collect(cfg, [("tele/tasmota_5A9AE8/SENSOR", TASMOTA_1P),
                            ("tele/tasmota_3F0001/SENSOR", TASMOTA_3P)], expect_acks=2)
    by = {r.meter: r for r in rs}
    assert set(by) == {"M-T1", "M-T3"}, svc.pushers[0].health
    one, three = by["M-T1"], by["M-T3"]
    # "Time" has no offset: read in the site's zone (Asia/Shanghai), 16:00:03 there is 08:00:03 UTC
    assert one.time == dt.datetime(2026, 3, 2, 8, 0, 3, tzinfo=UTC)
    assert (one.counter, one.rate, one.voltage, one.current, one.power_factor) == \
        (3.705, 0.005, 233, 0.021, 1.0)
    assert three.time == dt.datetime(2026, 3, 2, 16, 0, 4, tzinfo=SHANGHAI)
    assert three.counter == 1234.567 and three.rate == pytest.approx(3.6)  # 1200 + 1300 + 1100 W
    assert (three.voltage, three.current) == (229, 5.24) and three.power_factor == pytest.approx(0.95)


def test_shelly_gen1_plain_numbers_on_two_topics_make_one_reading_with_watt_minutes(tmp_path, broker):
    cfg = _cfg(tmp_path, broker, [meter("M-G1", {"preset": "shelly_gen1", "device": "shellyplug-s-C18B12"})],
               "coll-gen1")
    svc, rs = collect(cfg, [("shellies/shellyplug-s-C18B12/relay/0/power", "25.73"),
                            ("shellies/shellyplug-s-C18B12/relay/0/energy", "600000")], expect_acks=2)
    assert len(rs) == 1, rs
    r = rs[0]
    assert r.meter == "M-G1" and r.counter == 10.0  # 600 000 W·min = 10 kWh
    assert r.rate == pytest.approx(0.02573) and math.isnan(r.voltage)
    assert svc.pushers[0].acknowledged == 2


def test_shelly_pro_3em_power_and_energy_topics_make_one_reading_a_minute_without_double_counting(tmp_path,
                                                                                                  broker):
    dev = "shellypro3em-c8f09e8a1b2c"
    cfg = _cfg(tmp_path, broker, [meter("M-3EM", {"preset": "shelly_pro_3em", "device": dev})], "coll-3em")
    repeat = dict(PRO3EM_EMDATA, total_act=8329600.0)  # a second energy status in the same minute
    svc, rs = collect(cfg, [(f"{dev}/status/em:0", PRO3EM_EM), (f"{dev}/status/emdata:0", PRO3EM_EMDATA),
                            (f"{dev}/status/emdata:0", repeat), (f"{dev}/status/em:0", PRO3EM_EM)],
                      expect_acks=4)
    assert len(rs) == 1, rs
    r = rs[0]
    assert r.counter == pytest.approx(8329.56178) and r.rate == pytest.approx(2.8537)
    assert (r.voltage, r.current) == (236.1, 12.062)
    assert r.time.replace(second=0, microsecond=0) == T0.replace(second=0)
    c = svc.pushers[0].combiners["M-3EM"]
    assert c.superseded == 2 and svc.pushers[0].acknowledged == 4  # each message acknowledged, once journaled
    assert svc.pushers[0].health["M-3EM"].superseded == 2


def test_shelly_gen2_status_topic_and_rpc_notifications(tmp_path, broker):
    sw, em = "shellyplus1pm-a8032ab12345", "shellypro3em-0cb815fc1d2e"
    ts = T0.timestamp()
    cfg = _cfg(tmp_path, broker, [
        meter("M-SW", {"preset": "shelly_gen2_switch", "device": sw}),
        meter("M-RPC", {"preset": "shelly_pro_3em_rpc", "device": em}, "D-CNC")], "coll-gen2")
    svc, rs = collect(cfg, [
        (f"{sw}/status/switch:0", SHELLY_SWITCH_STATUS),
        # one notification a component, each with what changed; then an event that carries no status
        (f"{em}/events/rpc", notify(em, ts, **{"em:0": {"id": 0, "total_act_power": 2853.7,
                                                        "a_voltage": 236.1, "total_current": 12.062}})),
        (f"{em}/events/rpc", {"src": em, "dst": f"{em}/events", "method": "NotifyEvent",
                              "params": {"ts": ts, "events": [{"component": "sys",
                                                               "event": "scheduled_restart"}]}}),
        (f"{em}/events/rpc", notify(em, ts + 1, **{"emdata:0": {"id": 0, "total_act": 8329561.78}})),
    ], expect_acks=4)
    by = {r.meter: r for r in rs}
    assert set(by) == {"M-SW", "M-RPC"}, rs
    s = by["M-SW"]
    assert (s.counter, s.rate, s.voltage, s.current) == (12.345678, pytest.approx(0.1234), 229.8, 0.62)
    e = by["M-RPC"]
    assert e.counter == pytest.approx(8329.56178) and e.rate == pytest.approx(2.8537)
    assert e.time == dt.datetime.fromtimestamp(ts + 1, UTC)  # the counter's notification time
    assert svc.pushers[0].rejected == 0


def test_a_payload_the_mapping_cannot_read_is_quarantined_naming_the_field(tmp_path, broker):
    cfg = _cfg(tmp_path, broker, [meter("M-T1", {"preset": "tasmota", "device": "tasmota_BAD"})], "coll-bad")
    bad = {"Time": "2026-03-02T16:00:03", "ENERGY": {"Total": "3.7", "Power": 5, "Voltage": 233,
                                                      "Current": 0.02, "Factor": 1}}
    svc, rs = collect(cfg, [("tele/tasmota_BAD/SENSOR", bad)], expect_acks=1)
    assert rs == [] and svc.pushers[0].rejected == 1
    assert "field 'ENERGY.Total' is str '3.7', not a number" in svc.pushers[0].health["M-T1"].last_error


@pytest.mark.parametrize("queue_qos0", [False, True])
def test_qos0_messages_sent_while_the_collector_is_away_are_lost_unless_the_broker_queues_them(tmp_path,
                                                                                                queue_qos0):
    """Tasmota and Shelly Gen1 publish at QoS 0 by default: the broker keeps nothing for the collector's
    persistent session while it is away, unless mosquitto's queue_qos0_messages is on (docs/collectors.md)."""
    if MOSQUITTO_PUB is None:
        pytest.skip("mosquitto_pub (Debian mosquitto-clients) is not installed")
    own = Mosquitto(tmp_path / "broker", USERS)
    if queue_qos0:
        own.conf.write_text(own.conf.read_text() + "queue_qos0_messages true\n")
    own.start()
    try:
        cfg = _cfg(tmp_path, own, [meter("M-T1", {"preset": "tasmota", "device": "plug"})], "coll-qos0")
        collect(cfg, [], expect_acks=0)  # the first connection: the broker now keeps the session
        mosquitto_pub(own, "tele/plug/SENSOR", TASMOTA_1P, qos=0)  # while the collector is away
        svc, rs = collect(cfg, [], expect_acks=1, timeout_s=4.0)
    finally:
        own.stop()
    assert [r.counter for r in rs] == ([3.705] if queue_qos0 else [])


# -- configuration ---------------------------------------------------------------------------------------
def _site_doc(tmp_path, mapping):
    path = write_site(tmp_path, [{"id": "GW-MQTT", "protocol": "mqtt", "host": "127.0.0.1", "port": 1883,
                                  "mqtt": {"client_id": "c"}}], [meter("M-1", mapping)])
    return path


def test_field_paths_are_jmespath_checked_when_the_configuration_loads(tmp_path):
    ok = {"topic": "t/1", "counter": 'params."switch:0".aenergy.total', "rate": "ENERGY.Power[0]",
          "voltage": "sum(ENERGY.Voltage)", "units": {"counter": "Wh"}}
    cfg = load_config(_site_doc(tmp_path, ok))
    assert cfg.site.meters[0].mqtt.counter == 'params."switch:0".aenergy.total'
    for path, why in [("ENERGY.Power.0", "'ENERGY.Power.0' is not a JMESPath expression"),
                      ("params.switch:0.aenergy.total", "quote keys with ':'")]:
        with pytest.raises(ConfigError) as e:
            load_config(_site_doc(tmp_path, dict(ok, counter=path)))
        assert "site.meters[0].mqtt.counter" in str(e.value) and why in str(e.value)
        assert "tanjian.yaml:" in str(e.value)


def test_a_sample_payload_is_evaluated_at_config_check(tmp_path):
    mapping = {"preset": "tasmota", "device": "x", "sample": TASMOTA_1P}
    assert load_config(_site_doc(tmp_path, mapping)).site.meters[0].mqtt.sample == TASMOTA_1P
    # a field the device does not send, a time that does not parse: both named at config check
    bad = {"topic": "tele/x/SENSOR", "counter": "ENERGY.Totl", "rate": "ENERGY.Power[0]",
           "time": {"field": "Time"}, "sample": dict(TASMOTA_1P, Time="yesterday")}
    with pytest.raises(ConfigError) as e:
        load_config(_site_doc(tmp_path, bad))
    text = str(e.value)
    assert ("site.meters[0].mqtt.sample: meter 'M-1': counter field 'ENERGY.Totl' is missing in the sample"
            in text)
    assert "rate field 'ENERGY.Power[0]' is missing in the sample" in text  # a number, not an array
    assert "time field 'Time': 'yesterday' is not ISO 8601 in the sample" in text
    parts = {"preset": "shelly_pro_3em", "device": "d",
             "parts": [{"topic": "d/status/em:0", "rate": "total_act_power", "units": {"rate": "W"},
                        "sample": PRO3EM_EM},
                       {"topic": "d/status/emdata:0", "counter": "total", "sample": PRO3EM_EMDATA}]}
    with pytest.raises(ConfigError) as e:
        load_config(_site_doc(tmp_path, parts))
    assert ("site.meters[0].mqtt.parts[1].sample: meter 'M-1': counter field 'total' is missing"
            in str(e.value))


def test_presets_are_data_citing_their_source_and_each_validates(tmp_path):
    presets = mqtt_presets()
    assert {"tasmota", "tasmota_3phase", "shelly_gen1", "shelly_gen2_switch", "shelly_gen2_switch_rpc",
            "shelly_pro_3em", "shelly_pro_3em_rpc"} <= set(presets)
    for name, p in presets.items():
        assert "https://" in p["source"], name
        m = Meter.model_validate(meter("M", {"preset": name, "device": "dev-1"}))
        assert all("dev-1" in t for t in m.mqtt.topics) and m.mqtt.sources()
    with pytest.raises(ConfigError, match="unknown preset 'tasmato'"):
        load_config(_site_doc(tmp_path, {"preset": "tasmato", "device": "x"}))
    with pytest.raises(ConfigError, match="needs 'device'"):
        load_config(_site_doc(tmp_path, {"preset": "tasmota"}))
    # the mapping's own keys override the preset's (a Tasmota whose clock is set to UTC)
    m = Meter.model_validate(meter("M", {"preset": "tasmota", "device": "d",
                                         "time": {"field": "Time", "zone": "UTC"}}))
    assert m.mqtt.time.zone == "UTC" and m.mqtt.counter == "ENERGY.Total"
    with pytest.raises(ValueError, match="give either 'parts' or a single topic, not both \\(units beside"):
        Meter.model_validate(meter("M", {"preset": "shelly_pro_3em", "device": "d", "units": {"rate": "W"}}))
    with pytest.raises(ValueError, match="one of the parts must give the counter"):
        Meter.model_validate(meter("M", {"parts": [{"topic": "a", "rate": "p"}]}))
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        Meter.model_validate(meter("M", {"topic": "t", "counter": "e",
                                         "time": {"field": "t", "zone": "Mars/Olympus"}}))


def test_the_example_device_configuration_validates():
    cfg = load_config(ROOT / "workspace" / "examples" / "mqtt-devices.yaml")
    presets = {m.mqtt.preset for m in cfg.site.meters if m.mqtt is not None}
    assert {"tasmota", "shelly_gen1", "shelly_pro_3em"} <= presets


# -- the payload mapping and the minute combiner ----------------------------------------------------------
ARRIVAL = dt.datetime(2026, 3, 2, 8, 0, 30, tzinfo=UTC)


def test_an_offset_less_time_is_read_in_the_given_zone_and_refused_without_one():
    m = Meter.model_validate(meter("M", {"preset": "tasmota", "device": "d"}))
    data = json.dumps(TASMOTA_1P).encode()
    assert decode_message(m, data, "tele/d/SENSOR", ARRIVAL, zone="Asia/Shanghai").time == \
        dt.datetime(2026, 3, 2, 8, 0, 3, tzinfo=UTC)
    with pytest.raises(PayloadError, match="has no UTC offset"):
        decode_message(m, data, "tele/d/SENSOR", ARRIVAL)
    for edge in ("0001-01-01T00:00:00", "9999-12-31T23:59:59-08:00"):
        with pytest.raises(PayloadError, match="is outside the years 1..9999 in UTC"):
            decode_message(m, json.dumps(dict(TASMOTA_1P, Time=edge)).encode(), "tele/d/SENSOR", ARRIVAL,
                           zone="Asia/Shanghai")


def test_fragments_combine_into_one_reading_a_minute():
    t = dt.datetime(2026, 3, 2, 8, 0, 10, tzinfo=UTC)
    c = MinuteCombiner("M", {"counter", "rate", "voltage"}, wait_s=30)
    frag = lambda dt_s, **v: Fragment("M", t + dt.timedelta(seconds=dt_s), v)  # noqa: E731
    assert c.add(frag(0, rate=2.0, voltage=230.0), 1) == []
    assert c.add(frag(5, rate=9.0), 2) == []  # the minute's first rate is kept
    [o] = c.add(frag(20, counter=100.0), 3)  # complete: the reading is made at once
    assert (o.reading.counter, o.reading.rate, o.reading.voltage, o.refs) == (100.0, 2.0, 230.0, [1, 2, 3])
    assert o.reading.time == t + dt.timedelta(seconds=20)
    [late] = c.add(frag(30, counter=100.5), 4)  # the same minute again: superseded, acknowledged alone
    assert late.reading is None and late.refs == [4] and c.superseded == 2
    # a minute without its voltage closes after the wait with what came; one without a counter gives nothing
    assert c.add(frag(60, counter=101.0, rate=3.0), 5) == []
    assert c.add(frag(120, rate=4.0), 6) == []
    assert c.due(t + dt.timedelta(seconds=60 + 50 + 29)) == []
    [o2] = c.due(t + dt.timedelta(seconds=60 + 50 + 30))
    assert (o2.reading.counter, o2.reading.rate, o2.refs) == (101.0, 3.0, [5])
    assert math.isnan(o2.reading.voltage)
    [o3] = c.due(t + dt.timedelta(minutes=10))
    assert o3.reading is None and o3.refs == [6] and c.incomplete == 1
    # a fragment older than a closed minute is superseded; an empty one is only acknowledged
    assert c.add(frag(0, counter=99.0), 7)[0].refs == [7]
    assert c.add(Fragment("M", t + dt.timedelta(minutes=20), {}), 8)[0].reading is None
    assert c.reset() == []


def test_the_simulator_writes_every_presets_device_shape_and_the_collector_reads_it_back():
    from tanjian.simulator.mqtt import messages_for

    values = {"counter": 1234.5, "rate": 2.5, "voltage": 230.0, "current": 10.0, "power_factor": 0.95}
    when = dt.datetime(2026, 3, 2, 8, 0, 20, tzinfo=UTC)
    for name in mqtt_presets():
        m = Meter.model_validate(meter("M", {"preset": name, "device": "dev-1"}))
        msgs = messages_for(m, when, values)
        assert [t for t, _ in msgs] == m.mqtt.topics
        got = [decode_message(m, p, t, when, zone="Asia/Shanghai") for t, p in msgs]
        if m.mqtt.combined:
            c = MinuteCombiner("M", {q for src in m.mqtt.sources() for q in src.fields()})
            got = [o.reading for i, f in enumerate(got) for o in c.add(f, i)]
        [r] = got
        for q in {q for src in m.mqtt.sources() for q in src.fields()}:
            assert getattr(r, q) == pytest.approx(values[q], rel=1e-12), (name, q)
    # Shelly Gen1: bare numbers, the counter in watt-minutes; a mean of integers too large for a float
    t3 = Meter.model_validate(meter("M", {"preset": "tasmota_3phase", "device": "d"}))
    with pytest.raises(PayloadError, match="'avg\\(ENERGY.Factor\\)' cannot be evaluated"):
        decode_message(t3, json.dumps({"ENERGY": {"Total": 1, "Power": [1], "Voltage": [1], "Current": [1],
                                                  "Factor": [10**400, 1]}}).encode(), "t", when)
    g1 = Meter.model_validate(meter("M", {"preset": "shelly_gen1", "device": "d"}))
    assert messages_for(g1, when, values) == [("shellies/d/relay/0/power", b"2500.0"),
                                              ("shellies/d/relay/0/energy", b"74070000.0")]


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.just(10**400) | st.floats()
                           | st.text(max_size=6),
                           lambda kids: st.lists(kids, max_size=4)
                           | st.dictionaries(st.sampled_from(["ENERGY", "Power", "Total", "Voltage", "Factor",
                                                              "Time", "params", "em:0", "emdata:0",
                                                              "switch:0", "total_act", "ts", "x"]),
                                             kids, max_size=5), max_leaves=16)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(mqtt_presets())), json_values)
def test_fuzz_every_preset_maps_or_refuses_clearly(name, obj):
    """Any JSON on any preset's topics gives a reading, a fragment or a PayloadError, nothing else."""
    m = Meter.model_validate(meter("M", {"preset": name, "device": "d"}))
    for topic in m.mqtt.topics:
        try:
            r = decode_message(m, json.dumps(obj).encode(), topic, ARRIVAL, zone="Asia/Shanghai")
        except PayloadError as exc:
            assert topic in str(exc) or "meter M" in str(exc)
            continue
        values = r.values.values() if isinstance(r, Fragment) else [r.counter]
        assert all(math.isfinite(x) for x in values) and r.time.tzinfo is not None
