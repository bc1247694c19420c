"""A day of faults survived: the simulated plant for ``--hours`` at ``--speed`` with faults on a schedule.

``python -m benchmarks.fault_day [--hours 24] [--speed N] [--out DIR] [--schedule day|short] [--file YAML]``

Runs the every-protocol corner of Plant 18 (Modbus TCP, Modbus RTU over TCP, DL/T 645, MQTT through mosquitto,
OPC UA) with the real collector (``tanjian collect``: journal, keeper, fold into the Icechunk store on S3) and
the real anchoring loop (``tanjian anchor`` against anvil), as :mod:`benchmarks._faultplant` starts them, and
injects the faults of ``benchmarks/fault_day.yaml`` (schedule as data) on the simulated clock. At the end, the
command itself checks:

- **exactly once**: every reading the journal acknowledged to the collector is in the store once, with its value
  (first reading of its minute slot: a later one of the same slot is a duplicate), and the store holds no reading
  the journal did not acknowledge;
- **caught up, in order**: the store folded the whole journal; the ledger has a leaf per journal batch; the last
  anchor covers the whole ledger, its root is the ledger's root and the chain's latest for the plant; anchors'
  tree sizes and blocks only grow;
- **visible**: each fault shows in ``tanjian status --json`` taken during it, and in the logs;
- **no crash**: no supervised process exited by itself;

and writes the table of faults × outcome (readings at risk, read, missed, lost, duplicated, time to recover in
simulated and wall time) as Markdown and JSON into ``--out``, and prints it. Exit status 0 when every check
passes, 1 otherwise. Needs root (it mounts a tmpfs), anvil and mosquitto.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from benchmarks._faultplant import FaultPlant
from workspace.clock import Clock

SCHEDULE = Path(__file__).with_name("fault_day.yaml")
KINDS = ("kill_collector", "kill_anchor", "disk_full", "broker_down", "chain_down", "meter_dead", "meter_flapping",
         "malformed_frames", "clock_step", "store_down")
SLOT_MS = 60_000
log = logging.getLogger("fault_day")


@dataclass
class Fault:
    """One scheduled fault and, once run, what it did."""

    n: int
    kind: str
    at_s: float  # [simulated s after the day's start]
    minutes: float
    target: str
    step_s: float = 0.0
    every_min: float = 0.0
    # filled in by the run
    start_sim: dt.datetime | None = None
    end_sim: dt.datetime | None = None
    start_wall: float = 0.0
    end_wall: float = 0.0
    recovered_wall: float | None = None
    batches_at_end: int = 0
    status: dict = field(default_factory=dict)
    status_seen: str = ""
    log_seen: str = ""
    log_marks: dict = field(default_factory=dict)
    outcome: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.n}. {self.kind} ({self.target})"


def load_schedule(path: Path, name: str) -> tuple[float, list[Fault]]:
    """``(hours, faults)`` of schedule ``name`` in ``path``; ValueError naming file, entry and field. The
    schedule's ``speed`` and ``config`` are read by :func:`schedule_settings`."""
    doc = yaml.safe_load(path.read_text())
    if not isinstance(doc, dict) or name not in doc:
        raise ValueError(f"{path}: no schedule {name!r} (have: {', '.join(doc or {})})")
    sched = doc[name]
    out = []
    for k, e in enumerate(sched.get("faults") or [], start=1):
        where = f"{path}:{name}.faults[{k - 1}]"
        if e.get("fault") not in KINDS:
            raise ValueError(f"{where}.fault: {e.get('fault')!r} is not one of {', '.join(KINDS)}")
        m = re.fullmatch(r"(\d+):([0-5]\d)", str(e.get("at", "")))
        if not m:
            raise ValueError(f"{where}.at: {e.get('at')!r} is not HH:MM")
        if not isinstance(e.get("minutes"), (int, float)) or e["minutes"] <= 0:
            raise ValueError(f"{where}.minutes: {e.get('minutes')!r} is not a positive number")
        if not e.get("target"):
            raise ValueError(f"{where}.target: missing")
        out.append(Fault(k, e["fault"], int(m[1]) * 3600 + int(m[2]) * 60, float(e["minutes"]), str(e["target"]),
                         float(e.get("step_s", 0)), float(e.get("every_min", 0))))
    return float(sched.get("hours", 24)), sorted(out, key=lambda f: f.at_s)


