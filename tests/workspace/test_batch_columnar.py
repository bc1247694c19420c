"""tanjian.batch/2: the bytes as documented, canonical, decoded exactly; folded like batch/1; CLOCK_DRIFT."""

import datetime as dt
import hashlib
import math
import struct
import subprocess

import numpy as np
import pytest

from chain.merkle import leaf_hash
from workspace.batch import (MAGIC2, NO_TIME, Reading, batch_header, decode_batch, decode_columns,
                             encode_batch, encode_batch_columnar, encode_columns)
from workspace.quality import Q

UTC = dt.timezone.utc
T = dt.datetime(2026, 11, 23, 16, 0, 0, 300000, tzinfo=UTC)  # local midnight 24 Nov (Asia/Shanghai) + 0.3 s
T_MS = 1795449600300  # `date -u -d 2026-11-23T16:00:00Z +%s` = 1795449600, plus 300 ms


def test_bytes_are_as_documented_by_hand():
    rs = [Reading("M-2", T, 10.5, 2.0, quality=3), Reading("M-1", T + dt.timedelta(minutes=1), 7.25)]
    data = encode_batch_columnar("P18", 4, "modbus-tcp", rs)
    header = ('{"columns":[["time","<i8"],["counter","<f8"],["rate","<f8"],["voltage","<f8"],["current","<f8"],'
              '["power_factor","<f8"],["meter","<u2"],["quality","<u2"]],"meters":["M-1","M-2"],"plant":"P18",'
              '"rows":2,"schema":"tanjian.batch/2","seq":4,"source":"modbus-tcp","time0":"2026-11-23T16:00:00.300Z"}'
              ).encode()
    pad = (8 - (20 + len(header)) % 8) % 8
    nan = b"\x00\x00\x00\x00\x00\x00\xf8\x7f"
    # rows sorted by meter id: M-1 (one minute later) first, then M-2
    expected = (b"tanjian.batch/2\n" + struct.pack("<I", len(header)) + header + b"\0" * pad
                + struct.pack("<qq", T_MS + 60_000, T_MS)
                + struct.pack("<dd", 7.25, 10.5) + nan + struct.pack("<d", 2.0) + nan * 6
                + struct.pack("<HH", 0, 1) + struct.pack("<HH", 0, 3))
    assert data == expected
    assert (20 + len(header) + pad) % 8 == 0
    assert batch_header(data)["seq"] == 4


def test_leaf_is_recomputed_with_sha256sum(tmp_path):
    data = encode_batch_columnar("P18", 0, "test", [Reading("M-1", T, 1.0)])
    f = tmp_path / "batch.bin"
    f.write_bytes(data)
    out = subprocess.run(["sh", "-c", f"(printf '\\000'; cat {f}) | sha256sum"], capture_output=True, text=True,
                         check=True).stdout.split()[0]
    assert bytes.fromhex(out) == leaf_hash(data)
    assert hashlib.sha256(b"\0" + data).hexdigest() == out


def test_same_readings_same_bytes_whatever_the_order_or_nan():
    a = [Reading("B", T, 1.0, -0.0), Reading("A", T, 2.0, math.inf), Reading("A", T - dt.timedelta(minutes=1), 1.5)]
    b = [a[2], a[0], Reading("A", T, 2.0, float("-nan"))]
    assert encode_batch_columnar("p", 1, "s", a) == encode_batch_columnar("p", 1, "s", b)
    cols = decode_columns(encode_batch_columnar("p", 1, "s", a))
    assert cols.meters == ["A", "B"]
    assert cols.meter.tolist() == [0, 0, 1]
    assert cols.time.tolist() == [T_MS - 60_000, T_MS, T_MS]
    assert cols.counter.tolist() == [1.5, 2.0, 1.0]
    assert math.copysign(1, cols.rate[2]) == 1.0 and math.isnan(cols.rate[1])
    # the column encoder gives the same bytes as the Reading encoder
    ids = ["B", "A"]
    assert encode_columns("p", 1, "s", ids, [0, 1, 1], [T_MS, T_MS, T_MS - 60_000], [1.0, 2.0, 1.5],
                          [-0.0, math.inf, math.nan]) == encode_batch_columnar("p", 1, "s", a)


def test_roundtrip_through_readings_with_device_clock_and_note():
    dev = T - dt.timedelta(seconds=75)
    rs = [Reading("M-1", T, 3.0, 1.0, 230.0, 4.0, 0.9, 5, dev), Reading("M-2", T, 4.0)]
    data = encode_batch_columnar("p", 2, "s", rs, note={"kind": "correction", "author": "li", "reason": "re-read",
                                                        "factor": 1.5})
    b = decode_batch(data)
    assert b.note == {"kind": "correction", "author": "li", "reason": "re-read", "factor": 1.5}
    assert b.readings[0] == rs[0]
    assert b.readings[1].device_time is None and b.readings[1].counter == 4.0
    assert decode_columns(data).device_time.tolist() == [T_MS - 75_000, NO_TIME]
    # the JSON batch carries the device clock as a ninth column, and only then
    j = encode_batch("p", 2, "s", rs)
    assert b'"device_time"' in j and b'"2026-11-23T15:58:45.300Z"' in j
    assert decode_batch(j).readings[0] == rs[0]
    assert b"device_time" not in encode_batch("p", 2, "s", [rs[1]])


