"""OpenID Connect login for the dashboards (``dashboards.oidc`` of the plant's YAML), beside the password form.

The flow is OpenID Connect Core 1.0's Authorization Code flow for a confidential client, with PKCE (RFC 7636,
``S256``), ``state`` (RFC 6749 10.12, against login CSRF) and ``nonce`` (OIDC Core 3.1.2.1, against replayed
ID tokens):

1. ``GET /login/oidc``: the provider's metadata is read from ``<issuer>/.well-known/openid-configuration``
   (OIDC Discovery 1.0; its ``issuer`` must be the configured one, 4.3); a flow (random ``state``, ``nonce``,
   PKCE verifier, the page to go back to) is kept in this server's memory (ten minutes, single use) under a
   random id that goes into a signed, HttpOnly, ``SameSite=Lax`` cookie scoped to ``/login/oidc`` (Lax: the
   provider's redirect back is a cross-site navigation); the browser goes to the provider.
2. ``GET /login/oidc/callback?code&state``: the flow of the cookie is taken (and forgotten: a second use
   finds nothing), ``state`` must be its ``state``; the code is exchanged at the token endpoint with the
   client secret (HTTP Basic, RFC 6749 2.3.1) and the PKCE verifier; the ID token's signature is checked
   against the provider's JWKS (asymmetric algorithms only) and its ``iss``, ``aud`` (and ``azp`` when
   there are several audiences), ``exp``, ``iat`` and ``nonce`` (OIDC Core 3.1.3.7) with PyJWT.
3. The identity (the ``sub`` claim, or ``email`` when ``match: email`` and ``email_verified`` is true) must be
   linked to a local account (:meth:`workspace.accounts.Accounts.authenticate_oidc`): the role is the local
   account's and is checked on the server exactly as for a password login; a disabled account is refused.
   The session cookies are then the password login's (:func:`dashboards.auth.start_session`), and the audit
   entry says ``oidc <issuer> from <address>``.

Every refusal goes back to the login page with one line saying why (and is audited); the provider being
unreachable is said on the login page (the button is replaced by the reason) and never breaks the password
login. The client secret is read from a 0600 file (``client_secret_file``), never from the YAML.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import logging
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from dashboards.auth import _Base, _safe_next, client_address, start_session
from workspace import accounts as A, audit
from workspace.errors import TanjianError
from workspace.secrets import secret_file_text

log = logging.getLogger(__name__)

FLOW_COOKIE = "tanjian_oidc_flow"
FLOW_TTL_S = 600.0  # a login at the provider taking longer starts again
MAX_FLOWS = 1000  # pending flows kept; the oldest is forgotten first (memory bound against a flood of starts)
#: signature algorithms accepted for ID tokens: asymmetric only (no "none", no HS* keyed with the client secret)
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
LEEWAY_S = 60  # clock difference tolerated on exp/iat [s]


class ProviderError(TanjianError):
    """The provider cannot be reached, or answered something that is not what OpenID Connect says."""


class LoginFailed(TanjianError):
    """The login through the provider is refused (bad state, refused code, bad ID token, no identity)."""


@dataclass
class Flow:
    state: str
    nonce: str
    verifier: str
    redirect_uri: str
    next: str | None
    started: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Client:
    """This workspace as an OpenID Connect client of one provider (``cfg.dashboards.oidc``).

    The client secret is read at once (a missing or loose file stops the server with the fix); the provider is
    contacted only when someone uses the login page.
    """

    def __init__(self, conf, clock=time.time):
        self.conf = conf
        self.name = conf.name
        self.issuer = conf.issuer.rstrip("/")
        self.secret = secret_file_text(conf.client_secret_file, "the OpenID Connect client secret "
                                                                "(dashboards.oidc.client_secret_file)")
        self.clock = clock
        self._flows: OrderedDict[str, Flow] = OrderedDict()
        self._jwks: dict | None = None

    # -- the provider --------------------------------------------------------------------------
    async def _get_json(self, url: str, what: str) -> dict:
        from tornado.httpclient import AsyncHTTPClient

        try:
            r = await AsyncHTTPClient().fetch(url, connect_timeout=3, request_timeout=5, raise_error=False)
        except Exception as exc:  # refused, DNS, TLS, timeout: all mean the same to the person
            raise ProviderError(f"{self.name} is unreachable ({type(exc).__name__}: {exc})") from None
        if r.code == 599:
            raise ProviderError(f"{self.name} is unreachable ({r.error})")
        if r.code != 200:
            raise ProviderError(f"{self.name}: {what} answered HTTP {r.code}")
        try:
            return json.loads(r.body)
        except ValueError:
            raise ProviderError(f"{self.name}: {what} is not JSON") from None

    async def discover(self) -> dict:
        """The provider's metadata (OIDC Discovery 1.0), read fresh (a login is rare; the page tells the truth)."""
        meta = await self._get_json(f"{self.issuer}/.well-known/openid-configuration", "the discovery document")
        if str(meta.get("issuer", "")).rstrip("/") != self.issuer:
            raise ProviderError(f"{self.name}: the discovery document names issuer {meta.get('issuer')!r}, "
                                f"not {self.issuer!r} (OIDC Discovery 4.3)")
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(meta.get(key), str):
                raise ProviderError(f"{self.name}: the discovery document has no {key}")
        return meta

    async def _key(self, meta: dict, kid: str | None, alg: str):
        """The provider's signing key ``kid`` (the JWKS is read again once when the key is unknown: rotation)."""
        import jwt

        for refresh in (False, True):
            if self._jwks is None or refresh:
                self._jwks = await self._get_json(meta["jwks_uri"], "the JWKS")
            for k in self._jwks.get("keys", []):
                if k.get("use", "sig") == "sig" and (kid is None or k.get("kid") == kid):
                    try:
                        return jwt.PyJWK(k, algorithm=alg)
                    except jwt.exceptions.PyJWKError:
                        continue
        raise LoginFailed(f"the ID token is signed with a key ({kid}) {self.name} does not publish")

    # -- the flow ------------------------------------------------------------------------------
    def start(self, meta: dict, redirect_uri: str, next_: str | None) -> tuple[str, str]:
        """``(flow id, the provider's authorization URL)`` of a new login."""
        now = self.clock()
        while self._flows and (len(self._flows) >= MAX_FLOWS or
                               now - next(iter(self._flows.values())).started > FLOW_TTL_S):
            self._flows.popitem(last=False)
        flow = Flow(secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48), redirect_uri,
                    next_, now)
        fid = secrets.token_urlsafe(24)
        self._flows[fid] = flow
        challenge = _b64(hashlib.sha256(flow.verifier.encode()).digest())
        query = urlencode({"response_type": "code", "client_id": self.conf.client_id,
                           "redirect_uri": redirect_uri, "scope": " ".join(self.conf.scopes),
                           "state": flow.state, "nonce": flow.nonce,
                           "code_challenge": challenge, "code_challenge_method": "S256"})
        sep = "&" if "?" in meta["authorization_endpoint"] else "?"
        return fid, f"{meta['authorization_endpoint']}{sep}{query}"

    def take(self, fid: str | None) -> Flow | None:
        """The pending flow ``fid`` (forgotten now: single use), or None when unknown or expired."""
        flow = self._flows.pop(fid, None) if fid else None
        if flow is None or self.clock() - flow.started > FLOW_TTL_S:
            return None
        return flow

    async def finish(self, flow: Flow, args: dict[str, str]) -> tuple[str, dict]:
        """``(identity, the ID token's claims)`` of a callback's ``args`` (``code``, ``state``, or ``error``)."""
        if "error" in args:
            raise LoginFailed(f"{self.name} refused the login: {args['error']}"
                              + (f" ({args['error_description']})" if args.get("error_description") else ""))
        if not hmac.compare_digest(args.get("state", ""), flow.state):
            raise LoginFailed("the answer's state does not match the login started in this browser "
                              "(a forged or stale link): start again")
        if "iss" in args and args["iss"].rstrip("/") != self.issuer:  # RFC 9207: an answer of another provider
            raise LoginFailed(f"the answer comes from {args['iss']}, not {self.issuer} (mix-up)")
        if not args.get("code"):
            raise LoginFailed(f"{self.name} sent no authorization code")
        meta = await self.discover()
        id_token = await self._exchange(meta, args["code"], flow)
        claims = await self.verify(meta, id_token, flow.nonce)
        return self.identity(claims), claims

    async def _exchange(self, meta: dict, code: str, flow: Flow) -> str:
        from tornado.httpclient import AsyncHTTPClient, HTTPRequest

        basic = base64.b64encode(f"{quote(self.conf.client_id, safe='')}:{quote(self.secret, safe='')}"
                                 .encode()).decode()
        req = HTTPRequest(meta["token_endpoint"], method="POST", connect_timeout=3, request_timeout=10,
                          headers={"Authorization": f"Basic {basic}", "Accept": "application/json",
                                   "Content-Type": "application/x-www-form-urlencoded"},
                          body=urlencode({"grant_type": "authorization_code", "code": code,
                                          "redirect_uri": flow.redirect_uri, "code_verifier": flow.verifier}))
        try:
            r = await AsyncHTTPClient().fetch(req, raise_error=False)
        except Exception as exc:
            raise ProviderError(f"{self.name} is unreachable ({type(exc).__name__}: {exc})") from None
        try:
            body = json.loads(r.body or b"{}")
        except ValueError:
            body = {}
        if r.code == 599:
            raise ProviderError(f"{self.name} is unreachable ({r.error})")
        if r.code != 200:
            raise LoginFailed(f"{self.name} refused the authorization code: {body.get('error', f'HTTP {r.code}')}"
                              + (f" ({body['error_description']})" if body.get("error_description") else "")
                              + " (used already, expired, or issued to another client)")
        if not isinstance(body.get("id_token"), str):
            raise LoginFailed(f"{self.name} sent no ID token (is 'openid' among the scopes?)")
        return body["id_token"]

    async def verify(self, meta: dict, id_token: str, nonce: str) -> dict:
        """The claims of ``id_token`` after the checks of OIDC Core 3.1.3.7 (see the module docstring)."""
        import jwt

        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.exceptions.DecodeError as exc:
            raise LoginFailed(f"the ID token is not a JWT ({exc})") from None
        alg = header.get("alg")
        offered = meta.get("id_token_signing_alg_values_supported") or ["RS256"]
        if alg not in ALGORITHMS or alg not in offered:
            raise LoginFailed(f"the ID token's algorithm {alg!r} is not accepted (asymmetric, and one the "
                              f"provider offers: {', '.join(a for a in offered if a in ALGORITHMS)})")
        key = await self._key(meta, header.get("kid"), alg)
        try:
            claims = jwt.decode(id_token, key=key.key, algorithms=[alg], audience=self.conf.client_id,
                                issuer=meta["issuer"], leeway=LEEWAY_S,
                                options={"require": ["iss", "aud", "exp", "iat", "sub"]})
        except jwt.exceptions.InvalidAudienceError:
            raise LoginFailed(f"the ID token is for another client, not {self.conf.client_id} (aud)") from None
        except jwt.exceptions.ExpiredSignatureError:
            raise LoginFailed("the ID token has expired (exp)") from None
        except jwt.exceptions.InvalidIssuerError:
            raise LoginFailed(f"the ID token was issued by someone else than {self.issuer} (iss)") from None
        except jwt.exceptions.InvalidSignatureError:
            raise LoginFailed(f"the ID token's signature does not verify with {self.name}'s keys") from None
        except jwt.exceptions.InvalidTokenError as exc:
            raise LoginFailed(f"the ID token is refused: {exc}") from None
        aud = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(aud) > 1 and claims.get("azp") != self.conf.client_id:
            raise LoginFailed(f"the ID token has several audiences and its azp is not {self.conf.client_id}")
        if not isinstance(claims.get("nonce"), str) or not hmac.compare_digest(claims["nonce"], nonce):
            raise LoginFailed("the ID token's nonce is not this login's (a replayed token)")
        return claims

    def identity(self, claims: dict) -> str:
        """The identity the local account is linked to (``match`` of the configuration)."""
        if self.conf.match == "email":
            if not claims.get("email") or claims.get("email_verified") is not True:
                raise LoginFailed(f"{self.name} did not give a verified e-mail address (scope email, "
                                  f"email_verified); accounts are matched by e-mail")
            return str(claims["email"])
        return str(claims["sub"])


