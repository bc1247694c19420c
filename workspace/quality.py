"""Data-quality flags: one documented bitmask per stored value, never a silent drop.

====  =================  ==========================================================================
bit   flag               meaning
====  =================  ==========================================================================
0     GAP                no reading in this slot; a value here is an estimate spread over the gap
1     ESTIMATED          the energy in this slot is estimated (spread from a counter delta)
2     ROLLOVER           the counter wrapped at its register's maximum
3     COUNTER_RESET      the counter went backwards: the meter was reset or replaced
4     METER_REPLACED     a meter swap recorded in the site model
5     SPIKE              the counter jumped more than the meter's rated rate allows; energy withheld
6     STUCK              the counter did not move while the rate said it should
7     DUPLICATE          a second reading for a slot that already had one (the first is kept)
8     OUT_OF_ORDER       a reading older than one already folded for the meter (merged into its slot)
9     CLOCK_DRIFT        the device's own clock (``Reading.device_time``) differs from the collector's
                         time stamp by more than ``collection.clock_tolerance_s`` (default 60 s);
                         set by the fold; the reading is stored in the collector's slot
10    MANUAL             entered by hand
11    DEVICE_ERROR       the device answered with an error
====  =================  ==========================================================================
"""

from __future__ import annotations

from enum import IntFlag

import numpy as np


class Q(IntFlag):
    GAP = 1 << 0
    ESTIMATED = 1 << 1
    ROLLOVER = 1 << 2
    COUNTER_RESET = 1 << 3
    METER_REPLACED = 1 << 4
    SPIKE = 1 << 5
    STUCK = 1 << 6
    DUPLICATE = 1 << 7
    OUT_OF_ORDER = 1 << 8
    CLOCK_DRIFT = 1 << 9
    MANUAL = 1 << 10
    DEVICE_ERROR = 1 << 11


#: tolerance on the rated rate before a counter step counts as a spike [-]
SPIKE_MARGIN = 1.5

#: flags that describe the derived energy of a slot (re-derived together with it)
ENERGY_FLAGS = Q.GAP | Q.ESTIMATED | Q.ROLLOVER | Q.COUNTER_RESET | Q.METER_REPLACED | Q.SPIKE | Q.STUCK

#: a counter that stays put over this many successive readings while its own rate says it moves is stuck
STUCK_READINGS = 5
#: the rate must exceed this share of the meter's rated rate for a still counter to be suspicious [-]
STUCK_RATE_SHARE = 0.05


def stuck_readings(counters: np.ndarray, rates: np.ndarray, max_rate: float | None) -> np.ndarray:
    """Which readings belong to a run of at least :data:`STUCK_READINGS` equal counter values
    during which the meter's instantaneous rate stays above :data:`STUCK_RATE_SHARE` of its rating.

    Parameters
    ----------
    counters, rates : ndarray
        Successive readings of one meter [kWh|m3] and [kW|m3/h] (NaN where absent).
    max_rate : float or None
        The meter's rated rate [kW or m3/h]; without one nothing is flagged.

    Returns
    -------
    ndarray of bool, one per reading.
    """
    n = len(counters)
    if max_rate is None or n < STUCK_READINGS:
        return np.zeros(n, bool)
    counters = np.asarray(counters, dtype=np.float64)
    busy = np.nan_to_num(np.asarray(rates, dtype=np.float64), nan=0.0) > STUCK_RATE_SHARE * max_rate
    # runs of equal values (a NaN is a run of its own, as NaN != NaN), vectorised
    new_run = np.ones(n, bool)
    new_run[1:] = counters[1:] != counters[:-1]
    run = np.cumsum(new_run) - 1
    length = np.bincount(run)
    idle = np.bincount(run, weights=~busy, minlength=len(length))
    stuck_run = (length >= STUCK_READINGS) & (idle == 0)
    return stuck_run[run]