def schedule_settings(path: Path, name: str) -> tuple[float | None, dict]:
    """``(speed or None, configuration overrides)`` of schedule ``name``."""
    sched = yaml.safe_load(path.read_text())[name]
    over = sched.get("config") or {}
    if not isinstance(over, dict) or not all(isinstance(v, dict) for v in over.values()):
        raise ValueError(f"{path}:{name}.config: a mapping of section -> {{key: value}}")
    return sched.get("speed"), over


# -- what each fault does ------------------------------------------------------------------------------------
class Injector:
    """Begin and end each kind of fault on a :class:`FaultPlant`."""

    def __init__(self, plant: FaultPlant):
        self.plant = plant
        self._flap_stop: dict[int, threading.Event] = {}

    def begin(self, f: Fault) -> None:
        p = self.plant
        if f.kind == "kill_collector":
            f.outcome["pid"] = p.collector.kill9(hold=True)
        elif f.kind == "kill_anchor":
            f.outcome["pid"] = p.anchorer.kill9(hold=True)
        elif f.kind == "disk_full":
            p.fill_disk()
        elif f.kind == "broker_down":
            p.broker().stop()
        elif f.kind == "chain_down":
            p.stop_anvil()
        elif f.kind == "meter_dead":
            p.in_loop(p.sim.kill, f.target)
        elif f.kind == "meter_flapping":
            stop = self._flap_stop[f.n] = threading.Event()
            threading.Thread(target=self._flap, args=(f, stop), daemon=True).start()
        elif f.kind == "malformed_frames":
            self._malformed(f, True)
        elif f.kind == "clock_step":
            c = p.clock
            p.collector_clock = Clock(c.origin + dt.timedelta(seconds=f.step_s), c.wall_origin, c.speed)
            p.collector.restart(f"clock step {f.step_s:+g} s")
        elif f.kind == "store_down":
            p.stop_s3()

    def end(self, f: Fault) -> None:
        p = self.plant
        if f.kind == "kill_collector":
            p.collector.release()
        elif f.kind == "kill_anchor":
            p.anchorer.release()
        elif f.kind == "disk_full":
            p.free_disk()
        elif f.kind == "broker_down":
            p.broker().start()
        elif f.kind == "chain_down":
            p.start_anvil()
        elif f.kind in ("meter_dead", "meter_flapping"):
            if f.n in self._flap_stop:
                self._flap_stop[f.n].set()
            p.in_loop(p.sim.revive, f.target)
        elif f.kind == "malformed_frames":
            self._malformed(f, False)
        elif f.kind == "clock_step":
            p.collector_clock = p.clock
            p.collector.restart("clock stepped back")
        elif f.kind == "store_down":
            p.start_s3()

    def _flap(self, f: Fault, stop: threading.Event) -> None:
        p, dead = self.plant, False
        while not stop.wait(p.clock.sleep_seconds(f.every_min * 60)):
            dead = not dead
            p.in_loop(p.sim.kill if dead else p.sim.revive, f.target)

    def _malformed(self, f: Fault, on: bool) -> None:
        """DL/T 645 meters answer random bytes; a clamp meter's topic gets payloads that are no JSON."""
        p = self.plant
        proto = p.protocol_of(p.gateway_of(f.target))
        if proto == "dlt645_tcp":
            bus = p.dlt645_bus(f.target)
            p.in_loop(bus.garbled.add if on else bus.garbled.discard, f.target)
        elif proto == "mqtt":
            if on:
                stop = self._flap_stop[f.n] = threading.Event()
                threading.Thread(target=self._garbage, args=(f, stop), daemon=True).start()
            else:
                self._flap_stop[f.n].set()
        else:
            raise ValueError(f"malformed_frames: meter {f.target} is on {proto}; give a DL/T 645 or MQTT meter")

    def _garbage(self, f: Fault, stop: threading.Event) -> None:
        from tanjian.simulator.mqtt import topic_for

        p = self.plant
        meter = next(m for m in p.cfg.site.meters if m.id == f.target)
        pub = p.publisher()
        while not stop.wait(p.clock.sleep_seconds(20)):
            pub.client.publish(topic_for(meter), b"\x00{not json", qos=1)


