"""Deterministic, varied poll cycles for pinning ``tanjian.batch/2`` bytes (tests/data/batch2_pins.json).

The pins were written by the encoder of commit 0fc39e5 (before the fast paths of feat/ingest), whose
bytes tests/workspace/test_batch_columnar.py checks by hand; the fast paths must give the same bytes for every case.
"""

from __future__ import annotations

import datetime as dt
import math
import random

from workspace.batch import Reading

UTC = dt.timezone.utc
T = dt.datetime(2026, 11, 23, 16, 0, 0, 300000, tzinfo=UTC)
IDS = ["M-TR-1", "M-WR-01", "M-WR-02", "Zähler-7", "电表-3", "q\"uote", "back\\slash", "tab\tid", "A", "a", "B-10",
       "B-9", "\u2028sep", "é", "e\u0301", "M-GAS-MAIN"]
SEQS = [0, 7, 9, 10, 99, 100, 12345, 2**31 + 5]


def cases() -> list[tuple[str, int, str, list[Reading], dict | None]]:
    """(plant, seq, source, readings, note) for every pinned case."""
    rng = random.Random(4)
    out = []
    specials = [0.0, -0.0, math.nan, math.inf, -math.inf, 1e-310, 5e-324, 1.7976931348623157e308, 0.1, -2.5]

    def val():
        return rng.choice(specials) if rng.random() < 0.2 else rng.uniform(-1e6, 1e6)

    for k in range(48):
        n = rng.choice([0, 1, 2, 3, 16, 50, 200])
        ids = rng.sample(IDS, rng.randint(1, len(IDS)))
        clock, tariffs = k % 5 == 3, k % 7 == 4
        times = [T + dt.timedelta(minutes=rng.randint(-3, 3), milliseconds=rng.randint(0, 999)) for _ in range(3)]
        if k % 4 == 0:
            times = times[:1]  # one poll instant, as a collector's cycle
        tz = dt.timezone(dt.timedelta(hours=8)) if k % 6 == 1 else UTC
        rs = []
        for i in range(n):
            m = ids[i % len(ids)] if k % 3 else rng.choice(ids)  # duplicates of a meter in some batches
            rs.append(Reading(
                m, rng.choice(times).astimezone(tz), val(), val(), val(), val(), val(), rng.choice([0, 1, 8, 65535]),
                (rng.choice(times) + dt.timedelta(seconds=rng.randint(-90, 90))) if clock and rng.random() < 0.7
                else None,
                tuple(val() for _ in range(4)) if tariffs and rng.random() < 0.6 else None))
        note = None
        if k % 8 == 5:
            note = {"kind": "correction", "author": "李工", "reason": "re-read\n\"by hand\"", "factor": 1.25,
                    "n": k, "nested": {"seq": 3, "source": "x"}}
        out.append((rng.choice(["plant-18", "P18", "厂-1"]), SEQS[k % len(SEQS)],
                    rng.choice(["modbus-tcp", "gw-07", "opcua", "simulator-history"]), rs, note))
    return out
