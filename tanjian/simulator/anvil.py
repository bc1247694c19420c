"""A local anvil node (npm ``@foundry-rs/anvil``) for the demo and the integration tests: a peer too.

:func:`start_anvil` starts one, listening on loopback, and waits until its RPC answers; the chain's own code
only connects to a node (:func:`chain.node.connect`), whichever it is. The hard fork is the EVM version the
contract artefacts are compiled for (:data:`chain.artefacts.EVM_VERSION`).
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from chain.artefacts import EVM_VERSION as HARDFORK
from chain.node import connect, free_port, is_up
from workspace.errors import ChainError

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]


def find_anvil() -> Path:
    """The anvil executable: ``$TANJIAN_ANVIL``, else the native binary of npm ``@foundry-rs/anvil``
    under the repository's ``node_modules``, else its Node launcher, else ``anvil`` on PATH."""
    env = os.environ.get("TANJIAN_ANVIL")
    if env:
        if not Path(env).exists():
            raise ChainError(f"TANJIAN_ANVIL={env} does not exist")
        return Path(env)
    machine = platform.machine()
    arch = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    system = platform.system().lower()
    nm = REPO_ROOT / "node_modules"
    for c in (nm / "@foundry-rs" / f"anvil-{system}-{arch}" / "bin" / "anvil", nm / ".bin" / "anvil"):
        if c.exists():
            return c
    found = shutil.which("anvil")
    if found:
        return Path(found)
    raise ChainError("anvil not found: run `npm install @foundry-rs/anvil` in the repository root "
                     "or set TANJIAN_ANVIL")


class AnvilProcess:
    """A local anvil node started by :func:`start_anvil`; stop it with :meth:`stop` or ``with``."""

    def __init__(self, proc: subprocess.Popen, port: int, host: str, state_file: Path | None,
                 errlog=None):
        self.proc = proc
        self._errlog = errlog
        self.port = port
        self.host = host
        self.state_file = state_file

    @property
    def rpc_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate anvil (SIGTERM to its process group, SIGKILL after ``timeout`` [s])."""
        try:
            self._terminate(timeout)
        finally:
            if self._errlog is not None:
                self._errlog.close()
                self._errlog = None

    def _terminate(self, timeout: float) -> None:
        if self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("anvil (pid %d) did not stop within %.0f s; killing it", self.proc.pid, timeout)
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        log.info("anvil on %s stopped", self.rpc_url)

    def __enter__(self) -> "AnvilProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_anvil(port: int | None = None, state_dir: str | os.PathLike | None = None, *,
                host: str = "127.0.0.1", block_time: float | None = None, chain_id: int | None = None,
                startup_timeout: float = 30.0) -> AnvilProcess:
    """Start anvil and wait until its RPC answers.

    Parameters
    ----------
    port : int, optional
        TCP port [-]; a free one when omitted.
    state_dir : path, optional
        Keep the chain in ``<state_dir>/anvil-state.json`` (loaded at start, dumped at exit);
        without it every start is a fresh chain.
    host : str
        Address to listen on (loopback by default).
    block_time : float, optional
        Interval mining period [s]; by default anvil mines one block per transaction.
    chain_id : int, optional
        Chain id; anvil's default is 31337.
    startup_timeout : float
        How long to wait for the RPC to answer [s].
    """
    port = port or free_port(host)
    cmd = [str(find_anvil()), "--host", host, "--port", str(port), "--silent", "--hardfork", HARDFORK]
    state_file = None
    if state_dir is not None:
        Path(state_dir).mkdir(parents=True, exist_ok=True)
        state_file = Path(state_dir) / "anvil-state.json"
        cmd += ["--state", str(state_file)]
    if block_time is not None:
        cmd += ["--block-time", str(block_time)]
    if chain_id is not None:
        cmd += ["--chain-id", str(chain_id)]
    errlog = tempfile.TemporaryFile()  # not a pipe: a chatty anvil must never block on it
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errlog,
                            start_new_session=True)
    node = AnvilProcess(proc, port, host, state_file, errlog)
    w3 = connect(node.rpc_url, timeout=2.0)
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            errlog.seek(0)
            err = errlog.read().decode(errors="replace").strip()[-2000:]
            node.stop()
            raise ChainError(f"anvil exited with code {proc.returncode} on start ({' '.join(cmd)}): {err}")
        if is_up(w3):
            log.info("anvil listening on %s (pid %d)", node.rpc_url, proc.pid)
            return node
        time.sleep(0.1)
    node.stop()
    raise ChainError(f"anvil did not answer on {node.rpc_url} within {startup_timeout:.0f} s")
