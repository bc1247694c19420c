"""``tanjian lab``: JupyterLab on the loopback interface, in the notebooks folder, reading this workspace.

The notebooks see the workspace through ``TANJIAN_CONFIG`` and ``TANJIAN_DATA_DIR`` (set here). JupyterLab
listens on 127.0.0.1 only (reach it from elsewhere through an SSH tunnel) with a fresh random token, printed
in the link. The dashboards' shell links to it for roles with the ``jupyter`` permission.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from tanjian import args as A
from tanjian.args import config_from_args

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def lab_command(port: int, token: str, root: Path) -> list[str]:
    """The JupyterLab command line (loopback only, no browser, no port hopping)."""
    return ([sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
             f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
             f"--ServerApp.root_dir={root}"] + (["--allow-root"] if os.geteuid() == 0 else []))


def cmd_lab(args) -> int:
    cfg = config_from_args(args)
    port = cfg.jupyter.port if args.port is None else args.port
    token = secrets.token_hex(16)
    env = dict(os.environ, TANJIAN_DATA_DIR=str(cfg.paths.data_dir))
    if cfg.source:
        env["TANJIAN_CONFIG"] = str(cfg.source)
    print(f"JupyterLab for {cfg.site.plant.name}: http://127.0.0.1:{port}/lab/tree/tour.ipynb?token={token}\n"
          f"(loopback only; from another machine: ssh -L {port}:127.0.0.1:{port} THIS-HOST). Ctrl-C stops it.",
          flush=True)
    try:
        return subprocess.call(lab_command(port, token, NOTEBOOKS), env=env)
    except KeyboardInterrupt:
        return 0


def add_commands(sub) -> None:
    """Add ``lab``."""
    x = sub.add_parser("lab", description=__doc__)
    x.add_argument("--port", type=A.port, default=None, help="override jupyter.port")
    x.set_defaults(func=cmd_lab)
