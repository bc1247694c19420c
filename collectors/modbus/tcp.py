"""Modbus TCP collection: a pool of pymodbus async clients per gateway, one request in flight per
connection and a timeout per request, so that a dead meter never stalls the others (the back-off of
failing meters is :class:`collectors.polling.PolledReader`'s).
"""

from __future__ import annotations

import asyncio
import logging

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from collectors.modbus.meter import read_meter
from workspace.errors import CollectorError
from workspace.site import Gateway, Meter

log = logging.getLogger(__name__)


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
