"""A small Plant 18 store written minute by minute from hand-chosen power levels (for the energy tests)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from workspace.batch import Reading, encode_batch

TZ = ZoneInfo("Asia/Shanghai")


def write_power(journal, store, pid: str, levels: dict[str, list[tuple[str, float]]], *, until: str,
                power_factor: dict[str, float] | None = None, start_counter: float = 1000.0) -> None:
    """Readings each minute for each meter from its (local time, kW) steps until ``until`` (local): the
    power holds from each step's time to the next; the counter integrates it (kW x 1/60 h per minute),
    so the minute ending at t+1 carries the power set at t."""
    out = []
    end = dt.datetime.fromisoformat(until).replace(tzinfo=TZ)
    for meter, steps in levels.items():
        t = dt.datetime.fromisoformat(steps[0][0]).replace(tzinfo=TZ)
        counter = start_counter
        k = 0
        pf = (power_factor or {}).get(meter, float("nan"))
        while t <= end:
            while k + 1 < len(steps) and dt.datetime.fromisoformat(steps[k + 1][0]).replace(tzinfo=TZ) <= t:
                k += 1
            kw = steps[k][1]
            out.append(Reading(meter, t.astimezone(dt.timezone.utc), counter, kw, float("nan"), float("nan"), pf))
            counter += kw / 60.0
            t += dt.timedelta(minutes=1)
    for i in range(0, len(out), 20_000):
        journal.append(encode_batch(pid, journal.next_seq, "test", out[i:i + 20_000]))
    store.fold(journal)
