"""Load generated history into a Store without the journal, producing what journal + fold would.

Why: a year at 1,000 meters is 526 M readings; through canonical JSON (≈ 25 µs a reading) and the fold
that is hours, so the benchmark journals and folds only a recent slice and loads the rest here.

How: the public :meth:`workspace.store.Store.bulk_load` (energy derived as the fold derives it,
rollups, and the fold state a later fold of the journal continues from).
``tests/benchmarks/test_benchmarks_smoke.py`` checks that bulk + journal slice gives the same arrays as
journaling everything.
"""

from __future__ import annotations

import datetime as dt

from workspace.store import Store

from ._plantgen import PlantData


def store_origin(store: Store, first_minute: int) -> str:
    """The grid origin a first fold would choose for a first reading at ``first_minute`` (Store._fold's rule)."""
    first = dt.datetime.fromtimestamp(first_minute * 60, dt.timezone.utc).astimezone(store.tz)
    o = dt.datetime(first.year, 1, 1, tzinfo=store.tz).astimezone(dt.timezone.utc)
    return (o.replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days=1)).isoformat()


def bulk_load(store: Store, data: PlantData, stop: int, *, on_block=None) -> int:
    """Write ``data``'s minutes ``[data.m0, stop)`` into an empty ``store`` in one commit
    (:meth:`Store.bulk_load`); returns the number of readings.

    ``on_block(block)`` is called with each block after it is handed over (e.g. to write Parquet too).
    """
    if stop <= data.m0:
        return 0
    n = 0

    def blocks():
        nonlocal n
        for b in data.blocks(stop=stop):
            yield b.t0, {"counter": b.counter, "rate": b.rate, "voltage": b.voltage, "current": b.current,
                         "power_factor": b.power_factor}
            n += b.counter.size
            if on_block is not None:
                on_block(b)

    store.bulk_load(blocks(), message="bulk load of generated history", author="benchmark")
    return n
