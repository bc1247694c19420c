"""A lean Modbus TCP connection for the poll's hot path: one request in flight, frames built with struct.

:class:`collectors.modbus.GatewayPool` reads every meter of a site every period through a few
connections per gateway; at thousands of meters the generic pymodbus client's per-request machinery
(transaction manager, framer, retries, logging) costs more CPU than the request itself. This
connection does only what the poll needs: read holding (03) or input (04) registers of a unit,
matched to its request by transaction id, protocol and unit, with the same interface as the pymodbus
client's answers (``isError()``, ``exception_code``, ``registers``, ``dev_id``) so that
:func:`collectors.modbus.read_meter` works with either.

Frames follow the *Modbus Application Protocol Specification V1.1b3* §4 and §6.3–6.4 and *Modbus
Messaging on TCP/IP Implementation Guide V1.0b* §3.1.3 (MBAP header: transaction id, protocol 0,
length, unit id).
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field

from pymodbus.exceptions import ModbusIOException

_REQUEST = struct.Struct(">HHHBBHH")  # MBAP (tid, protocol, length, unit) + function, address, count
_HEADER = struct.Struct(">HHHB")


@dataclass
class Answer:
    """A register read's answer, shaped like pymodbus's response (the fields read_meter uses)."""

    dev_id: int
    function_code: int
    registers: list[int] = field(default_factory=list)
    exception_code: int | None = None

    def isError(self) -> bool:  # noqa: N802 - pymodbus's name
        return self.exception_code is not None


class ModbusTcpConnection:
    """One TCP connection to a Modbus TCP gateway; requests must not overlap (the pool ensures it).

    Parameters
    ----------
    host : str
    port : int
    timeout_s : float
        Per-request timeout [s]; on expiry the connection is closed (a late answer must never be
        taken for the next request's) and :class:`TimeoutError` raised.
    """

    def __init__(self, host: str, port: int, timeout_s: float):
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._tid = 0

    @property
    def connected(self) -> bool:
        return self._writer is not None and not self._writer.is_closing()

    async def connect(self) -> bool:
        """Open the connection; False when the gateway refuses it."""
        try:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            self._reader = self._writer = None
            return False
        return True

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def _read(self, function: int, address: int, count: int, device_id: int) -> Answer:
        if not self.connected:
            raise ConnectionError(f"not connected to {self.host}:{self.port}")
        self._tid = (self._tid + 1) & 0xFFFF
        tid = self._tid
        self._writer.write(_REQUEST.pack(tid, 0, 6, device_id, function, address, count))
        try:
            async with asyncio.timeout(self.timeout_s):
                while True:
                    head = await self._reader.readexactly(7)
                    rtid, proto, length, unit = _HEADER.unpack(head)
                    if proto != 0 or not 2 <= length <= 254:
                        raise ModbusIOException(f"malformed MBAP header {head.hex()} from {self.host}:{self.port}")
                    pdu = await self._reader.readexactly(length - 1)
                    if rtid == tid:
                        break  # an older transaction's late answer is skipped
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            self.close()
            raise ConnectionError(f"{self.host}:{self.port} closed the connection") from exc
        except BaseException:
            self.close()
            raise
        fc = pdu[0]
        if fc == function | 0x80:
            return Answer(unit, fc, exception_code=pdu[1] if len(pdu) > 1 else None)
        if fc != function or len(pdu) < 2 or pdu[1] != len(pdu) - 2 or pdu[1] % 2:
            self.close()
            raise ModbusIOException(f"unexpected answer {pdu[:8].hex()} to function {function} from "
                                    f"{self.host}:{self.port}")
        n = pdu[1] // 2
        return Answer(unit, fc, list(struct.unpack_from(f">{n}H", pdu, 2)))

    async def read_holding_registers(self, address: int, *, count: int, device_id: int) -> Answer:
        return await self._read(3, address, count, device_id)

    async def read_input_registers(self, address: int, *, count: int, device_id: int) -> Answer:
        return await self._read(4, address, count, device_id)
