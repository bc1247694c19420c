"""Plant-18-like synthetic sites of any size and their minute data, generated fast and deterministically.

The site
--------
:func:`make_site` scales Plant 18's shape (``workspace/examples/plant18.yaml``: 90 meters = 3 transformer
incomers, 6 workshop mains, 70 device meters, 4 gas, 3 water and 4 compressed-air meters) to ``n``
meters: about 4.5 % natural gas, 3.3 % water and 4.5 % compressed air (each a main plus sub-meters),
the rest electricity as incomers (≈ 1 per 26), workshop mains (≈ 1 per 13) and device meters. Plant
18's shifts and time zone are kept. At 90 meters it has Plant 18's counts (not its ids).

The data
--------
Not the per-minute :class:`tanjian.simulator.model.LoadModel` (a Python loop per device and day:
about 0.1 s per day at 90 meters, too slow for 1,000 meters × a year), but the same recipe
vectorised over devices: shift activity (``LoadModel._shift_activity``, reused), per-kind mean load,
noise and duty-cycle bursts (``PROFILES``), workshop mains = 1.02 × their devices, incomers = 1.02 ×
their workshop mains, gas/water/air following the workshop's activity. Counters integrate the rates
(``counter[s+1] = counter[s] + rate[s] / 60``), so the energy the store derives from counter deltas is
the exact float ``counter[s] - counter[s-1]``, which the generator also returns. Quality is 0 (a clean
plant: the benchmark measures speed; the quality logic has its own tests).

Blocks are whole UTC days (the first and last may be partial), each drawn from
``numpy.random.default_rng((seed, first minute))``: every consumer that walks the same history gets
bit-identical values, whatever it keeps.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

from tanjian.simulator.model import PROFILES, LoadModel
from workspace.site import Medium, Site

TZ = "Asia/Shanghai"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
#: device kinds cycled through a workshop, with rated and standby power [kW] (Plant 18's values)
KINDS = [("laser_cutter", 45.0, 4.0), ("welding_robot", 22.0, 1.5), ("welding_station", 18.0, 0.5),
         ("machining_centre", 35.0, 3.0), ("grinder", 20.0, 1.0), ("paint_booth", 45.0, 5.0),
         ("overhead_crane", 32.0, 0.5), ("test_bench", 75.0, 2.0), ("air_compressor", 110.0, 15.0),
         ("pump", 30.0, 0.0), ("hvac", 40.0, 2.0), ("lighting", 12.0, 0.0), ("fume_extractor", 15.0, 0.0)]
FLOW = {Medium.natural_gas: 60.0, Medium.water: 8.0, Medium.compressed_air: 300.0}  # sub-meter rated flow [m3/h]


def make_site(n: int) -> Site:
    """A Plant-18-like site with ``n`` meters (``n`` >= 5); see the module docstring."""
    if n < 5:
        raise ValueError("a generated plant needs at least 5 meters")
    n_gas, n_wat, n_air = max(1, round(0.045 * n)), round(0.033 * n), round(0.045 * n)
    n_el = n - n_gas - n_wat - n_air
    n_tr = max(1, round(n_el / 26))
    n_ws = max(n_tr, round(n_el / 13))
    n_dev = n_el - n_tr - n_ws
    workshops = [{"id": f"WS-{w:03d}", "name": f"Workshop {w}", "transformer": f"TR-{w % n_tr:02d}",
                  "lines": [{"id": f"L-{w:03d}", "name": f"Line {w}"}]} for w in range(n_ws)]
    devices, meters = [], []
    unit = {"i": 0}

    def gw_unit():
        k = unit["i"]
        unit["i"] += 1
        return {"gateway": f"gw-{k // 240:02d}", "unit_id": k % 240 + 1}

    dev_sum = np.zeros(n_ws)
    for d in range(n_dev):
        w = d % n_ws
        kind, rated, standby = KINDS[(d // n_ws + w) % len(KINDS)]
        devices.append({"id": f"D-{d:05d}", "name": f"{kind} {d}", "kind": kind, "workshop": f"WS-{w:03d}",
                        "line": f"L-{w:03d}", "rated_power_kw": rated, "standby_kw": standby})
        dev_sum[w] += rated
        meters.append({"id": f"M-D-{d:05d}", "medium": "electricity", "family": "sdm630", **gw_unit(),
                       "parent": f"M-WS-{w:03d}", "device": f"D-{d:05d}", "workshop": f"WS-{w:03d}",
                       "rated_power_kw": round(rated * 1.3, 3)})
    tr_sum = np.zeros(n_tr)
    for w in range(n_ws):
        tr_sum[w % n_tr] += dev_sum[w]
        meters.append({"id": f"M-WS-{w:03d}", "medium": "electricity", "family": "cn3p-int32", **gw_unit(),
                       "parent": f"M-TR-{w % n_tr:02d}", "workshop": f"WS-{w:03d}"})
    transformers = []
    for t in range(n_tr):
        kva = float(max(100.0, round(tr_sum[t] * 1.25, -1)))
        transformers.append({"id": f"TR-{t:02d}", "name": f"Transformer {t}", "rated_kva": kva,
                             "meter": f"M-TR-{t:02d}"})
        meters.append({"id": f"M-TR-{t:02d}", "medium": "electricity", "family": "cn3p-int32", **gw_unit(),
                       "transformer": f"TR-{t:02d}", "rated_power_kw": round(kva * 1.5, 1)})
    for medium, count, tag in ((Medium.natural_gas, n_gas, "GAS"), (Medium.water, n_wat, "WAT"),
                               (Medium.compressed_air, n_air, "AIR")):
        if count == 0:
            continue
        main = f"M-{tag}-MAIN"
        meters.append({"id": main, "medium": medium.value, "family": "flow-u32", **gw_unit(),
                       "rated_power_kw": FLOW[medium] * 1.5 * max(count - 1, 1) + 10})
        for k in range(count - 1):
            meters.append({"id": f"M-{tag}-{k:04d}", "medium": medium.value, "family": "flow-u32", **gw_unit(),
                           "parent": main, "workshop": f"WS-{k % n_ws:03d}", "rated_power_kw": FLOW[medium] * 1.5})
    gateways = [{"id": f"gw-{g:02d}", "port": 5020 + g} for g in range(-(-unit["i"] // 240))]
    return Site.model_validate({
        "enterprise": {"name": "Benchmark Heavy Machinery Co.", "industry": "machinery manufacturing"},
        "plant": {"id": f"bench-{n}", "name": f"Generated plant ({n} meters)", "city": "Changsha",
                  "province": "Hunan", "timezone": TZ, "grid": "CN-national"},
        "transformers": transformers, "workshops": workshops, "devices": devices, "gateways": gateways,
        "meters": meters,
        "shifts": [{"id": "S-DAY", "name": "Day shift", "start": "08:00", "end": "16:30",
                    "weekdays": [0, 1, 2, 3, 4, 5]},
                   {"id": "S-EVE", "name": "Evening shift", "start": "16:30", "end": "01:00",
                    "weekdays": [0, 1, 2, 3, 4]}],
    })


@dataclass
class Block:
    """Minutes ``[t0, t0 + len)`` of every meter (rows: UTC minutes; columns: the site's meters).

    ``counter`` is the reading at the minute [kWh | m3], ``rate`` the instantaneous rate [kW | m3/h],
    ``energy`` the store's energy of the minute ENDING at the reading (``counter[s] - counter[s-1]``;
    NaN at the very first reading), ``voltage``/``current``/``power_factor`` NaN for non-electric meters.
    """

    t0: int  # minutes since 1970-01-01 UTC
    counter: np.ndarray
    rate: np.ndarray
    energy: np.ndarray
    voltage: np.ndarray
    current: np.ndarray
    power_factor: np.ndarray

    def __len__(self) -> int:
        return self.counter.shape[0]

    def times(self) -> np.ndarray:
        return (self.t0 + np.arange(len(self), dtype=np.int64)) * np.int64(60_000_000)  # UTC [us]

    def rows(self, a: int, b: int) -> "Block":
        """Rows ``[a, b)`` as a block of its own."""
        return Block(self.t0 + a, *(x[a:b] for x in (self.counter, self.rate, self.energy, self.voltage,
                                                        self.current, self.power_factor)))


class PlantData:
    """Deterministic minute data of ``site`` for ``[start, end)`` (UTC, whole minutes).

    Parameters
    ----------
    site : Site
    start, end : datetime
        Timezone-aware.
    seed : int
    """

    def __init__(self, site: Site, start: dt.datetime, end: dt.datetime, seed: int = 18):
        self.site, self.seed = site, seed
        self.m0 = int((start - EPOCH) // dt.timedelta(minutes=1))
        self.m1 = int((end - EPOCH) // dt.timedelta(minutes=1))
        self.tz = ZoneInfo(site.plant.timezone)
        self.meter_ids = [m.id for m in site.meters]
        idx = {m: i for i, m in enumerate(self.meter_ids)}
        self._lm = LoadModel(site, seed)
        devs = site.devices
        self.dev_rated = np.array([d.rated_power_kw for d in devs])
        self.dev_standby = np.array([d.standby_kw for d in devs])
        prof = np.array([PROFILES[d.kind.value][:3] for d in devs])
        self.dev_mean, self.dev_var, self.dev_duty = prof.T
        self.dev_always = np.array([PROFILES[d.kind.value][3] for d in devs])
        self.dev_light = np.array([d.kind.value == "lighting" for d in devs])
        ws_ids = [w.id for w in site.workshops]
        wsi = {w: i for i, w in enumerate(ws_ids)}
        self.dev_ws = np.array([wsi[d.workshop] for d in devs])
        dev_meter = {m.device: idx[m.id] for m in site.meters if m.device is not None}
        self.dev_col = np.array([dev_meter[d.id] for d in devs])
        self.ws_col = np.array([idx[f"M-{w.id}"] for w in site.workshops])
        self.tr_of_ws = np.array([int(w.transformer.split("-")[1]) for w in site.workshops])
        self.tr_col = np.array([idx[t.meter] for t in site.transformers])
        self.tr_const = np.array([0.01 * site.meter(t.meter).rated_power_kw for t in site.transformers])
        self.flow = []  # (main column, [(sub column, workshop index, rated flow)])
        for tag in ("GAS", "WAT", "AIR"):
            main = f"M-{tag}-MAIN"
            if main in idx:
                subs = [(idx[m.id], wsi[m.workshop], m.rated_power_kw / 1.5) for m in site.meters
                        if m.parent == main]
                self.flow.append((idx[main], subs))
        self.elec = np.array([m.medium == Medium.electricity for m in site.meters])
        rng = np.random.default_rng([seed, 0])
        self.initial = rng.uniform(1_000, 40_000, len(self.meter_ids)).round(2)

    @property
    def minutes(self) -> int:
        return self.m1 - self.m0

    def _activity(self, t: np.ndarray) -> np.ndarray:
        """Shift activity at UTC minutes ``t`` [-] (LoadModel's, for each local day touched)."""
        out = np.empty(len(t))
        off = int(dt.datetime(2000, 1, 1, tzinfo=self.tz).utcoffset() // dt.timedelta(minutes=1))
        local = t + off  # the site's zone has no DST since 1991
        day = local // 1440
        for d in np.unique(day):
            date = dt.date(1970, 1, 1) + dt.timedelta(days=int(d))
            act = self._lm._shift_activity(date, 1440)
            sel = day == d
            out[sel] = act[local[sel] - d * 1440]
        return out

    def _rates(self, t0: int, n: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, t0])
        t = t0 + np.arange(n, dtype=np.int64)
        act = self._activity(t)[:, None]
        on = act > 0
        nd = len(self.dev_rated)
        load = np.clip(self.dev_mean + self.dev_var * rng.standard_normal((n, nd)), 0, 1)
        state = np.cumsum(rng.random((n, nd)) < 1 / 6, axis=0)
        busy = rng.random((n + 1, nd)) < self.dev_duty
        busy = np.take_along_axis(busy, state, axis=0)
        load = np.where(busy | (self.dev_duty >= 1), load, 0.0)
        load = np.where(self.dev_light, np.where(on, 1.0, 0.1), load)
        always = self.dev_always | self.dev_light
        load = np.where(self.dev_always & ~on, 0.3 * load, load)
        span = self.dev_rated - self.dev_standby
        p = np.where(always, self.dev_standby + span * load,
                     np.where(on, self.dev_standby + span * load * np.clip(act, 0.05, 1), 0.0))
        rates = np.zeros((n, len(self.meter_ids)))
        rates[:, self.dev_col] = p
        ws = np.zeros((n, len(self.ws_col)))
        np.add.at(ws.T, self.dev_ws, p.T)
        busy_ws = ws / np.maximum(np.bincount(self.dev_ws, self.dev_rated, len(self.ws_col)), 1e-9)
        rates[:, self.ws_col] = ws * 1.02
        tr = np.zeros((n, len(self.tr_col)))
        np.add.at(tr.T, self.tr_of_ws, (ws * 1.02).T)
        rates[:, self.tr_col] = tr * 1.02 + self.tr_const
        for main, subs in self.flow:
            total = np.zeros(n)
            for col, w, rated in subs:
                r = rated * (0.15 + 0.75 * busy_ws[:, w]) * np.clip(1 + 0.02 * rng.standard_normal(n), 0.9, 1.1)
                rates[:, col] = r
                total += r
            rates[:, main] = total * 1.02 + 0.5
        return rates

    def blocks(self, start: int | None = None, stop: int | None = None) -> Iterator[Block]:
        """Blocks (whole UTC days, cut at ``start``/``stop`` minutes since 1970) of ``[start, stop)``.

        Counters run from the history's start: blocks before ``start`` are generated (to carry the
        counters) but not yielded.
        """
        start = self.m0 if start is None else start
        stop = self.m1 if stop is None else stop
        counter = self.initial.copy()
        last = np.full(len(self.meter_ids), np.nan)  # counter of the minute before the block
        t = self.m0
        while t < min(stop, self.m1):
            t1 = min((t // 1440 + 1) * 1440, self.m1)
            n = t1 - t
            rates = self._rates(t, n)
            c = np.empty((n + 1, len(self.meter_ids)))
            c[0] = counter
            c[1:] = rates / 60.0
            np.cumsum(c, axis=0, out=c)
            cnt = c[:n]
            energy = np.empty_like(cnt)
            energy[0] = cnt[0] - last
            energy[1:] = cnt[1:] - cnt[:-1]
            if t1 > start:
                minute = (t - (t // 1440) * 1440 + np.arange(n))[:, None]  # LoadModel.electrical's seed
                v = 229.0 + 2.5 * np.sin(rates * 0.7 + (minute % 60))
                pf = np.clip(0.82 + 0.13 * np.tanh(rates / 20.0), 0.5, 0.99)
                cur = rates * 1000.0 / (3 * v * pf)
                nan = ~self.elec
                v[:, nan] = np.nan
                pf[:, nan] = np.nan
                cur[:, nan] = np.nan
                b = Block(t, cnt, rates, energy, v, cur, pf)
                a = max(start - t, 0)
                yield b.rows(a, min(stop, t1) - t) if (a or t1 > stop) else b
            last = cnt[-1].copy()
            counter = c[n].copy()
            t = t1
