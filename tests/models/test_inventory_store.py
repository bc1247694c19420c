"""The inventory from the store's meters (real journal + store), checked by hand."""

import datetime as dt

import pytest

from models.inventory import compute_inventory
from workspace.batch import Reading, encode_batch

UTC = dt.timezone.utc
# local midnight 2026-11-24 in Asia/Shanghai is 16:00 UTC the day before
MIDNIGHT = dt.datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
DAY = dt.date(2026, 11, 24)


def _append(j, plant, rows):
    j.append(encode_batch(plant, j.next_seq, "test", [Reading(m, MIDNIGHT + dt.timedelta(minutes=k, milliseconds=300), c)
                                                      for m, k, c in rows]))


def _ramp(j, plant, meter, start, per_minute):
    """``meter``'s counter at local 23:58 .. 00:02 (minutes -2..2): ``start``, rising ``per_minute``."""
    _append(j, plant, [(meter, k, start + per_minute * (k + 2)) for k in range(-2, 3)])


def _incomers(j, plant):
    """The transformer incomers: 10, 4 and 1.5 kWh a minute (31 kWh in 24 Nov's first two minutes)."""
    for meter, start, per_minute in (("M-TR-1", 1000.0, 10), ("M-TR-2", 500.0, 4), ("M-TR-3", 200.0, 1.5)):
        _ramp(j, plant, meter, start, per_minute)


@pytest.fixture
def store(fresh):
    cfg, j, s = fresh
    pid = cfg.site.plant.id
    # transformer incomers: counters at local 23:58 .. 00:02 (minutes -2..2)
    _incomers(j, pid)
    # main gas meter: 0.5 m3 a minute
    _ramp(j, pid, "M-GAS-MAIN", 300.0, 0.5)
    s.fold(j)
    return s


def test_electricity_and_gas_from_the_store_with_data_quality(store):
    inv = compute_inventory(DAY, DAY, methodology="cn-machinery-2015", store=store)
    c = inv.to_canonical()
    el = [ln for ln in c["lines"] if ln["source"] == "purchased_electricity"]
    gas = [ln for ln in c["lines"] if ln["source"] == "stationary_combustion"]
    assert len(el) == 1 and len(gas) == 1
    # 24 Nov: the minutes ending 00:01 and 00:02 -> 2 × (10 + 4 + 1.5) = 31 kWh = 0.031 MWh × 0.5306 = 0.0164486 t
    assert el[0]["activity"]["quantity"] == "0.031000" and el[0]["activity"]["unit"] == "MWh"
    # published once, rounded half-up to the package's 3 decimals (1 kg): 0.016 t
    assert inv.lines[[ln.source for ln in inv.lines].index("purchased_electricity")].tco2e == 0.016
    # 2 minutes × 0.5 m3 = 1 Nm3 = 1e-4 ×10^4 Nm3 × 389.31 × 0.0153 × 0.99 × 44/12 = 0.00216219 t
    assert gas[0]["activity"]["quantity"] == "1.000000" and gas[0]["activity"]["unit"] == "Nm3"
    assert inv.lines[[ln.source for ln in inv.lines].index("stationary_combustion")].tco2e == 0.002
    # data quality: 3 meters × 1440 minutes, 6 of them measured -> 1 − 6/4320 = 0.998611 not measured; none manual
    assert el[0]["data_quality"] == {"estimated_share": "0.9986", "manual_share": "0.0000"}
    assert c["store_snapshot"] == store.dataset().attrs["snapshot"]
    assert el[0]["activity"]["origin"].startswith("store:electricity:M-TR-1+M-TR-2+M-TR-3@")


def test_workshop_level_keeps_the_plant_total(store):
    inv = compute_inventory(DAY, DAY, methodology="cn-machinery-2015", store=store, level="workshop")
    el = [ln for ln in inv.lines if ln.source == "purchased_electricity"]
    # no workshop meter was read: the workshops' lines are 0 and the 31 kWh stay on the plant's main meters
    assert sum(ln.quantity for ln in el) == pytest.approx(0.031)
    rest = [ln for ln in el if ln.workshop is None]
    assert len(rest) == 1 and rest[0].quantity == pytest.approx(0.031)
    assert "minus the workshops' meters" in rest[0].origin


