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
"submitted_at": ...}`` for one reading taken by hand (its row flagged MANUAL; see :mod:`workspace.business.manual`),
or ``{"kind": "points", "time": <UTC time>, "rooms": {<room id>: {<point>: <number|null>, ...}, ...}}``
for one minute's distribution-room points (:func:`encode_points`; its ``rows`` are empty, the points
being no meter's reading; stored by :mod:`workspace.store.points`).

A reading may carry the device's own clock (``Reading.device_time``, e.g. a DL/T 645 meter's
clock); a batch with any such reading has a ninth column ``"device_time"`` (the same time format,
``null`` where absent). Batches without one are exactly as above.

A reading may carry the meter's own time-of-use energy registers (``Reading.tariffs``: tariffs 1..4,
尖峰平谷 sharp, peak, flat, valley, forward active energy [kWh], e.g. a DL/T 645 meter's); a batch with
any such reading has four more columns ``"tariff_1"`` … ``"tariff_4"`` after the others (numbers,
``null`` where absent; a reading without them has four ``null``). Batches without one are exactly as
above.

Columnar binary batch ``tanjian.batch/2``
-----------------------------------------
A poll cycle of a thousand meters encoded as JSON costs ≈ 12 µs a reading in pure Python; the
columnar variant costs well under 1 µs and is what the collector journals for poll cycles
(corrections, meter swaps and documents stay ``tanjian.batch/1``). Its bytes, in order::

    offset    size    content
    0         16      ASCII "tanjian.batch/2" followed by one newline (0x0A)
    16        4       H: byte length of the header, unsigned 32-bit little-endian
    20        H       header: UTF-8 RFC 8785 (JCS) JSON object, see below
    20+H      P       P zero bytes, 0 <= P < 8, so that the columns start at a multiple of 8
    20+H+P    ...     the columns, one after another in the order of the header's "columns",
                      each ``rows`` values of its type, little-endian, nothing in between;
                      the batch ends right after the last column

The header object::

    {"schema": "tanjian.batch/2", "plant": <plant id>, "seq": <journal sequence number>,
     "source": <where the readings came from>, "rows": <number of readings>,
     "time0": <"YYYY-MM-DDTHH:MM:SS.mmmZ" of the earliest reading, null when rows is 0>,
     "meters": [<meter id>, ...],                      # the distinct meters of the batch, sorted
     "columns": [["time", "<i8"], ["counter", "<f8"], ["rate", "<f8"], ["voltage", "<f8"],
                 ["current", "<f8"], ["power_factor", "<f8"], ["meter", "<u2"], ["quality", "<u2"]],
     "note": {...}}                                    # only when the batch has a note

``time`` is the reading's UTC time in integer milliseconds since 1970-01-01T00:00:00Z;
``counter`` … ``power_factor`` are IEEE 754 float64 in the units of ``tanjian.batch/1``, an
absent value being the quiet NaN ``00 00 00 00 00 00 f8 7f`` (every non-finite value is written
so, and -0.0 as 0.0); ``meter`` is the index of the reading's meter in ``meters``; ``quality``
is the collector's bitmask. When any reading carries a device clock, the column
``["device_time", "<i8"]`` follows ``power_factor`` (milliseconds since the epoch, -2**63 where
absent). When any reading carries tariff registers, the four columns ``["tariff_1", "<f8"]`` …
``["tariff_4", "<f8"]`` follow (after ``device_time`` when present, before ``meter``; [kWh], NaN
where absent, a reading without them having four NaN). Rows are sorted by (meter id, time), ties kept in the order given. The same readings
therefore always give the same bytes, and the ledger leaf is ``SHA-256(0x00 || bytes)`` exactly
as for ``tanjian.batch/1``: ``(printf '\\x00'; cat FILE) | sha256sum``. ``head -c 20 FILE | tail
-c 4 | od -An -tu4`` prints H and ``tail -c +21 FILE | head -c H`` the readable header.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
import struct
from functools import lru_cache
from json.encoder import encode_basestring as _encode_basestring
from operator import attrgetter

import numpy as np
import rfc8785

