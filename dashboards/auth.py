"""Logins and role checks of the dashboards' server, checked on the server for every page and session.

The accounts and the role table are :mod:`workspace.accounts`'s. When the workspace has accounts (or
``dashboards.require_login`` is set), :func:`server_options` gives :func:`dashboards.app.serve` what
``pn.serve`` needs:

- an ``auth_provider`` (Bokeh's hook, as Panel's own providers are): ``/login`` (a form, POST), ``/logout``
  (a form, POST), and ``get_user``, which accepts a request only when its two signed cookies name an account
  that is enabled and whose ``session_epoch`` is the one the cookie was issued for (a password or role
  change, or a disable, ends every session);
- Panel's ``authorize_callback``: a page's route needs its permission (``routes:`` of ``roles.yaml``), else
  **403**; each page function is wrapped by :func:`guarded` too, so a session opened over the websocket of
  another page's route (with a token of a page the user may see) still gets nothing but a refusal;
- cookies: signed with a secret kept in a 0600 file, ``HttpOnly``, ``SameSite=Strict``, ``Secure`` under
  HTTPS; a login issues a fresh random session id (no session fixation: nothing the browser brought
  survives a login); Tornado's ``xsrf_cookies`` make every POST carry the ``_xsrf`` token (CSRF); actions
  inside a page travel over its websocket, whose ``Origin`` the server checks and whose session token is
  signed (``sign_sessions``);
- ``/`` lists only the pages the user may open; ``/health`` says the server is up (no login: for systemd and
  load balancers, nothing in it but the status and version);
- under HTTPS, ``Strict-Transport-Security`` on every response;
- failed logins are counted per source address across accounts (:mod:`workspace.login_limit`): a locked-out
  address gets **429** with ``Retry-After``; the address is the socket's peer, or the ``X-Forwarded-For``
  client when the peer is one of ``dashboards.trusted_proxies`` (:func:`client_address`);
- with ``dashboards.oidc``, the login page offers "Sign in with <name>" (:mod:`dashboards.oidc`), whose
  login ends in the same session cookies (:func:`start_session`).
"""

from __future__ import annotations

import html
import ipaddress
import json
import logging
import os
import secrets
import time
from pathlib import Path

import tornado.web
from bokeh.server.auth_provider import AuthProvider

from workspace import accounts as A
from workspace import audit
from workspace.secrets import secret_file

log = logging.getLogger(__name__)

USER_COOKIE = "user"  # the name Panel's ``pn.state.user`` reads
LANG_COOKIE = "tanjian_lang"  # the login pages' language, kept for the OpenID callback (no secret in it)
SESSION_COOKIE = "tanjian_session"
#: RFC 6797: one year, subdomains included
HSTS = "max-age=31536000; includeSubDomains"


class Gate:
    """The accounts of one workspace as the server sees them (re-read when the file changes)."""

    def __init__(self, data_dir: str | os.PathLike, cookie_secret: str, https: bool, trusted_proxies=(),
                 oidc=None):
        self.accounts = A.Accounts(data_dir)
        self.data_dir = Path(data_dir)
        self.cookie_secret = cookie_secret
        self.https = https
        self.trusted_proxies = tuple(ipaddress.ip_network(str(n)) for n in trusted_proxies)
        self.oidc = oidc  # a dashboards.oidc.Client, or None
        self._cache: tuple[tuple[int, int], dict[str, A.Account]] | None = None

    def account(self, name: str) -> A.Account | None:
        try:
            st = self.accounts.path.stat()
            key = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            return None
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, {a.name: a for a in self.accounts.list()})
        return self._cache[1].get(name)

    def from_cookies(self, get_signed) -> A.Account | None:
        """The account the two signed cookies name, when enabled and of the current session epoch.

        ``get_signed(name)`` returns a cookie's verified value (bytes) or None.
        """
        user, session = get_signed(USER_COOKIE), get_signed(SESSION_COOKIE)
        if not user or not session:
            return None
        try:
            name, epoch, _sid = session.decode().split(":", 2)
        except ValueError:
            return None
        a = self.account(user.decode())
        if a is None or a.disabled or a.name != name or str(a.session_epoch) != epoch:
            return None
        return a

    def from_panel_state(self) -> A.Account | None:
        """The account of the current Panel session (its request's cookies)."""
        import panel as pn
        from tornado.web import decode_signed_value

        cookies = pn.state.cookies or {}

        def get(name):
            v = cookies.get(name)
            return None if v is None else decode_signed_value(self.cookie_secret, name, v,
                                                               max_age_days=_session_days())
        return self.from_cookies(get)

    def landing(self, a: A.Account) -> str:
        """Where a login goes without ``next``: ``/`` when the role may see the list, else its first page."""
        if A.may(a.role, "page.index"):
            return "/"
        for route, perm in A.policy()["routes"].items():
            if A.may(a.role, perm):
                return route
        return "/logout"


