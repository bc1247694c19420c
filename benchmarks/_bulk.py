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


# -- a whole workspace (tanjian.yaml + store) of a generated plant, cached ------------------------------------
def plant_workspace(folder, meters: int, days: float, end: dt.datetime, *, seed: int = 18, log=None):
    """A workspace folder ``<folder>/plant-<meters>m-<days>d-<end>-s<seed>`` holding ``tanjian.yaml`` (the site of
    :func:`benchmarks._plantgen.make_site`) and ``var/store`` with ``days`` days of minutes ending at ``end``
    (timezone-aware), bulk-loaded; returns ``(config path, data dir)``.

    Made once: a ``done.json`` stamp (meters, days, end, seed, readings) marks a complete folder, and a second
    call with the same arguments returns it at once. An incomplete folder (no stamp) is made again.
    """
    import json
    import shutil
    import time
    from pathlib import Path

    from ruamel.yaml import YAML

    from ._plantgen import PlantData, make_site

    end = end.astimezone(dt.timezone.utc)
    key = f"plant-{meters}m-{days:g}d-{end:%Y%m%dT%H%MZ}-s{seed}"
    ws = Path(folder) / key
    config, data = ws / "tanjian.yaml", ws / "var"
    if (ws / "done.json").exists():
        return config, data
    shutil.rmtree(ws, ignore_errors=True)
    ws.mkdir(parents=True)
    site = make_site(meters)
    doc = {"version": 1, "site": site.model_dump(mode="json", exclude_none=True),
           "simulation": {"seed": seed, "history_days": 0}}
    with open(config, "w", encoding="utf-8") as f:
        YAML(typ="safe", pure=True).dump(doc, f)
    pdata = PlantData(site, end - dt.timedelta(days=days), end, seed)
    t = time.perf_counter()
    store = Store.open(data / "store", site, create=True)
    done = {"i": 0}

    def progress(b):
        done["i"] += 1
        if log is not None and done["i"] % 30 == 0:
            log(f"  {done['i']} days loaded, {time.perf_counter() - t:.0f} s")

    n = bulk_load(store, pdata, pdata.m1, on_block=progress)
    (ws / "done.json").write_text(json.dumps({"meters": meters, "days": days, "end": end.isoformat(), "seed": seed,
                                              "readings": n, "seconds": round(time.perf_counter() - t, 1)}))
    return config, data
