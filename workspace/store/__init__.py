"""The versioned time-series store and the query API every notebook, page and model reads through.

:class:`Store` is a thin facade over module functions, one module per concept:

- :mod:`~workspace.store.layout` — what the store holds, as data: variables, dtypes, rollups, chunking;
- :mod:`~workspace.store.repository` — open or create, versions, tags, ``as_of``, the branch tip,
  compaction;
- :mod:`~workspace.store.fold` — the write path: fold the journal, bulk load, re-derivation;
- :mod:`~workspace.store.rollups` — hourly, daily and monthly rollup maintenance;
- :mod:`~workspace.store.chunks` — the chunk reader and its per-process caches;
- :mod:`~workspace.store.energy` — energy per group and interval;
- :mod:`~workspace.store.query` — the rest of the query API: power, quality, tariffs, measured and
  flagged minutes, the newest reading.

Pages and models read only through the public methods of :class:`Store` (never Zarr variables or
Icechunk branches). Time is UTC inside; every query takes and returns the site's local time
(tz-naive values, the zone in ``attrs["timezone"]``). Names with a leading underscore in the modules
are the package's own.
"""

from __future__ import annotations

import os

# Icechunk warns at every open that local-filesystem storage is unsafe for concurrent commits. Commits
# here come from one process only (the journal's writer lock), so keep its log to errors unless asked.
os.environ.setdefault("ICECHUNK_LOG", "error")

import datetime as dt  # noqa: E402
import threading  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

import icechunk  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402

from ..journal import Journal  # noqa: E402
from ..quality import Q  # noqa: E402
from ..site import Medium, Site  # noqa: E402
from ..storage import parse_location  # noqa: E402
from . import energy as _energy  # noqa: E402
from . import fold as _fold  # noqa: E402
from . import query as _query  # noqa: E402
from . import repository as _repo  # noqa: E402
from .fold import FoldResult  # noqa: E402
from ..meters import counter_wrap  # noqa: E402
from .layout import CLOCK_TOLERANCE_S  # noqa: E402

__all__ = ["Store", "FoldResult", "CLOCK_TOLERANCE_S"]


