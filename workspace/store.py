"""The versioned time-series store and the query API every notebook and dashboard reads through.

Layout
------
An Icechunk repository (Zarr v3) holding one dense grid of one-minute slots:

- ``time`` (time) — slot start, UTC, CF-encoded as minutes since the store's origin;
- ``meter`` (meter) — meter ids from the site model;
- ``counter`` [kWh | m3], ``rate`` [kW | m3/h], ``voltage`` [V], ``current`` [A],
  ``power_factor`` [-] (time, meter) — the raw readings, never overwritten;
- ``energy`` [kWh | m3] (time, meter) — energy of the minute that ENDS at the slot's reading,
  derived from counter deltas (:func:`workspace.quality.derive_energy`);
- ``quality`` (time, meter) — the bitmask of :class:`workspace.quality.Q`;
- ``tariff_1`` … ``tariff_4`` [kWh] (time, meter) — the time-of-use registers of meters that have
  them (DL/T 645: 尖 sharp, 峰 peak, 平 flat, 谷 valley), raw as read, NaN elsewhere; created by the
  first fold of a batch carrying them in stores made before them (:meth:`Store.tariff_energy`).

Each fold of journaled batches is one Icechunk commit whose metadata names the journal range it
holds; the fold state (last folded batch, last good counter per meter) is written in the same
commit, so a crash anywhere loses nothing and folds nothing twice. Any query can be run ``as_of``
a snapshot id or an instant.

Time is UTC inside; every query takes and returns the site's local time (tz-naive values, the
zone in ``attrs["timezone"]``).

Rollups, maintained at every fold (and by :meth:`Store.bulk_load`; late readings, corrections and
meter swaps re-derive the hours they touch, then those hours' days, then those days' months):

- ``energy_1h`` [kWh | m3], ``measured_1h`` [min] (hour, meter): UTC hours (coordinate ``hour``,
  hours since 1970-01-01T00Z), chunks of one UTC day × all meters; ``power_max_1h`` [kW | m3/h]
  the hour's highest one-minute rate, chunks of one day × 50 meters;
- ``energy_1d`` [kWh | m3], ``measured_1d`` [min] (day, meter): local calendar days (coordinate
  ``day``, days since 1970-01-01), the sum of the day's UTC hours, chunks of 16 days × all meters;
- ``energy_1mo`` [kWh | m3], ``measured_1mo`` [min] (month, meter): local calendar months
  (coordinate ``month``: months since January 1970, 0 = 1970-01), the sum of the month's days,
  chunks of 12 months × all meters. Stores created before them lack these three arrays; monthly
  totals are then summed from the daily rows at query time.

A rollup's energy is NaN only where every minute under it is; ``measured_*`` counts the minutes
with a measured (not estimated) energy, from which queries report ``coverage``.

Query caches (per process; snapshots are immutable, so they can never be stale): the facts of the
newest snapshot read (origin, shapes, fold state: zarr metadata only), the rollup chunks the
queries touched (read lazily, chunk by chunk, never a whole array), the minute chunks (one hour ×
all meters) read recently, and the coordinates of recent answers. Each fold's commit records the
slot range it changed (``changed_slots`` in its metadata), so moving to a newer snapshot drops only
the cached chunks in that range. :meth:`Store.bulk_load` imports history in one commit.

How :meth:`Store.energy` answers: the period ``[start, end)`` is cut, with integer minute
arithmetic, into whole local months (monthly rollups, when ``freq`` is "MS" or None), whole local
days (daily rollups, when ``freq`` is whole days, "MS" or None), whole UTC hours (hourly rollups,
when ``freq`` is whole hours and the zone a whole number of hours from UTC) and minutes at the
edges; each row's group sums and then each interval's rows are added in numpy, and the DataArray
is built once. Zones with daylight saving time in the period, periods not on whole minutes and
other frequencies go through the same cuts with pandas (``_energy_pandas``); both give the same
sums (bit-identical where the additions are the same, else within a few ulp).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from zoneinfo import ZoneInfo

# Icechunk warns at every open that local-filesystem storage is unsafe for concurrent commits. Commits
# here come from one process only (the journal's writer lock), so keep its log to errors unless asked.
os.environ.setdefault("ICECHUNK_LOG", "error")
import icechunk  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402
import zarr  # noqa: E402

from .batch import NO_TIME, decode_batch, decode_columns, parse_time  # noqa: F401 (decode_batch: re-export)
from .errors import StoreError, UnknownMeter
from .journal import Journal
from .quality import ENERGY_FLAGS, Q, derive_energy, stuck_readings
from .site import Medium, Site
from .units import MEDIUM_UNITS
from .storage import parse_location

log = logging.getLogger(__name__)

SLOT = dt.timedelta(minutes=1)
SLOT_MS = 60_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
DENSE_CELLS = 4_000_000  # a fold's raw writes go as one block per variable up to this many cells
CLOCK_TOLERANCE_S = 60.0  # device clock vs collector clock beyond which a reading is CLOCK_DRIFT [s]
CHUNK_T = 60  # one hour of minutes per chunk: small commits, few chunks touched per fold
MINUTE_CHUNKS_CACHED = 192  # minute chunks kept in memory by the query cache (≈ 0.5 MB each at 1,000 meters)
VARIABLES = {  # name: (attrs, dtype, fill)
    "counter": ({"long_name": "cumulative register", "units_from": "counter_units"}, "float64", np.nan),
    "rate": ({"long_name": "instantaneous rate", "units_from": "rate_units"}, "float64", np.nan),
    "voltage": ({"long_name": "phase-average voltage", "units": "V"}, "float64", np.nan),
    "current": ({"long_name": "phase-average current", "units": "A"}, "float64", np.nan),
    "power_factor": ({"long_name": "total power factor", "units": "1"}, "float64", np.nan),
    "energy": ({"long_name": "energy of the minute ending at the slot's reading", "units_from": "counter_units"}, "float64", np.nan),
    "quality": ({"long_name": "quality bitmask", "flag_masks": [int(f) for f in Q],
                 "flag_meanings": " ".join(f.name for f in Q)}, "uint16", 0),
}
TARIFF_NAMES = ("尖 sharp", "峰 peak", "平 flat", "谷 valley")
TARIFFS = {  # the meters' own time-of-use registers, as read (no energy is derived from them)
    f"tariff_{k}": ({"long_name": f"forward active energy register of tariff {k} ({name})", "units": "kWh"},
                    "float64", np.nan)
    for k, name in enumerate(TARIFF_NAMES, start=1)
}
STUCK_LOOKBACK = 30  # slots before a re-derived window searched for the start of a frozen counter
LOOKBACK = 7 * 24 * 60  # how far back a late reading looks for the good reading before it [slots]
PROFILE_DAYS = 7  # history behind a meter's typical profile, used to share a gap's energy [d]
CHUNK_H = 24  # hourly rollups: one UTC day of hours per chunk
ROLLUPS = {
    "energy_1h": ({"long_name": "energy consumed in the hour starting at `hour` (sum of its minutes)",
                   "units_from": "counter_units"}, "float64", np.nan),
    "measured_1h": ({"long_name": "minutes of the hour with a measured (not estimated) energy",
                     "units": "min"}, "uint8", 0),
}
POWER_MAX_METERS = 50  # hourly max-power rollup: chunks of one UTC day × this many meters (a few meters' hours = a small read)
POWER_MAX = {  # absent from stores created before it: power(how="max") then reads the minutes
    "power_max_1h": ({"long_name": "highest one-minute rate read in the hour starting at `hour`",
                      "units_from": "rate_units"}, "float64", np.nan),
}
CHUNK_D = 16  # daily rollups: 16 local days per chunk
DAILY = {
    "energy_1d": ({"long_name": "energy consumed in the local calendar day `day` (sum of its hours)",
                   "units_from": "counter_units"}, "float64", np.nan),
    "measured_1d": ({"long_name": "minutes of the local day with a measured (not estimated) energy",
                     "units": "min"}, "uint16", 0),
}
CHUNK_MO = 12  # monthly rollups: 12 local months per chunk
MONTHLY = {  # absent from stores created before them: monthly totals are then summed from the daily rows
    "energy_1mo": ({"long_name": "energy consumed in the local calendar month `month` (sum of its days)",
                    "units_from": "counter_units"}, "float64", np.nan),
    "measured_1mo": ({"long_name": "minutes of the local month with a measured (not estimated) energy",
                      "units": "min"}, "uint32", 0),
}
READ_COLUMNS = ("counter", "rate", "voltage", "current", "power_factor")


@dataclass(frozen=True)
class FoldResult:
    seq_from: int
    seq_to: int  # inclusive; seq_from > seq_to means nothing was folded
    readings: int
    snapshot: str | None


def _first_line(exc: BaseException) -> str:
    """The gist of an error whose text may be a long multi-line trace (Icechunk's are)."""
    lines = [ln.strip(" |x`->") for ln in str(exc).splitlines() if ln.strip(" |x`->")]
    cause = [ln for ln in lines if "error" in ln.lower() or "refused" in ln.lower()]
    return "; ".join(dict.fromkeys((lines[:1] + cause[-2:]))) if lines else type(exc).__name__


def _write_hours(arr, h0: int, h1: int, keep: np.ndarray, values: np.ndarray) -> None:
    """Write the rows of hours ``[h0, h1)`` marked in ``keep`` (one slice when all are)."""
    if keep.all():
        arr[h0:h1] = values
    else:
        arr.set_orthogonal_selection((np.arange(h0, h1)[keep], slice(None)), values[keep])


def _ms_of(t: dt.datetime) -> int:
    """Milliseconds since 1970-01-01T00:00:00Z of an aware datetime."""
    return (t - _EPOCH) // dt.timedelta(milliseconds=1)


def _utc(t: dt.datetime | str | pd.Timestamp, tz: ZoneInfo) -> pd.Timestamp:
    ts = pd.Timestamp(t)
    if ts.tzinfo is None:
        ts = ts.tz_localize(tz)
    return ts.tz_convert("UTC")


def _counter_wrap(family: str) -> float | None:
    """Where a family's integer counter register wraps to zero [kWh or m3]; None for floats."""
    from collectors.registers import FAMILIES

    fam = FAMILIES.get(family)
    field = next((f for f in fam.fields if f.quantity == "counter"), None) if fam else None
    if field is None or field.dtype == "float32":
        return None
    bits = 16 * field.count - (0 if field.dtype.startswith("u") else 1)
    return float(2 ** bits) * field.scale


_XARRAY_WARM = False


def _warm_xarray() -> None:
    """Build one tiny DataArray, once per process: xarray's first one imports every installed
    duck-array library (dask, pint: seconds in a fresh process). Opening a store pays it, as
    opening the xarray dataset used to, rather than the first query."""
    global _XARRAY_WARM
    if not _XARRAY_WARM:
        xr.DataArray(np.zeros((1, 1)), dims=["time", "group"],
                     coords={"time": np.zeros(1, "datetime64[ns]"), "group": ["g"]}).values
        _XARRAY_WARM = True


class _Rows:
    """Rows of one rollup array of one snapshot, read lazily: ``rows[a:b]`` reads (once) only the
    chunks holding rows ``a`` to ``b`` (see :meth:`Store._rollups`)."""

    def __init__(self, store: "Store", snap: str, name: str, info: tuple):
        self._store, self._snap, self._name = store, snap, name
        self.shape, self.dtype = info[0], np.dtype(info[2])

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> np.ndarray:
        """``rows[a:b]`` (all meters) or ``rows[a:b, cols]`` (meter indices: taken chunk by chunk)."""
        cols = None
        if isinstance(key, tuple):
            key, cols = key
        if not isinstance(key, slice):
            raise TypeError("rollup rows take a slice")
        a, b, step = key.indices(self.shape[0])
        if step != 1:
            raise TypeError("rollup rows take a slice without a step")
        return self._store._rollup_read(self._snap, self._name, a, b, cols)


class _Resolved(str):
    """A snapshot id already resolved from ``as_of`` (a query resolves it once, not per array read)."""


def _group_sums(df: pd.DataFrame, groups: dict[str, list[str]]) -> dict[str, np.ndarray]:
    """Row sums of each group's columns, NaN where all of them are NaN (pandas' ``sum(axis=1,
    min_count=1)``, in numpy: the same additions in the same order, without pandas' per-call cost)."""
    pos = {c: i for i, c in enumerate(df.columns)}
    v = df.to_numpy()
    fin = np.isfinite(v)
    z = np.where(fin, v, 0.0)
    out = {}
    for g, ms in groups.items():
        idx = [pos[m] for m in ms]
        total = z[:, idx].sum(axis=1)
        total[~fin[:, idx].any(axis=1)] = np.nan
        out[g] = total
    return out


def _months(date: dt.date) -> int:
    """Months since January 1970 of a date's month (0 = 1970-01)."""
    return (date.year - 1970) * 12 + date.month - 1


def _month_of(minute, *, ceil: bool):
    """Months since 1970-01 of local minutes since 1970-01-01 00:00 (the month holding each, or
    with ``ceil`` the first month starting at or after it)."""
    t = np.asarray(minute, np.int64)
    m = t.astype("datetime64[m]").astype("datetime64[M]").astype(np.int64)
    if ceil:
        m = m + (_month_start(m) < t)
    return m if np.ndim(minute) else int(m)


def _month_start(month):
    """Local minutes since 1970-01-01 00:00 of the first minute of months since 1970-01."""
    m = np.asarray(month, np.int64)
    out = m.astype("datetime64[M]").astype("datetime64[m]").astype(np.int64)
    return out if np.ndim(month) else int(out)


def _hourly_ok(freq: str | None) -> bool:
    """Whether intervals of ``freq`` are made of whole hours (so hourly rollups can serve them)."""
    if freq is None:
        return True
    off = pd.tseries.frequencies.to_offset(freq)
    if isinstance(off, pd.offsets.Tick):
        return pd.Timedelta(off) % pd.Timedelta(hours=1) == pd.Timedelta(0)
    return True


def _is_hourly_grid(index: pd.DatetimeIndex, freq: str | None) -> bool:
    """True when ``freq`` is one hour and ``index`` is already one row per whole hour, one hour apart
    (the hourly rollups' rows without minute edges), so that ``resample(freq)`` is the identity."""
    if freq is None or len(index) == 0:
        return False
    try:
        if pd.tseries.frequencies.to_offset(freq) != pd.offsets.Hour(1):
            return False
    except ValueError:
        return False
    ns = index.asi8
    hour = 3_600_000_000_000
    if len(ns) > 1 and not (np.diff(ns) == hour).all():
        return False
    return index[0] == index[0].floor("h")


def _daily_ok(freq: str | None) -> bool:
    """Whether intervals of ``freq`` are made of whole local days (so daily rollups can serve them)."""
    if freq is None:
        return True
    off = pd.tseries.frequencies.to_offset(freq)
    if isinstance(off, pd.offsets.Tick):
        return pd.Timedelta(off) % pd.Timedelta(days=1) == pd.Timedelta(0)
    return not isinstance(off, (pd.offsets.BusinessHour, pd.offsets.CustomBusinessHour))


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
        self._rollup_cache: dict | None = None  # rollup arrays of one snapshot (see :meth:`_rollups`)
        self._latest_cache: tuple[str, dt.datetime | None] | None = None
        self._group_cache: dict = {}
        self._chunk_cache: dict | None = None  # minute chunks of one snapshot (see :meth:`_minutes`)
        self._meta_cache: dict | None = None  # grid facts of one snapshot (see :meth:`_meta`)
        self._result_cache: dict = {}  # coordinates of recent answers (see :meth:`_result`)
        self._offset_cache: dict[int, int | None] = {}  # UTC year -> the zone's fixed offset [min] or None
        self._cache_lock = threading.Lock()
        self._wrap = {m.id: _counter_wrap(m.family) for m in site.meters}
        self.clock_tolerance_s = CLOCK_TOLERANCE_S  # see :data:`CLOCK_TOLERANCE_S`
        self._fold_lock = threading.Lock()  # one fold at a time in this process (the journal lock: one process)

    # -- opening ---------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike, site: Site, *, create: bool = False) -> "Store":
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
                repo = icechunk.Repository.create(storage)
            except Exception as exc:  # noqa: BLE001
                raise StoreError(f"{loc.label}: cannot create the store ({_first_line(exc)})") from exc
            store = cls(path, site, repo)
            store._initialise()
            return store
        try:
            repo = icechunk.Repository.open(storage)
            store = cls(path, site, repo)
            # the meter list from zarr itself: opening the xarray dataset (time decoding and its imports)
            # costs seconds in a fresh process, and queries do not need it
            g = zarr.open_group(store=repo.readonly_session(branch="main").store, mode="r")
            have = [str(m) for m in g["meter"][:]]
        except Exception as exc:  # noqa: BLE001
            raise StoreError(f"{loc.label}: the store is damaged, unreachable or not an Icechunk repository "
                             f"({_first_line(exc)}). If it is unreachable, check the storage and try again; if damaged, "
                             f"restore it from backup, or move it aside: the journal still holds every "
                             f"acknowledged reading and `tanjian fold` rebuilds the store from it.") from exc
        _warm_xarray()
        if have == store.meters:
            return store
        ids = set(have)
        new = [m for m in store.meters if m not in ids]
        gone = sorted(ids - set(store.meters))
        if gone:
            log.warning("%s: %d meter(s) of the store are no longer in the site model (%s): their data stay, "
                        "readable by id", loc.label, len(gone), ", ".join(gone[:10]))
        if new and create:  # the writer (collector, fold, demo): widen the store, as a version of its own
            store._add_meters(have, new)
            have = have + new
            new = []
        store = cls(path, site, repo, meters=have)
        if new:
            store._pending_meters = new
            log.warning("%s: %d meter(s) of the site model are not in the store yet (%s): the collector adds them "
                        "when it next starts; until then queries leave them out", loc.label, len(new),
                        ", ".join(new[:10]))
        return store

    def _add_meters(self, have: list[str], new: list[str]) -> str:
        """Widen every (…, meter) array by the meters ``new`` in one commit (the site model gained
        meters); their slots hold the fill values (no reading) until readings are folded. Returns the
        snapshot id."""
        s = self.repo.writable_session("main")
        g = zarr.open_group(store=s.store, mode="a")
        n = len(have) + len(new)
        for name, arr in g.arrays():
            dims = arr.metadata.dimension_names or ()
            if dims and dims[-1] == "meter":
                arr.resize((*arr.shape[:-1], n))
        g["meter"][len(have):] = np.array(new)
        units = {m.id: list(MEDIUM_UNITS[m.medium]) for m in self.site.meters if m.id in set(new)}
        for name, k in (("counter_units", 0), ("rate_units", 1)):
            g[name][len(have):] = np.array([units[m][k] for m in new])
        g.attrs["meter_units"] = {**g.attrs.get("meter_units", {}), **units}
        snap = s.commit(f"site model: {len(new)} meter(s) added ({', '.join(new[:10])})",
                        metadata={"author": "site model", "kind": "meters_added", "meters": new,
                                  "changed_slots": [0, 0]})
        log.info("%s: %d meter(s) added to the store as snapshot %s: %s", self.path, len(new), snap,
                 ", ".join(new[:10]))
        return snap

    def _initialise(self) -> None:
        s = self.repo.writable_session("main")
        g = zarr.open_group(store=s.store, mode="a")
        m = len(self.meters)
        g.create_array("time", shape=(0,), chunks=(CHUNK_T * 24,), dtype="int64", fill_value=0,
                       dimension_names=["time"], attributes={
                           "units": "minutes since 1970-01-01 00:00:00", "calendar": "proleptic_gregorian",
                           "standard_name": "time", "long_name": "slot start (UTC)"})
        meter = g.create_array("meter", shape=(m,), chunks=(m,), dtype=str, dimension_names=["meter"])
        meter[:] = np.array(self.meters)
        for name, (attrs, dtype, fill) in {**VARIABLES, **TARIFFS}.items():
            g.create_array(name, shape=(0, m), chunks=(CHUNK_T, m), dtype=dtype, fill_value=fill,
                           dimension_names=["time", "meter"], attributes=attrs)
        g.create_array("hour", shape=(0,), chunks=(24 * 366,), dtype="int64", fill_value=0,
                       dimension_names=["hour"], attributes={
                           "units": "hours since 1970-01-01 00:00:00", "calendar": "proleptic_gregorian",
                           "long_name": "hour start (UTC) of the hourly rollups"})
        for name, (attrs, dtype, fill) in ROLLUPS.items():
            g.create_array(name, shape=(0, m), chunks=(CHUNK_H, m), dtype=dtype, fill_value=fill,
                           dimension_names=["hour", "meter"], attributes=attrs)
        for name, (attrs, dtype, fill) in POWER_MAX.items():
            g.create_array(name, shape=(0, m), chunks=(CHUNK_H, min(m, POWER_MAX_METERS)), dtype=dtype,
                           fill_value=fill, dimension_names=["hour", "meter"], attributes=attrs)
        g.create_array("day", shape=(0,), chunks=(366,), dtype="int64", fill_value=0, dimension_names=["day"],
                       attributes={"units": "days since 1970-01-01 00:00:00", "calendar": "proleptic_gregorian",
                                   "long_name": f"local calendar day ({self.site.plant.timezone})"})
        for name, (attrs, dtype, fill) in DAILY.items():
            g.create_array(name, shape=(0, m), chunks=(CHUNK_D, m), dtype=dtype, fill_value=fill,
                           dimension_names=["day", "meter"], attributes=attrs)
        # no CF time units: "months since" is not a fixed length of time
        g.create_array("month", shape=(0,), chunks=(CHUNK_MO * 100,), dtype="int64", fill_value=0,
                       dimension_names=["month"], attributes={
                           "long_name": f"local calendar month ({self.site.plant.timezone}), counted in months "
                                        f"since January 1970 (0 = 1970-01)"})
        for name, (attrs, dtype, fill) in MONTHLY.items():
            g.create_array(name, shape=(0, m), chunks=(CHUNK_MO, m), dtype=dtype, fill_value=fill,
                           dimension_names=["month", "meter"], attributes=attrs)
        for name, k in (("counter_units", 0), ("rate_units", 1)):  # per-meter units (media differ)
            a = g.create_array(name, shape=(m,), chunks=(m,), dtype=str, dimension_names=["meter"],
                               attributes={"long_name": f"units of {name.split('_')[0]} per meter"})
            a[:] = np.array([MEDIUM_UNITS[mt.medium][k] for mt in self.site.meters])
        g.attrs.update({
            "title": f"tanjian store: {self.site.plant.name}",
            "plant": self.site.plant.id, "timezone": self.site.plant.timezone,
            "meter_units": {m.id: list(MEDIUM_UNITS[m.medium]) for m in self.site.meters},
            "fold": {"seq": -1, "origin": None, "prev": {}},
        })
        s.commit("create store", metadata={"author": "tanjian"})

    # -- writing ---------------------------------------------------------------------------------
    @property
    def last_folded_seq(self) -> int:
        s = self.repo.readonly_session(branch="main")
        return int(zarr.open_group(store=s.store, mode="r").attrs["fold"]["seq"])

    def fold(self, journal: Journal, *, max_batches: int = 10_000, author: str = "collector") -> FoldResult:
        """Fold the journal's batches after the last folded one into the store, in one commit.

        A correction or an event (a batch with a ``note``) is folded alone, in a commit whose
        message and metadata carry its author and reason.
        """
        with self._fold_lock:
            try:
                return self._fold(journal, max_batches, author)
            except icechunk.IcechunkError as exc:  # storage unreachable or refusing: nothing was committed
                raise StoreError(f"{self.path}: the fold could not read or commit the store, nothing of it was "
                                 f"committed and the journal keeps every batch; the next fold retries "
                                 f"({_first_line(exc)})") from exc

    def _fold(self, journal: Journal, max_batches: int, author: str) -> FoldResult:
        s = self.repo.writable_session("main")
        g = zarr.open_group(store=s.store, mode="r+")
        state = dict(g.attrs["fold"])
        start = int(state["seq"]) + 1
        stop = min(len(journal), start + max_batches)
        if start >= stop:
            return FoldResult(start, start - 1, 0, None)
        batches = []
        for seq, payload in journal.records(start, stop):
            try:
                batch = decode_columns(payload)
            except ValueError as exc:
                raise StoreError(f"{journal.path}: record {seq}: {exc}") from exc
            if batch.seq != seq:
                raise StoreError(f"{journal.path}: record {seq} holds batch seq {batch.seq}")
            if batch.note is not None and batches:
                break  # a correction or an event gets a commit of its own
            batches.append(batch)
            if batch.note is not None:
                break
        stop = start + len(batches)
        note = batches[0].note if batches[0].note is not None else None
        if note is not None and note.get("kind") == "document":
            # a document's hash in the ledger: nothing to store but the position in the journal
            state["seq"] = start
            g.attrs["fold"] = state
            msg = (f"document {note.get('name')} (sha256 {note.get('sha256')}) by {note.get('author')}: "
                   f"{note.get('reason')} (journal batch {start})")
            snap = s.commit(msg, metadata={"journal_seq_from": start, "journal_seq_to": start, "readings": 0,
                                           "kind": "document", "author": note.get("author"),
                                           "reason": note.get("reason"), "sha256": note.get("sha256")})
            self._ds_cache = None
            return FoldResult(start, start, 0, snap)
        cols = self._columns(batches)
        n = len(cols["time"])
        events = {k: [list(e) for e in v] for k, v in state.get("events", {}).items()}
        if note is not None and note.get("kind") == "meter_replaced":
            if note.get("meter") not in self._midx:
                raise UnknownMeter(f"batch {start}: unknown meter {note.get('meter')!r} in a meter_replaced event")
        times = cols["time"]
        if note is not None and note.get("kind") == "meter_replaced":
            times = np.append(times, _ms_of(parse_time(note["time"])))
        origin = state["origin"]
        if origin is None:  # the grid starts on the UTC day before the local year of the first reading
            first = (_EPOCH + dt.timedelta(milliseconds=int(times.min()))).astimezone(self.tz)
            o = dt.datetime(first.year, 1, 1, tzinfo=self.tz).astimezone(dt.timezone.utc)
            origin = (o.replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days=1)).isoformat()
        o = dt.datetime.fromisoformat(origin)
        o_ms = _ms_of(o)
        slots = (times - o_ms) // SLOT_MS
        if len(slots) and int(slots.min()) < 0:
            raise StoreError(f"readings before the store's origin {origin} cannot be stored")
        self._extend(g, int(slots.max()) + 1, o)
        cols["slot"] = slots[:n]
        prev = dict(state["prev"])
        affected: dict[str, list[int]] = {}  # meter -> [earliest, newest] slot changed
        if note is not None and note.get("kind") == "meter_replaced":
            sl = int(slots[-1])
            events.setdefault(note["meter"], []).append([sl, float(note["old_final"]), float(note["new_initial"])])
            affected[note["meter"]] = [sl, sl]
        correction = note is not None and note.get("kind") == "correction"
        written = self._write_raw(g, cols, prev, correction, affected)
        lo, hi = self._rederive(g, affected, prev, events)
        touched = np.unique(np.concatenate([written, np.arange(lo, hi, dtype=np.int64)]))
        self._roll_up(g, touched, o)
        first = int(slots.min())
        if state.get("first_slot") is not None:
            first = min(first, int(state["first_slot"]))
        state.update(seq=stop - 1, origin=origin, prev=prev, first_slot=first, events=events)
        g.attrs["fold"] = state
        meta = {"journal_seq_from": start, "journal_seq_to": stop - 1, "readings": n, "author": author,
                "changed_slots": [int(touched[0]), int(touched[-1]) + 1] if len(touched) else [0, 0]}
        if note is not None:
            msg = (f"{note.get('kind')} by {note.get('author')}: {note.get('reason')} "
                   f"(journal batch {start}, {n} readings)")
            meta.update(kind=note.get("kind"), author=note.get("author"), reason=note.get("reason"))
        else:
            msg = f"fold journal batches {start}..{stop - 1} ({n} readings)"
        snap = s.commit(msg, metadata=meta)
        log.info("%s as snapshot %s", msg, snap)
        self._ds_cache = None
        return FoldResult(start, stop - 1, n, snap)

    def _columns(self, batches) -> dict[str, np.ndarray]:
        """The batches' readings as columns (store meter index ``mi``, ``time`` [ms], values, ``quality``
        with :attr:`Q.CLOCK_DRIFT` set where the device clock is off by more than the tolerance)."""
        parts = []
        with_tariffs = any(b.tariffs is not None for b in batches)
        for b in batches:
            idx = np.empty(len(b.meters), np.int64)
            for k, mid in enumerate(b.meters):
                i = self._midx.get(mid)
                if i is None:
                    raise UnknownMeter(f"batch {b.seq}: unknown meter {mid!r} (not in the site model)")
                idx[k] = i
            q = b.quality.astype(np.uint16)
            if b.device_time is not None:
                dev = b.device_time
                drift = (dev != NO_TIME) & (np.abs(dev - b.time) > int(self.clock_tolerance_s * 1000))
                if drift.any():
                    q = q | np.where(drift, np.uint16(int(Q.CLOCK_DRIFT)), np.uint16(0))
            parts.append({"mi": idx[b.meter.astype(np.int64)], "time": b.time.astype(np.int64), "quality": q,
                          **{c: b.__getattribute__(c) for c in READ_COLUMNS}})
            if with_tariffs:
                tar = b.tariffs if b.tariffs is not None else np.full((len(b), 4), np.nan)
                parts[-1].update({name: tar[:, k] for k, name in enumerate(TARIFFS)})
        if len(parts) == 1:
            return dict(parts[0])
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def _write_raw(self, g, cols: dict[str, np.ndarray], prev: dict, correction: bool,
                   affected: dict[str, list[int]]) -> np.ndarray:
        """Write the raw values and reading-level flags, vectorised; note each meter's changed slots.

        Per meter, in time order: a reading for a slot already read in this fold, or (unless it is a
        correction) for a slot the store already holds, is a DUPLICATE (the first is kept); a kept
        reading at or before the meter's last folded one is OUT_OF_ORDER (merged into its slot).
        Returns the slots whose cells were written.
        """
        n = len(cols["time"])
        if n == 0:
            return np.zeros(0, np.int64)
        m = len(self.meters)
        order = np.lexsort((cols["time"], cols["mi"]))  # stable: by meter, then time, ties as journaled
        mi, slot = cols["mi"][order], cols["slot"][order]
        p_slot = np.full(m, np.iinfo(np.int64).min, np.int64)
        for meter, p in prev.items():
            i = self._midx.get(meter)
            if i is not None:
                p_slot[i] = int(p[0])
        late = slot <= p_slot[mi]
        taken = np.zeros(n, bool)
        if late.any():
            li = np.nonzero(late)[0]
            taken[li] = np.isfinite(g["counter"].get_coordinate_selection((slot[li], mi[li])))
        dup = np.zeros(n, bool)
        dup[1:] = (mi[1:] == mi[:-1]) & (slot[1:] == slot[:-1])
        if not correction:
            dup |= taken
        keep = ~dup
        flags = cols["quality"][order].astype(np.uint16)
        if correction:
            flags |= np.uint16(int(Q.MANUAL))
        else:
            flags[late] |= np.uint16(int(Q.OUT_OF_ORDER))
        flags[dup] = np.uint16(int(Q.DUPLICATE))
        k_mi, k_slot = mi[keep], slot[keep]
        raw = READ_COLUMNS
        if "tariff_1" in cols:
            for name, (attrs, dtype, fill) in TARIFFS.items():
                if name not in g:  # a store made before the tariff registers: add them
                    g.create_array(name, shape=g["counter"].shape, chunks=(CHUNK_T, m), dtype=dtype,
                                   fill_value=fill, dimension_names=["time", "meter"], attributes=attrs)
            raw = READ_COLUMNS + tuple(TARIFFS)
        # quality: OR every flag landing on a cell together, and into what is stored
        key = slot * m + mi
        uniq, inv = np.unique(key, return_inverse=True)
        merged = np.zeros(len(uniq), np.uint16)
        np.bitwise_or.at(merged, inv, flags)
        q_slot, q_mi = uniq // m, uniq % m
        s0, s1 = int(q_slot[0]), int(q_slot[-1]) + 1
        if (s1 - s0) * m <= DENSE_CELLS:  # one block read and written per variable
            for var in raw:
                block = g[var][s0:s1]
                block[k_slot - s0, k_mi] = cols[var][order][keep]
                g[var][s0:s1] = block
            block = g["quality"][s0:s1].astype(np.uint16)
            block[q_slot - s0, q_mi] |= merged
            g["quality"][s0:s1] = block
        else:  # readings spread far apart (late data): only their cells
            for var in raw:
                g[var].set_coordinate_selection((k_slot, k_mi), cols[var][order][keep].astype(np.float64))
            merged |= g["quality"].get_coordinate_selection((q_slot, q_mi)).astype(np.uint16)
            g["quality"].set_coordinate_selection((q_slot, q_mi), merged)
        if len(k_mi):
            first = np.ones(len(k_mi), bool)
            first[1:] = k_mi[1:] != k_mi[:-1]
            starts = np.nonzero(first)[0]
            ends = np.append(starts[1:], len(k_mi)) - 1
            for i, a, b in zip(k_mi[starts].tolist(), k_slot[starts].tolist(), k_slot[ends].tolist()):
                span = affected.setdefault(self.meters[i], [a, b])
                span[0], span[1] = min(span[0], a), max(span[1], b)
        return np.unique(q_slot)

    def bulk_load(self, blocks, *, message: str = "bulk load", author: str = "import") -> str:
        """Load whole blocks of history into an EMPTY store in one commit, as folds would have built it.

        For imports of history (meter-data exports, the benchmark's year): no journal, no batch per
        reading, so a year of a thousand meters loads in minutes. Journal folds continue from it
        (the fold state is set: each meter's last reading, origin, first slot; journal seq -1).

        Parameters
        ----------
        blocks : iterable of (first minute, mapping)
            Blocks in time order, none overlapping another. The first minute is the UTC minute of
            the block's first row, as an aware datetime or as whole minutes since
            1970-01-01T00:00Z. The mapping holds ``(minutes, meters)`` arrays, one column per
            meter of the site model in its order: ``counter`` [kWh | m3] (required), and any of
            ``rate`` [kW | m3/h], ``voltage`` [V], ``current`` [A], ``power_factor`` [-] (NaN
            where absent) and ``quality`` (collector flags, default 0).
        message, author : str
            The commit's message and author.

        Returns
        -------
        str
            The snapshot id of the commit.

        Notes
        -----
        Energy is derived from the counters exactly as the fold derives it (same function, same
        flags; a gap's profile comes from the hourly rollups of earlier blocks), and the hourly
        and daily rollups follow. A counter frozen across the border of two blocks is judged
        within each block only (STUCK). Nothing stored is ever overwritten: a block before the
        previous one's end is refused.
        """
        with self._fold_lock:
            return self._bulk_load(blocks, message, author)

    def _bulk_load(self, blocks, message: str, author: str) -> str:
        s = self.repo.writable_session("main")
        g = zarr.open_group(store=s.store, mode="r+")
        state = dict(g.attrs["fold"])
        if state["seq"] != -1 or state["origin"] is not None:
            raise StoreError(f"{self.path}: bulk_load needs an empty store (it holds data up to journal batch "
                             f"{state['seq']}); import into a new store")
        m = len(self.meters)
        origin = o = None
        base = 0
        prev: dict[str, list] = {}
        events: dict = {}
        first_slot = None
        end = None  # the next free slot
        n = 0
        for k, (t0, arrays) in enumerate(blocks):
            if isinstance(t0, dt.datetime):
                t0 = _ms_of(t0) // SLOT_MS
            t0 = int(t0)
            if "counter" not in arrays:
                raise StoreError(f"bulk_load block {k}: no 'counter' array")
            unknown = set(arrays) - set(READ_COLUMNS) - {"quality"}
            if unknown:
                raise StoreError(f"bulk_load block {k}: unknown variables {sorted(unknown)}")
            counter = np.asarray(arrays["counter"], dtype=np.float64)
            if counter.ndim != 2 or counter.shape[1] != m:
                raise StoreError(f"bulk_load block {k}: counter has shape {counter.shape}, expected (minutes, {m})")
            rows = counter.shape[0]
            if rows == 0:
                continue
            if origin is None:  # the fold's rule: the UTC day before the local year of the first reading
                first = (_EPOCH + dt.timedelta(minutes=t0)).astimezone(self.tz)
                oo = dt.datetime(first.year, 1, 1, tzinfo=self.tz).astimezone(dt.timezone.utc)
                o = oo.replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days=1)
                origin = o.isoformat()
                base = _ms_of(o) // SLOT_MS
            lo, hi = t0 - base, t0 - base + rows
            if lo < 0:
                raise StoreError(f"bulk_load block {k}: it starts before the store's origin {origin}")
            if end is not None and lo < end:
                raise StoreError(f"bulk_load block {k}: it starts at slot {lo}, before the end of the previous "
                                 f"block (slot {end}); blocks must be in time order and never overlap")
            self._extend(g, hi, o)
            for var in READ_COLUMNS:
                a = arrays.get(var)
                if a is not None and np.shape(a) != counter.shape:
                    raise StoreError(f"bulk_load block {k}: {var} has shape {np.shape(a)}, not {counter.shape}")
                g[var][lo:hi] = counter if var == "counter" else (
                    np.full(counter.shape, np.nan) if a is None else np.asarray(a, dtype=np.float64))
            rate = np.asarray(arrays["rate"], dtype=np.float64) if "rate" in arrays else np.full(counter.shape, np.nan)
            # energy and its flags, meter by meter; a gap from the previous block reaches back before lo
            e_lo = min([lo] + [int(p[0]) + 1 for p in prev.values()])
            energy = np.full((hi - e_lo, m), np.nan)
            quality = np.zeros((hi - e_lo, m), np.uint16)
            if e_lo < lo:
                energy[:lo - e_lo] = g["energy"][e_lo:lo]
                quality[:lo - e_lo] = g["quality"][e_lo:lo]
            if "quality" in arrays:
                quality[lo - e_lo:] = np.asarray(arrays["quality"]).astype(np.uint16)
            slot_h = SLOT.total_seconds() / 3600
            for mi, meter in enumerate(self.meters):
                c = counter[:, mi]
                fin = np.nonzero(np.isfinite(c))[0]
                if not len(fin):
                    continue
                p = prev.get(meter)
                mt = self.site.meter(meter)
                es, ee, ef, p_slot, p_counter = derive_energy(
                    p[0] if p else None, p[1] if p else None, lo + fin, c[fin], mt.rated_power_kw, slot_h,
                    wrap=self._wrap.get(meter), profile=lambda gap, mi=mi: self._typical(g, mi, gap))
                energy[es - e_lo, mi] = ee
                np.bitwise_or.at(quality[:, mi], es - e_lo, ef)
                stuck = stuck_readings(c[fin], rate[fin, mi], mt.rated_power_kw)
                if stuck.any():
                    quality[lo - e_lo + fin[stuck], mi] |= np.uint16(int(Q.STUCK))
                if p_slot is not None:
                    prev[meter] = [int(p_slot), float(p_counter)]
            g["energy"][e_lo:hi] = energy
            g["quality"][e_lo:hi] = quality
            self._roll_up(g, np.arange(e_lo, hi, dtype=np.int64), o)
            first_slot = lo if first_slot is None else first_slot
            end = hi
            n += int(np.isfinite(counter).sum())
        if origin is None:
            raise StoreError(f"{self.path}: bulk_load was given no data")
        state.update(seq=-1, origin=origin, first_slot=int(first_slot), events=events, prev=prev)
        g.attrs["fold"] = state
        snap = s.commit(f"{message} ({n} readings)", metadata={"author": author, "readings": n, "kind": "bulk_load",
                                                               "changed_slots": [0, int(end)]})
        log.info("bulk load of %d readings into %s as snapshot %s", n, self.path, snap)
        self._ds_cache = None
        return snap

    def _typical(self, g, mi: int, slots: np.ndarray) -> np.ndarray | None:
        """The meter's typical consumption in each slot [kWh or m3 per minute]: the mean of the same
        hour of the day over the :data:`PROFILE_DAYS` days before the first slot (hourly rollups);
        None when there is no such history."""
        h0 = int((slots[0] - 1) // 60)
        lo = max(0, h0 - 24 * PROFILE_DAYS)
        hist = g["energy_1h"][lo:h0, mi] if h0 > lo else np.zeros(0)
        if not np.isfinite(hist).any():
            return None
        by_hour = np.full(24, np.nan)
        hours = np.arange(lo, h0) % 24
        for h in range(24):
            v = hist[hours == h]
            if np.isfinite(v).any():
                by_hour[h] = np.nanmean(v)
        if not np.isfinite(by_hour).all():
            return None
        return by_hour[((slots - 1) // 60) % 24] / 60.0

    def _rederive(self, g, affected: dict[str, list[int]], prev: dict, events: dict) -> tuple[int, int]:
        """Derive the energy of each affected meter again from its earliest changed slot on.

        Each meter starts from its last good reading before that slot (the fold state's when the
        change is past it, else the last good one in the store up to :data:`LOOKBACK` slots back)
        and runs to its newest reading, so that late readings, corrections and meter swaps change
        exactly the intervals they belong to. One block of the grid is read and written for all
        meters together. Returns the slot range ``[lo, hi)`` rewritten.
        """
        if not affected:
            return 0, 0
        plan = {}
        for meter, (a, b) in affected.items():
            p = prev.get(meter)
            fast = p is not None and a > p[0]
            end = max(b, int(p[0]) if p is not None else b) + 1
            plan[meter] = (a, end, fast, (int(p[0]), float(p[1])) if fast else None)
        lo = max(0, min((pl[3][0] + 1) if pl[2] else max(0, pl[0] - LOOKBACK) for pl in plan.values())
                 - STUCK_LOOKBACK)
        hi = max(pl[1] for pl in plan.values())
        counter = g["counter"][lo:hi]
        rate = g["rate"][lo:hi]
        quality = g["quality"][lo:hi].astype(np.uint16)
        energy = g["energy"][lo:hi]
        keep = np.uint16(~int(ENERGY_FLAGS) & 0xFFFF)
        changed = hi
        for meter, (a, end, fast, start) in plan.items():
            mi = self._midx[meter]
            c, q = counter[:, mi], quality[:, mi]
            if not fast:
                scan = slice(max(0, a - LOOKBACK) - lo, a - lo)
                good = np.nonzero(np.isfinite(c[scan]) & ((q[scan] & int(Q.SPIKE)) == 0))[0]
                start = (scan.start + lo + int(good[-1]), float(c[scan][good[-1]])) if len(good) else None
            w_lo = (start[0] + 1) if start is not None else a
            changed = min(changed, w_lo)
            win = slice(w_lo - lo, end - lo)
            slots = w_lo + np.nonzero(np.isfinite(c[win]))[0]
            m = self.site.meter(meter)
            es, ee, ef, p_slot, p_counter = derive_energy(
                start[0] if start else None, start[1] if start else None, slots, c[slots - lo],
                m.rated_power_kw, SLOT.total_seconds() / 3600, wrap=self._wrap.get(meter),
                replaced={int(e[0]): (e[1], e[2]) for e in events.get(meter, [])},
                profile=lambda gap, mi=mi: self._typical(g, mi, gap))
            energy[win, mi] = np.nan
            energy[es - lo, mi] = ee
            q[win] &= keep
            np.bitwise_or.at(q, es - lo, ef)  # a spike's slot also gets the share spread over it later
            # a counter frozen while the meter reports a load (looking back over the run's start)
            back = max(0, w_lo - lo - STUCK_LOOKBACK)
            seen = np.nonzero(np.isfinite(c[back:end - lo]))[0] + back
            stuck = seen[stuck_readings(c[seen], rate[seen, mi], m.rated_power_kw)]
            if len(stuck):
                q[stuck] |= np.uint16(int(Q.STUCK))
                changed = min(changed, lo + int(stuck[0]))
            p = prev.get(meter)
            if p_slot is not None and (p is None or p_slot >= p[0]):
                prev[meter] = [int(p_slot), float(p_counter)]
        g["energy"][changed:hi] = energy[changed - lo:]
        g["quality"][changed:hi] = quality[changed - lo:]
        return changed, hi

    def _extend(self, g: zarr.Group, need: int, origin: dt.datetime) -> None:
        t = g["time"]
        have = t.shape[0]
        if need <= have:
            return
        # grow in whole chunks so that the time axis is not resized on every fold
        new = -(-need // CHUNK_T) * CHUNK_T
        base = int((origin - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)) // SLOT)
        t.resize((new,))
        t[have:new] = base + np.arange(have, new, dtype=np.int64)
        for name in VARIABLES:
            g[name].resize((new, len(self.meters)))
        for name in TARIFFS:
            if name in g:
                g[name].resize((new, len(self.meters)))
        hours = new // 60  # the minute axis grows in whole hours from a UTC midnight
        h = g["hour"]
        have_h = h.shape[0]
        h.resize((hours,))
        h[have_h:hours] = base // 60 + np.arange(have_h, hours, dtype=np.int64)
        for name in ROLLUPS:
            g[name].resize((hours, len(self.meters)))
        for name in POWER_MAX:
            if name in g:
                g[name].resize((hours, len(self.meters)))
        d0 = self._day0(origin)
        last = (origin + new * SLOT - dt.timedelta(microseconds=1)).astimezone(self.tz).date()
        days = (last - d0).days + 1
        d = g["day"]
        have_d = d.shape[0]
        d.resize((days,))
        d[have_d:days] = (d0 - dt.date(1970, 1, 1)).days + np.arange(have_d, days, dtype=np.int64)
        for name in DAILY:
            g[name].resize((days, len(self.meters)))
        if "month" in g:
            mo = g["month"]
            have_mo = mo.shape[0]
            n_mo = _months(last) - _months(d0) + 1
            mo.resize((n_mo,))
            mo[have_mo:n_mo] = _months(d0) + np.arange(have_mo, n_mo, dtype=np.int64)
            for name in MONTHLY:
                g[name].resize((n_mo, len(self.meters)))

    def _day0(self, origin: dt.datetime) -> dt.date:
        """Local date of the daily rollups' first row: the date of the grid's origin instant."""
        return origin.astimezone(self.tz).date()

    def _roll_up_days(self, g: zarr.Group, hours: np.ndarray, origin: dt.datetime) -> None:
        """Re-derive the daily rollups of every local day that a touched hour belongs to."""
        if not len(hours):
            return
        d0 = self._day0(origin)
        starts = pd.DatetimeIndex([origin + dt.timedelta(hours=int(h)) for h in np.unique(hours)])
        dates = sorted(set(starts.tz_convert(self.tz).date))
        n_hours = g["energy_1h"].shape[0]

        def hour_of(date: dt.date) -> int:
            t = dt.datetime.combine(date, dt.time(), self.tz).astimezone(dt.timezone.utc)
            return int((t - origin) // dt.timedelta(hours=1))

        h_lo = max(0, hour_of(dates[0]))
        h_hi = min(n_hours, hour_of(dates[-1] + dt.timedelta(days=1)))
        e = g["energy_1h"][h_lo:h_hi]
        mm = g["measured_1h"][h_lo:h_hi].astype(np.uint16)
        idx, tot, mea = [], [], []
        for date in dates:
            a = max(0, hour_of(date)) - h_lo
            b = min(n_hours, hour_of(date + dt.timedelta(days=1))) - h_lo
            block = e[a:b]
            fin = np.isfinite(block)
            idx.append((date - d0).days)
            tot.append(np.where(fin.any(axis=0), np.nansum(block, axis=0), np.nan))
            mea.append(mm[a:b].sum(axis=0))
        idx_a = np.asarray(idx)
        g["energy_1d"].set_orthogonal_selection((idx_a, slice(None)), np.asarray(tot))
        g["measured_1d"].set_orthogonal_selection((idx_a, slice(None)), np.asarray(mea, dtype=np.uint16))
        if "energy_1mo" in g:
            self._roll_up_months(g, dates, d0)

    def _roll_up_months(self, g: zarr.Group, dates: list[dt.date], d0: dt.date) -> None:
        """Re-derive the monthly rollups of every local month holding one of ``dates``, from the
        daily rows (already re-derived): a month's total is NaN only where all its days are."""
        months = sorted({_months(d) for d in dates})
        n_days = g["energy_1d"].shape[0]
        m0 = _months(d0)

        def day_row(month: int) -> int:
            return min(n_days, max(0, (dt.date(1970 + month // 12, month % 12 + 1, 1) - d0).days))

        a0, b0 = day_row(months[0]), day_row(months[-1] + 1)
        e = g["energy_1d"][a0:b0]
        mm = g["measured_1d"][a0:b0].astype(np.uint32)
        tot, mea = [], []
        for month in months:
            a, b = day_row(month) - a0, day_row(month + 1) - a0
            block = e[a:b]
            fin = np.isfinite(block)
            tot.append(np.where(fin.any(axis=0), np.nansum(block, axis=0), np.nan))
            mea.append(mm[a:b].sum(axis=0, dtype=np.uint32))
        idx = np.asarray(months, np.int64) - m0
        g["energy_1mo"].set_orthogonal_selection((idx, slice(None)), np.asarray(tot))
        g["measured_1mo"].set_orthogonal_selection((idx, slice(None)), np.asarray(mea, dtype=np.uint32))

    def _roll_up(self, g: zarr.Group, slots: np.ndarray, origin: dt.datetime) -> None:
        """Re-derive the hourly rollups of every hour a fold touched, from the minutes.

        The energy at slot ``s`` is the minute [s-1, s); hour ``h`` sums slots ``60h+1 .. 60h+60``.
        The hourly max rate is re-derived too (:meth:`_roll_up_power`).
        """
        if not len(slots):
            return
        self._roll_up_power(g, slots)
        hours = np.unique((slots - 1) // 60)
        hours = hours[hours >= 0]
        if not len(hours):
            return
        h0, h1 = int(hours[0]), int(hours[-1]) + 1
        e = self._hour_minutes(g, "energy", h0, h1, 1, np.nan, np.float64)
        q = self._hour_minutes(g, "quality", h0, h1, 1, 0, np.uint16)
        finite = np.isfinite(e)
        total = np.where(finite.any(axis=1), np.nansum(e, axis=1), np.nan)
        measured = (finite & ((q & int(Q.ESTIMATED)) == 0)).sum(axis=1).astype(np.uint8)
        keep = np.isin(np.arange(h0, h1), hours)
        _write_hours(g["energy_1h"], h0, h1, keep, total)
        _write_hours(g["measured_1h"], h0, h1, keep, measured)
        self._roll_up_days(g, hours, origin)

    def _hour_minutes(self, g: zarr.Group, var: str, h0: int, h1: int, first: int, fill, dtype) -> np.ndarray:
        """The minutes of hours ``[h0, h1)`` of ``var`` as (hours, 60, meters), hour ``h`` holding slots
        ``60h + first .. 60h + first + 59``; slots past the array's end hold ``fill``."""
        m = len(self.meters)
        lo, hi = h0 * 60 + first, min(h1 * 60 + first, g[var].shape[0])
        out = np.full(((h1 - h0) * 60, m), fill, dtype)
        if hi > lo:
            out[:hi - lo] = g[var][lo:hi]
        return out.reshape(h1 - h0, 60, m)

    def _roll_up_power(self, g: zarr.Group, slots: np.ndarray) -> None:
        """Re-derive the hourly max rate of every hour holding a touched slot, from the minutes.

        The rate at slot ``s`` is read at the instant ``s`` (no shift, unlike energy): hour ``h``
        holds slots ``60h .. 60h+59``. A slot the fold touched for its energy (the minute before it)
        may sit one hour earlier than its rate, so both hours are re-derived. An hour without any
        rate is NaN.
        """
        if "power_max_1h" not in g:
            return
        hours = np.unique(np.concatenate([slots // 60, (slots - 1) // 60]))
        hours = hours[hours >= 0]
        if not len(hours):
            return
        h0, h1 = int(hours[0]), int(hours[-1]) + 1
        r = self._hour_minutes(g, "rate", h0, h1, 0, np.nan, np.float64)
        peak = np.fmax.reduce(r, axis=1)  # NaN only where the whole hour is NaN
        _write_hours(g["power_max_1h"], h0, h1, np.isin(np.arange(h0, h1), hours), peak)

    # -- versions --------------------------------------------------------------------------------
    def versions(self) -> list[dict]:
        """Commits on ``main``, newest first: id, time (UTC), message, metadata."""
        return [{"id": sn.id, "time": sn.written_at, "message": sn.message, "metadata": dict(sn.metadata)}
                for sn in self.repo.ancestry(branch="main")]

    def tag(self, name: str, snapshot: str | None = None) -> str:
        """Name a version (default: the newest) so that it is never expired by :meth:`compact`.

        Reports tag the version they were computed from; ``as_of`` accepts the tag.
        """
        if not name or not all(c.isalnum() or c in "-_." for c in name):
            raise StoreError(f"tag {name!r}: use letters, digits, '-', '_' and '.'")
        snap = snapshot or self.repo.lookup_branch("main")
        try:
            self.repo.create_tag(name, snap)
        except Exception as exc:  # noqa: BLE001 - icechunk's own error types
            raise StoreError(f"{self.path}: cannot tag {snap} as {name!r}: {exc}") from exc
        return snap

    def tags(self) -> dict[str, str]:
        """Tag name -> snapshot id."""
        return {t: self.repo.lookup_tag(t) for t in sorted(self.repo.list_tags())}

    def compact(self, keep_days: float, *, dry_run: bool = False) -> dict:
        """Expire versions older than ``keep_days`` [d] (tagged ones and the newest are kept) and delete
        the data only they referenced. Only the store's writer may run it (the collector, or
        ``tanjian compact`` while no collector runs).

        Returns counts: ``expired`` versions, ``deleted_chunks``, ``deleted_manifests``,
        ``deleted_snapshots`` and ``deleted_bytes`` (small chunks live inside manifests).
        """
        cutoff = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=keep_days)
        with self._fold_lock:
            expired = set() if dry_run else self.repo.expire_snapshots(cutoff)
            gc = self.repo.garbage_collect(cutoff, dry_run=dry_run)
        self._ds_cache = None
        out = {"expired": len(expired), "deleted_chunks": int(gc.chunks_deleted),
               "deleted_manifests": int(gc.manifests_deleted), "deleted_snapshots": int(gc.snapshots_deleted),
               "deleted_bytes": int(gc.bytes_deleted)}
        log.info("compacted %s: %s (cutoff %s)", self.path, out, cutoff.isoformat())
        return out

    def _snapshot_for(self, as_of: str | dt.datetime | None) -> str:
        if isinstance(as_of, _Resolved):  # resolved once by the public call
            return str(as_of)
        if as_of is None:
            return self.repo.lookup_branch("main")
        if isinstance(as_of, str):
            if as_of in self.repo.list_tags():
                return self.repo.lookup_tag(as_of)
            return as_of
        when = as_of if as_of.tzinfo else as_of.replace(tzinfo=self.tz)
        for v in self.versions():
            if v["time"] <= when:
                return v["id"]
        raise StoreError(f"{self.path}: no version of the store as of {when.isoformat()}")

    # -- reading ---------------------------------------------------------------------------------
    def dataset(self, as_of: str | dt.datetime | None = None) -> xr.Dataset:
        """The raw grid (UTC slots) at a version; lazily loaded."""
        snap = self._snapshot_for(as_of)
        if self._ds_cache and self._ds_cache[0] == snap:
            return self._ds_cache[1]
        try:
            s = self.repo.readonly_session(snapshot_id=snap)
            ds = xr.open_zarr(s.store, consolidated=False, chunks=None)
        except Exception as exc:  # noqa: BLE001 - icechunk's own error types
            raise StoreError(f"{self.path}: no version {snap!r} (unknown, or expired by compaction: tag the "
                             f"versions reports use): {exc}") from exc
        ds.attrs["snapshot"] = snap
        self._ds_cache = (snap, ds)
        return ds

    def latest_time(self, as_of=None) -> dt.datetime | None:
        """Local time of the newest slot holding any reading, or None for an empty store."""
        snap = self._snapshot_for(as_of)
        hit = self._latest_cache
        if hit is not None and hit[0] == snap:
            return hit[1]
        out = self._latest_time(snap)
        self._latest_cache = (snap, out)
        return out

    def _latest_time(self, snap: str) -> dt.datetime | None:
        meta = self._meta(snap)
        if meta["origin"] is None or meta["slots"] == 0:
            return None
        # scan back chunk by chunk from the end
        end = meta["slots"]
        while end > 0:
            lo = max(0, end - CHUNK_T)
            block = np.isfinite(self._minutes(snap, "counter", lo, end)).any(axis=1)
            if block.any():
                k = lo + int(np.nonzero(block)[0][-1])
                return (_EPOCH + dt.timedelta(minutes=meta["origin"] + k)).astimezone(self.tz)
            end = lo
        return None

    def _rollups(self, snap: str) -> dict:
        """The rollups of snapshot ``snap``: their coordinates ``hour``, ``day`` (and ``month``) as
        arrays [h, d or months since 1970] and each rollup array as a :class:`_Rows`, whose
        slices read only the chunks they cover, once (snapshots never change, so this is safe).

        Moving to a newer snapshot keeps the chunks that the folds in between did not change (each
        fold's commit records the slots it changed in ``changed_slots``). Cached chunks are
        replaced, never modified in place, so a caller's reference stays valid.
        """
        with self._cache_lock:
            c = self._rollup_cache
            if c is not None and c["snap"] == snap:
                return c["view"]
        meta = self._meta(snap)
        g = meta["group"]
        names = [k for k in (*ROLLUPS, *DAILY, *POWER_MAX, *MONTHLY) if k in meta["arrays"]]
        with self._cache_lock:
            c = self._rollup_cache
            chunks: dict = {}
            if c is not None:
                spans = self._changed_since(c["snap"], snap)
                if spans is not None:
                    chunks = self._carry_chunks(c, spans, meta)
            view: dict = {}
            origin = meta["origin"]
            if origin is not None:
                d0 = self._day0(_EPOCH + dt.timedelta(minutes=origin))
                firsts = {"hour": origin // 60, "day": (d0 - dt.date(1970, 1, 1)).days, "month": _months(d0)}
            else:
                firsts = {"hour": 0, "day": 0, "month": 0}
            for axis in ("hour", "day", "month"):
                if axis in meta["arrays"]:  # the coordinates are consecutive, as _extend writes them
                    view[axis] = firsts[axis] + np.arange(meta["arrays"][axis][0][0], dtype=np.int64)
            for k in names:
                view[k] = _Rows(self, snap, k, meta["arrays"][k])
            self._rollup_cache = {"snap": snap, "chunks": chunks, "view": view, "group": g}
            return view

    def _carry_chunks(self, c: dict, spans: list[tuple[int, int]], meta: dict) -> dict:
        """The cached rollup chunks of the previous snapshot ``c`` that the slot ``spans`` changed
        since then cannot have touched (a rollup row near a changed minute is dropped with its
        chunk, and so is a chunk cut short by the array's old end)."""
        origin = meta["origin"]
        if origin is None:
            return {}
        o = _EPOCH + dt.timedelta(minutes=origin)
        d0 = self._day0(o)
        h_rows = [(max(0, (a - 1) // 60 - 1), (b - 1) // 60 + 2) for a, b in spans if b > a]
        d_rows, m_rows = [], []
        for a, b in h_rows:
            da = (o + dt.timedelta(hours=a)).astimezone(self.tz).date()
            db = (o + dt.timedelta(hours=b)).astimezone(self.tz).date()
            d_rows.append((max(0, (da - d0).days - 1), (db - d0).days + 2))
            m_rows.append((max(0, _months(da) - _months(d0) - 1), _months(db) - _months(d0) + 2))
        out = {}
        for (name, k), arr in c["chunks"].items():
            info = meta["arrays"].get(name)
            if info is None:
                continue
            size = info[1][0]
            if len(arr) < size:
                continue  # the old tail chunk: the array may have grown
            rows = h_rows if name in (*ROLLUPS, *POWER_MAX) else m_rows if name in MONTHLY else d_rows
            if not any(a < (k + 1) * size and k * size < b for a, b in rows):
                out[(name, k)] = arr
        return out

    def _rollup_read(self, snap: str, name: str, a: int, b: int, cols=None) -> np.ndarray:
        """Rows ``[a, b)`` of rollup array ``name`` of snapshot ``snap`` (all meters, or the meter
        indices ``cols``), through the per-snapshot chunk cache (see :meth:`_rollups`); runs of
        missing chunks are read in one call."""
        meta = self._meta(snap)
        self._rollups(snap)
        with self._cache_lock:
            c = self._rollup_cache
            if c is None or c["snap"] != snap:  # another thread moved the cache on: read directly
                out = self._widen(meta["group"][name][a:b], name)
                return out if cols is None else out[:, cols]
            info = meta["arrays"][name]
            n, size = info[0][0], info[1][0]
            a, b = max(0, a), min(b, n)
            if b <= a:
                out = self._widen(np.zeros((0, *info[0][1:]), info[2]), name)
                return out if cols is None else out[:, cols]
            ks = range(a // size, (b - 1) // size + 1)
            missing = [k for k in ks if (name, k) not in c["chunks"]]
            arr = c["group"][name] if missing else None  # opening an array reads its metadata: only when needed
            i = 0
            while i < len(missing):
                j = i
                while j + 1 < len(missing) and missing[j + 1] == missing[j] + 1:
                    j += 1
                lo, hi = missing[i] * size, min((missing[j] + 1) * size, n)
                block = self._widen(arr[lo:hi], name)
                for k in range(missing[i], missing[j] + 1):
                    c["chunks"][(name, k)] = block[k * size - lo:(k + 1) * size - lo]
                i = j + 1
            parts = [c["chunks"][(name, k)][max(a, k * size) - k * size:min(b, (k + 1) * size) - k * size]
                     for k in ks]
            if cols is not None:
                parts = [part[:, cols] for part in parts]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _changed_since(self, old: str, new: str) -> list[tuple[int, int]] | None:
        """Slot ranges changed by the commits after ``old`` up to ``new``; None when unknown."""
        spans = []
        for i, sn in enumerate(self.repo.ancestry(snapshot_id=new)):
            if sn.id == old:
                return spans
            meta = dict(sn.metadata)
            if i >= 1000:
                return None
            if meta.get("kind") == "document":
                continue
            ch = meta.get("changed_slots")
            if ch is None:
                return None
            spans.append((int(ch[0]), int(ch[1])))
        return None

    def _first_time(self, as_of) -> pd.Timestamp | None:
        st = self._meta(self._snapshot_for(as_of))["fold"]
        if st.get("first_slot") is None or st.get("origin") is None:
            return None
        return pd.Timestamp(st["origin"]).tz_convert("UTC") + pd.Timedelta(minutes=int(st["first_slot"]) - 1)

    def _groups(self, by: str, medium: Medium, meters: list[str] | None) -> dict[str, list[str]]:
        if meters is None:  # the site model does not change while the store is open: remember the grouping
            key = (by, medium)
            hit = self._group_cache.get(key)
            if hit is None:
                hit = self._group_cache[key] = self._groups_of(by, medium, None)
            return {g: list(ms) for g, ms in hit.items()}
        return self._groups_of(by, medium, meters)

    def _groups_of(self, by: str, medium: Medium, meters: list[str] | None) -> dict[str, list[str]]:
        if meters is not None:
            for m in meters:
                if m not in self._midx:
                    raise UnknownMeter(self._unknown(m))
            return {m: [m] for m in meters}
        held = self._midx.__contains__  # a meter the site model has but the store not yet: left out
        if by == "plant":
            return {self.site.plant.id: [m for m in self.site.top_meters(medium) if held(m)]}
        if by == "workshop":
            out = {w.id: [m for m in self.site.top_meters(medium, w.id) if held(m)] for w in self.site.workshops}
            return {k: v for k, v in out.items() if v}
        if by == "meter":
            return {m: [m] for m in self.site.meter_ids(medium) if held(m)}
        raise ValueError(f"by must be 'plant', 'workshop' or 'meter', not {by!r}")

    def _unknown(self, meter: str) -> str:
        if meter in self._pending_meters:
            return (f"meter {meter!r} is in the site model but not in the store yet: the collector adds it when it "
                    f"next starts (or `tanjian fold`)")
        return f"unknown meter {meter!r}"

    def _widen(self, block: np.ndarray, name: str) -> np.ndarray:
        """A block read from a version made before meters were added, widened to the meter axis of
        this Store with the array's fill value (those meters had no reading then); or one of a newer
        version with more meters, cut to this Store's."""
        m = len(self.meters)
        if block.ndim < 2 or block.shape[-1] == m:
            return block
        if block.shape[-1] > m:  # a newer version has meters added after this Store was opened: they come last
            return block[..., :m]
        spec = {**VARIABLES, **TARIFFS, **ROLLUPS, **DAILY, **POWER_MAX, **MONTHLY}.get(name)
        out = np.full((*block.shape[:-1], m), spec[2] if spec else 0, dtype=block.dtype)
        out[..., :block.shape[-1]] = block
        return out

    def _minutes(self, snap: str, var: str, s0: int, s1: int) -> np.ndarray:
        """Slots ``[s0, s1)`` of a minute variable, all meters, through an in-memory cache of whole
        chunks (one hour × all meters) per snapshot; chunks that later folds did not change (their
        ``changed_slots``) carry over to the newer snapshot."""
        m = len(self.meters)
        if s1 <= s0:
            return np.zeros((0, m), (VARIABLES.get(var) or TARIFFS[var])[1])
        with self._cache_lock:
            c = self._chunk_cache
            if c is None or c["snap"] != snap:
                spans = self._changed_since(c["snap"], snap) if c is not None else None
                chunks = OrderedDict()
                if spans is not None:
                    for key, arr in c["chunks"].items():
                        a, b = key[1] * CHUNK_T, (key[1] + 1) * CHUNK_T
                        if not any(lo < b and a < hi for lo, hi in spans):
                            chunks[key] = arr
                g = zarr.open_group(store=self.repo.readonly_session(snapshot_id=snap).store, mode="r")
                c = self._chunk_cache = {"snap": snap, "chunks": chunks, "group": g}
            parts = []
            for k in range(s0 // CHUNK_T, (s1 - 1) // CHUNK_T + 1):
                key = (var, k)
                arr = c["chunks"].get(key)
                if arr is None:
                    arr = self._widen(c["group"][var][k * CHUNK_T:(k + 1) * CHUNK_T], var)
                    c["chunks"][key] = arr
                    while len(c["chunks"]) > MINUTE_CHUNKS_CACHED:
                        c["chunks"].popitem(last=False)
                else:
                    c["chunks"].move_to_end(key)
                a = max(s0, k * CHUNK_T) - k * CHUNK_T
                b = min(s1, (k + 1) * CHUNK_T) - k * CHUNK_T
                parts.append(arr[a:b])
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _frame(self, var: str, start, end, cols: list[str], as_of, shift: dt.timedelta) -> pd.DataFrame:
        meta = self._meta(self._snapshot_for(as_of))
        lo, hi = _utc(start, self.tz), _utc(end, self.tz)
        # read no further back than the first slot holding data (the grid starts at the year's origin)
        first = self._first_time(as_of)
        lo_read = max(lo, first) if first is not None else lo
        # energy at slot s belongs to the minute before it: select slots in (lo, hi]
        t0 = (lo_read + shift).tz_localize(None)
        t1 = (hi + shift).tz_localize(None) - pd.Timedelta("1ns")
        st = meta["fold"]
        n = meta["slots"]
        if st.get("origin") is None or n == 0:
            values, times = np.zeros((0, len(cols))), pd.DatetimeIndex([])
        else:
            o = pd.Timestamp(st["origin"]).tz_convert("UTC").tz_localize(None)
            minute = pd.Timedelta(minutes=1)
            s0 = min(max(0, -((o - t0) // minute)), n)  # first slot at or after t0
            s1 = min(max(s0, (t1 - o) // minute + 1), n)  # past the last slot at or before t1
            values = self._minutes(meta["snap"], var, s0, s1)[:, [self._midx[c] for c in cols]]
            times = pd.DatetimeIndex(o + minute * np.arange(s0, s1))
        df = pd.DataFrame(values, index=times, columns=cols)
        df.index = (df.index - shift).tz_localize("UTC").tz_convert(self.tz)
        full = pd.date_range(lo.tz_convert(self.tz), hi.tz_convert(self.tz), freq="1min", inclusive="left")
        return df.reindex(full)

    def energy(self, start, end, *, by: str = "plant", medium: str | Medium = "electricity",
               freq: str | None = "1h", meters: list[str] | None = None, as_of=None) -> xr.DataArray:
        """Energy (or volume) consumed per group and interval.

        Parameters
        ----------
        start, end : datetime or str
            Period [start, end); naive values are the site's local time.
        by : {"plant", "workshop", "meter"}
            Grouping; plant and workshop totals sum the top meters of the metering tree.
        medium : {"electricity", "natural_gas", "water", "compressed_air"}
        freq : str or None
            pandas frequency of the result's intervals ("1min", "15min", "1h", "1D", "MS"), in local
            time; None for one total per group.
        meters : list of str, optional
            Explicit meters instead of ``by``.
        as_of : snapshot id or datetime, optional
            Version of the store to read.

        Returns
        -------
        xarray.DataArray
            dims ``(time, group)`` (or ``(group,)`` when ``freq`` is None) [kWh or m3]; ``time``
            labels each interval's local start. ``attrs``: units, timezone, medium, snapshot, and
            ``coverage``: the share of minutes with a measured (not estimated) value [-].

        Notes
        -----
        Whole local months are read from the monthly rollups (``freq`` "MS" or None; stores made
        before them sum the days), whole local days from the daily rollups, whole hours from the
        hourly rollups (all maintained at every fold), partial hours at the period's edges and
        sub-hourly frequencies from the minutes; all give the same sums. Intervals follow pandas'
        ``resample(freq)`` in local time (labels at each interval's local start; bins of a fixed
        length start at the local midnight of the period's first day). A month's or day's value is
        NaN only when no minute under it holds energy for any meter of the group.
        """
        medium = Medium(medium)
        as_of = _Resolved(self._snapshot_for(as_of))
        groups = self._groups(by, medium, meters)
        cols = sorted({m for ms in groups.values() for m in ms})
        lo, hi = _utc(start, self.tz), _utc(end, self.tz)
        self._meta(as_of)  # a version that does not exist (or was expired) fails here, clearly
        unit = MEDIUM_UNITS[medium][0]
        attrs = {"units": unit, "timezone": self.site.plant.timezone, "medium": medium.value,
                 "snapshot": str(as_of), "coverage": 0.0, "long_name": f"{medium.value} consumed"}
        fast = self._energy_numpy(lo, hi, groups, cols, as_of, freq)
        if fast is None:
            return self._energy_pandas(lo, hi, groups, cols, as_of, freq, attrs)
        values, labels, measured = fast
        minutes = max((hi - lo) / pd.Timedelta(minutes=1), 0) * len(cols)
        attrs["coverage"] = float(measured / minutes) if minutes else 0.0
        return self._result(values, labels, list(groups), attrs)

    def _result(self, values: np.ndarray, labels: np.ndarray | None, groups: list[str], attrs: dict) -> xr.DataArray:
        """The answer as a DataArray, built from a kept one with the same coordinates when there is
        one (a dashboard asks the same shape at every refresh; building the indexes is most of the
        cost): its coordinates (immutable indexes) are shared, data and attrs are the new ones."""
        key = (tuple(groups), None if labels is None else (len(labels), labels[0], labels[-1]) if len(labels) else 0)
        with self._cache_lock:
            tmpl = self._result_cache.get(key)
        if tmpl is not None and (labels is None or np.array_equal(tmpl["time"].values, labels)) \
                and tmpl.shape == values.shape:
            out = tmpl.copy(deep=False, data=values)
            out.attrs = attrs
            return out
        if labels is None:
            out = xr.DataArray(values, dims=["group"], coords={"group": groups}, attrs=attrs)
        else:
            out = xr.DataArray(values, dims=["time", "group"], coords={"time": labels, "group": groups}, attrs=attrs)
        with self._cache_lock:
            if len(self._result_cache) >= 32:
                self._result_cache.clear()
            # kept without the answer's values (a zero-stride array: no memory, no reference to them)
            self._result_cache[key] = out.copy(deep=False, data=np.broadcast_to(np.float64(0.0), out.shape))
        return out

    def _energy_pandas(self, lo: pd.Timestamp, hi: pd.Timestamp, groups: dict[str, list[str]], cols: list[str],
                       as_of, freq: str | None, attrs: dict) -> xr.DataArray:
        """:meth:`energy` through pandas frames: the general path (zones with daylight saving time,
        frequencies other than whole minutes and months, periods not on whole minutes)."""
        df, measured = self._energy_frames(lo, hi, cols, as_of, freq)
        out = pd.DataFrame(_group_sums(df, groups), index=df.index)
        minutes = max((hi - lo) / pd.Timedelta(minutes=1), 0) * len(cols)
        attrs["coverage"] = float(measured / minutes) if minutes else 0.0
        if freq is None:
            return xr.DataArray(out.sum(min_count=1).to_numpy(), dims=["group"],
                                coords={"group": list(out.columns)}, attrs=attrs)
        if _is_hourly_grid(out.index, freq):
            res = out  # already one row per whole hour: resampling would copy the same values
        else:
            res = out.resample(freq).sum(min_count=1)
        return xr.DataArray(res.to_numpy(), dims=["time", "group"],
                            coords={"time": res.index.tz_localize(None).to_numpy(), "group": list(out.columns)},
                            attrs=attrs)

    def _fixed_offset(self, lo: pd.Timestamp, hi: pd.Timestamp) -> int | None:
        """The site zone's offset from UTC [min] when it is the same all through the UTC years of
        [lo, hi] (checked at every UTC midnight of those years, once per year per process); None
        for a zone that changes its offset then (daylight saving time)."""
        out = None
        for year in range(lo.year, hi.year + 1):
            off = self._offset_cache.get(year, "?")
            if off == "?":
                t = dt.datetime(year, 1, 1, tzinfo=dt.timezone.utc)
                offs = {(t + dt.timedelta(days=k)).astimezone(self.tz).utcoffset() for k in range(367)}
                off = None
                if len(offs) == 1:
                    o = offs.pop()
                    off = int(o // dt.timedelta(minutes=1)) if o % dt.timedelta(minutes=1) == dt.timedelta(0) else None
                self._offset_cache[year] = off
            if off is None or (out is not None and off != out):
                return None
            out = off
        return out

    def _energy_numpy(self, lo: pd.Timestamp, hi: pd.Timestamp, groups: dict[str, list[str]], cols: list[str],
                      snap: str, freq: str | None) -> tuple[np.ndarray, np.ndarray | None, int] | None:
        """:meth:`energy`'s sums with integer minute arithmetic and numpy, no pandas frames.

        The period is cut exactly as :meth:`_energy_frames` cuts it (whole local months from the
        monthly rollups when ``freq`` is "MS" or None, whole local days from the daily ones, whole
        UTC hours from the hourly ones, minutes at the edges); each row's group sums are taken as
        :func:`_group_sums` takes them, then the rows of each interval are added. Returns the
        values ``(intervals, groups)`` (or ``(groups,)`` when ``freq`` is None), the interval
        labels (local, datetime64[ns]; None when ``freq`` is None) and the measured minutes; None
        when this path does not apply (a zone with daylight saving time in the period, a period not
        on whole minutes or empty, a frequency other than whole minutes, "MS" or None).
        """
        if freq is None:
            tick = None
        else:
            try:
                off = pd.tseries.frequencies.to_offset(freq)
            except ValueError:
                return None
            if isinstance(off, pd.offsets.Tick):
                td = pd.Timedelta(off)
                if td <= pd.Timedelta(0) or td % pd.Timedelta(minutes=1):
                    return None
                tick = int(td // pd.Timedelta(minutes=1))
            elif type(off) is pd.offsets.Day and off.n > 0:  # calendar days (not a Tick since pandas 3)
                tick = off.n * 1440
            elif type(off) is pd.offsets.MonthBegin and off.n == 1:
                tick = "MS"
            else:
                return None
        nmin = 60_000_000_000
        if lo.value % nmin or hi.value % nmin or not lo < hi:
            return None
        zone = self._fixed_offset(lo, hi)
        if zone is None:
            return None
        u0, u1 = lo.value // nmin, hi.value // nmin  # UTC minutes since 1970
        l0, l1 = u0 + zone, u1 + zone  # local minutes
        monthly = tick is None or tick == "MS"
        daily = tick is None or tick == "MS" or tick % 1440 == 0
        hourly = tick is None or tick == "MS" or tick % 60 == 0
        segs = []  # (kind, first, end): minutes [UTC min], hours [UTC h], days [local d], months [local mo]

        def hours_or_minutes(a: int, b: int) -> None:  # UTC minutes [a, b)
            ha, hb = -(-a // 60), b // 60
            if hourly and ha < hb and zone % 60 == 0:
                if a < ha * 60:
                    segs.append(("m", a, ha * 60))
                segs.append(("h", ha, hb))
                if hb * 60 < b:
                    segs.append(("m", hb * 60, b))
            else:
                segs.append(("m", a, b))

        def days_or_less(a: int, b: int) -> None:  # local minutes [a, b)
            da, db = -(-a // 1440), b // 1440
            if daily and da < db:
                if a < da * 1440:
                    hours_or_minutes(a - zone, da * 1440 - zone)
                segs.append(("d", da, db))
                if db * 1440 < b:
                    hours_or_minutes(db * 1440 - zone, b - zone)
            else:
                hours_or_minutes(a - zone, b - zone)

        mo = None
        if monthly:
            m_lo, m_hi = _month_of(l0, ceil=True), _month_of(l1, ceil=False)
            mo = self._monthly(snap) if m_lo < m_hi else None
        if mo is not None:
            a, b = _month_start(m_lo), _month_start(m_hi)
            if l0 < a:
                days_or_less(l0, a)
            segs.append(("M", m_lo, m_hi))
            if b < l1:
                days_or_less(b, l1)
        else:
            days_or_less(l0, l1)

        ci = np.asarray([self._midx[c] for c in cols], np.intp)
        parts, starts, measured = [], [], 0
        for kind, a, b in segs:
            if kind == "m":
                v, q = self._minute_rows(snap, a, b, ci)
                measured += int((np.isfinite(v) & ((q & int(Q.ESTIMATED)) == 0)).sum())
                starts.append(np.arange(a, b, dtype=np.int64) + zone)
            else:
                name = {"h": "1h", "d": "1d", "M": "1mo"}[kind]
                v, mm = self._rollup_rows(snap, name, a, b, ci)
                measured += int(mm.astype(np.int64).sum())
                if kind == "h":
                    starts.append(np.arange(a, b, dtype=np.int64) * 60 + zone)
                elif kind == "d":
                    starts.append(np.arange(a, b, dtype=np.int64) * 1440)
                else:
                    starts.append(_month_start(np.arange(a, b, dtype=np.int64)))
            parts.append(v)
        rows = parts[0] if len(parts) == 1 else np.concatenate(parts)
        t = starts[0] if len(starts) == 1 else np.concatenate(starts)
        pos = {c: i for i, c in enumerate(cols)}
        fin = np.isfinite(rows)
        z = np.where(fin, rows, 0.0)
        sums = np.empty((len(rows), len(groups)))
        for j, ms in enumerate(groups.values()):  # as _group_sums: the same additions in the same order
            idx = [pos[m] for m in ms]
            total = z[:, idx].sum(axis=1)
            total[~fin[:, idx].any(axis=1)] = np.nan
            sums[:, j] = total
        if tick is None:
            sfin = np.isfinite(sums)
            total = np.where(sfin, sums, 0.0).sum(axis=0)
            total[~sfin.any(axis=0)] = np.nan
            return total, None, measured
        if tick == "MS":
            label = _month_start(_month_of(t, ceil=False))
        else:
            origin = (l0 // 1440) * 1440  # pandas' origin="start_day": midnight of the first day
            label = origin + (t - origin) // tick * tick
        first = np.ones(len(label), bool)
        first[1:] = label[1:] != label[:-1]
        if first.all():
            values = sums  # one row per interval: the rows are the answer
        else:
            at = np.nonzero(first)[0]
            sfin = np.isfinite(sums)
            values = np.add.reduceat(np.where(sfin, sums, 0.0), at, axis=0)
            values[~np.logical_or.reduceat(sfin, at, axis=0)] = np.nan
        labels = label[first]
        if tick != "MS" and len(labels) > 1 and (np.diff(labels) != tick).any():
            return None  # an interval without any row (cannot happen: rows cover the period)
        return values, (labels * nmin).astype("datetime64[ns]"), measured

    def _minute_rows(self, snap: str, a: int, b: int, ci: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Energy and quality of the UTC minutes ``[a, b)`` [min since 1970] of meters ``ci`` (energy
        of minute u sits at the slot of u + 1); NaN and 0 outside the grid."""
        meta = self._meta(snap)
        v = np.full((b - a, len(ci)), np.nan)
        q = np.zeros((b - a, len(ci)), np.uint16)
        if meta["origin"] is None:
            return v, q
        s0, s1 = a - meta["origin"] + 1, b - meta["origin"] + 1
        r0, r1 = max(s0, 0), min(s1, meta["slots"])
        if r0 < r1:
            v[r0 - s0:r1 - s0] = self._minutes(snap, "energy", r0, r1)[:, ci]
            q[r0 - s0:r1 - s0] = self._minutes(snap, "quality", r0, r1)[:, ci]
        return v, q

    def _rollup_rows(self, snap: str, name: str, a: int, b: int, ci: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows ``[a, b)`` of the ``energy_<name>`` and ``measured_<name>`` rollups ("1h": UTC hours,
        "1d": local days, "1mo": local months since 1970) of meters ``ci``; NaN and 0 outside the
        rows the store holds."""
        if name == "1mo":
            R = self._monthly(snap)
            coord = R["month"]
        else:
            R = self._rollups(snap)
            coord = R["hour" if name == "1h" else "day"]
        v = np.full((b - a, len(ci)), np.nan)
        mm = np.zeros((b - a, len(ci)), np.int64)
        if len(coord):
            c0 = int(coord[0])
            # no row before the one holding the first minute with data (all NaN): not read
            r0, r1 = max(a - c0, self._first_rows(snap)[name] - c0, 0), min(b - c0, len(coord))
            if r0 < r1:
                v[r0 + c0 - a:r1 + c0 - a] = R[f"energy_{name}"][r0:r1, ci]
                mm[r0 + c0 - a:r1 + c0 - a] = R[f"measured_{name}"][r0:r1, ci]
        return v, mm

    def _first_rows(self, snap: str) -> dict[str, int]:
        """The hour [h since 1970, UTC], local day [d since 1970] and local month [months since
        1970-01] of the first minute that may hold energy (the minute before the first slot read)."""
        meta = self._meta(snap)
        hit = meta.get("first_rows")
        if hit is None:
            first = meta["fold"].get("first_slot")
            if meta["origin"] is None or first is None:
                hit = {"1h": 0, "1d": 0, "1mo": 0}
            else:
                u = meta["origin"] + int(first) - 1
                day = (_EPOCH + dt.timedelta(minutes=u)).astimezone(self.tz).date()
                hit = {"1h": u // 60, "1d": (day - dt.date(1970, 1, 1)).days, "1mo": _months(day)}
            meta["first_rows"] = hit
        return hit

    def _monthly(self, snap: str) -> dict | None:
        """Monthly rollups (local months × meters) of a snapshot; None when the store has none."""
        R = self._rollups(snap)
        return R if "energy_1mo" in R else None

    def _meta(self, snap: str) -> dict:
        """What a query needs to know about a snapshot, read once per snapshot (zarr metadata only,
        no data): ``origin`` (the grid's first slot) [UTC min since 1970] or None for an empty
        store, ``slots`` (the minute axis' length), the fold state ``fold``, the open zarr
        ``group`` and ``arrays``: name -> (shape, chunk shape, dtype)."""
        with self._cache_lock:
            hit = self._meta_cache
            if hit is not None and hit["snap"] == snap:
                return hit
        try:
            g = zarr.open_group(store=self.repo.readonly_session(snapshot_id=snap).store, mode="r")
            arrays = {k: (a.shape, a.chunks, a.dtype) for k, a in g.arrays()}
            fold = dict(g.attrs.get("fold", {}))
        except Exception as exc:  # noqa: BLE001 - icechunk's own error types
            raise StoreError(f"{self.path}: no version {snap!r} (unknown, or expired by compaction: tag the "
                             f"versions reports use): {exc}") from exc
        origin = fold.get("origin")
        o = None if origin is None else int(_ms_of(dt.datetime.fromisoformat(origin)) // SLOT_MS)
        meta = {"snap": snap, "origin": o, "slots": int(arrays["time"][0][0]), "fold": fold, "group": g,
                "arrays": arrays}
        with self._cache_lock:
            self._meta_cache = meta
        return meta

    def _energy_frames(self, lo: pd.Timestamp, hi: pd.Timestamp, cols: list[str], as_of,
                       freq: str | None) -> tuple[pd.DataFrame, int]:
        """Energy rows for [lo, hi): daily rows for whole local days, hourly rows for whole hours,
        minute rows at the edges; and the number of measured minutes behind them."""
        llo, lhi = lo.tz_convert(self.tz), hi.tz_convert(self.tz)
        d_lo, d_hi = llo.ceil("D") if llo != llo.normalize() else llo, lhi.normalize()
        if not (_daily_ok(freq) and d_lo < d_hi):
            return self._energy_frames_hourly(lo, hi, cols, as_of, freq)
        parts, measured = [], 0
        if llo < d_lo:
            e, m = self._energy_frames_hourly(lo, d_lo.tz_convert("UTC"), cols, as_of, freq)
            parts.append(e)
            measured += m
        R = self._rollups(self._snapshot_for(as_of))
        ci = [self._midx[c] for c in cols]
        epoch = pd.Timestamp("1970-01-01")
        i0, i1 = np.searchsorted(R["day"], [(d_lo.tz_localize(None) - epoch).days, (d_hi.tz_localize(None) - epoch).days])
        idx = pd.DatetimeIndex(R["day"][i0:i1].astype("datetime64[D]").astype("datetime64[ns]")).tz_localize(self.tz)
        full = pd.date_range(d_lo, d_hi, freq="D", inclusive="left")
        parts.append(pd.DataFrame(R["energy_1d"][i0:i1, ci], index=idx, columns=cols).reindex(full))
        measured += int(R["measured_1d"][i0:i1, ci].astype(np.int64).sum())
        if d_hi < lhi:
            e, m = self._energy_frames_hourly(d_hi.tz_convert("UTC"), hi, cols, as_of, freq)
            parts.append(e)
            measured += m
        return pd.concat(parts), measured

    def _energy_frames_hourly(self, lo: pd.Timestamp, hi: pd.Timestamp, cols: list[str], as_of,
                       freq: str | None) -> tuple[pd.DataFrame, int]:
        """Energy rows for [lo, hi) (hourly rows for whole hours, minute rows at the edges) and the
        number of measured minutes behind them."""
        def minutes(a, b):
            e = self._frame("energy", a, b, cols, as_of, SLOT)
            q = self._frame("quality", a, b, cols, as_of, SLOT)
            m = int((e.notna() & ((q.fillna(0).astype(np.int64) & int(Q.ESTIMATED)) == 0)).to_numpy().sum())
            return e, m

        h_lo, h_hi = lo.ceil("h"), hi.floor("h")
        if not (h_lo < h_hi and _hourly_ok(freq) and lo.tz_convert(self.tz).utcoffset().total_seconds() % 3600 == 0):
            return minutes(lo, hi)
        parts, measured = [], 0
        if lo < h_lo:
            e, m = minutes(lo, h_lo)
            parts.append(e)
            measured += m
        R = self._rollups(self._snapshot_for(as_of))
        frame, (i0, i1), ci = self._hourly_rows(R, "energy_1h", h_lo, h_hi, cols, as_of)
        parts.append(frame)
        measured += int(R["measured_1h"][i0:i1, ci].astype(np.int64).sum())
        if h_hi < hi:
            e, m = minutes(h_hi, hi)
            parts.append(e)
            measured += m
        return pd.concat(parts), measured

    def _hourly_rows(self, R: dict, name: str, h_lo: pd.Timestamp, h_hi: pd.Timestamp, cols: list[str],
                     as_of) -> tuple[pd.DataFrame, tuple[int, int], list[int]]:
        """Hourly rollup ``name`` for the whole UTC hours [h_lo, h_hi) and meters ``cols`` as a frame on
        every local hour of the period (NaN before the first data), with the rollup rows and columns read."""
        first = self._first_time(as_of)
        read_lo = max(h_lo, first.floor("h")) if first is not None else h_lo
        hour = pd.Timedelta(hours=1)
        epoch = pd.Timestamp("1970-01-01", tz="UTC")
        i0, i1 = np.searchsorted(R["hour"], [-((epoch - read_lo) // hour), -((epoch - h_hi) // hour)])
        idx = pd.DatetimeIndex(R["hour"][i0:i1].astype("datetime64[h]").astype("datetime64[ns]")
                               ).tz_localize("UTC").tz_convert(self.tz)
        full = pd.date_range(h_lo, h_hi, freq="1h", inclusive="left").tz_convert(self.tz)
        ci = [self._midx[c] for c in cols]
        return pd.DataFrame(R[name][i0:i1, ci], index=idx, columns=cols).reindex(full), (int(i0), int(i1)), ci

    def power(self, start, end, *, by: str = "plant", medium: str | Medium = "electricity",
              freq: str = "1min", how: str = "mean", meters: list[str] | None = None, as_of=None) -> xr.DataArray:
        """Rate per group and interval [kW or m3/h] (a load curve); same conventions as :meth:`energy`.

        ``how`` aggregates the one-minute readings in each interval: "mean" (default), "max" (peak
        demand) or "min". A group's rate at a minute is the sum of its meters', only when all of
        them were read.
        """
        if how not in ("mean", "max", "min"):
            raise ValueError(f"how must be 'mean', 'max' or 'min', not {how!r}")
        medium = Medium(medium)
        as_of = _Resolved(self._snapshot_for(as_of))
        groups = self._groups(by, medium, meters)
        cols = sorted({m for ms in groups.values() for m in ms})
        out = None
        attrs = {"units": MEDIUM_UNITS[medium][1], "timezone": self.site.plant.timezone,
                 "medium": medium.value, "long_name": f"{how} {medium.value} rate"}
        if how == "max" and all(len(ms) == 1 for ms in groups.values()):
            self._meta(as_of)  # a version that does not exist (or was expired) fails here, clearly
            fast = self._power_max_numpy(_utc(start, self.tz), _utc(end, self.tz), groups, as_of, freq)
            if fast is not None:
                return self._result(fast[0], fast[1], list(groups), attrs)
            out = self._power_max_hourly(start, end, groups, cols, as_of, freq)
        if out is None:
            df = self._frame("rate", start, end, cols, as_of, dt.timedelta(0))
            out = pd.DataFrame({g: df[ms].sum(axis=1, min_count=len(ms)) for g, ms in groups.items()},
                               index=df.index).resample(freq).agg(how)
        return xr.DataArray(out.to_numpy(), dims=["time", "group"],
                            coords={"time": out.index.tz_localize(None).to_numpy(), "group": list(out.columns)},
                            attrs={"units": MEDIUM_UNITS[medium][1], "timezone": self.site.plant.timezone,
                                   "medium": medium.value, "long_name": f"{how} {medium.value} rate"})

    def _power_max_numpy(self, lo: pd.Timestamp, hi: pd.Timestamp, groups: dict[str, list[str]], snap: str,
                         freq: str) -> tuple[np.ndarray, np.ndarray] | None:
        """:meth:`_power_max_hourly` with integer minute arithmetic and numpy: hourly peaks of
        single-meter groups, values ``(hours, groups)`` [kW or m3/h] and local hour labels
        (datetime64[ns]); None where that path would not apply or the period is not on whole
        minutes, or the zone changes its offset in it."""
        try:
            if pd.tseries.frequencies.to_offset(freq) != pd.offsets.Hour(1):
                return None
        except ValueError:
            return None
        nmin = 60_000_000_000
        if lo.value % nmin or hi.value % nmin or not lo < hi:
            return None
        zone = self._fixed_offset(lo, hi)
        if zone is None or zone % 60:
            return None
        u0, u1 = lo.value // nmin, hi.value // nmin
        ha, hb = -(-u0 // 60), u1 // 60
        R = self._rollups(snap)
        if not ha < hb or "power_max_1h" not in R:
            return None
        ci = np.asarray([self._midx[ms[0]] for ms in groups.values()], np.intp)
        parts, labels = [], []
        if u0 < ha * 60:  # the partial hour before the first whole one, from its minutes
            parts.append(np.fmax.reduce(self._rate_rows(snap, u0, ha * 60, ci), axis=0)[None])
            labels.append(np.array([(ha - 1) * 60 + zone]))
        v = np.full((hb - ha, len(ci)), np.nan)
        coord = R["hour"]
        if len(coord):
            c0 = int(coord[0])
            r0, r1 = max(ha - c0, self._first_rows(snap)["1h"] - c0, 0), min(hb - c0, len(coord))
            if r0 < r1:
                v[r0 + c0 - ha:r1 + c0 - ha] = R["power_max_1h"][r0:r1, ci]
        parts.append(v)
        labels.append(np.arange(ha, hb, dtype=np.int64) * 60 + zone)
        if hb * 60 < u1:  # the partial hour after the last whole one
            parts.append(np.fmax.reduce(self._rate_rows(snap, hb * 60, u1, ci), axis=0)[None])
            labels.append(np.array([hb * 60 + zone]))
        values = parts[0] if len(parts) == 1 else np.concatenate(parts)
        return values, (np.concatenate(labels) * nmin).astype("datetime64[ns]")

    def _rate_rows(self, snap: str, a: int, b: int, ci: np.ndarray) -> np.ndarray:
        """Rates read at the UTC minutes ``[a, b)`` [min since 1970] (slot of u) of meters ``ci``;
        NaN outside the grid."""
        meta = self._meta(snap)
        v = np.full((b - a, len(ci)), np.nan)
        if meta["origin"] is None:
            return v
        s0, s1 = a - meta["origin"], b - meta["origin"]
        r0, r1 = max(s0, 0), min(s1, meta["slots"])
        if r0 < r1:
            v[r0 - s0:r1 - s0] = self._minutes(snap, "rate", r0, r1)[:, ci]
        return v

    def _power_max_hourly(self, start, end, groups: dict[str, list[str]], cols: list[str], as_of,
                          freq: str) -> pd.DataFrame | None:
        """Hourly peaks of single-meter groups from the ``power_max_1h`` rollup for the whole hours of
        [start, end) and from the minutes for the partial hours at its edges; None when the rollup
        cannot answer (another frequency, a zone not a whole number of hours from UTC, no whole
        hour in the period, or a store created before the rollup existed). Same values as
        resampling the minutes: a maximum picks one of them."""
        try:
            if pd.tseries.frequencies.to_offset(freq) != pd.offsets.Hour(1):
                return None
        except ValueError:
            return None
        lo, hi = _utc(start, self.tz), _utc(end, self.tz)
        h_lo, h_hi = lo.ceil("h"), hi.floor("h")
        if not h_lo < h_hi or any(t.tz_convert(self.tz).utcoffset().total_seconds() % 3600 for t in (lo, hi)):
            return None
        R = self._rollups(self._snapshot_for(as_of))
        if "power_max_1h" not in R:
            return None
        parts = []
        if lo < h_lo:
            parts.append(self._frame("rate", lo, h_lo, cols, as_of, dt.timedelta(0)).resample(freq).max())
        parts.append(self._hourly_rows(R, "power_max_1h", h_lo, h_hi, cols, as_of)[0])
        if h_hi < hi:
            parts.append(self._frame("rate", h_hi, hi, cols, as_of, dt.timedelta(0)).resample(freq).max())
        df = pd.concat(parts) if len(parts) > 1 else parts[0]
        return pd.DataFrame({g: df[ms[0]] for g, ms in groups.items()}, index=df.index)

    def quality_report(self, start, end, *, meters: list[str] | None = None, medium: str | Medium | None = None,
                       as_of=None) -> pd.DataFrame:
        """Data quality per meter over [start, end): completeness and the count of each flag.

        Parameters
        ----------
        start, end : datetime or str
            Period; naive values are the site's local time.
        meters : list of str, optional
            Meters to report (default: all, or all of ``medium``).
        medium : str, optional

        Returns
        -------
        pandas.DataFrame
            Index ``meter``; columns ``minutes`` (slots in the period), ``readings`` (slots with a
            reading), ``completeness_pct`` [%], ``estimated_pct`` [%] (slots whose energy is
            estimated), then one count column per flag of :class:`~workspace.quality.Q`.
            ``attrs``: period, timezone, snapshot.
        """
        as_of = _Resolved(self._snapshot_for(as_of))
        if meters is None:
            meters = [m for m in self.site.meter_ids(medium) if m in self._midx]
        for m in meters:
            if m not in self._midx:
                raise UnknownMeter(self._unknown(m))
        counter = self._frame("counter", start, end, meters, as_of, dt.timedelta(0))
        quality = self._frame("quality", start, end, meters, as_of, dt.timedelta(0)).fillna(0).astype(np.int64)
        n = len(counter)
        rows = {"minutes": np.full(len(meters), n), "readings": counter.notna().sum().to_numpy()}
        rows["completeness_pct"] = 100.0 * rows["readings"] / max(n, 1)
        rows["estimated_pct"] = 100.0 * ((quality & int(Q.ESTIMATED)) != 0).sum().to_numpy() / max(n, 1)
        for flag in Q:
            rows[flag.name.lower()] = ((quality & int(flag)) != 0).sum().to_numpy()
        out = pd.DataFrame(rows, index=pd.Index(meters, name="meter"))
        out.attrs = {"period": (str(start), str(end)), "timezone": self.site.plant.timezone,
                     "snapshot": self.dataset(as_of).attrs["snapshot"]}
        return out


    def tariff_energy(self, start, end, *, meters: list[str] | None = None, as_of=None) -> pd.DataFrame:
        """Energy per meter per tariff over a period, from the meters' own time-of-use registers.

        Parameters
        ----------
        start, end : datetime or str
            The period ``[start, end)``, local time of the site (or timezone-aware).
        meters : list of str, optional
            Meter ids (default: every electricity meter of the site).
        as_of : str or datetime, optional
            Snapshot id or instant of the version to read (default: the newest).

        Returns
        -------
        pandas.DataFrame
            Index ``meter``, columns ``tariff_1`` … ``tariff_4`` (尖 sharp, 峰 peak, 平 flat, 谷 valley):
            the last minus the first stored register reading of the tariff within the period [kWh];
            NaN where the meter has no stored reading of that tariff in it (a meter without
            tariff registers, or not read), 0 when it has exactly one. A register that rolled over at
            10^6 kWh within the period is not unwrapped. ``attrs`` holds the period, the timezone and
            the snapshot read.

        Raises
        ------
        UnknownMeter
            For a meter id not in the site model.
        """
        as_of = _Resolved(self._snapshot_for(as_of))
        if meters is None:
            meters = [m for m in self.site.meter_ids("electricity") if m in self._midx]
        for m in meters:
            if m not in self._midx:
                raise UnknownMeter(self._unknown(m))
        ds = self.dataset(as_of)
        out = pd.DataFrame(np.nan, index=pd.Index(meters, name="meter"), columns=list(TARIFFS))
        for name in TARIFFS:
            if name not in ds.variables or not meters:
                continue  # a store that never received tariff registers
            values = self._frame(name, start, end, meters, as_of, dt.timedelta(0)).to_numpy()
            for j in range(len(meters)):
                col = values[:, j]
                got = col[np.isfinite(col)]
                if len(got):
                    out.iloc[j, out.columns.get_loc(name)] = got[-1] - got[0]
        out.attrs = {"period": (str(start), str(end)), "timezone": self.site.plant.timezone,
                     "units": "kWh", "snapshot": ds.attrs["snapshot"]}
        return out
