"""Hand readings: plausibility (hand-worked cases on a tiny store), and the way from the inbox to the
journal, the ledger leaf and the store (flagged MANUAL, with the energy the counter delta implies).

The store holds two automatic readings of M-TR-1 (Plant 18, Asia/Shanghai, ``rated_power_kw``
2375 kW): 1000.00 kWh at 08:00 and 1010.00 kWh at 08:01 local time on 2026-03-02. The spike margin
is 1.5, so the largest plausible average rate is 2375 × 1.5 = 3562.5 kW.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from zoneinfo import ZoneInfo

import pytest

from workspace.batch import Reading, decode_batch, encode_batch
from workspace.business.manual import check_plausible, last_reading, rating, submit_manual_reading
from workspace.errors import TanjianError
from workspace.evidence import EvidenceStore
from workspace.inbox import drain, submit
from workspace.journal import Journal
from workspace.quality import Q
from workspace.store import Store

TZ = ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=TZ)
NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=TZ)
METER = "M-TR-1"


def jpeg(color=(200, 30, 30)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (32, 24), color).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture
def ws(plant_cfg):
    """The Plant 18 workspace with M-TR-1 read at 08:00 (1000 kWh) and 08:01 (1010 kWh)."""
    cfg = plant_cfg
    journal = Journal(cfg.paths.journal, writer=True)
    journal.append(encode_batch(cfg.site.plant.id, 0, "test", [
        Reading(METER, T0 + dt.timedelta(seconds=0.3), 1000.0),
        Reading(METER, T0 + dt.timedelta(minutes=1, seconds=0.3), 1010.0)]))
    store = Store.open(cfg.paths.store, cfg.site, create=True)
    store.fold(journal)
    yield cfg, journal, store
    journal.close()


def codes(problems):
    return [(p.severity, p.code) for p in problems]


# -- plausibility ------------------------------------------------------------------------------------
def test_last_reading_and_rating(ws):
    cfg, _, store = ws
    last = last_reading(store, METER)
    assert last.time == T0 + dt.timedelta(minutes=1) and last.counter == 1010.0
    assert last_reading(store, "M-TR-2") is None
    assert rating(cfg.site, METER) == (2375.0, "meter M-TR-1 rated_power_kw")


@pytest.mark.parametrize(("minutes", "counter", "expected"), [
    (61, 2010.0, []),                                                   # 1000 kWh in 1 h: 1000 kW
    (61, 4572.5, []),                                                   # 3562.5 kWh in 1 h: at the limit
    (61, 4573.0, [("error", "above_rating")]),                          # 3563 kW > 3562.5 kW
    (2, 1069.0, []),                                                    # 59 kWh in 1 min: 3540 kW
    (2, 1070.0, [("error", "above_rating")]),                           # 60 kWh in 1 min: 3600 kW
    (61, 1009.99, [("error", "counter_below_last")]),
    (61, 1010.0, []),                                                   # an idle hour
    (1, 1010.5, [("error", "slot_taken")]),                             # 08:01: the minute has a reading
    (-1, 999.0, [("warning", "before_last")]),                          # 07:59: a late reading
    (-1, 1011.0, [("warning", "before_last"), ("error", "above_later")]),
    (126, 2010.0, [("error", "time_future")]),                          # 10:06 > now 10:00 + 5 min
    (124, 2010.0, []),                                                  # 10:04: within the tolerance
])
def test_hand_worked_plausibility(ws, minutes, counter, expected):
    cfg, _, store = ws
    got = check_plausible(cfg.site, store, METER, T0 + dt.timedelta(minutes=minutes), counter, now=NOW)
    assert codes(got) == expected


def test_messages_name_meter_last_reading_and_limit(ws):
    cfg, _, store = ws
    [p] = check_plausible(cfg.site, store, METER, T0 + dt.timedelta(minutes=61), 4573.0, now=NOW)
    assert "M-TR-1" in p.message and "1,010.00 kWh at 2026-03-02 08:01" in p.message
    assert "3,563.0 kW" in p.message and "3,562.5 kW" in p.message and "2,375.0 × 1.5" in p.message
    [p] = check_plausible(cfg.site, store, METER, T0 + dt.timedelta(minutes=61), 1000.0, now=NOW)
    assert "1,000.00 kWh is below the last reading 1,010.00 kWh at 2026-03-02 08:01" in p.message
    assert "tanjian replace-meter" in p.message


def test_no_history_unknown_meter_and_bad_value(ws):
    cfg, _, store = ws
    assert codes(check_plausible(cfg.site, store, "M-TR-2", NOW, 5.0, now=NOW)) == [("warning", "no_history")]
    assert codes(check_plausible(cfg.site, None, METER, NOW, 5.0, now=NOW)) == [("warning", "no_history")]
    assert codes(check_plausible(cfg.site, store, "M-NOPE", NOW, 5.0, now=NOW)) == [("error", "unknown_meter")]
    assert codes(check_plausible(cfg.site, store, METER, NOW, -1.0, now=NOW)) == [("error", "not_a_number")]
    assert codes(check_plausible(cfg.site, store, METER, NOW, float("nan"), now=NOW)) == [("error", "not_a_number")]


def test_a_recorded_meter_swap_allows_a_lower_counter(ws):
    """Swap at 08:31: old meter's final 1200 kWh, new meter's initial 0. At 09:01 the new meter shows
    300 kWh: (1200 - 1010) + (300 - 0) = 490 kWh in 1 h, plausible; 3000 kWh would be 3190 kW... still
    under 3562.5 kW, and 3400 kWh means 3590 kW, above it."""
    cfg, journal, store = ws
    submit(cfg.paths.inbox, {"kind": "meter_replaced", "author": "li.wei", "reason": "meter failed",
                             "meter": METER, "time": (T0 + dt.timedelta(minutes=31)).isoformat(),
                             "old_final": 1200.0, "new_initial": 0.0})
    drain(cfg.paths.inbox, journal, cfg.site.plant.id)
    store.fold(journal)
    at = T0 + dt.timedelta(minutes=61)
    assert codes(check_plausible(cfg.site, store, METER, at, 300.0, now=NOW)) == []
    assert codes(check_plausible(cfg.site, store, METER, at, 3000.0, now=NOW)) == []
    assert codes(check_plausible(cfg.site, store, METER, at, 3400.0, now=NOW)) == [("error", "above_rating")]


# -- from the inbox to the store ---------------------------------------------------------------------
def test_manual_reading_is_journaled_with_its_photo_hash_and_folded_as_manual(ws):
    cfg, journal, store = ws
    photo = jpeg()
    at = T0 + dt.timedelta(minutes=61)  # 09:01, 1000 kWh after the 08:01 reading
    sub = submit_manual_reading(cfg.site, store, cfg.paths.inbox, cfg.paths.evidence, meter=METER, time=at,
                                counter=2010.0, reader="zhang.min", photo=photo, photo_name="IMG_0042.jpg",
                                now=NOW)
    sha = hashlib.sha256(photo).hexdigest()
    assert sub.photo.sha256 == sha and sub.problems == []
    # the photo is evidence, the request waits in the inbox
    ev = EvidenceStore(cfg.paths.evidence).get(sha)
    assert ev.path.read_bytes() == photo and ev.meta["media_type"] == "image/jpeg"
    assert ev.meta["seen"][0]["author"] == "zhang.min" and ev.meta["seen"][0]["name"] == "IMG_0042.jpg"
    req = json.loads(sub.request.read_text())
    assert req["kind"] == "manual_reading" and req["photo_sha256"] == sha and req["counter"] == 2010.0

    assert drain(cfg.paths.inbox, journal, cfg.site.plant.id) == 1
    assert not list(cfg.paths.inbox.glob("*.json"))
    payload = journal.read(1)
    batch = decode_batch(payload)
    assert batch.source == "inbox:manual_reading"
    assert batch.note["kind"] == "manual_reading" and batch.note["author"] == "zhang.min"
    assert batch.note["photo_sha256"] == sha and batch.note["meter"] == METER
    assert batch.note["submitted_at"] == "2026-03-02T02:00:00.000Z"  # 10:00 in Shanghai
    assert f'"photo_sha256":"{sha}"'.encode() in payload  # in the bytes the ledger leaf hashes
    [r] = batch.readings
    assert (r.meter, r.time, r.counter, r.quality) == (METER, at, 2010.0, int(Q.MANUAL))

    r = store.fold(journal)
    assert r.readings == 1
    assert store.versions()[0]["message"].startswith("manual_reading by zhang.min: hand reading")
    # 1000 kWh between 08:01 and 09:01, spread over the 60 minutes (no profile yet: evenly)
    e = store.energy(T0 + dt.timedelta(minutes=1), at, meters=[METER], freq=None)
    assert float(e.sel(group=METER)) == pytest.approx(1000.0, abs=1e-9)
    minute = store.energy(at - dt.timedelta(minutes=1), at, meters=[METER], freq="1min")
    assert float(minute.values[0, 0]) == pytest.approx(1000.0 / 60, abs=1e-9)
    q = store.quality_report(T0, T0 + dt.timedelta(hours=2), meters=[METER])
    assert q.loc[METER, "manual"] == 1 and q.loc[METER, "readings"] == 3
    last = last_reading(store, METER)
    assert (last.time, last.counter) == (at, 2010.0)


def test_blocked_submissions_store_nothing(ws):
    cfg, _, store = ws
    at = T0 + dt.timedelta(minutes=61)
    kw = dict(meter=METER, time=at, reader="zhang.min", photo=jpeg(), now=NOW)
    with pytest.raises(TanjianError, match="above the limit 3,562.5 kW"):
        submit_manual_reading(cfg.site, store, cfg.paths.inbox, cfg.paths.evidence, counter=9999.0, **kw)
    with pytest.raises(TanjianError, match="has no stored reading yet.*confirm"):
        submit_manual_reading(cfg.site, store, cfg.paths.inbox, cfg.paths.evidence, counter=5.0,
                              **{**kw, "meter": "M-TR-2"})
    with pytest.raises(TanjianError, match="not a JPEG, PNG, WebP or HEIC"):
        submit_manual_reading(cfg.site, store, cfg.paths.inbox, cfg.paths.evidence, counter=2010.0,
                              **{**kw, "photo": b"GIF89a not a photo"})
    with pytest.raises(TanjianError, match="reader's name"):
        submit_manual_reading(cfg.site, store, cfg.paths.inbox, cfg.paths.evidence, counter=2010.0,
                              **{**kw, "reader": "  "})
    assert not cfg.paths.inbox.exists() or not list(cfg.paths.inbox.glob("*.json"))
    assert not cfg.paths.evidence.exists()
    # a warning confirmed: queued, and the note says which warnings the reader confirmed
    sub = submit_manual_reading(cfg.site, store, cfg.paths.inbox, cfg.paths.evidence, counter=5.0,
                                confirmed=True, **{**kw, "meter": "M-TR-2"})
    assert json.loads(sub.request.read_text())["confirmed_warnings"] == ["no_history"]


def test_inbox_refuses_a_malformed_manual_reading(tmp_path):
    good = {"kind": "manual_reading", "author": "zhang.min", "reason": "hand reading", "meter": METER,
            "time": "2026-03-02T09:01:00+08:00", "counter": 2010.0, "photo_sha256": "ab" * 32}
    submit(tmp_path / "inbox", good)
    for bad, msg in [({"photo_sha256": "xyz"}, "photo_sha256 'xyz' is not 64 hex digits"),
                     ({"time": "2026-03-02T09:01:00"}, "has no zone"),
                     ({"counter": "twelve"}, "counter 'twelve' is not a number"),
                     ({"counter": -1}, "must be a finite number >= 0"),
                     ({"meter": ""}, "needs 'meter'")]:
        with pytest.raises(TanjianError, match=msg):
            submit(tmp_path / "inbox", {**good, **bad})


def test_the_photo_is_verifiable_against_the_anchored_batch(ws, tmp_path):
    """Photo → evidence → ledger leaf → anchored root (eth-tester chain) → exported proof: the photo
    passes the ``document`` check; one changed byte fails it, naming the batch and the meter."""
    from eth_account import Account

    from chain.anchor import AnchorService
    from chain.bundle import export_batch
    from chain.deploy import ensure_deployment
    from chain.ledger import Ledger
    from chain.node import connect
    from chain.verify import verify_files

    cfg, journal, store = ws
    photo = jpeg((10, 120, 200))
    sub = submit_manual_reading(cfg.site, store, cfg.paths.inbox, cfg.paths.evidence, meter=METER,
                                time=T0 + dt.timedelta(minutes=61), counter=2010.0, reader="zhang.min",
                                photo=photo, now=NOW)
    drain(cfg.paths.inbox, journal, cfg.site.plant.id)
    w3 = connect("tester")
    gateway = Account.create()
    info = ensure_deployment(w3, cfg.paths.chain, gateway.address, plant=cfg.site.plant.id)
    with Ledger(cfg.paths.journal, cfg.paths.chain) as ledger:
        AnchorService(w3, info["address"], gateway, ledger, cfg.paths.chain).anchor_once()
        batch_file, bundle_file = export_batch(cfg.paths.journal, ledger, cfg.paths.chain, 1, tmp_path / "out")
    evidence = EvidenceStore(cfg.paths.evidence).get(sub.photo.sha256).path
    r = verify_files(batch_file, bundle_file, w3, document_file=evidence)
    assert r.ok, r.render()
    assert "hand reading of M-TR-1 recorded in batch 1, read by zhang.min" in r.check("document").detail
    altered = tmp_path / "altered.jpg"
    altered.write_bytes(photo[:-3] + bytes([photo[-3] ^ 1]) + photo[-2:])
    r = verify_files(batch_file, bundle_file, w3, document_file=altered)
    assert r.failed == "document" and "batch 1" in r.check("document").detail
    assert "M-TR-1" in r.check("document").detail


def test_a_queued_hand_reading_is_the_last_one_until_journaled(ws, capsys):
    """Submitted from the shell (`tanjian reading add`), not yet journaled: the next check compares with
    it, so the same reading sent twice is refused."""
    from tanjian.cli import main

    cfg, journal, store = ws
    photo = cfg.paths.data_dir.parent / "IMG_0050.jpg"
    photo.write_bytes(jpeg((0, 90, 0)))
    at = T0 + dt.timedelta(minutes=61)
    journal.close()  # the CLI may take the journal; here it only needs the store and the inbox
    assert main(["--data-dir", str(cfg.paths.data_dir), "reading", "add", "--meter", METER, "--counter", "2010",
                 "--photo", str(photo), "--reader", "zhang.min", "--time", at.isoformat()]) == 0
    out = capsys.readouterr().out
    sha = hashlib.sha256(photo.read_bytes()).hexdigest()
    assert f"photo sha256 {sha}" in out and "queued for the ledger" in out
    [p] = check_plausible(cfg.site, store, METER, at, 2010.0, now=NOW, inbox=cfg.paths.inbox)
    assert p.code == "slot_taken" and "the queued hand reading 2,010.00 kWh at 2026-03-02 09:01" in p.message
    [p] = check_plausible(cfg.site, store, METER, at + dt.timedelta(minutes=5), 2000.0, now=NOW,
                          inbox=cfg.paths.inbox)
    assert p.code == "counter_below_last" and "queued hand reading 2,010.00 kWh" in p.message
    # without the inbox only the store counts
    assert check_plausible(cfg.site, store, METER, at, 2010.0, now=NOW) == []
    # refused from the shell too, with the reason
    assert main(["--data-dir", str(cfg.paths.data_dir), "reading", "add", "--meter", METER, "--counter", "2010",
                 "--photo", str(photo), "--reader", "zhang.min", "--time", at.isoformat()]) == 2
    assert "same minute" in capsys.readouterr().err
