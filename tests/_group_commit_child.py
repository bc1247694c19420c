"""Child process of tests/workspace/test_group_commit.py: producers hammering the journal's group commit.

``python -m tests._group_commit_child JOURNAL_DIR ROUND THREADS`` opens the journal as its writer and starts
THREADS producer threads; each submits one-reading ``tanjian.batch/2`` batches (source ``r<ROUND>-t<k>``,
counter = the producer's running number) as prepared batches, waits for the acknowledgement and only then
writes ``ack <source> <number> <seq>`` to stdout with one ``os.write`` (atomic on a pipe). It runs until killed.
"""

import datetime as dt
import os
import sys
import threading

from workspace.batch import Reading, prepare_batch_columnar
from workspace.journal import Journal

T0 = dt.datetime(2026, 11, 24, 2, 0, tzinfo=dt.timezone.utc)


def producer(journal: Journal, source: str) -> None:
    k = 0
    while True:
        fut = journal.submit(prepare_batch_columnar("plant-18", source, [Reading("M-1", T0, float(k))]))
        seq = fut.result()
        os.write(1, f"ack {source} {k} {seq}\n".encode())
        k += 1


def main() -> None:
    folder, rnd, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    journal = Journal(folder, writer=True)
    os.write(1, f"open {journal.next_seq}\n".encode())
    for t in range(threads):
        threading.Thread(target=producer, args=(journal, f"r{rnd}-t{t}"), daemon=True).start()
    threading.Event().wait()


if __name__ == "__main__":
    main()
