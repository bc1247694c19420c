"""Per-tariff (尖峰平谷) energy registers end to end: Reading -> tanjian.batch/1 and /2 -> journal -> store.

Issue #5: DL/T 645 collection reads total and per-tariff active energy. The batch formats carry the four
tariff registers only when a reading has them (batches without them are byte-identical to before).
"""

import datetime as dt
import json
import math
import struct

import numpy as np

from workspace.batch import (Reading, decode_batch, decode_columns, encode_batch, encode_batch_columnar)

UTC = dt.timezone.utc
T = dt.datetime(2026, 11, 23, 16, 0, 0, 300000, tzinfo=UTC)
T_MS = 1795449600300  # `date -u -d 2026-11-23T16:00:00Z +%s` = 1795449600, plus 300 ms
NAN = b"\x00\x00\x00\x00\x00\x00\xf8\x7f"


def _same(a: Reading, b: Reading) -> bool:
    def eq(x, y):
        return (x is None and y is None) or (x is not None and y is not None and (
            x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y))))
    return (a.meter == b.meter and a.time == b.time and a.device_time == b.device_time
            and all(eq(getattr(a, f), getattr(b, f)) for f in ("counter", "rate", "voltage", "current",
                                                              "power_factor", "quality"))
            and ((a.tariffs is None and b.tariffs is None)
                 or (a.tariffs is not None and b.tariffs is not None
                     and all(eq(x, y) for x, y in zip(a.tariffs, b.tariffs)))))


def _readings(with_tariffs: bool, with_clock: bool = False) -> list[Reading]:
    dev = T + dt.timedelta(seconds=2) if with_clock else None
    return [
        Reading("M-2", T, 100.0, 3.0, device_time=dev,
                tariffs=(10.0, 35.0, 30.0, 25.0) if with_tariffs else None),
        Reading("M-1", T, 7.25, tariffs=(1.0, math.nan, 2.5, 3.75) if with_tariffs else None),
        Reading("M-3", T, 5.0),  # a meter without tariff registers
    ]


def test_batch1_without_tariffs_has_the_old_columns():
    obj = json.loads(encode_batch("P", 0, "s", _readings(False)))
    assert obj["columns"] == ["meter", "time", "counter", "rate", "voltage", "current", "power_factor", "quality"]


def test_batch1_tariff_columns_by_hand():
    obj = json.loads(encode_batch("P", 0, "s", _readings(True)))
    assert obj["columns"][8:] == ["tariff_1", "tariff_2", "tariff_3", "tariff_4"]
    rows = {r[0]: r for r in obj["rows"]}
    assert rows["M-1"][8:] == [1.0, None, 2.5, 3.75]
    assert rows["M-2"][8:] == [10.0, 35.0, 30.0, 25.0]
    assert rows["M-3"][8:] == [None, None, None, None]
    obj = json.loads(encode_batch("P", 0, "s", _readings(True, with_clock=True)))
    assert obj["columns"][8:] == ["device_time", "tariff_1", "tariff_2", "tariff_3", "tariff_4"]


def test_round_trip_both_formats_with_and_without_tariffs():
    for with_tariffs in (False, True):
        for with_clock in (False, True):
            rs = _readings(with_tariffs, with_clock)
            want = sorted(rs, key=lambda r: r.meter)
            for data in (encode_batch("P", 1, "s", rs), encode_batch_columnar("P", 1, "s", rs)):
                got = decode_batch(data).readings
                assert len(got) == 3 and all(_same(a, b) for a, b in zip(want, got)), (with_tariffs, with_clock)
                cols = decode_columns(data)
                if with_tariffs:
                    assert cols.tariffs.shape == (3, 4)
                    np.testing.assert_array_equal(cols.tariffs[1], [10.0, 35.0, 30.0, 25.0])
                    assert np.isnan(cols.tariffs[2]).all()
                else:
                    assert cols.tariffs is None


def test_batch2_tariff_columns_by_hand():
    rs = [Reading("M-2", T, 10.5, tariffs=(1.0, 2.0, 3.0, 4.5)), Reading("M-1", T, 7.25)]
    data = encode_batch_columnar("P18", 4, "dlt645", rs)
    header = ('{"columns":[["time","<i8"],["counter","<f8"],["rate","<f8"],["voltage","<f8"],["current","<f8"],'
              '["power_factor","<f8"],["tariff_1","<f8"],["tariff_2","<f8"],["tariff_3","<f8"],["tariff_4","<f8"],'
              '["meter","<u2"],["quality","<u2"]],"meters":["M-1","M-2"],"plant":"P18",'
              '"rows":2,"schema":"tanjian.batch/2","seq":4,"source":"dlt645","time0":"2026-11-23T16:00:00.300Z"}'
              ).encode()
    pad = (8 - (20 + len(header)) % 8) % 8
    expected = (b"tanjian.batch/2\n" + struct.pack("<I", len(header)) + header + b"\0" * pad
                + struct.pack("<qq", T_MS, T_MS) + struct.pack("<dd", 7.25, 10.5) + NAN * 8
                + NAN + struct.pack("<d", 1.0) + NAN + struct.pack("<d", 2.0)
                + NAN + struct.pack("<d", 3.0) + NAN + struct.pack("<d", 4.5)
                + struct.pack("<HH", 0, 1) + struct.pack("<HH", 0, 0))
    assert data == expected
