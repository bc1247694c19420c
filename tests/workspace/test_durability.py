"""kill -9 of the collector while it writes: after a restart every acknowledged reading is in the
store, and none twice."""

import asyncio
import datetime as dt
import os
import random
import signal
import sys

import numpy as np
import pytest

from tanjian.simulator import PlantSimulator
from tests.conftest import ROOT, free_port_block
from workspace.batch import decode_batch
from workspace.clock import Clock
from workspace.config import EXAMPLE, load_config
from workspace.journal import Journal
from workspace.store import Store

pytestmark = pytest.mark.slow


async def _start_collector(cfg_path, clock, offset, log):
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tanjian", "--config", str(cfg_path), "collect", "--clock", clock.spec(),
        "--port-offset", str(offset), stdout=log, stderr=log, cwd=str(ROOT))


async def _journal_len(path):
    return len(Journal(path)) if (path / "journal.log").exists() else 0


async def test_kill_9_loses_nothing_and_duplicates_nothing(tmp_path):
    cfg_path = tmp_path / "tanjian.yaml"
    cfg_path.write_text(EXAMPLE.read_text().replace("fold_interval_s: 5", "fold_interval_s: 0.3"))
    cfg = load_config(cfg_path)
    assert cfg.collection.fold_interval_s == 0.3 and cfg.paths.data_dir == tmp_path / "var"
    offset = free_port_block(len(cfg.site.gateways)) - min(g.port for g in cfg.site.gateways)
    clock = Clock.simulated(dt.datetime(2026, 11, 24, 1, 0, tzinfo=dt.timezone.utc), speed=120)
    rng = random.Random(18)
    log = open(tmp_path / "collector.log", "ab")
    async with PlantSimulator(cfg.site, clock, cfg.simulation.seed, offset):
        for rnd in range(4):
            before = await _journal_len(cfg.paths.journal)
            proc = await _start_collector(cfg_path, clock, offset, log)
            # let it acknowledge a few cycles and fold some of them, then kill it mid-work
            for _ in range(200):
                await asyncio.sleep(0.1)
                if await _journal_len(cfg.paths.journal) >= before + 3 + rnd:
                    break
            await asyncio.sleep(rng.uniform(0.0, 0.6))
            os.kill(proc.pid, signal.SIGKILL)
            assert await proc.wait() == -signal.SIGKILL
        # a last clean run: SIGTERM makes it fold what it acknowledged and exit
        proc = await _start_collector(cfg_path, clock, offset, log)
        before = await _journal_len(cfg.paths.journal)
        for _ in range(200):
            await asyncio.sleep(0.1)
            if await _journal_len(cfg.paths.journal) >= before + 2:
                break
        proc.send_signal(signal.SIGTERM)
        assert await proc.wait() == 0, (tmp_path / "collector.log").read_text()[-3000:]

    logged = (tmp_path / "collector.log").read_text()
    assert "folding the journal" not in logged, logged[-3000:]  # no fold ever failed
    journal = Journal(cfg.paths.journal)
    n = len(journal)
    assert n >= 14
    store = Store.open(cfg.paths.store, cfg.site)
    assert store.last_folded_seq == n - 1
    # every fold commit took the batches right after the previous one: nothing twice, nothing skipped
    folds = sorted((v["metadata"]["journal_seq_from"], v["metadata"]["journal_seq_to"])
                   for v in store.versions() if "journal_seq_from" in v["metadata"])
    assert folds[0][0] == 0 and folds[-1][1] == n - 1
    assert all(b[0] == a[1] + 1 for a, b in zip(folds, folds[1:])), folds
    # every acknowledged reading is in its slot with its value
    ds = store.dataset()
    origin = dt.datetime.fromisoformat(ds.attrs["fold"]["origin"])
    first = int(ds.attrs["fold"]["first_slot"])
    readings = [r for _, p in journal.records() for r in decode_batch(p).readings]
    slots = [int((r.time - origin) // dt.timedelta(minutes=1)) for r in readings]
    last = max(slots)
    grid = ds.counter.isel(time=slice(first, last + 1)).load()
    mi = {m: i for i, m in enumerate(ds.meter.values)}
    got = grid.values[np.array(slots) - first, [mi[r.meter] for r in readings]]
    assert np.array_equal(got, np.array([r.counter for r in readings]))
    assert len(set(zip(slots, (r.meter for r in readings)))) == len(readings)  # one reading per slot
    # and the energy derived across the crashes adds up to what the counters say, meter by meter
    energy = ds.energy.isel(time=slice(first, last + 1)).values
    c = grid.values
    for m in ("M-TR-1", "M-WR-01", "M-GAS-MAIN"):
        col = c[:, mi[m]]
        ok = np.nonzero(np.isfinite(col))[0]
        assert np.nansum(energy[ok[0] + 1:ok[-1] + 1, mi[m]]) == pytest.approx(col[ok[-1]] - col[ok[0]])