# -- what status and the logs must show during each fault ------------------------------------------------------
def status_shows(f: Fault, s: dict, plant: FaultPlant) -> str:
    """What in ``tanjian status --json`` (taken during the fault) shows it; "" when nothing does."""
    col, problems = s.get("collector") or {}, s.get("problems") or []
    failing = col.get("failing") or {}
    period_wall = plant.clock.sleep_seconds(60)
    if f.kind == "kill_collector" and (col.get("age_s") or 0) > 2 * period_wall:
        return f"collector.age_s = {col['age_s']} (health not written since the kill)"
    if f.kind in ("kill_anchor", "chain_down"):
        last = (s.get("ledger") or {}).get("last_anchor") or {}
        age = time.time() - last.get("block_time", time.time())
        if f.kind == "chain_down" and (s.get("chain") or {}).get("reachable") is False:
            return "chain.reachable = false"
        if f.kind == "kill_anchor" and age > 2 * plant.cfg.chain.anchor_interval_s:
            return (f"ledger.last_anchor {age:.0f} s old (anchoring every {plant.cfg.chain.anchor_interval_s:g} s), "
                    f"{s['ledger'].get('unanchored')} batches unanchored")
    if f.kind == "disk_full":
        disk = [p for p in problems if p.startswith("disk:")]
        if disk:
            return f"{disk[0]}; collector.pending_cycles = {col.get('pending_cycles')}"
    if f.kind == "broker_down":
        gw = {m.id for m in plant.cfg.site.meters if m.gateway == f.target} | {f.target}
        hit = sorted(set(failing) & gw)
        if hit:
            return f"collector.failing: {hit[0]}: {failing[hit[0]]['last_error']}"
    if f.kind in ("meter_dead", "meter_flapping", "malformed_frames") and f.target in failing:
        return f"collector.failing.{f.target}: {failing[f.target]['last_error']}"
    if f.kind == "clock_step":
        for k, v in (col.get("clock_off") or {}).items():
            return f"collector.clock_off.{k}: {v}"
    if f.kind == "store_down":
        st = s.get("store") or {}
        if st.get("error") or col.get("fold_error"):
            return f"store: {st.get('error') or col.get('fold_error')}"[:200]
    return ""


LOG_PATTERNS = {  # (log, what shows the fault there: a WARNING or ERROR line, or the supervisor's restart)
    "kill_collector": ("collector", r"=== fault day: starting collector"),
    "kill_anchor": ("anchoring", r"=== fault day: starting anchoring"),
    "disk_full": ("collector", r"(WARNING|ERROR).*(no space left|No space left)"),
    "broker_down": ("collector", r"(WARNING|ERROR).*gateway {gateway}: disconnected"),
    "chain_down": ("anchoring", r"(WARNING|ERROR).*(unreachable|anchoring failed)"),
    "meter_dead": ("collector", r"(WARNING|ERROR).*meter {target}"),
    "meter_flapping": ("collector", r"(WARNING|ERROR).*meter {target}"),
    "malformed_frames": ("collector", r"(WARNING|ERROR).*{target}"),
    "clock_step": ("collector", r"WARNING.*its clock is [+-]\d+ s off"),
    "store_down": ("collector", r"(WARNING|ERROR).*(fold|store|s3|S3)"),
}


def _log_size(plant: FaultPlant, name: str) -> int:
    try:
        return (plant.logs / f"{name}.log").stat().st_size
    except OSError:
        return 0


def log_shows(f: Fault, plant: FaultPlant) -> str:
    """The first log line written between the fault's start and its recovery that shows it; "" if none."""
    name, pattern = LOG_PATTERNS[f.kind]
    pattern = pattern.format(target=re.escape(f.target), gateway=re.escape(f.target))
    with open(plant.logs / f"{name}.log", "rb") as fh:
        fh.seek(f.log_marks.get("start", 0))
        text = fh.read(max(0, f.log_marks.get("end", 0) - f.log_marks.get("start", 0))).decode(errors="replace")
    for line in text.splitlines():
        if re.search(pattern, line):
            return f"{name}.log: {line.strip()[:160]}"
    return ""


# -- when a fault is over ------------------------------------------------------------------------------------
def _anchored(plant: FaultPlant) -> int:
    from chain.anchor import anchors

    try:
        a = anchors(plant.cfg.paths.chain)
    except Exception:  # noqa: BLE001 - being written
        return 0
    return a[-1]["tree_size"] if a else 0


