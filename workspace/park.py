"""Park level: many plants' stores aggregated with dask.distributed over xarray.

Each plant keeps its own store; a park operator or a regulator opens them read-only (a snapshot
each) and lets dask compute the aggregate from the hourly rollups, so a year of many plants is a
few thousand small chunks per plant, not a scan of their minutes.

The same code runs on a real cluster: connect a client to its scheduler before calling
(``dask.distributed.Client("tcp://scheduler:8786")``), and open stores that the workers can
reach: stores on object storage (``paths.store_url: s3://bucket/prefix``, :mod:`workspace.storage`)
are read by every worker straight from the bucket (credentials from the workers' AWS_* environment);
read-only sessions are picklable and travel to the workers with the task graph.
``tests/workspace/test_store.py`` runs this over stores on an S3 server (moto's) with a LocalCluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import xarray as xr

from .site import Medium, Site
from .store import Store
from .store.layout import _utc
from .units import MEDIUM_UNITS


@dataclass(frozen=True)
class PlantStore:
    """One plant of a park: its id, its site model and where its store lives."""

    plant: str
    site: Site
    path: Path | str  # a folder, or an s3:// location (workspace.storage)

    @classmethod
    def from_config(cls, cfg) -> "PlantStore":
        return cls(cfg.site.plant.id, cfg.site, cfg.paths.store)


def _plant_series(p: PlantStore, start: pd.Timestamp, end: pd.Timestamp, medium: Medium, freq: str,
                  as_of: str | None) -> xr.DataArray:
    store = Store.open(p.path, p.site)
    snap = store.snapshot(as_of)
    session = store.repo.readonly_session(snapshot_id=snap)
    ds = xr.open_zarr(session.store, consolidated=False, chunks={})  # dask-backed: nothing read yet
    held = set(ds.meter.values.tolist())
    top = [m for m in p.site.top_meters(medium) if m in held]  # a meter the collector has not added yet: none
    e = ds["energy_1h"].sel(meter=top).sum("meter", min_count=1)
    e = e.sel(hour=slice(start.tz_localize(None).to_datetime64(),
                         (end - pd.Timedelta("1ns")).tz_localize(None).to_datetime64()))
    local = pd.DatetimeIndex(e.hour.values).tz_localize("UTC").tz_convert(p.site.plant.timezone)
    e = e.assign_coords(hour=local.tz_localize(None).to_numpy()).rename(hour="time")
    out = e.resample(time=freq).sum(min_count=1)
    return out.expand_dims(plant=[p.plant]).assign_attrs(snapshot=snap)


def park_energy(plants: list[PlantStore], start, end, *, medium: str | Medium = "electricity",
                freq: str = "1D", as_of: dict[str, str] | None = None, compute: bool = True) -> xr.DataArray:
    """Energy of each plant of a park per interval, computed by dask (on the active client, if any).

    Parameters
    ----------
    plants : list of PlantStore
    start, end : datetime or str
        Period [start, end) in local time of the plants (naive) or zoned; whole hours.
    medium : str
    freq : str
        Interval of the result, e.g. "1D" or "MS" (local time of each plant).
    as_of : dict, optional
        Snapshot id per plant id, to aggregate named versions.
    compute : bool
        Return a computed array (default) or the lazy dask-backed one.

    Returns
    -------
    xarray.DataArray
        dims ``(plant, time)`` [kWh or m3]; ``attrs["snapshots"]`` names the version of each plant read.
    """
    medium = Medium(medium)
    if not plants:
        raise ValueError("a park needs at least one plant")
    parts = []
    for p in plants:
        tz = p.site.plant.timezone
        lo, hi = _utc(start, ZoneInfo(tz)), _utc(end, ZoneInfo(tz))
        if lo != lo.floor("h") or hi != hi.floor("h"):
            raise ValueError(f"park aggregation reads hourly rollups: {start}..{end} must be whole hours")
        parts.append(_plant_series(p, lo, hi, medium, freq, (as_of or {}).get(p.plant)))
    out = xr.concat(parts, dim="plant", join="outer", combine_attrs="drop")
    out.attrs = {"units": MEDIUM_UNITS[medium][0], "medium": medium.value,
                 "snapshots": {p.plant: part.attrs["snapshot"] for p, part in zip(plants, parts)},
                 "long_name": f"{medium.value} consumed per plant"}
    out.name = "energy"
    return out.compute() if compute else out


__all__ = ["PlantStore", "park_energy"]
