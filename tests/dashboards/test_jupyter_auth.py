"""JupyterLab behind the dashboards' accounts: a real ``tanjian serve`` and a real ``tanjian lab``, over HTTP.

The session cookies come from the dashboards' login form (as in ``test_auth.py``); the cookie jar sends them
to JupyterLab's port of the same host, as a browser does (cookies are per host, not per port). JupyterLab must
answer its API only to a valid session of a role holding ``jupyter`` (``roles.yaml``: administrator, analyst).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import pytest
import requests
from tornado.web import create_signed_value

from tests.conftest import ROOT, free_port
from tests.dashboards.test_auth import PW, login
from tests.dashboards.test_dashboards import dashboard_server
from workspace.accounts import Accounts, may
from workspace.config import EXAMPLE, load_config
from tanjian.service import stop

pytestmark = pytest.mark.slow

NAMES = {"analyst": "analyst", "meter-reader": "meter_reader", "energy-manager": "energy_manager",
         "analyst-2": "analyst"}


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    base = tmp_path_factory.mktemp("jupyter-auth")
    cfg_path = base / "tanjian.yaml"
    shutil.copy(EXAMPLE, cfg_path)
    cfg = load_config(cfg_path, data_dir=base / "var")
    acc = Accounts(cfg.paths.data_dir)
    for name, role in NAMES.items():
        acc.add(name, role, PW, by="test-admin", reason="test")
    with dashboard_server({"cfg_path": cfg_path, "cfg": cfg}) as dash:
        # JupyterLab reads the dashboards' address from the configuration: this test's server
        text = cfg_path.read_text("utf-8")
        cfg_path.write_text(text.replace("  refresh_s: 5\njupyter:", f"  refresh_s: 5\n  public_url: {dash}\njupyter:"),
                            "utf-8")
        port = free_port()
        log_path = base / "lab.log"
        with open(log_path, "w") as out:
            proc = subprocess.Popen([sys.executable, "-m", "tanjian", "--config", str(cfg_path), "--data-dir",
                                     str(cfg.paths.data_dir), "lab", "--port", str(port)], cwd=ROOT,
                                    stdout=out, stderr=subprocess.STDOUT, text=True)
        lab = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                assert proc.poll() is None, log_path.read_text()[-3000:]
                try:
                    requests.get(f"{lab}/api/status", timeout=2)
                    break
                except requests.ConnectionError:
                    assert time.monotonic() < deadline, "JupyterLab did not answer in 120 s:\n" + \
                        log_path.read_text()[-3000:]
                    time.sleep(0.5)
            yield {"dash": dash, "lab": lab, "port": port, "accounts": acc, "log": log_path}
        finally:
            stop(proc, 20)


@pytest.fixture(scope="module")
def session(servers):
    """One login per account for the module (logins of one account closer than min_interval_s are refused)."""
    made: dict[str, requests.Session] = {}

    def get(name: str) -> requests.Session:
        if name not in made:
            made[name] = login(servers["dash"], name)
        return made[name]
    return get


def test_lab_prints_its_address_behind_the_login(servers):
    first = servers["log"].read_text().splitlines()[0]
    assert f"http://127.0.0.1:{servers['port']}/lab/tree/tour.ipynb" in first and "token=" not in first, first


def test_no_cookie_is_refused_and_sent_to_the_dashboards_login(servers):
    lab, dash = servers["lab"], servers["dash"]
    assert requests.get(f"{lab}/api/contents", timeout=30).status_code == 403
    r = requests.get(f"{lab}/lab", timeout=30, allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next="), r.headers.get("Location")
    r = requests.get(lab + r.headers["Location"], timeout=30, allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"] == f"{dash}/login?next=%2F", r.headers["Location"]
    # a JupyterLab token is no way in either (there is none to guess: the accounts are the only door)
    assert requests.get(f"{lab}/api/contents?token=", timeout=30).status_code == 403


def test_a_meter_readers_session_gets_403(servers, session):
    s = session("meter-reader")
    assert not may("meter_reader", "jupyter")
    for path in ("/api/contents", "/lab", "/api/kernels"):
        r = s.get(servers["lab"] + path, timeout=30, allow_redirects=False)
        assert r.status_code == 403, (path, r.status_code)
    # a manager has no JupyterLab either (issue 18: "an analyst gets JupyterLab, a manager does not")
    m = session("energy-manager")
    assert m.get(f"{servers['lab']}/api/contents", timeout=30).status_code == 403


def test_an_analysts_session_reads_the_notebooks(servers, session):
    s = session("analyst")
    r = s.get(f"{servers['lab']}/api/contents", timeout=30)
    assert r.status_code == 200
    names = {c["name"] for c in r.json()["content"]}
    assert "tour.ipynb" in names  # the root is the notebooks folder
    me = s.get(f"{servers['lab']}/api/me", timeout=30).json()["identity"]
    assert me["username"] == "analyst"
    assert s.get(f"{servers['lab']}/lab", timeout=60, allow_redirects=False).status_code == 200
    # jupyter_server's own CSRF check stays on: a POST without its _xsrf token is refused
    r = s.post(f"{servers['lab']}/api/sessions", json={"path": "x.ipynb", "type": "notebook"}, timeout=30)
    assert r.status_code == 403


def test_forged_cookies_are_refused(servers, session):
    lab = servers["lab"]
    unsigned = requests.Session()
    unsigned.cookies.update({"user": "analyst", "tanjian_session": "analyst:1:planted"})
    assert unsigned.get(f"{lab}/api/contents", timeout=30).status_code == 403
    # well formed and signed, but with another secret than the workspace's cookie.secret
    forged = requests.Session()
    for name, value in (("user", "analyst"), ("tanjian_session", "analyst:1:" + "0" * 32)):
        forged.cookies.set(name, create_signed_value("not the workspace's secret", name, value).decode())
    assert forged.get(f"{lab}/api/contents", timeout=30).status_code == 403
    # a real meter reader's cookies with the user cookie swapped for an analyst's: the names disagree
    reader, analyst = session("meter-reader"), session("analyst")
    mixed = requests.Session()
    mixed.cookies.set("user", analyst.cookies.get("user"))
    mixed.cookies.set("tanjian_session", reader.cookies.get("tanjian_session"))
    assert mixed.get(f"{lab}/api/contents", timeout=30).status_code == 403


def test_a_disabled_account_is_refused(servers):
    s = login(servers["dash"], "analyst-2")
    assert s.get(f"{servers['lab']}/api/contents", timeout=30).status_code == 200
    servers["accounts"].set_disabled("analyst-2", True, by="test-admin", reason="left the plant")
    try:
        assert s.get(f"{servers['lab']}/api/contents", timeout=30).status_code == 403
        r = s.get(f"{servers['lab']}/lab", timeout=30, allow_redirects=False)
        assert r.status_code == 302 and "login" in r.headers["Location"]
    finally:
        servers["accounts"].set_disabled("analyst-2", False, by="test-admin", reason="test done")
    # re-enabled: the old cookie stays dead (the disable moved the session epoch); only a new login opens it
    assert s.get(f"{servers['lab']}/api/contents", timeout=30).status_code == 403
    time.sleep(1.1)
    assert login(servers["dash"], "analyst-2").get(f"{servers['lab']}/api/contents", timeout=30).status_code == 200


def test_lab_address_is_the_dashboards_host_with_jupyters_port():
    from dashboards.jupyter_identity import lab_public_url

    # same scheme and host name as the dashboards (their cookies go along), JupyterLab's port, /lab
    assert lab_public_url("http://plant-host:5006", 8888) == "http://plant-host:8888/lab"
    assert lab_public_url("https://ems.plant18.example.cn", 8443) == "https://ems.plant18.example.cn:8443/lab"
    assert lab_public_url("http://[fd00::5]:5006", 8888) == "http://[fd00::5]:8888/lab"
