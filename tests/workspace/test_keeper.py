"""The journal's keeper: the inbox drained into the journal, the journal folded to its end step by step
(corrections, events and documents in steps of their own), compaction; the one sequence the collector,
the CLI and the report ledgering share."""

import datetime as dt

import pytest

from workspace.batch import Reading, encode_batch
from workspace.inbox import document_request, submit
from workspace.journal import Journal
from workspace.keeper import Keeper
from workspace.store import Store

UTC = dt.timezone.utc
MIDNIGHT = dt.datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # local midnight 24 Nov, Asia/Shanghai


def _append(j, plant, meter, minutes, counter0=100.0):
    j.append(encode_batch(plant, j.next_seq, "test",
                          [Reading(meter, MIDNIGHT + dt.timedelta(minutes=k, milliseconds=300), counter0 + k)
                           for k in minutes]))


def test_keeper_drains_folds_to_the_end_and_compacts(plant_cfg, tmp_path):
    cfg = plant_cfg
    pid = cfg.site.plant.id
    with Journal(cfg.paths.journal, writer=True) as j:
        keeper = Keeper.open(cfg, j)  # creates the store
        assert isinstance(keeper.store, Store) and keeper.journal is j
        assert keeper.store.clock_tolerance_s == cfg.collection.clock_tolerance_s
        assert keeper.drain() == 0 and keeper.fold() == 0  # nothing waiting, nothing journaled
        for n in range(5):
            _append(j, pid, "M-TR-1", range(3 * n, 3 * n + 3))
        # a document request waits in the inbox: it is journaled after the five batches, in a step of its own
        doc = tmp_path / "report.pdf"
        doc.write_bytes(b"%PDF report")
        submit(cfg.paths.inbox, document_request(doc, "li.wei", "monthly report"))
        assert keeper.drain() == 1 and len(j) == 6
        _append(j, pid, "M-TR-1", range(15, 18))
        steps = []
        assert keeper.fold(max_batches=2, author="test", on_step=steps.append) == 18
        # batches 0-1, 2-3, 4, then the document (5) alone, then 6: to the journal's end
        assert [(r.seq_from, r.seq_to, r.readings) for r in steps] == [(0, 1, 6), (2, 3, 6), (4, 4, 3), (5, 5, 0),
                                                                      (6, 6, 3)]
        assert keeper.store.last_folded_seq == 6 and keeper.store.tip() == steps[-1].snapshot
        assert keeper.store.versions()[0]["metadata"]["author"] == "test"
        assert keeper.fold(on_step=steps.append) == 0 and len(steps) == 5  # nothing new: no step, no commit
        e = keeper.store.energy("2026-11-24", "2026-11-25", meters=["M-TR-1"], freq=None)
        assert e.item() == pytest.approx(17.0)
        # catch_up: what `tanjian ledger add` does when no collector runs
        submit(cfg.paths.inbox, document_request(doc, "li.wei", "again"))
        assert keeper.catch_up() == 7 and keeper.store.last_folded_seq == 7
        out = keeper.compact(keep_days=0, dry_run=True)
        assert set(out) >= {"expired", "deleted_chunks", "deleted_bytes"}


def test_a_keeper_without_a_store_only_journals(plant_cfg):
    cfg = plant_cfg
    with Journal(cfg.paths.journal, writer=True) as j:
        keeper = Keeper(None, j, inbox=cfg.paths.inbox, plant=cfg.site.plant.id)
        submit(cfg.paths.inbox, {"kind": "meter_replaced", "author": "li.wei", "reason": "swap", "meter": "M-TR-1",
                                 "time": MIDNIGHT.isoformat(), "old_final": 10.0, "new_initial": 0.0})
        assert keeper.drain() == 1 and len(j) == 1
        assert keeper.fold() == 0 and keeper.compact(1.0) == {}
    with pytest.raises(ValueError, match="plant id"):
        Keeper(None, j, inbox=cfg.paths.inbox)
