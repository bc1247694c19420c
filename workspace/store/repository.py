"""The store's repository: open or create it, widen it by new meters, its versions and tags,
``as_of`` resolution, the branch tip and compaction.

Each fold of journaled batches is one Icechunk commit on ``main`` whose metadata names the journal
range it holds (:mod:`workspace.store.fold`); any query can be run ``as_of`` a snapshot id, a tag or
an instant (:func:`_snapshot_for`).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from typing import TYPE_CHECKING

import icechunk
import numpy as np
import xarray as xr
import zarr

from ..errors import StoreError
from ..site import Site
from ..units import MEDIUM_UNITS
from ..storage import parse_location
from . import format as store_format
from .layout import AXES, GRIDS

if TYPE_CHECKING:
    from . import Store

log = logging.getLogger(__name__)

_XARRAY_WARM = False


def _first_line(exc: BaseException) -> str:
    """The gist of an error whose text may be a long multi-line trace (Icechunk's are)."""
    lines = [ln.strip(" |x`->") for ln in str(exc).splitlines() if ln.strip(" |x`->")]
    cause = [ln for ln in lines if "error" in ln.lower() or "refused" in ln.lower()]
    return "; ".join(dict.fromkeys((lines[:1] + cause[-2:]))) if lines else type(exc).__name__


def _warm_xarray() -> None:
    """Build one tiny DataArray, once per process: xarray's first one imports every installed
    duck-array library (dask, pint: seconds in a fresh process). Opening a store pays it, as
    opening the xarray dataset used to, rather than the first query."""
    global _XARRAY_WARM
    if not _XARRAY_WARM:
        xr.DataArray(np.zeros((1, 1)), dims=["time", "group"],
                     coords={"time": np.zeros(1, "datetime64[ns]"), "group": ["g"]}).values
        _XARRAY_WARM = True


class _Resolved(str):
    """A snapshot id already resolved from ``as_of`` (a query resolves it once, not per array read)."""


def open_store(cls: type[Store], path: str | os.PathLike, site: Site, *, create: bool = False) -> Store:
    """Open (or with ``create=True`` create if missing) the store at ``path``: a folder, or an
    ``s3://bucket/prefix?options`` location on object storage (:mod:`workspace.storage`)."""
    loc = parse_location(path)
    try:
        storage = loc.storage()
        exists = icechunk.Repository.exists(storage)
    except StoreError:
        raise
    except Exception as exc:  # noqa: BLE001 - icechunk raises its own types
        raise StoreError(f"{loc.label}: cannot read the store: unreachable or refusing "
                         f"({_first_line(exc)}); check the storage and try again") from exc
    if not exists:
        if not create:
            raise StoreError(f"{loc.label}: no store here yet. Start collection (`tanjian collect`) or the demo "
                             f"(`tanjian demo`) to create it.")
        if loc.is_local:
            loc.local.mkdir(parents=True, exist_ok=True)
        try:
            repo = icechunk.Repository.create(storage, config=loc.repository_config())
        except Exception as exc:  # noqa: BLE001
            raise StoreError(f"{loc.label}: cannot create the store ({_first_line(exc)})") from exc
        store = cls(path, site, repo)
        _initialise(store)
        return store
    try:
        repo = icechunk.Repository.open(storage, config=loc.repository_config())
        store = cls(path, site, repo)
        # the meter list from zarr itself: opening the xarray dataset (time decoding and its imports)
        # costs seconds in a fresh process, and queries do not need it
        g = zarr.open_group(store=repo.readonly_session(branch="main").store, mode="r")
        have = [str(m) for m in g["meter"][:]]
        fmt = store_format.check(g, loc.label)
    except StoreError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise StoreError(f"{loc.label}: the store is damaged, unreachable or not an Icechunk repository "
                         f"({_first_line(exc)}). If it is unreachable, check the storage and try again; if damaged, "
                         f"restore it from backup, or move it aside: the journal still holds every "
                         f"acknowledged reading and `tanjian fold` rebuilds the store from it.") from exc
    _warm_xarray()
    if create and fmt < store_format.FORMAT:  # the writer migrates; readers read the older format as is
        store_format.migrate(repo, loc.label)
    if have == store.meters:
        return store
    ids = set(have)
    new = [m for m in store.meters if m not in ids]
    gone = sorted(ids - set(store.meters))
    if gone:
        log.warning("%s: %d meter(s) of the store are no longer in the site model (%s): their data stay, "
                    "readable by id", loc.label, len(gone), ", ".join(gone[:10]))
    if new and create:  # the writer (collector, fold, demo): widen the store, as a version of its own
        _add_meters(store, have, new)
        have = have + new
        new = []
    store = cls(path, site, repo, meters=have)
    if new:
        store._pending_meters = new
        log.warning("%s: %d meter(s) of the site model are not in the store yet (%s): the collector adds them "
                    "when it next starts; until then queries leave them out", loc.label, len(new),
                    ", ".join(new[:10]))
    return store


def _add_meters(store: "Store", have: list[str], new: list[str]) -> str:
    """Widen every (…, meter) array by the meters ``new`` in one commit (the site model gained
    meters); their slots hold the fill values (no reading) until readings are folded. Returns the
    snapshot id."""
    s = store.repo.writable_session("main")
    g = zarr.open_group(store=s.store, mode="a")
    n = len(have) + len(new)
    for name, arr in g.arrays():
        dims = arr.metadata.dimension_names or ()
        if dims and dims[-1] == "meter":
            arr.resize((*arr.shape[:-1], n))
    g["meter"][len(have):] = np.array(new)
    units = {m.id: list(MEDIUM_UNITS[m.medium]) for m in store.site.meters if m.id in set(new)}
    for name, k in (("counter_units", 0), ("rate_units", 1)):
        g[name][len(have):] = np.array([units[m][k] for m in new])
    g.attrs["meter_units"] = {**g.attrs.get("meter_units", {}), **units}
    snap = s.commit(f"site model: {len(new)} meter(s) added ({', '.join(new[:10])})",
                    metadata={"author": "site model", "kind": "meters_added", "meters": new,
                              "changed_slots": [0, 0]})
    log.info("%s: %d meter(s) added to the store as snapshot %s: %s", store.path, len(new), snap,
             ", ".join(new[:10]))
    return snap


def _initialise(store: "Store") -> None:
    s = store.repo.writable_session("main")
    g = zarr.open_group(store=s.store, mode="a")
    m = len(store.meters)
    zone = store.site.plant.timezone
    for axis, (rows, attrs) in AXES.items():
        g.create_array(axis, shape=(0,), chunks=(rows,), dtype="int64", fill_value=0, dimension_names=[axis],
                       attributes={k: v.format(zone=zone) if isinstance(v, str) else v for k, v in attrs.items()})
    meter = g.create_array("meter", shape=(m,), chunks=(m,), dtype=str, dimension_names=["meter"])
    meter[:] = np.array(store.meters)
    for table, axis, rows, per in GRIDS:
        for name, (attrs, dtype, fill) in table.items():
            g.create_array(name, shape=(0, m), chunks=(rows, min(m, per) if per else m), dtype=dtype,
                           fill_value=fill, dimension_names=[axis, "meter"], attributes=attrs)
    for name, k in (("counter_units", 0), ("rate_units", 1)):  # per-meter units (media differ)
        a = g.create_array(name, shape=(m,), chunks=(m,), dtype=str, dimension_names=["meter"],
                           attributes={"long_name": f"units of {name.split('_')[0]} per meter"})
        a[:] = np.array([MEDIUM_UNITS[mt.medium][k] for mt in store.site.meters])
    g.attrs.update({
        "title": f"tanjian store: {store.site.plant.name}",
        "plant": store.site.plant.id, "timezone": store.site.plant.timezone, "format": store_format.FORMAT,
        "meter_units": {m.id: list(MEDIUM_UNITS[m.medium]) for m in store.site.meters},
        "fold": {"seq": -1, "origin": None, "prev": {}},
    })
    s.commit("create store", metadata={"author": "tanjian"})


def last_folded_seq(store: "Store") -> int:
    """The journal seq of the last batch folded into the newest version (-1: none yet)."""
    s = store.repo.readonly_session(branch="main")
    return int(zarr.open_group(store=s.store, mode="r").attrs["fold"]["seq"])


def tip(store: "Store") -> str:
    """The snapshot id of the ``main`` branch now: the newest version (a new one after every fold)."""
    return store.repo.lookup_branch("main")


def versions(store: "Store") -> list[dict]:
    """Commits on ``main``, newest first: id, time (UTC), message, metadata."""
    return [{"id": sn.id, "time": sn.written_at, "message": sn.message, "metadata": dict(sn.metadata)}
            for sn in store.repo.ancestry(branch="main")]


def tag(store: "Store", name: str, snapshot: str | None = None) -> str:
    """Name a version (default: the newest) so that it is never expired by :func:`compact`.

    Reports tag the version they were computed from; ``as_of`` accepts the tag.
    """
    if not name or not all(c.isalnum() or c in "-_." for c in name):
        raise StoreError(f"tag {name!r}: use letters, digits, '-', '_' and '.'")
    snap = snapshot or tip(store)
    try:
        store.repo.create_tag(name, snap)
    except Exception as exc:  # noqa: BLE001 - icechunk's own error types
        raise StoreError(f"{store.path}: cannot tag {snap} as {name!r}: {exc}") from exc
    return snap


def tags(store: "Store") -> dict[str, str]:
    """Tag name -> snapshot id."""
    return {t: store.repo.lookup_tag(t) for t in sorted(store.repo.list_tags())}


def compact(store: "Store", keep_days: float, *, dry_run: bool = False) -> dict:
    """Expire versions older than ``keep_days`` [d] (tagged ones and the newest are kept) and delete
    the data only they referenced. Only the store's writer may run it (the collector, or
    ``tanjian compact`` while no collector runs).

    Returns counts: ``expired`` versions, ``deleted_chunks``, ``deleted_manifests``,
    ``deleted_snapshots`` and ``deleted_bytes`` (small chunks live inside manifests).
    """
    cutoff = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=keep_days)
    with store._fold_lock:
        expired = set() if dry_run else store.repo.expire_snapshots(cutoff)
        gc = store.repo.garbage_collect(cutoff, dry_run=dry_run)
    store._ds_cache = None
    out = {"expired": len(expired), "deleted_chunks": int(gc.chunks_deleted),
           "deleted_manifests": int(gc.manifests_deleted), "deleted_snapshots": int(gc.snapshots_deleted),
           "deleted_bytes": int(gc.bytes_deleted)}
    log.info("compacted %s: %s (cutoff %s)", store.path, out, cutoff.isoformat())
    return out


