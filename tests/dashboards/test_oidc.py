"""OpenID Connect login against a real provider we did not write: panva's node-oidc-provider (npm
``oidc-provider``, OpenID Certified), run by ``tests/oidc_provider.mjs`` with two clients and four users, and a
real ``python -m tanjian serve`` whose YAML has a ``dashboards.oidc`` block.

The browser is ``requests``: it follows the redirects and submits the provider's sign-in and consent forms.
What is checked: a login through the provider gives the local account's role (its pages 200, the others 403)
and an audit entry with the method; a forged ``state``, a replayed code, a code issued to another client, an
ID token for another audience or with another nonce or a broken signature, an identity without an account and
a disabled account are refused with one clear line; the provider down leaves the password login working and
the login page saying the provider is unreachable (last test: it stops the provider).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import time
from contextlib import contextmanager
from urllib.parse import parse_qs, urlencode, urljoin, urlparse, urlunparse

import pytest
import requests

from dashboards.app import PAGES
from tests.conftest import ROOT, free_port
from tests.dashboards.test_dashboards import dashboard_server
from workspace import audit
from workspace.accounts import Accounts, may, route_permission
from workspace.config import EXAMPLE, load_config

PW = "a long enough password"
IDP_PW = "the provider's own password"
CLIENT_CRED = "tanjian-client-credential-for-the-tests"  # the provider and the 0600 file
ROUTES = ["/", *(f"/{slug}" for slug in PAGES)]

pytestmark = pytest.mark.skipif(not (ROOT / "node_modules" / "oidc-provider").exists() or not shutil.which("node"),
                                reason="node_modules/oidc-provider missing: run `make test`")


@contextmanager
def provider(conf: dict, folder):
    """``node tests/oidc_provider.mjs`` with ``conf``; yields the process once it prints ``ready``."""
    path = folder / "idp.json"
    path.write_text(json.dumps(conf))
    log = open(folder / "idp.log", "wb")
    proc = subprocess.Popen(["node", str(ROOT / "tests" / "oidc_provider.mjs"), str(path)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=log)
    try:
        line = proc.stdout.readline().decode()
        assert line.startswith("ready"), (line, (folder / "idp.log").read_text())
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    base = tmp_path_factory.mktemp("oidc")
    idp_port = free_port()
    issuer = f"http://localhost:{idp_port}"  # another site than tanjian's 127.0.0.1: the redirects are cross-site
    secret = base / "oidc-client.secret"
    secret.write_text(CLIENT_CRED + "\n")
    os.chmod(secret, 0o600)
    text = EXAMPLE.read_text("utf-8").replace("\ndashboards:\n", f"""
dashboards:
  oidc:
    name: Plant SSO
    issuer: {issuer}
    client_id: tanjian
    client_secret_file: oidc-client.secret
    scopes: [openid, email]
    match: sub
    allow_http: true
