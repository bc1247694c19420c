"""What the simulated distribution rooms, PV inverters and batteries show at any instant (served over
Modbus by :class:`tanjian.simulator.server.PlantSimulator`).

- a room: temperature 24 degC +/- 4 over the day (warmest at 15:00), humidity 55 %RH, main switch closed,
  leak, smoke and door contacts at rest; a test or the demo sets any point with :meth:`PointModel.set`;
- a PV inverter: AC power ``0.8 x rated x sin(pi (h - 6) / 12)`` between 06:00 and 18:00 local time, 0
  at night; its energy register (SunSpec 103 WH) the exact integral of that curve since 2026-01-01 local;
- a battery: charges at half its rated power 10:00-14:00, discharges so 18:00-22:00 (SunSpec 103 W < 0
  while charging), its state of charge 20 % -> 70 % -> 20 % of capacity (SunSpec 124 ChaState), WH the
  energy delivered, ChaSt 4 charging, 3 discharging, 6 holding.
"""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

PV_SHARE = 0.8  # peak AC output as a share of the rated power [-]
EPOCH = dt.date(2026, 1, 1)  # the registers count from local midnight of this day
ROOM_REST = {"temperature": 24.0, "humidity": 55.0, "switch": 1.0, "leak": 0.0, "smoke": 0.0, "door": 0.0}


class PointModel:
    def __init__(self, site):
        self.site = site
        self.tz = ZoneInfo(site.plant.timezone)
        self.overrides: dict[tuple[str, str], float] = {}

    def set(self, unit: str, point: str, value: float | None) -> None:
        """Hold a room point (or a unit's value) at ``value``; None returns it to the model."""
        if value is None:
            self.overrides.pop((unit, point), None)
        else:
            self.overrides[(unit, point)] = float(value)

    def _hours(self, t: dt.datetime) -> tuple[int, float]:
        local = t.astimezone(self.tz)
        days = (local.date() - EPOCH).days
        return days, local.hour + local.minute / 60 + local.second / 3600

    def room(self, room_id: str, t: dt.datetime) -> dict[str, float]:
        _, h = self._hours(t)
        out = dict(ROOM_REST, temperature=24.0 + 4.0 * math.sin(2 * math.pi * (h - 9) / 24))
        for (u, p), v in self.overrides.items():
            if u == room_id:
                out[p] = v
        return out

    def pv(self, rated_kw: float, t: dt.datetime) -> tuple[float, float]:
        """AC power [W] and energy since the epoch [Wh]."""
        days, h = self._hours(t)
        peak = PV_SHARE * rated_kw * 1000.0
        day_wh = peak * 12 * 2 / math.pi  # integral of peak x sin over 12 h
        if h < 6:
            return 0.0, max(days, 0) * day_wh
        if h >= 18:
            return 0.0, (max(days, 0) + 1) * day_wh
        x = math.pi * (h - 6) / 12
        return peak * math.sin(x), max(days, 0) * day_wh + peak * 12 / math.pi * (1 - math.cos(x))

    def battery(self, rated_kw: float, capacity_kwh: float, t: dt.datetime) -> dict[str, float]:
        days, h = self._hours(t)
        p = 0.5 * rated_kw  # kW
        lo = 0.2 * capacity_kwh
        moved = 4 * p  # kWh a day, each way
        if 10 <= h < 14:
            w, soc, st, out = -p, lo + p * (h - 10), 4, 0.0
        elif 14 <= h < 18:
            w, soc, st, out = 0.0, lo + moved, 6, 0.0
        elif 18 <= h < 22:
            w, soc, st, out = p, lo + moved - p * (h - 18), 3, p * (h - 18)
        else:
            w, soc, st, out = 0.0, lo + (moved if 14 <= h < 18 else 0.0), 6, (moved if h >= 22 else 0.0)
        return {"W": w * 1000.0, "WH": (max(days, 0) * moved + out) * 1000.0, "ChaState": 100.0 * soc / capacity_kwh,
                "ChaSt": st}


def sunspec_models(kind: str, unit, values: dict[str, float]) -> list[tuple[int, dict]]:
    """The SunSpec models (1, 103 and for a battery 124) a unit serves, with their scale factors."""
    common = {"Mn": "tanjian-sim", "Md": "PV inverter" if kind == "pv" else "battery inverter", "Vr": "1.0",
              "SN": unit.id}
    rated_w = unit.rated_kw * 1000.0
    w_sf = next(s for s in range(0, 6) if rated_w / 10 ** s <= 32767)  # int16 W: scale to fit, as devices do
    inv = {"W": values["W"], "W_SF": w_sf, "WH": values["WH"], "WH_SF": 0, "Hz": 50.0, "Hz_SF": -2,
           "PhVphA": 230.0, "V_SF": -1, "A": abs(values["W"]) / (3 * 230.0), "A_SF": -1, "PF": 100.0, "PF_SF": 0,
           "St": values.get("St", 4 if values["W"] != 0 else 2)}  # 4 MPPT, 2 SLEEPING; a test may set 7 FAULT
    models = [(1, common), (103, inv)]
    if kind == "battery":
        models.append((124, {"WChaMax": rated_w, "WChaMax_SF": w_sf, "ChaState": values["ChaState"],
                             "ChaState_SF": -1, "ChaSt": values["ChaSt"]}))
    return models