# -- the dashboards' side: the login page's button and the two routes -----------------------------------------
async def button_html(client: Client, next_: str, lang: str = "zh") -> str:
    """The login page's "Sign in with <name>" in ``lang``, or, when the provider cannot be reached now, why not."""
    from dashboards import i18n

    _ = i18n.gettext_for(lang)
    try:
        await client.discover()
    except ProviderError as exc:
        log.warning("OpenID provider: %s", exc)
        return (f"<p role='status' style='color:#555;border-top:1px solid #ccc;padding-top:1em'>"
                + html.escape(_("Sign in with {provider}: the provider is unreachable now; use your name and "
                                "password.").format(provider=client.name)) + "</p>")
    href = "/login/oidc" + (f"?{urlencode({'next': next_})}" if next_ else "")
    return (f"<p style='border-top:1px solid #ccc;padding-top:1em'><a id='oidc-login' href='{html.escape(href)}' "
            f"style='display:inline-block;padding:.4em 1em;border:1px solid #333;border-radius:4px;"
            f"text-decoration:none;color:#000'>"
            + html.escape(_("Sign in with {provider}").format(provider=client.name)) + "</a></p>")


def routes(gate) -> list:
    """The Tornado routes of the OpenID login, for ``pn.serve``'s ``extra_patterns``."""
    return [(r"/login/oidc", StartHandler, dict(gate=gate)), (r"/login/oidc/callback", CallbackHandler, dict(gate=gate))]