SCHEMA = "tanjian.batch/1"
COLUMNS = ("meter", "time", "counter", "rate", "voltage", "current", "power_factor", "quality")
COLUMNS_CLOCK = COLUMNS + ("device_time",)
SCHEMA2 = "tanjian.batch/2"
MAGIC2 = b"tanjian.batch/2\n"
FLOAT_COLUMNS = ("counter", "rate", "voltage", "current", "power_factor")
COLUMNS2 = (("time", "<i8"),) + tuple((c, "<f8") for c in FLOAT_COLUMNS) + (("meter", "<u2"), ("quality", "<u2"))
COLUMNS2_CLOCK = COLUMNS2[:6] + (("device_time", "<i8"),) + COLUMNS2[6:]
TARIFF_COLUMNS = ("tariff_1", "tariff_2", "tariff_3", "tariff_4")  # 尖 sharp, 峰 peak, 平 flat, 谷 valley
NO_TIME = np.iinfo(np.int64).min  # an absent device time in ``tanjian.batch/2``
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


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
    device_time : datetime.datetime or None
        The device's own clock at the reading, when the device has one (compared with ``time``,
        the collector's clock, to flag :attr:`workspace.quality.Q.CLOCK_DRIFT`).
    tariffs : tuple of 4 float or None
        The meter's time-of-use forward active energy registers, tariffs 1..4 (尖 sharp, 峰 peak,
        平 flat, 谷 valley) [kWh]; NaN for a tariff the meter lacks; None when it has none.
    """

    meter: str
    time: dt.datetime
    counter: float
    rate: float = math.nan
    voltage: float = math.nan
    current: float = math.nan
    power_factor: float = math.nan
    quality: int = 0
    device_time: dt.datetime | None = None
    tariffs: tuple[float, float, float, float] | None = None


def _columns1(clock: bool, tariffs: bool) -> tuple[str, ...]:
    return COLUMNS + (("device_time",) if clock else ()) + (TARIFF_COLUMNS if tariffs else ())


def _columns2(clock: bool, tariffs: bool) -> tuple[tuple[str, str], ...]:
    return (COLUMNS2[:6] + ((("device_time", "<i8"),) if clock else ())
            + (tuple((c, "<f8") for c in TARIFF_COLUMNS) if tariffs else ()) + COLUMNS2[6:])


def _tariff_tuple(values) -> tuple[float, float, float, float] | None:
    """Four tariff values (None or non-finite: absent) as a :attr:`Reading.tariffs`; None when all absent."""
    t = tuple(math.nan if x is None or not math.isfinite(x) else float(x) for x in values)
    if len(t) != 4:
        raise ValueError(f"tariffs: expected 4 values, got {len(t)}")
    return None if all(math.isnan(x) for x in t) else t  # type: ignore[return-value]


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
    """Canonical bytes of a ``tanjian.batch/1`` batch (see the module docstring)."""
    with_clock = any(r.device_time is not None for r in readings)
    with_tariffs = any(r.tariffs is not None for r in readings)
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
            + ([None if r.device_time is None else format_time(r.device_time)] if with_clock else [])
            + (([None] * 4 if r.tariffs is None else [_num(x) for x in r.tariffs]) if with_tariffs else [])
            for r in readings
        ),
        key=lambda row: (row[0], row[1]),
    )
    obj = {"schema": SCHEMA, "plant": plant, "seq": int(seq), "source": source,
           "columns": list(_columns1(with_clock, with_tariffs)), "rows": rows}
    if note is not None:
        obj["note"] = note
    return rfc8785.dumps(obj)


def encode_points(plant: str, seq: int, source: str, time: dt.datetime, rooms: dict[str, dict[str, float]]) -> bytes:
    """Canonical bytes of one reading of the distribution rooms' points at ``time`` (aware): a
    ``tanjian.batch/1`` batch with no rows and a ``points`` note (see the module docstring). A point
    that was not read (NaN) is ``null``."""
    note = {"kind": "points", "time": format_time(time),
            "rooms": {str(r): {str(k): _num(v) for k, v in vals.items()} for r, vals in rooms.items()}}
    return encode_batch(plant, seq, source, [], note)


@dataclass(frozen=True)
class Batch:
    plant: str
    seq: int
    source: str
    readings: list[Reading]
    note: dict | None = None


def _json_object(data: bytes) -> dict:
    """The JSON object of a :data:`SCHEMA` batch's bytes; ValueError when they are not one."""
    try:
        obj = json.loads(data)
    except ValueError as exc:
        raise ValueError(f"neither a {SCHEMA2} batch nor {SCHEMA} JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ValueError(f"not a {SCHEMA} batch (a JSON {type(obj).__name__}, not an object)")
    return obj


def decode_batch(data: bytes) -> Batch:
    """Parse canonical batch bytes (either schema); raises ValueError naming what is wrong."""
    if data[:16] == MAGIC2:
        return decode_columns(data).to_batch()
    obj = _json_object(data)
    if obj.get("schema") != SCHEMA:
        raise ValueError(f"not a {SCHEMA} batch (schema={obj.get('schema')!r})")
    nan = math.nan
    if tuple(obj["columns"]) == COLUMNS:
        readings = [
            Reading(m, parse_time(t), nan if c is None else c, nan if r is None else r,
                    nan if v is None else v, nan if i is None else i, nan if pf is None else pf, int(q))
            for m, t, c, r, v, i, pf, q in obj["rows"]
        ]
    elif tuple(obj["columns"]) in (COLUMNS_CLOCK, _columns1(False, True), _columns1(True, True)):
        clock = "device_time" in obj["columns"]
        k = 9 if clock else 8
        readings = [
            Reading(row[0], parse_time(row[1]), *(nan if x is None else x for x in row[2:7]), int(row[7]),
                    None if not clock or row[8] is None else parse_time(row[8]),
                    _tariff_tuple(row[k:k + 4]) if len(row) > k else None)
            for row in obj["rows"]
        ]
    else:
        raise ValueError(f"unexpected columns {obj['columns']!r}")
    return Batch(obj["plant"], int(obj["seq"]), obj["source"], readings, obj.get("note"))


# -- tanjian.batch/2: the columnar binary batch --------------------------------------------------
_LEN = struct.Struct("<I")
_QNAN = np.float64(np.nan)


@dataclass(frozen=True)
class BatchColumns:
    """A batch as columns (either schema), for the fold: one array per column, rows in canonical order.

    ``meter`` indexes ``meters``; ``time`` and ``device_time`` are integer milliseconds since
    1970-01-01T00:00:00Z (``device_time`` is None when no reading carries a device clock, else
    :data:`NO_TIME` where a reading has none); ``tariffs`` is None when no reading carries tariff
    registers, else an array of shape (rows, 4) [kWh], NaN where absent.
    """

    plant: str
    seq: int
    source: str
    meters: list[str]
    meter: np.ndarray
    time: np.ndarray
    counter: np.ndarray
    rate: np.ndarray
    voltage: np.ndarray
    current: np.ndarray
    power_factor: np.ndarray
    quality: np.ndarray
    device_time: np.ndarray | None = None
    note: dict | None = None
    tariffs: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.time)

    def to_batch(self) -> Batch:
        """The same batch as :class:`Reading` objects (slow: for tools, not for the fold)."""
        times = {}

        def when(ms: int) -> dt.datetime:
            t = times.get(ms)
            if t is None:
                t = times[ms] = _EPOCH + dt.timedelta(milliseconds=ms)
            return t

        dev = self.device_time.tolist() if self.device_time is not None else [NO_TIME] * len(self)
        tar = [None] * len(self) if self.tariffs is None else [_tariff_tuple(t) for t in self.tariffs.tolist()]
        readings = [
            Reading(self.meters[m], when(t), c, r, v, i, pf, q, None if d == NO_TIME else when(d), tf)
            for m, t, c, r, v, i, pf, q, d, tf in zip(
                self.meter.tolist(), self.time.tolist(), self.counter.tolist(), self.rate.tolist(),
                self.voltage.tolist(), self.current.tolist(), self.power_factor.tolist(),
                self.quality.tolist(), dev, tar)
        ]
        return Batch(self.plant, self.seq, self.source, readings, self.note)


