"""The store's object storage unreachable, seen at once: the keeper logs a failing fold in one line (and
clears it, saying so, when the fold works again, nothing lost), and ``tanjian status`` answers without the
store, naming it as a problem, whether the server refuses connections or accepts them and never answers."""

import datetime as dt
import logging
import socket

import pytest

from tests.objectstore import s3_config, start_s3_server
from tests.workspace.test_store import T0, _by_hand
from workspace.journal import Journal
from workspace.keeper import Keeper
from workspace.store import Store

LABEL = "s3://plants/plant-18/store"


def test_network_settings_are_data_and_bounded():
    from workspace.storage import network, parse_location

    n = network()
    # worst case of one request against a refusing server: 3 tries, waits 0.2 s then 0.4 s = 0.6 s of backoff,
    # far below the status deadline of 5 s (icechunk's defaults retry for minutes)
    assert (n["max_tries"], n["initial_backoff_ms"], n["max_backoff_ms"]) == (3, 200, 2000)
    assert n["status_deadline_s"] == 5
    cfg = parse_location(LABEL + "?endpoint_url=http://127.0.0.1:9&allow_http=true").repository_config()
    assert cfg.storage.retries.max_tries == 3 and cfg.storage.retries.max_backoff_ms == 2000
    assert parse_location("var/store").repository_config() is None  # a folder: icechunk's defaults


def test_fold_failure_is_logged_at_once_and_recovers_with_nothing_lost(tmp_path, s3, caplog):
    from collectors.service import backfill
    from tanjian.demo.history import seed_history
    from tanjian.simulator.model import LoadModel

    cfg = s3_config(tmp_path, s3["endpoint"])
    seed_history(cfg, T0, T0 + dt.timedelta(hours=2, minutes=1))  # readings 00:00 .. 02:00, folded
    journal = Journal(cfg.paths.journal, writer=True)
    keeper = Keeper.open(cfg, journal)
    assert keeper.fold() == 0 and keeper.fold_error is None

    s3["server"].stop()
    backfill(cfg.site, journal, LoadModel(cfg.site, cfg.simulation.seed),
             T0 + dt.timedelta(hours=2, minutes=1), T0 + dt.timedelta(hours=3, minutes=1))
    caplog.set_level(logging.INFO, logger="workspace.keeper")
    for _ in range(2):  # two fold attempts while it is down: one error line, not one per attempt
        with pytest.raises(Exception):
            keeper.fold()
    # at most two error lines for the whole outage, not one per attempt: "no answer within 5 s" as soon as a
    # step has waited that long (the client may wait longer on a dead server), then the client's own error
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert 1 <= len(errors) <= 2, errors
    for e in errors:
        assert LABEL in e and "journal keeps every acknowledged reading" in e and "the fold will retry" in e \
            and "\n" not in e
    assert keeper.fold_error and "Connection refused" in keeper.fold_error

    caplog.clear()
    s3["server"] = start_s3_server(s3["port"])
    # what is left is folded now; it may be nothing: moto's stopped server can still finish a request on a
    # connection opened before the stop, so a commit of the outage may have gone through before an error.
    # Exactly once either way: checked below against the counters, and the fold state against the journal
    keeper.fold()
    assert keeper.fold_error is None
    back = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(back) == 1 and "works again" in back[0] and LABEL in back[0]
    journal.close()

    # nothing lost, nothing twice: the plant's electricity of 00:00..03:00 equals the counters' differences
    # worked by hand (tests/handworked.py: last minus first counter of each meter, times its CT/PT ratio)
    again = Store.open(cfg.paths.store, cfg.site)
    e = again.energy("2026-11-24 00:00", "2026-11-24 03:00", freq="1h")
    assert float(e.sum()) == pytest.approx(_by_hand(cfg, 3), rel=1e-12)
    assert again.last_folded_seq == len(Journal(cfg.paths.journal)) - 1


def _status(cfg):
    from tanjian.commands.status import gather

    return gather(cfg)


def test_status_names_an_unreachable_store_and_answers_the_rest(tmp_path, s3):
    from tanjian.demo.history import seed_history

    cfg = s3_config(tmp_path, s3["endpoint"])
    seed_history(cfg, T0, T0 + dt.timedelta(hours=1, minutes=1))
    up = _status(cfg)
    assert "error" not in up["store"] and not any("store" in p for p in up["problems"])

    s3["server"].stop()  # refused connections: fails after the bounded retries
    down = _status(cfg)
    hit = [p for p in down["problems"] if p.startswith(f"store unreachable: {LABEL}: ")]
    assert len(hit) == 1, down["problems"]
    assert down["store"]["reachable"] is False
    # everything that does not need the store is still answered
    assert down["journal"]["batches"] == up["journal"]["batches"] > 0
    assert down["audit"]["verifies"] and down["disk"]["free_bytes"] > 0 and "collector" in down

    s3["server"] = start_s3_server(s3["port"])
    assert "error" not in _status(cfg)["store"]


def test_status_gives_up_on_a_store_that_never_answers(tmp_path, s3):
    """A server that accepts connections and never answers (a hung MinIO, a black-holed route): the probe's
    deadline answers, not the client's timeouts."""
    from tanjian.demo.history import seed_history
    from workspace.config import load_config

    cfg = s3_config(tmp_path, s3["endpoint"])
    seed_history(cfg, T0, T0 + dt.timedelta(minutes=31))
    mute = socket.socket()
    mute.bind(("127.0.0.1", 0))
    mute.listen(16)  # the kernel completes the handshakes; nobody reads or answers
    try:
        yaml_file = tmp_path / "plant-18" / "tanjian.yaml"  # the same plant, its endpoint now the mute port
        yaml_file.write_text(yaml_file.read_text().replace(s3["endpoint"],
                                                           f"http://127.0.0.1:{mute.getsockname()[1]}"))
        down = _status(load_config(yaml_file))
    finally:  # hang up on the waiting client, then stop listening: its thread ends (the process exits cleanly)
        mute.settimeout(0.5)
        try:
            while True:
                mute.accept()[0].close()
        except OSError:
            pass
        mute.close()
    from workspace.storage import _PROBES, probes_running

    for t in _PROBES:
        t.join(60)
    assert not probes_running()
    assert f"store unreachable: {LABEL}: no answer within 5 s" in down["problems"]
    assert down["journal"]["batches"] > 0
