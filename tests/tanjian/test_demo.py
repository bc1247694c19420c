"""`tanjian demo` end to end: simulator → collector → store → anchors on a real anvil → dashboards
and JupyterLab served → a batch exported and verified against the chain through the CLI → Ctrl-C
stops everything."""

import json
import os
import re
import signal
import struct
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

from tests.conftest import ROOT, free_port_block
from workspace.batch import decode_columns
from workspace.config import EXAMPLE

pytestmark = [pytest.mark.slow, pytest.mark.requires_anvil]


def _cli(cfg_path, *args, timeout=120):
    return subprocess.run([sys.executable, "-m", "tanjian", "--config", str(cfg_path), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=str(ROOT))


def _get(url):
    with urllib.request.urlopen(url, timeout=10) as r:  # noqa: S310 - loopback
        return r.status, r.read().decode(errors="replace")


def test_demo_runs_anchors_verifies_and_stops_cleanly(tmp_path):
    # every port of the demo moves by one offset: gateways 5020/5021, anvil 8545, Panel 5006, Lab 8888
    base = free_port_block(1)
    offset = base - 5006
    for p in (5020, 5021, 8545, 8888):
        assert 1024 < p + offset < 65535
    cfg_path = tmp_path / "tanjian.yaml"
    cfg_path.write_text(EXAMPLE.read_text().replace("anchor_interval_s: 30", "anchor_interval_s: 2"))
    log = open(tmp_path / "demo.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "tanjian", "--config", str(cfg_path), "demo",
                             "--history-days", "0.1", "--port-offset", str(offset)],
                            stdout=log, stderr=subprocess.STDOUT, cwd=str(ROOT), start_new_session=True)
    try:
        text = ""
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and "Ctrl-C stops everything" not in text:
            assert proc.poll() is None, open(tmp_path / "demo.log").read()[-4000:]
            time.sleep(0.5)
            text = open(tmp_path / "demo.log").read()
        assert "Ctrl-C stops everything" in text, text[-4000:]
        urls = dict(re.findall(r"^\s{2}(big screen|verifier|JupyterLab)\s+(http\S+)", text, re.M))
        assert set(urls) == {"big screen", "verifier", "JupyterLab"}, text[-3000:]
        assert _get(urls["big screen"])[0] == 200
        assert _get(urls["verifier"])[0] == 200
        lab = urls["JupyterLab"]
        token = lab.split("token=")[1]
        status, body = _get(f"http://127.0.0.1:{8888 + offset}/api/status?token={token}")
        assert status == 200 and "started" in json.loads(body)
        # wait until live batches are anchored beyond the history
        rpc = f"http://127.0.0.1:{8545 + offset}"
        anchors = tmp_path / "var" / "chain" / "anchors.jsonl"
        for _ in range(120):
            recs = [json.loads(x) for x in anchors.read_text().splitlines()] if anchors.exists() else []
            if recs and recs[-1]["tree_size"] >= 4:
                break
            time.sleep(1)
        assert recs, "nothing anchored"
        seq = recs[-1]["tree_size"] - 1  # the newest batch the last anchor covers
        out = tmp_path / "export"
        r = _cli(cfg_path, "export", str(seq), "--out", str(out))
        assert r.returncode == 0, r.stderr
        # live poll cycles are columnar (.tjb), the backfilled history JSON (.json)
        batch, = [p for p in out.glob(f"batch-{seq:08d}.*") if not p.name.endswith(".proof.json")]
        bundle = out / f"batch-{seq:08d}.proof.json"
        r = _cli(cfg_path, "verify", str(batch), str(bundle), "--rpc", rpc)
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.count("PASS") >= 5 and "FAIL" not in r.stdout
        # change one value in the export: verify fails at the leaf and names the batch
        data = batch.read_bytes()
        if batch.suffix == ".json":
            m = re.search(rb'"M-TR-1","[^"]+",(\d+\.\d)', data)
            tampered = data[:m.start(1)] + str(float(m.group(1)) + 1).encode() + data[m.end(1):]
        else:  # tanjian.batch/2: add 1 kWh to M-TR-1's counter (docs/batch.md: column 1, 8 bytes a row)
            cols = decode_columns(data)
            row = int(np.nonzero(cols.meter == cols.meters.index("M-TR-1"))[0][0])
            (h,) = struct.unpack_from("<I", data, 16)
            at = 20 + h + (-(20 + h) % 8) + 8 * len(cols) * 1 + 8 * row
            (c,) = struct.unpack_from("<d", data, at)
            tampered = data[:at] + struct.pack("<d", c + 1.0) + data[at + 8:]
        assert len(tampered) != len(data) or tampered != data
        batch.write_bytes(tampered)
        r = _cli(cfg_path, "verify", str(batch), str(bundle), "--rpc", rpc)
        assert r.returncode == 1
        assert re.search(r"FAIL\s+leaf", r.stdout) and f"batch {seq}" in r.stdout, r.stdout
        # the collector is live: status reports healthy devices and the anchor
        r = _cli(cfg_path, "status")
        # 95 meters: 90 of consumption, 5 of on-site generation, storage and export (SunSpec PV and battery)
        assert r.returncode == 0 and "devices: 95 seen, 0 failing" in r.stdout, r.stdout
        assert "last anchor: root 0x" in r.stdout
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    text = open(tmp_path / "demo.log").read()
    assert code == 0, text[-3000:]
    assert "stopped cleanly" in text
    # nothing left listening
    for port in (5006, 8545, 8888, 5020):
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port + offset}/", timeout=2)  # noqa: S310
