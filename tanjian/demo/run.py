"""``tanjian demo``: the whole workspace on the embedded Plant 18 simulation, in one command.

Starts, in order: history backfill (first start) or catch-up (the gateway buffer after a pause),
the Modbus TCP simulator on loopback, the collector (journal + store), anvil with the anchor
registry and the anchoring loop, the Panel dashboards and JupyterLab; prints the URLs; and on
Ctrl-C (SIGINT) or SIGTERM stops everything, in reverse order, folding what was acknowledged.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

from workspace.clock import Clock
from workspace.config import Config
from workspace.errors import TanjianError
from workspace.journal import Journal
from workspace.store import Store

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]


def _wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 - loopback only
                if r.status < 500:
                    return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


def _catch_up(cfg: Config, journal: Journal, history_days: float) -> None:
    """Backfill history on a first start, or the gap since the last reading (a gateway's buffer)."""
    from tanjian.demo.history import seed_history

    now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
    try:
        latest = Store.open(cfg.paths.store, cfg.site).latest_time()
    except TanjianError:
        latest = None
    if latest is None:
        start = now - dt.timedelta(days=history_days)
        print(f"first start: backfilling {history_days:g} days of simulated history into {cfg.paths.data_dir}",
              flush=True)
    else:
        start = latest.astimezone(dt.timezone.utc).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        if start >= now:
            return
        print(f"catching up {(now - start).total_seconds() / 60:.0f} minutes since the last reading", flush=True)
    seed_history(cfg, start, now, journal=journal, progress=sys.stderr.isatty())


class _Chain:
    """anvil (on the port of ``chain.rpc_url``) + registry + anchoring thread."""

    def __init__(self, cfg: Config, port: int):
        from chain import keys
        from chain.anchor import AnchorService
        from chain.deploy import ensure_deployment
        from chain.ledger import Ledger
        from chain.node import connect
        from tanjian.simulator.anvil import start_anvil

        ks, pw = Path(cfg.chain.keystore), Path(cfg.chain.password_file)
        if not ks.exists():
            if not pw.exists() and not os.environ.get(keys.PASSWORD_ENV):
                pw.parent.mkdir(parents=True, exist_ok=True)
                keys.write_password_file(pw, secrets.token_urlsafe(24))
            keys.create_keystore(ks, keys.read_password(pw))
            print(f"created the gateway keystore {ks} (password in {pw}, mode 0600)", flush=True)
        account = keys.load_account(ks, password_file=pw if pw.exists() else None)
        from workspace.audit import queue_head

        self.anvil = start_anvil(port, cfg.paths.chain / "anvil")
        w3 = connect(self.anvil.rpc_url)
        info = ensure_deployment(w3, cfg.paths.chain, account.address, plant=cfg.site.plant.id)
        self.info = info
        self.rpc_url = self.anvil.rpc_url
        self.service = AnchorService(w3, info["address"], account, Ledger(cfg.paths.journal, cfg.paths.chain),
                                     cfg.paths.chain, confirmations=cfg.chain.confirmations,
                                     before_anchor=lambda: queue_head(cfg.paths.data_dir))
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.service.run, args=(cfg.chain.anchor_interval_s, self.stop_event),
                                       name="anchoring", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=30)
        self.anvil.stop()


def _spawn(cmd: list[str], env: dict, log_path: Path) -> subprocess.Popen:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    out = open(log_path, "ab")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True, cwd=str(ROOT))


def _stop_proc(p: subprocess.Popen, name: str) -> None:
    if p.poll() is not None:
        return
    try:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(timeout=15)
    except subprocess.TimeoutExpired:
        log.warning("%s did not stop in 15 s; killing it", name)
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=5)
    except ProcessLookupError:
        pass


