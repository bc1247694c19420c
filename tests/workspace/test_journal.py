"""The journal: acknowledged means fsync'd; torn tails repaired, damage reported, a full disk survived."""

import datetime as dt
import os
import subprocess
import uuid

import pytest

from workspace.batch import Reading, decode_batch, encode_batch
from workspace.errors import DiskFullError, JournalDamaged, JournalError
from workspace.journal import HEADER, Journal

T0 = dt.datetime(2026, 11, 24, 2, 0, tzinfo=dt.timezone.utc)


def _batch(seq, n=3):
    rs = [Reading(f"M-WR-{i + 1:02d}", T0 + dt.timedelta(minutes=seq), 1000.0 + seq + i / 8, 12.5, 230.0, 20.0,
                  0.93, 0) for i in range(n)]
    return encode_batch("plant-18", seq, "test", rs)


def test_roundtrip_and_reopen(tmp_path):
    with Journal(tmp_path, writer=True) as j:
        for s in range(5):
            assert j.append(_batch(s)) == s
    r = Journal(tmp_path)
    assert len(r) == 5
    b = decode_batch(r.read(3))
    assert b.seq == 3 and b.readings[0].counter == 1003.0 and b.readings[0].time == T0 + dt.timedelta(minutes=3)
    assert [s for s, _ in r.records(2)] == [2, 3, 4]


def test_canonical_bytes_are_stable():
    # RFC 8785: sorted keys, no spaces, shortest numbers; rows sorted by (meter, time)
    r = [Reading("M-B", T0, 2.5, quality=8), Reading("M-A", T0, 1.0)]
    b = encode_batch("p", 7, "s", r)
    assert b == (b'{"columns":["meter","time","counter","rate","voltage","current","power_factor","quality"],'
                 b'"plant":"p","rows":[["M-A","2026-11-24T02:00:00.000Z",1,null,null,null,null,0],'
                 b'["M-B","2026-11-24T02:00:00.000Z",2.5,null,null,null,null,8]],"schema":"tanjian.batch/1",'
                 b'"seq":7,"source":"s"}')


def test_torn_tail_is_removed_by_the_writer(tmp_path, caplog):
    with Journal(tmp_path, writer=True) as j:
        j.append(_batch(0))
        j.append(_batch(1))
    good = (tmp_path / "journal.log").stat().st_size
    rec = _batch(2)
    with open(tmp_path / "journal.log", "ab") as f:  # a crash half way through a record
        f.write(HEADER.pack(b"TJB1", len(rec), 0) + rec[:10])
    assert len(Journal(tmp_path)) == 2  # a reader ignores it
    with Journal(tmp_path, writer=True) as j:
        assert len(j) == 2 and j.next_seq == 2
        assert (tmp_path / "journal.log").stat().st_size == good
        assert j.append(_batch(2)) == 2
    assert "torn by a crash" in caplog.text


def test_damage_in_the_middle_is_reported_and_nothing_changed(tmp_path):
    with Journal(tmp_path, writer=True) as j:
        for s in range(3):
            j.append(_batch(s))
    path = tmp_path / "journal.log"
    data = bytearray(path.read_bytes())
    data[HEADER.size + 5] ^= 0xFF  # inside batch 0's payload
    path.write_bytes(bytes(data))
    with pytest.raises(JournalDamaged, match=r"offset 0 .*checksum mismatch.*Nothing was changed"):
        Journal(tmp_path, writer=True)
    assert path.read_bytes() == bytes(data)


def test_single_writer(tmp_path):
    with Journal(tmp_path, writer=True):
        with pytest.raises(JournalError, match="another process is writing"):
            Journal(tmp_path, writer=True)


@pytest.fixture
def small_disk(tmp_path):
    """A real 256 KiB tmpfs: the disk that fills up."""
    mnt = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], capture_output=True,
                       text=True)
    if r.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs to fill (tests run as root here): {r.stderr}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_full_disk_keeps_the_journal_whole(small_disk):
    j = Journal(small_disk / "journal", writer=True)
    filler = small_disk / "filler"
    with open(filler, "wb") as f:  # leave a little room
        f.write(b"\0" * (256 * 1024 - 24 * 1024))
    acked = 0
    with pytest.raises(DiskFullError, match=str(small_disk / "journal" / "journal.log")):
        while True:
            j.append(_batch(acked, n=40))
            acked += 1
    assert acked > 0
    # what was acknowledged is intact, the refused record left nothing behind
    r = Journal(small_disk / "journal")
    assert len(r) == acked
    assert [decode_batch(p).seq for _, p in r.records()] == list(range(acked))
    # space returns: the same journal goes on
    os.remove(filler)
    assert j.append(_batch(acked, n=40)) == acked
    j.close()
    assert len(Journal(small_disk / "journal")) == acked + 1


def test_group_commit_appends_all_with_one_write(tmp_path):
    from workspace.batch import Reading, decode_batch, encode_batch_columnar

    t = dt.datetime(2026, 11, 24, 2, 0, tzinfo=dt.timezone.utc)
    with Journal(tmp_path / "j", writer=True) as j:
        assert j.append(b"first") == 0
        payloads = [encode_batch_columnar("p", 1 + k, "t", [Reading("M-1", t, 10.0 + k)]) for k in range(3)]
        assert j.append_many(payloads) == [1, 2, 3]
        assert j.append_many([]) == []
        assert j.next_seq == 4
    with Journal(tmp_path / "j") as r:
        assert [p for _, p in r.records()] == [b"first", *payloads]
        assert [decode_batch(r.read(k)).readings[0].counter for k in (1, 2, 3)] == [10.0, 11.0, 12.0]
