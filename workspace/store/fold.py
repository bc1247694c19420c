"""The write path: fold journaled batches into the store, bulk-load history, and re-derive the
energy of the intervals that late readings, corrections and meter swaps touch.

Each fold is one Icechunk commit whose metadata names the journal range it holds; the fold state
(last folded batch, last good counter per meter) is written in the same commit, so a crash anywhere
loses nothing and folds nothing twice. Each commit also records the slot range it changed
(``changed_slots``), from which the query caches keep what did not change
(:mod:`workspace.store.chunks`).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import icechunk
import numpy as np
import zarr

from ..batch import NO_TIME, decode_columns, parse_time
from ..errors import StoreError, UnknownMeter
from ..journal import Journal
from ..quality import ENERGY_FLAGS, Q, derive_energy, stuck_readings
from .layout import (_EPOCH, CHUNK_T, DENSE_CELLS, LOOKBACK, PROFILE_DAYS, READ_COLUMNS, SLOT, SLOT_MS,
                     STUCK_LOOKBACK, TARIFFS, _ms_of)
from .repository import _first_line
from .rollups import _extend, _roll_up

if TYPE_CHECKING:
    from . import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FoldResult:
    """What one fold step did: the journal batches ``seq_from`` .. ``seq_to`` (inclusive; ``seq_from >
    seq_to``: nothing was folded), the readings they held and the snapshot committed (None: none)."""

    seq_from: int
    seq_to: int  # inclusive; seq_from > seq_to means nothing was folded
    readings: int
    snapshot: str | None


def fold(store: "Store", journal: Journal, *, max_batches: int = 10_000,
         author: str = "collector") -> FoldResult:
    """Fold the journal's batches after the last folded one into the store, in one commit.

    A correction or an event (a batch with a ``note``) is folded alone, in a commit whose
    message and metadata carry its author and reason.
    """
    with store._fold_lock:
        try:
            return _fold(store, journal, max_batches, author)
        except icechunk.IcechunkError as exc:  # storage unreachable or refusing: nothing was committed
            raise StoreError(f"{store.path}: the fold could not read or commit the store, nothing of it was "
                             f"committed and the journal keeps every batch; the next fold retries "
                             f"({_first_line(exc)})") from exc


def _fold(store: "Store", journal: Journal, max_batches: int, author: str) -> FoldResult:
    s = store.repo.writable_session("main")
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
        store._ds_cache = None
        return FoldResult(start, start, 0, snap)
    if note is not None and note.get("kind") == "points":  # distribution-room points: their own grid
        from .points import fold_points

        written, what = fold_points(store, g, note, start)
        state["seq"] = start
        g.attrs["fold"] = state
        snap = s.commit(f"{what} (journal batch {start})",
                        metadata={"journal_seq_from": start, "journal_seq_to": start, "readings": 0,
                                  "points": written, "kind": "points", "author": author,
                                  "changed_slots": [0, 0]})
        return FoldResult(start, start, 0, snap)
    cols = _columns(store, batches)
    n = len(cols["time"])
    events = {k: [list(e) for e in v] for k, v in state.get("events", {}).items()}
    if note is not None and note.get("kind") == "meter_replaced":
        if note.get("meter") not in store._midx:
            raise UnknownMeter(f"batch {start}: unknown meter {note.get('meter')!r} in a meter_replaced event")
    times = cols["time"]
    if note is not None and note.get("kind") == "meter_replaced":
        times = np.append(times, _ms_of(parse_time(note["time"])))
    origin = state["origin"]
    if origin is None:  # the grid starts on the UTC day before the local year of the first reading
        first = (_EPOCH + dt.timedelta(milliseconds=int(times.min()))).astimezone(store.tz)
        o = dt.datetime(first.year, 1, 1, tzinfo=store.tz).astimezone(dt.timezone.utc)
        origin = (o.replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days=1)).isoformat()
    o = dt.datetime.fromisoformat(origin)
    o_ms = _ms_of(o)
    slots = (times - o_ms) // SLOT_MS
    if len(slots) and int(slots.min()) < 0:
        raise StoreError(f"readings before the store's origin {origin} cannot be stored")
    _extend(store, g, int(slots.max()) + 1, o)
    cols["slot"] = slots[:n]
    prev = dict(state["prev"])
    affected: dict[str, list[int]] = {}  # meter -> [earliest, newest] slot changed
    if note is not None and note.get("kind") == "meter_replaced":
        sl = int(slots[-1])
        events.setdefault(note["meter"], []).append([sl, float(note["old_final"]), float(note["new_initial"])])
        affected[note["meter"]] = [sl, sl]
    correction = note is not None and note.get("kind") == "correction"
    written = _write_raw(store, g, cols, prev, correction, affected)
    lo, hi = _rederive(store, g, affected, prev, events)
    touched = np.unique(np.concatenate([written, np.arange(lo, hi, dtype=np.int64)]))
    _roll_up(store, g, touched, o)
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
    store._ds_cache = None
    return FoldResult(start, stop - 1, n, snap)


def _columns(store: "Store", batches) -> dict[str, np.ndarray]:
    """The batches' readings as columns (store meter index ``mi``, ``time`` [ms], values, ``quality``
    with :attr:`Q.CLOCK_DRIFT` set where the device clock is off by more than the tolerance)."""
    parts = []
    with_tariffs = any(b.tariffs is not None for b in batches)
    for b in batches:
        idx = np.empty(len(b.meters), np.int64)
        for k, mid in enumerate(b.meters):
            i = store._midx.get(mid)
            if i is None:
                raise UnknownMeter(f"batch {b.seq}: unknown meter {mid!r} (not in the site model)")
            idx[k] = i
        q = b.quality.astype(np.uint16)
        if b.device_time is not None:
            dev = b.device_time
            drift = (dev != NO_TIME) & (np.abs(dev - b.time) > int(store.clock_tolerance_s * 1000))
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


def _write_raw(store: "Store", g, cols: dict[str, np.ndarray], prev: dict, correction: bool,
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
    m = len(store.meters)
    order = np.lexsort((cols["time"], cols["mi"]))  # stable: by meter, then time, ties as journaled
    mi, slot = cols["mi"][order], cols["slot"][order]
    p_slot = np.full(m, np.iinfo(np.int64).min, np.int64)
    for meter, p in prev.items():
        i = store._midx.get(meter)
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
            span = affected.setdefault(store.meters[i], [a, b])
            span[0], span[1] = min(span[0], a), max(span[1], b)
    return np.unique(q_slot)


def bulk_load(store: "Store", blocks, *, message: str = "bulk load", author: str = "import") -> str:
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
    with store._fold_lock:
        return _bulk_load(store, blocks, message, author)


def _bulk_load(store: "Store", blocks, message: str, author: str) -> str:
    s = store.repo.writable_session("main")
    g = zarr.open_group(store=s.store, mode="r+")
    state = dict(g.attrs["fold"])
    if state["seq"] != -1 or state["origin"] is not None:
        raise StoreError(f"{store.path}: bulk_load needs an empty store (it holds data up to journal batch "
                         f"{state['seq']}); import into a new store")
    m = len(store.meters)
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
            first = (_EPOCH + dt.timedelta(minutes=t0)).astimezone(store.tz)
            oo = dt.datetime(first.year, 1, 1, tzinfo=store.tz).astimezone(dt.timezone.utc)
            o = oo.replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days=1)
            origin = o.isoformat()
            base = _ms_of(o) // SLOT_MS
        lo, hi = t0 - base, t0 - base + rows
        if lo < 0:
            raise StoreError(f"bulk_load block {k}: it starts before the store's origin {origin}")
        if end is not None and lo < end:
            raise StoreError(f"bulk_load block {k}: it starts at slot {lo}, before the end of the previous "
                             f"block (slot {end}); blocks must be in time order and never overlap")
        _extend(store, g, hi, o)
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
        for mi, meter in enumerate(store.meters):
            c = counter[:, mi]
            fin = np.nonzero(np.isfinite(c))[0]
            if not len(fin):
                continue
            p = prev.get(meter)
            mt = store.site.meter(meter)
            es, ee, ef, p_slot, p_counter = derive_energy(
                p[0] if p else None, p[1] if p else None, lo + fin, c[fin], mt.rated_power_kw, slot_h,
                wrap=store._wrap.get(meter), profile=lambda gap, mi=mi: _typical(store, g, mi, gap))
            energy[es - e_lo, mi] = ee
            np.bitwise_or.at(quality[:, mi], es - e_lo, ef)
            stuck = stuck_readings(c[fin], rate[fin, mi], mt.rated_power_kw)
            if stuck.any():
                quality[lo - e_lo + fin[stuck], mi] |= np.uint16(int(Q.STUCK))
            if p_slot is not None:
                prev[meter] = [int(p_slot), float(p_counter)]
        g["energy"][e_lo:hi] = energy
        g["quality"][e_lo:hi] = quality
        _roll_up(store, g, np.arange(e_lo, hi, dtype=np.int64), o)
        first_slot = lo if first_slot is None else first_slot
        end = hi
        n += int(np.isfinite(counter).sum())
    if origin is None:
        raise StoreError(f"{store.path}: bulk_load was given no data")
    state.update(seq=-1, origin=origin, first_slot=int(first_slot), events=events, prev=prev)
    g.attrs["fold"] = state
    snap = s.commit(f"{message} ({n} readings)", metadata={"author": author, "readings": n, "kind": "bulk_load",
                                                           "changed_slots": [0, int(end)]})
    log.info("bulk load of %d readings into %s as snapshot %s", n, store.path, snap)
    store._ds_cache = None
    return snap


def _typical(store: "Store", g, mi: int, slots: np.ndarray) -> np.ndarray | None:
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


def _rederive(store: "Store", g, affected: dict[str, list[int]], prev: dict, events: dict) -> tuple[int, int]:
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
        mi = store._midx[meter]
        c, q = counter[:, mi], quality[:, mi]
        if not fast:
            scan = slice(max(0, a - LOOKBACK) - lo, a - lo)
            good = np.nonzero(np.isfinite(c[scan]) & ((q[scan] & int(Q.SPIKE)) == 0))[0]
            start = (scan.start + lo + int(good[-1]), float(c[scan][good[-1]])) if len(good) else None
        w_lo = (start[0] + 1) if start is not None else a
        changed = min(changed, w_lo)
        win = slice(w_lo - lo, end - lo)
        slots = w_lo + np.nonzero(np.isfinite(c[win]))[0]
        m = store.site.meter(meter)
        es, ee, ef, p_slot, p_counter = derive_energy(
            start[0] if start else None, start[1] if start else None, slots, c[slots - lo],
            m.rated_power_kw, SLOT.total_seconds() / 3600, wrap=store._wrap.get(meter),
            replaced={int(e[0]): (e[1], e[2]) for e in events.get(meter, [])},
            profile=lambda gap, mi=mi: _typical(store, g, mi, gap))
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