def test_activity_statement_replaces_the_store_for_electricity(store, tmp_path):
    import pandas as pd

    a = pd.DataFrame([{"kind": "electricity_statement", "item": "total", "period_start": "2026-11-24",
                       "period_end": "2026-11-24", "quantity": "2", "unit": "MWh"}])
    inv = compute_inventory(DAY, DAY, methodology="cn-machinery-2015", store=store, activity=a)
    el = [ln for ln in inv.lines if ln.source == "purchased_electricity"]
    # 2 MWh × 0.5306 = 1.0612 t, published to 3 decimals: 1.061 t; the meters' 31 kWh are not added (no double count)
    assert len(el) == 1 and el[0].tco2e == 1.061


def test_workshop_meter_and_product_footprint(fresh):
    import pandas as pd

    from models.footprint import footprint

    plant_cfg, j, s = fresh
    pid = plant_cfg.site.plant.id
    _incomers(j, pid)
    # the cutting & welding workshop's meter (under M-TR-1): 6 kWh a minute
    _ramp(j, pid, "M-WS-CW", 50.0, 6)
    s.fold(j)
    inv = compute_inventory(DAY, DAY, methodology="cn-machinery-2015", store=s, level="workshop")
    el = {ln.workshop: ln.quantity for ln in inv.lines if ln.source == "purchased_electricity" and ln.quantity}
    # WS-CW: 2 minutes × 6 kWh = 12 kWh; the rest of the main meters: 31 − 12 = 19 kWh
    assert el == {"WS-CW": pytest.approx(0.012), None: pytest.approx(0.019)}
    prod = pd.DataFrame([{"kind": "production", "item": "P-PUMP", "period_start": "2026-11-24",
                          "period_end": "2026-11-24", "quantity": "2", "unit": "unit", "workshop": "WS-CW"}])
    fp = footprint(inv, prod)
    # all 31 kWh go to the only producing workshop, as the published (rounded once) lines: WS-CW 12 kWh × 0.5306
    # = 0.0063672 -> 0.006 t, the rest 19 kWh × 0.5306 = 0.0100814 -> 0.010 t; 0.016 t / 2 pumps = 0.008 t each
    assert fp.loc[0, "tco2e_per_unit"] == pytest.approx(0.008)
    assert fp.loc[0, "energy_mwh"] == pytest.approx(0.012)