def _ms(t: dt.datetime) -> int:
    if t.tzinfo is None:
        raise ValueError(f"naive datetime {t!r}: readings need a timezone")
    return (t - _EPOCH) // dt.timedelta(milliseconds=1)


def _header_json(obj: dict) -> bytes:
    """RFC 8785 bytes of a header. Without a note the header holds only strings, integers, null and
    lists of strings under ASCII keys, for which sorted compact ``json.dumps`` is exactly RFC 8785
    (same escapes, same key order) and 10× faster; a note (which may hold floats) goes through
    :func:`rfc8785.dumps`."""
    if "note" in obj:
        return rfc8785.dumps(obj)
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _json_str(s: str) -> str:
    """A JSON string as RFC 8785 writes it (for strings, compact ``json.dumps`` without ASCII escaping is
    the same: the same short escapes, ``\\u00xx`` in lower case for other controls, nothing else escaped;
    this is the function ``json.dumps(s, ensure_ascii=False)`` calls, without building an encoder)."""
    if not isinstance(s, str):
        raise TypeError(f"expected a string, got {type(s).__name__}: {s!r}")
    return _encode_basestring(s)


@lru_cache(maxsize=4)
def _columns_json(clock: bool, tariffs: bool) -> str:
    return json.dumps([list(c) for c in _columns2(clock, tariffs)], separators=(",", ":"))


