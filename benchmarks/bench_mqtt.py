"""MQTT benchmark: messages/s ingested end to end by tanjian's collector against a plain subscriber.

Run ``python -m benchmarks.bench_mqtt`` (``--messages 20000`` by default; ``--help`` for options).

One local mosquitto (TLS with client certificates, passwords, an ACL, persistence: the test broker
of :mod:`tanjian.simulator.broker`). A publisher in its own process sends ``N`` clamp-meter
readings at QoS 1 (up to 1000 in flight) to one topic; the time runs from its "go" until the
consumer has the ``N`` messages:

* **the limit**: ``mosquitto_sub -q 1 -t <topic> > file`` (each message written to a plain file,
  acknowledged as soon as it arrives, nothing parsed, nothing fsync'd). When Debian's
  ``mosquitto-clients`` is not installed, a paho subscriber in its own process that does the same
  (QoS 1, automatic PUBACK, payload + newline to a file, flushed per message) stands in, and the
  table says so;
* **tanjian**: :class:`collectors.service.CollectionService` with one mqtt gateway: each message
  parsed and mapped (Wh -> kWh, W -> kW, ISO time), journaled as a batch per flush interval,
  fsync'd, and only then acknowledged to the broker; done when all ``N`` are acknowledged.

A third row times the publisher alone (until the broker has acknowledged its ``N`` messages, with
nobody subscribed): no consumer can go faster than what feeds it, so when a consumer comes close to
that row the publisher, not the consumer, is what was measured.

The table prints the messages/s of each and the ratio to the plain subscriber, with the load
average and the core count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOPIC = "bench/gw-a/clamp/M-A1"
USERS_SPEC = [("collector", "c-pw", ("bench/#",), ()), ("sub", "s-pw", ("bench/#",), ()),
              ("gw-a", "g-pw", (), ("bench/gw-a/#",))]


def _payload(k: int) -> bytes:
    # a clamp meter's reading: energy in Wh, power in W, an ISO time (one minute per message: the
    # collector journals one reading per meter and minute, and every message is to be journaled here)
    ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1772409600 + 60 * k))
    return json.dumps({"e": 1_000_000 + 10 * k, "p": 2500 + k % 100, "v": 230.0, "i": 3.6, "pf": 0.93,
                       "ts": ts}, separators=(",", ":")).encode()


# -- child processes -------------------------------------------------------------------------------
def _client(args: dict, client_id: str):
    import paho.mqtt.client as mqtt

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    c.username_pw_set(args["user"], args["password"])
    c.tls_set(ca_certs=args["ca_file"], certfile=args["cert_file"], keyfile=args["key_file"])
    return c


def _publisher_child(args: dict) -> None:
    """Connect; publish a warm-up message per 'warm' line on stdin, then ``n`` messages on 'go'."""
    c = _client(args, "bench-publisher")
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.connect(args["host"], args["port"])
    c.loop_start()
    payloads = [_payload(k) for k in range(args["n"])]
    print("ready", flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "warm":
            c.publish(args["topic"], _payload(-1), qos=1).wait_for_publish(10)
        elif cmd == "go":
            infos = [c.publish(args["topic"], p, qos=1) for p in payloads]
            for info in infos:
                info.wait_for_publish(60)
            print("published", flush=True)
            break
    c.disconnect()
    c.loop_stop()


def _subscriber_child(args: dict) -> None:
    """The stand-in for ``mosquitto_sub -q 1 > file``: QoS 1, automatic PUBACK, payload lines to a file."""
    out = open(args["file"], "ab")

    def on_message(client, userdata, msg):
        out.write(msg.payload + b"\n")
        out.flush()

    c = _client(args, "bench-subscriber")
    c.on_connect = lambda client, userdata, flags, rc, props: client.subscribe(args["topic"], qos=1)
    c.on_message = on_message
    c.connect(args["host"], args["port"])
    c.loop_forever()


# -- the two consumers -----------------------------------------------------------------------------
class _Publisher:
    def __init__(self, broker, n: int):
        t = broker.tls("gw-a")
        spec = dict(t, host="127.0.0.1", port=broker.port, user="gw-a",
                    password=broker.users["gw-a"].password, topic=TOPIC, n=n)
        self.proc = subprocess.Popen([sys.executable, "-m", "benchmarks.bench_mqtt", "--child", "publisher",
                                      json.dumps(spec)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, cwd=Path(__file__).resolve().parents[1])
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the publisher did not connect")

    def send(self, cmd: str) -> None:
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        self.proc.wait(60)


def _lines(path: Path):
    """Generator of the running count of lines in a growing file."""
    n = 0
    with open(path, "rb") as f:
        while True:
            chunk = f.read()
            n += chunk.count(b"\n")
            yield n


def _warm_up(pub: _Publisher, count, timeout_s: float = 20.0) -> int:
    """Publish warm-up messages until the consumer sees one; returns its count once settled."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pub.send("warm")
        t_end = time.monotonic() + 1.0
        while time.monotonic() < t_end:
            if count() >= 1:
                time.sleep(0.3)
                return count()
            time.sleep(0.01)
    raise RuntimeError("the consumer received nothing: is it subscribed?")


