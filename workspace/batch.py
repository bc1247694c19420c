"""Readings and their canonical batch encoding (the ledger's leaf input).

Canonical batch bytes
---------------------
A batch is the set of readings acknowledged together (one poll cycle of a collector, one imported
file, one backfill block). Its canonical bytes are the RFC 8785 (JSON Canonicalization Scheme)
serialisation of this object::

    {"schema": "tanjian.batch/1", "plant": <plant id>, "seq": <journal sequence number, from 0>,
     "source": <where the readings came from>,
     "columns": ["meter", "time", "counter", "rate", "voltage", "current", "power_factor", "quality"],
     "rows": [[<meter id>, <UTC time "YYYY-MM-DDTHH:MM:SS.mmmZ">, <number|null>, ...], ...]}

Rows are sorted by (meter, time). Absent values are ``null`` (JSON has no NaN). ``counter`` is the
meter's cumulative register in the meter's unit (kWh, m3), ``rate`` its instantaneous rate (kW,
m3/h), ``voltage`` [V] and ``current`` [A] are phase averages, ``power_factor`` is total [-], and
``quality`` is the collector's bitmask (see :mod:`workspace.quality`). The ledger leaf is
``SHA-256(0x00 || canonical bytes)`` (RFC 9162 section 2.1.1), so anyone holding the bytes can
recompute it with ``sha256sum``.

A batch that is not a plain acquisition carries a ``"note"`` object (omitted otherwise):
``{"kind": "correction", "author": ..., "reason": ...}`` for readings entered to replace stored
ones, or ``{"kind": "meter_replaced", "author": ..., "reason": ..., "meter": ..., "time": ...,
"old_final": ..., "new_initial": ...}`` for a meter swap (its ``rows`` are empty), or ``{"kind":
"manual_reading", "author": <the reader>, "reason": ..., "meter": ..., "photo_sha256": ...,
"submitted_at": ...}`` for one reading taken by hand (its row flagged MANUAL; see :mod:`workspace.manual`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from functools import lru_cache

import rfc8785

SCHEMA = "tanjian.batch/1"
COLUMNS = ("meter", "time", "counter", "rate", "voltage", "current", "power_factor", "quality")


@dataclass(frozen=True, slots=True)
class Reading:
    """One acquisition of one meter.

    Parameters
    ----------
    meter : str
        Meter id from the site model.
    time : datetime.datetime
        Acquisition time, timezone-aware (stored as UTC).
    counter : float
        Cumulative register [kWh for electricity, m3 for water, gas and compressed air].
    rate : float
        Instantaneous rate [kW or m3/h]; NaN when the meter has none.
    voltage, current, power_factor : float
        Phase-average voltage [V], current [A] and total power factor [-]; NaN when absent.
    quality : int
        Quality bitmask set by the collector (:class:`workspace.quality.Q`).
    """

    meter: str
    time: dt.datetime
    counter: float
    rate: float = math.nan
    voltage: float = math.nan
    current: float = math.nan
    power_factor: float = math.nan
    quality: int = 0


def format_time(t: dt.datetime) -> str:
    """UTC ISO 8601 with milliseconds and a ``Z``."""
    if t.tzinfo is None:
        raise ValueError(f"naive datetime {t!r}: readings need a timezone")
    u = t.astimezone(dt.timezone.utc)
    return u.strftime("%Y-%m-%dT%H:%M:%S.") + f"{u.microsecond // 1000:03d}Z"


@lru_cache(maxsize=4096)
def parse_time(s: str) -> dt.datetime:
    """Inverse of :func:`format_time` (cached: a batch repeats the same few instants)."""
    if len(s) != 24 or s[-1] != "Z" or s[10] != "T":
        raise ValueError(f"time {s!r} is not YYYY-MM-DDTHH:MM:SS.mmmZ")
    return dt.datetime.fromisoformat(s)


def _num(x: float) -> float | None:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return None
    return float(x)


def encode_batch(plant: str, seq: int, source: str, readings: list[Reading], note: dict | None = None) -> bytes:
    """Canonical bytes of a batch (see the module docstring)."""
    rows = sorted(
        (
            [
                r.meter,
                format_time(r.time),
                _num(r.counter),
                _num(r.rate),
                _num(r.voltage),
                _num(r.current),
                _num(r.power_factor),
                int(r.quality),
            ]
            for r in readings
        ),
        key=lambda row: (row[0], row[1]),
    )
    obj = {"schema": SCHEMA, "plant": plant, "seq": int(seq), "source": source,
           "columns": list(COLUMNS), "rows": rows}
    if note is not None:
        obj["note"] = note
    return rfc8785.dumps(obj)


@dataclass(frozen=True)
class Batch:
    plant: str
    seq: int
    source: str
    readings: list[Reading]
    note: dict | None = None


def decode_batch(data: bytes) -> Batch:
    """Parse canonical batch bytes; raises ValueError naming what is wrong."""
    obj = json.loads(data)
    if obj.get("schema") != SCHEMA:
        raise ValueError(f"not a {SCHEMA} batch (schema={obj.get('schema')!r})")
    if tuple(obj["columns"]) != COLUMNS:
        raise ValueError(f"unexpected columns {obj['columns']!r}")
    nan = math.nan
    readings = [
        Reading(m, parse_time(t), nan if c is None else c, nan if r is None else r,
                nan if v is None else v, nan if i is None else i, nan if pf is None else pf, int(q))
        for m, t, c, r, v, i, pf, q in obj["rows"]
    ]
    return Batch(obj["plant"], int(obj["seq"]), obj["source"], readings, obj.get("note"))
