"""``tanjian lab``: a real JupyterLab on the loopback interface, answering with the token it printed."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import ROOT, free_port
from workspace.config import EXAMPLE
from tanjian.service import stop

pytestmark = pytest.mark.slow


def test_lab_starts_on_loopback_with_its_token(tmp_path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tanjian", "--config", str(EXAMPLE), "--data-dir",
                             str(tmp_path / "var"), "lab", "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        first = proc.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/lab/tree/tour\.ipynb\?token=([0-9a-f]{32})", first)
        assert m and int(m.group(1)) == port, first
        token = m.group(2)
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2) as r:
                    status = json.load(r)
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read()[-2000:]
                assert time.monotonic() < deadline, "JupyterLab did not answer in 90 s"
                time.sleep(0.5)
        assert "started" in status
        # without the token: refused
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=5)
        assert e.value.code == 403
    finally:
        stop(proc, 20)
