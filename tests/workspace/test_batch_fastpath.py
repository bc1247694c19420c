"""The fast ``tanjian.batch/2`` encoders and the prepared batch (seq given at write time) keep every byte.

``tests/data/batch2_pins.json`` holds the SHA-256 of 48 varied batches (unicode and escaped meter ids,
duplicates, several instants and time zones, NaN, ±inf, -0.0, subnormals, device clocks, tariffs, notes
with floats, seq across digit boundaries) as the encoder of commit 0fc39e5 wrote them; that encoder's
bytes are checked by hand in tests/workspace/test_batch_columnar.py.
"""

import hashlib
import json
import struct
from pathlib import Path

import numpy as np
import pytest

from tests._batch2_cases import T, cases
from workspace.batch import (Reading, decode_columns, encode_batch_columnar, encode_columns, prepare_batch_columnar,
                             prepare_columns)

PINS = json.loads((Path(__file__).parents[1] / "data" / "batch2_pins.json").read_text())["sha256"]
CASES = cases()


@pytest.mark.parametrize("k", range(len(CASES)))
def test_every_pinned_batch_keeps_its_bytes(k):
    plant, seq, source, rs, note = CASES[k]
    data = encode_batch_columnar(plant, seq, source, rs, note)
    assert hashlib.sha256(data).hexdigest() == PINS[k]
    # the prepared batch gives the same bytes once it has its seq, and so do the columns
    assert prepare_batch_columnar(plant, source, rs, note)(seq) == data
    c = decode_columns(data)
    args = (c.meters, c.meter, c.time, c.counter, c.rate, c.voltage, c.current, c.power_factor, c.quality,
            c.device_time, c.note, c.tariffs)
    assert encode_columns(plant, seq, source, *args) == data
    assert prepare_columns(plant, source, *args)(seq) == data


def test_seq_changes_only_the_header_length_and_padding():
    # header length H grows by one digit from seq 9 to seq 10; the columns start at a multiple of 8 either way
    p = prepare_batch_columnar("P18", "modbus-tcp", [Reading("M-1", T, 7.25)])
    a, b = p(9), p(10)
    ha, hb = struct.unpack_from("<I", a, 16)[0], struct.unpack_from("<I", b, 16)[0]
    assert hb == ha + 1
    assert b'"seq":9,' in a[20:20 + ha] and b'"seq":10,' in b[20:20 + hb]
    pa, pb = -(20 + ha) % 8, -(20 + hb) % 8
    assert a[20 + ha + pa:] == b[20 + hb + pb:] == struct.pack("<qd", 1795449600300, 7.25) + (
        b"\x00" * 6 + b"\xf8\x7f") * 4 + struct.pack("<HH", 0, 0)
    assert len(p) == 8 + 8 * 5 + 2 + 2 and p.rows == 1
    with pytest.raises(ValueError, match="seq -1"):
        p(-1)


def test_a_meter_subset_of_the_collectors_list_names_only_the_meters_read():
    ids = ["M-3", "M-1", "M-2"]
    data = encode_columns("p", 0, "s", ids, [2, 0], [5, 5], [1.0, 2.0])
    c = decode_columns(data)
    assert c.meters == ["M-2", "M-3"] and c.meter.tolist() == [0, 1] and c.counter.tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match="out of range"):
        encode_columns("p", 0, "s", ids, [3], [5], [1.0])
    with pytest.raises(ValueError, match="distinct"):
        encode_columns("p", 0, "s", ["A", "A"], [0], [5], [1.0])
    assert np.isnan(decode_columns(encode_columns("p", 0, "s", ids, [1], [5], [1.0])).rate[0])