""", 1)
    cfg_path = base / "tanjian.yaml"
    cfg_path.write_text(text, "utf-8")
    cfg = load_config(cfg_path, data_dir=base / "var")
    acc = Accounts(cfg.paths.data_dir)
    acc.add("admin", "administrator", PW, by="test-admin", reason="test")
    acc.add("ana", "analyst", None, oidc="ana-sub", by="test-admin", reason="test")
    acc.add("bo", "meter_reader", None, oidc="bo-sub", by="test-admin", reason="test")
    acc.add("cy", "energy_manager", None, oidc="cy-sub", by="test-admin", reason="test")
    with dashboard_server({"cfg_path": cfg_path, "cfg": cfg}) as url:
        callback = f"{url}/login/oidc/callback"
        conf = {"port": idp_port, "issuer": issuer,
                "clients": [{"client_id": "tanjian", "client_secret": CLIENT_CRED, "redirect_uris": [callback]},
                            {"client_id": "other-app", "client_secret": "other-app-secret-0123456789",
                             "redirect_uris": [callback]}],
                "users": {s: {"password": IDP_PW, "email": f"{s}@plant18.example", "email_verified": True}
                          for s in ("ana-sub", "bo-sub", "cy-sub", "dee-sub")}}
        with provider(conf, base) as proc:
            yield {"url": url, "issuer": issuer, "cfg": cfg, "accounts": acc, "idp": proc, "callback": callback,
                   "log": base / "server.log"}


def at_provider(s: requests.Session, r: requests.Response, user: str, stop_at: str) -> str:
    """Sign in as ``user`` at the provider and consent (the provider's forms), starting from response ``r``;
    returns the URL the provider sends the browser back to (not requested)."""
    for _ in range(12):
        if r.is_redirect:
            nxt = urljoin(r.url, r.headers["Location"])
            if nxt.startswith(stop_at):
                return nxt
            r = s.get(nxt, allow_redirects=False, timeout=30)
            continue
        assert r.status_code == 200, (r.status_code, r.text[:500])
        action = urljoin(r.url, re.search(r'action="([^"]+)"', r.text).group(1))
        data = {"login": user, "password": IDP_PW} if 'name="login"' in r.text else {}
        r = s.post(action, data=data, allow_redirects=False, timeout=30)
    raise AssertionError("the provider never sent the browser back")


def start(env, s: requests.Session) -> requests.Response:
    """The login page's "Sign in with Plant SSO" link, followed one step (tanjian's redirect to the provider)."""
    r = s.get(f"{env['url']}/login?lang=en", timeout=30)
    assert "Sign in with Plant SSO" in r.text
    href = re.search(r"id='oidc-login' href='([^']+)'", r.text).group(1)
    r = s.get(env["url"] + href, allow_redirects=False, timeout=30)
    assert r.status_code == 303 and r.headers["Location"].startswith(env["issuer"] + "/auth?")
    return r


def finish(env, s, callback_url: str) -> requests.Response:
    return s.get(callback_url, allow_redirects=False, timeout=60)


def refused_with(r: requests.Response) -> str:
    assert r.status_code == 303 and r.headers["Location"].startswith("/login?"), (r.status_code, r.text[:300])
    return parse_qs(urlparse(r.headers["Location"]).query)["error"][0]


def oidc_login(env, user: str) -> tuple[requests.Session, requests.Response]:
    s = requests.Session()
    cb = at_provider(s, start(env, s), user, env["callback"])
    return s, finish(env, s, cb)


def test_login_through_the_provider_gives_the_local_role(env):
    url = env["url"]
    for user, name, role in (("ana-sub", "ana", "analyst"), ("bo-sub", "bo", "meter_reader")):
        s, r = oidc_login(env, user)
        assert r.status_code == 200 and f"Signed in as {name}" in r.text, r.text[:500]
        target = re.search(r"url=([^']+)'", r.text).group(1)
        assert target == ("/" if role == "analyst" else "/readings")  # the role's landing page
        assert s.cookies.get("tanjian_session"), "no session cookie after the login"
        for route in ROUTES:
            got = s.get(url + route, timeout=60, allow_redirects=False).status_code
            assert got == (200 if may(role, route_permission(route)) else 403), (role, route, got)
    entries = [e for _, e in audit.entries(env["cfg"].paths.data_dir) if e["action"] == "login"]
    assert [e["user"] for e in entries[-2:]] == ["ana", "bo"]
    assert entries[-1]["what"] == f"oidc {env['issuer']} from 127.0.0.1"  # the method is recorded


def test_forged_state_is_refused(env):
    s = requests.Session()
    cb = at_provider(s, start(env, s), "ana-sub", env["callback"])
    parts = urlparse(cb)
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    q["state"] = "forged-" + q["state"][:8]
    msg = refused_with(finish(env, s, urlunparse(parts._replace(query=urlencode(q)))))
    assert msg.startswith("the answer's state does not match the login started in this browser")
    assert s.get(f"{env['url']}/ems", allow_redirects=False, timeout=30).status_code in (302, 303)
    # and the same answer again: the flow was used up by the refusal
    msg = refused_with(finish(env, s, cb))
    assert "was not started in this browser, was used already" in msg


def test_replayed_code_is_refused_by_the_provider(env):
    s = requests.Session()
    cb = at_provider(s, start(env, s), "ana-sub", env["callback"])
    assert finish(env, s, cb).status_code == 200  # the code's one good use
    code = parse_qs(urlparse(cb).query)["code"][0]
    thief = requests.Session()  # a fresh login in another browser, fed the used code
    state = parse_qs(urlparse(start(env, thief).headers["Location"]).query)["state"][0]
    msg = refused_with(finish(env, thief, f"{env['callback']}?{urlencode({'code': code, 'state': state})}"))
    assert msg.startswith("Plant SSO refused the authorization code: invalid_grant"), msg
    assert thief.get(f"{env['url']}/ems", allow_redirects=False, timeout=30).status_code in (302, 303)


def _pkce():
    verifier = secrets.token_urlsafe(48)
    return verifier, base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def test_a_code_or_token_for_another_client_is_refused(env):
    """Code injection: tanjian's own flow, answered with a code the provider issued to ``other-app``."""
    s = requests.Session()
    state = parse_qs(urlparse(start(env, s).headers["Location"]).query)["state"][0]
    verifier, challenge = _pkce()
    auth = f"{env['issuer']}/auth?" + urlencode({
        "response_type": "code", "client_id": "other-app", "redirect_uri": env["callback"], "scope": "openid",
        "state": state, "nonce": "n-0123456789", "code_challenge": challenge, "code_challenge_method": "S256"})
    cb = at_provider(s, s.get(auth, allow_redirects=False, timeout=30), "ana-sub", env["callback"])
    msg = refused_with(finish(env, s, cb))
    assert msg.startswith("Plant SSO refused the authorization code: invalid_grant"), msg

    # an ID token the provider really issued to other-app, checked by tanjian's client: refused for its aud
    from dashboards.oidc import Client, LoginFailed

    s2 = requests.Session()
    verifier, challenge = _pkce()
    auth = f"{env['issuer']}/auth?" + urlencode({
        "response_type": "code", "client_id": "other-app", "redirect_uri": env["callback"], "scope": "openid",
        "state": "s-0123456789", "nonce": "n-0123456789", "code_challenge": challenge,
        "code_challenge_method": "S256"})
    cb = at_provider(s2, s2.get(auth, allow_redirects=False, timeout=30), "ana-sub", env["callback"])
    tok = requests.post(f"{env['issuer']}/token", auth=("other-app", "other-app-secret-0123456789"), timeout=30,
                        data={"grant_type": "authorization_code", "code": parse_qs(urlparse(cb).query)["code"][0],
                              "redirect_uri": env["callback"], "code_verifier": verifier}).json()
    id_token = tok["id_token"]
    client = Client(env["cfg"].dashboards.oidc)

    async def check(token, nonce):
        meta = await client.discover()
        return await client.verify(meta, token, nonce)

    with pytest.raises(LoginFailed, match=r"^the ID token is for another client, not tanjian \(aud\)$"):
        asyncio.run(check(id_token, "n-0123456789"))
    # the same token checked as if other-app were us: it is good, so the refusal above was the audience's
    client.conf = client.conf.model_copy(update={"client_id": "other-app"})
    assert asyncio.run(check(id_token, "n-0123456789"))["sub"] == "ana-sub"
    with pytest.raises(LoginFailed, match="nonce is not this login's"):
        asyncio.run(check(id_token, "another-login's-nonce"))
    head, body, sig = id_token.split(".")
    forged = base64.urlsafe_b64decode(body + "==").replace(b'"ana-sub"', b'"cy-sub"')
    forged = f"{head}.{base64.urlsafe_b64encode(forged).rstrip(b'=').decode()}.{sig}"
    with pytest.raises(LoginFailed, match="signature does not verify"):
        asyncio.run(check(forged, "n-0123456789"))


