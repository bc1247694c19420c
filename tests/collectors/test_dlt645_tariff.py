"""Per-tariff (尖峰平谷) energy registers end to end: Reading -> tanjian.batch/1 and /2 -> journal -> store.

Issue #5: DL/T 645 collection reads total and per-tariff active energy. The batch formats carry the four
tariff registers only when a reading has them (batches without them are byte-identical to before).
"""

import datetime as dt
import json
import math
import struct

import numpy as np
import pytest

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


# -- end to end: simulated DL/T 645 meters on TCP -> collector -> journal -> store -----------------
def _documented_split(total_kwh: float) -> list[float]:
    """The simulator's documented split: sharp 10 %, peak 35 %, flat 30 % in whole 0.01 kWh (rounded
    down), valley the rest, so that the four add up to the total as on a real meter."""
    cents = round(total_kwh * 100)
    parts = [cents * 10 // 100, cents * 35 // 100, cents * 30 // 100]
    return [p / 100 for p in parts + [cents - sum(parts)]]


async def _poll_at(cfg, journal, store, when):
    """One poll cycle with every clock frozen at ``when``; the simulator's tariff values at that instant."""
    from collectors.service import CollectionService
    from tanjian.simulator import PlantSimulator
    from tanjian.simulator.dlt645 import Dlt645BusSimulator
    from workspace.clock import Clock

    clock = Clock.simulated(when, speed=0)  # frozen: the meters' registers do not move during the read
    plant = PlantSimulator(cfg.site, clock)
    async with Dlt645BusSimulator(plant, "srv-1") as sim:
        sim.without_tariffs("M-1RATE")
        served = {m: sim.values(m) for m in ("M-TOU", "M-97", "M-1RATE")}
        svc = CollectionService(cfg.site, journal, store, clock, source="dlt645")
        try:
            assert await svc.poll_once() == 3
        finally:
            await svc.close()
    return served


async def test_tariffs_flow_from_the_meter_to_the_store(tmp_path):
    from tests.conftest import free_port
    from tests.small_sites import load_site, meter
    from workspace.journal import Journal
    from workspace.store import Store

    port = free_port()
    cfg = load_site(tmp_path, [{"id": "srv-1", "protocol": "dlt645_tcp", "port": port, "timeout_s": 0.5,
                                "clock_interval_s": 0}],
                    [meter("M-TOU", "srv-1", "D-WELD", "dlt645-2007", address="000000000001"),
                     meter("M-97", "srv-1", "D-CNC", "dlt645-1997", address="000000000002"),
                     meter("M-1RATE", "srv-1", "D-PUMP", "dlt645-2007", address="000000000003")])
    t1 = dt.datetime(2026, 11, 24, 2, 0, 30, tzinfo=UTC)  # 10:00:30 in Changsha
    t2 = t1 + dt.timedelta(minutes=45)  # 10:45:30
    journal = Journal(cfg.paths.journal, writer=True)
    try:
        store = Store.open(cfg.paths.store, cfg.site, create=True)
        served1 = await _poll_at(cfg, journal, store, t1)
        served2 = await _poll_at(cfg, journal, store, t2)
        batches = [decode_batch(p) for _, p in journal.records(0, len(journal))]
        store.fold(journal)
    finally:
        journal.close()

    assert len(batches) == 2
    for batch, served in zip(batches, (served1, served2)):
        got = {r.meter: r for r in batch.readings}
        for m in ("M-TOU", "M-97"):
            r = got[m]
            # the registers the simulator served, to the 0.01 kWh of XXXXXX.XX
            assert list(r.tariffs) == [pytest.approx(served[m][f"energy_tariff_{k}"], abs=0.0051)
                                       for k in (1, 2, 3, 4)]
            assert list(r.tariffs) == pytest.approx(_documented_split(r.counter), abs=1e-9)
            assert round(sum(r.tariffs) * 100) == round(r.counter * 100)  # they add up to the total
        # the single-rate meter: no tariffs, its total still collected
        assert got["M-1RATE"].tariffs is None
        assert got["M-1RATE"].counter == pytest.approx(served["M-1RATE"]["counter"], abs=0.0051)
    assert batches[1].readings[0].counter > batches[0].readings[0].counter  # the meters did run

    r1 = {r.meter: r for r in batches[0].readings}
    r2 = {r.meter: r for r in batches[1].readings}
    te = store.tariff_energy("2026-11-24 10:00", "2026-11-24 11:00")
    assert list(te.index) == ["M-TOU", "M-97", "M-1RATE"]
    assert list(te.columns) == ["tariff_1", "tariff_2", "tariff_3", "tariff_4"]
    for m in ("M-TOU", "M-97"):
        want = [b - a for a, b in zip(_documented_split(r1[m].counter), _documented_split(r2[m].counter))]
        assert te.loc[m].tolist() == pytest.approx(want, abs=1e-6)
        # the tariffs share out the total energy of the period
        assert te.loc[m].sum() == pytest.approx(r2[m].counter - r1[m].counter, abs=1e-6)
    assert te.loc["M-1RATE"].isna().all()
    # a period holding only the first reading: no energy yet; one holding none: NaN
    assert (store.tariff_energy("2026-11-24 10:00", "2026-11-24 10:30", meters=["M-TOU"]).loc["M-TOU"] == 0).all()
    assert store.tariff_energy("2026-11-24 08:00", "2026-11-24 09:00").isna().all().all()
    # the single-rate meter's total is in the store all the same
    counter = store.dataset().counter.sel(meter="M-1RATE").values
    assert np.isfinite(counter).sum() == 2


def test_a_store_made_before_the_tariff_registers_gets_them_at_fold(tmp_path):
    import zarr

    from tests.small_sites import load_site, meter
    from workspace.journal import Journal
    from workspace.store import Store

    cfg = load_site(tmp_path, [{"id": "srv-1", "protocol": "dlt645_tcp", "port": 1}],
                    [meter("M-A", "srv-1", "D-WELD", "dlt645-2007", address="000000000001")])
    store = Store.open(cfg.paths.store, cfg.site, create=True)
    s = store.repo.writable_session("main")  # make it look like a store created before them
    g = zarr.open_group(store=s.store, mode="r+")
    for k in (1, 2, 3, 4):
        del g[f"tariff_{k}"]
    s.commit("as before the tariff registers")
    store = Store.open(cfg.paths.store, cfg.site)
    t = dt.datetime(2026, 11, 24, 2, 0, 0, tzinfo=UTC)  # 10:00 local
    journal = Journal(cfg.paths.journal, writer=True)
    try:
        journal.append(encode_batch_columnar("P", 0, "t", [Reading("M-A", t, 100.0)]))
        store.fold(journal)
        assert "tariff_1" not in store.dataset().variables
        assert store.tariff_energy("2026-11-24 10:00", "2026-11-24 11:00").isna().all().all()
        journal.append(encode_batch_columnar("P", 1, "t", [
            Reading("M-A", t + dt.timedelta(minutes=1), 101.0, tariffs=(10.0, 35.0, 30.0, 26.0)),
            Reading("M-A", t + dt.timedelta(minutes=2), 103.0, tariffs=(10.0, 36.5, 30.0, 26.5))]))
        store.fold(journal)
    finally:
        journal.close()
    te = store.tariff_energy("2026-11-24 10:00", "2026-11-24 11:00")
    assert te.loc["M-A"].tolist() == [0.0, 1.5, 0.0, 0.5]  # 36.5 - 35, 26.5 - 26
    assert store.dataset()["tariff_2"].attrs["units"] == "kWh"