@lru_cache(maxsize=64)
def _meter_order(meter_ids: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """For a collector's fixed meter list: (ids sorted, rank of each given id in that order, the JSON
    string of each sorted id, the JSON list of all of them)."""
    if len(set(meter_ids)) != len(meter_ids):
        raise ValueError("meter ids must be distinct")
    order = sorted(range(len(meter_ids)), key=meter_ids.__getitem__)
    rank = np.empty(len(meter_ids), np.int64)
    rank[order] = np.arange(len(meter_ids))
    sorted_ids = np.array([meter_ids[i] for i in order], dtype=object)
    frags = np.array([_json_str(s) for s in sorted_ids.tolist()], dtype=object)
    return sorted_ids, rank, frags, "[" + ",".join(frags.tolist()) + "]"


def _canonical_float(a) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64) + 0.0  # a copy; -0.0 becomes 0.0
    bad = ~np.isfinite(a)
    if bad.any():
        a[bad] = _QNAN  # one NaN bit pattern (and no infinities), as JSON's null
    return a


@lru_cache(maxsize=1024)
def _time0_json(ms: int) -> str:
    return '"' + format_time(_EPOCH + dt.timedelta(milliseconds=ms)) + '"'


class PreparedBatch:
    """A ``tanjian.batch/2`` batch encoded but for its ``seq``: the journal's group commit gives it
    the sequence number it gets when it is written (:meth:`workspace.journal.Journal.submit`).

    ``prepared(seq)`` returns exactly the bytes :func:`encode_columns` gives for that ``seq``: the
    header is RFC 8785, keys sorted, so every member before ``"seq"`` (columns, meters, note, plant,
    rows, schema) and after it (source, time0) is serialised once here and the number put between
    them; the padding is recomputed, the columns are kept as one block of bytes.

    Attributes
    ----------
    rows : int
        Number of readings.
    """

    __slots__ = ("_head0", "_head1", "_body", "rows")

    def __init__(self, head0: bytes, head1: bytes, body: bytes, rows: int):
        self._head0, self._head1, self._body, self.rows = head0, head1, body, rows

    def __call__(self, seq: int) -> bytes:
        seq = int(seq)
        if seq < 0:
            raise ValueError(f"seq {seq}: must be >= 0")
        hb = b"%s%d%s" % (self._head0, seq, self._head1)
        return b"".join((MAGIC2, _LEN.pack(len(hb)), hb, b"\0" * (-(20 + len(hb)) % 8), self._body))

    def __len__(self) -> int:
        """Bytes of the batch without its header (its columns) [B]."""
        return len(self._body)


