"""Meters added to (or removed from) the site model of a plant whose store already holds data: the
collector widens the store as a version of its own, old versions still answer, readers that opened
before say what is missing. Totals worked out by hand."""

import datetime as dt
import logging

import numpy as np
import pytest

from workspace.batch import Reading, encode_batch
from workspace.config import EXAMPLE, load_config
from workspace.errors import UnknownMeter
from workspace.journal import Journal
from workspace.store import Store

UTC = dt.timezone.utc
MIDNIGHT = dt.datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # local midnight, 24 Nov (Asia/Shanghai)
NEW = "M-LIGHT-CW"
NEW_METER = f"""    - id: {NEW}
      name: Lighting circuit, welding hall
      medium: electricity
      family: sdm630
      gateway: gw-elec
      unit_id: 120
      parent: M-WS-CW
      workshop: WS-CW
"""


def _t(minutes):
    return MIDNIGHT + dt.timedelta(minutes=minutes, milliseconds=300)


def _append(j, plant, rows):
    j.append(encode_batch(plant, j.next_seq, "test", [Reading(m, _t(k), c) for m, k, c in rows]))


def _site_with_new_meter(tmp_path):
    """Plant 18 with one more sub-meter, listed in the middle of the meters (after M-WR-06)."""
    text = EXAMPLE.read_text()
    anchor = "    - id: M-WR-07\n"
    assert anchor in text
    (tmp_path / "more.yaml").write_text(text.replace(anchor, NEW_METER + anchor, 1))
    return load_config(tmp_path / "more.yaml", data_dir=tmp_path / "var")


def _by_meter(store, meters, as_of=None):
    e = store.energy("2026-11-24", "2026-11-25", meters=meters, freq=None, as_of=as_of)
    return dict(zip(e.group.values, e.values))


def test_meter_added_to_the_site_model_widens_the_store(tmp_path, caplog):
    cfg = load_config(EXAMPLE, data_dir=tmp_path / "var")
    pid = cfg.site.plant.id
    with Journal(cfg.paths.journal, writer=True) as j:
        store = Store.open(cfg.paths.store, cfg.site, create=True)
        _append(j, pid, [("M-WR-06", 0, 100.0), ("M-WR-06", 1, 100.5)])
        store.fold(j)
        before = store.versions()[0]["id"]

        more = _site_with_new_meter(tmp_path)
        assert more.paths.store == cfg.paths.store and NEW in more.site.meter_ids("electricity")
        # a reader (a dashboard) opening with the new site model: the meter is left out, and said so
        with caplog.at_level(logging.WARNING, logger="workspace.store"):
            reader = Store.open(more.paths.store, more.site)
        assert "not in the store yet (M-LIGHT-CW)" in caplog.text
        assert NEW not in reader.meters
        with pytest.raises(UnknownMeter, match="M-LIGHT-CW.*not in the store yet.*collector adds it"):
            reader.energy("2026-11-24", "2026-11-25", meters=[NEW])
        assert NEW not in list(reader.energy("2026-11-24", "2026-11-25", by="meter", freq=None).group.values)

        # the writer (the collector's start) widens the store: one commit, the new meter last
        store = Store.open(more.paths.store, more.site, create=True)
        assert store.meters[-1] == NEW and len(store.meters) == len(cfg.site.meters) + 1
        assert store.meters[:-1] == [m.id for m in cfg.site.meters]  # the store's own order is kept
        v = store.versions()[0]
        assert v["message"].startswith("site model: 1 meter(s) added") and v["metadata"]["meters"] == [NEW]
        ds = store.dataset()
        assert ds.sizes["meter"] == len(store.meters) and str(ds.counter_units.sel(meter=NEW).item()) == "kWh"

        # readings of both meters fold; the new meter's first reading has no delta, its second gives 0.25
        _append(j, pid, [("M-WR-06", 2, 101.0), (NEW, 2, 10.0), (NEW, 3, 10.25)])
        store.fold(j)
    now = _by_meter(store, ["M-WR-06", NEW])
    assert now["M-WR-06"] == pytest.approx(1.0) and now[NEW] == pytest.approx(0.25)
    # the version before the meter existed: the old meter's 0.5 kWh, nothing for the new one
    old = _by_meter(store, ["M-WR-06", NEW], as_of=before)
    assert old["M-WR-06"] == pytest.approx(0.5) and np.isnan(old[NEW])
    minutes = store.energy("2026-11-24 00:00", "2026-11-24 00:04", meters=[NEW], freq="1min", as_of=before)
    assert np.isnan(minutes.values).all()
    q = store.quality_report("2026-11-24 00:00", "2026-11-24 00:04")
    assert q.loc[NEW, "readings"] == 2 and q.loc["M-WR-06", "readings"] == 3

    # a fresh process with the new site model reads the same; one with the meter taken out of the
    # site model again keeps its data, readable by id
    again = Store.open(more.paths.store, more.site)
    assert _by_meter(again, [NEW])[NEW] == pytest.approx(0.25)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="workspace.store"):
        fewer = Store.open(cfg.paths.store, cfg.site, create=True)
    assert "no longer in the site model (M-LIGHT-CW)" in caplog.text
    assert _by_meter(fewer, [NEW])[NEW] == pytest.approx(0.25)
    assert fewer.versions()[0]["id"] == store.versions()[0]["id"]  # nothing was committed for it
