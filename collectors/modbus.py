"""Modbus TCP collection: a pool of pymodbus async clients per gateway, one request in flight per
connection, a timeout per device and an exponential back-off for devices that fail, so that a dead
meter never stalls the others.
"""

from __future__ import annotations

import asyncio
import logging

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.client.base import ModbusBaseClient
from pymodbus.exceptions import ModbusException

from collectors.polling import DeviceHealth, PolledReader
from collectors.registers import FAMILIES, decode
from workspace.clock import Clock
from workspace.errors import CollectorError
from workspace.site import Gateway, Meter

log = logging.getLogger(__name__)

__all__ = ["DeviceHealth", "GatewayPool", "ModbusTcpReader", "read_meter"]


async def read_meter(client: ModbusBaseClient, meter: Meter, where: str,
                     timeout_s: float) -> dict[str, float]:
    """Read and decode every field of a meter's register family through a connected client.

    Parameters
    ----------
    client : pymodbus async client
        Connected; used for this meter only until the call returns.
    meter : Meter
    where : str
        The gateway and its address, for error messages.
    timeout_s : float
        Per-request timeout [s].

    Raises
    ------
    CollectorError
        The meter answered an exception, a wrong count or undecodable registers.
    asyncio.TimeoutError, ModbusException, OSError
        Left to the caller, which must drop the connection (a late answer must never be taken for
        the next request's).
    """
    fam = FAMILIES[meter.family]
    blocks = {}
    for table, address, count in fam.blocks():
        fn = client.read_input_registers if table == "input" else client.read_holding_registers
        async with asyncio.timeout(timeout_s * 1.5):  # no task per request, unlike wait_for
            resp = await fn(address, count=count, device_id=meter.unit_id)
        if resp.isError():
            code = getattr(resp, "exception_code", None)
            raise CollectorError(f"meter {meter.id} (unit {meter.unit_id} on {where}): "
                                 f"exception {code} reading {table} registers {address}..+{count}")
        if getattr(resp, "dev_id", meter.unit_id) not in (meter.unit_id, 0):
            raise CollectorError(f"meter {meter.id} (unit {meter.unit_id} on {where}): the reply came from "
                                 f"unit {resp.dev_id}")
        if len(resp.registers) != count:
            raise CollectorError(f"meter {meter.id} (unit {meter.unit_id} on {where}): asked {count} "
                                 f"registers, got {len(resp.registers)}")
        blocks[(table, address)] = resp.registers
    try:
        return decode(fam, blocks)
    except CollectorError as exc:
        raise CollectorError(f"meter {meter.id} (unit {meter.unit_id} on {where}): {exc}") from None


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
        client = await self._free.get()
        where = f"{self.gateway.id} {self.gateway.host}:{self.port}"
        try:
            if not client.connected:
                ok = await asyncio.wait_for(client.connect(), self.gateway.timeout_s * 2)
                if not ok:
                    raise CollectorError(f"gateway {self.gateway.id} ({self.gateway.host}:{self.port}) "
                                         f"refused the connection")
            return await read_meter(client, meter, where, self.gateway.timeout_s)
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


class ModbusTcpReader(PolledReader):
    """Reads a set of meters through their Modbus TCP gateways, tracking health and back-off.

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

    def __init__(self, gateways: list[Gateway], clock: Clock, backoff_initial_s: float = 2.0,
                 backoff_max_s: float = 300.0, port_offset: int = 0):
        self.gateways = gateways
        self.port_offset = port_offset
        self._pools = {g.id: GatewayPool(g, port_offset) for g in gateways}
        super().__init__(dict(self._pools), clock, backoff_initial_s, backoff_max_s)
