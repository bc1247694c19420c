"""A virtual serial cable: two pseudo-terminals joined by socat, one end for the collector, the other for
a simulated bus of meters.

    socat pty,raw,echo=0,link=<a> pty,raw,echo=0,link=<b>

Needs Debian's ``socat``. A pty takes 8 data bits and no parity only (setting even parity fails with
EINVAL in tcsetattr), so gateways on a virtual pair say ``parity: N``; the baud rate has no effect: bytes
arrive at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from pathlib import Path

from workspace.errors import CollectorError

log = logging.getLogger(__name__)


class VirtualSerialPair:
    """``async with VirtualSerialPair(folder) as (a, b):`` two linked serial device paths.

    Parameters
    ----------
    folder : path
        Where the two links ``<name>-a`` and ``<name>-b`` are made.
    name : str
        Stem of the link names.
    """

    def __init__(self, folder: str | os.PathLike, name: str = "tty"):
        self.a = Path(folder) / f"{name}-a"
        self.b = Path(folder) / f"{name}-b"
        self.log_path = Path(folder) / f"{name}.socat.log"
        self._proc: asyncio.subprocess.Process | None = None

    async def start(self) -> tuple[str, str]:
        exe = shutil.which("socat")
        if exe is None:
            raise CollectorError("socat is not installed (apt-get install socat): no virtual serial pair")
        with open(self.log_path, "ab") as err:  # socat's -d -d notices, kept for a failing test
            self._proc = await asyncio.create_subprocess_exec(
                exe, "-d", "-d", f"pty,raw,echo=0,link={self.a}", f"pty,raw,echo=0,link={self.b}",
                stdout=asyncio.subprocess.DEVNULL, stderr=err)
        for _ in range(200):
            if self.a.exists() and self.b.exists():
                break
            if self._proc.returncode is not None:
                err = self.log_path.read_text(errors="replace").strip()
                raise CollectorError(f"socat exited with {self._proc.returncode}: {err}")
            await asyncio.sleep(0.025)
        else:
            await self.stop()
            raise CollectorError(f"socat did not create {self.a} and {self.b}")
        log.debug("virtual serial pair %s <-> %s (socat pid %d)", self.a, self.b, self._proc.pid)
        return str(self.a), str(self.b)

    async def stop(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.terminate()
            try:
                await asyncio.wait_for(self._proc.wait(), 5)
            except asyncio.TimeoutError:
                self._proc.kill()
                await self._proc.wait()
        self._proc = None

    async def __aenter__(self) -> tuple[str, str]:
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()
