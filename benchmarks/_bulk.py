"""Load generated history into a Store without the journal, producing what journal + fold would.

Why: a year at 1,000 meters is 526 M readings; through canonical JSON (≈ 25 µs a reading) and the fold
that is hours, so the benchmark journals and folds only a recent slice and loads the rest here.

How: the same zarr writes the fold makes, through the Store's own helpers (``_extend`` grows the grid
exactly as a fold would, ``_roll_up`` derives the hourly rollups from the minutes exactly as a fold
does), and the fold state (origin, ``prev`` = each meter's last counter, ``first_slot``, ``seq = -1``)
that a later fold of the journal continues from. ``tests/test_benchmarks_smoke.py`` checks that
bulk + journal slice gives the same arrays as journaling everything.

A public ``Store.bulk_load(blocks, *, message, author)`` (see benchmarks/README.md) would replace the
two private calls.
"""

from __future__ import annotations

import datetime as dt
import inspect

import numpy as np
import zarr

from workspace.store import SLOT, Store

from ._plantgen import EPOCH, PlantData


def store_origin(store: Store, first_minute: int) -> str:
    """The grid origin a first fold would choose for a first reading at ``first_minute`` (Store._fold's rule)."""
    first = dt.datetime.fromtimestamp(first_minute * 60, dt.timezone.utc).astimezone(store.tz)
    o = dt.datetime(first.year, 1, 1, tzinfo=store.tz).astimezone(dt.timezone.utc)
    return (o.replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days=1)).isoformat()


def bulk_load(store: Store, data: PlantData, stop: int, *, on_block=None) -> int:
    """Write ``data``'s minutes ``[data.m0, stop)`` into an empty ``store`` in one commit; returns readings.

    ``on_block(block)`` is called with each block after it is written (e.g. to write Parquet too).
    """
    s = store.repo.writable_session("main")
    g = zarr.open_group(store=s.store, mode="r+")
    state = dict(g.attrs["fold"])
    if state["seq"] != -1 or state["origin"] is not None:
        raise RuntimeError(f"{store.path}: bulk load needs an empty store")
    origin = store_origin(store, data.m0)
    o = dt.datetime.fromisoformat(origin)
    base = int((o - EPOCH) // SLOT)
    if stop <= data.m0:
        return 0
    store._extend(g, stop - base, o)
    takes_origin = "origin" in inspect.signature(store._roll_up).parameters  # the Store's helpers evolve
    n = 0
    last = None
    for b in data.blocks(stop=stop):
        lo = b.t0 - base
        hi = lo + len(b)
        for var, arr in (("counter", b.counter), ("rate", b.rate), ("voltage", b.voltage),
                         ("current", b.current), ("power_factor", b.power_factor), ("energy", b.energy)):
            g[var][lo:hi] = arr
        slots = np.arange(lo, hi, dtype=np.int64)
        store._roll_up(g, slots, o) if takes_origin else store._roll_up(g, slots)
        n += b.counter.size
        last = (hi - 1, b.counter[-1])
        if on_block is not None:
            on_block(b)
    state.update(seq=-1, origin=origin, first_slot=int(data.m0 - base), events={},
                 prev={m: [int(last[0]), float(c)] for m, c in zip(store.meters, last[1])})
    g.attrs["fold"] = state
    s.commit(f"bulk load of generated history ({n} readings)", metadata={"author": "benchmark", "readings": n})
    store._ds_cache = None
    return n
