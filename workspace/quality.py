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
9     CLOCK_DRIFT        the reading's timestamp disagrees with the collector's clock
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


def derive_energy(prev_slot: int | None, prev_counter: float | None, slots: np.ndarray, counters: np.ndarray,
                  max_rate: float | None, slot_hours: float):
    """Interval energy from successive counter readings of one meter, with flags.

    Parameters
    ----------
    prev_slot, prev_counter : int, float or None
        Last good reading already folded (None: the meter's first reading).
    slots : ndarray of int
        Slots of the new readings, strictly increasing and all greater than ``prev_slot``.
    counters : ndarray of float
        Counter values [kWh or m3] at those slots.
    max_rate : float or None
        Largest plausible rate [kW or m3/h]; steps above it (× :data:`SPIKE_MARGIN`) are spikes.
    slot_hours : float
        Length of one slot [h].

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
    A counter delta across a gap of ``k`` slots is spread evenly over them and flagged
    ESTIMATED (the gap slots GAP as well): the total stays exact. A negative delta is a reset:
    the new counter value is the energy since the reset (COUNTER_RESET). A spike is flagged
    and its energy withheld; the next good reading's delta covers the interval.
    """
    out_s: list[int] = []
    out_e: list[float] = []
    out_f: list[int] = []
    for s, c in zip(slots.tolist(), counters.tolist()):
        if not np.isfinite(c):
            continue
        if prev_slot is None:
            out_s.append(s); out_e.append(np.nan); out_f.append(0)  # noqa: E702
            prev_slot, prev_counter = s, c
            continue
        k = s - prev_slot
        delta = c - prev_counter
        if delta < 0:
            out_s.append(s); out_e.append(c); out_f.append(int(Q.COUNTER_RESET))  # noqa: E702
            prev_slot, prev_counter = s, c
            continue
        if max_rate is not None and delta > max_rate * SPIKE_MARGIN * k * slot_hours + 1e-6:
            out_s.append(s); out_e.append(np.nan); out_f.append(int(Q.SPIKE))  # noqa: E702
            continue
        if k == 1:
            out_s.append(s); out_e.append(delta); out_f.append(0)  # noqa: E702
        else:
            share = delta / k
            for g in range(prev_slot + 1, s):
                out_s.append(g); out_e.append(share); out_f.append(int(Q.GAP | Q.ESTIMATED))  # noqa: E702
            out_s.append(s); out_e.append(share); out_f.append(int(Q.ESTIMATED))  # noqa: E702
        prev_slot, prev_counter = s, c
    return (np.asarray(out_s, dtype=np.int64), np.asarray(out_e, dtype=np.float64),
            np.asarray(out_f, dtype=np.uint16), prev_slot, prev_counter)
