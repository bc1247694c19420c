"""Seed a workspace with the simulator's history (the demo and the tests start from this)."""

from __future__ import annotations

import datetime as dt
import logging

from collectors.service import backfill
from tanjian.simulator.model import LoadModel
from workspace.config import Config
from workspace.journal import Journal
from workspace.keeper import Keeper

log = logging.getLogger(__name__)


def seed_history(cfg: Config, start: dt.datetime, end: dt.datetime, *, journal: Journal | None = None,
                 progress: bool = False) -> int:
    """Journal and fold the load model's readings for [start, end) (as a gateway buffer would deliver).

    Returns the number of readings acknowledged.
    """
    own = journal is None
    if journal is None:
        journal = Journal(cfg.paths.journal, writer=True)
    keeper = Keeper.open(cfg, journal)
    model = LoadModel(cfg.site, cfg.simulation.seed)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=(end - start).total_seconds() / 60, unit="min", desc="history", leave=False)
    try:
        n = backfill(cfg.site, journal, model, start, end, progress=bar)
        keeper.fold(max_batches=48)
    finally:
        if bar is not None:
            bar.close()
        if own:
            journal.close()
    log.info("seeded %d readings of history %s .. %s", n, start.isoformat(), end.isoformat())
    return n