def test_disabled_or_unlinked_accounts_are_refused_though_the_provider_says_yes(env):
    acc = env["accounts"]
    acc.set_disabled("cy", True, by="test-admin", reason="test: left the company")
    s, r = oidc_login(env, "cy-sub")
    assert refused_with(r) == "the account cy (identity cy-sub) is disabled: the provider's yes is not enough"
    assert s.get(f"{env['url']}/ems", allow_redirects=False, timeout=30).status_code in (302, 303)
    s, r = oidc_login(env, "dee-sub")
    assert refused_with(r).startswith("no tanjian account is linked to the identity dee-sub")
    tail = [(e["user"], e["action"], e["reason"]) for _, e in audit.entries(env["cfg"].paths.data_dir)][-2:]
    assert tail == [("cy", "login_failed", "disabled"), ("(oidc)", "login_failed", "unknown")]


def test_in_the_browser_the_provider_login_lands_on_the_role_page(env, browser):
    """Chromium: the button, the provider's forms, back to tanjian: the SameSite=Strict session cookies set by the
    callback (a cross-site navigation: the provider is at localhost, tanjian at 127.0.0.1) must work on the next
    page, which the callback page opens itself (with a plain redirect there this test times out on /login)."""
    from tests.conftest import ARTIFACTS

    url = env["url"]
    ctx = browser.new_context()
    page = ctx.new_page()
    try:
        page.goto(f"{url}/login?next=/verify")
        page.click("#oidc-login")
        page.wait_for_url(f"{env['issuer']}/interaction/*")
        page.fill("input[name=login]", "ana-sub")
        page.fill("input[name=password]", IDP_PW)
        page.click("button[type=submit]")
        page.wait_for_selector("text=Continue")
        page.click("button[type=submit]")
        page.wait_for_url(f"{url}/verify*", timeout=60_000)
        assert page.evaluate("document.cookie").find("tanjian_session") == -1  # HttpOnly: not for scripts
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "oidc-login-landed.png"))
        r = page.goto(f"{url}/bigscreen")
        assert r.status == 200  # an analyst's page
        r = page.goto(f"{url}/data")
        assert r.status == 403  # not an analyst's
        page.goto(f"{url}/login")
        page.screenshot(path=str(ARTIFACTS / "oidc-login-page.png"))
    finally:
        ctx.close()


