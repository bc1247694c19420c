"""Under systemd: the unit files verify, ``tanjian serve`` reports READY=1 over $NOTIFY_SOCKET once it accepts
connections (a real datagram socket, as systemd's), and ``--log-json`` writes one JSON object a line."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, free_port
from workspace.config import EXAMPLE
from tanjian.service import stop

UNITS = sorted((ROOT / "deploy").glob("*.service"))


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_unit_file_verifies(unit, tmp_path):
    exe = shutil.which("systemd-analyze")
    if exe is None:
        pytest.skip("systemd-analyze is not installed (Debian: package systemd)")
    tanjian = Path(sys.executable).parent / "tanjian"
    if not tanjian.exists():
        pytest.skip(f"{tanjian} missing: the package is not installed in this environment (make install)")
    # the unit names the installed location; verify it with this environment's executable in its place
    copy = tmp_path / unit.name
    copy.write_text(unit.read_text().replace("/opt/tanjian/.venv/bin/tanjian", str(tanjian)))
    r = subprocess.run([exe, "verify", str(copy)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and unit.name not in r.stdout + r.stderr, r.stdout + r.stderr


def test_serve_notifies_readiness_and_logs_json(tmp_path):
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(120)
    port = free_port()
    env = {**os.environ, "NOTIFY_SOCKET": str(sock_path)}
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "tanjian", "--config", str(EXAMPLE), "--data-dir",
                             str(tmp_path / "var"), "--log-json", "serve", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        msg = sock.recv(4096).decode()
        assert msg.splitlines()[0] == "READY=1" and f"serving on port {port}" in msg
        r = requests.get(f"http://127.0.0.1:{port}/health", timeout=10)  # ready means ready: no retry needed
        assert r.status_code == 200 and r.json()["status"] == "ok"
    finally:
        stop(proc, 15)
        log.close()
        sock.close()
    lines = [ln for ln in (tmp_path / "server.log").read_text().splitlines() if ln.startswith("{")]
    docs = [json.loads(ln) for ln in lines]
    assert any(d["logger"] == "dashboards.app" and "no accounts" in d["message"] and d["level"] == "WARNING"
               for d in docs), lines
