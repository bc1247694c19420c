"""The collector journals poll cycles as columnar batches and compacts the store on its schedule."""

import asyncio
import json

import numpy as np

from tests.collectors.test_collector import plant  # noqa: F401 - the real pymodbus simulator fixture
from workspace.batch import MAGIC2, decode_batch


async def _until(cond, what, limit=120):
    for _ in range(limit * 10):  # a bound on the wait, not a timing assertion
        if cond():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


async def test_poll_cycles_are_columnar_and_compaction_runs_on_schedule(plant, tmp_path):  # noqa: F811
    sim, svc, j, st, clock = plant
    svc.fold_interval_s = 0.3
    svc.compact_interval_s = 1e-6  # due at every fold loop turn
    svc.compact_keep_days = 1e-9   # expire every untagged version but the newest
    svc.health_path = tmp_path / "health.json"
    stop = asyncio.Event()
    task = asyncio.create_task(svc.run(stop))
    await _until(lambda: st.last_folded_seq >= 0, "a first fold")
    tagged = st.tag("kept-by-compaction")
    first_total = float(np.nansum(st.dataset(tagged).counter.values))  # the first cycle's counters
    assert first_total > 0
    await _until(lambda: st.last_folded_seq >= 3 and svc.last_compaction is not None
                 and svc.last_compaction["expired"] > 0, "folds and a compaction that expired versions")
    stop.set()
    await task
    # every poll cycle went into the journal as tanjian.batch/2 and reads back as readings
    payloads = [p for _, p in j.records()]
    assert payloads and all(p.startswith(MAGIC2) for p in payloads)
    assert sum(len(decode_batch(p).readings) for p in payloads) == svc.acknowledged
    # the tagged version survived compaction with its data; old untagged ones are gone
    st._ds_cache = None
    assert float(np.nansum(st.dataset("kept-by-compaction").counter.values)) == first_total
    assert st.tags() == {"kept-by-compaction": tagged}
    assert json.loads(svc.health_path.read_text())["last_compaction"]["keep_days"] == 1e-9