def _session_days() -> float:
    return float(A.policy()["login"]["session_days"])


def _safe_next(value: str | None) -> str | None:
    """A local path to go back to after the login (never another site: ``//evil``, ``https://…``, ``\\``)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value or "\n" in value:
        return None
    return value


def client_address(request, trusted: tuple = ()) -> str:
    """The client's address: the socket's peer, or, when the peer is a trusted proxy, the right-most address of
    ``X-Forwarded-For`` that is not a trusted proxy (the left part of the header is the client's to write)."""
    peer = getattr(request.connection.context, "_orig_remote_ip", None) or request.remote_ip or ""

    def is_trusted(addr: str) -> bool:
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            return False
        return any(ip in n for n in trusted)

    if not trusted or not is_trusted(peer):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.get_list("X-Forwarded-For")).split(",") if h.strip()]
    for hop in reversed(hops):
        if not is_trusted(hop):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a malformed hop: the proxy's own address is all we know
    return peer


def start_session(handler: tornado.web.RequestHandler, gate: Gate, a: A.Account) -> None:
    """Issue the two signed session cookies of account ``a`` (password and OpenID logins alike).

    A fresh session id at every login: a cookie planted before the login is never the session after it."""
    opts = dict(expires_days=_session_days(), httponly=True, samesite="Strict", secure=gate.https, path="/")
    handler.set_signed_cookie(USER_COOKIE, a.name, **opts)
    handler.set_signed_cookie(SESSION_COOKIE, f"{a.name}:{a.session_epoch}:{secrets.token_hex(16)}", **opts)


