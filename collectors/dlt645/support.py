"""What a DL/T 645 meter answers: the requests that read its family's items, and the items it lacks.

Real meters lack many items (a single-phase meter has no phase B or C, a single-rate meter no tariff
registers, an older or cheaper one no data blocks) and answer a read of one with an abnormal reply
(2007: control code D1 with its error byte, bit 1 "no requested data" (无请求数据) or bit 0 "other
error"; 1997: C1, bit 1 "wrong data identifier" (数据标识错)). Only the energy counter is required of a
meter: any other item, or a block, it answers abnormally is remembered here as unsupported *for that
meter* (with the answer, for ``tanjian health``), is not asked for again, and is probed again once a
day (:data:`REPROBE_S`), as meters are replaced or reconfigured. An item the meter leaves unanswered
(silence or a garbled reply) while it answers its counter is marked after :data:`SILENT_LIMIT`
consecutive reads, as some meters stay silent on identifiers they do not know.

:func:`plan` turns a family and the identifiers to skip into the requests of one read: a data block
where the family asks for blocks and one covers two or more of the items still wanted, single reads
for the rest, the request carrying the counter first (the meter's read fails only when that fails).

The memory is in the collector's process: after a restart the first read learns it again (one
abnormal reply per missing item).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable

from collectors.dlt645.frame import Block, DataItem, Family, blocks_of, describe_error

log = logging.getLogger(__name__)

#: how long an item a meter answered abnormally is not asked for [s]: a day
REPROBE_S = 86400.0
#: consecutive reads an item goes unanswered (while the counter is answered) before it is marked
SILENT_LIMIT = 3


@dataclass(frozen=True)
class Request:
    """One read request of a meter's read: a single item, or a block carrying ``items``."""

    di: int
    items: tuple[DataItem, ...]
    block: Block | None = None

    @property
    def has_counter(self) -> bool:
        return any(it.quantity == "counter" for it in self.items)


def plan(family: Family, skip: frozenset[int] | set[int] = frozenset()) -> list[Request]:
    """The requests that read ``family``'s items, less the identifiers (items or blocks) in ``skip``.

    The counter is never skipped. With ``family.blocks``, a block not in ``skip`` carrying two or more
    of the wanted items replaces their single reads. The request carrying the counter comes first, the
    others in the family's reading order.
    """
    wanted = [it for it in family.items if it.quantity == "counter" or it.di not in skip]
    out: list[Request] = []
    covered: set[int] = set()
    if family.blocks:
        by_di = {it.di: it for it in wanted}
        for block in blocks_of(family.edition).values():
            members = tuple(by_di[d] for d in block.members if d in by_di)
            if block.di not in skip and len(members) >= 2:
                out.append(Request(block.di, members, block))
                covered.update(it.di for it in members)
    out += [Request(it.di, (it,)) for it in wanted if it.di not in covered]
    order = {it.di: k for k, it in enumerate(family.items)}
    out.sort(key=lambda r: (not r.has_counter, min(order[it.di] for it in r.items)))
    return out


@dataclass
class Mark:
    """Why an identifier is not asked of a meter, and since when [s, the memory's clock]."""

    why: str
    since: float
    name: str


class Unsupported:
    """Per meter, the identifiers (items or blocks) it answered abnormally, each asked again after
    ``reprobe_s``.

    Parameters
    ----------
    reprobe_s : float
        How long a mark holds [s].
    clock : callable
        Seconds of a monotonic clock (default :func:`time.monotonic`; tests move it).
    """

    def __init__(self, reprobe_s: float = REPROBE_S, clock: Callable[[], float] = time.monotonic):
        self.reprobe_s = reprobe_s
        self.clock = clock
        self.marks: dict[str, dict[int, Mark]] = {}
        self._silent: dict[tuple[str, int], int] = {}
        self._seen: dict[tuple[str, int], str] = {}  # the last answer of each identifier ever marked

    def skip(self, meter: str) -> frozenset[int]:
        """The identifiers not to ask ``meter`` for now; marks older than ``reprobe_s`` are dropped (the
        item is probed again: answered, it is forgotten; refused, it is marked anew)."""
        marks = self.marks.get(meter)
        if not marks:
            return frozenset()
        now = self.clock()
        for di in [di for di, m in marks.items() if now - m.since >= self.reprobe_s]:
            log.info("meter %s: asking for %s again (unsupported for %.0f h)", meter, marks[di].name,
                     (now - marks[di].since) / 3600)
            del marks[di]
        return frozenset(marks)

    def mark(self, meter: str, di: int, name: str, why: str) -> None:
        """Remember that ``meter`` does not answer ``di`` (``name`` as shown, ``why`` its answer); warned
        about the first time, noted at INFO when a daily probe gets the same answer."""
        self._silent.pop((meter, di), None)
        self.marks.setdefault(meter, {})[di] = Mark(why, self.clock(), name)
        again = self._seen.get((meter, di)) == why
        self._seen[(meter, di)] = why
        log.log(logging.INFO if again else logging.WARNING, "meter %s does not answer %s: %s; its readings "
                "carry what it answers, and it is asked again in %.0f h", meter, name, why,
                self.reprobe_s / 3600)

    def refused(self, meter: str, di: int, name: str, error: int, edition: int) -> None:
        """An abnormal reply with error byte ``error``: the identifier is marked."""
        self.mark(meter, di, name, f"error byte {error:02X}: {describe_error(error, edition)}")

    def unanswered(self, meter: str, di: int, name: str, why: str) -> bool:
        """One more read in which ``di`` went unanswered; marks it (and returns True) at
        :data:`SILENT_LIMIT` in a row."""
        n = self._silent.get((meter, di), 0) + 1
        self._silent[(meter, di)] = n
        if n >= SILENT_LIMIT:
            self.mark(meter, di, name, f"no answer {n} reads in a row ({why})")
            return True
        return False

    def answered(self, meter: str, di: int) -> None:
        """``di`` was answered: its run of unanswered reads ends."""
        self._silent.pop((meter, di), None)

    def of(self, meter: str) -> dict[str, str]:
        """What ``meter`` is known not to answer: identifier (hex, as the standard writes it) -> its
        answer (for the health table)."""
        return {m.name.split()[0]: m.why for m in self.marks.get(meter, {}).values()}
