"""What the store holds, as data: its variables, their dtypes and fill values, the rollups and the
chunking of each axis, and the integer time arithmetic of its grids.

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
  first fold of a batch carrying them in stores made before them.

Rollups (:mod:`workspace.store.rollups` maintains them):

- ``energy_1h`` [kWh | m3], ``measured_1h`` [min] (hour, meter): UTC hours (coordinate ``hour``,
  hours since 1970-01-01T00Z), chunks of one UTC day × all meters; ``power_max_1h`` [kW | m3/h]
  the hour's highest one-minute rate, chunks of one day × 50 meters;
- ``energy_1d`` [kWh | m3], ``measured_1d`` [min] (day, meter): local calendar days (coordinate
  ``day``, days since 1970-01-01), the sum of the day's UTC hours, chunks of 16 days × all meters;
- ``energy_1mo`` [kWh | m3], ``measured_1mo`` [min] (month, meter): local calendar months
  (coordinate ``month``: months since January 1970, 0 = 1970-01), the sum of the month's days,
  chunks of 12 months × all meters. Stores created before them lack these three arrays; monthly
  totals are then summed from the daily rows at query time.

Distribution-room points (:mod:`workspace.store.points`), in the group ``points`` of the same repository
(:data:`POINTS_GROUP`; absent until the first room reading is folded):

- ``value`` (slot, point) — each point as read ([°C], [%RH], 0/1 contacts: the units of
  ``workspace/data/point_maps.yaml``), NaN where not read; slot ``k`` is the minute
  ``origin_minute + k`` (minutes since 1970-01-01T00Z, group attribute ``origin_minute``), point ``j``
  the group attribute ``columns[j]`` ("<room id>/<point>"). Chunks of one UTC day × 64 points.

A rollup's energy is NaN only where every minute under it is; ``measured_*`` counts the minutes
with a measured (not estimated) energy, from which queries report ``coverage``.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from ..quality import Q


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
POINTS_GROUP = "points"  # the distribution-room points' group (see the module docstring)
POINTS_VALUE = ({"long_name": "distribution-room point as read (units: workspace/data/point_maps.yaml)"},
                "float64", np.nan)
POINTS_CHUNK = (24 * 60, 64)  # one UTC day of minutes × 64 points
READ_COLUMNS = ("counter", "rate", "voltage", "current", "power_factor")
AXES = {  # axis: (rows per chunk of its coordinate, the coordinate's attributes; "{zone}": the site's timezone)
    "time": (CHUNK_T * 24, {"units": "minutes since 1970-01-01 00:00:00", "calendar": "proleptic_gregorian",
                            "standard_name": "time", "long_name": "slot start (UTC)"}),
    "hour": (24 * 366, {"units": "hours since 1970-01-01 00:00:00", "calendar": "proleptic_gregorian",
                        "long_name": "hour start (UTC) of the hourly rollups"}),
    "day": (366, {"units": "days since 1970-01-01 00:00:00", "calendar": "proleptic_gregorian",
                  "long_name": "local calendar day ({zone})"}),
    # no CF time units: "months since" is not a fixed length of time
    "month": (CHUNK_MO * 100, {"long_name": "local calendar month ({zone}), counted in months since January 1970 "
                                            "(0 = 1970-01)"}),
}
GRIDS = (  # the (axis, meter) arrays: (table, axis, rows per chunk, meters per chunk; None: all meters)
    (VARIABLES, "time", CHUNK_T, None),
    (TARIFFS, "time", CHUNK_T, None),
    (ROLLUPS, "hour", CHUNK_H, None),
    (POWER_MAX, "hour", CHUNK_H, POWER_MAX_METERS),
    (DAILY, "day", CHUNK_D, None),
    (MONTHLY, "month", CHUNK_MO, None),
)
FILL = {name: fill for table, *_ in GRIDS for name, (_attrs, _dtype, fill) in table.items()}  # name: fill value



def _ms_of(t: dt.datetime) -> int:
    """Milliseconds since 1970-01-01T00:00:00Z of an aware datetime."""
    return (t - _EPOCH) // dt.timedelta(milliseconds=1)


def _utc(t: dt.datetime | str | pd.Timestamp, tz: ZoneInfo) -> pd.Timestamp:
    ts = pd.Timestamp(t)
    if ts.tzinfo is None:
        ts = ts.tz_localize(tz)
    return ts.tz_convert("UTC")


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
