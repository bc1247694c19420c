"""``tanjian status``: what it reports and what ``--check`` fails on (a certificate near its expiry, an audit
trail that does not verify); HTTPS of the dashboards with HSTS, and a TLS key of a looser mode refused."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import subprocess
import sys
import time

import pytest
import requests
from ruamel.yaml import YAML

from tanjian.cli import main
from tests.conftest import ROOT, free_port
from workspace import audit
from workspace.config import EXAMPLE
from tanjian.service import stop


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else 2
    return rc, out.getvalue(), err.getvalue()


def self_signed(base, days: float, host: str = "127.0.0.1"):
    """A self-signed certificate for ``host`` valid from an hour ago until ``days`` from now, and its key (0600)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = base / "dash.crt", base / "dash.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cert_path, key_path


def config_with_tls(base, cert, key):
    yaml = YAML(typ="rt")
    doc = yaml.load(EXAMPLE.read_text("utf-8"))
    doc["dashboards"]["tls_certificate"] = str(cert)
    doc["dashboards"]["tls_key"] = str(key)
    p = base / "tanjian.yaml"
    with open(p, "w", encoding="utf-8") as f:
        yaml.dump(doc, f)
    return p


def test_status_check_names_a_certificate_near_expiry_and_a_broken_audit_trail(tmp_path):
    cert, key = self_signed(tmp_path, days=10)
    cfg_path = config_with_tls(tmp_path, cert, key)
    base = ["--config", str(cfg_path), "--data-dir", str(tmp_path / "var")]
    rc, out, err = run([*base, "status", "--check"])
    assert rc == 1, err
    # notAfter = now + 10 d, under the 14-day threshold: 10 days left (rounded: 9.99.. -> "10 days")
    assert "PROBLEM: certificate" in out and "expires in 10 days" in out
    rc, out, _ = run([*base, "status", "--json"])
    assert rc == 0
    s = json.loads(out)
    [c] = s["certificates"]
    assert 9.9 < c["days_left"] <= 10.0 and c["what"] == "dashboards TLS"
    assert s["audit"] == {"entries": 0, "head": "0" * 64, "verifies": True}
    audit.record(tmp_path / "var", "li.wei", "login", "dashboards")
    p = audit.trail_path(tmp_path / "var")
    p.write_bytes(p.read_bytes().replace(b"li.wei", b"li.wen"))
    rc, out, _ = run([*base, "status", "--json", "--check"])
    assert rc == 1
    assert any("entry 0: field 'user' was edited" in x for x in json.loads(out)["problems"])


def test_dashboards_over_https_with_hsts_and_a_loose_key_refused(tmp_path):
    cert, key = self_signed(tmp_path, days=365)
    cfg_path = config_with_tls(tmp_path, cert, key)
    data = tmp_path / "var"
    os.chmod(key, 0o640)
    r = subprocess.run([sys.executable, "-m", "tanjian", "--config", str(cfg_path), "--data-dir", str(data), "serve",
                        "--port", str(free_port())], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().endswith(f"{key}: dashboards.tls_key is accessible by group or others (mode 0640); "
                                     f"run `chmod 600 {key}`")
    assert "Traceback" not in r.stderr
    os.chmod(key, 0o600)
    port = free_port()
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "tanjian", "--config", str(cfg_path), "--data-dir", str(data),
                             "serve", "--port", str(port)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            try:
                r = requests.get(f"https://127.0.0.1:{port}/health", verify=str(cert), timeout=3)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    pytest.fail((tmp_path / "server.log").read_text()[-3000:])
                time.sleep(0.3)
        assert r.status_code == 200 and r.json()["status"] == "ok"
        assert r.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        with pytest.raises(requests.ConnectionError):  # plain HTTP on the same port is not served
            requests.get(f"http://127.0.0.1:{port}/health", timeout=5)
    finally:
        stop(proc, 15)
        log.close()