def test_provider_down_leaves_the_password_login(env):
    """Last: stops the provider."""
    url = env["url"]
    env["idp"].terminate()
    env["idp"].wait(timeout=15)
    s = requests.Session()
    r = s.get(f"{url}/login?lang=en", timeout=30)
    assert r.status_code == 200 and "Traceback" not in r.text
    assert "Sign in with Plant SSO: the provider is unreachable now" in r.text
    zh = requests.get(f"{url}/login", timeout=30).text  # Chinese, the default (no language kept from before)
    assert "通过 Plant SSO 单点登录：身份提供方暂不可用" in zh and "unreachable" not in zh
    assert "id='oidc-login'" not in r.text
    msg = refused_with(s.get(f"{url}/login/oidc", allow_redirects=False, timeout=30))
    assert msg.startswith("Plant SSO is unreachable (")
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', r.text).group(1)
    r = s.post(f"{url}/login", data={"username": "admin", "password": PW, "_xsrf": xsrf}, timeout=30,
               allow_redirects=False)
    assert r.status_code == 303 and "error" not in r.headers["Location"]
    assert s.get(f"{url}/ems", timeout=60, allow_redirects=False).status_code == 200
    log = env["log"].read_text()  # (pages of this empty workspace may log their own tracebacks: not ours)
    assert "dashboards/oidc.py" not in log and "dashboards/auth.py" not in log
