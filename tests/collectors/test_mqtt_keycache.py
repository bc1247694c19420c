"""The MQTT collector's DeviceRegistry cache: one ``keyOf`` call per device key and TTL, a revocation
seen once the TTL has run, an unknown key asked again at every message, a failed signature forgetting
the key. Real TLS mosquitto, the real collection service, the DeviceRegistry on the in-process
eth-tester chain; registry calls counted by the collector itself (``registry_calls``).

The cache's time source is the test's own counter instead of the monotonic clock, so "after the TTL"
is a step of the test, not a wait (no timing is asserted)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time

import pytest

from collectors.service import CollectionService
from tanjian.simulator.broker import Mosquitto
from tanjian.simulator.mqtt import signed_envelope
from tests.collectors.test_mqtt import USERS, Publisher, journaled, make_cfg
from workspace.clock import Clock
from workspace.config import load_config
from workspace.journal import Journal

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
TOPIC = "plant/gw-a/c/M-A1"


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    b = Mosquitto(tmp_path_factory.mktemp("mosquitto"), USERS).start()
    yield b
    b.stop()


@pytest.fixture()
def chain():
    """A fresh eth-tester chain with the DeviceRegistry; key 0x33…33 registered, 0x44…44 not yet."""
    from eth_account import Account

    from chain._tx import send
    from chain.deploy import deploy_contracts
    from chain.node import connect
    from chain.registry import DEVICE_REGISTRY, KeyKind, from_deployment, id32

    w3 = connect("tester")
    dev = from_deployment(w3, deploy_contracts(w3, w3.eth.accounts[0]), DEVICE_REGISTRY)
    known, later = Account.from_key("0x" + "33" * 32), Account.from_key("0x" + "44" * 32)
    send(w3, dev.functions.register(known.address, KeyKind.DEVICE, id32("T1"), w3.eth.accounts[3]),
         w3.eth.accounts[0])

    def revoke(account):
        send(w3, dev.functions.revoke(account.address), w3.eth.accounts[0])

    def register(account):
        send(w3, dev.functions.register(account.address, KeyKind.DEVICE, id32("T1"), w3.eth.accounts[3]),
             w3.eth.accounts[0])

    return dev, known, later, revoke, register


def _cfg(tmp_path, broker, key, ttl_s=None):
    cfg = make_cfg(tmp_path, broker, client_id=f"coll-keys-{time.monotonic_ns()}", require_signature=True,
                   device_key=key.address)
    if ttl_s is not None:
        path = tmp_path / "tanjian.yaml"
        doc = json.loads(path.read_text())
        doc["site"]["gateways"][0]["mqtt"]["registry_ttl_s"] = ttl_s
        path.write_text(json.dumps(doc))
        cfg = load_config(path)
    return cfg


def _body(minute: int) -> bytes:
    t = T0 + dt.timedelta(minutes=minute)
    return json.dumps({"e": 1000 * (minute + 1), "p": 0, "v": 230, "i": 0, "pf": 1,
                       "ts": t.strftime("%Y-%m-%dT%H:%M:%SZ")}).encode()


def _scenario(cfg, broker, registry, steps):
    """Run the collection service; ``steps(svc, send, now)`` is a coroutine driving it. ``send(payload)``
    publishes one message and returns once the collector has handled it (journaled or refused, then
    acknowledged); ``now`` is the cache's time source [s], a one-element list to move."""
    now = [1000.0]

    async def main():
        journal = Journal(cfg.paths.journal, writer=True)
        stop = asyncio.Event()
        svc = CollectionService(cfg.site, journal, None, Clock(), device_registry=registry)
        svc.pushers[0].key_cache.now = lambda: now[0]
        task = asyncio.create_task(svc.run(stop))
        pusher = svc.pushers[0]
        deadline = time.monotonic() + 30
        while not pusher.connected.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        pub = await asyncio.to_thread(Publisher, broker, "gw-a")

        async def send(payload: bytes):
            before = pusher.acknowledged
            await asyncio.to_thread(pub.publish, TOPIC, payload)
            limit = time.monotonic() + 20  # ends a hung test only
            while pusher.acknowledged <= before and time.monotonic() < limit:
                await asyncio.sleep(0.02)
            assert pusher.acknowledged == before + 1

        try:
            await steps(svc, send, now)
        finally:
            await asyncio.to_thread(pub.close)
            stop.set()
            await task
            journal.close()
        return svc

    return asyncio.run(main())


