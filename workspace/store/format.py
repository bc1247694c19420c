"""The store's format version: written at creation, checked at every open, migrated forward by the writer.

The root group's ``format`` attribute says which layout wrote the store. :data:`FORMAT` is the one this code
writes. Opening a store of a newer format is refused with a clear message (the code is older than the data:
upgrade tanjian, or restore the backup taken before the upgrade); a store of an older format is read as is
and migrated by the writer (collector, fold, demo: ``Store.open(..., create=True)``), one commit a step, each
step a function of :data:`MIGRATIONS` and named in the store's history.

Format history:

- 0: stores written before the version existed (no ``format`` attribute); the same layout as 1.
- 1: the ``format`` attribute is written (the migration 0 -> 1 adds it and changes nothing else).
"""

from __future__ import annotations

import logging
from typing import Callable

import zarr

from ..errors import StoreError

log = logging.getLogger(__name__)

FORMAT = 1


def _to_1(group: zarr.Group) -> None:
    """0 -> 1: the layout is unchanged; only the version is recorded."""


#: ``{n: step}``: the step migrating a store of format ``n`` to ``n + 1`` (on a writable group)
MIGRATIONS: dict[int, Callable[[zarr.Group], None]] = {0: _to_1}


def format_of(group: zarr.Group) -> int:
    return int(group.attrs.get("format", 0))


def check(group: zarr.Group, label: str) -> int:
    """The store's format; refused when newer than this code's."""
    fmt = format_of(group)
    if fmt > FORMAT:
        raise StoreError(f"{label}: the store has format {fmt}, written by a newer tanjian; this one reads formats "
                         f"up to {FORMAT}. Upgrade tanjian, or restore the backup taken before the upgrade.")
    return fmt


def migrate(repo, label: str) -> list[str]:
    """Bring the store of ``repo`` to :data:`FORMAT`, one commit a step; returns the snapshot ids (none when current)."""
    snaps = []
    while True:
        fmt = format_of(zarr.open_group(store=repo.readonly_session(branch="main").store, mode="r"))
        if fmt >= FORMAT:
            return snaps
        s = repo.writable_session("main")
        g = zarr.open_group(store=s.store, mode="a")
        MIGRATIONS[fmt](g)
        g.attrs["format"] = fmt + 1
        snaps.append(s.commit(f"store format {fmt} -> {fmt + 1}",
                              metadata={"author": "tanjian", "kind": "migration", "from": fmt, "to": fmt + 1,
                                        "changed_slots": [0, 0]}))
        log.warning("%s: store migrated from format %d to %d (snapshot %s)", label, fmt, fmt + 1, snaps[-1])
