"""Modbus TCP collection: a pool of pymodbus async clients per gateway, one request in flight per
connection, a timeout per device and an exponential back-off for devices that fail, so that a dead
meter never stalls the others.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass, field

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from collectors.registers import FAMILIES, decode
from workspace.batch import Reading
from workspace.clock import Clock
from workspace.errors import CollectorError
from workspace.site import Gateway, Meter

log = logging.getLogger(__name__)


@dataclass
class DeviceHealth:
    """What the collector knows of one meter's link: for `tanjian status` and the dashboards."""

    meter: str
    last_seen: float | None = None  # wall clock [s since epoch]
    reads: int = 0
    errors: int = 0
    consecutive_failures: int = 0
    last_error: str | None = None
    latency_ms: float | None = None
    next_attempt: float = 0.0  # wall clock [s since epoch]; back-off

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class GatewayPool:
    """``connections`` TCP clients to one gateway; each serves one request at a time."""

    def __init__(self, gateway: Gateway, port_offset: int = 0):
        self.gateway = gateway
        self.port = gateway.port + port_offset
        self._free: asyncio.Queue[AsyncModbusTcpClient] = asyncio.Queue()
        self._clients: list[AsyncModbusTcpClient] = []
        for i in range(gateway.connections):
            c = AsyncModbusTcpClient(gateway.host, port=self.port, timeout=gateway.timeout_s, retries=0,
                                     reconnect_delay=0.5, reconnect_delay_max=10, name=f"{gateway.id}-{i}")
            self._clients.append(c)
            self._free.put_nowait(c)

    async def read(self, meter: Meter) -> dict[str, float]:
        """Read and decode every field of a meter's family; raises CollectorError saying why."""
        fam = FAMILIES[meter.family]
        client = await self._free.get()
        try:
            if not client.connected:
                ok = await asyncio.wait_for(client.connect(), self.gateway.timeout_s * 2)
                if not ok:
                    raise CollectorError(f"gateway {self.gateway.id} ({self.gateway.host}:{self.port}) "
                                         f"refused the connection")
            blocks = {}
            for table, address, count in fam.blocks():
                fn = client.read_input_registers if table == "input" else client.read_holding_registers
                resp = await asyncio.wait_for(fn(address, count=count, device_id=meter.unit_id),
                                              self.gateway.timeout_s * 1.5)
                if resp.isError():
                    code = getattr(resp, "exception_code", None)
                    raise CollectorError(f"meter {meter.id} (unit {meter.unit_id} on {self.gateway.id}): "
                                         f"exception {code} reading {table} registers {address}..+{count}")
                if len(resp.registers) != count:
                    raise CollectorError(f"meter {meter.id}: asked {count} registers, got {len(resp.registers)}")
                blocks[(table, address)] = resp.registers
            return decode(fam, blocks)
        except (asyncio.TimeoutError, TimeoutError):
            client.close()  # a late answer must never be taken for the next request's
            raise CollectorError(f"meter {meter.id} (unit {meter.unit_id} on {self.gateway.id} "
                                 f"{self.gateway.host}:{self.port}): no answer within "
                                 f"{self.gateway.timeout_s:g} s") from None
        except (ModbusException, ConnectionError, OSError) as exc:
            client.close()
            raise CollectorError(f"meter {meter.id} on {self.gateway.id} {self.gateway.host}:{self.port}: "
                                 f"{type(exc).__name__}: {exc}") from None
        finally:
            self._free.put_nowait(client)

    def close(self) -> None:
        for c in self._clients:
            c.close()


@dataclass
class ModbusTcpReader:
    """Reads a set of meters through their gateways, tracking health and back-off.

    Parameters
    ----------
    gateways : list of Gateway
    clock : Clock
        Time stamps of the readings.
    backoff_initial_s, backoff_max_s : float
        Wait after the first failure, doubled per failure up to the maximum [s, wall clock].
    port_offset : int
        Added to every gateway's port (tests).
    """

    gateways: list[Gateway]
    clock: Clock
    backoff_initial_s: float = 2.0
    backoff_max_s: float = 300.0
    port_offset: int = 0
    health: dict[str, DeviceHealth] = field(default_factory=dict)

    def __post_init__(self):
        self._pools = {g.id: GatewayPool(g, self.port_offset) for g in self.gateways}

    async def read_one(self, meter: Meter) -> Reading | None:
        h = self.health.setdefault(meter.id, DeviceHealth(meter.id))
        now = time.time()
        if now < h.next_attempt:
            return None  # backing off
        t0 = time.perf_counter()
        try:
            v = await self._pools[meter.gateway].read(meter)
        except CollectorError as exc:
            h.errors += 1
            h.consecutive_failures += 1
            h.last_error = str(exc)
            wait = min(self.backoff_max_s, self.backoff_initial_s * 2 ** (h.consecutive_failures - 1))
            h.next_attempt = time.time() + wait
            level = logging.WARNING if h.consecutive_failures in (1, 5) or h.consecutive_failures % 50 == 0 \
                else logging.DEBUG
            log.log(level, "%s (failure %d; next try in %.0f s)", exc, h.consecutive_failures, wait)
            return None
        if h.consecutive_failures:
            log.info("meter %s answers again after %d failures", meter.id, h.consecutive_failures)
        h.reads += 1
        h.consecutive_failures = 0
        h.next_attempt = 0.0
        h.last_seen = time.time()
        h.latency_ms = (time.perf_counter() - t0) * 1000
        nan = math.nan
        return Reading(meter.id, self.clock.now(), v["counter"], v.get("rate", nan), v.get("voltage", nan),
                       v.get("current", nan), v.get("power_factor", nan), 0)

    async def read(self, meters: list[Meter]) -> list[Reading]:
        """Read many meters concurrently; failed or backing-off meters are simply absent."""
        got = await asyncio.gather(*(self.read_one(m) for m in meters))
        return [r for r in got if r is not None]

    def close(self) -> None:
        for p in self._pools.values():
            p.close()
