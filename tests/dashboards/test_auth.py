"""Logins and role checks on a real Panel server (``python -m tanjian serve`` in a subprocess), over HTTP.

Every route of :data:`dashboards.app.PAGES` and ``/`` is requested by every role; what the server answers
(200 or 403) must be what ``roles.yaml`` allows. CSRF tokens, session fixation, logout and a role change
ending a session are tried with real requests.
"""

from __future__ import annotations

import json
import re
import shutil
import time

import pytest
import requests

from dashboards.app import PAGES
from tests.conftest import ARTIFACTS
from tests.dashboards.test_dashboards import dashboard_server
from workspace.accounts import Accounts, may, policy, route_permission
from workspace.config import EXAMPLE, load_config

PW = "a long enough password"
ROUTES = ["/", *(f"/{slug}" for slug in PAGES)]
WRONG = "not the right one"


def test_every_page_has_a_permission():
    """A new page without a line in roles.yaml's routes fails here (and would be refused to everyone)."""
    for route in ROUTES:
        assert route_permission(route) in policy()["permissions"], route


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("auth")
    cfg_path = base / "tanjian.yaml"
    # 127.0.0.5 plays a reverse proxy: its X-Forwarded-For names the client (the per-address login limit)
    cfg_path.write_text(EXAMPLE.read_text("utf-8").replace("\ndashboards:\n", "\ndashboards:\n"
                                                           "  trusted_proxies: [127.0.0.5/32]\n", 1), "utf-8")
    cfg = load_config(cfg_path, data_dir=base / "var")
    acc = Accounts(cfg.paths.data_dir)
    for role in policy()["roles"]:
        acc.add(role.replace("_", "-"), role, PW, by="test-admin", reason="test")
    with dashboard_server({"cfg_path": cfg_path, "cfg": cfg}) as url:
        yield {"url": url, "cfg": cfg, "accounts": acc, "log": base / "server.log"}


def login(url: str, name: str, password: str = PW, session: requests.Session | None = None,
          ok: bool = True) -> requests.Session:
    """Log in through the form (its ``_xsrf`` token included); ``ok``: the login must succeed."""
    s = session or requests.Session()
    r = s.get(f"{url}/login", timeout=30)
    assert r.status_code == 200
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', r.text).group(1)
    r = s.post(f"{url}/login", data={"username": name, "password": password, "_xsrf": xsrf}, timeout=30,
               allow_redirects=False)
    if ok:
        assert r.status_code == 303 and "error" not in r.headers["Location"], (name, r.headers.get("Location"))
    return s


def test_routes_by_role(server):
    url = server["url"]
    table = {}
    for role in policy()["roles"]:
        s = login(url, role.replace("_", "-"))
        assert s.cookies.get("tanjian_session"), f"{role}: no session cookie after the login"
        for route in ROUTES:
            r = s.get(url + route, timeout=60, allow_redirects=False)
            want = 200 if may(role, route_permission(route)) else 403
            table[(role, route)] = r.status_code
            assert r.status_code == want, f"{role} {route}: {r.status_code}, expected {want}"
    # The sentences, as the server answered:
    assert [r for r in ROUTES if table[("meter_reader", r)] == 200] == ["/readings"]
    for outsider in ("verifier", "association", "regulator"):
        assert table[(outsider, "/bigscreen")] == 403 and table[(outsider, "/verify")] == 200
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    lines = ["| role | " + " | ".join(ROUTES) + " |", "|---|" + "---|" * len(ROUTES)]
    for role in policy()["roles"]:
        lines.append(f"| {role} | " + " | ".join("allowed" if table[(role, r)] == 200 else "403"
                                                   for r in ROUTES) + " |")
    (ARTIFACTS / "routes-by-role.md").write_text("\n".join(lines) + "\n")


def test_anonymous_is_sent_to_the_login_and_health_is_open(server):
    url = server["url"]
    for route in ROUTES:
        r = requests.get(url + route, timeout=30, allow_redirects=False)
        assert r.status_code in (302, 303) and "login" in r.headers["Location"], route
    r = requests.get(f"{url}/health", timeout=30)
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_forged_or_planted_cookies_are_not_a_session(server):
    url = server["url"]
    planted = {"user": "analyst", "tanjian_session": "analyst:1:planted"}  # unsigned: worthless
    s = requests.Session()
    s.cookies.update(planted)
    assert s.get(f"{url}/bigscreen", timeout=30, allow_redirects=False).status_code in (302, 303)
    victim = requests.Session()
    victim.cookies.update(planted)
    time.sleep(1.1)  # past min_interval_s = 1 s since this account's last login
    login(url, "analyst", session=victim)  # session fixation: the victim logs in with the planted cookies ...
    issued = [c.value for c in victim.cookies if c.name == "tanjian_session" and "planted" not in c.value]
    assert len(issued) == 1  # ... and gets a fresh id from the server
    attacker = requests.Session()
    attacker.cookies.update(planted)  # ... which the attacker does not know: the planted id is still nothing
    assert attacker.get(f"{url}/bigscreen", timeout=30, allow_redirects=False).status_code in (302, 303)
    time.sleep(1.1)
    other = login(url, "analyst")
    again = [c.value for c in other.cookies if c.name == "tanjian_session"]
    assert again and again[0] != issued[0]  # a fresh id at every login


