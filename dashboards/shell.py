"""The app shell: the one template that wraps every registered page (:mod:`dashboards.registry`).

Per browser session, :func:`session` builds the page's :class:`~dashboards.registry.PageContext` from the URL
(``?lang=zh|en``, ``?theme=dark|default`` and the page's own arguments: deep links), calls the page's view,
and puts it in a Bootstrap template with:

- navigation (grouped) to every page the session's role may open, and to JupyterLab when it may (``jupyter``);
- the plant's name, the data time and snapshot (the store's tip), the active methodology and its chain status
  (:func:`chain.methodology.guard`'s result, cached for a minute; not recomputed here);
- a Chinese/English switch and the light/dark theme switch (both links keep the rest of the URL);
- the viewport meta, so a phone lays the page out at its own width.

:func:`index` is the page at ``/``: the same frame with a card per page the role may open.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import threading
import time
from urllib.parse import urlencode

import panel as pn
import tornado.web

from . import i18n, registry

log = logging.getLogger(__name__)

VIEWPORT = "width=device-width, initial-scale=1"
HEADER = "#0f3d2e"
#: how long a methodology check is reused [s] (it asks the chain node)
GUARD_TTL_S = 60.0

CSS = """
.tj-shell-status { font-size: 14px; line-height: 1.5; padding: 2px 0 6px 0; }
.tj-shell-status code { font-size: 13px; }
.tj-nav { list-style: none; padding: 0; margin: 0; font-size: 16px; }
.tj-nav li { margin: 0; }
.tj-nav a { display: block; padding: 8px 10px; border-radius: 6px; text-decoration: none; color: inherit; }
.tj-nav a[aria-current="page"] { background: rgba(47,191,113,.25); font-weight: 600; }
.tj-nav-group { font-size: 13px; text-transform: uppercase; letter-spacing: .05em; opacity: .8;
  margin: 14px 0 4px 10px; }
