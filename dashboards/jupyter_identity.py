"""JupyterLab behind the dashboards' accounts: a jupyter_server ``IdentityProvider`` reading their session cookie.

No JupyterHub and no proxy: ``tanjian lab`` starts JupyterLab with
``--ServerApp.identity_provider_class=dashboards.jupyter_identity.TanjianIdentityProvider`` when the workspace
has accounts. A browser sends a host's cookies to every port of that host, so the two signed cookies the
dashboards' ``/login`` issued (``user`` and ``tanjian_session``, see :mod:`dashboards.auth`) reach JupyterLab
too, when both are opened under the same host name. For every request, :meth:`TanjianIdentityProvider.get_user`

- verifies both cookies' signatures with the dashboards' cookie secret (``<data_dir>/accounts/cookie.secret``)
  and their age (``login.session_days`` of ``roles.yaml``),
- checks them against the accounts file through :class:`dashboards.auth.Gate`, exactly as the dashboards do:
  the account exists, is enabled, and its ``session_epoch`` is the one the cookie was issued for (a password
  or role change, or a disable, ends the JupyterLab session as it ends the dashboards' one),
- and asks the account's role for the ``jupyter`` permission.

No valid session: ``None``, so jupyter_server answers 403 to its API and sends a page request to its
``/login``, which :class:`LoginRedirect` turns into the dashboards' login page. A valid session of a role
without ``jupyter`` (a meter reader, a manager): **403** at once (not a login loop). JupyterLab's own token
is not accepted: the accounts are the only way in, and every request is token-less, so jupyter_server's
own XSRF and ``Origin`` checks stay on.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.auth.identity import IdentityProvider, User
from jupyter_server.base.handlers import JupyterHandler
from tornado import web
from tornado.web import decode_signed_value
from traitlets import Bool, Unicode, default

from dashboards import auth
from workspace import accounts as A
from workspace.secrets import secret_file

PERMISSION = "jupyter"


def cookie_secret_path(data_dir: str | os.PathLike) -> Path:
    """The dashboards' cookie secret file of a workspace (the one :func:`dashboards.auth.server_options` uses)."""
    return Path(data_dir) / "accounts" / "cookie.secret"


def lab_public_url(public_url: str, port: int) -> str:
    """JupyterLab's address for a browser: the dashboards' ``public_url`` with JupyterLab's port, ``/lab``.

    The same scheme and host name as the dashboards, so the browser sends their cookies along
    (``http://plant-host:5006`` and port 8888 -> ``http://plant-host:8888/lab``)."""
    parts = urlsplit(public_url)
    host = parts.hostname or "127.0.0.1"
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    return urlunsplit((parts.scheme, f"{host}:{port}", "/lab", "", ""))


class TanjianIdentityProvider(IdentityProvider):
    """A request's user is the dashboards' session's account, when its role holds ``jupyter`` (module docstring)."""

    data_dir = Unicode(help="the workspace's data folder (default: $TANJIAN_DATA_DIR)").tag(config=True)
    login_url = Unicode("http://127.0.0.1:5006/login",
                        help="the dashboards' login page, where a request without a session is sent").tag(config=True)
    https = Bool(False, help="the dashboards speak HTTPS (their cookies are then Secure)").tag(config=True)

    @default("data_dir")
    def _data_dir_default(self):
        d = os.environ.get("TANJIAN_DATA_DIR")
        if not d:
            raise ValueError("TanjianIdentityProvider needs the workspace's data folder: set "
                             "--TanjianIdentityProvider.data_dir or TANJIAN_DATA_DIR")
        return d

    @default("token")
    def _token_default(self):
        return ""  # never a way in: the accounts are

    @default("login_handler_class")
    def _login_handler_default(self):
        return LoginRedirect

    @default("logout_handler_class")
    def _logout_handler_default(self):
        return LogoutRedirect

    need_token = Bool(False)
    _gate: auth.Gate | None = None

    @property
    def gate(self) -> auth.Gate:
        if self._gate is None:
            secret = secret_file(cookie_secret_path(self.data_dir), "the dashboards' cookie secret")
            self._gate = auth.Gate(self.data_dir, secret, self.https)
        return self._gate

    def account(self, handler: web.RequestHandler) -> A.Account | None:
        """The account of the request's dashboards session (signatures, age, enabled, session epoch), or None."""
        gate = self.gate
        days = float(A.policy()["login"]["session_days"])

        def get_signed(name: str):
            value = handler.get_cookie(name)
            return None if value is None else decode_signed_value(gate.cookie_secret, name, value,
                                                                 max_age_days=days)
        return gate.from_cookies(get_signed)

    def get_user(self, handler: web.RequestHandler) -> User | None:
        a = self.account(handler)
        if a is None:
            return None
        if not A.may(a.role, PERMISSION):
            self.log.warning("refused JupyterLab to %s (%s): the role has no %r permission", a.name, a.role,
                             PERMISSION)
            raise web.HTTPError(403, f"{a.name} ({a.role}) may not use JupyterLab")
        return User(username=a.name, name=a.name, display_name=f"{a.name} · {a.role}")

    def is_token_authenticated(self, handler: web.RequestHandler) -> bool:
        return False

    @property
    def login_available(self) -> bool:
        return True

    def validate_security(self, app, ssl_options=None) -> None:
        if not self.https and app.ip not in ("127.0.0.1", "localhost", "::1"):
            app.log.warning("JupyterLab is listening on %s without HTTPS: the dashboards' session cookie crosses "
                            "the network in clear; configure dashboards.tls_certificate and tls_key", app.ip)


class LoginRedirect(JupyterHandler):
    """JupyterLab's ``/login``: to the dashboards' login page (back to ``next`` when already logged in)."""

    @allow_unauthenticated
    def get(self):
        nxt = self.get_argument("next", "")
        if self.current_user is not None and nxt.startswith("/") and not nxt.startswith("//") and "\\" not in nxt:
            self.redirect(nxt)
            return
        # the dashboards' login goes back only to a path of its own (never another site or port): to the list
        # of pages, which links JupyterLab for the roles that may use it
        self.redirect(f"{self.identity_provider.login_url}?{urlencode({'next': '/'})}")

    post = get


class LogoutRedirect(JupyterHandler):
    """JupyterLab's ``/logout``: to the dashboards' logout form (the session is theirs; logging out there ends both)."""

    @allow_unauthenticated
    def get(self):
        login = self.identity_provider.login_url
        self.redirect(login[: -len("/login")] + "/logout" if login.endswith("/login") else login)