@pytest.mark.parametrize("cut, match", [
    (lambda d: d[:-1], "runs past the end"),
    (lambda d: d + b"\0", "bytes after the last column"),
    (lambda d: d[:16] + struct.pack("<I", 10**6) + d[20:], "header length"),
    (lambda d: b"tanjian.batch/3\n" + d[16:], "neither a tanjian.batch/2 batch nor"),
])
def test_damaged_batches_are_refused_with_the_reason(cut, match):
    data = encode_batch_columnar("p", 0, "s", [Reading("M-1", T, 1.0)])
    with pytest.raises(ValueError, match=match):
        decode_columns(cut(data))


def test_meter_index_beyond_the_header_is_refused():
    data = bytearray(encode_batch_columnar("p", 0, "s", [Reading("M-1", T, 1.0)]))
    data[-4:-2] = struct.pack("<H", 1)  # the meter column of the only row: index 1 of a 1-meter list
    with pytest.raises(ValueError, match="meter index"):
        decode_columns(bytes(data))
    assert MAGIC2 == bytes(data[:16])


def _t(k):
    return T + dt.timedelta(minutes=k)


def test_columnar_and_json_batches_fold_to_the_same_energy(fresh):
    cfg, j, s = fresh
    pid = cfg.site.plant.id
    # M-TR-1 counters 1000, 1010, 1030 at local 00:00, 00:01, 00:02 (JSON, then binary, then JSON)
    j.append(encode_batch(pid, j.next_seq, "t", [Reading("M-TR-1", _t(0), 1000.0)]))
    j.append(encode_batch_columnar(pid, j.next_seq, "t", [Reading("M-TR-1", _t(1), 1010.0),
                                                          Reading("M-TR-2", _t(1), 50.0)]))
    j.append(encode_batch(pid, j.next_seq, "t", [Reading("M-TR-1", _t(2), 1030.0)]))
    j.append(encode_batch_columnar(pid, j.next_seq, "t", [Reading("M-TR-2", _t(2), 54.5)]))
    r = s.fold(j)
    assert (r.seq_from, r.seq_to, r.readings) == (0, 3, 5)
    e = s.energy("2026-11-24 00:00", "2026-11-24 00:03", meters=["M-TR-1", "M-TR-2"], freq="1min")
    # minute 00:00-00:01 ends at M-TR-1's second reading: 10 kWh; 00:01-00:02: 20 and 4.5
    assert e.sel(group="M-TR-1").values[:2].tolist() == [10.0, 20.0]
    assert math.isnan(e.sel(group="M-TR-2").values[0]) and e.sel(group="M-TR-2").values[1] == 4.5


def test_duplicate_inside_a_columnar_batch_keeps_the_first(fresh):
    cfg, j, s = fresh
    pid = cfg.site.plant.id
    j.append(encode_batch_columnar(pid, 0, "t", [Reading("M-TR-1", _t(0), 1000.0),
                                                 Reading("M-TR-1", _t(1), 1010.0),
                                                 Reading("M-TR-1", _t(1) + dt.timedelta(seconds=20), 1099.0)]))
    s.fold(j)
    ds = s.dataset()
    first = int(ds.attrs["fold"]["first_slot"])
    sub = ds.sel(meter="M-TR-1").isel(time=slice(first, first + 2))
    assert sub.counter.values.tolist() == [1000.0, 1010.0]
    assert int(sub.quality.values[1]) & int(Q.DUPLICATE)


def test_clock_drift_beyond_the_tolerance_is_flagged(fresh):
    cfg, j, s = fresh
    pid = cfg.site.plant.id
    assert s.clock_tolerance_s == 60.0
    rs = [Reading("M-TR-1", _t(0), 1000.0, device_time=_t(0) - dt.timedelta(seconds=30)),   # within 60 s
          Reading("M-TR-1", _t(1), 1010.0, device_time=_t(1) + dt.timedelta(seconds=61)),   # 61 s ahead
          Reading("M-TR-1", _t(2), 1020.0),                                                 # no device clock
          Reading("M-TR-1", _t(3), 1030.0, device_time=_t(3) - dt.timedelta(minutes=5))]    # 5 min behind
    j.append(encode_batch_columnar(pid, 0, "t", rs))
    j.append(encode_batch(pid, 1, "t", [Reading("M-TR-1", _t(4), 1040.0,
                                                 device_time=_t(4) - dt.timedelta(seconds=90))]))
    s.fold(j)
    rep = s.quality_report("2026-11-24 00:00", "2026-11-24 00:05", meters=["M-TR-1"])
    assert rep.loc["M-TR-1", "clock_drift"] == 3
    ds = s.dataset()
    first = int(ds.attrs["fold"]["first_slot"])
    q = ds.sel(meter="M-TR-1").quality.values[first:first + 5].astype(int)
    assert [(v & int(Q.CLOCK_DRIFT)) != 0 for v in q] == [False, True, False, True, True]


def test_any_damage_is_a_value_error_never_a_crash():
    from hypothesis import given, settings
    from hypothesis import strategies as hs

    good = encode_batch_columnar("p", 0, "s", [Reading("M-1", T, 1.0, 2.0), Reading("M-2", T, 3.0)])

    @settings(max_examples=300, deadline=None)
    @given(hs.integers(0, len(good) - 1), hs.integers(0, 255), hs.integers(0, len(good)))
    def check(pos, byte, cut):
        bad = (good[:pos] + bytes([byte]) + good[pos + 1:])[:cut]
        try:
            cols = decode_columns(bad)
        except ValueError:
            return
        assert len(cols.meter) == len(cols.time) and int(cols.meter.max()) < len(cols.meters)

    check()