def bench_publisher(broker, n: int) -> dict:
    """The publisher alone: until the broker has acknowledged all ``n`` (nobody subscribed)."""
    pub = _Publisher(broker, n)
    try:
        t0 = time.perf_counter()
        pub.send("go")
        if pub.proc.stdout.readline().strip() != "published":
            raise RuntimeError("the publisher did not finish")
        elapsed = time.perf_counter() - t0
    finally:
        pub.close()
    return {"path": "publisher alone (broker PUBACKs, no subscriber)", "messages": n, "seconds": elapsed,
            "rate": n / elapsed}


def bench_plain(broker, n: int, folder: Path) -> dict:
    """The limit: mosquitto_sub -q 1 > file (or its paho stand-in)."""
    out = folder / "sub.out"
    out.write_bytes(b"")
    t = broker.tls("sub")
    sub = shutil.which("mosquitto_sub")
    if sub:
        label = "mosquitto_sub -q 1 > file"
        cmd = [sub, "-h", "127.0.0.1", "-p", str(broker.port), "-u", "sub", "-P",
               broker.users["sub"].password, "--cafile", t["ca_file"], "--cert", t["cert_file"],
               "--key", t["key_file"], "-q", "1", "-t", TOPIC]
    else:
        label = "paho subscriber -q 1 > file (mosquitto_sub not installed)"
        spec = dict(t, host="127.0.0.1", port=broker.port, user="sub", password=broker.users["sub"].password,
                    topic=TOPIC, file=str(out))
        cmd = [sys.executable, "-m", "benchmarks.bench_mqtt", "--child", "subscriber", json.dumps(spec)]
    with open(out, "ab") as f:
        proc = subprocess.Popen(cmd, stdout=f if sub else subprocess.DEVNULL,
                                cwd=Path(__file__).resolve().parents[1])
    lines = _lines(out)
    pub = _Publisher(broker, n)
    try:
        c0 = _warm_up(pub, lambda: next(lines))
        t0 = time.perf_counter()
        pub.send("go")
        while next(lines) < c0 + n:
            time.sleep(0.002)
        elapsed = time.perf_counter() - t0
    finally:
        pub.close()
        proc.terminate()
        proc.wait(10)
    return {"path": label, "messages": n, "seconds": elapsed, "rate": n / elapsed}