def test_csrf_token_required_on_every_post(server):
    url = server["url"]
    r = requests.post(f"{url}/login", data={"username": "association", "password": PW}, timeout=30,
                      allow_redirects=False)
    assert r.status_code == 403  # no _xsrf: refused before the password is looked at
    time.sleep(1.1)
    s = login(url, "association")
    r = s.post(f"{url}/logout", timeout=30, allow_redirects=False)
    assert r.status_code == 403
    assert s.get(f"{url}/verify", timeout=60, allow_redirects=False).status_code == 200  # still logged in


def test_logout_and_role_change_end_the_session(server):
    url, acc = server["url"], server["accounts"]
    time.sleep(1.1)
    s = login(url, "energy-manager")
    assert s.get(f"{url}/verify", timeout=60, allow_redirects=False).status_code == 200
    r = s.get(f"{url}/logout", timeout=30)
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', r.text).group(1)
    assert s.post(f"{url}/logout", data={"_xsrf": xsrf}, timeout=30, allow_redirects=False).status_code == 303
    assert s.get(f"{url}/verify", timeout=30, allow_redirects=False).status_code in (302, 303)

    time.sleep(1.1)
    s = login(url, "verifier")
    old = dict(s.cookies)
    assert s.get(f"{url}/verify", timeout=60, allow_redirects=False).status_code == 200
    acc.set_role("verifier", "meter_reader", by="test-admin", reason="test: a role change ends the session")
    r = s.get(f"{url}/verify", timeout=30, allow_redirects=False)
    assert r.status_code in (302, 303), "a cookie issued before the role change still works"
    acc.set_role("verifier", "verifier", by="test-admin", reason="test: back")
    s = requests.Session()
    s.cookies.update(old)
    assert s.get(f"{url}/verify", timeout=30, allow_redirects=False).status_code in (302, 303)


def test_wrong_passwords_lock_the_account(server):
    url = server["url"]
    s = requests.Session()
    for i in range(5):
        time.sleep(1.1)  # past min_interval_s = 1 s, so each attempt is checked
        login(url, "regulator", "not the password", session=s, ok=False)
    time.sleep(1.1)
    r = s.get(f"{url}/login", timeout=30)
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', r.text).group(1)
    r = s.post(f"{url}/login", data={"username": "regulator", "password": PW, "_xsrf": xsrf}, timeout=30)
    assert "account locked after 5 failed logins" in r.text
    assert s.get(f"{url}/verify", timeout=30, allow_redirects=False).status_code in (302, 303)
    from workspace import audit

    actions = [e["action"] for _, e in audit.entries(server["cfg"].paths.data_dir) if e["user"] == "regulator"]
    assert actions[-2:] == ["locked_out", "login_failed"]
    json.dumps(actions)


def test_in_the_browser_a_meter_reader_gets_the_readings_page_only(server, browser):
    """Chromium logs in through the form: the meter reader lands on /readings with the account as the reader;
    the big screen answers 403; after the logout the readings page asks for the login again."""
    url = server["url"]
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = ctx.new_page()
    try:
        time.sleep(1.1)  # past min_interval_s since this account's last login
        page.goto(f"{url}/readings", wait_until="networkidle")
        assert "/login" in page.url
        page.fill("input[name=username]", "meter-reader")
        page.fill("input[name=password]", PW)
        page.click("button[type=submit]")
        page.wait_for_url(f"{url}/readings*")
        page.wait_for_selector("text=抄表人", timeout=60_000)  # Chinese, the default
        reader = page.locator("input[placeholder='姓名']")
        assert reader.input_value() == "meter-reader" and reader.is_disabled()
        r = page.goto(f"{url}/bigscreen")
        assert r.status == 403
        page.goto(f"{url}/logout")
        page.click("button[type=submit]")
        page.wait_for_url(f"{url}/login*")
        page.goto(f"{url}/readings")
        assert "/login" in page.url
    finally:
        ctx.close()


