"""The connector contract (collectors.push) against a real ``tanjian push serve`` process on 127.0.0.1:
the shipped examples in other languages (POSIX sh with curl, Node.js with fetch) push readings, which are
then in the journal and, once folded, in the store; refusals name the field and journal nothing."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import jsonschema
import pytest

from collectors.push import CONFIG_SCHEMA, READINGS_SCHEMA, load_push_config, signature
from tests.conftest import free_port
from workspace.batch import decode_batch
from workspace.config import load_config
from workspace.errors import ConfigError
from workspace.journal import Journal
from workspace.store import Store

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples" / "connectors"
PLANT = ROOT / "workspace" / "examples" / "plant18.yaml"
TOKEN = "sh-connector-token-0123456789abcdef"
HMAC_KEY = "node-connector-hmac-key-fedcba9876543210"
UTC = dt.timezone.utc


def _workspace(tmp_path: Path, port: int) -> Path:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "sh.token").write_text(TOKEN + "\n")
    (tmp_path / "secrets" / "node.key").write_text(HMAC_KEY + "\n")
    text = PLANT.read_text() + f"""
push:
  listen: 127.0.0.1:{port}
  connectors:
    shell-bridge:
      token_file: secrets/sh.token
    node-edge:
      hmac_key_file: secrets/node.key
      meters: [M-TR-2, M-TR-3]
