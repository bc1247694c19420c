"""Byte streams for protocols that frame their own messages (DL/T 645): a serial port or a TCP
connection to a transparent serial server, with the same small interface.

Received bytes collect in a buffer; :meth:`ByteLink.receive` waits for some, :meth:`ByteLink.discard_input`
drops what is there (stale bytes before a new request on a half-duplex bus).
"""

from __future__ import annotations

import asyncio
import logging
import os

from workspace.errors import CollectorError

log = logging.getLogger(__name__)


class ByteLink:
    """Base: a receive buffer fed by the subclass, and the waiting logic on it."""

    where = "?"

    def __init__(self) -> None:
        self._buf = bytearray()
        self._event = asyncio.Event()
        self._lost: str | None = None

    @property
    def connected(self) -> bool:
        raise NotImplementedError

    async def open(self) -> None:
        raise NotImplementedError

    async def write(self, data: bytes) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def _feed(self, data: bytes) -> None:
        self._buf += data
        self._event.set()

    def _lose(self, why: str) -> None:
        self._lost = why
        self._event.set()

    async def receive(self, timeout: float) -> bytes:
        """Bytes received so far, waiting up to ``timeout`` [s] for some; ``b""`` when none came.

        Raises
        ------
        ConnectionError
            The peer closed the link or the port failed.
        """
        if not self._buf and self._lost is None:
            self._event.clear()
            try:
                await asyncio.wait_for(self._event.wait(), timeout)
            except (asyncio.TimeoutError, TimeoutError):
                return b""
        if not self._buf and self._lost is not None:
            why, self._lost = self._lost, None
            self.close()
            raise ConnectionError(f"{self.where}: {why}")
        data = bytes(self._buf)
        self._buf.clear()
        return data

    def discard_input(self) -> int:
        """Drop the bytes received and not yet read; returns how many."""
        n = len(self._buf)
        self._buf.clear()
        return n


class SerialByteLink(ByteLink):
    """A local serial port (pyserial, non-blocking, read through the event loop).

    Parameters
    ----------
    device : str
        Serial device path.
    baudrate : int
        [bit/s]
    parity : {"N", "E", "O"}
    bytesize : {7, 8}
    stopbits : {1, 2}
    """

    def __init__(self, device: str, baudrate: int = 9600, parity: str = "E", bytesize: int = 8,
                 stopbits: int = 1):
        super().__init__()
        self.device = device
        self.where = device
        self._settings = dict(baudrate=baudrate, parity=parity, bytesize=bytesize, stopbits=stopbits)
        self._serial = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def connected(self) -> bool:
        return self._serial is not None

    async def open(self) -> None:
        import serial  # pyserial

        try:
            self._serial = serial.Serial(self.device, timeout=0, write_timeout=0, exclusive=True,
                                         **self._settings)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ConnectionError(f"cannot open {self.device}: {exc}") from None
        self._buf.clear()
        self._lost = None
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._serial.fileno(), self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self._serial.fileno(), 4096)
        except BlockingIOError:
            return
        except OSError as exc:
            self._loop.remove_reader(self._serial.fileno())
            self._lose(f"read failed: {exc}")
            return
        if data:
            self._feed(data)

    async def write(self, data: bytes) -> None:
        if self._serial is None:
            raise ConnectionError(f"{self.device} is not open")
        view = memoryview(data)
        while view:
            try:
                n = os.write(self._serial.fileno(), view)
            except BlockingIOError:
                await asyncio.sleep(0.001)
                continue
            view = view[n:]

    def close(self) -> None:
        if self._serial is not None:
            try:
                self._loop.remove_reader(self._serial.fileno())
            except (ValueError, RuntimeError):
                pass
            self._serial.close()
            self._serial = None
            self._lose("closed")  # wake whoever waits in receive()


class TcpByteLink(ByteLink):
    """A TCP connection (a transparent serial server, or a simulated bus's listening socket)."""

    def __init__(self, host: str, port: int, connect_timeout: float = 2.0):
        super().__init__()
        self.host, self.port = host, port
        self.where = f"{host}:{port}"
        self.connect_timeout = connect_timeout
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task | None = None

    @classmethod
    def from_streams(cls, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> "TcpByteLink":
        """Wrap an accepted connection (the server's side)."""
        peer = writer.get_extra_info("peername") or ("?", 0)
        link = cls(str(peer[0]), int(peer[1]))
        link._attach(reader, writer)
        return link

    @property
    def connected(self) -> bool:
        return self._writer is not None and not self._writer.is_closing()

    def _attach(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._buf.clear()
        self._lost = None
        self._writer = writer
        self._task = asyncio.create_task(self._pump(reader), name=f"bytelink-{self.where}")

    async def open(self) -> None:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port),
                                                    self.connect_timeout)
        except (OSError, asyncio.TimeoutError, TimeoutError) as exc:
            raise ConnectionError(f"cannot connect to {self.where}: {exc or type(exc).__name__}") from None
        self._attach(reader, writer)

    async def _pump(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                data = await reader.read(4096)
                if not data:
                    self._lose("the peer closed the connection")
                    return
                self._feed(data)
        except (ConnectionError, OSError) as exc:
            self._lose(f"{type(exc).__name__}: {exc}")

    async def write(self, data: bytes) -> None:
        if not self.connected:
            raise ConnectionError(f"{self.where} is not connected")
        self._writer.write(data)
        await self._writer.drain()

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            self._lose("closed")  # wake whoever waits in receive()


def link_to(gateway, port_offset: int = 0) -> ByteLink:
    """The byte link of a ``dlt645_serial`` or ``dlt645_tcp`` gateway."""
    if gateway.protocol == "dlt645_serial":
        return SerialByteLink(gateway.device, gateway.baudrate, gateway.parity, gateway.bytesize,
                              gateway.stopbits)
    if gateway.protocol == "dlt645_tcp":
        return TcpByteLink(gateway.host, gateway.port + port_offset, connect_timeout=gateway.timeout_s * 2)
    raise CollectorError(f"gateway {gateway.id}: protocol {gateway.protocol} has no byte link")