def _prepare(plant: str, source: str, n: int, idx: np.ndarray, meters_json: str, time: np.ndarray | int,
             floats: np.ndarray, quality, device_time, tariffs, note: dict | None, *,
             order: np.ndarray | None = None, meter_col: bytes | None = None) -> PreparedBatch:
    """The common tail of both encoders. ``idx``: per reading, the index of its meter among the
    batch's sorted distinct meters; ``time``: per reading [ms], or one int when every reading has that
    time (a poll cycle: rows then sort by meter alone); ``floats``: (5, rows) counter … power_factor,
    not yet canonical; ``order`` and ``meter_col``: the row order and the meter column's bytes when the
    caller knows them already (a cycle's meters, one time: both cached); ``quality`` None: all 0."""
    single = isinstance(time, int)
    if order is None:  # stable: ties keep the order given
        order = np.argsort(idx, kind="stable") if single else np.lexsort((time, idx))
    floats = _canonical_float(floats)[:, order]
    parts = [_I8.pack(time) * n if single else time[order].astype("<i8", copy=False).tobytes(),
             floats.astype("<f8", copy=False).tobytes()]
    if device_time is not None:
        parts.append(np.asarray(device_time, dtype="<i8")[order].tobytes())
    if tariffs is not None:
        tariffs = np.asarray(tariffs, dtype=np.float64)
        if tariffs.shape != (n, 4):
            raise ValueError(f"tariffs has shape {tariffs.shape}, expected ({n}, 4)")
        parts.append(_canonical_float(tariffs.T)[:, order].astype("<f8", copy=False).tobytes())
    parts.append(idx[order].astype("<u2", copy=False).tobytes() if meter_col is None else meter_col)
    parts.append(bytes(2 * n) if quality is None else np.asarray(quality).astype("<u2")[order].tobytes())
    head0 = ('{"columns":' + _columns_json(device_time is not None, tariffs is not None) + ',"meters":' + meters_json
             + (',"note":' + rfc8785.dumps(note).decode("utf-8") if note is not None else "")
             + ',"plant":' + _json_str(plant) + ',"rows":' + str(n) + ',"schema":"' + SCHEMA2 + '","seq":')
    head1 = (',"source":' + _json_str(source) + ',"time0":' + (
        "null" if not n else _time0_json(time if single else int(time.min())))
             + "}")
    return PreparedBatch(head0.encode("utf-8"), head1.encode("utf-8"), b"".join(parts), n)


def prepare_columns(plant: str, source: str, meter_ids, meter, time, counter, rate=None, voltage=None,
                    current=None, power_factor=None, quality=None, device_time=None, note: dict | None = None,
                    tariffs=None) -> PreparedBatch:
    """:func:`encode_columns` without the ``seq``: a :class:`PreparedBatch` to submit to the journal's
    group commit, which writes ``prepared(seq)``. Parameters as for :func:`encode_columns`."""
    meter = np.asarray(meter, dtype=np.int64)
    n = len(meter)
    time = np.asarray(time, dtype=np.int64)
    sorted_ids, rank, frags, all_json = _meter_order(tuple(meter_ids))
    if n and (meter.min() < 0 or meter.max() >= len(rank)):
        raise ValueError(f"meter index out of range 0..{len(rank) - 1}")
    key = rank[meter]
    present = np.zeros(len(rank), bool)
    present[key] = True
    used = np.flatnonzero(present)
    if len(used) > 65536:
        raise ValueError("a tanjian.batch/2 batch holds at most 65,536 meters")
    if len(used) == len(rank):
        idx, meters_json = key, all_json
    else:
        idx = (np.cumsum(present) - 1)[key]
        meters_json = "[" + ",".join(frags[used].tolist()) + "]"
    floats = np.empty((5, n), np.float64)
    for k, arr in enumerate((counter, rate, voltage, current, power_factor)):
        floats[k] = np.nan if arr is None else arr
    return _prepare(plant, source, n, idx, meters_json, time, floats, quality, device_time, tariffs, note)


def encode_columns(plant: str, seq: int, source: str, meter_ids, meter, time, counter, rate=None,
                   voltage=None, current=None, power_factor=None, quality=None, device_time=None,
                   note: dict | None = None, tariffs=None) -> bytes:
    """Canonical ``tanjian.batch/2`` bytes of readings given as columns (see the module docstring).

    Parameters
    ----------
    plant, seq, source
        As for :func:`encode_batch`.
    meter_ids : sequence of str
        Distinct meter ids (e.g. the collector's list, the same every cycle: its order is cached).
    meter : array of int
        Per reading, the index of its meter in ``meter_ids``.
    time : array of int
        Per reading, UTC time [ms since 1970-01-01T00:00:00Z].
    counter, rate, voltage, current, power_factor : array of float
        [kWh | m3], [kW | m3/h], [V], [A], [-]; NaN where absent (None: all absent).
    quality : array of int, optional
        Bitmask per reading (default 0).
    device_time : array of int, optional
        The device's clock per reading [ms since the epoch], :data:`NO_TIME` where absent.
    note : dict, optional
        As for :func:`encode_batch`.
    tariffs : array of float, shape (rows, 4), optional
        Per reading, the meter's tariff 1..4 energy registers [kWh], NaN where absent.
    """
    return prepare_columns(plant, source, meter_ids, meter, time, counter, rate, voltage, current, power_factor,
                           quality, device_time, note, tariffs)(seq)


