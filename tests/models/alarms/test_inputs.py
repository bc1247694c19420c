"""The snapshot the rules watch, gathered from a real Plant 18 store holding hand-written readings."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from models.alarms import AlarmDB, AlarmEngine, load_rules
from models.alarms.inputs import gather
from workspace.batch import Reading, encode_batch

SH = dt.timezone(dt.timedelta(hours=8))
# 2026-07-15 20:00 local (Asia/Shanghai) is in July's sharp period (20-24 h, CN-HN-tou-2025)
T = dt.datetime(2026, 7, 15, 20, 0, tzinfo=SH)


def _append(j, plant, rows):
    j.append(encode_batch(plant, j.next_seq, "test", [Reading(*r) for r in rows]))


def test_gather_and_raise(fresh):
    cfg, j, s = fresh
    pid = cfg.site.plant.id
    # M-TR-1 (TR-1, 2500 kVA): read every minute 19:50..20:00 at 2,700 kW and PF 0.9, counter +45 kWh a minute
    _append(j, pid, [("M-TR-1", T - dt.timedelta(minutes=10 - k), 5000.0 + 45 * k, 2700.0, 230.0, 4000.0, 0.9)
                     for k in range(11)])
    # M-LC-01 (laser cutter 1, standby 4 kW): 20 kW at 19:59 and 20:00, counter +1/3 kWh a minute
    _append(j, pid, [("M-LC-01", T - dt.timedelta(minutes=1 - k), 100.0 + k / 3, 20.0) for k in range(2)])
    # M-LC-02: last read at 19:52 (8 minutes = 480 s before 20:00)
    _append(j, pid, [("M-LC-02", T - dt.timedelta(minutes=8), 50.0, 3.0)])
    s.fold(j)
    site = cfg.site.model_copy(update={"devices": [
        d.model_copy(update={"key_equipment": d.id == "D-LC-01"}) for d in cfg.site.devices]})
    s.site = site
    snap = gather(s, T)
    assert snap["power"]["M-TR-1"] == 2700.0 and snap["power"]["M-LC-01"] == 20.0
    assert snap["age_s"]["M-TR-1"] == 0.0 and snap["age_s"]["M-LC-02"] == 480.0
    assert snap["age_s"]["M-WS-CW"] == 3600.0  # never read in the hour: silent for the whole window
    # 2700 kW / 0.9 = 3000 kVA; / 2500 kVA rated = 1.2 (models.energy.transformers.load_rate)
    assert snap["load_rate"]["TR-1"] == pytest.approx(1.2)
    # today's energy of M-TR-1: 10 minute deltas of 45 kWh ending 19:51..20:00 = 450 kWh
    assert snap["energy_day"]["M-TR-1"] == pytest.approx(450.0)
    # the energy read at 20:00 is the minute 19:59-20:00's, the previous hour's: the hour in progress
    # (20:00-) has no measured minute yet, NaN (not 0: nothing is known)
    assert snap["energy_hour"].isna()["M-TR-1"]
    # laser cutter 1 is key equipment, 20 kW > 2 kW (half its 4 kW standby), at 20:00 in July: sharp
    assert snap["on_in_peak"].to_dict() == {"M-LC-01": 1.0}
    db = AlarmDB(cfg.paths.data_dir / "alarms.sqlite")
    rules = load_rules()
    # no delays for this check: each rule at once
    rules = rules.model_copy(update={"rules": [r.model_copy(update={"on_delay_s": 0}) for r in rules.rules]})
    out = AlarmEngine(rules, db).evaluate(T, snap)
    raised = {(t.rule, t.target) for t in out if t.event == "raise"}
    assert ("transformer-overload", "TR-1") in raised and ("transformer-high-load", "TR-1") in raised
    assert ("key-equipment-on-in-peak", "M-LC-01") in raised
    assert ("meter-offline", "M-LC-02") in raised and ("meter-offline", "M-TR-1") not in raised
    # M-TR-1 is rated 2,375 kW: 2,700 / 2,375 = 1.137 of its rating > 1.05; the laser cutter's meter is
    # rated 58.5 kW (plant18.yaml): 20 / 58.5 = 0.342
    assert snap["power_share"]["M-TR-1"] == pytest.approx(2700 / 2375)
    assert snap["power_share"]["M-LC-01"] == pytest.approx(20 / 58.5)
    assert ("device-power-high", "M-TR-1") in raised and ("device-power-high", "M-LC-01") not in raised
    db.close()


def test_unit_consumption_figures():
    from types import SimpleNamespace

    import pandas as pd

    from models.alarms.figures import unit_consumption_figures

    # two windows of WS-CW's day shift (3,000 + 1,500 kWh for 2 + 1 pump trucks: 4,500 / 3 = 1,500 kWh a unit)
    # and one of WS-AS's (no unit made: no figure, not infinity)
    w = pd.DataFrame({"date": ["2026-07-14", "2026-07-15", "2026-07-15"], "shift": ["day", "day", "day"],
                      "group": ["WS-CW", "WS-CW", "WS-AS"], "kwh": [3000.0, 1500.0, 800.0], "units": [2.0, 1.0, 0.0]})
    got = unit_consumption_figures(SimpleNamespace(windows=w))
    assert got["WS-CW/day"] == pytest.approx(1500.0) and got.isna()["WS-AS/day"]
    assert unit_consumption_figures(SimpleNamespace(windows=w), dt.date(2026, 7, 15))["WS-CW/day"] == 1500.0


def test_anomaly_watch_hand_worked(fresh):
    from models.alarms.figures import AnomalyWatch

    cfg, j, s = fresh
    pid = cfg.site.plant.id
    # laser cutter 1 (M-LC-01) on three Wednesdays, 10:00-10:02 local, at 19, 20 and 21 kW: the hour-of-week
    # baseline of Wednesday 10:00 is median 20 kW, MAD median(|19-20|, 0, |21-20|) = 1 kW (floors 0.1 kW and
    # 5 % x 20 = 1 kW). On the fourth Wednesday it draws 60 kW from 10:00 to 10:30:
    # z = 0.6745 x (60 - 20) / 1 = 26.98
    wed = dt.datetime(2026, 7, 15, 10, 0, tzinfo=SH)  # a Wednesday
    rows, counter = [], 100.0
    for week, kw in ((3, 19.0), (2, 20.0), (1, 21.0)):
        for k in range(3):
            counter += kw / 60
            rows.append(("M-LC-01", wed - dt.timedelta(weeks=week) + dt.timedelta(minutes=k), counter, kw))
    for k in range(31):
        counter += 1.0
        rows.append(("M-LC-01", wed + dt.timedelta(minutes=k), counter, 60.0))
    _append(j, pid, rows)
    s.fold(j)
    z = AnomalyWatch(s).scores(wed + dt.timedelta(minutes=30))
    assert z["D-LC-01"] == pytest.approx(0.6745 * 40, rel=1e-9)
    assert z.drop("D-LC-01").isna().all()  # no baseline for the others: no score, not 0


def test_unit_consumption_watch_from_the_store(fresh):
    from models.alarms.figures import UnitConsumptionWatch
    from tests.models.energy.helpers import write_power

    cfg, j, s = fresh
    # the energy models' hand-worked day (tests/models/energy/test_unit_consumption.py): WS-AS at 100 kW
    # through the day shift of Thursday 8 Oct 2026 (08:00-16:30, 850 kWh) for 3 + 1 units = 212.5 kWh a unit
    write_power(j, s, cfg.site.plant.id, {"M-WS-AS": [("2026-10-08 00:00", 10.0), ("2026-10-08 08:00", 100.0),
                                                      ("2026-10-08 16:30", 40.0), ("2026-10-09 01:00", 10.0)]},
                until="2026-10-09 02:00")
    rows = [("S-DAY", "T1", "P-PUMP", 3), ("S-DAY", "T2", "P-CRANE", 1)]
    prod = pd.DataFrame([dict(kind="production", item=i, period_start="2026-10-08", period_end="2026-10-08",
                              quantity=q, unit="pcs", workshop="WS-AS", shift=sh, team=t) for sh, t, i, q in rows])
    asked = []

    def load(a, b):
        asked.append((a, b))
        return prod

    w = UnitConsumptionWatch(s, load)
    now = dt.datetime(2026, 10, 8, 17, 0, tzinfo=SH)
    got = w.figures(now)
    assert got["WS-AS/S-DAY"] == pytest.approx(212.5)
    assert asked == [(dt.date(2026, 10, 7), dt.date(2026, 10, 8))]
    w.figures(now + dt.timedelta(minutes=30))  # within the hour: not recomputed
    assert len(asked) == 1