def test_a_session_of_a_forbidden_page_by_another_door_holds_only_the_refusal(server, browser):
    """Panel's autoload.js door opens a session of /bigscreen without the route check (the document arrives over
    the websocket): in a meter reader's browser, the guarded page function sends only the refusal."""
    url = server["url"]
    ctx = browser.new_context()
    page = ctx.new_page()
    try:
        time.sleep(1.1)
        page.goto(f"{url}/login")
        page.fill("input[name=username]", "meter-reader")
        page.fill("input[name=password]", PW)
        page.click("button[type=submit]")
        page.wait_for_url(f"{url}/readings*")
        page.wait_for_selector("text=抄表人", timeout=60_000)  # Chinese, the default
        page.evaluate("""(base) => {
            const d = document.createElement('div'); d.id = 'door'; document.body.appendChild(d);
            const s = document.createElement('script');
            s.src = base + '/bigscreen/autoload.js?bokeh-autoload-element=door&bokeh-app-path=/bigscreen'
                  + '&bokeh-absolute-url=' + encodeURIComponent(base + '/bigscreen');
            s.id = 'door-script'; document.body.appendChild(s); }""", url)
        # the session was opened (autoload.js, then its websocket) and the page function refused it
        deadline = time.monotonic() + 60
        while "refused a session of /bigscreen to meter-reader" not in server["log"].read_text():
            assert time.monotonic() < deadline, server["log"].read_text()[-3000:]
            time.sleep(0.5)
        page.wait_for_timeout(2000)
        html = page.content() + page.evaluate(
            "Array.from(document.querySelectorAll('*')).filter(e => e.shadowRoot)"
            ".map(e => e.shadowRoot.innerHTML).join(' ')")
        assert "WS-CW" not in html and "CO₂e" not in html  # nothing of the big screen reached the browser
    finally:
        ctx.close()


def from_address(ip: str) -> requests.Session:
    """A session whose connections leave from ``ip`` (any 127.0.0.0/8 address is this machine's loopback)."""
    from requests.adapters import HTTPAdapter

    class Bound(HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):
            kwargs["source_address"] = (ip, 0)
            super().init_poolmanager(*args, **kwargs)

    s = requests.Session()
    s.mount("http://", Bound())
    return s


def test_many_accounts_from_one_address_get_429_and_another_address_does_not(server):
    """roles.yaml: 20 failed logins from one address within 600 s, whatever the names, lock the address for
    900 s (429 + Retry-After); the socket's address counts, X-Forwarded-For only from the trusted proxy."""
    url, data_dir = server["url"], server["cfg"].paths.data_dir

    def attempt(s, name, given=None, xff=None):
        r = s.get(f"{url}/login", timeout=30)
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', r.text).group(1)
        return s.post(f"{url}/login", data={"username": name, "password": given or WRONG, "_xsrf": xsrf},
                      timeout=30, allow_redirects=False, headers={"X-Forwarded-For": xff} if xff else {})

    spray = from_address("127.0.0.2")
    for i in range(20):  # 20 different names from one address (each account rule sees one failure at most)
        r = attempt(spray, f"spray-{i}", xff="10.9.9.9")  # the header of an untrusted peer is ignored
        assert r.status_code == 303 and "wrong+name+or+password" in r.headers["Location"], (i, r.status_code)
    r = attempt(spray, "association", PW)  # the right password, from the locked address: not even looked at
    assert r.status_code == 429 and 895 <= int(r.headers["Retry-After"]) <= 900
    assert "too many failed logins from 127.0.0.2" in r.text
    time.sleep(1.1)
    r = attempt(from_address("127.0.0.3"), "association", PW)  # another address: unaffected
    assert r.status_code == 303 and "error" not in r.headers["Location"]

    proxy = from_address("127.0.0.5")  # the trusted proxy: its clients are told apart by X-Forwarded-For
    for i in range(20):
        assert attempt(proxy, f"spray-{i}", xff="198.51.100.7, 10.1.1.1").status_code == 303
    assert attempt(proxy, "spray-x", xff="198.51.100.7, 10.1.1.1").status_code == 429  # 10.1.1.1 locked
    assert attempt(proxy, "spray-x", xff="10.1.1.2").status_code == 303  # the proxy's other client is not
    assert attempt(from_address("127.0.0.6"), "spray-x", xff="10.1.1.1").status_code == 303  # untrusted peer
    from workspace import audit

    locks = [e["what"] for _, e in audit.entries(data_dir) if e["action"] == "source_locked_out"]
    assert locks == ["address 127.0.0.2", "address 10.1.1.1"]


def test_a_hand_reading_is_checked_at_the_action_not_only_at_the_route(tmp_path):
    """With accounts, the reading form refuses to queue a reading when the session has no account holding
    reading.submit (here: no logged-in user at all), before anything reaches the inbox."""
    from dashboards.readings import ReadingForm
    from workspace import accounts as A
    from workspace.config import EXAMPLE, load_config

    cfg = load_config(EXAMPLE, data_dir=tmp_path / "var")
    A.Accounts(cfg.paths.data_dir).add("reader1", "meter_reader", "a long enough passphrase 1", by="test")
    form = ReadingForm(cfg, "M-TR-1", lang="en")
    assert form.submit() is None
    assert form.failure == "this session's account may not submit hand readings"
    assert not cfg.paths.inbox.exists() or not list(cfg.paths.inbox.glob("*.json"))
