"""The fault day's plant: every part of the workspace running as in production, each one breakable on purpose.

:class:`FaultPlant` starts, for one configuration (``workspace/examples/protocols.yaml``: the corner of Plant 18
whose meters speak every protocol), on free loopback ports:

- the simulated peers, in this process (one asyncio loop in a thread): :class:`tanjian.simulator.PlantSimulator`
  (Modbus TCP) and :class:`tanjian.demo.peers.ProtocolPeers` (Modbus RTU over TCP, DL/T 645, mosquitto with the
  signed clamp meters, the OPC UA SCADA), exactly as ``tanjian demo`` does;
- the store's object storage: moto's S3 server (:mod:`tests.objectstore`), in this process;
- the chain node: anvil with its state kept on disk (:func:`tanjian.simulator.anvil.start_anvil`), the gateway key
  and the registries deployed as ``tanjian demo`` does;
- the collector (``tanjian collect``: poll, journal, fold through the keeper) and the anchoring loop (``tanjian
  anchor``) as child processes, each supervised as systemd would (``Restart=always``): a process that exits
  for any reason is started again after ``restart_s`` wall seconds, and the exit is recorded.

The data folder (journal, ledger, keys, health file) sits on a small tmpfs mounted for the run, so that the disk
can be filled; logs and the anvil state stay outside it. Every port comes from :func:`tests.conftest.free_port`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

from tests.conftest import free_port
from tests.objectstore import S3_KEY, s3_up, start_s3_server
from workspace.clock import Clock

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "workspace" / "examples" / "protocols.yaml"


def write_config(folder: Path, data_dir: Path, s3_endpoint: str, overrides: dict) -> Path:
    """A copy of the every-protocol example with free ports, its store in the bucket ``plants`` at
    ``s3_endpoint`` and ``overrides`` (section -> {key: value}) applied; returns its path."""
    doc = yaml.safe_load(EXAMPLE.read_text())
    for g in doc["site"]["gateways"]:
        if "port" in g:
            g["port"] = free_port()
        if g.get("opcua"):
            g["opcua"]["url"] = f"opc.tcp://127.0.0.1:{free_port()}/tanjian/"
    doc["paths"] = {"data_dir": str(data_dir), "store_url": f"s3://plants/{doc['site']['plant']['id']}/store",
                    "s3": {"endpoint_url": s3_endpoint, "region": "us-east-1", "allow_http": True,
                           "force_path_style": True}}
    doc.setdefault("dashboards", {})["port"] = free_port()
    doc.setdefault("chain", {})["rpc_url"] = f"http://127.0.0.1:{free_port()}"
    for section, values in overrides.items():
        doc.setdefault(section, {}).update(values)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tanjian.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))
    return path


class Supervised:
    """A child process restarted whenever it exits, as systemd's ``Restart=always`` does.

    ``argv_of()`` gives the command line of each start (the clock step changes it). ``starts`` and ``exits``
    record each start and each exit (wall time, exit status, and whether this class killed it)."""

    def __init__(self, name: str, argv_of, env: dict, log_path: Path, restart_s: float):
        self.name, self.argv_of, self.env, self.log_path, self.restart_s = name, argv_of, env, log_path, restart_s
        self.proc: subprocess.Popen | None = None
        self.starts: list[float] = []
        self.exits: list[dict] = []
        self._expected: str | None = None  # why we ended it (None: it ended by itself: a crash)
        self._stop = threading.Event()
        self._hold = threading.Event()  # set: do not restart (while a fault keeps it down)
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name=f"supervise-{name}", daemon=True)

    def start(self) -> None:
        self._spawn()
        self._thread.start()

    def _spawn(self) -> None:
        with self._lock:
            out = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
            out.write(f"\n=== fault day: starting {self.name} at {time.time():.3f}\n".encode())
            out.flush()
            self.proc = subprocess.Popen(self.argv_of(), stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, env=self.env, cwd=str(ROOT),
                                         start_new_session=True)
            out.close()
            self.starts.append(time.time())

    def _watch(self) -> None:
        while not self._stop.is_set():
            p = self.proc
            code = p.wait() if p is not None else None
            if self._stop.is_set():
                break
            self.exits.append({"at": time.time(), "code": code, "cause": self._expected or "exited by itself"})
            self._expected = None
            while self._hold.is_set() and not self._stop.is_set():
                time.sleep(0.05)
            if self._stop.wait(self.restart_s):
                break
            self._spawn()

    def kill9(self, hold: bool = False) -> int:
        """``kill -9`` the process (its whole session); it is started again after ``restart_s`` unless
        ``hold`` (then by :meth:`release`). Returns the pid killed."""
        with self._lock:
            pid = self.proc.pid
            self._expected = "kill -9 (fault)"
            if hold:
                self._hold.set()
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return pid

    def restart(self, cause: str) -> None:
        """SIGTERM (a clean stop: the collector folds what it acknowledged), then the usual restart."""
        with self._lock:
            self._expected = cause
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def release(self) -> None:
        self._hold.clear()

    def crashes(self) -> list[dict]:
        return [e for e in self.exits if e["cause"] == "exited by itself"]

    def stop(self, timeout: float = 60.0) -> int | None:
        """Stop for good (SIGTERM, SIGKILL after ``timeout``); returns the exit status."""
        self._stop.set()
        p = self.proc
        if p is None or p.poll() is not None:
            return None if p is None else p.returncode
        try:
            os.killpg(p.pid, signal.SIGTERM)
            return p.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            return p.wait(10)
        except ProcessLookupError:
            return p.poll()


class FaultPlant:
    """Everything running (see the module's docstring); ``start()``, then faults, then ``stop()``."""

    def __init__(self, out: Path, clock: Clock, *, tmpfs_mb: int = 64, restart_s: float = 1.0,
                 overrides: dict | None = None):
        self.out, self.clock, self.tmpfs_mb, self.restart_s = Path(out), clock, tmpfs_mb, restart_s
        self.overrides = overrides or {}
        self.logs = self.out / "logs"
        self.data = self.out / "data"  # the tmpfs
        self.mounted = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self.sim = self.peers = self.s3 = self.anvil = None
        self.collector: Supervised | None = None
        self.anchorer: Supervised | None = None
        self.collector_clock = clock  # the clock the collector is (re)started with: a clock step changes it

    # -- start -------------------------------------------------------------------------------------------
    def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        self.data.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.tmpfs_mb}m,mode=0755", "tmpfs", str(self.data)],
                       check=True)
        self.mounted = True
        os.environ.update(S3_KEY)  # the store's credentials, for this process and the children
        self.s3_port = free_port()
        self.s3 = s3_up(start_s3_server(self.s3_port))
        self.config = write_config(self.out / "plant", self.data, self.s3["endpoint"], self.overrides)
        from workspace.config import load_config

        self.cfg = load_config(self.config)
        self.env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT), **S3_KEY)
        self._start_chain()
        self._start_peers()
        self.collector = Supervised("collector", self._collector_argv, self.env, self.logs / "collector.log",
                                    self.restart_s)
        self.collector.start()
        self.anchorer = Supervised("anchoring", lambda: self._cli("-v", "anchor"), self.env,
                                   self.logs / "anchoring.log", self.restart_s)
        self.anchorer.start()

    def _cli(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "tanjian", "--config", str(self.config), *args]

    def _collector_argv(self) -> list[str]:
        return self._cli("collect", "--no-alarms", "--clock", self.collector_clock.spec())

    def _start_chain(self) -> None:
        from chain import keys
        from chain.deploy import ensure_deployment
        from chain.node import connect
        from tanjian.simulator.anvil import start_anvil

        cfg = self.cfg
        ks, pw = Path(cfg.chain.keystore), Path(cfg.chain.password_file)
        pw.parent.mkdir(parents=True, exist_ok=True)
        keys.write_password_file(pw, secrets.token_urlsafe(24))
        keys.create_keystore(ks, keys.read_password(pw))
        account = keys.load_account(ks, password_file=pw)
        self.anvil_port = int(cfg.chain.rpc_url.rsplit(":", 1)[1])
        self.anvil_state = self.out / "anvil"
        self.anvil = start_anvil(self.anvil_port, self.anvil_state)
        w3 = connect(self.anvil.rpc_url)
        self.deployment = ensure_deployment(w3, cfg.paths.chain, account.address, plant=cfg.site.plant.id)
        # the clamp meters' device keys, registered for the plant as its administrator would
        from chain._tx import send
        from chain.deploy import DEVICE_REGISTRY, default_deployer
        from chain.registry import KeyKind, from_deployment, id32

        devices = from_deployment(w3, self.deployment, DEVICE_REGISTRY)
        admin = default_deployer(w3)
        for m in cfg.site.meters:
            if m.mqtt is not None and m.mqtt.device_key:
                send(w3, devices.functions.register(m.mqtt.device_key, KeyKind.DEVICE, id32(cfg.site.plant.id),
                                                    admin), admin)

    def _start_peers(self) -> None:
        from tanjian.demo.peers import ProtocolPeers
        from tanjian.simulator import PlantSimulator

        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="simulators", daemon=True).start()

        async def up():
            self.sim = PlantSimulator(self.cfg.site, self.clock, self.cfg.simulation.seed, 0)
            await self.sim.start()
            self.peers = ProtocolPeers(self.cfg, self.clock, self.sim, 0)
            await self.peers.start()

        self.run_in_loop(up())

    def run_in_loop(self, coro, timeout: float = 120.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def in_loop(self, fn, *args) -> None:
        """Call ``fn(*args)`` in the simulators' loop (their fault sets are the loop's to touch)."""
        async def call():
            fn(*args)

        self.run_in_loop(call())

    # -- the parts a fault touches ------------------------------------------------------------------------
    def gateway_of(self, meter: str) -> str:
        return next(m.gateway for m in self.cfg.site.meters if m.id == meter)

    def protocol_of(self, gateway: str) -> str:
        return next(g.protocol for g in self.cfg.site.gateways if g.id == gateway)

    def dlt645_bus(self, meter: str):
        from tanjian.simulator.dlt645 import Dlt645BusSimulator

        return next(b for b in self.peers._buses if isinstance(b, Dlt645BusSimulator) and meter in
                    {m.id for m in b.meters.values()})

    def broker(self):
        return self.peers._brokers[0]

    def publisher(self):
        return self.peers._publishers[0]

    def stop_anvil(self) -> None:
        self.anvil.stop()

    def start_anvil(self) -> None:
        from tanjian.simulator.anvil import start_anvil

        self.anvil = start_anvil(self.anvil_port, self.anvil_state)

    def stop_s3(self) -> None:
        self.s3["server"].stop()

    def start_s3(self) -> None:
        """The same server again on the same port (moto keeps its buckets in this process meanwhile)."""
        self.s3["server"] = start_s3_server(self.s3_port)

    def fill_disk(self) -> Path:
        """Fill the data folder's tmpfs to the last byte; returns the filler file."""
        filler = self.data / "filler.bin"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for size in (1 << 20, 4096, 1):  # big blocks, then the last bytes
                block = b"\0" * size
                try:
                    while True:
                        os.write(fd, block)
                except OSError:
                    pass
        finally:
            os.close(fd)
        return filler

    def free_disk(self) -> None:
        (self.data / "filler.bin").unlink(missing_ok=True)

    def status(self) -> dict:
        """What ``tanjian status --json`` prints, now: :func:`tanjian.commands.status.gather` called here (the
        same function, without a process start that takes seconds of an accelerated clock)."""
        from tanjian.commands.status import gather

        try:
            return json.loads(json.dumps(gather(self.cfg), default=str))
        except Exception as exc:  # noqa: BLE001 - status itself failing is a finding, kept in the report
            return {"error": f"{type(exc).__name__}: {exc}"}

    def health(self) -> dict | None:
        try:
            return json.loads((self.cfg.paths.run / "health.json").read_text())
        except (OSError, ValueError):
            return None

    # -- stop ----------------------------------------------------------------------------------------------
    def stop_collection(self) -> int | None:
        """Stop the collector cleanly (it folds everything it acknowledged); returns its exit status."""
        return self.collector.stop(120) if self.collector else None

    def stop(self) -> None:
        """Stop everything still running, in reverse order, and unmount the tmpfs (after copying its
        journal, ledger and health file next to the logs)."""
        for part in (self.anchorer, self.collector):
            if part is not None:
                part.stop()
        if self.loop is not None and self.peers is not None:
            async def down():
                await self.peers.stop()
                await self.sim.stop()

            try:
                self.run_in_loop(down(), 60)
            except Exception:  # noqa: BLE001 - stopping: go on with the rest
                pass
            self.loop.call_soon_threadsafe(self.loop.stop)
        if self.anvil is not None:
            self.anvil.stop()
        if self.s3 is not None:
            try:
                self.s3["server"].stop()
            except Exception:  # noqa: BLE001 - already stopped
                pass
        if self.mounted:
            (self.data / "filler.bin").unlink(missing_ok=True)
            keep = self.out / "data-copy"
            shutil.rmtree(keep, ignore_errors=True)
            shutil.copytree(self.data, keep, ignore=shutil.ignore_patterns("*.lock"), dirs_exist_ok=True)
            subprocess.run(["umount", str(self.data)], check=False)
            self.mounted = False


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
