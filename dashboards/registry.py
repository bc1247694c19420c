"""The page registry: which pages the dashboards' server has, read from ``dashboards/pages.yaml``.

A page is a :class:`Page` (slug, English title used as the translation key, route permission, ``module:callable``
view, navigation group, phone and wall flags). The app's routes (:mod:`dashboards.app`), the shell's navigation
and the index at ``/`` (:mod:`dashboards.shell`), the server's route checks (:mod:`dashboards.auth`, with the
permission of ``routes:`` in ``workspace/data/roles.yaml``) and the browser tests all iterate :func:`pages`.

A view callable takes one :class:`PageContext` (per browser session) and returns a Viewable, normally a
``pn.viewable.Viewer``; it is imported only when a session of its page opens.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from workspace.errors import TanjianError

PAGES_FILE = Path(__file__).with_name("pages.yaml")


class RegistryError(TanjianError):
    """``pages.yaml`` names something that does not exist (a group, a module, a route permission)."""


@dataclass(frozen=True)
class Page:
    """One page of the server.

    Attributes
    ----------
    slug : str
        The URL path without the slash (``/bigscreen``).
    title : str
        The English title; also the gettext msgid of its translation.
    view : str
        ``"module:callable"``; ``callable(ctx: PageContext)`` returns the page's Viewable.
    group : str
        Navigation group key (``groups:`` of ``pages.yaml``).
    phone : bool
        Made for a 390 px phone.
    theme : str
        ``"dark"`` or ``"default"`` when the URL does not say.
    wall : bool
        A wall display: fits 1920x1080 without scrolling.
    """

    slug: str
    title: str
    view: str
    group: str
    phone: bool = False
    theme: str = "default"
    wall: bool = False

    @property
    def route(self) -> str:
        return f"/{self.slug}"

    def permission(self) -> str | None:
        """The permission the page's route needs (``routes:`` of ``roles.yaml``), or None when not listed."""
        from workspace.accounts import route_permission

        return route_permission(self.route)

    def factory(self) -> Callable[["PageContext"], Any]:
        """The view callable (imports its module)."""
        mod, _, fn = self.view.partition(":")
        try:
            return getattr(importlib.import_module(mod), fn)
        except (ImportError, AttributeError) as exc:
            raise RegistryError(f"{PAGES_FILE}:pages.{self.slug}.view: cannot load {self.view!r}: {exc}") from exc


@dataclass
class PageContext:
    """What a page's view gets for one browser session.

    Attributes
    ----------
    cfg : workspace.config.Config
    page : Page
    lang : str
        ``"zh"`` or ``"en"`` (``?lang=`` of the URL).
    gettext : callable
        ``_("English text")`` -> the text in ``lang`` (:mod:`dashboards.i18n`).
    theme : str
        ``"dark"`` or ``"default"``.
    query : dict
        The URL's query arguments (first value of each, decoded): the page's state from a deep link.
    role : str or None
        The session's role when the server asks for logins.
    hooks : dict
        Named extension points a page offers to other modules (see ``docs/pages.md``).
    """

    cfg: Any
    page: Page
    lang: str = "zh"
    gettext: Callable[[str], str] = lambda s: s
    theme: str = "default"
    query: dict = field(default_factory=dict)
    role: str | None = None

    @property
    def _(self) -> Callable[[str], str]:
        return self.gettext

    def arg(self, name: str, default: str | None = None) -> str | None:
        """One URL query argument (deep link state), or ``default``."""
        return self.query.get(name, default)


@functools.lru_cache(maxsize=1)
def _load(path: str, mtime_ns: int) -> tuple[dict[str, str], tuple[Page, ...], tuple[str, ...]]:
    from ruamel.yaml import YAML

    with open(path, encoding="utf-8") as f:
        data = YAML(typ="safe").load(f)
    groups = dict(data.get("groups") or {})
    out = []
    for slug, p in (data.get("pages") or {}).items():
        where = f"{path}:pages.{slug}"
        for key in ("title", "view", "group"):
            if not p.get(key):
                raise RegistryError(f"{where}.{key}: missing")
        if p["group"] not in groups:
            raise RegistryError(f"{where}.group: {p['group']!r} is not one of groups: {', '.join(groups)}")
        if ":" not in p["view"]:
            raise RegistryError(f"{where}.view: {p['view']!r} is not 'module:callable'")
        theme = p.get("theme", "default")
        if theme not in ("dark", "default"):
            raise RegistryError(f"{where}.theme: {theme!r} is not dark or default")
        out.append(Page(slug=str(slug), title=str(p["title"]), view=str(p["view"]), group=str(p["group"]),
                        phone=bool(p.get("phone", False)), theme=theme, wall=bool(p.get("wall", False))))
    tiles = tuple(str(t) for t in (data.get("bigscreen_tiles") or []))
    for t in tiles:
        if ":" not in t:
            raise RegistryError(f"{path}:bigscreen_tiles: {t!r} is not 'module:callable'")
    return groups, tuple(out), tiles


def _data(path: Path = PAGES_FILE):
    return _load(str(path), path.stat().st_mtime_ns)


def pages(path: Path = PAGES_FILE) -> tuple[Page, ...]:
    """Every registered page, in the file's order."""
    return _data(path)[1]


def groups(path: Path = PAGES_FILE) -> dict[str, str]:
    """Navigation group key -> English title (a msgid)."""
    return _data(path)[0]


def tiles(path: Path = PAGES_FILE) -> list[Callable]:
    """The big screen's extra tiles: ``callable(ctx) -> Viewable | None`` (``bigscreen_tiles:``)."""
    out = []
    for spec in _data(path)[2]:
        mod, _, fn = spec.partition(":")
        try:
            out.append(getattr(importlib.import_module(mod), fn))
        except (ImportError, AttributeError) as exc:
            raise RegistryError(f"{path}:bigscreen_tiles: cannot load {spec!r}: {exc}") from exc
    return out


def page(slug: str, path: Path = PAGES_FILE) -> Page:
    for p in pages(path):
        if p.slug == slug:
            return p
    raise RegistryError(f"{path}: no page {slug!r}")


def titles(path: Path = PAGES_FILE) -> dict[str, str]:
    """slug -> English title, for the server's routes and logs."""
    return {p.slug: p.title for p in pages(path)}
