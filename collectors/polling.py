"""Polling many meters through their links, whatever the protocol: per-device health and back-off.

A *link* is whatever reaches a gateway's meters (a pool of Modbus TCP connections, an RS-485 bus, a
transparent serial server): an object with ``async read(meter) -> dict[str, float]`` that raises
:class:`~workspace.errors.CollectorError` naming the meter, the gateway and what went wrong, and
``close()``. :class:`PolledReader` reads every meter through its gateway's link concurrently (a link
serialises what its medium cannot carry in parallel), tracks each device's health and backs off from
devices that fail, so that a dead meter never stalls the others.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Protocol

from workspace.batch import Reading
from workspace.clock import Clock
from workspace.errors import CollectorError
from workspace.site import Meter
from workspace.store.layout import CLOCK_TOLERANCE_S

log = logging.getLogger(__name__)

#: per-tariff energy quantities a link may return (DL/T 645: 尖 sharp, 峰 peak, 平 flat, 谷 valley) [kWh]
TARIFF_QUANTITIES = ("energy_tariff_1", "energy_tariff_2", "energy_tariff_3", "energy_tariff_4")


class Link(Protocol):
    """What a reader needs from the link to one gateway."""

    async def read(self, meter: Meter) -> dict[str, float]: ...

    def close(self) -> None: ...


@dataclass
class DeviceHealth:
    """What the collector knows of one meter's link: for `tanjian status` and the dashboards."""

    meter: str
    last_seen: float | None = None  # wall clock [s since epoch]
    reads: int = 0
    errors: int = 0
    consecutive_failures: int = 0
    last_error: str | None = None
    latency_ms: float | None = None
    next_attempt: float = 0.0  # wall clock [s since epoch]; back-off
    backoff_s: float = 0.0  # current wait between attempts [s]; 0 while the device answers
    rejected: int = 0  # payloads refused (malformed, badly signed) from devices that push their data
    superseded: int = 0  # readings of a minute already journaled: not journaled (collectors.minute)
    unsupported: dict = field(default_factory=dict)  # items the device does not answer -> its answer
    clock_offset_s: float | None = None  # device clock minus the collector's at the last read that told it [s]

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class PolledReader:
    """Reads meters through the links of their gateways, with health and back-off.

    Parameters
    ----------
    links : dict
        Gateway id -> :class:`Link`.
    clock : Clock
        Time stamps of the readings.
    backoff_initial_s, backoff_max_s : float
        Wait after the first failure, doubled per failure up to the maximum [s, wall clock].

    Attributes
    ----------
    health : dict
        Meter id -> :class:`DeviceHealth`.
    last_values : dict
        Meter id -> every quantity decoded at its last good read (DL/T 645 meters add their
        per-tariff energies ``energy_tariff_1..4`` [kWh], carried on as :attr:`Reading.tariffs`, and,
        when their clock was read, ``device_time`` [s since the epoch, UTC]).
    """

    def __init__(self, links: dict[str, Link], clock: Clock, backoff_initial_s: float = 2.0,
                 backoff_max_s: float = 300.0):
        self.links = links
        self.clock = clock
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.health: dict[str, DeviceHealth] = {}
        self.last_values: dict[str, dict[str, float]] = {}
        #: device clock vs ours beyond which the log warns (the fold flags such readings CLOCK_DRIFT) [s]
        self.clock_tolerance_s = CLOCK_TOLERANCE_S

    async def read_one(self, meter: Meter) -> Reading | None:
        """One meter's reading, or None when it failed (recorded in its health) or is backing off."""
        h = self.health.setdefault(meter.id, DeviceHealth(meter.id))
        if time.time() < h.next_attempt:
            return None  # backing off
        t0 = time.perf_counter()
        try:
            link = self.links.get(meter.gateway)
            if link is None:
                raise CollectorError(f"meter {meter.id}: no link to gateway {meter.gateway!r}")
            v = await link.read(meter)
            if not math.isfinite(v.get("counter", math.nan)):
                raise CollectorError(f"meter {meter.id} on {meter.gateway}: no finite counter in {v!r}")
        except CollectorError as exc:
            self._failed(h, exc)
            return None
        except Exception as exc:  # noqa: BLE001 - a bug in one link must not stop the poll of the others
            log.exception("meter %s: unexpected %s", meter.id, type(exc).__name__)
            self._failed(h, CollectorError(f"meter {meter.id} on {meter.gateway}: unexpected "
                                           f"{type(exc).__name__}: {exc}"))
            return None
        if h.consecutive_failures:
            log.info("meter %s answers again after %d failures", meter.id, h.consecutive_failures)
        h.reads += 1
        h.consecutive_failures = 0
        h.next_attempt = 0.0
        h.backoff_s = 0.0
        h.last_seen = time.time()
        h.latency_ms = (time.perf_counter() - t0) * 1000
        self.last_values[meter.id] = v
        if hasattr(link, "unsupported_items"):  # DL/T 645: items the meter answered abnormally
            h.unsupported = link.unsupported_items(meter.id)
        nan = math.nan
        device = v.get("device_time")  # the meter's own clock at the end of the read [s since the epoch]
        tariffs = None  # the meter's time-of-use registers; NaN for a tariff it does not have
        if any(k in v for k in TARIFF_QUANTITIES):
            tariffs = tuple(v.get(k, nan) for k in TARIFF_QUANTITIES)
        now = self.clock.now()
        if device is not None:
            self._clock_offset(h, device - now.timestamp())
        return Reading(meter.id, now, v["counter"], v.get("rate", nan), v.get("voltage", nan),
                       v.get("current", nan), v.get("power_factor", nan), 0,
                       None if device is None else dt.datetime.fromtimestamp(device, dt.timezone.utc), tariffs)

    def _clock_offset(self, h: DeviceHealth, offset: float) -> None:
        """Record the device's clock offset; say so when it crosses the tolerance (either way): a clock step
        of the collector's host or of the meter shows in the log and in ``tanjian status``."""
        was = h.clock_offset_s
        h.clock_offset_s = round(offset, 3)
        off, was_off = abs(offset) > self.clock_tolerance_s, was is not None and abs(was) > self.clock_tolerance_s
        if off and not was_off:
            log.warning("meter %s: its clock is %+.0f s off the collector's (tolerance %g s): check the "
                        "collector's and the meter's time; its readings are flagged CLOCK_DRIFT", h.meter,
                        offset, self.clock_tolerance_s)
        elif was_off and not off:
            log.info("meter %s: its clock agrees with the collector's again (%+.0f s)", h.meter, offset)

    def _failed(self, h: DeviceHealth, exc: CollectorError) -> None:
        h.errors += 1
        h.consecutive_failures += 1
        h.last_error = str(exc)
        wait = min(self.backoff_max_s, self.backoff_initial_s * 2 ** (h.consecutive_failures - 1))
        h.next_attempt = time.time() + wait
        h.backoff_s = wait
        level = logging.WARNING if h.consecutive_failures in (1, 5) or h.consecutive_failures % 50 == 0 \
            else logging.DEBUG
        log.log(level, "%s (failure %d; next try in %.0f s)", exc, h.consecutive_failures, wait)

    async def read(self, meters: list[Meter]) -> list[Reading]:
        """Read many meters concurrently; failed or backing-off meters are simply absent."""
        got = await asyncio.gather(*(self.read_one(m) for m in meters))
        return [r for r in got if r is not None]

    def close(self) -> None:
        for link in self.links.values():
            link.close()