.tj-switch a { color: inherit; margin-right: 12px; }
.tj-ok { color: #1e8e4e; } .tj-bad { color: #c0392b; font-weight: 600; }
.tj-index { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 14px; }
.tj-index a { display: block; border: 1px solid rgba(127,127,127,.4); border-radius: 10px; padding: 16px;
  text-decoration: none; color: inherit; font-size: 18px; }
"""


def no_wheel(plot, element) -> None:
    """HoloViews hook: the mouse wheel scrolls the page, never zooms the chart."""
    plot.state.toolbar.active_scroll = None


# -- the methodology's chain status ------------------------------------------------------------------------
_guard_lock = threading.Lock()
_guard_cache: dict[str, tuple[float, dict]] = {}


def methodology_status(cfg, _) -> tuple[str, str]:
    """``(text, css class)`` of the package the figures are computed with and its chain status: the one
    :func:`dashboards.feeds.methodology_status` (the guard's result, the packaged default when none is pinned),
    reused for :data:`GUARD_TTL_S` (it asks the chain node)."""
    key = f"{cfg.paths.data_dir}:{getattr(cfg.chain, 'methodology_id', None)}"
    with _guard_lock:
        hit = _guard_cache.get(key)
    if hit is None or time.monotonic() - hit[0] >= GUARD_TTL_S:
        from .feeds import methodology_status as active

        hit = (time.monotonic(), active(cfg))
        with _guard_lock:
            _guard_cache[key] = hit
    m = hit[1]
    cls = {"checked": "tj-ok", "mismatch": "tj-bad"}.get(m["status"], "")
    return f"{m['id']} {m['version']} · {_(m['label'])}", cls


def data_status(cfg, _) -> str:
    """The data time (newest reading, local) and the snapshot id of the store's tip."""
    from workspace.errors import TanjianError
    from workspace.store import Store

    try:
        store = Store.open(cfg.paths.store, cfg.site)
        snap = store.tip()
        t = store.latest_time(snap)
    except TanjianError as exc:
        return f"{_('store')}: {html.escape(str(exc).splitlines()[0][:120])}"
    except Exception as exc:  # noqa: BLE001 - an empty or missing store must not break the frame
        return f"{_('store')}: {html.escape(type(exc).__name__)}"
    when = t.strftime("%Y-%m-%d %H:%M") if isinstance(t, dt.datetime) else _("no readings yet")
    return (f"{_('Data time')} <b>{when}</b> · <span data-snapshot=\"{html.escape(str(snap))}\">{_('snapshot')} "
            f"<code>{html.escape(str(snap)[:12])}</code></span>")


# -- the session ---------------------------------------------------------------------------------------------
def _query() -> dict[str, str]:
    out = {}
    for k, v in (pn.state.session_args or {}).items():
        if v:
            out[k] = v[0].decode("utf-8", "replace") if isinstance(v[0], bytes) else str(v[0])
    return out


def _link(path: str, query: dict, **change) -> str:
    q = {**query, **change}
    return html.escape(path + ("?" + urlencode(q) if q else ""))


def visible(role: str | None) -> list[registry.Page]:
    """The registered pages ``role`` may open (all of them when the server asks no login)."""
    from workspace.accounts import may

    return [p for p in registry.pages() if role is None or ((perm := p.permission()) and may(role, perm))]


def may_lab(role: str | None) -> bool:
    from workspace.accounts import may

    return role is None or may(role, "jupyter")


def nav_html(current: str, role: str | None, query: dict, _, lab_url: str | None) -> str:
    keep = {k: v for k, v in query.items() if k in ("lang", "theme")}
    groups = registry.groups()
    parts = [f'<nav aria-label="{html.escape(_("Pages"))}"><ul class="tj-nav">']
    if role is None or visible(role) and _may_index(role):
        cur = ' aria-current="page"' if current == "" else ""
        parts.append(f'<li><a href="{_link("/", keep)}"{cur}>{html.escape(_("Home"))}</a></li>')
    for g, gtitle in groups.items():
        ps = [p for p in visible(role) if p.group == g]
        if not ps:
            continue
        parts.append(f'<li class="tj-nav-group">{html.escape(_(gtitle))}</li>')
        for p in ps:
            cur = ' aria-current="page"' if p.slug == current else ""
            parts.append(f'<li><a href="{_link(p.route, keep)}"{cur}>{html.escape(_(p.title))}</a></li>')
    if lab_url and may_lab(role):
        parts.append(f'<li class="tj-nav-group">{html.escape(_("Notebooks"))}</li>'
                     f'<li><a href="{html.escape(lab_url)}" target="_blank" rel="noopener">JupyterLab</a></li>')
    parts.append("</ul></nav>")
    return "".join(parts)


def _may_index(role: str) -> bool:
    from workspace.accounts import may

    return may(role, "page.index")


def switches_html(path: str, query: dict, lang: str, theme: str, _) -> str:
    other = "en" if lang == "zh" else "zh"
    dark = "default" if theme == "dark" else "dark"
    return (f'<div class="tj-switch">'
            f'<a href="{_link(path, query, lang=other)}" hreflang="{other}" lang="{other}" data-lang="{other}">'
            f'{i18n.LANGUAGES[other]}</a>'
            f'<a href="{_link(path, query, theme=dark)}" data-theme="{dark}">'
            f'{html.escape(_("Light theme") if theme == "dark" else _("Dark theme"))}</a></div>')


def role_of(cfg) -> str | None:
    """The session's role when the server asks logins (the account :mod:`dashboards.auth` let in), else None."""
    from . import auth
    from workspace import accounts as A

    if not auth.login_required(cfg):
        return None
    name = pn.state.user
    a = A.Accounts(cfg.paths.data_dir).get(name) if name else None
    return a.role if a is not None else "-"  # "-": no permission at all (the guard refuses such sessions anyway)


def context(cfg, page: registry.Page | None, role: str | None = None) -> registry.PageContext:
    q = _query()
    lang = i18n.language(q.get("lang"))
    theme = q.get("theme") or (page.theme if page else "default")
    theme = theme if theme in ("dark", "default") else "default"
    return registry.PageContext(cfg=cfg, page=page, lang=lang, gettext=i18n.gettext_for(lang), theme=theme,
                                query=q, role=role)


#: narrow screens (a phone): the navigation starts folded and, opened with the menu button, lies over the page
#: instead of squeezing it. Bootstrap's menu button toggles ``show``; the server renders an unfolded sidebar
#: with ``show``, so on a narrow screen ``show`` means folded (added only when the page starts unfolded).
PHONE_CSS = """
@media (max-width: 700px) {
  #sidebar.show { display: none; }
  #sidebar:not(.show) { display: block; position: absolute; z-index: 1000; height: 100%; width: 80vw;
                        max-width: 320px !important; box-shadow: 0 0 12px rgba(0,0,0,.4);
                        background: var(--background-color, #fff); }
}
"""


class _FixedTemplate:
    """Panel's Bootstrap page with its sidebar's ``<ul>`` (which holds ``<div>``s, not ``<li>``s: an
    accessibility error axe-core reports as serious) made a ``<div>``; read as Panel reads its own template."""

    def __init__(self, path):
        self.path = path

    def read_text(self, encoding="utf-8") -> str:
        text = self.path.read_text(encoding=encoding)
        return text.replace('<ul class="nav flex-column">', '<div class="nav flex-column">', 1).replace(
            "</ul>\n    </div>", "</div>\n    </div>", 1)

    def relative_to(self, other):
        raise ValueError("not one of Panel's own templates")  # Panel then parses read_text()


class ShellTemplate(pn.template.BootstrapTemplate):
    """The Bootstrap template with :class:`_FixedTemplate`."""

    _template = _FixedTemplate(pn.template.BootstrapTemplate._template)


def frame(cfg, ctx: registry.PageContext, main, *, slug: str, title: str, lab_url: str | None = None,
          collapsed: bool = False) -> pn.template.BaseTemplate:
    """The shell template around ``main`` (a Viewable)."""
    _ = ctx._
    path = f"/{slug}"
    m_text, m_cls = methodology_status(cfg, _)
    status = (f'<div class="tj-shell-status" role="status"><b>{html.escape(cfg.site.plant.name)}</b> · '
              f'{data_status(cfg, _)} · {html.escape(_("Methodology"))}: '
              f'<span class="{m_cls}">{html.escape(m_text)}</span></div>')
    side = pn.pane.HTML(nav_html(slug, ctx.role, ctx.query, _, lab_url) +
                        switches_html(path, ctx.query, ctx.lang, ctx.theme, _),
                        stylesheets=[CSS], sizing_mode="stretch_width")
    t = ShellTemplate(
        title=f"{cfg.site.plant.name} · {title}", theme=ctx.theme, header_background=HEADER,
        meta_viewport=VIEWPORT, main_max_width="100%", collapsed_sidebar=collapsed, sidebar_width=250,
        sidebar=[side], main=[pn.pane.HTML(status, stylesheets=[CSS], sizing_mode="stretch_width"), main])
    if not collapsed:
        t.config.raw_css.append(PHONE_CSS)
    return t


def session(cfg, page: registry.Page, lab_url: str | None = None):
    """One browser session of ``page``: its view inside the shell."""
    ctx = context(cfg, page, role_of(cfg))
    view = page.factory()(ctx)
    return frame(cfg, ctx, view, slug=page.slug, title=ctx._(page.title), lab_url=lab_url, collapsed=page.wall)


def index_document(cfg, role: str | None, query: dict, lab_url: str | None = None) -> str:
    """The page at ``/`` (plain HTML, no websocket): the plant, a card per page ``role`` may open, the switches."""
    lang = i18n.language(query.get("lang"))
    _ = i18n.gettext_for(lang)
    theme = query.get("theme") if query.get("theme") in ("dark", "default") else "default"
    keep = {k: v for k, v in query.items() if k in ("lang", "theme")}
    cards = "".join(f'<a href="{_link(p.route, keep)}" data-slug="{p.slug}">{html.escape(_(p.title))}</a>'
                    for p in visible(role))
    lab = (f'<a href="{html.escape(lab_url)}" target="_blank" rel="noopener">JupyterLab</a>'
           if lab_url and may_lab(role) else "")
    bg, fg = ("#121820", "#e8edf2") if theme == "dark" else ("#ffffff", "#1b232c")
    name = html.escape(cfg.site.plant.name)
    return f"""<!doctype html><html lang="{'zh-CN' if lang == 'zh' else 'en'}"><head><meta charset="utf-8">
<meta name="viewport" content="{VIEWPORT}"><title>{name} · 碳鉴 tanjian</title>
<style>body{{margin:0;font-family:"Noto Sans","Noto Sans CJK SC","Microsoft YaHei",sans-serif;background:{bg};color:{fg}}}
header{{background:{HEADER};color:#fff;padding:14px 24px;display:flex;flex-wrap:wrap;gap:16px;align-items:center}}
header h1{{font-size:22px;margin:0;flex:1}} header a{{color:#fff}} main{{padding:24px;max-width:1200px;margin:auto}}
{CSS}</style></head><body><header><h1>{name} · 碳鉴</h1>{switches_html("/", query, lang, theme, _)}
{'<a href="/logout">' + html.escape(_("Log out")) + '</a>' if role else ''}</header>
<main><h2>{html.escape(_("Pages"))}</h2><div class="tj-index">{cards}{lab}</div></main></body></html>"""


class IndexHandler(tornado.web.RequestHandler):
    """``/``: :func:`index_document`; with a ``gate`` (logins), only for a logged-in role with ``page.index``."""

    def initialize(self, cfg, gate=None, lab_url: str | None = None):
        self.cfg, self.gate, self.lab_url = cfg, gate, lab_url

    def set_default_headers(self):
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Cache-Control", "no-store")

    def get(self):
        from workspace.accounts import may

        role = None
        if self.gate is not None:
            from .auth import _session_days

            a = self.gate.from_cookies(lambda n: self.get_signed_cookie(n, max_age_days=_session_days()))
            if a is None:
                self.redirect("/login?next=/")
                return
            if not may(a.role, "page.index"):
                self.set_status(403)
                self.write(f"<!doctype html><title>403</title><p>{html.escape(a.name)} ({a.role}) may not open "
                           f"this page.</p>")
                return
            role = a.role
        query = {k: self.get_argument(k) for k in self.request.arguments}
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.write(index_document(self.cfg, role, query, self.lab_url))
