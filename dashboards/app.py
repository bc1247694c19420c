"""Serving the dashboards: every page of the registry (:mod:`dashboards.registry`, ``dashboards/pages.yaml``)
inside the app shell (:mod:`dashboards.shell`), with an index at ``/`` listing the pages the role may open.

``tanjian serve`` (:mod:`tanjian.commands.serve`) calls :func:`serve`.
"""

from __future__ import annotations

import logging

import panel as pn

from workspace.config import Config

from . import auth, registry, shell

log = logging.getLogger(__name__)

#: JupyterLab of ``tanjian lab`` without accounts (loopback only: the link works on the machine that runs it, or
#: through a tunnel); with accounts it listens beside the dashboards, behind their logins (dashboards.jupyter_identity)
LAB_URL = "http://127.0.0.1:{port}/lab"


def _lab_link(cfg: Config, lab_url: str | None) -> str | None:
    """The JupyterLab link the shell shows: with accounts, the dashboards' public host name with JupyterLab's
    port (so the browser sends the login cookies along); without, ``lab_url`` on loopback."""
    if lab_url is None:
        return None
    if lab_url == LAB_URL and auth.login_required(cfg):
        from .jupyter_identity import lab_public_url

        return lab_public_url(cfg.dashboards.public_url, cfg.jupyter.port)
    return lab_url.format(port=cfg.jupyter.port)


def titles() -> dict[str, str]:
    """URL slug -> English title of every registered page."""
    return registry.titles()


PAGES = titles()


def pages(cfg: Config, lab_url: str | None = LAB_URL) -> dict:
    """URL slug -> page function; each call builds the objects of one browser session (the page in the shell)."""
    lab_url = _lab_link(cfg, lab_url)
    return {p.slug: (lambda p=p: shell.session(cfg, p, lab_url)) for p in registry.pages()}


def serve(cfg: Config, port: int | None = None, show: bool = False, threaded: bool = False,
          lab_url: str | None = LAB_URL):
    """Serve the pages of ``cfg``'s workspace on ``cfg.dashboards.host``.

    Parameters
    ----------
    cfg : Config
    port : int, optional
        TCP port (default ``cfg.dashboards.port``).
    show : bool
        Open a browser tab.
    threaded : bool
        Run the server in a background thread and return it (call ``.stop()``); otherwise block.
    lab_url : str, optional
        JupyterLab's address, linked from the shell for roles with ``jupyter``; None: no link.

    Returns
    -------
    panel.io.server.StoppableThread or bokeh Server
    """
    host = cfg.dashboards.host
    port = cfg.dashboards.port if port is None else port
    import holoviews  # noqa: F401 - imported before pn.extension(), which then loads its Bokeh backend
    pn.extension()
    origins = sorted({f"{host}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"})
    tls = auth.tls_options(cfg)
    names = titles()
    index = (shell.IndexHandler, dict(cfg=cfg, lab_url=_lab_link(cfg, lab_url)))
    routes, extra = pages(cfg, lab_url), {"extra_patterns": [(r"/health", auth.HealthHandler)], **tls}
    if auth.login_required(cfg):
        routes, more = auth.server_options(cfg, routes, names, https=bool(tls), index=index)
        extra["extra_patterns"] += more.pop("extra_patterns")
        extra.update(more)
    else:
        extra["extra_patterns"].append((r"/", index[0], index[1]))
        log.warning("no accounts in %s: every page is open to anyone who reaches port %d; add one with "
                    "`tanjian user add NAME --role administrator`", cfg.paths.data_dir / "accounts", port)
    log.info("serving %s dashboards on %s://%s:%d/ (%s)", cfg.site.plant.name, "https" if tls else "http", host,
             port, ", ".join(f"/{p}" for p in names))
    return pn.serve(routes, port=port, address=host, websocket_origin=origins, show=show,
                    title={slug: f"{cfg.site.plant.name} · {t}" for slug, t in names.items()},
                    threaded=threaded, verbose=False, liveness=True,
                    websocket_max_message_size=64 * 1024 * 1024,  # a phone's photo, base64-encoded
                    **extra)