def bench_collector(broker, n: int, folder: Path, *, flush_interval_s: float = 0.05) -> dict:
    """tanjian: CollectionService with one mqtt gateway; done when every message is acknowledged."""
    from collectors.service import CollectionService
    from tests.small_sites import write_site
    from workspace.batch import decode_batch
    from workspace.clock import Clock
    from workspace.config import load_config
    from workspace.journal import Journal

    (folder / "collector.pw").write_text(broker.users["collector"].password + "\n")
    (folder / "collector.pw").chmod(0o600)
    gw = {"id": "GW-MQTT", "protocol": "mqtt", "host": "127.0.0.1", "port": broker.port,
          "mqtt": {"client_id": "bench-collector", "username": "collector", "password_file": "collector.pw",
                   "tls": broker.tls("collector"), "flush_interval_s": flush_interval_s, "max_batch": 2000,
                   "receive_maximum": 10000}}
    meter = {"id": "M-A1", "medium": "electricity", "family": "clamp", "gateway": "GW-MQTT",
             "device": "D-WELD", "workshop": "WS-A",
             "mqtt": {"topic": "bench/gw-a/+/M-A1", "counter": "e", "rate": "p", "voltage": "v",
                      "current": "i", "power_factor": "pf", "units": {"counter": "Wh", "rate": "W"},
                      "time": {"field": "ts", "format": "iso8601"}}}
    cfg = load_config(write_site(folder, [gw], [meter]))
    journal = Journal(cfg.paths.journal, writer=True)
    result = {}

    async def main():
        stop = asyncio.Event()
        svc = CollectionService(cfg.site, journal, None, Clock())
        task = asyncio.create_task(svc.run(stop))
        pusher = svc.pushers[0]
        while not pusher.connected.is_set():
            await asyncio.sleep(0.02)
        pub = await asyncio.to_thread(_Publisher, broker, n)
        try:
            c0 = await asyncio.to_thread(_warm_up, pub, lambda: pusher.acknowledged)
            t0 = time.perf_counter()
            pub.send("go")
            while pusher.acknowledged < c0 + n:
                await asyncio.sleep(0.002)
            result["seconds"] = time.perf_counter() - t0
        finally:
            await asyncio.to_thread(pub.close)
            stop.set()
            await task

    try:
        asyncio.run(main())
        journaled = sum(len(decode_batch(d).readings) for _, d in journal.records())
    finally:
        journal.close()
    if journaled < n:
        raise RuntimeError(f"only {journaled} of {n} readings are in the journal")
    return {"path": "tanjian MQTT collector -> journal", "messages": n, "seconds": result["seconds"],
            "rate": n / result["seconds"]}


def run(n: int = 20000, folder: Path | None = None, flush_interval_s: float = 0.05) -> list[dict]:
    """Both measurements against one broker; returns one row per path."""
    from tanjian.simulator.broker import BrokerUser, Mosquitto

    tmp = None
    if folder is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench-mqtt-")
        folder = Path(tmp.name)
    try:
        users = [BrokerUser(u, p, r, w) for u, p, r, w in USERS_SPEC]
        broker = Mosquitto(folder / "broker", users).start()
        try:
            (folder / "plain").mkdir(exist_ok=True)
            (folder / "collector").mkdir(exist_ok=True)
            rows = [bench_plain(broker, n, folder / "plain"),
                    bench_collector(broker, n, folder / "collector", flush_interval_s=flush_interval_s),
                    bench_publisher(broker, n)]
        finally:
            broker.stop()
    finally:
        if tmp is not None:
            tmp.cleanup()
    return rows


def table(rows: list[dict]) -> str:
    limit = rows[0]["rate"]
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    out = [f"MQTT ingestion, QoS 1, TLS, one topic ({os.cpu_count()} cores, load average {load})",
           f"{'path':<62} {'messages':>9} {'seconds':>8} {'msg/s':>9} {'vs sub':>9}"]
    for r in rows:
        out.append(f"{r['path']:<62} {r['messages']:>9} {r['seconds']:>8.2f} {r['rate']:>9.0f} "
                   f"{r['rate'] / limit:>8.0%}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_mqtt",
                                 description="Messages/s ingested end to end by the MQTT collector "
                                             "(journaled, fsync'd, then acknowledged) against "
                                             "mosquitto_sub -q 1 > file.")
    ap.add_argument("--messages", type=int, default=20000, help="messages published at QoS 1 (default 20000)")
    ap.add_argument("--flush-interval", type=float, default=0.05,
                    help="collector's journal flush interval [s] (default 0.05)")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        role, spec = args.child
        (_publisher_child if role == "publisher" else _subscriber_child)(json.loads(spec))
        return 0
    print(table(run(args.messages, flush_interval_s=args.flush_interval)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
