"""On-site PV and battery accounting from hand-written readings in a real store."""

from __future__ import annotations

import datetime as dt

import pytest

from models.generation import OnsiteDataMissing, onsite_flows, onsite_quantities
from workspace.batch import Reading, encode_batch
from workspace.onsite import Battery, OnSite, PvInverter

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 11, 23, 16, 0, 1, tzinfo=UTC)  # local 2026-11-24 00:00:01


def test_self_consumed_and_exported(fresh):
    cfg, j, s = fresh
    # Plant 18's store holds no PV meters yet: four of its meters stand in for the PV output (M-WS-TC),
    # the export register (M-WS-UT) and a PV-charged battery's charge (M-WS-AS) and discharge (M-WS-PC)
    # meters; only their numbers matter here.
    s.site = s.site.model_copy(update={"onsite": OnSite(
        pv=[PvInverter(id="PV-1", name="pv", rated_kw=400, gateway="gw-points", unit_id=11, meter="M-WS-TC")],
        batteries=[Battery(id="BAT-1", name="bat", capacity_kwh=1000, rated_kw=250, gateway="gw-points",
                           unit_id=21, charge_meter="M-WS-AS", discharge_meter="M-WS-PC", charged_from="pv")],
        export_meters=["M-WS-UT"])})
    # five readings a minute apart, four minute deltas: PV 5 kWh a minute (300 kW), export 1, charge 1.5,
    # discharge 0.5. Totals: PV 20, export 4, charge 6, discharge 2 kWh.
    # self-consumed = 20 - 4 - (6 - 2) = 12 kWh = 0.012 MWh; exported 0.004 MWh
    steps = {"M-WS-TC": 5.0, "M-WS-UT": 1.0, "M-WS-AS": 1.5, "M-WS-PC": 0.5}
    j.append(encode_batch(cfg.site.plant.id, j.next_seq, "test",
                          [Reading(m, T0 + dt.timedelta(minutes=k), 100.0 + d * k) for m, d in steps.items()
                           for k in range(5)]))
    s.fold(j)
    f = onsite_flows(s, "2026-11-24", "2026-11-25")
    assert (f["pv"], f["exported"], f["charge_pv"], f["discharge_pv"]) == pytest.approx((20.0, 4.0, 6.0, 2.0))
    q = onsite_quantities(s, "2026-11-24", "2026-11-25")
    assert q == pytest.approx({"electricity_self_consumed_nonfossil": 0.012, "electricity_exported": 0.004})
    # a day without readings: refused, naming the meters, not zero
    with pytest.raises(OnsiteDataMissing, match="M-WS-AS, M-WS-PC, M-WS-TC, M-WS-UT"):
        onsite_quantities(s, "2026-11-26", "2026-11-27")


def test_load_curve_with_pv(plant_cfg):
    from models.generation import onsite_power
    from workspace.journal import Journal
    from workspace.site import Meter
    from workspace.store import Store

    site = plant_cfg.site
    pv = Meter(id="M-PV-1", medium="electricity", family="sdm630", gateway="gw-elec", unit_id=99)
    ex = Meter(id="M-EXP-1", medium="electricity", family="sdm630", gateway="gw-elec", unit_id=98)
    site = site.model_copy(update={"meters": [*site.meters, pv, ex], "onsite": OnSite(
        pv=[PvInverter(id="PV-1", name="pv", rated_kw=400, transformer="TR-2", gateway="gw-points", unit_id=11,
                       meter="M-PV-1")], export_meters=["M-EXP-1"])})
    j = Journal(plant_cfg.paths.journal, writer=True)
    s = Store.open(plant_cfg.paths.store, site, create=True)
    # 00:00-00:15 local, every minute: incomers 1,000 + 800 + 300 kW, PV 250 kW, export 50 kW
    # load = 2,100 + 250 - 50 = 2,300 kW; the plant's import stays 2,100 kW (PV and export meters are not
    # top meters of the consumption tree)
    rates = {"M-TR-1": 1000.0, "M-TR-2": 800.0, "M-TR-3": 300.0, "M-PV-1": 250.0, "M-EXP-1": 50.0}
    j.append(encode_batch(site.plant.id, j.next_seq, "test",
                          [Reading(m, T0 + dt.timedelta(minutes=k), 100.0 + r / 60 * k, r) for m, r in rates.items()
                           for k in range(15)]))
    s.fold(j)
    j.close()
    got = onsite_power(s, "2026-11-24 00:00", "2026-11-24 00:15", freq="15min")
    row = got.iloc[0]
    assert (row["import"], row["pv"], row["export"], row["load"]) == pytest.approx((2100, 250, 50, 2300))
