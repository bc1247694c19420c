"""On-site PV and battery accounting from hand-written readings in a real store."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from models.generation import OnsiteDataMissing, onsite_flows, onsite_quantities
from workspace.batch import Reading, encode_batch
from workspace.onsite import Battery, OnSite, PvInverter

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 11, 23, 16, 0, 1, tzinfo=UTC)  # local 2026-11-24 00:00:01


def test_self_consumed_and_exported(fresh):
    cfg, j, s = fresh
    # four consumption meters stand in for the PV output (M-WS-TC), the export register (M-WS-UT) and a
    # PV-charged battery's charge (M-WS-AS) and discharge (M-WS-PC) meters; only their numbers matter here
    # (the example's own on-site meters: test_inventory_takes_the_onsite_quantities_from_the_store).
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
    # a PV of its own with ordinary meters (the example's on-site units and their meters left out)
    own = {"M-PV-1", "M-PV-2", "M-BAT-1-OUT", "M-BAT-1-IN", "M-EXPORT"}
    pv = Meter(id="M-PV-X", medium="electricity", family="sdm630", gateway="gw-elec", unit_id=99)
    ex = Meter(id="M-EXP-1", medium="electricity", family="sdm630", gateway="gw-elec", unit_id=98)
    site = site.model_copy(update={"meters": [*(m for m in site.meters if m.id not in own), pv, ex],
                                   "onsite": OnSite(
        pv=[PvInverter(id="PV-1", name="pv", rated_kw=400, transformer="TR-2", gateway="gw-points", unit_id=11,
                       meter="M-PV-X")], export_meters=["M-EXP-1"])})
    j = Journal(plant_cfg.paths.journal, writer=True)
    s = Store.open(plant_cfg.paths.store, site, create=True)
    # 00:00-00:15 local, every minute: incomers 1,000 + 800 + 300 kW, PV 250 kW, export 50 kW
    # load = 2,100 + 250 - 50 = 2,300 kW; the plant's import stays 2,100 kW (PV and export meters are not
    # top meters of the consumption tree)
    rates = {"M-TR-1": 1000.0, "M-TR-2": 800.0, "M-TR-3": 300.0, "M-PV-X": 250.0, "M-EXP-1": 50.0}
    j.append(encode_batch(site.plant.id, j.next_seq, "test",
                          [Reading(m, T0 + dt.timedelta(minutes=k), 100.0 + r / 60 * k, r) for m, r in rates.items()
                           for k in range(15)]))
    s.fold(j)
    j.close()
    got = onsite_power(s, "2026-11-24 00:00", "2026-11-24 00:15", freq="15min")
    row = got.iloc[0]
    assert (row["import"], row["pv"], row["export"], row["load"]) == pytest.approx((2100, 250, 50, 2300))


T25 = dt.datetime(2025, 11, 23, 16, 0, 1, tzinfo=UTC)  # local 2025-11-24 00:00:01: the compliance factor's years


def test_inventory_takes_the_onsite_quantities_from_the_store(fresh):
    from models.inventory import compute_inventory

    cfg, j, s = fresh
    # five readings a minute apart, four minute deltas [kWh a minute]: the incomers 30 + 25 + 15 (70: 0.280 MWh
    # bought), Plant 18's own on-site meters PV-1 6 and PV-2 9 (60 kWh), export 5 (20 kWh), the PV-charged
    # battery's charge 3 (12 kWh) and discharge 1 (4 kWh). Self-consumed = 60 - 20 - (12 - 4) = 32 kWh
    steps = {"M-TR-1": 30, "M-TR-2": 25, "M-TR-3": 15, "M-PV-1": 6, "M-PV-2": 9, "M-EXPORT": 5, "M-BAT-1-IN": 3,
             "M-BAT-1-OUT": 1}
    rows = [Reading(m, T25 + dt.timedelta(minutes=k), 100.0 + d * k) for m, d in steps.items() for k in range(5)]
    # the next day: the incomers only (the on-site meters not read at all), their counters going on from where
    # they stopped (no energy across the night's gap)
    rows += [Reading(m, T25 + dt.timedelta(days=1, minutes=k), 100.0 + d * (4 + k)) for m, d in steps.items()
             if m.startswith("M-TR") for k in range(5)]
    j.append(encode_batch(cfg.site.plant.id, j.next_seq, "test", rows))
    s.fold(j)
    day = dt.date(2025, 11, 24)
    c = compute_inventory(day, day, methodology="cn-machinery-2015", store=s, site=cfg.site).to_canonical()
    by = {ln["source"]: ln for ln in c["lines"]}
    origin = "store:onsite M-BAT-1-IN,M-BAT-1-OUT,M-EXPORT,M-PV-1,M-PV-2"  # labelled: where the figures came from
    pv, ex = by["onsite_nonfossil_self_consumed"], by["electricity_exported"]
    assert (pv["activity"]["quantity"], pv["activity"]["origin"], pv["tco2e"]) == ("0.032000", origin, "0.000")
    assert (ex["activity"]["quantity"], ex["activity"]["origin"]) == ("0.020000", origin)
    # compliance (lines rounded to 0.001 t, then summed): bought 0.280 MWh x 0.5703 tCO2/MWh = 0.160 t, the
    # export deducted 0.020 x 0.5703 = 0.011 t: 0.149 t; the self-consumed PV 0
    assert c["views"]["compliance"]["total_tco2e"] == "0.149"
    # location-based: 0.280 x 0.5306 = 0.149 t, less the export 0.020 x 0.5306 = 0.011 t: 0.138 t
    assert ex["tco2e"] == "-0.011" and c["views"]["location_based"]["total_tco2e"] == "0.138"
    # the GHG Protocol does not net the export: reported unused with its reason
    g = compute_inventory(day, day, methodology="ghg-protocol-corporate", store=s, site=cfg.site).to_canonical()
    assert [u["item"] for u in g["activity_unused"]] == ["electricity_exported"]
    # a day with no on-site reading at all: said, not counted as 0 exported
    n = compute_inventory(day + dt.timedelta(days=1), day + dt.timedelta(days=1), methodology="cn-machinery-2015",
                          store=s, site=cfg.site).to_canonical()
    assert "electricity_exported" not in {ln["source"] for ln in n["lines"]}
    (u,) = [u for u in n["activity_unused"] if u["file"] == "store"]
    assert "no reading of the on-site meters" in u["reason"]
    # given quantities win over the store's
    q = compute_inventory(day, day, methodology="cn-machinery-2015", store=s, site=cfg.site,
                          quantities={"electricity_exported": 0.0}).to_canonical()
    assert {ln["source"]: ln for ln in q["lines"]}["electricity_exported"]["activity"]["origin"] == \
        "quantity:electricity_exported"


def test_onsite_quantities_on_the_demo_store(seeded_cfg):
    """The demo's history (the simulator's load model) holds Plant 18's PV, battery and export meters:
    the on-site figures come out of its store."""
    import pandas as pd

    from workspace.store import Store

    s = Store.open(seeded_cfg.paths.store, seeded_cfg.site)
    end = pd.Timestamp(s.latest_time()).floor("min")
    start = end - pd.Timedelta(hours=24)
    f = onsite_flows(s, start, end)
    # any 24 hours hold one whole day of PV: PV-1 + PV-2 peak 0.8 x (400 + 600) = 800 kW, a day's energy
    # 800 kW x 24 h / pi = 6,111.550 kWh; the battery takes 4 h x 125 kW = 500 kWh in and gives 500 out
    assert f["pv"] == pytest.approx(800 * 24 / math.pi, abs=0.01)
    assert (f["charge_pv"], f["discharge_pv"]) == (pytest.approx(500.0, abs=0.01), pytest.approx(500.0, abs=0.01))
    q = onsite_quantities(s, start, end)
    # self-consumed = PV - exported - (charge - discharge) = 6,111.550 - exported - 0
    assert q["electricity_self_consumed_nonfossil"] == pytest.approx((f["pv"] - f["exported"]) / 1000)
    assert 0 <= f["exported"] < f["pv"]
