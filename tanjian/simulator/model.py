"""Deterministic load model of the plant's meters, minute by minute.

Each device draws ``standby + (rated - standby) * load`` while switched on. Whether it is on, and
its load, follow the site's shifts (with a start-up ramp before a shift and a lunch dip), the day of
the week, and a per-kind pattern: welding bursts, crane lifts, long test-bench runs, compressors
following the air demand of the shift, HVAC and lighting on a daily cycle. The random parts come
from ``numpy.random.default_rng((seed, device, day))``, so any minute of any day is reproducible
on its own: the live simulator and the history backfill produce the same values.

Main meters see the sum of their sub-meters plus unmetered loads and losses (2 %), so the metering
tree balances the way a real one does (never exactly).
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

from workspace.site import Medium, Site

EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)

#: kind -> (mean load in shift, minute-to-minute variability, duty cycle of bursts, runs off-shift)
PROFILES: dict[str, tuple[float, float, float, bool]] = {
    "welding_robot": (0.75, 0.15, 0.65, False),
    "welding_station": (0.7, 0.2, 0.45, False),
    "laser_cutter": (0.8, 0.1, 0.8, False),
    "plasma_cutter": (0.8, 0.1, 0.4, False),
    "fume_extractor": (0.9, 0.03, 1.0, False),
    "machining_centre": (0.55, 0.15, 0.85, False),
    "boring_mill": (0.5, 0.15, 0.8, False),
    "grinder": (0.5, 0.2, 0.6, False),
    "shot_blaster": (0.85, 0.05, 0.7, False),
    "paint_booth": (0.8, 0.05, 0.9, False),
    "curing_oven": (0.7, 0.05, 1.0, False),
    "overhead_crane": (0.6, 0.3, 0.2, False),
    "assembly_line": (0.5, 0.1, 0.7, False),
    "test_bench": (0.7, 0.1, 0.5, False),
    "air_compressor": (0.7, 0.08, 1.0, True),
    "air_dryer": (0.8, 0.05, 1.0, True),
    "pump": (0.75, 0.03, 1.0, True),
    "cooling_tower": (0.6, 0.1, 1.0, True),
    "boiler": (0.6, 0.1, 1.0, True),
    "hvac": (0.6, 0.05, 1.0, False),
    "lighting": (1.0, 0.0, 1.0, False),
}


def _seed(*parts) -> int:
    return zlib.crc32("|".join(map(str, parts)).encode())


def _hhmm(s: str) -> int:
    h, m = s.split(":")
    return int(h) * 60 + int(m)


@dataclass(frozen=True)
class Day:
    """One local calendar day: its UTC start and its length in minutes (1380/1440/1500 with DST)."""

    date: dt.date
    start_utc: dt.datetime
    minutes: int


class LoadModel:
    """Rates and counters of every meter of a site at any minute (see the module docstring).

    Parameters
    ----------
    site : Site
    seed : int
        Seed of the random parts [-].
    """

    def __init__(self, site: Site, seed: int = 18):
        self.site = site
        self.seed = seed
        self.tz = ZoneInfo(site.plant.timezone)
        self.meter_ids = [m.id for m in site.meters]
        self._midx = {m: i for i, m in enumerate(self.meter_ids)}
        rng = np.random.default_rng(_seed(seed, "initial-counters"))
        # meters were installed before the epoch: start their registers somewhere plausible
        self.initial = rng.uniform(1_000, 40_000, len(self.meter_ids)).round(2)
        os_ = site.onsite  # an inverter's energy register counts from the epoch (tanjian.simulator.points)
        for mid in [p.meter for p in os_.pv] + [b.discharge_meter for b in os_.batteries]:
            if mid in self._midx:
                self.initial[self._midx[mid]] = 0.0
        self._order = self._bottom_up()
        self._cc: dict[dt.date, np.ndarray] = {}

    # -- time ------------------------------------------------------------------------------------
    def day(self, date: dt.date) -> Day:
        start = dt.datetime.combine(date, dt.time(), self.tz).astimezone(dt.timezone.utc)
        end = dt.datetime.combine(date + dt.timedelta(days=1), dt.time(), self.tz).astimezone(dt.timezone.utc)
        return Day(date, start, int((end - start).total_seconds() // 60))

    def local_date(self, t: dt.datetime) -> dt.date:
        return t.astimezone(self.tz).date()

    # -- device power ----------------------------------------------------------------------------
    def _shift_activity(self, date: dt.date, minutes: int) -> np.ndarray:
        """1 inside a shift, 0 outside, a start-up ramp 30 min before, a lunch dip; [-] per minute."""
        a = np.zeros(minutes)
        wd = date.weekday()
        prev_wd = (date - dt.timedelta(days=1)).weekday()
        for s in self.site.shifts:
            st, en = _hhmm(s.start), _hhmm(s.end)
            spans = []
            if en > st:
                if wd in s.weekdays:
                    spans.append((st, en))
            else:  # past midnight: tonight's part and the tail of yesterday's shift
                if wd in s.weekdays:
                    spans.append((st, minutes))
                if prev_wd in s.weekdays:
                    spans.append((0, en))
            for lo, hi in spans:
                a[lo:hi] = 1.0
                if lo >= 30 and (lo, hi) != (0, en):
                    a[lo - 30:lo] = np.maximum(a[lo - 30:lo], np.linspace(0.05, 0.6, 30))
        a[12 * 60:12 * 60 + 30] *= 0.3  # lunch
        return a

    @lru_cache(maxsize=64)
    def device_power(self, date: dt.date) -> np.ndarray:
        """Power of every device for each minute of a local day, shape (minutes, devices) [kW]."""
        day = self.day(date)
        n = day.minutes
        act = self._shift_activity(date, n)
        doy = date.timetuple().tm_yday
        heating = 0.5 + 0.5 * np.cos(2 * np.pi * (doy - 15) / 365.25)  # 1 in mid-January, 0 in July
        hour = np.arange(n) / 60.0
        out = np.zeros((n, len(self.site.devices)))
        for j, d in enumerate(self.site.devices):
            rng = np.random.default_rng(_seed(self.seed, d.id, date.isoformat()))
            mean, var, duty, always = PROFILES[d.kind.value]
            on = act > 0
            load = np.clip(mean + var * rng.standard_normal(n), 0, 1)
            if duty < 1:
                # bursts: runs of busy minutes, mean run length ~ 6 min
                flips = rng.random(n) < 1 / 6
                state = np.cumsum(flips)
                busy = (rng.random(state[-1] + 1) < duty)[state]
                load = np.where(busy, load, 0.0)
            if d.kind.value == "lighting":
                load = np.where(on, 1.0, 0.1)
                on = np.ones(n, bool)
            elif d.kind.value == "hvac":
                load = np.clip(load * (0.4 + 0.6 * abs(heating - 0.5) * 2), 0, 1)
            elif d.kind.value == "boiler":
                load = np.clip(load * heating * (0.6 + 0.4 * np.cos(2 * np.pi * (hour - 6) / 24)), 0, 1)
            if always:
                load = np.where(on, load, 0.3 * load)
                on = np.ones(n, bool)
            p = np.where(on, d.standby_kw + (d.rated_power_kw - d.standby_kw) * load * act.clip(0.05, 1)
                         if not always else d.standby_kw + (d.rated_power_kw - d.standby_kw) * load, 0.0)
            out[:, j] = p
        return out

    # -- meters ----------------------------------------------------------------------------------
    def _bottom_up(self) -> list[int]:
        depth = {}
        by_id = {m.id: m for m in self.site.meters}

        def dep(mid):
            if mid not in depth:
                p = by_id[mid].parent
                depth[mid] = 0 if p is None else dep(p) + 1
            return depth[mid]

        return sorted(range(len(self.meter_ids)), key=lambda i: -dep(self.meter_ids[i]))

    @lru_cache(maxsize=64)
    def meter_rates(self, date: dt.date) -> np.ndarray:
        """Rate of every meter for each minute of a local day, shape (minutes, meters) [kW or m3/h]."""
        dp = self.device_power(date)
        n = dp.shape[0]
        dev = {d.id: j for j, d in enumerate(self.site.devices)}
        kinds = {d.id: d for d in self.site.devices}
        rates = np.zeros((n, len(self.meter_ids)))
        rng = np.random.default_rng(_seed(self.seed, "meters", date.isoformat()))
        meters = self.site.meters
        # leaves first
        for i in self._order:
            m = meters[i]
            kids = [self._midx[c.id] for c in self.site.children(m.id)]
            if m.device is not None and m.medium == Medium.electricity:
                rates[:, i] = dp[:, dev[m.device]]
            elif m.device is not None:  # gas burner of an oven or boiler
                d = kinds[m.device]
                frac = dp[:, dev[m.device]] / max(d.rated_power_kw, 1e-9)
                rates[:, i] = (d.rated_flow_m3h or 0) * frac
            elif kids:
                rates[:, i] = rates[:, kids].sum(axis=1) * 1.02 + 0.01 * (m.rated_power_kw or 0)
            else:  # branch flow meters without a device: follow their workshop's electrical activity
                ws = [dev[d.id] for d in self.site.devices if d.workshop == m.workshop]
                busy = dp[:, ws].sum(axis=1) / max(sum(kinds[self.site.devices[j].id].rated_power_kw
                                                      for j in ws), 1e-9)
                if m.medium == Medium.compressed_air:
                    rates[:, i] = (m.rated_power_kw or 100) * 0.6 * busy
                else:
                    rates[:, i] = (m.rated_power_kw or 10) * 0.3 * (0.2 + busy)
            if m.medium != Medium.electricity and not kids:
                rates[:, i] *= np.clip(1 + 0.02 * rng.standard_normal(n), 0.9, 1.1)
        self._onsite(date, rates)
        return rates

    def _onsite(self, date: dt.date, rates: np.ndarray) -> None:
        """On-site generation and storage in the meters' rates of a local day (in place): each PV
        inverter's and battery's meters show what :class:`tanjian.simulator.points.PointModel` serves over
        SunSpec (each minute's mean power = its energy register's change over the minute x 60, so the
        counters here and the inverters' WH agree at every minute); a transformer's incomer shows the net
        import, its loads + battery charge - PV - battery discharge, and what is left over when that is
        negative goes out through the export meters of that transformer (``Meter.transformer``; shared
        equally; a surplus where there is none is not shown anywhere: give such a plant an export meter)."""
        os_ = self.site.onsite
        if not (os_.pv or os_.batteries):
            return
        from .points import PointModel

        pm = PointModel(self.site)
        day = self.day(date)
        ts = [day.start_utc + dt.timedelta(minutes=k) for k in range(day.minutes + 1)]
        incomer = {t.id: self._midx[t.meter] for t in self.site.transformers if t.meter in self._midx}
        net = {tr: np.zeros(day.minutes) for tr in incomer}  # kW added to each incomer's loads

        def per_minute(wh: list[float]) -> np.ndarray:
            return np.diff(np.asarray(wh)) / 1000.0 * 60.0  # Wh per minute -> mean kW

        def put(meter, kw):
            if meter in self._midx:
                rates[:, self._midx[meter]] = kw

        for p in os_.pv:
            kw = per_minute([pm.pv(p.rated_kw, t)[1] for t in ts])
            put(p.meter, kw)
            if p.transformer in net:
                net[p.transformer] -= kw
        for b in os_.batteries:
            v = [pm.battery(b.rated_kw, b.capacity_kwh, t) for t in ts]
            out, taken = per_minute([x["WH"] for x in v]), per_minute([x["charged_wh"] for x in v])
            put(b.discharge_meter, out)
            put(b.charge_meter, taken)
            if b.transformer in net:
                net[b.transformer] += taken - out
        surplus = {}
        for tr, i in incomer.items():
            x = rates[:, i] + net[tr]
            surplus[tr] = np.clip(-x, 0, None)
            rates[:, i] = np.clip(x, 0, None)
        by_id = {m.id: m for m in self.site.meters}
        exp = [m for m in os_.export_meters if m in by_id]
        for m in exp:  # an export meter shares its transformer's surplus with the others there
            tr = by_id[m].transformer
            if tr in surplus:
                put(m, surplus[tr] / sum(by_id[x].transformer == tr for x in exp))

    def _day_totals(self, date: dt.date) -> np.ndarray:
        return self.meter_rates(date).sum(axis=0) / 60.0

    def counters_at_day_start(self, date: dt.date) -> np.ndarray:
        """Counter of every meter at local midnight [kWh or m3] (integrated from the epoch, cached)."""
        cache = self._cc
        if date not in cache:
            first = self.local_date(EPOCH)
            earlier = [d for d in cache if d < date]
            d = max(earlier) if earlier else first
            acc = cache[d].copy() if earlier else self.initial.copy()
            while d < date:
                acc = acc + self._day_totals(d)
                d += dt.timedelta(days=1)
            cache[date] = acc
        return cache[date]

    def at(self, t: dt.datetime) -> tuple[np.ndarray, np.ndarray]:
        """``(counters, rates)`` of every meter at instant ``t`` [kWh|m3, kW|m3/h]."""
        date = self.local_date(t)
        day = self.day(date)
        offset_min = (t - day.start_utc).total_seconds() / 60.0
        m = min(int(offset_min), day.minutes - 1)
        rates = self.meter_rates(date)
        base = self.counters_at_day_start(date)
        counters = base + rates[:m].sum(axis=0) / 60.0 + rates[m] * (offset_min - m) / 60.0
        return counters, rates[m]

    def minutes(self, start: dt.datetime, end: dt.datetime):
        """Yield ``(time, counters, rates)`` at each whole UTC minute in [start, end)."""
        t = start.replace(second=0, microsecond=0)
        if t < start:
            t += dt.timedelta(minutes=1)
        while t < end:
            c, r = self.at(t)
            yield t, c, r
            t += dt.timedelta(minutes=1)

    def electrical(self, rate_kw: np.ndarray, date_seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Phase-average voltage [V], current [A] and power factor [-] consistent with power [kW]."""
        v = 229.0 + 2.5 * np.sin(rate_kw * 0.7 + date_seed)
        pf = np.clip(0.82 + 0.13 * np.tanh(rate_kw / 20.0), 0.5, 0.99)
        i = rate_kw * 1000.0 / (3 * v * pf)
        return v, i, pf


#: reactive and apparent energy per kWh of active energy, and THD [%], of the simulated meters (fixed
#: ratios, so that every counter only grows)
REACTIVE_PER_KWH = 0.4
VOLTAGE_THD_PCT = 1.8
CURRENT_THD_PCT = 7.5
FREQUENCY_HZ = 50.0


def phase_values(rate_kw: float, counter_kwh: float, volts: float, pf: float, *,
                 phases: int = 3, key: int = 0, minute: int = 0) -> dict[str, float]:
    """Every value a meter's register map can hold (:data:`workspace.meters.MAP_VALUES`), consistent
    with the totals of :meth:`LoadModel.electrical`.

    A three-phase meter splits its power over the phases by fixed weights (a slight, per-meter
    imbalance, ``key``), with equal phase voltages ``volts`` and one power factor ``pf``, so that
    P = Pa + Pb + Pc, S = Sa + Sb + Sc, Q = Qa + Qb + Qc, PF = P / S and the average phase current is
    the model's (P / (3 V PF)); a single-phase meter (``phases=1``) carries everything on phase 1 (three
    times that current, the same power). Energies: import = ``counter_kwh`` split by the same weights, no export, reactive
    and apparent energy by fixed ratios. Frequency ~50 Hz (±0.05 Hz over the hour, by ``minute``).
    Units: W, var, VA, V, A, Hz, kWh, kvarh, kVAh, Ah, %, degrees.
    """
    p_w = max(float(rate_kw), 0.0) * 1000.0
    pf = float(min(max(pf, 1e-3), 1.0))
    if phases == 1:
        w = np.array([1.0, 0.0, 0.0])
    else:
        a = 0.06 * np.sin(key * 0.9 + 2 * np.pi * np.arange(3) / 3)  # sums to 0: weights sum to 1
        w = (1.0 + a) / 3.0
    live = w > 0
    v = np.where(live, float(volts), 0.0)
    p = p_w * w
    s = p / pf
    q = np.sqrt(np.maximum(s * s - p * p, 0.0))
    i = np.where(live, s / np.where(live, v, 1.0), 0.0)
    angle = np.where(live, np.degrees(np.arccos(pf)), 0.0)
    out: dict[str, float] = {}
    ph = "abc"
    imp = counter_kwh * w
    for k, c in enumerate(ph):
        out.update({
            f"voltage_{c}": v[k], f"current_{c}": i[k], f"power_{c}": p[k], f"va_{c}": s[k], f"var_{c}": q[k],
            f"pf_{c}": pf if live[k] else 0.0, f"angle_{c}": angle[k],
            f"thd_voltage_{c}": VOLTAGE_THD_PCT if live[k] else 0.0,
            f"thd_current_{c}": CURRENT_THD_PCT if live[k] and p[k] > 0 else 0.0,
            f"current_demand_{c}": i[k], f"current_demand_max_{c}": i[k],
            f"import_kwh_{c}": imp[k], f"export_kwh_{c}": 0.0, f"total_kwh_{c}": imp[k],
            f"import_kvarh_{c}": imp[k] * REACTIVE_PER_KWH, f"export_kvarh_{c}": 0.0,
            f"total_kvarh_{c}": imp[k] * REACTIVE_PER_KWH,
        })
    n = int(live.sum())
    ll = float(volts) * np.sqrt(3.0) if phases == 3 else 0.0
    # neutral current: the phasor sum of the phase currents, 120 degrees apart
    i_n = abs(sum(i[k] * np.exp(2j * np.pi * k / 3) for k in range(3))) if phases == 3 else i[0]
    P, S, Q = float(p.sum()), float(s.sum()), float(q.sum())
    total_pf = P / S if S > 0 else 1.0
    out.update({
        "voltage_ab": ll, "voltage_bc": ll, "voltage_ca": ll, "voltage_ll": ll,
        "thd_voltage_ab": VOLTAGE_THD_PCT if ll else 0.0, "thd_voltage_bc": VOLTAGE_THD_PCT if ll else 0.0,
        "thd_voltage_ca": VOLTAGE_THD_PCT if ll else 0.0, "thd_voltage_ll": VOLTAGE_THD_PCT if ll else 0.0,
        "voltage_ln": float(v[live].mean()), "thd_voltage_ln": VOLTAGE_THD_PCT,
        "current_avg": float(i[live].mean()), "current_sum": float(i.sum()), "current_n": float(i_n),
        "thd_current_avg": CURRENT_THD_PCT if P > 0 else 0.0,
        "power": P, "va": S, "var": Q, "pf": total_pf, "angle": float(np.degrees(np.arccos(total_pf))),
        "pf_angle_neg": -float(np.degrees(np.arccos(total_pf))),
        "frequency": FREQUENCY_HZ + 0.05 * float(np.sin(2 * np.pi * minute / 60.0)),
        "import_kwh": float(counter_kwh), "export_kwh": 0.0, "total_kwh": float(counter_kwh),
        "import_kvarh": counter_kwh * REACTIVE_PER_KWH, "export_kvarh": 0.0,
        "total_kvarh": counter_kwh * REACTIVE_PER_KWH,
        "kvah": counter_kwh * float(np.hypot(1.0, REACTIVE_PER_KWH)),
        "ah": counter_kwh * 1000.0 / (float(volts) * n) if volts > 0 else 0.0,
        "demand_w": P, "demand_max_w": P, "import_demand_w": P, "import_demand_max_w": P,
        "export_demand_w": 0.0, "export_demand_max_w": 0.0, "va_demand": S, "va_demand_max": S,
        "current_n_demand": float(i_n), "current_n_demand_max": float(i_n),
    })
    return {k: float(x) for k, x in out.items()}
