"""One reading per meter and minute for pushed readings (collectors/minute.py, in the service's journal path).

Hand-worked slots and decisions, the store's own slot for the awkward instant, and a device publishing
every 10 s through a real TLS mosquitto into the journal and the store: one reading a minute, no
DUPLICATE flag, the rest counted ``superseded`` in the meter's health; a restart within the minute.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time

import numpy as np
import pytest

from collectors.health import device_health
from collectors.minute import MinuteRule, minute_slot
from collectors.polling import DeviceHealth
from collectors.service import CollectionService
from tanjian.simulator.broker import Mosquitto
from tests.collectors.test_mqtt import USERS, Publisher, journaled, make_cfg
from workspace.batch import Reading, encode_batch
from workspace.clock import Clock
from workspace.journal import Journal
from workspace.store import Store

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # 1772409600 s since 1970 = 29540160 minutes
NAN = float("nan")


def reading(meter: str, t: dt.datetime, counter: float) -> Reading:
    return Reading(meter, t, counter, NAN, NAN, NAN, NAN, 0)


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    b = Mosquitto(tmp_path_factory.mktemp("mosquitto"), USERS).start()
    yield b
    b.stop()


class _NoBroker:
    """Port and TLS for a configuration that never connects (store-only tests)."""

    port = 1

    def tls(self, user):
        return None


# -- the slot ------------------------------------------------------------------------------------------
def test_the_minute_slot_is_the_utc_minute_of_the_time_truncated_to_the_millisecond():
    assert minute_slot(T0) == 1772409600 // 60 == 29540160
    assert minute_slot(T0 + dt.timedelta(seconds=59, microseconds=999_600)) == 29540160  # .9996 s: ms .999
    assert minute_slot(T0 + dt.timedelta(seconds=60)) == 29540161
    assert minute_slot(T0 - dt.timedelta(microseconds=1)) == 29540159
    # an offset changes nothing: 08:00:30+08:00 is 00:00:30Z
    changsha = dt.timezone(dt.timedelta(hours=8))
    assert minute_slot(dt.datetime(2026, 3, 2, 8, 0, 30, tzinfo=changsha)) == 29540160
    with pytest.raises(ValueError, match="naive"):
        minute_slot(dt.datetime(2026, 3, 2))


def test_the_store_puts_the_awkward_instant_in_the_same_slot(tmp_path):
    """00:00:59.9996Z: journaled as 00:00:59.999Z, folded into the 00:00 row, as minute_slot says."""
    cfg = make_cfg(tmp_path, _NoBroker(), client_id="c-slot")
    j = Journal(cfg.paths.journal, writer=True)
    st = Store.open(cfg.paths.store, cfg.site, create=True)
    awkward = T0 + dt.timedelta(seconds=59, microseconds=999_600)
    j.append(encode_batch("T1", 0, "test", [reading("M-A1", awkward, 5.0)]))
    st.fold(j)
    j.close()
    ds = st.dataset()
    assert float(ds.counter.sel(meter="M-A1", time=np.datetime64("2026-03-02T00:00"))) == 5.0
    assert np.isnan(float(ds.counter.sel(meter="M-A1", time=np.datetime64("2026-03-02T00:01"))))


# -- the rule ------------------------------------------------------------------------------------------
def test_first_reading_of_each_minute_is_kept_the_later_ones_superseded():
    h = DeviceHealth("M-A1")
    rule = MinuteRule({"M-A1": h}.get)
    every10s = [reading("M-A1", T0 + dt.timedelta(seconds=5 + 10 * k), 100.0 + k) for k in range(12)]
    kept = rule.filter(every10s[:7])  # 00:00:05 .. 00:00:55, then 00:01:05
    assert [r.counter for r in kept] == [100.0, 106.0]
    assert h.superseded == 5 and rule.superseded == 5
    kept = rule.filter(every10s[7:])  # 00:01:15 .. 00:01:55: the minute already has its reading
    assert kept == [] and h.superseded == 10
    assert rule.last_slot("M-A1") == 29540161


def test_late_data_for_an_earlier_minute_is_kept_once():
    h = DeviceHealth("M-A1")
    rule = MinuteRule({"M-A1": h}.get)
    rule.filter([reading("M-A1", T0 + dt.timedelta(minutes=5), 10.0)])
    late = [reading("M-A1", T0 + dt.timedelta(minutes=2, seconds=40), 7.0),  # a buffer sent after an outage
            reading("M-A1", T0 + dt.timedelta(minutes=2, seconds=10), 6.9),  # same minute, earlier: this one
            reading("M-A1", T0 + dt.timedelta(minutes=3, seconds=10), 8.0)]
    kept = rule.filter(late)
    assert [r.counter for r in kept] == [6.9, 8.0] and h.superseded == 1  # the batch's earliest of 00:02
    assert rule.filter([reading("M-A1", T0 + dt.timedelta(minutes=2, seconds=50), 7.1)]) == []  # a repeat
    assert h.superseded == 2 and rule.last_slot("M-A1") == 29540165  # the newest slot stays 00:05


def test_a_decision_not_committed_leaves_no_trace():
    """The journal refused the batch: offered again, the same readings are judged as the first time."""
    rule = MinuteRule()
    batch = [reading("M-A1", T0 + dt.timedelta(seconds=s), s) for s in (10, 20)]
    first = rule.admit(batch)
    assert [r.counter for r in first.kept] == [10] and rule.last_slot("M-A1") is None
    again = rule.admit(batch)
    rule.commit(again)
    assert [r.counter for r in again.kept] == [10] and rule.superseded == 1


def test_meters_are_independent():
    rule = MinuteRule()
    kept = rule.filter([reading("M-A1", T0, 1.0), reading("M-B1", T0 + dt.timedelta(seconds=1), 2.0),
                        reading("M-A1", T0 + dt.timedelta(seconds=2), 3.0)])
    assert [(r.meter, r.counter) for r in kept] == [("M-A1", 1.0), ("M-B1", 2.0)]


def test_the_last_minutes_are_recovered_from_the_journal_tail(tmp_path):
    j = Journal(tmp_path / "journal", writer=True)
    j.append(encode_batch("T1", 0, "mqtt/G", [reading("M-A1", T0 + dt.timedelta(minutes=3, seconds=5), 1.0),
                                              reading("M-X", T0, 9.0)]))
    # a correction is not a collected reading: its minute is not taken
    j.append(encode_batch("T1", 1, "inbox", [reading("M-B1", T0 + dt.timedelta(minutes=3), 2.0)],
                          note={"kind": "correction", "author": "a", "reason": "r"}))
    rule = MinuteRule()
    assert rule.recover(j, ["M-A1", "M-B1"]) == 1
    j.close()
    assert rule.last_slot("M-A1") == 29540163 and rule.last_slot("M-B1") is None
    assert rule.last_slot("M-X") is None  # not a pushing meter
    kept = rule.filter([reading("M-A1", T0 + dt.timedelta(minutes=3, seconds=45), 1.1),
                        reading("M-A1", T0 + dt.timedelta(minutes=4, seconds=5), 1.2),
                        reading("M-B1", T0 + dt.timedelta(minutes=3, seconds=30), 2.1)])
    assert [r.counter for r in kept] == [1.2, 2.1]


# -- through a real broker into the journal and the store -------------------------------------------------
def _run(cfg, journal, store, until, timeout_s=30.0, publish=None):
    """The collection service with the gateway's session; ``publish(service)`` runs in a thread once it
    is connected; then until ``until(service)`` holds (the limit only ends a hung test)."""

    async def main():
        stop = asyncio.Event()
        svc = CollectionService(cfg.site, journal, store, Clock(), health_path=cfg.paths.run / "health.json")
        task = asyncio.create_task(svc.run(stop))
        deadline = time.monotonic() + timeout_s
        while not all(p.connected.is_set() for p in svc.pushers) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if publish is not None:
            await asyncio.to_thread(publish, svc)
        while not until(svc) and time.monotonic() < deadline and not task.done():
            await asyncio.sleep(0.05)
        stop.set()
        await task
        return svc

    return asyncio.run(main())


def _msg(t: dt.datetime, wh: int) -> dict:
    return {"e": wh, "p": 2500, "v": 230.0, "i": 10.9, "pf": 0.99, "ts": t.strftime("%Y-%m-%dT%H:%M:%SZ")}


def test_a_device_publishing_every_10_s_gives_one_reading_a_minute(tmp_path, broker):
    cfg = make_cfg(tmp_path, broker, client_id="coll-10s")
    journal = Journal(cfg.paths.journal, writer=True)
    store = Store.open(cfg.paths.store, cfg.site, create=True)
    # 00:00:00 .. 00:02:50 every 10 s: 18 messages, 6 a minute; the counter climbs 1 Wh a message
    times = [T0 + dt.timedelta(seconds=10 * k) for k in range(18)]

    def publish(_svc):
        a = Publisher(broker, "gw-a")
        for k, t in enumerate(times):
            a.publish("plant/gw-a/c/M-A1", _msg(t, 1_000_000 + k))
        a.close()

    svc = _run(cfg, journal, store, lambda s: s.pushers[0].acknowledged >= 18, publish=publish)
    assert svc.pushers[0].acknowledged == 18  # every message acknowledged to the broker
    got = [(src, r.time, r.counter) for src, r in journaled(cfg)]
    # the first of each minute: 1000000, 1000006, 1000012 Wh = 1000.000, 1000.006, 1000.012 kWh
    assert got == [("mqtt/GW-MQTT", T0, 1000.0),
                   ("mqtt/GW-MQTT", T0 + dt.timedelta(minutes=1), 1000.006),
                   ("mqtt/GW-MQTT", T0 + dt.timedelta(minutes=2), 1000.012)]
    h = json.loads((cfg.paths.run / "health.json").read_text())["devices"]["M-A1"]
    assert (h["reads"], h["superseded"], h["errors"]) == (18, 15, 0)
    table = device_health(cfg.paths.data_dir, cfg.site)
    assert int(table.loc["M-A1", "superseded"]) == 15 and int(table.loc["M-B1", "superseded"]) == 0

    # the store (folded when the service stopped): three minutes, one reading each, nothing DUPLICATE
    ds = store.dataset()
    for m, kwh in enumerate((1000.0, 1000.006, 1000.012)):
        assert float(ds.counter.sel(meter="M-A1", time=np.datetime64(f"2026-03-02T00:0{m}"))) == kwh
    q = store.quality_report("2026-03-02 07:00", "2026-03-02 09:00", meters=["M-A1"])  # local time, +08:00
    assert int(q.loc["M-A1", "readings"]) == 3 and int(q.loc["M-A1", "duplicate"]) == 0

    # a restart within the last minute: that minute's later message is superseded (the journal's tail
    # says 00:02 has its reading), the next minute's is journaled, and a late one for 23:59 too
    def publish_again(_svc):
        a = Publisher(broker, "gw-a")
        a.publish("plant/gw-a/c/M-A1", _msg(T0 + dt.timedelta(minutes=2, seconds=55), 1_000_018))
        a.publish("plant/gw-a/c/M-A1", _msg(T0 + dt.timedelta(minutes=3, seconds=5), 1_000_019))
        a.publish("plant/gw-a/c/M-A1", _msg(T0 - dt.timedelta(seconds=30), 999_997))
        a.close()

    svc = _run(cfg, journal, store, lambda s: s.pushers[0].acknowledged >= 3, publish=publish_again)
    journal.close()
    got = [(r.time, r.counter) for _, r in journaled(cfg)][3:]
    assert sorted(got) == [(T0 - dt.timedelta(seconds=30), 999.997),
                           (T0 + dt.timedelta(minutes=3, seconds=5), 1000.019)]
    assert svc.pushers[0].health["M-A1"].superseded == 1
    q = store.quality_report("2026-03-02 07:00", "2026-03-02 09:00", meters=["M-A1"])
    assert int(q.loc["M-A1", "readings"]) == 5 and int(q.loc["M-A1", "duplicate"]) == 0
    assert int(q.loc["M-A1", "out_of_order"]) == 1  # the late 23:59 reading, flagged as such
