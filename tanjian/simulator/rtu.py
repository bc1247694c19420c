"""Simulated Modbus RTU buses: the meters of a ``modbus_rtu`` or ``modbus_rtu_over_tcp`` gateway answer
with a pymodbus server using RTU framing, on the far end of a virtual serial pair
(:class:`~tanjian.simulator.pty.VirtualSerialPair`) or on a TCP port (a transparent serial server).

Values come from the plant's load model through :meth:`PlantSimulator.values`, so a meter reads the same
whether it sits on Modbus TCP, RTU or DL/T 645. On a bus, a meter that does not answer is silent: there
is no gateway to reply with exception 0x0B. Faults, per meter id:

``silent`` (``PlantSimulator.kill(m, silent=True)`` or ``kill(m)``)
    no reply at all;
``late`` (:meth:`RtuBusSimulator.late`)
    the reply comes ``delay_s`` after the request, too late for a collector's timeout.
"""

from __future__ import annotations

import asyncio
import functools
import logging

from pymodbus import FramerType
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from collectors.modbus.registers import encode
from workspace.errors import CollectorError
from workspace.meters import FAMILIES

from .server import REGISTERS, PlantSimulator

log = logging.getLogger(__name__)


class RtuBusSimulator:
    """The meters of one RTU gateway of a site, answering over a serial port or TCP.

    Parameters
    ----------
    plant : PlantSimulator
        Source of the values and faults (it need not be started).
    gateway_id : str
        A ``modbus_rtu`` or ``modbus_rtu_over_tcp`` gateway of the site.
    serial_port : str, optional
        The bus's end of a serial pair (``modbus_rtu``).
    port_offset : int
        Added to the gateway's TCP port (``modbus_rtu_over_tcp``).
    absent : iterable of str
        Meters of the configuration that are not on the bus at all.
    """

    def __init__(self, plant: PlantSimulator, gateway_id: str, *, serial_port: str | None = None,
                 port_offset: int = 0, absent=()):
        self.plant = plant
        self.gateway = next(g for g in plant.site.gateways if g.id == gateway_id)
        self.serial_port = serial_port
        self.port_offset = port_offset
        self.absent = set(absent)
        self.late_s: dict[str, float] = {}
        self.requests = 0
        self._server: ModbusSerialServer | ModbusTcpServer | None = None

    def late(self, meter: str, delay_s: float) -> None:
        """From now on the meter replies ``delay_s`` after each request [s]."""
        self.late_s[meter] = delay_s

    async def _action(self, meter_id: str, function_code: int, start_address: int, address: int, count: int,
                      registers: list[int], set_values) -> ExcCodes | None:
        self.requests += 1
        faults = self.plant.faults
        if meter_id in faults.silent or meter_id in faults.dead:
            raise NoSuchIdException(f"simulated meter {meter_id} is silent")  # the server stays quiet
        if set_values is not None:
            return ExcCodes.ILLEGAL_FUNCTION  # meters are read-only here
        if meter_id in self.late_s:
            await asyncio.sleep(self.late_s[meter_id])
        fam = FAMILIES[self.plant.site.meter(meter_id).family]
        table = "input" if function_code == 4 else "holding"
        for (tbl, addr), words in encode(fam, self.plant.values(meter_id, self.plant.clock.now())).items():
            if tbl == table:
                registers[addr - start_address:addr - start_address + len(words)] = words
        return None

    def _devices(self) -> list[SimDevice]:
        devices = []
        for m in self.plant.site.meters:
            if m.gateway != self.gateway.id or m.id in self.absent:
                continue
            regs = [SimData(address=0, count=REGISTERS, values=0, datatype=DataType.REGISTERS)]
            bits = [SimData(address=0, count=16, values=False, datatype=DataType.BITS)]
            devices.append(SimDevice(id=m.unit_id, simdata=(bits, list(bits), regs, list(regs)),
                                     action=functools.partial(self._action, m.id)))
        # pymodbus 3.16 looks an unknown unit id up as device 0 (KeyError -> exception 4 when there is
        # none): a device 0 that stays quiet makes an absent unit silent, as on a real bus
        regs = [SimData(address=0, count=REGISTERS, values=0, datatype=DataType.REGISTERS)]
        bits = [SimData(address=0, count=16, values=False, datatype=DataType.BITS)]
        devices.append(SimDevice(id=0, simdata=(bits, list(bits), regs, list(regs)), action=self._absent))
        return devices

    async def _absent(self, *args) -> ExcCodes | None:
        self.requests += 1
        raise NoSuchIdException("no such unit on the simulated bus")

    async def start(self) -> None:
        await asyncio.to_thread(self.plant.model.at, self.plant.clock.now())  # warm the model
        g = self.gateway
        if g.protocol == "modbus_rtu":
            if self.serial_port is None:
                raise CollectorError(f"gateway {g.id}: the simulated bus needs the far end of a serial pair")
            self._server = ModbusSerialServer(self._devices(), framer=FramerType.RTU, port=self.serial_port,
                                              baudrate=g.baudrate, parity=g.parity, bytesize=g.bytesize,
                                              stopbits=g.stopbits, ignore_missing_devices=True)
            where = self.serial_port
        elif g.protocol == "modbus_rtu_over_tcp":
            self._server = ModbusTcpServer(self._devices(), framer=FramerType.RTU,
                                           address=(g.host, g.port + self.port_offset),
                                           ignore_missing_devices=True)
            where = f"{g.host}:{g.port + self.port_offset}"
        else:
            raise CollectorError(f"gateway {g.id}: protocol {g.protocol} is not Modbus RTU")
        await self._server.serve_forever(background=True)  # returns once listening
        log.info("simulated RTU bus %s serving on %s", g.id, where)

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.shutdown()
        self._server = None

    async def __aenter__(self) -> "RtuBusSimulator":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()