def run_demo(cfg: Config, *, speed: float = 1.0, lab: bool = True, chain: bool = True,
             history_days: float | None = None, port_offset: int = 0) -> int:
    """Run the demo until interrupted; returns the exit code."""
    from collectors.service import CollectionService
    from tanjian.simulator import PlantSimulator

    from tanjian.demo.peers import ProtocolPeers

    cfg.paths.data_dir.mkdir(parents=True, exist_ok=True)
    runlog = cfg.paths.run
    journal = Journal(cfg.paths.journal, writer=True)
    _catch_up(cfg, journal, cfg.simulation.history_days if history_days is None else history_days)
    clock = Clock.wall() if speed == 1 else Clock.simulated(dt.datetime.now(dt.timezone.utc), speed)
    store = Store.open(cfg.paths.store, cfg.site, create=True)

    env = dict(os.environ, TANJIAN_CONFIG=str(cfg.source), TANJIAN_DATA_DIR=str(cfg.paths.data_dir),
               PYTHONUNBUFFERED="1")
    procs: list[tuple[str, subprocess.Popen]] = []
    chain_part: _Chain | None = None

    async def main() -> None:
        nonlocal chain_part
        stop_ev = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop_ev.set)
        sim = PlantSimulator(cfg.site, clock, cfg.simulation.seed, port_offset)
        await sim.start()
        peers = ProtocolPeers(cfg, clock, sim, port_offset)  # RTU/TCP, DL/T 645, MQTT, OPC UA peers, if any
        try:
            await peers.start()
        except BaseException:
            await sim.stop()
            raise
        svc = CollectionService(peers.site, journal, store, clock, fold_interval_s=cfg.collection.fold_interval_s,
                                backoff_initial_s=cfg.collection.backoff_initial_s,
                                backoff_max_s=cfg.collection.backoff_max_s,
                                compact_interval_s=cfg.collection.compact_interval_h * 3600,
                                compact_keep_days=cfg.collection.compact_keep_days,
                                clock_tolerance_s=cfg.collection.clock_tolerance_s, port_offset=port_offset,
                                health_path=runlog / "health.json", inbox=cfg.paths.inbox)
        collector = asyncio.create_task(svc.run(stop_ev), name="collector")
        from tanjian.alarm_loop import AlarmLoop  # the alarm rules each minute, rooms read over Modbus

        alarms = asyncio.create_task(AlarmLoop(cfg, clock, port_offset=port_offset).run(stop_ev), name="alarms")
        urls = list(peers.where)
        try:
            if chain:
                try:
                    port = (urllib.parse.urlsplit(cfg.chain.rpc_url).port or 8545) + port_offset
                    chain_part = await asyncio.to_thread(_Chain, cfg, port)
                    urls.append(("chain (anvil JSON-RPC)", chain_part.rpc_url))
                    urls.append(("anchor registry", f"{chain_part.info['address']} on chain "
                                                    f"{chain_part.info['chain_id']}"))
                except TanjianError as exc:
                    print(f"chain: not started ({exc}); collection goes on without anchoring", flush=True)
            dport = cfg.dashboards.port + port_offset
            dash = _spawn([sys.executable, "-m", "tanjian", "--config", str(cfg.source), "--data-dir",
                           str(cfg.paths.data_dir), "-v", "serve", "--port", str(dport)], env,
                          runlog / "dashboards.log")
            procs.append(("dashboards", dash))
            if lab:
                token = secrets.token_hex(16)
                jport = cfg.jupyter.port + port_offset
                jl = _spawn([sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
                             f"--ServerApp.port={jport}", "--ServerApp.port_retries=0",
                             f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT / 'notebooks'}"]
                            + (["--allow-root"] if os.geteuid() == 0 else []),
                            env, runlog / "jupyterlab.log")
                procs.append(("jupyterlab", jl))
            base = f"http://{cfg.dashboards.host}:{dport}"
            ok = await asyncio.to_thread(_wait_http, f"{base}/bigscreen", 120, dash)
            if not ok:
                print(f"dashboards did not come up; see {runlog / 'dashboards.log'}", flush=True)
            urls[:0] = [("big screen", f"{base}/bigscreen"), ("verifier", f"{base}/verify")]
            if lab:
                lab_ok = await asyncio.to_thread(_wait_http, f"http://127.0.0.1:{jport}/api/status?token={token}",
                                                 120, jl)
                urls.append(("JupyterLab" + ("" if lab_ok else " (not answering; see run/jupyterlab.log)"),
                             f"http://127.0.0.1:{jport}/lab/tree/tour.ipynb?token={token}"))
            print("\ntanjian demo is running — " + cfg.site.plant.name, flush=True)
            for name, url in urls:
                print(f"  {name:<24} {url}", flush=True)
            print(f"  {'data':<24} {cfg.paths.data_dir}\n  logs in {runlog}; Ctrl-C stops everything\n", flush=True)
            await stop_ev.wait()
        finally:
            stop_ev.set()
            print("stopping: collector", flush=True)
            await collector
            await alarms
            for name, p in reversed(procs):
                print(f"stopping: {name}", flush=True)
                _stop_proc(p, name)
            if chain_part is not None:
                print("stopping: anchoring and anvil", flush=True)
                await asyncio.to_thread(chain_part.stop)
            if peers.where:
                print("stopping: simulated peers", flush=True)
            await peers.stop()
            await sim.stop()

    try:
        asyncio.run(main())
    finally:
        journal.close()
    print(f"stopped cleanly; data kept in {cfg.paths.data_dir}", flush=True)
    return 0