_GET_METER = attrgetter("meter")
_GET_TIME = attrgetter("time")
_GET_FLOATS = tuple(attrgetter(c) for c in FLOAT_COLUMNS)
_GET_QUALITY = attrgetter("quality")
_GET_DEVICE_TIME = attrgetter("device_time")
_GET_TARIFFS = attrgetter("tariffs")
_I8 = struct.Struct("<q")
_CYCLES: dict[tuple, tuple] = {}  # a cycle's meter list -> (that list, idx, JSON, order, meter column)


def _cycle_meters(meters: list[str]) -> tuple[np.ndarray, str, np.ndarray, bytes]:
    """Of a cycle's meter column: the index of each reading's meter among the sorted distinct meters,
    their JSON list, and for a cycle with one time, the row order (stable by meter) and the bytes of
    the ``meter`` column. A collector reads the same meters in the same order every cycle, so the
    answer is kept (per meter list; the lists are compared whole, at C speed, before one is reused)."""
    key = (len(meters), meters[0], meters[-1]) if meters else (0,)
    hit = _CYCLES.get(key)
    if hit is not None and hit[0] == meters:
        return hit[1:]
    uniq = sorted(set(meters))
    if len(uniq) > 65536:
        raise ValueError("a tanjian.batch/2 batch holds at most 65,536 meters")
    pos = {m: i for i, m in enumerate(uniq)}
    idx = np.fromiter(map(pos.__getitem__, meters), np.int64, len(meters))
    js = "[" + ",".join(map(_json_str, uniq)) + "]"
    order = np.argsort(idx, kind="stable")
    if len(_CYCLES) >= 256:
        _CYCLES.clear()
    _CYCLES[key] = hit = (meters, idx, js, order, idx[order].astype("<u2").tobytes())
    return hit[1:]


def prepare_batch_columnar(plant: str, source: str, readings: list[Reading], note: dict | None = None
                           ) -> PreparedBatch:
    """:func:`encode_batch_columnar` without the ``seq`` (see :class:`PreparedBatch`).

    Attributes are gathered column by column with C-level ``map``/``attrgetter`` (no Python loop over
    the readings); a cycle with one poll instant converts that instant once."""
    n = len(readings)
    meters = list(map(_GET_METER, readings))
    idx, meters_json, order, meter_col = _cycle_meters(meters)
    times = list(map(_GET_TIME, readings))
    distinct = set(times)
    if len(distinct) == 1:  # a poll cycle: one instant, rows in the cached order of the cycle's meters
        time = _ms(times[0])
    else:
        ms_of = {t: _ms(t) for t in distinct}
        time = np.fromiter(map(ms_of.__getitem__, times), np.int64, n)
        order = meter_col = None
    floats = np.empty((5, n), np.float64)
    for k, get in enumerate(_GET_FLOATS):  # one C-level pass per column: faster than tuples of five
        floats[k] = np.fromiter(map(get, readings), np.float64, n)
    quality = np.fromiter(map(_GET_QUALITY, readings), np.int64, n) if any(map(_GET_QUALITY, readings)) else None
    dev = None
    if any(map(_GET_DEVICE_TIME, readings)):
        dev = np.fromiter((NO_TIME if d is None else _ms(d) for d in map(_GET_DEVICE_TIME, readings)), np.int64, n)
    tar = None
    if any(map(_GET_TARIFFS, readings)):
        tar = np.array([(math.nan,) * 4 if t is None else t for t in map(_GET_TARIFFS, readings)], np.float64)
    return _prepare(plant, source, n, idx, meters_json, time, floats, quality, dev, tar, note, order=order,
                    meter_col=meter_col)


def encode_batch_columnar(plant: str, seq: int, source: str, readings: list[Reading],
                          note: dict | None = None) -> bytes:
    """Canonical ``tanjian.batch/2`` bytes of :class:`Reading` objects (a collector's poll cycle)."""
    return prepare_batch_columnar(plant, source, readings, note)(seq)