"""
    p = tmp_path / "tanjian.yaml"
    p.write_text(text)
    return p


def _env() -> dict:
    return dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


@pytest.fixture
def server(tmp_path):
    port = free_port()
    cfg = _workspace(tmp_path, port)
    proc = subprocess.Popen([sys.executable, "-m", "tanjian", "-c", str(cfg), "--data-dir", str(tmp_path / "var"),
                             "push", "serve"], cwd=tmp_path, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "accepting readings at" in line, (line, proc.stderr.read() if proc.poll() is not None else "")
        yield {"url": f"http://127.0.0.1:{port}/v1/readings", "dir": tmp_path, "config": cfg, "proc": proc}
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)


def _post(url: str, body: bytes, headers: dict) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json",
                                                                           **headers})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _journaled(data_dir: Path) -> list:
    cfg = load_config(PLANT, data_dir=data_dir)
    j = Journal(cfg.paths.journal)
    try:
        return [(seq, decode_batch(p)) for seq, p in j.records()]
    finally:
        j.close()


def test_schemas_are_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(READINGS_SCHEMA)
    jsonschema.Draft202012Validator.check_schema(CONFIG_SCHEMA)
    published = json.loads((EXAMPLES / "push-readings.schema.json").read_text())
    assert published == READINGS_SCHEMA  # the file docs/collectors.md points to is the one enforced


def test_config_section_is_validated_naming_the_field(tmp_path):
    (tmp_path / "t").write_text("short")
    with pytest.raises(ConfigError, match=r"push\.connectors\.a\.token_fil: unknown field"):
        load_push_config({"connectors": {"a": {"token_fil": "t"}}}, tmp_path)
    with pytest.raises(ConfigError, match=r"push\.listen: "):
        load_push_config({"listen": "nowhere", "connectors": {"a": {"token_file": "t"}}}, tmp_path)
    with pytest.raises(ConfigError, match=r"push\.connectors\.a\.token_file: the secret .* shorter than 16"):
        load_push_config({"connectors": {"a": {"token_file": "t"}}}, tmp_path)
    with pytest.raises(ConfigError, match=r"push\.connectors\.a\.hmac_key_file: cannot read"):
        load_push_config({"connectors": {"a": {"hmac_key_file": "absent"}}}, tmp_path)


def test_config_check_validates_the_push_section(tmp_path, capsys):
    from tanjian.cli import main

    cfg = _workspace(tmp_path, free_port())
    assert main(["config", "check", str(cfg)]) == 0
    cfg.write_text(cfg.read_text().replace("hmac_key_file: secrets/node.key", "hmac_key: inline-secret"))
    assert main(["config", "check", str(cfg)]) == 1
    err = capsys.readouterr().err
    assert "push.connectors.node-edge.hmac_key: unknown field" in err and f"{cfg}:?:" in err


@pytest.mark.skipif(shutil.which("node") is None or shutil.which("curl") is None, reason="node or curl missing")
def test_examples_in_other_languages_push_and_readings_are_journaled_and_stored(server):
    url, d = server["url"], server["dir"]
    env = dict(os.environ, TANJIAN_PUSH_URL=url, TANJIAN_TOKEN_FILE=str(d / "secrets" / "sh.token"),
               TANJIAN_CONNECTOR="node-edge", TANJIAN_HMAC_KEY_FILE=str(d / "secrets" / "node.key"))
    when = (dt.datetime.now(UTC) - dt.timedelta(hours=1)).replace(second=0, microsecond=0)
    t = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")  # what Date.toISOString() writes
    node = subprocess.run(["node", str(EXAMPLES / "push.mjs"), "M-TR-2", "98765.25", "410.5", t], env=env,
                          capture_output=True, text=True, timeout=60)
    assert node.returncode == 0, node.stderr
    ack_node = json.loads(node.stdout)
    assert ack_node["journaled"] == 1 and ack_node["duplicate"] is False and ack_node["seq"] == 0
    sh = subprocess.run(["sh", str(EXAMPLES / "push.sh"), "M-TR-1", "1234.5", "56.25"], env=env,
                        capture_output=True, text=True, timeout=60)
    assert sh.returncode == 0, sh.stderr
    ack_sh = json.loads(sh.stdout)
    assert ack_sh["journaled"] == 1 and ack_sh["duplicate"] is False and ack_sh["seq"] is not None
    again = subprocess.run(["sh", str(EXAMPLES / "push.sh"), "M-TR-1", "1234.5", "56.25"], env=env,
                           capture_output=True, text=True, timeout=60)  # the same minute: a retry
    if json.loads(again.stdout)["batch_id"] == ack_sh["batch_id"]:  # (unless the minute turned meanwhile)
        assert json.loads(again.stdout) == dict(ack_sh, duplicate=True)
    assert ack_sh["seq"] == 1
    # the Node connector may not send a meter outside its list: 422 naming the field, nothing journaled
    bad = subprocess.run(["node", str(EXAMPLES / "push.mjs"), "M-TR-1", "1", "1", t], env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "readings[0].meter" in bad.stdout
    # acknowledged means journaled: read the journal while the server still runs
    batches = _journaled(d / "var")
    assert [b.source for _, b in batches] == [f"push:node-edge/{ack_node['batch_id']}",
                                              f"push:shell-bridge/{ack_sh['batch_id']}"]
    r_node, r_sh = batches[0][1].readings[0], batches[1][1].readings[0]
    assert (r_sh.meter, r_sh.counter, r_sh.rate) == ("M-TR-1", 1234.5, 56.25)
    assert (r_node.meter, r_node.counter, r_node.rate, r_node.time) == (
        "M-TR-2", 98765.25, 410.5, when)
    server["proc"].send_signal(signal.SIGTERM)
    assert server["proc"].wait(30) == 0
    cfg = load_config(server["config"], data_dir=d / "var")
    j = Journal(cfg.paths.journal)
    st = Store.open(cfg.paths.store, cfg.site, create=True)
    st.fold(j)
    ds = st.dataset()
    origin = dt.datetime.fromisoformat(ds.attrs["fold"]["origin"])
    for r in (r_sh, r_node):
        assert ds.counter.isel(time=(r.time - origin) // dt.timedelta(minutes=1)).sel(meter=r.meter).item() \
            == r.counter
    j.close()


def test_refusals_name_the_field_and_a_retried_batch_is_journaled_once(server):
    url, d = server["url"], server["dir"]
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    t0 = (dt.datetime.now(UTC) - dt.timedelta(hours=2)).replace(second=0, microsecond=0)
    local = dt.timezone(dt.timedelta(hours=8))
    good = {"batch_id": "b-1", "readings": [{"meter": "M-TR-3", "time": t0.astimezone(local).isoformat(),
                                             "counter": 10.0, "power_factor": 0.93}]}
    body = json.dumps(good).encode()
    assert _post(url, body, {"Authorization": "Bearer wrong-token-0000000000"})[0] == 401
    assert _post(url, body, {})[0] == 401
    assert _post(url, body, {"X-Tanjian-Connector": "node-edge", "X-Tanjian-Signature": "sha256=00"})[0] == 401
    code, ans = _post(url, b"{not json", bearer)
    assert code == 400 and ans["field"] == "(body)"
    code, ans = _post(url, body.replace(b'"counter": 10.0', b'"counter": NaN'), bearer)
    assert code == 400 and ans["field"] == "(body)" and "NaN" in ans["error"]
    for change, field in ((lambda r: r.pop("counter"), "readings[0].counter"),
                          (lambda r: r.update(counter="12"), "readings[0].counter"),
                          (lambda r: r.update(counter=-1), "readings[0].counter"),
                          (lambda r: r.update(time="2026-12-05 10:00"), "readings[0].time"),
                          (lambda r: r.update(time="2026-12-05T10:00:00"), "readings[0].time"),
                          (lambda r: r.update(volts=230), "readings[0].volts"),
                          (lambda r: r.update(power_factor=1.5), "readings[0].power_factor")):
        doc = json.loads(body)
        change(doc["readings"][0])
        code, ans = _post(url, json.dumps(doc).encode(), bearer)
        assert (code, ans["field"]) == (400, field), ans
    code, ans = _post(url, json.dumps(dict(good, readings=[dict(good["readings"][0], meter="M-NOPE")])).encode(),
                      bearer)
    assert (code, ans["field"]) == (422, "readings[0].meter") and "M-NOPE" in ans["error"]
    # a wrong year (it would stall the store's fold) or a clock far ahead: refused, naming the time
    for when in (t0 - dt.timedelta(days=8), t0.replace(year=2000), dt.datetime.now(UTC) + dt.timedelta(hours=1)):
        doc = dict(good, readings=[dict(good["readings"][0], time=when.isoformat())])
        code, ans = _post(url, json.dumps(doc).encode(), bearer)
        assert (code, ans["field"]) == (422, "readings[0].time") and "max_age_days" in ans["error"], ans
    assert _journaled(d / "var") == []  # refusals journal nothing
    signed = {"X-Tanjian-Connector": "node-edge", "X-Tanjian-Signature": signature(HMAC_KEY.encode(), body)}
    code, first = _post(url, body, signed)
    assert code == 201 and first["journaled"] == 1
    for _ in range(3):  # retries (the client never saw the answer): the same acknowledgement, nothing more
        assert _post(url, body, signed) == (200, dict(first, duplicate=True))
    # the same batch id from another connector is another batch
    later = dict(good, readings=[dict(good["readings"][0], time=(t0 + dt.timedelta(minutes=1)).isoformat(),
                                      counter=10.5)])
    code, other = _post(url, json.dumps(later).encode(), bearer)
    assert code == 201 and other["seq"] == first["seq"] + 1 and other["journaled"] == 1
    # a reading of a minute that already holds one of its meter: acknowledged, superseded, not journaled
    again = dict(later, batch_id="b-2")
    code, superseded = _post(url, json.dumps(again).encode(), bearer)
    assert code == 201 and superseded["journaled"] == 0 and superseded["seq"] is None
    # a restart remembers the batch ids from the journal
    server["proc"].send_signal(signal.SIGTERM)
    assert server["proc"].wait(30) == 0
    proc = subprocess.Popen([sys.executable, "-m", "tanjian", "-c", str(server["config"]), "--data-dir",
                             str(d / "var"), "push", "serve"], cwd=d, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert "accepting readings at" in proc.stdout.readline()
        assert _post(url, body, signed) == (200, dict(first, duplicate=True))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert len(_journaled(d / "var")) == 2


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl missing")
def test_collect_serves_the_endpoint_beside_its_collectors(tmp_path):
    """With a ``push:`` section, ``tanjian collect`` (the journal's one writer) serves the endpoint itself."""
    port = free_port()
    cfg = _workspace(tmp_path, port)
    proc = subprocess.Popen([sys.executable, "-m", "tanjian", "-c", str(cfg), "--data-dir", str(tmp_path / "var"),
                             "collect", "--period", "3600"], cwd=tmp_path, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        for _ in range(5):
            line = proc.stdout.readline()
            if "accepting connector readings at" in line or not line:
                break
        assert f"http://127.0.0.1:{port}/v1/readings" in line, line
        # push serve cannot start beside it: the journal has one writer
        other = subprocess.run([sys.executable, "-m", "tanjian", "-c", str(cfg), "--data-dir", str(tmp_path / "var"),
                                "push", "serve", "--listen", f"127.0.0.1:{free_port()}"], cwd=tmp_path, env=_env(),
                               capture_output=True, text=True, timeout=120)
        assert other.returncode != 0 and "lock" in other.stderr
        env = dict(os.environ, TANJIAN_PUSH_URL=f"http://127.0.0.1:{port}/v1/readings",
                   TANJIAN_TOKEN_FILE=str(tmp_path / "secrets" / "sh.token"))
        sh = subprocess.run(["sh", str(EXAMPLES / "push.sh"), "M-TR-3", "4321.75"], env=env, capture_output=True,
                            text=True, timeout=60)
        assert sh.returncode == 0, sh.stderr
        ack = json.loads(sh.stdout)
        assert ack["journaled"] == 1
        pushed = [(seq, b) for seq, b in _journaled(tmp_path / "var") if b.source.startswith("push:")]
        assert [(seq, b.source, b.readings[0].counter) for seq, b in pushed] == [
            (ack["seq"], f"push:shell-bridge/{ack['batch_id']}", 4321.75)]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(120)


def test_one_batch_sent_many_times_at_once_is_journaled_once(server):
    from concurrent.futures import ThreadPoolExecutor

    url, d = server["url"], server["dir"]
    t = (dt.datetime.now(UTC) - dt.timedelta(minutes=30)).replace(second=0, microsecond=0)
    readings = [{"meter": m, "time": t.isoformat(), "counter": 100.0 + i} for i, m in enumerate(("M-TR-1", "M-TR-2"))]
    body = json.dumps({"batch_id": "storm", "readings": readings}).encode()
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: _post(url, body, {"Authorization": f"Bearer {TOKEN}"}), range(16)))
    assert sorted(code for code, _ in answers) == [200] * 15 + [201]
    assert len({json.dumps(dict(a, duplicate=None), sort_keys=True) for _, a in answers}) == 1
    assert [(b.source, len(b.readings)) for _, b in _journaled(d / "var")] == [("push:shell-bridge/storm", 2)]
