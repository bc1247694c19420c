"""DL/T 645 bus benchmark: meters per minute on one RS-485 bus at 2,400 baud, one request per item
against data blocks with the items a meter lacks skipped.

Run ``python -m benchmarks.bench_dlt645_bus`` (``--meters 6`` by default; ``--help`` for options).

A socat pty pair stands for the bus; the simulated meters (:mod:`tanjian.simulator.dlt645`) pace
their replies at the line's speed: each reply is delivered after the request's bytes, the meter's
turnaround and the reply's bytes at ``--baud`` with 11 bits a byte (8E1, the standard's line; a pty
refuses parity, so the pair itself runs 8N1 and only the pacing counts the parity bit). The collector's
:class:`collectors.dlt645.bus.Dlt645Bus` reads every meter as a poll cycle does (all at once, one request
at a time on the bus).

The meters are all configured ``dlt645-2007-3p`` (16 items: energy and its four tariffs, three phase
voltages and currents, total and phase powers, power factor), as a plant configures a bus, but they are
what plants have: in turn a complete three-phase meter, a three-phase meter without data blocks, and a
single-phase meter (no phases B and C, no phase powers, no tariffs).

* **before**: one request per item at every read (``blocks=False, remember=False``), a refused item
  asked again at every read;
* **after**: the standard's data blocks where one carries two or more items, the items and blocks a
  meter refused skipped (learnt in a first, unmeasured cycle; probed again daily).

For each: requests and bytes of a cycle, its bus time computed from the bytes and the line
(:mod:`collectors.dlt645.bustime`), the time it took, meters per minute per bus (from the time it took)
and the readings delivered. The load average and the core count are printed with the table.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import tempfile
import time
from pathlib import Path

MIX = ("complete", "no blocks", "single-phase")
BLOCKS = {0x0001FF00, 0x0201FF00, 0x0202FF00, 0x0203FF00, 0x0206FF00}
SINGLE_PHASE = {0x02010200, 0x02010300, 0x02020200, 0x02020300, 0x02030100, 0x02030200, 0x02030300,
                0x00010100, 0x00010200, 0x00010300, 0x00010400}


def _site(folder: Path, device: str, n: int, baud: int):
    from tests.small_sites import load_site, meter

    gw = {"id": "bus-1", "protocol": "dlt645_serial", "device": device, "parity": "N", "baudrate": baud,
          "timeout_s": 1.0}
    devices = ("D-WELD", "D-CNC", "D-LIGHT", "D-PUMP")
    meters = [meter(f"M-{k:02d}", "bus-1", devices[k % 4], "dlt645-2007-3p", address=f"{k + 1:012d}")
              for k in range(n)]
    return load_site(folder, [gw], meters)


async def _cycle(reader, meters) -> tuple[int, float]:
    t0 = time.perf_counter()
    got = await reader.read(meters)
    return len(got), time.perf_counter() - t0


async def run(n: int, baud: int, turnaround_s: float, cycles: int) -> list[dict]:
    from collectors.dlt645.bus import Dlt645Bus
    from collectors.dlt645.bustime import Line, meters_per_minute
    from collectors.polling import PolledReader
    from tanjian.simulator import PlantSimulator
    from tanjian.simulator.dlt645 import Dlt645BusSimulator
    from tanjian.simulator.pty import VirtualSerialPair
    from workspace.clock import Clock

    line = Line(baud, 11, turnaround_s)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench645-") as tmp:
        async with VirtualSerialPair(Path(tmp)) as (a, b):
            cfg = _site(Path(tmp), a, n, baud)
            clock = Clock.simulated(dt.datetime(2026, 11, 24, 2, 0, 30, tzinfo=dt.timezone.utc), speed=1)
            plant = PlantSimulator(cfg.site, clock)
            async with Dlt645BusSimulator(plant, "bus-1", serial_port=b, pace=line) as sim:
                for k, m in enumerate(cfg.site.meters):
                    kind = MIX[k % len(MIX)]
                    if kind == "no blocks":
                        sim.lacks(m.id, BLOCKS)
                    elif kind == "single-phase":
                        sim.lacks(m.id, SINGLE_PHASE)
                for mode, blocks, remember in (("before: one request per item", False, False),
                                               ("after: blocks, unsupported skipped", True, True)):
                    bus = Dlt645Bus(cfg.site.gateways[0], blocks=blocks, remember=remember)
                    bus.line = line  # the field's 8E1 line, as the simulator paces it
                    reader = PolledReader({"bus-1": bus}, clock)
                    try:
                        if remember:
                            await _cycle(reader, cfg.site.meters)  # learns what each meter lacks
                        took, got, exchanges, nbytes, bus_s = 0.0, 0, 0, 0, 0.0
                        for _ in range(cycles):
                            n_got, t = await _cycle(reader, cfg.site.meters)
                            c = bus.last_cycle
                            took += t
                            got += n_got
                            exchanges += c["exchanges"]
                            nbytes += c["bytes"]
                            bus_s += c["bus_s"]
                    finally:
                        reader.close()
                    rows.append({"mode": mode, "requests": exchanges / cycles, "bytes": nbytes / cycles,
                                 "bus_s": bus_s / cycles, "took_s": took / cycles,
                                 "per_min": meters_per_minute(took / cycles, n), "readings": got / cycles})
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--meters", type=int, default=6, help="meters on the bus (default 6)")
    p.add_argument("--baud", type=int, default=2400, help="line speed [bit/s] (default 2400)")
    p.add_argument("--turnaround", type=float, default=0.05, help="meters' turnaround [s] (default 0.05)")
    p.add_argument("--cycles", type=int, default=1, help="measured cycles per mode (default 1)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    rows = asyncio.run(run(args.meters, args.baud, args.turnaround, args.cycles))
    mix = ", ".join(f"{sum(1 for k in range(args.meters) if k % 3 == i)} {kind}"
                    for i, kind in enumerate(MIX))
    print(f"DL/T 645 bus at {args.baud} baud, 8E1 (11 bits a byte), turnaround "
          f"{args.turnaround * 1000:.0f} ms; {args.meters} meters configured dlt645-2007-3p (16 items): {mix}")
    print()
    print("| mode | requests/cycle | bytes/cycle | bus time computed [s] | cycle took [s] | meters/min/bus "
          "| readings/cycle |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['mode']} | {r['requests']:.0f} | {r['bytes']:.0f} | {r['bus_s']:.2f} "
              f"| {r['took_s']:.2f} | {r['per_min']:.1f} | {r['readings']:.0f} |")
    if len(rows) == 2:
        print(f"\nafter / before: {rows[1]['per_min'] / rows[0]['per_min']:.2f}x meters per minute")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average {load}; {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
