"""The fault day, compressed (benchmarks/fault_day.yaml, schedule ``short``: every fault kind once, 3.25 simulated
hours at 90×): the real collector, anchoring loop, simulators, mosquitto, anvil and the S3 store through kill -9,
a full disk, a broker, chain node and object storage down, dead, flapping and garbled meters and a clock step.

Asserted (not timings): every acknowledged reading in the store exactly once, nothing in the store that was not
acknowledged; the store, the ledger and the chain caught up in order; every fault seen in ``tanjian status`` and
in the logs, and recovered; no supervised process exited by itself. The full day is a benchmark command
(``python -m benchmarks.fault_day``), not a test.
"""

from __future__ import annotations

import os
import shutil

import pytest

from benchmarks.fault_day import KINDS, SCHEDULE, load_schedule, markdown, run_day, schedule_settings


def test_the_schedule_is_data_and_its_errors_name_the_place(tmp_path):
    hours, faults = load_schedule(SCHEDULE, "short")
    assert {f.kind for f in faults} == set(KINDS)  # every kind of fault at least once
    assert all(f.at_s + f.minutes * 60 <= hours * 3600 for f in faults)
    _, day = load_schedule(SCHEDULE, "day")
    assert {f.kind for f in day} == set(KINDS)
    bad = tmp_path / "bad.yaml"
    bad.write_text("short:\n  faults:\n    - {at: '00:10', fault: meteor_strike, minutes: 5, target: x}\n")
    with pytest.raises(ValueError, match=r"bad.yaml:short.faults\[0\].fault: 'meteor_strike' is not one of"):
        load_schedule(bad, "short")
    bad.write_text("short:\n  faults:\n    - {at: '7 pm', fault: disk_full, minutes: 5, target: x}\n")
    with pytest.raises(ValueError, match=r"short.faults\[0\].at: '7 pm' is not HH:MM"):
        load_schedule(bad, "short")


@pytest.mark.slow
@pytest.mark.requires_anvil
def test_a_compressed_day_of_faults_loses_and_duplicates_nothing(tmp_path):
    if os.geteuid() != 0:
        pytest.fail("the fault day mounts a tmpfs (to fill the disk): tests run as root here")
    if not shutil.which("mosquitto") and not os.path.exists("/usr/sbin/mosquitto"):
        pytest.fail("mosquitto is missing (Debian package mosquitto, in the Makefile's APT_PACKAGES)")
    hours, faults = load_schedule(SCHEDULE, "short")
    speed, overrides = schedule_settings(SCHEDULE, "short")
    r = run_day(tmp_path / "day", hours, speed, faults, overrides=overrides, grace_s=120)
    table = markdown(r)
    (tmp_path / "fault-day.md").write_text(table)
    c = r["checks"]
    assert c["readings_acknowledged"] > 0 and c["journal_batches"] > 0, table
    assert c["lost"] == 0 and c["duplicated"] == 0 and c["unacknowledged_in_store"] == 0, table
    assert c["exactly_once"], table
    # caught up, in order: folded through the last batch, a leaf per batch, the last anchor covers them all
    assert c["store_folded_through"] == c["journal_batches"] - 1, table
    assert c["ledger_leaves"] == c["last_anchor_size"] == c["chain_latest_size"] == c["journal_batches"], table
    assert c["last_anchor_root_is_ledger_root"] and c["chain_latest_is_last_anchor"] and c["anchors_in_order"]
    assert r["crashes"] == {"collector": [], "anchoring": []}, table
    for row in r["faults"]:
        assert row["lost"] == 0 and row["duplicated"] == 0, (row, table)
        assert row["status"], f"fault {row['n']} ({row['fault']}) not seen in tanjian status\n{table}"
        assert row["log"], f"fault {row['n']} ({row['fault']}) not seen in the logs\n{table}"
        assert row["recover_wall_s"] is not None, f"fault {row['n']} ({row['fault']}) never recovered\n{table}"
    assert r["ok"], table
