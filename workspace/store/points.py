"""Distribution-room points in the store: fold a journaled room reading (a ``points`` batch,
:func:`workspace.batch.encode_points`) into the ``points`` group, and read them back.

The points are not meter readings: no counter, no energy, no rollup. They get their own small grid in the
same Icechunk repository (layout: :data:`workspace.store.layout.POINTS_GROUP`), written by the same fold,
so they are as durable and as versioned as the meters' minutes (a fold's commit holds both the values and
the journal position), and read with :func:`points` like every other query (local time in and out).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import zarr

from ..batch import parse_time
from ..errors import StoreError
from ..points import ROOM_POINTS
from .layout import POINTS_CHUNK, POINTS_GROUP, POINTS_VALUE, SLOT_MS, _ms_of, _utc

if TYPE_CHECKING:
    from . import Store

log = logging.getLogger(__name__)


def _column(room: str, point: str) -> str:
    return f"{room}/{point}"


def fold_points(store: "Store", g, note: dict, seq: int) -> tuple[int, str]:
    """Write one ``points`` note into the open writable group ``g`` (the caller commits): returns the
    values written and a line for the commit message. A room not in the site model or a point not in
    :data:`workspace.points.ROOM_POINTS` is refused (:class:`StoreError`, the batch named), as the meter
    fold refuses an unknown meter."""
    rooms = note.get("rooms") or {}
    known = {r.id for r in store.site.rooms}
    for rid, vals in rooms.items():
        if rid not in known:
            raise StoreError(f"batch {seq}: unknown distribution room {rid!r} (not in the site model)")
        bad = sorted(set(vals) - set(ROOM_POINTS))
        if bad:
            raise StoreError(f"batch {seq}: room {rid}: unknown point(s) {', '.join(bad)} "
                             f"(a room has {', '.join(ROOM_POINTS)})")
    minute = _ms_of(parse_time(note["time"])) // SLOT_MS
    if POINTS_GROUP not in g:
        pg = g.create_group(POINTS_GROUP)
        # slot 0: the start of the UTC day before the first reading (a reading a little late still fits)
        pg.attrs.update(origin_minute=int((minute // 1440 - 1) * 1440), columns=[])
        attrs, dtype, fill = POINTS_VALUE
        arr = pg.create_array("value", shape=(0, 0), chunks=POINTS_CHUNK, dtype=dtype, fill_value=fill,
                              dimension_names=("slot", "point"))
        arr.attrs.update(attrs)
    pg = g[POINTS_GROUP]
    arr = pg["value"]
    origin = int(pg.attrs["origin_minute"])
    slot = minute - origin
    if slot < 0:  # older than the group's first day: said in the log and in the commit, never silently
        msg = f"room points at {note['time']} before the points grid's start: not stored"
        log.warning("batch %d: %s", seq, msg)
        return 0, msg
    columns = list(pg.attrs["columns"])
    new = [_column(r, p) for r in sorted(rooms) for p in ROOM_POINTS
           if p in rooms[r] and _column(r, p) not in columns]
    rows = max(arr.shape[0], (slot // POINTS_CHUNK[0] + 1) * POINTS_CHUNK[0])  # grow by whole days
    if new or rows > arr.shape[0]:
        arr.resize((rows, len(columns) + len(new)))
    if new:
        columns += new
        pg.attrs["columns"] = columns
    idx = {c: j for j, c in enumerate(columns)}
    row = np.asarray(arr[slot, :], dtype=float) if arr.shape[1] else np.empty(0)
    n = 0
    for rid, vals in rooms.items():
        for p, v in vals.items():
            row[idx[_column(rid, p)]] = np.nan if v is None else float(v)
            n += 1
    arr[slot, :] = row
    return n, f"room points at {note['time']} ({len(rooms)} rooms, {n} values)"


def points(store: "Store", start, end, *, room: str | None = None, as_of=None) -> pd.DataFrame:
    """The distribution-room points each minute in [start, end) (local times; naive = the site's zone).

    Returns
    -------
    pandas.DataFrame
        Index local time (tz-naive, one row per minute), columns a MultiIndex (room, point) over the site
        model's rooms (only ``room`` when given) and :data:`workspace.points.ROOM_POINTS`; NaN where the
        point was not read. ``attrs``: timezone.
    """
    from .repository import _snapshot_for

    rooms = [r.id for r in store.site.rooms]
    if room is not None:
        if room not in rooms:
            raise ValueError(f"unknown distribution room {room!r} (the site has {', '.join(rooms) or 'none'})")
        rooms = [room]
    tz = store.tz
    lo, hi = _utc(start, tz), _utc(end, tz)
    m0 = int(lo.value // 60_000_000_000) + (lo.value % 60_000_000_000 != 0)
    m1 = int(-(-hi.value // 60_000_000_000))
    minutes = np.arange(m0, max(m0, m1), dtype=np.int64)
    cols = pd.MultiIndex.from_product([rooms, list(ROOM_POINTS)], names=["room", "point"])
    out = np.full((len(minutes), len(cols)), np.nan)
    s = store.repo.readonly_session(snapshot_id=_snapshot_for(store, as_of))
    g = zarr.open_group(store=s.store, mode="r")
    if POINTS_GROUP in g and len(minutes):
        pg = g[POINTS_GROUP]
        arr = pg["value"]
        origin = int(pg.attrs["origin_minute"])
        have = {c: j for j, c in enumerate(pg.attrs["columns"])}
        r0, r1 = max(m0 - origin, 0), min(m1 - origin, arr.shape[0])
        if r1 > r0 and arr.shape[1]:
            block = np.asarray(arr[r0:r1, :], dtype=float)
            at = np.arange(r0, r1) + origin - m0
            for k, (r, p) in enumerate(cols):
                j = have.get(_column(r, p))
                if j is not None:
                    out[at, k] = block[:, j]
    index = pd.DatetimeIndex(minutes.astype("datetime64[m]")).tz_localize("UTC").tz_convert(tz).tz_localize(None)
    df = pd.DataFrame(out, index=index, columns=cols)
    df.attrs = {"timezone": store.site.plant.timezone}
    return df
