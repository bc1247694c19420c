"""The collection service: poll every meter each period, acknowledge each cycle's readings as one
journaled batch, and fold the journal into the store in transactions.

Poll cycles are journaled as columnar ``tanjian.batch/2`` batches (see :mod:`workspace.batch`);
backfilled demo history and requests from the inbox (corrections, meter swaps, documents) stay JSON.
With ``compact_interval_s`` the service also compacts the store on that schedule: versions older
than ``compact_keep_days`` are expired (tagged ones kept) and the data only they used is deleted,
since every fold rewrites whole chunks (write amplification: see benchmarks/README.md).

Nothing is acknowledged before it is fsync'd; a batch the disk refused stays in memory and is
retried each cycle (and the log says so, naming the path), so collection continues through a full
disk and catches up when space returns.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import math
import os
import time
from pathlib import Path

import numpy as np

from workspace.batch import Reading, encode_batch, encode_batch_columnar
from workspace.clock import Clock
from workspace.errors import DiskFullError, JournalError
from workspace.journal import Journal
from workspace.keeper import Keeper
from workspace.site import PUSH_PROTOCOLS, SUBSCRIBED_PROTOCOLS, Medium, Site
from workspace.store import Store

from .minute import MinuteRule, journal_admitted
from .readers import reader_for

log = logging.getLogger(__name__)

GROUP_CYCLES = 100  # cycles waiting in memory journaled with one fsync at most
FOLD_BATCHES = 10_000  # journal batches folded in one commit at most


class CollectionService:
    """Poll → journal → store, for one site.

    Parameters
    ----------
    site : Site
    journal : Journal
        Opened as writer.
    store : Store or None
        Folded into every ``fold_interval_s``; None to only journal.
    clock : Clock
    period_s : float or None
        Poll period in simulated seconds (default: each meter's ``period_s``; the shortest is used).
    device_registry : Contract or None
        DeviceRegistry that signed MQTT payloads are checked against (None: each meter's configured
        ``device_key`` only).
    base : path, optional
        Folder the relative paths of gateways (OPC UA certificates and keys) are taken from
        (default: the working folder).

    Meters on push gateways (``protocol: mqtt``) are not polled: one
    :class:`collectors.mqtt.client.MqttCollector` per such gateway journals what its broker delivers, through
    the same journal, one batch per flush interval. Meters of ``protocol: opcua`` gateways are not
    polled either: :class:`collectors.opcua.OpcUaCollector` subscribes to them, and each cycle journals
    what it received since the last one as its own batch (source ``opcua``) next to the polled readings'.
    Both go through one :class:`collectors.minute.MinuteRule` (attribute ``minute_rule``): per meter,
    the first reading of each store minute slot is journaled and the later ones of that slot are
    counted ``superseded`` in the meter's health; its memory of the last slots is recovered from the
    journal's tail at start.
    compact_interval_s : float or None
        Compact the store this often [s, wall clock]; None or 0: never.
    compact_keep_days : float
        Versions younger than this are kept by compaction [d].
    clock_tolerance_s : float or None
        Device clock vs collector clock beyond which the fold flags CLOCK_DRIFT [s] (None: the
        store's default, :data:`workspace.store.CLOCK_TOLERANCE_S`).

    The inbox is drained, the journal folded and the store compacted through the journal's keeper
    (:class:`workspace.keeper.Keeper`, attribute ``keeper``).
    """

    def __init__(self, site: Site, journal: Journal, store: Store | None, clock: Clock, *,
                 fold_interval_s: float = 5.0, backoff_initial_s: float = 2.0, backoff_max_s: float = 300.0,
                 port_offset: int = 0, period_s: float | None = None, health_path: Path | None = None,
                 source: str = "modbus-tcp", inbox: Path | None = None, device_registry=None,
                 base: Path | None = None, compact_interval_s: float | None = None,
                 compact_keep_days: float = 30.0, clock_tolerance_s: float | None = None):
        self.site = site
        self.journal = journal
        self.store = store
        self.clock = clock
        self.fold_interval_s = fold_interval_s
        pushed = {g.id for g in site.gateways if g.protocol in PUSH_PROTOCOLS}
        subscribed = {g.id for g in site.gateways if g.protocol in SUBSCRIBED_PROTOCOLS}
        self.polled_meters = [m for m in site.meters if m.gateway not in pushed | subscribed]
        self.period_s = period_s or min((m.period_s for m in self.polled_meters), default=60.0)
        self.reader = reader_for([g for g in site.gateways if g.id not in pushed | subscribed], clock,
                                 backoff_initial_s, backoff_max_s, port_offset, timezone=site.plant.timezone)
        self.pushers = []
        if pushed:
            from .mqtt.client import MqttCollector

            quarantine = journal.directory.parent / "quarantine"
            self.pushers = [MqttCollector(g, [m for m in site.meters if m.gateway == g.id], clock,
                                          self.journal_batch, quarantine=quarantine / f"mqtt-{g.id}.jsonl",
                                          registry=device_registry, port_offset=port_offset,
                                          timezone=site.plant.timezone)
                            for g in site.gateways if g.id in pushed]
        self.subscriber = None
        if subscribed:
            from .opcua import OpcUaCollector

            self.subscriber = OpcUaCollector(site.gateways, site.meters, clock, backoff_initial_s=backoff_initial_s,
                                             backoff_max_s=backoff_max_s, base=base)
        # one reading per meter and minute for every meter that is sent its readings (pushed or subscribed)
        self.minute_rule = MinuteRule(self._health_of)
        self.minute_rule.recover(journal, [m.id for m in site.meters if m.gateway in pushed | subscribed])
        self._journal_lock = asyncio.Lock()  # poll cycles, the inbox and push collectors share the journal
        self.pending: list[tuple[str, list[Reading]]] = []  # (source, readings) not yet acknowledged
        self.health_path = health_path
        self.source = source
        self.inbox = inbox
        self.cycles = 0
        self.acknowledged = 0
        self.last_fold_error: str | None = None
        if store is not None and clock_tolerance_s is not None:
            store.clock_tolerance_s = clock_tolerance_s
        if clock_tolerance_s is not None:
            self.reader.clock_tolerance_s = clock_tolerance_s
        self.keeper = Keeper(store, journal, inbox=inbox, plant=site.plant.id)
        self.compact_interval_s = compact_interval_s or None
        self.compact_keep_days = compact_keep_days
        self._last_compaction = time.monotonic()
        self.last_compaction: dict | None = None  # counts of the last compaction, and when [unix s]

    # -- one cycle -------------------------------------------------------------------------------
    async def poll_once(self) -> int:
        """Read every meter once and journal the readings; returns the number acknowledged."""
        readings = await self.reader.read(self.polled_meters) if self.polled_meters else []
        subscribed: list[Reading] = []
        if self.subscriber is not None:
            self.subscriber.start()
            subscribed = self.subscriber.drain()
        self.cycles += 1
        async with self._journal_lock:
            # kept readings wait in self.pending until journaled: decided and remembered at once
            subscribed = self.minute_rule.filter(subscribed)
            if self.inbox is not None and not self.pending:
                try:
                    await asyncio.to_thread(self.keeper.drain)
                except JournalError as exc:
                    log.error("inbox: %s (requests stay in %s)", exc, self.inbox)
            for source, batch in ((self.source, readings), ("opcua", subscribed)):
                if batch:
                    self.pending.append((source, batch))
            acked = 0
            while self.pending:
                # one fsync for every cycle waiting (after a full disk: catching up in one group commit)
                group = self.pending[:GROUP_CYCLES]
                try:
                    seq = self.journal.next_seq
                    payloads = [encode_batch_columnar(self.site.plant.id, seq + k, source, rs)
                                for k, (source, rs) in enumerate(group)]
                    await asyncio.to_thread(self.journal.append_many, payloads)
                except DiskFullError as exc:
                    log.error("%s (%d cycles waiting)", exc, len(self.pending))
                    break
                except JournalError as exc:
                    log.error("journal: %s (%d cycles waiting)", exc, len(self.pending))
                    break
                del self.pending[:len(group)]
                acked += sum(len(rs) for _, rs in group)
            self.acknowledged += acked
        return acked

    async def journal_batch(self, readings: list[Reading], source: str) -> int:
        """Journal one batch from a push collector; returns once it is fsync'd (the acknowledgement).

        Readings of a minute slot that already has its reading are superseded (counted in the meter's
        health, not journaled: :class:`~collectors.minute.MinuteRule`); they are handled all the same,
        and the caller acknowledges them.

        Returns
        -------
        int
            Readings journaled.

        Raises
        ------
        JournalError
            When the journal refused it (a full disk included): the caller keeps the readings, and the
            minute rule remembers nothing of them.
        """
        return (await self.journal_pushed(readings, source))[1]

    async def journal_pushed(self, readings: list[Reading], source: str) -> tuple[int | None, int]:
        """:meth:`journal_batch`, returning also the batch's journal sequence number (None when every reading
        was superseded and nothing was journaled): ``(seq, readings journaled)``. The push endpoint answers
        with the sequence number (:class:`collectors.push.ServiceSink`)."""
        async with self._journal_lock:
            seq, kept = await journal_admitted(self.minute_rule, self.journal, self.site.plant.id, readings, source)
            self.acknowledged += kept
            return seq, kept

    async def journal_points(self, time: dt.datetime, rooms: dict[str, dict[str, float]]) -> int:
        """Journal one reading of the distribution rooms' points (room id -> {point: value}, read at
        ``time``) as a ``points`` batch (:func:`workspace.batch.encode_points`); returns its sequence
        number. The fold stores it in the store's points grid (:mod:`workspace.store.points`)."""
        from workspace.batch import encode_points

        async with self._journal_lock:
            payload = encode_points(self.site.plant.id, self.journal.next_seq, "rooms", time, rooms)
            return await asyncio.to_thread(self.journal.append, payload)

    def _health_of(self, meter: str):
        """The health record of a pushed or subscribed meter (None for others)."""
        for p in self.pushers:
            if meter in p.health:
                return p.health[meter]
        if self.subscriber is not None:
            return self.subscriber.health.get(meter)
        return None

    def fold_once(self) -> None:
        if self.store is None:
            return
        try:
            self.keeper.fold(max_batches=FOLD_BATCHES)
        except Exception:  # noqa: BLE001 - keep collecting; the journal holds everything (the keeper logged it)
            pass
        self.last_fold_error = self.keeper.fold_error

    def device_health(self) -> dict:
        """Meter (or push gateway) id -> :class:`~collectors.polling.DeviceHealth`: polled, pushed and
        subscribed meters alike."""
        out = dict(self.reader.health)
        for p in self.pushers:
            out.update(p.health)
        if self.subscriber is not None:
            out.update(self.subscriber.health)
        return out

    @property
    def health(self) -> dict:
        """Same as :meth:`device_health`."""
        return self.device_health()

    async def close(self) -> None:
        """Close the polled links and end the subscriptions."""
        self.reader.close()
        if self.subscriber is not None:
            await self.subscriber.close()

    def compact_due(self) -> bool:
        """Whether the compaction schedule says it is time."""
        return (self.store is not None and self.compact_interval_s is not None
                and time.monotonic() - self._last_compaction >= self.compact_interval_s)

    def compact_once(self) -> dict | None:
        """Compact the store now (the fold waits meanwhile); returns the counts, None on failure."""
        if self.store is None:
            return None
        self._last_compaction = time.monotonic()
        try:
            out = self.keeper.compact(self.compact_keep_days)
        except Exception as exc:  # noqa: BLE001 - collection goes on; compaction is retried next period
            log.error("compacting %s failed (collection goes on): %s: %s", self.store.path, type(exc).__name__, exc)
            return None
        self.last_compaction = {**out, "at": time.time(), "keep_days": self.compact_keep_days}
        log.info("compacted %s: %d old versions expired, %.1f MB deleted (versions of the last %g days and "
                 "tagged ones kept)", self.store.path, out["expired"], out["deleted_bytes"] / 1e6,
                 self.compact_keep_days)
        return out

    def write_health(self) -> None:
        if self.health_path is None:
            return
        doc = {"written_at": time.time(), "clock": self.clock.spec(), "cycles": self.cycles,
               "acknowledged": self.acknowledged, "journal_batches": len(self.journal),
               "pending_cycles": len(self.pending), "fold_error": self.keeper.fold_error,
               "last_compaction": self.last_compaction,
               "devices": {k: v.as_dict() for k, v in sorted(self.device_health().items())}}
        tmp = self.health_path.with_suffix(".tmp")
        try:
            self.health_path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(doc, indent=1))
            os.replace(tmp, self.health_path)
        except OSError as exc:
            log.warning("cannot write %s: %s", self.health_path, exc)

    # -- loops -----------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Poll at each period boundary of the clock until ``stop`` is set; fold in between."""
        log.info("collecting %d meters through %d gateways every %g s (clock %s)", len(self.site.meters),
                 len(self.site.gateways), self.period_s, self.clock.spec())
        if self.subscriber is not None:
            self.subscriber.start()
        folder = asyncio.create_task(self._fold_loop(stop))
        pushers = [asyncio.create_task(p.run(stop)) for p in self.pushers]
        try:
            while not stop.is_set():
                now = self.clock.now()
                epoch = now.timestamp()
                nxt = (epoch // self.period_s + 1) * self.period_s + 0.2  # just past the slot boundary
                wait = self.clock.sleep_seconds(nxt - epoch)
                try:
                    await asyncio.wait_for(stop.wait(), timeout=wait)
                    break
                except asyncio.TimeoutError:
                    pass
                await self.poll_once()
                self.write_health()
        finally:
            stop.set()  # also when the loop above failed: push collectors flush and disconnect
            for task in pushers:
                try:
                    await task
                except Exception:  # noqa: BLE001 - report, and still close the rest
                    log.exception("push collector failed")
            folder.cancel()
            await asyncio.gather(folder, return_exceptions=True)
            await self.close()
            await asyncio.to_thread(self.fold_once)
            self.write_health()

    async def _fold_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(self.fold_interval_s)
            await asyncio.to_thread(self.fold_once)
            if self.compact_due():
                await asyncio.to_thread(self.compact_once)


def backfill(site: Site, journal: Journal, model, start: dt.datetime, end: dt.datetime, *,
             batch_minutes: int = 60, progress=None) -> int:
    """Journal the load model's readings for [start, end) as gateway-buffer batches (demo history).

    Returns the number of readings acknowledged.
    """
    n = 0
    t = start
    elec = np.array([site.meter(m).medium == Medium.electricity for m in model.meter_ids])
    while t < end:
        t_end = min(end, t + dt.timedelta(minutes=batch_minutes))
        readings = []
        for when, counters, rates in model.minutes(t, t_end):
            when = when + dt.timedelta(milliseconds=300)  # as a poll just past the boundary would
            v, i, pf = model.electrical(rates, when.minute)
            for k, mid in enumerate(model.meter_ids):
                if elec[k]:
                    readings.append(Reading(mid, when, float(counters[k]), float(rates[k]), float(v[k]),
                                            float(i[k]), float(pf[k]), 0))
                else:
                    readings.append(Reading(mid, when, float(counters[k]), float(rates[k]), math.nan,
                                            math.nan, math.nan, 0))
        if readings:
            # history stays tanjian.batch/1 (JSON): demo workspaces and their exports keep readable batch files
            journal.append(encode_batch(site.plant.id, journal.next_seq, "simulator-history", readings))
            n += len(readings)
        if progress is not None:
            progress.update((t_end - t).total_seconds() / 60)
        t = t_end
    return n
