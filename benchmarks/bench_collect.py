"""One poll cycle of many Modbus TCP meters: the collector against a naive client and the simulator's ceiling.

``--meters`` simulated meters (default 2,000) behind ``--gateways`` Modbus TCP gateways (default 20),
served on loopback by :class:`tanjian.simulator.PlantSimulator` (pymodbus) **in a separate process**,
so that the client side and the server side each have a core. The meters are those of a generated
Plant-18-like site (:func:`benchmarks._plantgen.make_site`: sdm630 and cn3p-int32 electricity meters,
flow-u32 gas, water and air meters; one block of registers each), dealt round-robin to the gateways
(unit ids 1, 2, … per gateway). The simulator's clock is frozen at a Friday 10:00 in Changsha, so every
request of a cycle asks the model for the same instant.

Three ways to read every meter once, in the same run, against the same servers:

``collector``
    :func:`collectors.readers.reader_for` → :class:`collectors.polling.PolledReader` over
    :class:`collectors.modbus.tcp.GatewayPool` (``--connections`` per gateway, default the gateway's 4):
    what ``tanjian collect`` does each period, with decoding, health and readings. The first cycle
    (connecting) is reported apart; the cycle time is the median of ``--cycles``.
``sequential``
    a naive client: pymodbus's synchronous ``ModbusTcpClient``, one connection per gateway opened
    beforehand, one meter after another, decoding each as the collector does.
``ceiling``
    the fastest raw pattern found for the simulator: hand-built Modbus TCP request frames written on
    ``--ceiling-connections`` asyncio connections per gateway with ``--window`` requests in flight each
    (default 1: pymodbus 3.16's server leaves requests pipelined on one connection unanswered),
    answers counted (and checked for exceptions) but not decoded. No client can do less work.

``--gateway-ms X`` makes each simulated gateway answer one request at a time in X ms, as a Modbus TCP
gateway in front of an RS-485 bus does (at 9600 bit/s a 32-register read and its answer take about
90 ms on the wire; at 115200 bit/s about 8 ms); without it the gateways answer as fast as the
simulator's CPU allows, so the comparison measures pure client and server overhead.

Goal (issue #5): the cycle within 1 s, at least 10× the sequential client, within 2× of the ceiling.
Every table prints the load average and the core count; on a shared machine, repeat before concluding.

Usage::

    python -m benchmarks.bench_collect [--meters 2000] [--gateways 20] [--cycles 5] [--connections 4]
                                       [--ceiling-connections 8] [--window 1] [--gateway-ms 0]
                                       [--no-sequential] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import multiprocessing as mp
import os
import pstats
import statistics
import struct
import sys
import time

from collectors.modbus.registers import decode
from workspace.clock import Clock
from workspace.meters import FAMILIES
from workspace.site import Site

#: the simulated instant of every request: Friday 2 January 2026, 10:00 in Changsha (a day shift runs;
#: two days after the load model's epoch, so the model integrates its counters quickly)
INSTANT = dt.datetime(2026, 1, 2, 2, 0, tzinfo=dt.timezone.utc)


def make_bench_site(meters: int, gateways: int, base_port: int) -> Site:
    """A generated site of ``meters`` meters dealt round-robin to ``gateways`` gateways on loopback."""
    from benchmarks._plantgen import make_site

    if meters < 5 or gateways < 1:
        raise SystemExit("--meters must be at least 5 and --gateways at least 1")
    if -(-meters // gateways) > 247:
        raise SystemExit(f"{meters} meters on {gateways} gateways: more than 247 unit ids per gateway")
    doc = make_site(meters).model_dump(mode="json")
    doc["gateways"] = [{"id": f"gw-{g:02d}", "protocol": "modbus_tcp", "host": "127.0.0.1", "port": base_port + g}
                       for g in range(gateways)]
    for k, m in enumerate(doc["meters"]):
        m["gateway"] = f"gw-{k % gateways:02d}"
        m["unit_id"] = k // gateways + 1
    return Site.model_validate(doc)


# -- the servers, in their own process -------------------------------------------------------------
def _serve(site_doc: dict, ready, stop, gateway_ms: float = 0.0) -> None:
    from tanjian.simulator import PlantSimulator

    class BusSimulator(PlantSimulator):
        """Each gateway answers one request at a time, ``gateway_ms`` each: the RS-485 bus behind it."""

        def __init__(self, site, clock):
            super().__init__(site, clock)
            self._bus = {g.id: asyncio.Lock() for g in site.gateways}
            self._gw = {m.id: m.gateway for m in site.meters}

        async def _action(self, meter_id, *args):
            async with self._bus[self._gw[meter_id]]:
                await asyncio.sleep(gateway_ms / 1000)
            return await super()._action(meter_id, *args)

    async def main():
        site = Site.model_validate(site_doc)
        cls = BusSimulator if gateway_ms > 0 else PlantSimulator
        sim = cls(site, Clock.simulated(INSTANT, speed=0))
        await sim.start()
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)
        await sim.stop()

    asyncio.run(main())


# -- the three readers -----------------------------------------------------------------------------
async def collector_cycles(site: Site, cycles: int, connections: int | None) -> tuple[float, list[float], int]:
    """(first cycle [s], following cycles [s], meters read in the last cycle)."""
    from collectors.readers import reader_for

    gws = site.gateways if connections is None else [g.model_copy(update={"connections": connections})
                                                     for g in site.gateways]
    reader = reader_for(gws, Clock.simulated(INSTANT, speed=0), backoff_initial_s=0.001, backoff_max_s=0.001)
    try:
        t0 = time.perf_counter()
        got = await reader.read(site.meters)
        first = time.perf_counter() - t0
        times = []
        for _ in range(cycles):
            t0 = time.perf_counter()
            got = await reader.read(site.meters)
            times.append(time.perf_counter() - t0)
        return first, times, len(got)
    finally:
        reader.close()


def sequential_cycle(site: Site) -> tuple[float, int]:
    """(cycle [s], meters read) for the naive client."""
    from pymodbus.client import ModbusTcpClient

    clients = {g.id: ModbusTcpClient(g.host, port=g.port, timeout=g.timeout_s, retries=0) for g in site.gateways}
    for c in clients.values():
        c.connect()
    try:
        n = 0
        t0 = time.perf_counter()
        for m in site.meters:
            c = clients[m.gateway]
            fam = FAMILIES[m.family]
            blocks = {}
            for table, address, count in fam.blocks():
                fn = c.read_input_registers if table == "input" else c.read_holding_registers
                resp = fn(address, count=count, device_id=m.unit_id)
                if resp.isError():
                    break
                blocks[(table, address)] = resp.registers
            else:
                decode(fam, blocks)
                n += 1
        return time.perf_counter() - t0, n
    finally:
        for c in clients.values():
            c.close()


async def ceiling_cycle(site: Site, connections: int, window: int) -> tuple[float, int]:
    """(cycle [s], answers without exception) for raw pipelined frames on many connections."""
    per_gw: dict[str, list[bytes]] = {g.id: [] for g in site.gateways}
    for m in site.meters:
        for table, address, count in FAMILIES[m.family].blocks():
            fc = 4 if table == "input" else 3
            per_gw[m.gateway].append(struct.pack(">BBHH", m.unit_id, fc, address, count))
    links = []
    for g in site.gateways:
        for _ in range(connections):
            links.append((g.id, await asyncio.open_connection(g.host, g.port)))

    async def run(frames: list[bytes], reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
        ok = sent = received = 0
        tid = 0
        while received < len(frames):
            while sent < len(frames) and sent - received < window:
                tid = (tid + 1) & 0xFFFF
                pdu = frames[sent]
                writer.write(struct.pack(">HHH", tid, 0, len(pdu)) + pdu)
                sent += 1
            await writer.drain()
            try:
                head = await asyncio.wait_for(reader.readexactly(7), 10)
            except (asyncio.TimeoutError, TimeoutError):
                raise SystemExit(f"ceiling: no answer within 10 s with {sent - received} requests in flight on one "
                                 f"connection (pymodbus 3.16's server does not answer pipelined requests: "
                                 f"use --window 1)") from None
            _, _, length, _ = struct.unpack(">HHHB", head)
            body = await reader.readexactly(length - 1)
            ok += not body[0] & 0x80
            received += 1
        return ok

    shares = []
    for g in site.gateways:
        mine = [lk for lk in links if lk[0] == g.id]
        frames = per_gw[g.id]
        for k, (_, (r, w)) in enumerate(mine):
            shares.append((frames[k::len(mine)], r, w))
    try:
        t0 = time.perf_counter()
        counts = await asyncio.gather(*(run(f, r, w) for f, r, w in shares))
        return time.perf_counter() - t0, sum(counts)
    finally:
        for _, (_, w) in links:
            w.close()


# -- the run ---------------------------------------------------------------------------------------
def _free_block(n: int) -> int:
    from tests.conftest import free_port_block

    return free_port_block(n)


def run(args) -> dict:
    """Start the servers, measure the three readers, stop the servers; returns the measurements."""
    site = make_bench_site(args.meters, args.gateways, _free_block(args.gateways))
    requests = sum(len(list(FAMILIES[m.family].blocks())) for m in site.meters)
    ctx = mp.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_serve, args=(site.model_dump(mode="json"), ready, stop, args.gateway_ms),
                       daemon=True)
    t0 = time.perf_counter()
    proc.start()
    try:
        if not ready.wait(600):
            raise SystemExit("the simulated gateways did not start within 600 s")
        print(f"{len(site.meters)} meters on {len(site.gateways)} gateways ready in "
              f"{time.perf_counter() - t0:.1f} s (server process {proc.pid})", file=sys.stderr)
        prof = cProfile.Profile() if args.profile else None
        if prof:
            prof.enable()
        first, times, n_coll = asyncio.run(collector_cycles(site, args.cycles, args.connections))
        if prof:
            prof.disable()
            pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
        seq, n_seq = sequential_cycle(site) if not args.no_sequential else (float("nan"), 0)
        ceil, n_ceil = asyncio.run(ceiling_cycle(site, args.ceiling_connections, args.window))
    finally:
        stop.set()
        proc.join(30)
        if proc.is_alive():
            proc.terminate()
            proc.join(5)
    return {"meters": len(site.meters), "gateways": len(site.gateways), "requests": requests,
            "collector_first": first, "collector": statistics.median(times), "collector_all": times,
            "collector_read": n_coll, "sequential": seq, "sequential_read": n_seq, "ceiling": ceil,
            "ceiling_read": n_ceil}


def table(r: dict, args) -> str:
    la = os.getloadavg()
    req = r["requests"]
    rows = [("collector (PolledReader + GatewayPool)", r["collector"], r["collector_read"]),
            ("naive sequential pymodbus client", r["sequential"], r["sequential_read"]),
            ("ceiling: raw frames, many connections", r["ceiling"], r["ceiling_read"])]
    bus = (f"each gateway answering one request at a time in {args.gateway_ms:g} ms" if args.gateway_ms > 0
           else "gateways answering as fast as the simulator can (loopback, no bus time)")
    lines = [f"One poll cycle: {r['meters']} meters, {r['gateways']} gateways ({bus}), {req} register reads; "
             f"load average {la[0]:.2f} {la[1]:.2f} {la[2]:.2f} on {os.cpu_count()} cores",
             f"{'reader':<42} {'cycle [s]':>10} {'reads/s':>10} {'meters read':>12}"]
    for name, t, n in rows:
        lines.append(f"{name:<42} {t:>10.3f} {req / t if t == t else float('nan'):>10.0f} {n:>12}")
    lines.append(f"collector: first cycle (connecting) {r['collector_first']:.3f} s; cycles "
                 + " ".join(f"{t:.3f}" for t in r["collector_all"]) + " s")
    c, s, k = r["collector"], r["sequential"], r["ceiling"]
    lines.append(f"goal: cycle <= 1 s: {'met' if c <= 1 else 'NOT met'} ({c:.3f} s); >= 10x sequential: "
                 f"{'met' if s / c >= 10 else 'NOT met'} ({s / c:.1f}x); within 2x of the ceiling: "
                 f"{'met' if c <= 2 * k else 'NOT met'} ({c / k:.2f}x)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_collect",
                                 description="Time one poll cycle of many simulated Modbus TCP meters: tanjian's "
                                             "collector, a naive sequential pymodbus client and the simulator's "
                                             "ceiling, in the same run (servers in their own process).")
    ap.add_argument("--meters", type=int, default=2000, help="simulated meters (default 2000)")
    ap.add_argument("--gateways", type=int, default=20, help="Modbus TCP gateways they are spread over (default 20)")
    ap.add_argument("--cycles", type=int, default=5, help="collector cycles timed after the first (default 5)")
    ap.add_argument("--connections", type=int, default=None,
                    help="collector TCP connections per gateway (default: the gateway's, 4)")
    ap.add_argument("--ceiling-connections", type=int, default=8, help="connections per gateway, ceiling (default 8)")
    ap.add_argument("--window", type=int, default=1,
                    help="requests in flight per connection, ceiling (default 1: pymodbus 3.16's server does not "
                         "answer requests pipelined on one connection)")
    ap.add_argument("--gateway-ms", type=float, default=0.0,
                    help="time each gateway takes per request, one at a time, as the RS-485 bus behind a Modbus "
                         "TCP gateway does [ms] (default 0: loopback only)")
    ap.add_argument("--no-sequential", action="store_true", help="skip the naive client")
    ap.add_argument("--profile", action="store_true", help="cProfile the collector's cycles (to stderr)")
    args = ap.parse_args(argv)
    r = run(args)
    print(table(r, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
