"""The journal's single keeper: journal the inbox's waiting requests, fold the journal into the store to
its end, and compact the store.

Whoever holds the journal's writer lock keeps the journal: the collector service
(:class:`collectors.service.CollectionService`), or a command run while no collector runs (``tanjian
fold``, ``tanjian ledger add``, the demo's history backfill). They all go through one :class:`Keeper`,
so the sequence (drain, then fold batch range after batch range until the journal's end) has one home.
A keeper never opens the journal itself: its holder passes it in, already opened as writer.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from . import inbox as _inbox
from .journal import Journal
from .store import FoldResult, Store

log = logging.getLogger(__name__)


class Keeper:
    """Drain, fold and compact for one store and its journal.

    Parameters
    ----------
    store : Store or None
        The store folded into (None: journal only; :meth:`fold` and :meth:`compact` then do nothing).
    journal : Journal
        Opened as writer by the caller.
    inbox : path, optional
        The inbox folder whose waiting requests :meth:`drain` journals (None: no inbox).
    plant : str, optional
        The plant id the journaled requests carry (needed with ``inbox``).
    """

    def __init__(self, store: Store | None, journal: Journal, *, inbox: str | os.PathLike | None = None,
                 plant: str | None = None):
        if inbox is not None and plant is None:
            raise ValueError("a keeper with an inbox needs the plant id its requests are journaled under")
        self.store = store
        self.journal = journal
        self.inbox = Path(inbox) if inbox is not None else None
        self.plant = plant
        #: why the last fold failed ("Type: message"), None once a fold succeeds again
        self.fold_error: str | None = None

    @classmethod
    def open(cls, cfg, journal: Journal, *, store: Store | None = None) -> Keeper:
        """The keeper of a workspace's journal: its store (opened, and created if missing, unless given),
        its inbox, and the device clock tolerance of ``cfg.collection``.

        Parameters
        ----------
        cfg : workspace.config.Config
        journal : Journal
            Opened as writer by the caller.
        store : Store, optional
            An already open store of ``cfg`` (default: ``Store.open(cfg.paths.store, cfg.site, create=True)``).
        """
        if store is None:
            store = Store.open(cfg.paths.store, cfg.site, create=True)
        store.clock_tolerance_s = cfg.collection.clock_tolerance_s
        return cls(store, journal, inbox=cfg.paths.inbox, plant=cfg.site.plant.id)

    def drain(self) -> int:
        """Journal the inbox's waiting requests in the order they came (:func:`workspace.inbox.drain`);
        returns how many were journaled (0 without an inbox)."""
        if self.inbox is None:
            return 0
        return _inbox.drain(self.inbox, self.journal, self.plant)

    def fold(self, *, max_batches: int = 500, author: str = "collector",
             on_step: Callable[[FoldResult], None] | None = None) -> int:
        """Fold the journal into the store up to its end (as long as it was when the last step began).

        Each step is one :meth:`Store.fold` of at most ``max_batches`` batches (a correction or an
        event is a step of its own), one commit; ``on_step`` is called with each step's
        :class:`~workspace.store.FoldResult` that folded something. A failing step raises (what the
        earlier steps committed stays committed; the journal keeps every batch). The first failure is
        logged at once, one line (what, where, that the journal keeps the readings and the fold retries),
        and kept in :attr:`fold_error`; the fold that succeeds again clears it and logs that it recovered.

        Returns
        -------
        int
            Readings folded.
        """
        if self.store is None:
            return 0
        from .storage import network

        wait_s = network()["status_deadline_s"]
        timer = threading.Timer(wait_s, self._no_answer, (wait_s,))
        timer.daemon = True
        timer.start()
        try:
            total = self._fold(max_batches, author, on_step)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            if self.fold_error is None or self.fold_error.startswith("no answer from the store"):
                log.error("folding the journal into the store %s failed: %s. The journal keeps every "
                          "acknowledged reading (%d batches); the fold will retry.", self.store.path,
                          error.splitlines()[0], len(self.journal))
            self.fold_error = error
            raise
        finally:
            timer.cancel()
        if self.fold_error is not None:
            log.warning("folding into the store %s works again (it failed with: %s); the journal is folded "
                        "to its end (%d batches)", self.store.path, self.fold_error.splitlines()[0],
                        len(self.journal))
            self.fold_error = None
        return total

    def _no_answer(self, wait_s: float) -> None:
        """A fold step still waiting on the store after ``wait_s`` [s] (a server that accepts and never
        answers): said at once, not when the storage client gives up."""
        if self.fold_error is None:
            self.fold_error = f"no answer from the store within {wait_s:g} s (still waiting)"
            log.error("folding the journal into the store %s: no answer within %g s. The journal keeps every "
                      "acknowledged reading (%d batches); the fold will retry.", self.store.path, wait_s,
                      len(self.journal))

    def _fold(self, max_batches: int, author: str, on_step) -> int:
        total = 0
        while True:
            r = self.store.fold(self.journal, max_batches=max_batches, author=author)
            if r.seq_from > r.seq_to:
                return total
            total += r.readings
            if on_step is not None:
                on_step(r)
            if r.seq_to >= len(self.journal) - 1:
                return total

    def catch_up(self, *, author: str = "collector") -> int:
        """Journal the inbox's waiting requests (:meth:`drain`) and fold everything journaled
        (:meth:`fold`), for commands that hold the journal's writer lock themselves (no collector
        running). Returns the sequence number of the first batch journaled now."""
        first = self.journal.next_seq
        self.drain()
        self.fold(author=author)
        return first

    def compact(self, keep_days: float, *, dry_run: bool = False) -> dict:
        """Expire versions older than ``keep_days`` [d] and delete what only they used
        (:meth:`Store.compact`); returns its counts ({} without a store)."""
        if self.store is None:
            return {}
        return self.store.compact(keep_days, dry_run=dry_run)
