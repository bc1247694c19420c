"""Modbus TCP servers that make the load model's meters readable on loopback, one per gateway.

Every meter answers at its own unit id with its family's register map
(:mod:`workspace.meters`); values are computed when a request arrives, for the simulated
instant of the request (the :class:`~workspace.clock.Clock` may run faster than real time).

A family with a manual's register map (``Family.map``) answers every row of it, from the load model
(per-phase values consistent with the totals: :func:`~tanjian.simulator.model.phase_values`); a
request that covers no row of the map, cuts a row in two or runs past the map's last register is
answered with exception 0x02 (illegal data address); registers between rows within a request read 0,
as the manuals say of parameters a wiring does not have. A family without a map answers its fields.
A unit id that no meter of the gateway has is answered with exception 0x0B (gateway target device
failed to respond), as a Modbus TCP/serial gateway does.

Faults (for tests and demos), per meter:

``dead``
    the gateway answers exception 0x0B "gateway target device failed to respond", as a real
    Modbus TCP serial gateway does when the meter behind it is silent;
``silent``
    no answer at all: the client's timeout fires;
``reset``
    the counter restarts from zero at the fault's time (a meter swapped or cleared);
``spike``
    one absurd counter value (+10^6) for the next reading only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
from dataclasses import dataclass, field

import numpy as np
from pymodbus.client.mixin import ModbusClientMixin
from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from collectors.modbus.registers import encode
from workspace.clock import Clock
from workspace.meters import FAMILIES, Family, MapRegister
from workspace.site import Medium, Site

from .model import LoadModel, phase_values
from .points import PointModel, sunspec_models

log = logging.getLogger(__name__)

REGISTERS = 80  # registers 0..79 in each table, enough for every family without a map


def encode_map(family: Family, values: dict[str, float], rows=None) -> dict[tuple[str, int], list[int]]:
    """Register words of the rows of a family's map ``(table, address) -> words`` from the values of
    :func:`~tanjian.simulator.model.phase_values` (raw = value / scale; integers rounded and clamped)."""
    out: dict[tuple[str, int], list[int]] = {}
    for r in family.map if rows is None else rows:
        out[(r.table, r.address)] = _pack_row(r, values.get(r.value, 0.0))
    return out


def _pack_row(r: MapRegister, value: float) -> list[int]:
    raw = value / r.scale
    if r.dtype.startswith(("int", "uint")):
        bits = 16 * r.count
        lo, hi = (0, 2 ** bits - 1) if r.dtype.startswith("u") else (-2 ** (bits - 1), 2 ** (bits - 1) - 1)
        raw = min(max(int(round(raw)), lo), hi)
    dt_ = getattr(ModbusClientMixin.DATATYPE, r.dtype.upper())
    return ModbusClientMixin.convert_to_registers(raw, dt_, word_order=r.word_order)


def map_request_error(family: Family, table: str, address: int, count: int) -> list[MapRegister] | None:
    """The rows of ``family``'s map a read of ``count`` registers from ``address`` covers, or None when
    the read is illegal (covers no row, cuts one, or runs past the last register)."""
    end = address + count
    rows = [r for r in family.map if r.table == table and r.address < end and address < r.address + r.count]
    if not rows or end > family.map_span(table):
        return None
    if any(r.address < address or r.address + r.count > end for r in rows):
        return None
    return rows


@dataclass
class Faults:
    dead: set[str] = field(default_factory=set)
    silent: set[str] = field(default_factory=set)
    reset_offset: dict[str, float] = field(default_factory=dict)
    spike_next: set[str] = field(default_factory=set)


class PlantSimulator:
    """All gateways of a site served by pymodbus on their configured host and port.

    Parameters
    ----------
    site : Site
    clock : Clock
        Source of the simulated time.
    seed : int
        Seed of the load model.
    port_offset : int
        Added to every gateway's port (tests run several plants side by side).
    """

    def __init__(self, site: Site, clock: Clock, seed: int = 18, port_offset: int = 0):
        self.site = site
        self.clock = clock
        self.model = LoadModel(site, seed)
        self.port_offset = port_offset
        self.faults = Faults()
        self._servers: list[ModbusTcpServer] = []
        self._tasks: list[asyncio.Task] = []
        self._index = {m: i for i, m in enumerate(self.model.meter_ids)}
        self._meters = {m.id: m for m in site.meters}
        self._at: tuple[dt.datetime, tuple] | None = None  # the model at the last instant asked
        self.points = PointModel(site)  # distribution rooms, PV inverters, batteries
        self.requests = 0

    # -- faults ----------------------------------------------------------------------------------
    def kill(self, meter: str, *, silent: bool = False) -> None:
        (self.faults.silent if silent else self.faults.dead).add(meter)

    def revive(self, meter: str) -> None:
        self.faults.dead.discard(meter)
        self.faults.silent.discard(meter)

    def reset_counter(self, meter: str) -> None:
        """From now on the meter's counter starts again from zero."""
        c, _ = self.model.at(self.clock.now())
        self.faults.reset_offset[meter] = float(c[self._index[meter]])  # shown = model - offset = 0 now

    def spike(self, meter: str) -> None:
        self.faults.spike_next.add(meter)

    # -- values ----------------------------------------------------------------------------------
    def values(self, meter_id: str, t: dt.datetime) -> dict[str, float]:
        """What the meter shows at ``t``: counter, rate, and the electrical quantities."""
        at = self._at  # one read: other threads may replace it meanwhile
        if at is None or at[0] != t:  # many requests share an instant (a frozen clock)
            at = self._at = (t, self.model.at(t))
        counters, rates = at[1]
        i = self._index[meter_id]
        m = self._meters[meter_id]
        counter = counters[i] - self.faults.reset_offset.get(meter_id, 0.0)
        if meter_id in self.faults.spike_next:
            self.faults.spike_next.discard(meter_id)
            counter += 1e6
        out = {"counter": float(counter), "rate": float(rates[i])}
        if m.medium == Medium.electricity:
            v, cur, pf = self.model.electrical(np.array([rates[i]]), t.minute)
            fam = FAMILIES.get(m.family)
            phases = fam.phases if fam is not None else 3
            # a single-phase meter carries the whole power on one phase: three times the phase average
            out.update(voltage=float(v[0]), current=float(cur[0]) * (3 if phases == 1 else 1),
                       power_factor=float(pf[0]))
        return out

    def register_values(self, meter_id: str, t: dt.datetime) -> dict[str, float]:
        """Every value of a register map (``workspace.meters.MAP_VALUES``) the meter shows at ``t``,
        consistent with :meth:`values` (the same counter, power, voltage and power factor)."""
        v = self.values(meter_id, t)
        fam = FAMILIES.get(self._meters[meter_id].family)
        phases = fam.phases if fam is not None else 3
        return phase_values(v["rate"], v["counter"], v.get("voltage", 0.0), v.get("power_factor", 1.0),
                            phases=phases, key=self._index[meter_id], minute=t.minute)

    async def _action(self, meter_id: str, function_code: int, start_address: int, address: int, count: int,
                      registers: list[int], set_values) -> ExcCodes | None:
        self.requests += 1
        if meter_id in self.faults.silent:
            await asyncio.sleep(3600)
        if meter_id in self.faults.dead:
            return ExcCodes.GATEWAY_NO_RESPONSE
        if set_values is not None:
            return ExcCodes.ILLEGAL_FUNCTION  # meters are read-only here
        fam = FAMILIES[self._meters[meter_id].family]
        table = "input" if function_code == 4 else "holding"
        if fam.map:
            rows = map_request_error(fam, table, address, count)
            if rows is None:
                return ExcCodes.ILLEGAL_ADDRESS
            registers[address - start_address:address + count - start_address] = [0] * count
            for (_, addr), words in encode_map(fam, self.register_values(meter_id, self.clock.now()),
                                               rows).items():
                registers[addr - start_address:addr - start_address + len(words)] = words
            return None
        for (tbl, addr), words in encode(fam, self.values(meter_id, self.clock.now())).items():
            if tbl == table:
                registers[addr - start_address:addr - start_address + len(words)] = words
        return None

    def _devices(self, gateway_id: str) -> list[SimDevice]:
        devices = []
        for m in self.site.meters:
            if m.gateway != gateway_id:
                continue
            fam = FAMILIES.get(m.family)
            spans = {t: (max(fam.map_span(t), 1) if fam is not None and fam.map else REGISTERS)
                     for t in ("holding", "input")}

            def regs(table):
                return [SimData(address=0, count=spans[table], values=0, datatype=DataType.REGISTERS)]

            def bits():  # meters have no coils worth reading; pymodbus wants a block anyway
                return [SimData(address=0, count=16, values=False, datatype=DataType.BITS)]

            devices.append(SimDevice(
                id=m.unit_id,
                simdata=(bits(), bits(), regs("holding"), regs("input")),
                action=functools.partial(self._action, m.id),
            ))
        devices += self._point_devices(gateway_id)
        # pymodbus looks an unknown unit id up as device 0: a gateway answers 0x0B for it
        bits0 = [SimData(address=0, count=16, values=False, datatype=DataType.BITS)]
        regs0 = [SimData(address=0, count=65535, values=0, datatype=DataType.REGISTERS)]
        devices.append(SimDevice(id=0, simdata=(bits0, list(bits0), regs0, list(regs0)), action=self._unknown_unit))
        return devices

    # -- distribution rooms, PV inverters, batteries (not meters) ----------------------------------------
    def point_words(self, kind: str, unit) -> list[int]:
        """The registers a room block (from 0) or a SunSpec unit (from 40000) serves now."""
        from collectors.points import room_words, sunspec_image

        t = self.clock.now()
        if kind == "room":
            return room_words(self.points.room(unit.id, t))
        if kind == "pv":
            w, wh = self.points.pv(unit.rated_kw, t)
            values = {"W": w, "WH": wh}
        else:
            values = self.points.battery(unit.rated_kw, unit.capacity_kwh, t)
        for (u, p), v in self.points.overrides.items():
            if u == unit.id:
                values[p] = v
        return sunspec_image(sunspec_models(kind, unit, values))

    def _point_devices(self, gateway_id: str) -> list[SimDevice]:
        from collectors.points import room_span
        from workspace.points import SUNSPEC_BASE

        units = [("room", r) for r in getattr(self.site, "rooms", []) if r.gateway == gateway_id]
        onsite = getattr(self.site, "onsite", None)
        if onsite is not None:
            units += [("pv", p) for p in onsite.pv if p.gateway == gateway_id]
            units += [("battery", b) for b in onsite.batteries if b.gateway == gateway_id]
        out = []
        for kind, u in units:
            start, count = (0, room_span()) if kind == "room" else (SUNSPEC_BASE, len(self.point_words(kind, u)))
            regs = [SimData(address=start, count=count, values=0, datatype=DataType.REGISTERS)]
            bits = [SimData(address=0, count=16, values=False, datatype=DataType.BITS)]
            out.append(SimDevice(id=u.unit_id, simdata=(bits, list(bits), regs, list(regs)),
                                 action=functools.partial(self._point_action, kind, u, start)))
        return out

    async def _point_action(self, kind: str, unit, base: int, function_code: int, start_address: int, address: int,
                            count: int, registers: list[int], set_values) -> ExcCodes | None:
        self.requests += 1
        if unit.id in self.faults.silent:
            await asyncio.sleep(3600)
        if unit.id in self.faults.dead:
            return ExcCodes.GATEWAY_NO_RESPONSE
        if set_values is not None:
            return ExcCodes.ILLEGAL_FUNCTION
        if function_code != 3:
            return ExcCodes.ILLEGAL_FUNCTION  # holding registers only, as SunSpec devices and the room block
        words = self.point_words(kind, unit)
        lo = address - base
        if lo < 0 or lo + count > len(words):
            return ExcCodes.ILLEGAL_ADDRESS
        registers[address - start_address:address - start_address + count] = words[lo:lo + count]
        return None

    async def _unknown_unit(self, *args) -> ExcCodes:
        self.requests += 1
        return ExcCodes.GATEWAY_NO_RESPONSE

    # -- serving ---------------------------------------------------------------------------------
    @property
    def tcp_gateways(self) -> list:
        """The Modbus TCP gateways this simulator serves (serial and DL/T 645 buses have their own
        simulators: :mod:`tanjian.simulator.rtu`, :mod:`tanjian.simulator.dlt645`)."""
        return [g for g in self.site.gateways if g.protocol == "modbus_tcp"]

    async def start(self) -> None:
        # integrate the counters up to now before serving, so the first requests answer in time
        await asyncio.to_thread(self.model.at, self.clock.now())
        for gw in self.tcp_gateways:
            port = gw.port + self.port_offset
            server = ModbusTcpServer(self._devices(gw.id), address=(gw.host, port))
            self._servers.append(server)
            self._tasks.append(asyncio.create_task(server.serve_forever(), name=f"modbus-sim-{gw.id}"))
            log.info("simulated gateway %s serving %d meters on %s:%d", gw.id,
                     sum(m.gateway == gw.id for m in self.site.meters), gw.host, port)
        # wait until every port accepts connections
        for gw in self.tcp_gateways:
            for _ in range(100):
                try:
                    _, w = await asyncio.open_connection(gw.host, gw.port + self.port_offset)
                    w.close()
                    break
                except OSError:
                    await asyncio.sleep(0.05)

    async def stop(self) -> None:
        for s in self._servers:
            await s.shutdown()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._servers.clear()
        self._tasks.clear()

    async def __aenter__(self) -> "PlantSimulator":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()
