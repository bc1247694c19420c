"""Group commit: many producers, one write and one fsync per group, each acknowledged after its fsync.

The kill -9 test hammers a real journal from several threads of a child process and kills it at random
moments, several times over the same journal: every batch acknowledged before the kill is there after
reopening, at the seq it was acknowledged with, and no batch is there twice. (A process kill does not
drop the page cache, so this proves the ordering of write, fsync and acknowledgement, not the device's
own durability: that is what the fsync is for.)
"""

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import threading
from concurrent.futures import wait

import pytest

from tests.conftest import ROOT
from tests.workspace.test_journal import small_disk  # noqa: F401 - the 256 KiB tmpfs fixture
from workspace.batch import Reading, decode_batch, decode_columns, prepare_batch_columnar
from workspace.errors import DiskFullError, JournalError
from workspace.journal import Journal

T0 = dt.datetime(2026, 11, 24, 2, 0, tzinfo=dt.timezone.utc)


def _prepared(source, counter, meters=1):
    return prepare_batch_columnar("plant-18", source, [Reading(f"M-{i}", T0, float(counter)) for i in range(meters)])


def test_waiting_batches_share_one_fsync_and_get_their_seq_in_their_bytes(tmp_path):
    with Journal(tmp_path, writer=True) as j:
        assert j.append(b"first") == 0
        with j._lock:  # hold the writer back (as a long fsync would) while 50 batches arrive from 5 threads
            futs = {}

            def produce(t):
                for k in range(10):
                    futs[(t, k)] = j.submit(_prepared(f"gw-{t}", k))

            threads = [threading.Thread(target=produce, args=(t,)) for t in range(5)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            assert not any(f.done() for f in futs.values())  # nothing acknowledged before it is written
        wait(futs.values())
        # the writer took at most one batch before the lock was released and all the others in one group
        assert j.syncs <= 1 + 2
        seqs = {key: f.result() for key, f in futs.items()}
    assert sorted(seqs.values()) == list(range(1, 51))
    with Journal(tmp_path) as r:
        for (t, k), seq in seqs.items():
            b = decode_columns(r.read(seq))
            assert (b.seq, b.source, b.counter.tolist()) == (seq, f"gw-{t}", [float(k)])
        for t in range(5):  # each producer's batches in the order it submitted them
            assert [seqs[(t, k)] for k in range(10)] == sorted(seqs[(t, k)] for k in range(10))


def test_a_failing_batch_fails_alone_and_close_writes_what_waits(tmp_path):
    j = Journal(tmp_path, writer=True)
    with j._lock:
        a = j.submit(_prepared("s", 1))
        bad = j.submit(lambda seq: 1 / 0)
        notbytes = j.submit(lambda seq: "text")
        b = j.submit(_prepared("s", 2))
        c = j.submit(b"raw bytes")
    j.close()  # waits for the writer: everything submitted before close is written and acknowledged
    assert (a.result(), b.result(), c.result()) == (0, 1, 2)
    with pytest.raises(ZeroDivisionError):
        bad.result()
    with pytest.raises(TypeError, match="must be bytes"):
        notbytes.result()
    with pytest.raises(JournalError, match="read-only"):
        j.submit(b"late")
    with pytest.raises(JournalError, match="read-only"):
        Journal(tmp_path).submit(b"x")
    with Journal(tmp_path) as r:
        assert [decode_batch(r.read(k)).readings[0].counter for k in (0, 1)] == [1.0, 2.0]
        assert r.read(2) == b"raw bytes"


def test_full_disk_fails_the_group_and_acknowledges_nothing_of_it(small_disk):  # noqa: F811
    j = Journal(small_disk / "journal", writer=True)
    filler = small_disk / "filler"
    with open(filler, "wb") as f:
        f.write(b"\0" * (256 * 1024 - 24 * 1024))
    acked, k = [], 0
    with pytest.raises(DiskFullError, match=str(small_disk / "journal" / "journal.log")):
        while True:
            fut = j.submit(_prepared("gw", k, meters=40))
            acked.append(fut.result())
            k += 1
    assert acked == list(range(len(acked))) and acked
    with Journal(small_disk / "journal") as r:
        assert len(r) == len(acked)  # the refused batch left nothing behind
    os.remove(filler)  # space returns: the producer submits the same readings again, with the next seq
    assert j.submit(_prepared("gw", k, meters=40)).result() == len(acked)
    j.close()
    with Journal(small_disk / "journal") as r:
        assert decode_batch(r.read(len(acked))).seq == len(acked)


@pytest.mark.slow
def test_kill_9_while_threads_hammer_the_group_commit_loses_no_acknowledged_batch(tmp_path):
    rng = random.Random(4)
    acked: dict[tuple[str, int], int] = {}

    def record(line: bytes) -> None:
        assert line.startswith(b"ack "), line
        _, source, k, seq = line.decode().split()
        assert (source, int(k)) not in acked
        acked[(source, int(k))] = int(seq)

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for rnd in range(5):
        proc = subprocess.Popen([sys.executable, "-m", "tests._group_commit_child", str(tmp_path), str(rnd), "6"],
                                stdout=subprocess.PIPE, cwd=str(ROOT), env=env)
        opened = proc.stdout.readline().split()
        assert opened[0] == b"open" and int(opened[1]) >= len(acked)  # it reopened what the last round left
        seen, goal = 0, rng.randint(50, 400)
        while seen < goal:  # kill it at a random moment once it has acknowledged some hundreds of batches
            record(proc.stdout.readline())
            seen += 1
        os.kill(proc.pid, signal.SIGKILL)
        rest = proc.stdout.read()  # acknowledgements already written before the kill
        assert proc.wait() == -signal.SIGKILL
        lines = rest.split(b"\n")
        for line in lines[:-1]:  # the last piece: empty, or a line the kill cut short (not an ack)
            record(line + b"\n")
    with Journal(tmp_path, writer=True) as j:  # the writer repairs a torn tail, if the kill left one
        found = {}
        for seq, payload in j.records():
            b = decode_columns(payload)
            assert b.seq == seq
            key = (b.source, int(b.counter[0]))
            assert key not in found, f"batch {key} twice: seq {found[key]} and {seq}"
            found[key] = seq
    missing = {k: s for k, s in acked.items() if found.get(k) != s}
    assert not missing, f"{len(missing)} acknowledged batches lost or moved, e.g. {next(iter(missing.items()))}"
    assert len(acked) >= 5 * 50
    # and every producer's batches are there as a prefix of what it submitted: none skipped before an ack
    for (source, k), seq in acked.items():
        assert all((source, i) in found for i in range(k))