class _Handler(_Base):
    def _refuse(self, message: str) -> None:
        self.redirect("/login?" + urlencode({"error": message}), status=303)

    def _redirect_uri(self) -> str:
        conf = self.gate.oidc.conf
        return conf.redirect_uri or f"{self.request.protocol}://{self.request.host}/login/oidc/callback"


class StartHandler(_Handler):
    """``GET /login/oidc[?next=…]``: a new flow, then the browser goes to the provider."""

    async def get(self):
        client: Client = self.gate.oidc
        try:
            meta = await client.discover()
        except ProviderError as exc:
            self._refuse(str(exc))
            return
        fid, url = client.start(meta, self._redirect_uri(), _safe_next(self.get_argument("next", "")))
        self.set_signed_cookie(FLOW_COOKIE, fid, expires_days=FLOW_TTL_S / 86400, httponly=True, samesite="Lax",
                               secure=self.gate.https, path="/login/oidc")
        self.redirect(url, status=303)


class CallbackHandler(_Handler):
    """``GET /login/oidc/callback?code&state`` (or ``?error``): the provider's answer; see the module docstring."""

    async def get(self):
        client: Client = self.gate.oidc
        fid = self.get_signed_cookie(FLOW_COOKIE, max_age_days=FLOW_TTL_S / 86400)
        self.clear_cookie(FLOW_COOKIE, path="/login/oidc")
        flow = client.take(fid.decode() if fid else None)
        source = client_address(self.request, self.gate.trusted_proxies)
        where = f"oidc {client.issuer} from {source}"
        if flow is None:
            audit.record(self.gate.data_dir, "(oidc)", "login_failed", where, "no pending login in this browser")
            self._refuse(f"this sign-in with {client.name} was not started in this browser, was used already or "
                         f"took longer than {int(FLOW_TTL_S) // 60} minutes: start again")
            return
        args = {k: self.get_argument(k) for k in ("code", "state", "iss", "error", "error_description")
                if self.get_argument(k, None) is not None}
        try:
            identity, _claims = await client.finish(flow, args)
            a = self.gate.accounts.authenticate_oidc(identity, issuer=client.issuer, source=source)
        except (ProviderError, LoginFailed) as exc:
            audit.record(self.gate.data_dir, "(oidc)", "login_failed", where, str(exc))
            self._refuse(str(exc))
            return
        except A.LoginRefused as exc:  # audited by authenticate_oidc
            self._refuse(str(exc))
            return
        start_session(self, self.gate, a)
        target = flow.next or self.gate.landing(a)
        # a page, not a redirect: the provider's redirect made this a cross-site navigation, in which the
        # browser would not send the new SameSite=Strict cookies; the page's own navigation is same-site
        _ = self._
        self._page(_("tanjian · log in"), f"<meta http-equiv='refresh' content='0;url={html.escape(target)}'>"
                                         f"<p>{html.escape(_('Signed in as {name}.').format(name=a.name))} "
                                         f"<a id='continue' href='{html.escape(target)}'>"
                                         f"{html.escape(_('Continue'))}</a></p>")
