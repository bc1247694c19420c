"""``tanjian lab``: JupyterLab in the notebooks folder, reading this workspace, behind the workspace's accounts.

The notebooks see the workspace through ``TANJIAN_CONFIG`` and ``TANJIAN_DATA_DIR`` (set here).

- With accounts (``tanjian user add``): JupyterLab listens on the dashboards' host (``dashboards.host``) and
  lets in only a browser holding a valid dashboards login of a role with the ``jupyter`` permission
  (``dashboards.jupyter_identity``); without one it sends the browser to the dashboards' ``/login``. Open it
  under the same host name as the dashboards (their cookies go with it). Under HTTPS (``dashboards.tls_*``) it
  uses the same certificate.
- Without accounts: on 127.0.0.1 only (reach it from elsewhere through an SSH tunnel) with a fresh random
  token, printed in the link.

The dashboards' shell links to it for roles with the ``jupyter`` permission.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
from pathlib import Path

from tanjian import args as A
from tanjian.args import config_from_args
from tanjian.service import stop

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
PROVIDER = "dashboards.jupyter_identity.TanjianIdentityProvider"


def lab_command(port: int, token: str, root: Path) -> list[str]:
    """The JupyterLab command line (loopback only, with ``token``, no browser, no port hopping)."""
    return ([sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
             f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
             f"--ServerApp.root_dir={root}"] + (["--allow-root"] if os.geteuid() == 0 else []))


def lab_command_accounts(port: int, host: str, root: Path, data_dir: Path, login_url: str,
                         tls: dict | None = None) -> list[str]:
    """The JupyterLab command line behind the accounts: on ``host``, the dashboards' session as the only way in."""
    tls = tls or {}
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--ServerApp.ip={host}",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root}",
           f"--ServerApp.identity_provider_class={PROVIDER}", f"--TanjianIdentityProvider.data_dir={data_dir}",
           f"--TanjianIdentityProvider.login_url={login_url}"]
    if tls:
        cmd += [f"--ServerApp.certfile={tls['ssl_certfile']}", f"--ServerApp.keyfile={tls['ssl_keyfile']}",
                "--TanjianIdentityProvider.https=True"]
    return cmd + (["--allow-root"] if os.geteuid() == 0 else [])


def cmd_lab(args) -> int:
    from dashboards.auth import tls_options
    from workspace.accounts import Accounts

    cfg = config_from_args(args)
    port = cfg.jupyter.port if args.port is None else args.port
    env = dict(os.environ, TANJIAN_DATA_DIR=str(cfg.paths.data_dir))
    if cfg.source:
        env["TANJIAN_CONFIG"] = str(cfg.source)
    if Accounts(cfg.paths.data_dir).exists():
        from dashboards.jupyter_identity import lab_public_url

        tls = tls_options(cfg)
        public = cfg.dashboards.public_url.rstrip("/")
        url = lab_public_url(public, port)
        cmd = lab_command_accounts(port, cfg.dashboards.host, NOTEBOOKS, cfg.paths.data_dir, f"{public}/login", tls)
        print(f"JupyterLab for {cfg.site.plant.name}: {url}/tree/tour.ipynb (listening on {cfg.dashboards.host}:"
              f"{port})\nLog in at {public}/login with an account whose role has the `jupyter` permission, under "
              f"the same host name. Ctrl-C stops it.", flush=True)
    else:
        token = secrets.token_hex(16)
        cmd = lab_command(port, token, NOTEBOOKS)
        print(f"JupyterLab for {cfg.site.plant.name}: http://127.0.0.1:{port}/lab/tree/tour.ipynb?token={token}\n"
              f"(no accounts: loopback only; from another machine: ssh -L {port}:127.0.0.1:{port} THIS-HOST; "
              f"with accounts (`tanjian user add`) it sits behind their login). Ctrl-C stops it.", flush=True)
    return _run_until_stopped(cmd, env)


def _run_until_stopped(cmd: list[str], env: dict) -> int:
    """Run JupyterLab as a child and stop it with this command: on Ctrl-C or SIGTERM (systemd, a test's
    terminate()) the child is terminated too, so no server is left running behind a stopped ``tanjian lab``."""
    import signal

    proc = subprocess.Popen(cmd, env=env)

    def _stop(signum, frame):  # SIGTERM: pass it on, then let wait() return
        proc.terminate()

    try:
        before = signal.signal(signal.SIGTERM, _stop)
    except ValueError:  # not the main thread: only Ctrl-C and the finally below stop the child
        before = None
    try:
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if before is not None:
            signal.signal(signal.SIGTERM, before)
        stop(proc, 15)


def add_commands(sub) -> None:
    """Add ``lab``."""
    x = sub.add_parser("lab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    x.add_argument("--port", type=A.port, default=None, help="override jupyter.port")
    x.set_defaults(func=cmd_lab)
