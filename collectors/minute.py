"""One reading per meter and minute for the collectors that receive pushed data (MQTT, OPC UA).

The store holds one reading per meter and minute slot; a second one for the same slot is flagged
``DUPLICATE`` by the fold. Polled meters are read once a minute, so only the collectors that are
*sent* readings (an MQTT device publishing every 10 s, an OPC UA subscription notifying every
second) can deliver several a minute. :class:`MinuteRule` is where they all go through, in
:class:`collectors.service.CollectionService`'s journal path: per meter, the first reading of each
minute slot is journaled, the later ones of the same slot are *superseded* — counted in the meter's
health (``superseded`` in ``tanjian health`` and :func:`collectors.health.device_health`), logged at
debug, not journaled.

The minute slot
---------------
Exactly the store's: the fold puts a reading at ``(t_ms - origin_ms) // 60000`` where ``t_ms`` is
its time in whole milliseconds since 1970-01-01T00:00Z (the journal keeps milliseconds, truncating
the rest) and the origin is a UTC midnight. So the slot is the **UTC minute** holding the reading's
time truncated to the millisecond: 10:00:59.9996Z is journaled as 10:00:59.999Z and belongs to the
10:00 slot, not to 10:01. :func:`minute_slot` counts such minutes since 1970-01-01T00:00Z; it differs
from the store's slot index by the constant origin only.

Which reading is "first"
------------------------
Within one batch handed to the rule, the one with the earliest time of each slot (the fold keeps the
earliest of a slot too); across batches, the one journaled first. A reading for a slot *earlier*
than the meter's newest one (a device's buffer sent after an outage, a redelivery out of order) is
not superseded unless that very slot already has its reading: late data reaches the store, which
flags it ``OUT_OF_ORDER`` as it does for any late reading. The rule remembers the last
:data:`RECENT_SLOTS` slots journaled per meter; a late reading for a slot older than those is passed
to the store, which decides (and flags a true repeat ``DUPLICATE``).

Across a restart
----------------
The rule recovers each meter's recent slots from the journal's tail (:meth:`MinuteRule.recover`,
the last :data:`TAIL_RECORDS` batches) when the service starts. Without that, a collector restarted
within a minute (an upgrade, a configuration change) would journal a second reading of that minute
for every pushing meter, and an MQTT message redelivered after a crash between the journal's fsync
and the broker's PUBACK would be journaled twice — both flagged ``DUPLICATE`` by the store. Reading a
thousand batches at start costs little (see the docs); a meter whose last reading is older than the
tail is simply allowed once, which is right: its last journaled minute is long past.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from workspace.batch import Reading, decode_columns
from workspace.errors import JournalError

from .polling import DeviceHealth

log = logging.getLogger(__name__)

SLOT_MS = 60_000  # the store's slot [ms] (workspace.store.SLOT_MS)
RECENT_SLOTS = 16  # slots remembered per meter: late readings for these are recognised as repeats
TAIL_RECORDS = 1000  # journal batches read back at start to recover each meter's recent slots
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def minute_slot(t: dt.datetime) -> int:
    """The minute slot of a reading's time, as the store computes it: whole UTC minutes since
    1970-01-01T00:00Z of the time truncated to the millisecond [min].

    Raises
    ------
    ValueError
        For a naive datetime (readings need a timezone).
    """
    if t.tzinfo is None:
        raise ValueError(f"naive datetime {t!r}: readings need a timezone")
    return ((t - _EPOCH) // dt.timedelta(milliseconds=1)) // SLOT_MS


@dataclass
class Admission:
    """What :meth:`MinuteRule.admit` decided for one batch; applied by :meth:`MinuteRule.commit`."""

    kept: list[Reading]
    superseded: list[Reading]
    slots: dict[str, list[int]] = field(default_factory=dict)  # meter -> slots kept by this batch


class MinuteRule:
    """Per meter, the first reading of each minute slot; later ones in the slot are superseded.

    Parameters
    ----------
    health_of : callable, optional
        ``health_of(meter_id)`` -> the meter's :class:`~collectors.polling.DeviceHealth` (or None),
        whose ``superseded`` count is raised for each reading superseded.
    recent : int
        Slots remembered per meter (:data:`RECENT_SLOTS`).

    Attributes
    ----------
    superseded : int
        Readings superseded since the start, all meters.

    Notes
    -----
    :meth:`admit` decides without changing anything and :meth:`commit` applies the decision, so a
    caller whose journal refuses the batch (a full disk) offers the same readings again later and they
    are judged as the first time. :meth:`filter` does both at once, for callers that keep every kept
    reading until it is journaled.
    """

    def __init__(self, health_of: Callable[[str], DeviceHealth | None] | None = None, *,
                 recent: int = RECENT_SLOTS):
        self.health_of = health_of
        self.recent = recent
        self.superseded = 0
        self._kept: dict[str, list[int]] = {}  # meter -> recent slots journaled, ascending

    def last_slot(self, meter: str) -> int | None:
        """The newest slot journaled for ``meter`` (see :func:`minute_slot`), or None."""
        s = self._kept.get(meter)
        return s[-1] if s else None

    def admit(self, readings: list[Reading]) -> Admission:
        """Decide which readings of a batch are kept (in their original order) and which superseded."""
        keep = [False] * len(readings)
        groups: dict[str, list[int]] = {}
        for k, r in enumerate(readings):
            groups.setdefault(r.meter, []).append(k)
        slots: dict[str, list[int]] = {}
        for meter, idx in groups.items():
            if len(idx) > 1:
                idx.sort(key=lambda k: readings[k].time)  # stable, and linear when already in time order
            have = set(self._kept.get(meter, ()))
            new = []
            for k in idx:
                s = minute_slot(readings[k].time)
                if s not in have:
                    have.add(s)
                    new.append(s)
                    keep[k] = True
            if new:
                slots[meter] = new
        kept = [r for r, k in zip(readings, keep) if k]
        return Admission(kept, [r for r, k in zip(readings, keep) if not k], slots)

    def commit(self, adm: Admission) -> None:
        """Apply a decision of :meth:`admit` once its kept readings are journaled (or queued to be)."""
        for meter, new in adm.slots.items():
            self._remember(meter, new)
        self.superseded += len(adm.superseded)
        debug = log.isEnabledFor(logging.DEBUG)
        for r in adm.superseded:
            h = self.health_of(r.meter) if self.health_of is not None else None
            if h is not None:
                h.superseded += 1
            if debug:
                log.debug("meter %s: reading at %s superseded: minute %s already has its reading", r.meter,
                          r.time.isoformat(), r.time.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%MZ"))

    def filter(self, readings: list[Reading]) -> list[Reading]:
        """:meth:`admit` then :meth:`commit`; returns the readings kept."""
        adm = self.admit(readings)
        self.commit(adm)
        return adm.kept

    def _remember(self, meter: str, slots: Iterable[int]) -> None:
        have = self._kept.get(meter)
        slots = list(slots)
        if have and len(slots) == 1 and slots[0] > have[-1]:  # the usual case: the next minute
            have.append(slots[0])
            if len(have) > self.recent:
                del have[0]
            return
        merged = sorted(set(have or ()).union(slots))
        self._kept[meter] = merged[-self.recent:]

    def recover(self, journal, meters: Iterable[str], *, records: int = TAIL_RECORDS) -> int:
        """Remember the slots journaled for ``meters`` in the journal's last ``records`` batches.

        Batches carrying a note (corrections, meter swaps, documents) are skipped: they are not
        collected readings. A tail that cannot be read is logged and skipped (each meter is then allowed
        one reading of its current minute). Returns how many of ``meters`` were found.
        """
        wanted = set(meters)
        if not wanted:
            return 0
        n = len(journal)
        start = max(0, n - records)
        found: dict[str, set[int]] = {}
        try:
            for seq, payload in journal.records(start, n):
                try:
                    b = decode_columns(payload)
                except ValueError as exc:
                    log.warning("journal batch %d not read for the minute rule: %s", seq, exc)
                    continue
                if b.note is not None or not len(b):
                    continue
                slots = b.time.astype(np.int64) // SLOT_MS
                for i, mid in enumerate(b.meters):
                    if mid in wanted:
                        sel = slots[b.meter == i]
                        if len(sel):
                            found.setdefault(mid, set()).update(sel.tolist())
        except (JournalError, OSError) as exc:
            log.warning("cannot read the journal's tail for the minute rule (%s); each pushing meter may "
                        "journal one more reading of its current minute", exc)
        for mid, s in found.items():
            self._remember(mid, s)
        if found:
            log.info("minute rule: recovered the last journaled minutes of %d of %d pushing meters from the "
                     "journal's last %d batches", len(found), len(wanted), n - start)
        return len(found)


async def journal_admitted(rule: MinuteRule, journal, plant: str, readings: list[Reading],
                           source: str) -> tuple[int | None, int]:
    """Journal the readings ``rule`` admits as one batch, then let the rule remember them: ``(seq, kept)``,
    seq None when every reading was superseded. The caller holds the lock its journal writes share; a
    :class:`~workspace.errors.JournalError` leaves the rule as it was (the caller keeps the readings)."""
    import asyncio

    from workspace.batch import encode_batch

    adm = rule.admit(readings)
    seq = None
    if adm.kept:
        payload = encode_batch(plant, journal.next_seq, source, adm.kept)
        seq = await asyncio.to_thread(journal.append, payload)
    rule.commit(adm)
    return seq, len(adm.kept)
