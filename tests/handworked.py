"""Totals worked out by hand from what the meters themselves reported (the journal), for tests that
check the store's answers against them."""

from __future__ import annotations

import datetime as dt

from workspace.batch import decode_batch
from workspace.journal import Journal


def plant_electricity_from_counters(cfg, start: dt.datetime, hours: float) -> float:
    """Plant electricity [kWh] over ``[start, start + hours)``: for each transformer incomer (the plant's
    top electricity meters), its counter at the end minus its counter at the start, as journaled."""
    readings = [r for _, p in Journal(cfg.paths.journal).records() for r in decode_batch(p).readings]
    end = start + dt.timedelta(hours=hours)
    total = 0.0
    for m in cfg.site.top_meters("electricity"):
        at = {r.time.replace(microsecond=0): r.counter for r in readings if r.meter == m}
        total += at[end] - at[start]
    return total
