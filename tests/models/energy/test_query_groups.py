"""The query API's device and line groupings and the 15-min demand, on hand-chosen power."""

from __future__ import annotations

import pytest

from tests.models.energy.helpers import write_power
from workspace.store.query import demand, device_meters


def test_device_and_line_groups(fresh):
    cfg, j, s = fresh
    dm = device_meters(cfg.site)
    assert dm["D-SB-01"] == ["M-SB-01"] and "D-LT-UT" in dm and len(dm) == 70
    # one hour: the shot blaster D-SB-01 at 60 kW and the paint booth D-PB-01 at 30 kW, both on line L-PC-1
    write_power(j, s, cfg.site.plant.id, {"M-SB-01": [("2026-07-15 08:00", 60.0)],
                                          "M-PB-01": [("2026-07-15 08:00", 30.0)]}, until="2026-07-15 09:00")
    dev = s.energy("2026-07-15 08:00", "2026-07-15 09:00", by="device", freq=None).to_pandas()
    assert dev["D-SB-01"] == pytest.approx(60) and dev["D-PB-01"] == pytest.approx(30)
    line = s.energy("2026-07-15 08:00", "2026-07-15 09:00", by="line", freq=None).to_pandas()
    assert line["L-PC-1"] == pytest.approx(90)  # 60 + 30 kWh
    with pytest.raises(ValueError, match="'plant', 'workshop', 'line', 'device' or 'meter'"):
        s.energy("2026-07-15 08:00", "2026-07-15 09:00", by="room")


def test_15min_demand(fresh):
    cfg, j, s = fresh
    # 40 kW with 5 minutes at 100 kW from 08:20: the 08:15-08:30 window's mean (10 x 40 + 5 x 100) / 15 = 60 kW
    write_power(j, s, cfg.site.plant.id, {"M-SB-01": [("2026-07-15 08:00", 40.0), ("2026-07-15 08:20", 100.0),
                                                      ("2026-07-15 08:25", 40.0)]}, until="2026-07-15 09:00")
    d = demand(s, "2026-07-15 08:00", "2026-07-15 09:00", meters=["M-SB-01"]).to_pandas()["M-SB-01"]
    assert d.tolist() == pytest.approx([40, 60, 40, 40])
    assert demand(s, "2026-07-15 08:00", "2026-07-15 09:00", meters=["M-SB-01"]).attrs["units"] == "kW"