def test_device_level_reads_the_device_meters_and_labels_the_unmetered_remainder(fresh):
    """Device level: each device's own sub-meter; the workshop main minus its device meters is a labelled line."""
    plant_cfg, j, s = fresh
    pid = plant_cfg.site.plant.id
    _incomers(j, pid)
    # the cutting & welding workshop's main (under M-TR-1): 6 kWh a minute; two of its device meters under it:
    # laser cutter 1 at 0.5 kWh a minute (30 kW), laser cutter 2 at 0.25 kWh a minute (15 kW; both under
    # their rated 58.5 kW, so read as plausible)
    _ramp(j, pid, "M-WS-CW", 50.0, 6)
    _ramp(j, pid, "M-LC-01", 70.0, 0.5)
    _ramp(j, pid, "M-LC-02", 90.0, 0.25)
    s.fold(j)
    inv = compute_inventory(DAY, DAY, methodology="cn-machinery-2015", store=s, level="device")
    el = [ln for ln in inv.lines if ln.source == "purchased_electricity"]
    got = {(ln.workshop, ln.device): ln.quantity for ln in el if ln.quantity}
    # 24 Nov holds the minutes ending 00:01 and 00:02 (2 minutes):
    #   D-LC-01: 2 x 0.5 = 1 kWh; D-LC-02: 2 x 0.25 = 0.5 kWh;
    #   WS-CW unmetered remainder: 2 x 6 - (1 + 0.5) = 10.5 kWh;
    #   plant main meters minus the workshops' mains: 2 x (10 + 4 + 1.5) - 12 = 19 kWh
    assert got == {("WS-CW", "D-LC-01"): pytest.approx(0.001), ("WS-CW", "D-LC-02"): pytest.approx(0.0005),
                   ("WS-CW", None): pytest.approx(0.0105), (None, None): pytest.approx(0.019)}
    # device lines + remainder = the workshop main's 12 kWh; everything = the plant's 31 kWh
    assert sum(ln.quantity for ln in el if ln.workshop == "WS-CW") == pytest.approx(0.012)
    assert sum(ln.quantity for ln in el) == pytest.approx(0.031)
    rem = next(ln for ln in el if ln.workshop == "WS-CW" and ln.device is None)
    assert "unmetered remainder" in rem.origin and "M-WS-CW" in rem.origin and "M-LC-01" in rem.origin
    # 1 kWh x 0.5306 kg/kWh = 0.0005306 t, published to 3 decimals half-up: 0.001 t
    lc1 = next(ln for ln in el if ln.device == "D-LC-01")
    assert lc1.tco2e == 0.001
    assert lc1.origin.startswith("store:electricity:M-LC-01@")
    # the device line's own data quality: 1 meter x 1440 minutes, 2 measured -> 1 - 2/1440 = 0.998611
    assert lc1.estimated_share == pytest.approx(1 - 2 / 1440)
    # every device meter of WS-CW has its line (20 devices there, the unread ones at 0)
    ws_devices = {m.device for m in plant_cfg.site.meters if m.workshop == "WS-CW" and m.device
                  and m.medium.value == "electricity"}
    assert {ln.device for ln in el if ln.workshop == "WS-CW" and ln.device} == ws_devices
    # the workshop level gives the same workshop total in one line
    ws = compute_inventory(DAY, DAY, methodology="cn-machinery-2015", store=s, level="workshop")
    assert {ln.workshop: ln.quantity for ln in ws.lines if ln.source == "purchased_electricity"
            and ln.quantity} == {"WS-CW": pytest.approx(0.012), None: pytest.approx(0.019)}


def test_manual_share_counts_the_corrected_minutes_of_each_line(fresh):
    """A hand correction flags its slot MANUAL; the device line behind it carries that share."""
    from workspace.inbox import drain, submit

    plant_cfg, j, s = fresh
    pid = plant_cfg.site.plant.id
    _ramp(j, pid, "M-TR-1", 1000.0, 10)
    _ramp(j, pid, "M-WS-CW", 50.0, 6)
    _ramp(j, pid, "M-LC-01", 70.0, 0.5)
    s.fold(j)
    # the laser cutter's reading at local 00:01 is corrected by hand (same value: only the flag changes)
    submit(plant_cfg.paths.inbox, {"kind": "correction", "author": "li.wei", "reason": "read off the display",
                                   "readings": [{"meter": "M-LC-01",
                                                 "time": (MIDNIGHT + dt.timedelta(minutes=1, milliseconds=300))
                                                 .isoformat(), "counter": 71.5}]})
    assert drain(plant_cfg.paths.inbox, j, pid) == 1
    s.fold(j)
    inv = compute_inventory(DAY, DAY, methodology="cn-machinery-2015", store=s, level="device")
    el = {(ln.workshop, ln.device): ln for ln in inv.lines if ln.source == "purchased_electricity"}
    lc1 = el[("WS-CW", "D-LC-01")]
    # 1 meter x 1440 minutes of 24 Nov, 1 of them MANUAL -> 1/1440; the energy is unchanged (1 kWh)
    assert lc1.manual_share == pytest.approx(1 / 1440)
    assert lc1.quantity == pytest.approx(0.001)
    # a laser cutter without the correction: no manual minute
    assert el[("WS-CW", "D-LC-02")].manual_share == 0.0
    # the plant's main meters (3 x 1440 minutes) hold no manual minute
    assert el[(None, None)].manual_share == 0.0