class Store:
    """A plant's store. Open with :meth:`open`; one writer process (the collector) folds.

    Parameters
    ----------
    path : path or str
        The Icechunk repository's folder, or its ``s3://`` location (:mod:`workspace.storage`).
    site : Site
    """

    def __init__(self, path: str | os.PathLike, site: Site, repo: icechunk.Repository,
                 meters: list[str] | None = None):
        loc = parse_location(path)
        self.location = loc
        self.path = loc.local if loc.is_local else loc.label  # what messages name
        self.site = site
        self.tz = ZoneInfo(site.plant.timezone)
        self.repo = repo
        # the store's meter axis (its own order: meters added later come last); the site model's by default
        self.meters = list(meters) if meters is not None else [m.id for m in site.meters]
        self._midx = {m: i for i, m in enumerate(self.meters)}
        self._pending_meters: list[str] = []  # in the site model, not yet in the store (see :meth:`open`)
        self._ds_cache: tuple[str, xr.Dataset] | None = None
        self._rollup_cache: dict | None = None  # rollup arrays of one snapshot (see chunks._rollups)
        self._latest_cache: tuple[str, dt.datetime | None] | None = None
        self._group_cache: dict = {}
        self._chunk_cache: dict | None = None  # minute chunks of one snapshot (see chunks._minutes)
        self._meta_cache: dict | None = None  # grid facts of one snapshot (see chunks._meta)
        self._result_cache: dict = {}  # coordinates of recent answers (see chunks._result)
        self._offset_cache: dict[int, int | None] = {}  # UTC year -> the zone's fixed offset [min] or None
        self._cache_lock = threading.Lock()
        self._wrap = {m.id: counter_wrap(m.family) for m in site.meters}
        self.clock_tolerance_s = CLOCK_TOLERANCE_S  # see :data:`workspace.store.layout.CLOCK_TOLERANCE_S`
        self._fold_lock = threading.Lock()  # one fold at a time in this process (the journal lock: one process)

    # -- the repository ------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike, site: Site, *, create: bool = False) -> Store:
        """Open (or with ``create=True`` create if missing) the store at ``path``: a folder, or an
        ``s3://bucket/prefix?options`` location on object storage (:mod:`workspace.storage`)."""
        return _repo.open_store(cls, path, site, create=create)

    @property
    def last_folded_seq(self) -> int:
        """The journal seq of the last batch folded into the newest version (-1: none yet)."""
        return _repo.last_folded_seq(self)

    def tip(self) -> str:
        """The snapshot id of the newest version (the ``main`` branch now; a new one after every fold)."""
        return _repo.tip(self)

    def versions(self) -> list[dict]:
        """Commits on ``main``, newest first: id, time (UTC), message, metadata."""
        return _repo.versions(self)

    def tag(self, name: str, snapshot: str | None = None) -> str:
        """Name a version (default: the newest) so that :meth:`compact` never expires it; returns its id."""
        return _repo.tag(self, name, snapshot)

    def tags(self) -> dict[str, str]:
        """Tag name -> snapshot id."""
        return _repo.tags(self)

    def compact(self, keep_days: float, *, dry_run: bool = False) -> dict:
        """Expire versions older than ``keep_days`` [d] (tagged ones and the newest kept) and delete the
        data only they referenced; returns the counts (:func:`workspace.store.repository.compact`)."""
        return _repo.compact(self, keep_days, dry_run=dry_run)

    def dataset(self, as_of: str | dt.datetime | None = None) -> xr.Dataset:
        """The raw grid (UTC slots) at a version; lazily loaded."""
        return _repo.dataset(self, as_of)

    def snapshot(self, as_of: str | dt.datetime | None = None) -> str:
        """The snapshot id a query ``as_of`` reads: a snapshot id as given, a tag's, the newest version
        at an instant (naive: the site's local time); None: the newest (:meth:`tip`)."""
        return _repo._snapshot_for(self, as_of)

    # -- writing -------------------------------------------------------------------------------
    def fold(self, journal: Journal, *, max_batches: int = 10_000, author: str = "collector") -> FoldResult:
        """Fold the journal's batches after the last folded one into the store, in one commit
        (:func:`workspace.store.fold.fold`)."""
        return _fold.fold(self, journal, max_batches=max_batches, author=author)

    def bulk_load(self, blocks, *, message: str = "bulk load", author: str = "import") -> str:
        """Load whole blocks of history into an EMPTY store in one commit, as folds would have built it
        (:func:`workspace.store.fold.bulk_load`); returns the snapshot id."""
        return _fold.bulk_load(self, blocks, message=message, author=author)

    # -- queries -------------------------------------------------------------------------------
    def points(self, start, end, *, room: str | None = None, as_of=None) -> pd.DataFrame:
        """The distribution-room points each minute in [start, end), columns (room, point)
        (:func:`workspace.store.points.points`)."""
        from .points import points

        return points(self, start, end, room=room, as_of=as_of)

    def latest_time(self, as_of=None) -> dt.datetime | None:
        """Local time of the newest slot holding any reading, or None for an empty store."""
        return _query.latest_time(self, as_of)

    def energy(self, start, end, *, by: str = "plant", medium: str | Medium = "electricity",
               freq: str | None = "1h", meters: list[str] | None = None, as_of=None) -> xr.DataArray:
        """Energy (or volume) consumed per group and interval [kWh or m3]
        (:func:`workspace.store.energy.energy`)."""
        return _energy.energy(self, start, end, by=by, medium=medium, freq=freq, meters=meters, as_of=as_of)

    def power(self, start, end, *, by: str = "plant", medium: str | Medium = "electricity",
              freq: str = "1min", how: str = "mean", meters: list[str] | None = None, as_of=None) -> xr.DataArray:
        """Rate per group and interval [kW or m3/h], a load curve (:func:`workspace.store.query.power`)."""
        return _query.power(self, start, end, by=by, medium=medium, freq=freq, how=how, meters=meters,
                            as_of=as_of)

    def quality_report(self, start, end, *, meters: list[str] | None = None, medium: str | Medium | None = None,
                       as_of=None) -> pd.DataFrame:
        """Data quality per meter over [start, end): completeness and the count of each flag
        (:func:`workspace.store.query.quality_report`)."""
        return _query.quality_report(self, start, end, meters=meters, medium=medium, as_of=as_of)

    def tariff_energy(self, start, end, *, meters: list[str] | None = None, as_of=None) -> pd.DataFrame:
        """Energy per meter per tariff over a period, from the meters' own time-of-use registers
        (:func:`workspace.store.query.tariff_energy`)."""
        return _query.tariff_energy(self, start, end, meters=meters, as_of=as_of)

    def measured_days(self, start: dt.date, end: dt.date, meters: list[str], *, as_of=None) -> dict[str, int]:
        """Minutes with a measured (not estimated) energy per meter over the local days ``start`` to
        ``end``, both included (:func:`workspace.store.query.measured_days`)."""
        return _query.measured_days(self, start, end, meters, as_of=as_of)

    def flagged_minutes(self, start: dt.date, end: dt.date, meters: list[str], flag: Q | int, *,
                        as_of=None) -> dict[str, int]:
        """Minute slots per meter over the local days ``start`` to ``end``, both included, whose quality
        carries any bit of ``flag`` (:func:`workspace.store.query.flagged_minutes`)."""
        return _query.flagged_minutes(self, start, end, meters, flag, as_of=as_of)
