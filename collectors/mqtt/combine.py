"""One reading a minute from a meter fed by several topics, or by messages carrying only some fields.

A Shelly Pro 3EM publishes its power (``status/em:0``) and its energy (``status/emdata:0``) as two
messages; a Shelly Gen1 publishes each quantity on its own topic; a Gen2 ``NotifyStatus`` carries only
what changed. Each message gives a :class:`~collectors.mqtt.payload.Fragment` (some quantities at one
time); :class:`MinuteCombiner` gathers a meter's fragments by minute (of their time) and makes one
:class:`~workspace.batch.Reading` of each minute:

- the first value of each quantity in a minute is kept; later ones in the same minute are superseded
  (the counter is never counted twice, and the minute is journaled once);
- the minute is complete, and its reading made at once, when every quantity the mapping gives has
  arrived; otherwise it is closed ``combine_wait_s`` after its end with what came: a reading if the
  counter came (the others NaN), nothing (counted ``incomplete``) if it did not;
- a fragment of a minute already closed is superseded; so is a fragment of an older minute: minutes
  close in order.

Every message is accounted for: its reference (its packet id for the broker's acknowledgement) goes
with the reading it contributed to, or with an empty outcome when it was superseded or dropped, so that
it is acknowledged only once what it contributed is journaled.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from workspace.batch import Reading
from workspace.units import READING_QUANTITIES

from .payload import Fragment

#: quantities a reading carries besides its counter
_OTHERS = tuple(q for q in READING_QUANTITIES if q != "counter")


@dataclass
class _Minute:
    start: dt.datetime
    values: dict[str, float] = field(default_factory=dict)
    times: dict[str, dt.datetime] = field(default_factory=dict)
    refs: list = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    """A closed minute's reading (None: superseded or incomplete) and the messages it accounts for."""

    reading: Reading | None
    refs: list


def minute_of(t: dt.datetime) -> dt.datetime:
    return t.replace(second=0, microsecond=0)


class MinuteCombiner:
    """One meter's fragments, combined into one reading a minute.

    Parameters
    ----------
    meter : str
        The meter's id.
    quantities : iterable of str
        Every quantity the meter's mapping gives (over all its topics): a minute with all of them is
        complete.
    wait_s : float
        How long after a minute's end a minute still missing quantities is kept open [s].

    Attributes
    ----------
    superseded, incomplete : int
        Fragments that came too late for their minute (or repeated a quantity), and minutes closed
        without a counter.
    """

    def __init__(self, meter: str, quantities, wait_s: float = 60.0):
        self.meter = meter
        self.quantities = frozenset(quantities)
        self.wait = dt.timedelta(seconds=wait_s)
        self.open: dict[dt.datetime, _Minute] = {}
        self.closed_until: dt.datetime | None = None
        self.superseded = 0
        self.incomplete = 0

    def add(self, frag: Fragment, ref: Any) -> list[Outcome]:
        """Take one message's fragment; returns the minutes this closes (possibly none)."""
        m = minute_of(frag.time)
        if not frag.values or (self.closed_until is not None and m <= self.closed_until):
            self.superseded += bool(frag.values)
            return [Outcome(None, [ref])]
        mm = self.open.setdefault(m, _Minute(m))
        repeated = True
        for q, x in frag.values.items():
            if q not in mm.values:
                mm.values[q] = x
                mm.times[q] = frag.time
                repeated = False
        self.superseded += repeated
        mm.refs.append(ref)
        if set(mm.values) >= self.quantities:
            return self._close_through(m)
        return []

    def due(self, now: dt.datetime) -> list[Outcome]:
        """Close the minutes whose wait is over at ``now``."""
        ripe = [m for m in self.open if m + dt.timedelta(minutes=1) + self.wait <= now]
        return self._close_through(max(ripe)) if ripe else []

    def reset(self) -> list:
        """Forget the open minutes (their messages will be delivered again); returns their references."""
        refs = [r for mm in self.open.values() for r in mm.refs]
        self.open.clear()
        return refs

    def _close_through(self, until: dt.datetime) -> list[Outcome]:
        out = []
        for m in sorted(k for k in self.open if k <= until):
            mm = self.open.pop(m)
            out.append(Outcome(self._reading(mm), mm.refs))
        self.closed_until = until if self.closed_until is None else max(self.closed_until, until)
        return out

    def _reading(self, mm: _Minute) -> Reading | None:
        if "counter" not in mm.values:
            self.incomplete += 1
            return None
        v = mm.values
        return Reading(self.meter, mm.times["counter"], v["counter"],
                       *(v.get(q, math.nan) for q in _OTHERS), 0)
