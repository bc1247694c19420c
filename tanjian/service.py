"""Running under a service manager: ``sd_notify`` readiness and structured (JSON) log lines.

:func:`notify` writes a datagram to ``$NOTIFY_SOCKET`` (the protocol of ``sd_notify(3)``: a Unix datagram
socket; a name starting with ``@`` is in the abstract namespace), so a ``Type=notify`` unit
(``deploy/tanjian.service``) is marked started only once the server accepts connections. Without the variable it
does nothing. :class:`JsonFormatter` gives one JSON object a line (``--log-json``), for journald or a log shipper.
:func:`stop` ends a child process as a service manager does: SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import subprocess


def notify(state: str) -> bool:
    """Send ``state`` (e.g. ``"READY=1"``, ``"STOPPING=1"``, ``"STATUS=…"``) to systemd; False when not under it."""
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return False
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
        s.connect(addr)
        s.sendall(state.encode())
    return True


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message"[, "exception"]}``, one line per record (UTC times)."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {"time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
               "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def stop(proc: subprocess.Popen, timeout: float = 15.0) -> int:
    """End ``proc`` as systemd would: SIGTERM, up to ``timeout`` seconds to exit, then SIGKILL; its exit status."""
    if proc.poll() is None:
        proc.terminate()
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()
