"""The alarm loop the collector runs: each minute (of the collector's clock) read the distribution rooms'
sensor blocks and the PV inverters' and batteries' SunSpec models, gather the snapshot from the store, add the energy models' figures and evaluate the rules
(:class:`models.alarms.AlarmEngine`), notifying through the rules file's channels.

The rules file: ``alarms.yaml`` beside the configuration file; for the packaged Plant 18 example, the
packaged rules (``models/alarms/data/plant18-alarms.yaml``). A configuration without one runs no alarms
(and says so once).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path

log = logging.getLogger(__name__)
PERIOD_S = 60.0  # of the collector's clock
FOLD_WAIT_S = 15.0  # [s, wall] how long a cycle waits for the fold of the room points it journaled
MIN_WALL_S = 5.0  # never more often than this in wall time (a demo clock running 60 times faster)


def rules_path(cfg) -> Path | None:
    """The rules file of a configuration (see the module docstring), or None."""
    from models.alarms.rules import PLANT18
    from workspace.config import EXAMPLE

    src = Path(cfg.source) if getattr(cfg, "source", None) else None
    if src is not None and src.resolve() == EXAMPLE.resolve():
        return PLANT18
    beside = (src.parent if src is not None else Path.cwd()) / "alarms.yaml"
    return beside if beside.exists() else None


def engine_for(cfg, rules_file: Path | None = None, *, notify: bool = True):
    """The alarm engine of a configuration: its rules, its log under the data dir, its channels."""
    from models.alarms import AlarmDB, AlarmEngine, load_rules
    from models.alarms.notify import Channel, Notifier

    path = rules_file or rules_path(cfg)
    if path is None:
        return None
    rules = load_rules(path)
    notifier = None
    if notify and rules.channels:
        notifier = Notifier([Channel(c.apprise_url(Path(path).parent), c.min_priority) for c in rules.channels],
                            site=cfg.site.plant.name)
    return AlarmEngine(rules, AlarmDB.in_data_dir(cfg.paths.data_dir), notify=notifier)


async def _read_units(site, units, read, what: str, port_offset: int, timeout_s: float, unit_timeout_s: float):
    """``read(client, unit_id)`` of every unit, one Modbus TCP client per gateway; a unit that does not answer
    is left out and logged (one silent unit must not hide the others)."""
    from pymodbus.client import AsyncModbusTcpClient

    out = {}
    gws = {g.id: g for g in site.gateways}
    for gid in sorted({u.gateway for u in units}):
        g = gws[gid]
        client = AsyncModbusTcpClient(g.host, port=g.port + port_offset, timeout=timeout_s, retries=0)
        try:
            await client.connect()
            for u in units:
                if u.gateway == gid:
                    try:
                        async with asyncio.timeout(unit_timeout_s):
                            out[u.id] = await read(client, u.unit_id)
                    except Exception as exc:  # noqa: BLE001 - logged; the others are still read
                        log.warning("%s %s: %s", what, u.id, exc)
        finally:
            client.close()
    return out


async def read_rooms(site, port_offset: int = 0, timeout_s: float = 2.0) -> dict[str, dict[str, float]]:
    """Every room's points, read over Modbus TCP; a room that does not answer is left out (its alarms hold
    their state; the collector's health reports the gateway)."""
    from collectors.points import read_room

    return await _read_units(site, site.rooms, read_room, "distribution room", port_offset, timeout_s,
                             timeout_s * 1.5)


async def read_onsite(site, port_offset: int = 0, timeout_s: float = 2.0) -> dict[str, dict[int, dict]]:
    """Every PV inverter's and battery's SunSpec models, read over Modbus TCP; a unit that does not answer
    is left out."""
    from collectors.points import read_sunspec

    return await _read_units(site, [*site.onsite.pv, *site.onsite.batteries], read_sunspec, "on-site unit",
                             port_offset, timeout_s, timeout_s * 3)


class AlarmLoop:
    """Evaluate the rules each minute against a store of its own (a reader beside the collector's writer)."""

    def __init__(self, cfg, clock, *, port_offset: int = 0, rules_file: Path | None = None, record=None):
        self.cfg = cfg
        # ``record(time, rooms) -> seq``, async: journal the rooms' points (the collector's
        # :meth:`~collectors.service.CollectionService.journal_points`); the rules then read them from the
        # store once folded. None (no collector beside): the points read are evaluated as read, not stored.
        self.record = record
        self.clock = clock
        self.port_offset = port_offset
        self.engine = engine_for(cfg, rules_file)
        self.cycles = 0
        self.last: list = []
        self._store = None
        self._anomaly = None

    def _evaluate(self, now: dt.datetime, rooms: dict, onsite: dict | None = None) -> list:
        from models.alarms.figures import AnomalyWatch
        from models.alarms.inputs import extend, gather
        from workspace.store import Store

        if self._anomaly is None:
            from workspace.business.documents import load_activity

            from models.alarms.figures import UnitConsumptionWatch

            if self._store is None:
                self._store = Store.open(self.cfg.paths.store, self.cfg.site)
            self._anomaly = AnomalyWatch(self._store)
            data_dir = self.cfg.paths.data_dir
            self._units = UnitConsumptionWatch(
                self._store, lambda a, b: load_activity(data_dir, a, b, kinds=["production"]))
        snap = gather(self._store, now, rooms=None if self.record is not None else rooms, onsite=onsite)
        for name, figure in (("anomaly_score", self._anomaly.scores), ("unit_consumption", self._units.figures)):
            try:
                snap = extend(snap, **{name: figure(now)})
            except Exception:  # too little history, no production imported: that rule waits
                log.debug("%s unavailable", name, exc_info=True)
        return self.engine.evaluate(now, snap)

    async def _stored(self, seq: int) -> None:
        """Wait until the collector's fold has stored journal batch ``seq`` (the room points just read), so
        that the rules see them; at most :data:`FOLD_WAIT_S`, then the newest stored points are used."""
        from workspace.store import Store

        if self._store is None:
            self._store = Store.open(self.cfg.paths.store, self.cfg.site)
        deadline = asyncio.get_running_loop().time() + FOLD_WAIT_S
        while self._store.last_folded_seq < seq and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.2)

    async def run(self, stop: asyncio.Event) -> None:
        if self.engine is None:
            log.warning("no alarm rules (alarms.yaml beside the configuration): no alarms are evaluated")
            return
        while not stop.is_set():
            now = self.clock.now()
            try:
                site = self.cfg.site
                rooms = await read_rooms(site, self.port_offset) if site.rooms else {}
                onsite = (await read_onsite(site, self.port_offset)
                          if site.onsite.pv or site.onsite.batteries else {})
                # a unit that did not answer stays in the snapshot with no values: its alarms hold
                if self.record is not None and rooms:
                    await self._stored(await self.record(now, rooms))
                rooms = {r.id: rooms.get(r.id, {}) for r in site.rooms}
                onsite = {u.id: onsite.get(u.id, {}) for u in (*site.onsite.pv, *site.onsite.batteries)}
                self.last = await asyncio.to_thread(self._evaluate, now, rooms, onsite)
                self.cycles += 1
                for t in self.last:
                    log.info("alarm %s #%d %s on %s: %s", t.event, t.alarm, t.rule, t.target, t.message)
            except Exception:  # the store not created yet, a bad snapshot: log and try next minute
                log.exception("alarm evaluation failed")
            try:
                await asyncio.wait_for(stop.wait(), timeout=max(MIN_WALL_S, self.clock.sleep_seconds(PERIOD_S)))
            except TimeoutError:
                pass
