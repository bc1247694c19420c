"""Modbus RTU: meters on an RS-485 bus behind a local serial port, or behind a transparent serial
server that carries RTU frames unchanged over TCP ("RTU over TCP").

RS-485 is half duplex and RTU frames carry no transaction id, so a bus carries one request at a
time, and a reply that arrives after its request timed out could be taken for the next request's.
After a timeout the link is dropped (pyserial empties the input buffer when the port is opened
again) and every reply must come from the unit that was asked; timeouts should be generous
(several frame times at the bus's baud rate plus the meter's turnaround).
"""

from __future__ import annotations

import asyncio
import logging

from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from collectors.modbus.meter import read_meter
from workspace.errors import CollectorError
from workspace.site import Gateway, Meter

log = logging.getLogger(__name__)


class RtuBus:
    """The link to one RTU bus: a serial port (``modbus_rtu``) or a serial server (``modbus_rtu_over_tcp``).

    Parameters
    ----------
    gateway : Gateway
        ``device``, ``baudrate``, ``parity``, ``bytesize``, ``stopbits`` for a serial port; ``host``
        and ``port`` for a serial server; ``timeout_s`` per request [s].
    port_offset : int
        Added to the TCP port (tests).
    """

    def __init__(self, gateway: Gateway, port_offset: int = 0):
        self.gateway = gateway
        self._lock = asyncio.Lock()
        g = gateway
        if g.protocol == "modbus_rtu":
            self.where = f"{g.id} {g.device}"
            self.client: AsyncModbusSerialClient | AsyncModbusTcpClient = AsyncModbusSerialClient(
                g.device, framer=FramerType.RTU, baudrate=g.baudrate, bytesize=g.bytesize, parity=g.parity,
                stopbits=g.stopbits, timeout=g.timeout_s, retries=0, reconnect_delay=0.5,
                reconnect_delay_max=10, name=g.id)
        elif g.protocol == "modbus_rtu_over_tcp":
            self.where = f"{g.id} {g.host}:{g.port + port_offset} (RTU over TCP)"
            self.client = AsyncModbusTcpClient(g.host, port=g.port + port_offset, framer=FramerType.RTU,
                                               timeout=g.timeout_s, retries=0, reconnect_delay=0.5,
                                               reconnect_delay_max=10, name=g.id)
        else:
            raise CollectorError(f"gateway {g.id}: protocol {g.protocol} is not Modbus RTU")

    async def read(self, meter: Meter) -> dict[str, float]:
        """Read and decode every field of a meter's family; raises CollectorError saying why."""
        timeout = self.gateway.timeout_s
        async with self._lock:  # one request at a time on the bus
            try:
                if not self.client.connected:
                    ok = await asyncio.wait_for(self.client.connect(), timeout * 2)
                    if not ok:
                        raise CollectorError(f"meter {meter.id}: cannot open {self.where}")
                return await read_meter(self.client, meter, self.where, timeout)
            except (asyncio.TimeoutError, TimeoutError):
                self.client.close()  # a late reply must never be taken for the next request's
                raise CollectorError(f"meter {meter.id} (unit {meter.unit_id} on {self.where}): no answer "
                                     f"within {timeout:g} s") from None
            except ModbusException as exc:
                self.client.close()
                text = str(exc)
                if "No response received" in text or "timeout" in text.lower():
                    text = f"no answer within {timeout:g} s"
                raise CollectorError(f"meter {meter.id} (unit {meter.unit_id} on {self.where}): "
                                     f"{text}") from None
            except (ConnectionError, OSError) as exc:
                self.client.close()
                raise CollectorError(f"meter {meter.id} (unit {meter.unit_id} on {self.where}): "
                                     f"{type(exc).__name__}: {exc}") from None
            except CollectorError:
                self.client.close()  # whatever came was not this meter's answer: start clean
                raise

    def close(self) -> None:
        self.client.close()
