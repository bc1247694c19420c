"""A broker that goes away shows in the gateway's health (found by the fault day, benchmarks/fault_day.py):
from the disconnect until the collector is connected again the gateway counts as failing, with the reason, so
`tanjian status` lists it; before, its ``consecutive_failures`` stayed 0 and status showed nothing wrong."""

import asyncio
import time

from collectors.mqtt.client import MqttCollector
from tanjian.simulator.broker import Mosquitto
from tests.collectors.test_mqtt import USERS, make_cfg
from workspace.clock import Clock


def test_a_broker_down_is_a_failing_gateway_until_reconnected(tmp_path):
    own = Mosquitto(tmp_path / "broker", USERS).start()
    cfg = make_cfg(tmp_path, own, client_id="coll-down")
    gw = cfg.site.gateways[0].id

    async def journal_batch(readings, source):
        return len(readings)

    async def main():
        stop = asyncio.Event()
        c = MqttCollector(cfg.site.gateways[0], cfg.site.meters, Clock(), journal_batch)
        task = asyncio.create_task(c.run(stop))

        async def until(cond):
            deadline = time.monotonic() + 20
            while not cond() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)

        await until(c.connected.is_set)
        assert c.health[gw].consecutive_failures == 0
        await asyncio.to_thread(own.stop)
        await until(lambda: not c.connected.is_set())
        down = (c.health[gw].consecutive_failures, c.health[gw].last_error)
        await asyncio.to_thread(own.start)
        await until(c.connected.is_set)
        up = c.health[gw].consecutive_failures
        stop.set()
        await task
        return down, up

    try:
        (failures, error), up = asyncio.run(main())
    finally:
        own.stop()
    assert failures >= 1 and error.startswith(f"disconnected from 127.0.0.1:{own.port}"), (failures, error)
    assert up == 0