def _folded(plant: FaultPlant) -> int:
    from workspace.store import Store

    try:
        return Store.open(plant.cfg.paths.store, plant.cfg.site).last_folded_seq
    except Exception:  # noqa: BLE001 - object storage still coming back
        return -1


def recovered(f: Fault, plant: FaultPlant) -> bool:
    """Whether the workspace is past fault ``f`` (it ended at ``f.end_wall``)."""
    h = plant.health() or {}
    fresh = h.get("written_at", 0) > f.end_wall
    n = f.batches_at_end
    if f.kind in ("kill_collector", "clock_step"):
        return fresh and h.get("written_at", 0) > plant.collector.starts[-1] and h.get("cycles", 0) >= 1 \
            and h.get("pending_cycles", 1) == 0
    if f.kind == "kill_anchor":
        return plant.anchorer.starts[-1] > f.end_wall and _anchored(plant) >= n
    if f.kind == "chain_down":
        return _anchored(plant) >= n
    if f.kind == "disk_full":
        return fresh and h.get("pending_cycles", 1) == 0 and h.get("journal_batches", 0) > n
    if f.kind in ("broker_down", "meter_dead", "meter_flapping", "malformed_frames"):
        meters = ([m.id for m in plant.cfg.site.meters if m.gateway == f.target] if f.kind == "broker_down"
                  else [f.target])
        devs = h.get("devices") or {}
        return fresh and all((devs.get(m) or {}).get("last_seen") and devs[m]["last_seen"] > f.end_wall
                             and devs[m].get("consecutive_failures", 1) == 0 for m in meters)
    if f.kind == "store_down":
        return fresh and not h.get("fold_error") and _folded(plant) >= n - 1
    raise AssertionError(f.kind)


# -- the run ------------------------------------------------------------------------------------------------
def _sleep_until(clock: Clock, when: dt.datetime) -> None:
    while True:
        left = (when - clock.now()).total_seconds()
        if left <= 0:
            return
        time.sleep(min(clock.sleep_seconds(left), 0.5))


def run_day(out: Path, hours: float, speed: float, faults: list[Fault], *, grace_s: float = 180.0,
            overrides: dict | None = None, progress=None) -> dict:
    """Run the day; returns the report (see :func:`check`). ``grace_s``: wall seconds allowed, after the
    last fault, for each recovery and for the final catch-up; ``overrides``: configuration sections."""
    say = progress or (lambda msg: None)
    out.mkdir(parents=True, exist_ok=True)
    start = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
    clock = Clock.simulated(start, speed)
    plant = FaultPlant(out, clock, overrides=overrides)
    inj = Injector(plant)
    report: dict = {"hours": hours, "speed": speed, "clock": clock.spec(), "config": overrides or {}}
    t_wall0 = time.time()
    try:
        say(f"starting the plant (clock {clock.spec()}) in {out}")
        plant.start()
        deadline = time.time() + 120
        while not (plant.health() or {}).get("cycles"):
            if time.time() > deadline:
                raise RuntimeError(f"the collector wrote no health file in 120 s; see {plant.logs}")
            time.sleep(0.2)
        day0 = clock.now()
        report["start_sim"] = day0.isoformat()
        report["startup_wall_s"] = round(time.time() - t_wall0, 1)
        say(f"collecting; the day starts at {day0:%Y-%m-%d %H:%M:%S} (simulated), startup {report['startup_wall_s']} s")
        events = []  # (sim time, order, action, fault)
        for f in faults:
            begin = day0 + dt.timedelta(seconds=f.at_s)
            events += [(begin, 0, "begin", f), (begin + dt.timedelta(minutes=f.minutes * 0.5), 1, "probe", f),
                       (begin + dt.timedelta(minutes=f.minutes), 2, "end", f)]
        events.sort(key=lambda e: (e[0], e[1], e[3].n))
        watchers: list[threading.Thread] = []
        for when, _, what, f in events:
            _sleep_until(clock, when)
            if what == "begin":
                f.start_sim, f.start_wall = clock.now(), time.time()
                f.log_marks["start"] = _log_size(plant, LOG_PATTERNS[f.kind][0])
                say(f"{f.start_sim:%H:%M:%S} begin {f.label}")
                inj.begin(f)
            elif what == "probe":  # from mid-fault until it is over: tanjian status until it shows the fault
                t = threading.Thread(target=_probe, args=(f, plant), daemon=True)
                t.start()
                watchers.append(t)
            else:
                f.end_sim, f.end_wall = clock.now(), time.time()
                f.batches_at_end = _journal_size(plant)
                inj.end(f)
                say(f"{f.end_sim:%H:%M:%S} end {f.label}")
                t = threading.Thread(target=_watch_recovery, args=(f, plant, grace_s), daemon=True)
                t.start()
                watchers.append(t)
        _sleep_until(clock, day0 + dt.timedelta(hours=hours))
        say(f"{clock.now():%H:%M:%S} the day is over; waiting for recoveries")
        for t in watchers:
            t.join(grace_s + 60)
        report["end_sim"] = clock.now().isoformat()
        report["day_wall_s"] = round(time.time() - t_wall0, 1)
        # the end: the collector stops cleanly (folding all it acknowledged); anchoring catches up
        code = plant.stop_collection()
        report["collector_exit"] = code
        n = _journal_size(plant)
        deadline = time.time() + grace_s
        while _anchored(plant) < n and time.time() < deadline:
            time.sleep(0.5)
        plant.anchorer.stop()
        for f in faults:
            f.status_seen = status_shows(f, f.status, plant)
            f.log_seen = log_shows(f, plant)
        report.update(check(plant, faults))
        report["crashes"] = {name: part.crashes() for name, part in (("collector", plant.collector),
                                                                       ("anchoring", plant.anchorer))}
        report["wall_s"] = round(time.time() - t_wall0, 1)
    finally:
        plant.stop()
    report["faults"] = [fault_row(f, clock) for f in faults]
    report["ok"] = _all_ok(report)
    return report