def test_a_revoked_key_is_refused_once_the_ttl_has_run(tmp_path, broker, chain):
    dev, key, _, revoke, _ = chain
    cfg = _cfg(tmp_path, broker, key)  # the default TTL, 300 s
    assert cfg.site.gateways[0].mqtt.registry_ttl_s == 300.0

    async def steps(svc, send, now):
        c = svc.pushers[0]
        await send(signed_envelope(key, _body(0)))
        await send(signed_envelope(key, _body(1)))
        assert c.registry_calls == 1  # the second message used the registry's first answer
        await asyncio.to_thread(revoke, key)
        now[0] += 299.0
        await send(signed_envelope(key, _body(2)))  # within the TTL: still accepted (the trade-off)
        assert c.registry_calls == 1
        now[0] += 1.0  # 300 s since the answer was fetched
        await send(signed_envelope(key, _body(3)))  # asked again: revoked, refused
        assert c.registry_calls == 2
        await send(signed_envelope(key, _body(4)))  # the revoked record is kept too: refused, no call
        assert c.registry_calls == 2 and c.key_cache.hits == 3

    svc = _scenario(cfg, broker, dev, steps)
    assert [r.counter for _, r in journaled(cfg)] == [1.0, 2.0, 3.0]
    h = svc.pushers[0].health["M-A1"]
    assert h.errors == 2 and "was revoked in block" in h.last_error


def test_an_unknown_key_is_asked_at_every_message_and_a_failed_signature_forgets_the_key(tmp_path, broker,
                                                                                       chain):
    dev, _, later, _, register = chain
    cfg = _cfg(tmp_path, broker, later, ttl_s=3600)

    async def steps(svc, send, now):
        c = svc.pushers[0]
        await send(signed_envelope(later, _body(0)))  # not registered yet: refused
        await send(signed_envelope(later, _body(1)))  # asked again, still refused
        assert c.registry_calls == 2
        await asyncio.to_thread(register, later)
        await send(signed_envelope(later, _body(2)))  # registered: accepted at once, no TTL to wait
        await send(signed_envelope(later, _body(3)))
        assert c.registry_calls == 3
        tampered = json.loads(signed_envelope(later, _body(4)))
        tampered["payload"] = tampered["payload"].replace("5000", "9000")
        await send(json.dumps(tampered).encode())  # the signature fails before the registry is asked
        assert c.registry_calls == 3
        await send(signed_envelope(later, _body(5)))  # the key was forgotten: asked afresh
        assert c.registry_calls == 4

    svc = _scenario(cfg, broker, dev, steps)
    assert [r.counter for _, r in journaled(cfg)] == [3.0, 4.0, 6.0]
    assert svc.pushers[0].health["M-A1"].errors == 3


def test_ttl_zero_asks_the_registry_at_every_message(tmp_path, broker, chain):
    dev, key, _, _, _ = chain
    cfg = _cfg(tmp_path, broker, key, ttl_s=0)

    async def steps(svc, send, now):
        for m in range(3):
            await send(signed_envelope(key, _body(m)))
        assert svc.pushers[0].registry_calls == 3

    _scenario(cfg, broker, dev, steps)
    assert [r.counter for _, r in journaled(cfg)] == [1.0, 2.0, 3.0]


def test_a_negative_ttl_is_a_configuration_error_naming_the_field(tmp_path, broker):
    from eth_account import Account

    from workspace.errors import ConfigError

    with pytest.raises(ConfigError, match=r"site\.gateways\[0\]\.mqtt\.registry_ttl_s"):
        _cfg(tmp_path, broker, Account.from_key("0x" + "33" * 32), ttl_s=-1)
