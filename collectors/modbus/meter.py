"""One Modbus meter read through any connected pymodbus client (a TCP gateway or an RTU bus): the
blocks of its family's register table requested, checked and decoded.
"""

from __future__ import annotations

import asyncio

from pymodbus.client.base import ModbusBaseClient

from collectors.modbus.registers import decode
from workspace.errors import CollectorError
from workspace.meters import FAMILIES
from workspace.points import SUNSPEC_METER
from workspace.site import Meter


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
    if meter.family == SUNSPEC_METER.family:  # a SunSpec inverter: its model chain, scale factors read
        from collectors.points import read_sunspec_meter

        try:
            async with asyncio.timeout(timeout_s * 4):
                return await read_sunspec_meter(client, meter.unit_id)
        except CollectorError as exc:
            raise CollectorError(f"meter {meter.id} (unit {meter.unit_id} on {where}): {exc}") from None
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