def _probe(f: Fault, plant: FaultPlant) -> None:
    """``tanjian status`` every wall second from mid-fault until it shows the fault or the fault is over (and
    recovered); the first status that shows it is kept (else the last one)."""
    while True:
        s = plant.status()
        f.status.clear()
        f.status.update(s)
        if status_shows(f, s, plant) or "end" in f.log_marks:
            return
        time.sleep(1.0)


def _watch_recovery(f: Fault, plant: FaultPlant, grace_s: float) -> None:
    deadline = time.time() + grace_s
    while time.time() < deadline:
        if recovered(f, plant):
            f.recovered_wall = time.time()
            break
        time.sleep(0.25)
    f.log_marks["end"] = _log_size(plant, LOG_PATTERNS[f.kind][0])


def _journal_size(plant: FaultPlant) -> int:
    from workspace.journal import Journal

    try:
        with Journal(plant.cfg.paths.journal) as j:
            return len(j)
    except Exception:  # noqa: BLE001 - fall back on the health file
        return (plant.health() or {}).get("journal_batches", 0)


# -- the checks at the end ----------------------------------------------------------------------------------
def acknowledged(plant: FaultPlant) -> tuple[int, dict[tuple[str, int], list[tuple[int, float, int]]]]:
    """``(journal batches, {(meter, slot): [(seq, counter, time ms), ...]})`` of every reading the journal holds
    (an acknowledged reading is a journaled one: the collector acknowledges after the fsync)."""
    from workspace.batch import decode_columns
    from workspace.journal import Journal

    got: dict[tuple[str, int], list[tuple[int, float, int]]] = {}
    with Journal(plant.cfg.paths.journal) as j:
        n = len(j)
        for seq, data in j.records():
            try:
                b = decode_columns(data)
            except ValueError:
                continue  # not a batch of readings (a request of the inbox)
            for m, t, c in zip(b.meter.tolist(), b.time.tolist(), b.counter.tolist()):
                got.setdefault((b.meters[m], t // SLOT_MS), []).append((seq, c, t))
    return n, got


def check(plant: FaultPlant, faults: list[Fault]) -> dict:
    """The end checks (module docstring) and each fault's counts; returns the report's ``checks`` part."""
    import numpy as np

    from chain.anchor import anchors
    from chain.connect import anchoring_service
    from chain.ledger import Ledger
    from workspace.store import Store

    n, got = acknowledged(plant)
    store = Store.open(plant.cfg.paths.store, plant.cfg.site)
    ds = store.dataset()
    counter = ds["counter"].to_pandas()  # index: slot start (UTC), columns: meters
    slots = (counter.index.values.astype("datetime64[ms]").astype(np.int64) // SLOT_MS)
    where = {int(s): k for k, s in enumerate(slots)}
    values = counter.to_numpy()
    col = {m: k for k, m in enumerate(counter.columns)}
    lost, dup, held = [], [], set()
    for (meter, slot), rs in got.items():
        first = min(rs)  # the earliest journaled reading of the slot is the one the store keeps
        k = where.get(slot)
        v = values[k, col[meter]] if k is not None and meter in col else np.nan
        if not (np.isfinite(v) and abs(v - first[1]) <= 1e-9 * max(1.0, abs(first[1]))):
            lost.append({"meter": meter, "slot": slot, "seq": first[0], "journaled": first[1], "stored": v})
        held.add((meter, slot))
        dup += [{"meter": meter, "slot": slot, "seq": r[0]} for r in sorted(rs)[1:]]
    extra = [(m, int(slots[i])) for m, c in col.items() for i in np.nonzero(np.isfinite(values[:, c]))[0]
             if (m, int(slots[i])) not in held]
    folded = store.last_folded_seq
    with Ledger(plant.cfg.paths.journal, plant.cfg.paths.chain) as led:
        led.sync()
        leaves = led.size()
        recs = anchors(plant.cfg.paths.chain)
        last = recs[-1] if recs else None
        root_ok = bool(last) and last["root"].lower() == "0x" + led.root(last["tree_size"]).hex().lower()
    in_order = all(b["tree_size"] > a["tree_size"] and b["block_number"] > a["block_number"]
                   for a, b in zip(recs, recs[1:]))
    svc = anchoring_service(plant.cfg)
    onchain_root, onchain_size = svc.registry.functions.latest(svc.plant()).call()
    out = {"journal_batches": n, "readings_acknowledged": sum(len(v) for v in got.values()),
           "slots_acknowledged": len(got), "lost": len(lost), "lost_sample": lost[:10], "duplicated": len(dup),
           "duplicated_sample": dup[:10], "unacknowledged_in_store": len(extra), "extra_sample": extra[:10],
           "store_folded_through": folded, "ledger_leaves": leaves, "anchors": len(recs),
           "last_anchor_size": last["tree_size"] if last else 0, "last_anchor_root_is_ledger_root": root_ok,
           "chain_latest_size": int(onchain_size),
           "chain_latest_is_last_anchor": bool(last) and "0x" + bytes(onchain_root).hex() == last["root"].lower(),
           "anchors_in_order": in_order}
    out["exactly_once"] = not lost and not dup and not extra
    out["caught_up"] = (folded == n - 1 and leaves == n and out["last_anchor_size"] == n and root_ok
                        and out["chain_latest_is_last_anchor"] and in_order)
    _outcomes(plant, faults, got, lost, dup)
    return {"checks": out}


def _outcomes(plant, faults, got, lost, dup) -> None:
    """Each fault's readings at risk (the slots of the meters it hits, from its start to its recovery), read,
    missed (a gap the store flags), lost and duplicated."""
    meters_of = {g.id: [m.id for m in plant.cfg.site.meters if m.gateway == g.id] for g in plant.cfg.site.gateways}
    everyone = [m.id for m in plant.cfg.site.meters]
    lost_at = {(x["meter"], x["slot"]) for x in lost}
    dup_at: dict[tuple[str, int], int] = {}
    for x in dup:
        dup_at[(x["meter"], x["slot"])] = dup_at.get((x["meter"], x["slot"]), 0) + 1
    for f in faults:
        if f.start_sim is None:
            continue
        end = f.end_sim or f.start_sim
        if f.recovered_wall is not None:
            end = end + dt.timedelta(seconds=(f.recovered_wall - f.end_wall) * plant.clock.speed)
        s0, s1 = int(f.start_sim.timestamp() * 1000) // SLOT_MS, int(end.timestamp() * 1000) // SLOT_MS + 1
        if f.kind in ("meter_dead", "meter_flapping", "malformed_frames"):
            meters = [f.target]
        elif f.kind == "broker_down":
            meters = meters_of.get(f.target, [])
        else:
            meters = everyone
        keys = [(m, s) for m in meters for s in range(s0, s1)]
        read = sum(1 for k in keys if k in got)
        f.outcome.update(at_risk=len(keys), read=read, missed=len(keys) - read,
                         lost=sum(1 for k in keys if k in lost_at), duplicated=sum(dup_at.get(k, 0) for k in keys))


def fault_row(f: Fault, clock: Clock) -> dict:
    rec = None if f.recovered_wall is None else f.recovered_wall - f.end_wall
    return {"n": f.n, "fault": f.kind, "target": f.target, "at": f.start_sim.isoformat() if f.start_sim else None,
            "minutes": f.minutes, **{k: f.outcome.get(k) for k in ("at_risk", "read", "missed", "lost",
                                                                       "duplicated")},
            "recover_wall_s": None if rec is None else round(rec, 1),
            "recover_sim_min": None if rec is None else round(rec * clock.speed / 60, 1),
            "status": f.status_seen, "log": f.log_seen}


def _all_ok(r: dict) -> bool:
    c = r.get("checks") or {}
    return bool(c.get("exactly_once") and c.get("caught_up") and not any(r.get("crashes", {}).values())
                and all(x["status"] and x["log"] and x["recover_wall_s"] is not None for x in r["faults"]))


def markdown(r: dict) -> str:
    c = r.get("checks", {})
    lines = [f"# Fault day: {r['hours']:g} h simulated at {r['speed']:g}× ({r.get('wall_s', '?')} s wall)", "",
             f"clock `{r['clock']}`; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", "",
             "| # | fault | target | minutes | at risk | read | missed | lost | duplicated | recover (sim min) "
             "| recover (wall s) | in status | in logs |",
             "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
    for x in r["faults"]:
        esc = lambda s: (s or "NOT SEEN").replace("|", "\\|")  # noqa: E731
        lines.append(f"| {x['n']} | {x['fault']} | {x['target']} | {x['minutes']:g} | {x['at_risk']} | {x['read']} "
                     f"| {x['missed']} | {x['lost']} | {x['duplicated']} | {x['recover_sim_min']} "
                     f"| {x['recover_wall_s']} | {esc(x['status'])} | {esc(x['log'])} |")
    lines += ["", "## Checks", ""]
    for k in ("journal_batches", "readings_acknowledged", "slots_acknowledged", "lost", "duplicated",
              "unacknowledged_in_store", "store_folded_through", "ledger_leaves", "anchors", "last_anchor_size",
              "chain_latest_size", "last_anchor_root_is_ledger_root", "chain_latest_is_last_anchor",
              "anchors_in_order", "exactly_once", "caught_up"):
        lines.append(f"- {k}: {c.get(k)}")
    lines.append(f"- crashes (a supervised process exiting by itself): {r.get('crashes')}")
    lines.append(f"- **all checks pass: {r['ok']}**")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.fault_day", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hours", type=float, default=None, help="simulated hours (default: the schedule's)")
    ap.add_argument("--speed", type=float, default=None, help="simulated seconds per wall second (default: the "
                                                               "schedule's, else 60)")
    ap.add_argument("--out", type=Path, default=Path("fault-day"), help="folder of the report and logs")
    ap.add_argument("--schedule", default="day", help="schedule name in the file (day, short)")
    ap.add_argument("--file", type=Path, default=SCHEDULE, help="schedule file (default benchmarks/fault_day.yaml)")
    a = ap.parse_args(argv)
    if (a.speed is not None and a.speed <= 0) or (a.hours is not None and a.hours <= 0):
        ap.error("--speed and --hours must be positive")
    if os.geteuid() != 0:
        ap.error("needs root: the data folder is a tmpfs mounted for the run (to fill the disk)")
    try:
        hours, faults = load_schedule(a.file, a.schedule)
        speed, overrides = schedule_settings(a.file, a.schedule)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    hours = a.hours or hours
    late = [f.label for f in faults if f.at_s + f.minutes * 60 > hours * 3600]
    if late:
        print(f"error: {a.file}:{a.schedule}: faults past the end of {hours:g} h: {', '.join(late)}", file=sys.stderr)
        return 2
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    out = a.out.resolve()
    r = run_day(out, hours, a.speed or speed or 60.0, faults, overrides=overrides,
                progress=lambda m: print(m, flush=True))
    md = markdown(r)
    (out / "fault-day.md").write_text(md)
    (out / "fault-day.json").write_text(json.dumps(r, indent=1, default=str))
    print(md)
    print(f"written: {out / 'fault-day.md'}, {out / 'fault-day.json'}; logs in {out / 'logs'}")
    return 0 if r["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