def _header2(data: bytes) -> tuple[dict, int]:
    if len(data) < 20 or data[:16] != MAGIC2:
        raise ValueError(f"not a {SCHEMA2} batch (it does not start with {MAGIC2!r})")
    (h,) = _LEN.unpack_from(data, 16)
    if 20 + h > len(data):
        raise ValueError(f"{SCHEMA2}: header length {h} runs past the batch's {len(data)} bytes")
    try:
        head = json.loads(data[20:20 + h])
    except ValueError as exc:
        raise ValueError(f"{SCHEMA2}: header is not JSON: {exc}") from None
    if not isinstance(head, dict) or head.get("schema") != SCHEMA2:
        raise ValueError(f"{SCHEMA2}: header schema is {head.get('schema') if isinstance(head, dict) else head!r}")
    return head, 20 + h


def batch_header(data: bytes) -> dict:
    """The batch's header fields (schema, plant, seq, source, note if any) without decoding its readings."""
    if data[:16] == MAGIC2:
        return _header2(data)[0]
    obj = _json_object(data)
    obj.pop("rows", None)
    return obj


def decode_columns(data: bytes) -> BatchColumns:
    """Columns of a batch of either schema (``tanjian.batch/2`` read with ``numpy.frombuffer``, no copy
    beyond the little-endian view); raises ValueError naming what is wrong."""
    if data[:16] != MAGIC2:
        b = decode_batch(data)
        rs = b.readings
        ids: dict[str, int] = {}
        meter = np.fromiter((ids.setdefault(r.meter, len(ids)) for r in rs), np.int64, len(rs))
        ms_of: dict[dt.datetime, int] = {}
        time = np.fromiter((ms_of[r.time] if r.time in ms_of else ms_of.setdefault(r.time, _ms(r.time))
                            for r in rs), np.int64, len(rs))
        cols = {c: np.fromiter((getattr(r, c) for r in rs), np.float64, len(rs)) for c in FLOAT_COLUMNS}
        dev = None
        if any(r.device_time is not None for r in rs):
            dev = np.array([NO_TIME if r.device_time is None else _ms(r.device_time) for r in rs], np.int64)
        tar = None
        if any(r.tariffs is not None for r in rs):
            tar = np.array([(math.nan,) * 4 if r.tariffs is None else r.tariffs for r in rs], np.float64)
        return BatchColumns(b.plant, b.seq, b.source, list(ids), meter, time, quality=np.fromiter(
            (r.quality for r in rs), np.int64, len(rs)).astype(np.uint16), device_time=dev, note=b.note,
            tariffs=tar, **cols)
    head, pos = _header2(data)
    try:
        n, meters, spec = int(head["rows"]), list(head["meters"]), [tuple(c) for c in head["columns"]]
        plant, seq, source = head["plant"], int(head["seq"]), head["source"]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{SCHEMA2}: header lacks or mangles {exc}") from None
    if tuple(spec) not in (_columns2(c, t) for c in (False, True) for t in (False, True)):
        raise ValueError(f"{SCHEMA2}: unexpected columns {head['columns']!r}")
    pad = -pos % 8
    if data[pos:pos + pad] != b"\0" * pad:
        raise ValueError(f"{SCHEMA2}: padding after the header is not zero")
    pos += pad
    cols = {}
    for name, dtype in spec:
        size = np.dtype(dtype).itemsize * n
        if pos + size > len(data):
            raise ValueError(f"{SCHEMA2} batch {seq}: column {name!r} runs past the end ({len(data)} bytes)")
        cols[name] = np.frombuffer(data, dtype=dtype, count=n, offset=pos)
        pos += size
    if pos != len(data):
        raise ValueError(f"{SCHEMA2} batch {seq}: {len(data) - pos} bytes after the last column")
    if n and int(cols["meter"].max()) >= len(meters):
        raise ValueError(f"{SCHEMA2} batch {seq}: a meter index is beyond the {len(meters)} meters of the header")
    return BatchColumns(plant, seq, source, meters, cols["meter"], cols["time"],
                        *(cols[c] for c in FLOAT_COLUMNS), cols["quality"], cols.get("device_time"),
                        head.get("note"),
                        np.column_stack([cols[c] for c in TARIFF_COLUMNS]) if TARIFF_COLUMNS[0] in cols else None)