def _snapshot_for(store: "Store", as_of: str | dt.datetime | None) -> str:
    if isinstance(as_of, _Resolved):  # resolved once by the public call
        return str(as_of)
    if as_of is None:
        return tip(store)
    if isinstance(as_of, str):
        if as_of in store.repo.list_tags():
            return store.repo.lookup_tag(as_of)
        return as_of
    when = as_of if as_of.tzinfo else as_of.replace(tzinfo=store.tz)
    for v in versions(store):
        if v["time"] <= when:
            return v["id"]
    raise StoreError(f"{store.path}: no version of the store as of {when.isoformat()}")


def dataset(store: "Store", as_of: str | dt.datetime | None = None) -> xr.Dataset:
    """The raw grid (UTC slots) at a version; lazily loaded."""
    snap = _snapshot_for(store, as_of)
    if store._ds_cache and store._ds_cache[0] == snap:
        return store._ds_cache[1]
    try:
        s = store.repo.readonly_session(snapshot_id=snap)
        ds = xr.open_zarr(s.store, consolidated=False, chunks=None)
    except Exception as exc:  # noqa: BLE001 - icechunk's own error types
        raise StoreError(f"{store.path}: no version {snap!r} (unknown, or expired by compaction: tag the "
                         f"versions reports use): {exc}") from exc
    ds.attrs["snapshot"] = snap
    store._ds_cache = (snap, ds)
    return ds
