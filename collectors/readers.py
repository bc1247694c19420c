"""One reader for a whole site: each meter is read through the link of its gateway's protocol.

=====================  ==========================================================================
``modbus_tcp``         :class:`collectors.modbus.tcp.GatewayPool` (parallel TCP connections)
``modbus_rtu``         :class:`collectors.modbus.rtu.RtuBus` over a serial port (one request at a time)
``modbus_rtu_over_tcp`` :class:`collectors.modbus.rtu.RtuBus` over TCP with RTU framing
``dlt645_serial``      :class:`collectors.dlt645.bus.Dlt645Bus` over a serial port
``dlt645_tcp``         :class:`collectors.dlt645.bus.Dlt645Bus` through a transparent serial server
=====================  ==========================================================================
"""

from __future__ import annotations

import logging

from collectors.polling import Link, PolledReader
from workspace.clock import Clock
from workspace.errors import CollectorError
from workspace.site import Gateway

log = logging.getLogger(__name__)


def link_for(gateway: Gateway, port_offset: int = 0, timezone: str | None = None) -> Link:
    """The link that reaches a gateway's meters, by its protocol (``timezone``: the site's, in which
    DL/T 645 meters keep their clocks; without it their clocks are not read)."""
    p = gateway.protocol
    if p == "modbus_tcp":
        from collectors.modbus.tcp import GatewayPool

        return GatewayPool(gateway, port_offset)
    if p in ("modbus_rtu", "modbus_rtu_over_tcp"):
        from collectors.modbus.rtu import RtuBus

        return RtuBus(gateway, port_offset)
    if p in ("dlt645_serial", "dlt645_tcp"):
        from collectors.dlt645.bus import Dlt645Bus

        return Dlt645Bus(gateway, port_offset, timezone=timezone)
    raise CollectorError(f"gateway {gateway.id}: no collector for protocol {p!r}")


def reader_for(gateways: list[Gateway], clock: Clock, backoff_initial_s: float = 2.0,
               backoff_max_s: float = 300.0, port_offset: int = 0,
               timezone: str | None = None) -> PolledReader:
    """A reader with ``async read(meters) -> list[Reading]``, ``health`` and ``close()`` for every gateway.

    Parameters
    ----------
    gateways : list of Gateway
    clock : Clock
        Time stamps of the readings.
    backoff_initial_s, backoff_max_s : float
        Wait after a device's first failure, doubled per failure up to the maximum [s, wall clock].
    port_offset : int
        Added to every TCP port (tests run several plants side by side).
    timezone : str, optional
        IANA zone of the site: DL/T 645 meters keep local time, so their clocks are read only with it.
    """
    links = {g.id: link_for(g, port_offset, timezone) for g in gateways}
    return PolledReader(links, clock, backoff_initial_s, backoff_max_s)