class _Base(tornado.web.RequestHandler):
    gate: Gate

    def initialize(self, gate: Gate):
        self.gate = gate

    def set_default_headers(self):
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Cache-Control", "no-store")

    def _lang(self) -> str:
        """The page's language: ``?lang=`` of the URL, else the one the login page was shown in, else Chinese
        (as the app shell)."""
        from dashboards import i18n

        return i18n.language(self.get_argument("lang", "") or self.get_cookie(LANG_COOKIE) or "")

    def _(self, text: str) -> str:
        """``text`` in the page's language (:mod:`dashboards.i18n`)."""
        from dashboards import i18n

        return i18n.gettext_for(self._lang())(text)

    def _switch(self, **keep: str) -> str:
        """The link to this page in the other language (``keep``: the URL arguments it keeps)."""
        from urllib.parse import urlencode

        from dashboards import i18n

        other = "en" if self._lang() == "zh" else "zh"
        q = urlencode({"lang": other, **{k: v for k, v in keep.items() if v}})
        return (f"<p style='text-align:right'><a href='{html.escape(self.request.path)}?{html.escape(q)}' "
                f"hreflang='{other}' lang='{other}' data-lang='{other}'>{i18n.LANGUAGES[other]}</a></p>")

    def _page(self, title: str, body: str, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.write(f"<!doctype html><html lang='{self._lang()}'><head><meta charset='utf-8'><meta name='viewport' "
                   f"content='width=device-width'><title>{html.escape(title)}</title></head><body "
                   f"style='font-family:sans-serif;max-width:28em;margin:2em auto'><main><h1>{html.escape(title)}</h1>"
                   f"{body}</main></body></html>")


class LoginHandler(_Base):
    """``GET /login``: the form; ``POST /login``: name and password (and ``_xsrf``)."""

    async def get(self):
        await self._form(self.get_argument("error", ""))

    async def _form(self, err: str, status: int = 200):
        nxt = _safe_next(self.get_argument("next", "")) or ""
        lang, _ = self._lang(), self._
        if self.get_argument("lang", ""):  # the OpenID callback answers in the language the person chose here
            self.set_cookie(LANG_COOKIE, lang, path="/login", samesite="Lax", secure=self.gate.https)
        msg = f"<p style='color:#b00' role='alert'>{html.escape(err)}</p>" if err else ""
        other = ""
        if self.gate.oidc is not None:
            from dashboards import oidc

            other = await oidc.button_html(self.gate.oidc, nxt, lang)
        self._page(_("tanjian · log in"), f"""{self._switch(next=nxt)}{msg}
<form method="post" action="/login">{self.xsrf_form_html()}
<input type="hidden" name="next" value="{html.escape(nxt)}"><input type="hidden" name="lang" value="{lang}">
<p><label>{html.escape(_("User name"))}<br><input name="username" autocomplete="username" required></label></p>
<p><label>{html.escape(_("Password"))}<br><input name="password" type="password" autocomplete="current-password" required></label></p>
<p><button type="submit">{html.escape(_("Log in"))}</button></p></form>{other}""", status=status)

    async def post(self):
        name = self.get_argument("username", "").strip()
        password = self.get_argument("password", "")
        try:
            a = self.gate.accounts.authenticate(name, password,
                                                source=client_address(self.request, self.gate.trusted_proxies))
        except A.LoginRefused as exc:
            from urllib.parse import urlencode

            self.clear_cookie(USER_COOKIE, path="/")
            self.clear_cookie(SESSION_COOKIE, path="/")
            if exc.why == "source":  # RFC 6585 4: 429 Too Many Requests, with when to come back
                self.set_header("Retry-After", str(int(exc.retry_after)))
                await self._form(str(exc), status=429)
                return
            self.redirect("/login?" + urlencode({"error": str(exc), "lang": self._lang(),
                                                 **({"next": n} if (n := _safe_next(self.get_argument("next", "")))
                                                    else {})}), status=303)
            return
        start_session(self, self.gate, a)
        self.redirect(_safe_next(self.get_argument("next", "")) or self.gate.landing(a), status=303)


class LogoutHandler(_Base):
    """``GET /logout``: a button; ``POST /logout`` (with ``_xsrf``): the cookies are cleared."""

    def get(self):
        _ = self._
        self._page(_("tanjian · log out"), f"""{self._switch()}<form method="post" action="/logout">{self.xsrf_form_html()}
<button type="submit">{html.escape(_("Log out"))}</button></form>""")

    def post(self):
        a = self.gate.from_cookies(lambda n: self.get_signed_cookie(n, max_age_days=_session_days()))
        self.clear_cookie(USER_COOKIE, path="/")
        self.clear_cookie(SESSION_COOKIE, path="/")
        if a is not None:
            audit.record(self.gate.data_dir, a.name, "logout", "dashboards")
        self.redirect(f"/login?lang={self._lang()}", status=303)


class IndexHandler(_Base):
    """``/``: the pages this user may open (403 for a role without ``page.index``)."""

    def initialize(self, gate: Gate, pages: dict[str, str]):
        self.gate = gate
        self.pages = pages

    def get(self):
        a = self.gate.from_cookies(lambda n: self.get_signed_cookie(n, max_age_days=_session_days()))
        if a is None:
            self.redirect("/login?next=/")
            return
        if not A.may(a.role, "page.index"):
            self._page("403 Forbidden", f"<p>{html.escape(a.name)} ({a.role}) may not open this page.</p>",
                       status=403)
            return
        links = "".join(f"<li><a href='/{slug}'>{html.escape(title)}</a></li>" for slug, title in self.pages.items()
                        if A.may(a.role, A.route_permission(f"/{slug}") or "users"))
        _ = self._
        self._page(_("tanjian"), f"{self._switch()}<p>{html.escape(a.name)} · {a.role}</p><ul>{links}</ul>"
                                 f"<p><a href='/logout?lang={self._lang()}'>{html.escape(_('Log out'))}</a></p>")


class HealthHandler(tornado.web.RequestHandler):
    """``/health``: ``{"status": "ok", "version": …, "uptime_s": …}`` (no login; nothing else in it)."""

    started = time.monotonic()

    def get(self):
        from workspace import __version__

        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.write(json.dumps({"status": "ok", "version": __version__,
                               "uptime_s": round(time.monotonic() - self.started, 1)}))


class Provider(AuthProvider):
    """Bokeh's authentication hook with the workspace's accounts (see the module docstring)."""

    def __init__(self, gate: Gate):
        self.gate = gate
        super().__init__()

    @property
    def get_user(self):
        def get_user(handler):
            a = self.gate.from_cookies(lambda n: handler.get_signed_cookie(n, max_age_days=_session_days()))
            return None if a is None else a.name
        return get_user

    @property
    def login_url(self):
        return "/login"

    @property
    def login_handler(self):
        gate = self.gate

        class Login(LoginHandler):
            def initialize(self):
                super().initialize(gate)
        return Login

    @property
    def logout_url(self):
        return "/logout"

    @property
    def logout_handler(self):
        gate = self.gate

        class Logout(LogoutHandler):
            def initialize(self):
                super().initialize(gate)
        return Logout


class HSTSTransform(tornado.web.OutputTransform):
    """Adds ``Strict-Transport-Security`` to every response (used only when the server speaks HTTPS)."""

    def transform_first_chunk(self, status_code, headers, chunk, finishing):
        headers["Strict-Transport-Security"] = HSTS
        return status_code, headers, chunk


def guarded(gate: Gate, slug: str, page):
    """``page`` (a function building one session's page) that first checks the session's account may open ``slug``."""
    def build():
        import panel as pn

        a = gate.from_panel_state()
        perm = A.route_permission(f"/{slug}")
        if a is None or perm is None or not A.may(a.role, perm):
            log.warning("refused a session of /%s to %s", slug, a.name if a else "nobody")
            return pn.pane.Markdown("**403**: not allowed")
        return page()
    return build


def login_required(cfg) -> bool:
    """True when the server must ask for a login: the workspace has accounts, or ``dashboards.require_login``."""
    return bool(getattr(cfg.dashboards, "require_login", False)) or A.Accounts(cfg.paths.data_dir).exists()


def server_options(cfg, pages: dict, titles: dict[str, str], https: bool, index=None) -> tuple[dict, dict]:
    """``(pages, extra pn.serve keyword arguments)`` with every page guarded; see the module docstring.

    ``index``: ``(handler class, its keyword arguments)`` serving ``/`` (given the ``gate`` too); default
    :class:`IndexHandler`, a list of ``titles``."""
    import panel as pn

    secret = secret_file(cfg.paths.data_dir / "accounts" / "cookie.secret", "the dashboards' cookie secret")
    client = None
    if getattr(cfg.dashboards, "oidc", None) is not None:
        from dashboards import oidc

        client = oidc.Client(cfg.dashboards.oidc)
    gate = Gate(cfg.paths.data_dir, secret, https, getattr(cfg.dashboards, "trusted_proxies", ()), client)
    if not gate.accounts.exists():
        raise A.AccountError(f"dashboards.require_login is set but there are no accounts in {gate.accounts.path}: "
                             f"add one with `tanjian user add NAME --role administrator`")

    def authorize(user_info, path):
        a = gate.from_panel_state()
        perm = A.route_permission(path)
        return a is not None and perm is not None and A.may(a.role, perm)

    pn.config.authorize_callback = authorize
    pn.config.cookie_secret = secret
    extra = dict(auth_provider=Provider(gate), cookie_secret=secret, xsrf_cookies=True,
                 sign_sessions=True, secret_key=secret.encode(),
                 extra_patterns=[(r"/", IndexHandler, dict(gate=gate, pages=titles)) if index is None else
                                 (r"/", index[0], dict(gate=gate, **index[1]))])
    if client is not None:
        from dashboards import oidc

        extra["extra_patterns"] += oidc.routes(gate)
    return {slug: guarded(gate, slug, fn) for slug, fn in pages.items()}, extra


def tls_options(cfg) -> dict:
    """``pn.serve`` options for HTTPS (certificate, key, HSTS) when ``dashboards.tls_certificate`` and ``tls_key``
    are set; ``{}`` otherwise. The key file must be mode 0600 (refused otherwise, with the fix)."""
    from workspace.secrets import SecretFileError, check_private

    d = cfg.dashboards
    cert, key = getattr(d, "tls_certificate", None), getattr(d, "tls_key", None)
    if cert is None and key is None:
        return {}
    if cert is None or key is None:
        raise SecretFileError("dashboards.tls_certificate and dashboards.tls_key go together")
    if not Path(cert).is_file():
        raise SecretFileError(f"{cert}: dashboards.tls_certificate does not exist")
    check_private(key, "dashboards.tls_key")
    return {"ssl_certfile": str(cert), "ssl_keyfile": str(key),
            "transforms": [HSTSTransform]}