def derive_energy(prev_slot: int | None, prev_counter: float | None, slots: np.ndarray, counters: np.ndarray,
                  max_rate: float | None, slot_hours: float, *, wrap: float | None = None,
                  replaced: dict[int, tuple[float, float]] | None = None, profile=None):
    """Interval energy from successive counter readings of one meter, with flags.

    Parameters
    ----------
    prev_slot, prev_counter : int, float or None
        Last good reading before ``slots`` (None: the meter's first reading).
    slots : ndarray of int
        Slots of the readings, strictly increasing and all greater than ``prev_slot``.
    counters : ndarray of float
        Counter values [kWh or m3] at those slots.
    max_rate : float or None
        Largest plausible rate [kW or m3/h]; steps above it (× :data:`SPIKE_MARGIN`) are spikes.
    slot_hours : float
        Length of one slot [h].
    wrap : float or None
        Value at which the meter's counter register wraps to zero [kWh or m3] (None: it does not).
    replaced : dict, optional
        ``slot -> (old meter's final counter, new meter's initial counter)`` for meter swaps that
        took effect in the interval ending at ``slot``.
    profile : callable, optional
        ``profile(slots) -> weights`` [-]: the meter's typical consumption in each slot; a delta
        across a gap is shared in proportion to it (evenly when it is absent or all zero).

    Returns
    -------
    out_slots : ndarray of int
        Slots that receive energy or flags (may include gap slots before a reading).
    energy : ndarray of float
        Energy of each out slot [kWh or m3]; NaN where withheld.
    flags : ndarray of uint16
    prev_slot, prev_counter : the new last good reading.

    Notes
    -----
    A counter delta across a gap of ``k`` slots is shared over them by the meter's typical profile
    (evenly without one) and flagged ESTIMATED (the gap slots GAP as well): the total stays exact. A negative delta is a
    rollover when the register's wrap explains a plausible step (ROLLOVER), else a reset: the new
    counter value is the energy since the reset (COUNTER_RESET). A meter swap counts the old
    meter up to its final reading and the new one from its initial reading (METER_REPLACED). A
    spike is flagged and its energy withheld; the next good reading's delta covers the interval.
    """
    replaced = replaced or {}
    fast = _derive_steady(prev_slot, prev_counter, slots, counters, max_rate, slot_hours, replaced)
    if fast is not None:
        return fast
    out_s: list[int] = []
    out_e: list[float] = []
    out_f: list[int] = []

    def plausible(step, k):
        return max_rate is None or step <= max_rate * SPIKE_MARGIN * k * slot_hours + 1e-6

    def emit(s, value, flag):
        out_s.append(s)
        out_e.append(value)
        out_f.append(int(flag))

    for s, c in zip(slots.tolist(), counters.tolist()):
        if not np.isfinite(c):
            continue
        if prev_slot is None:
            emit(s, np.nan, 0)
            prev_slot, prev_counter = s, c
            continue
        k = s - prev_slot
        flag = Q(0)
        if s in replaced:
            old_final, new_initial = replaced[s]
            delta = (old_final - prev_counter) + (c - new_initial)
            flag = Q.METER_REPLACED
        else:
            delta = c - prev_counter
        if delta < 0:
            if wrap is not None and plausible(wrap - prev_counter + c, k):
                delta, flag = wrap - prev_counter + c, flag | Q.ROLLOVER
            else:
                emit(s, c, flag | Q.COUNTER_RESET)
                prev_slot, prev_counter = s, c
                continue
        if not plausible(delta, k):
            emit(s, np.nan, flag | Q.SPIKE)
            continue
        if k == 1:
            emit(s, delta, flag)
        else:
            gap = np.arange(prev_slot + 1, s + 1)
            w = np.asarray(profile(gap), dtype=float) if profile is not None else np.ones(k)
            if not (np.all(np.isfinite(w)) and np.all(w >= 0) and w.sum() > 0):
                w = np.ones(k)
            shares = delta * w / w.sum()
            for g, share in zip(gap[:-1].tolist(), shares[:-1].tolist()):
                emit(g, share, Q.GAP | Q.ESTIMATED)
            emit(s, float(shares[-1]), flag | Q.ESTIMATED)
        prev_slot, prev_counter = s, c
    return (np.asarray(out_s, dtype=np.int64), np.asarray(out_e, dtype=np.float64),
            np.asarray(out_f, dtype=np.uint16), prev_slot, prev_counter)


def _derive_steady(prev_slot, prev_counter, slots, counters, max_rate, slot_hours, replaced):
    """:func:`derive_energy` for the common case, vectorised: every reading one slot after the last,
    no swap, no backwards step, no spike. Returns None when the readings need the general path
    (same results to the bit: ``delta = c - previous c`` either way)."""
    slots = np.asarray(slots, dtype=np.int64)
    counters = np.asarray(counters, dtype=np.float64)
    fin = np.isfinite(counters)
    s_f, c_f = slots[fin], counters[fin]
    if not len(s_f):
        return None
    if replaced and not set(replaced).isdisjoint(s_f.tolist()):
        return None
    if prev_slot is None:
        ps, pc = s_f[:-1], c_f[:-1]
        rs, rc = s_f[1:], c_f[1:]
    else:
        ps = np.concatenate([[prev_slot], s_f[:-1]])
        pc = np.concatenate([[prev_counter], c_f[:-1]])
        rs, rc = s_f, c_f
    delta = rc - pc
    if len(rs) and not ((rs - ps == 1).all() and (delta >= 0).all()):
        return None
    if max_rate is not None and len(rs) and not (delta <= max_rate * SPIKE_MARGIN * 1 * slot_hours + 1e-6).all():
        return None
    if prev_slot is None:  # the meter's first reading: no energy yet
        delta = np.concatenate([[np.nan], delta])
    return (s_f.copy(), delta.astype(np.float64), np.zeros(len(s_f), np.uint16), int(s_f[-1]), float(c_f[-1]))
