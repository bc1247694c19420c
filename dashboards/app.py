"""Serving the dashboards: ``/bigscreen`` (the management wall), ``/verify`` (the proof verifier) and
``/readings`` (hand readings with a photo, for phones), with an index at ``/`` listing them.

``tanjian serve`` (:mod:`tanjian.commands.serve`) calls :func:`serve`.
"""

from __future__ import annotations

import logging

import panel as pn

from workspace.config import Config

from . import auth, bigscreen, readings, verifier

log = logging.getLogger(__name__)

PAGES = {"bigscreen": "Big screen: energy & CO₂e", "verify": "Proof verifier",
         "readings": "Hand reading 人工抄表"}


def pages(cfg: Config) -> dict:
    """URL slug -> page function; each call builds the objects of one browser session."""
    return {"bigscreen": lambda: bigscreen.page(cfg), "verify": lambda: verifier.page(cfg),
            "readings": lambda: readings.page(cfg)}


def serve(cfg: Config, port: int | None = None, show: bool = False, threaded: bool = False):
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

    Returns
    -------
    panel.io.server.StoppableThread or bokeh Server
    """
    host = cfg.dashboards.host
    port = cfg.dashboards.port if port is None else port
    pn.extension()
    origins = sorted({f"{host}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"})
    tls = auth.tls_options(cfg)
    routes, extra = pages(cfg), {"extra_patterns": [(r"/health", auth.HealthHandler)], **tls}
    if auth.login_required(cfg):
        routes, more = auth.server_options(cfg, routes, PAGES, https=bool(tls))
        extra["extra_patterns"] += more.pop("extra_patterns")
        extra.update(more)
    else:
        log.warning("no accounts in %s: every page is open to anyone who reaches port %d; add one with "
                    "`tanjian user add NAME --role administrator`", cfg.paths.data_dir / "accounts", port)
    log.info("serving %s dashboards on %s://%s:%d/ (%s)", cfg.site.plant.name, "https" if tls else "http", host,
             port, ", ".join(f"/{p}" for p in PAGES))
    return pn.serve(routes, port=port, address=host, websocket_origin=origins, show=show,
                    title={slug: f"{cfg.site.plant.name} · {t}" for slug, t in PAGES.items()},
                    threaded=threaded, verbose=False, liveness=True,
                    websocket_max_message_size=64 * 1024 * 1024,  # a phone's photo, base64-encoded
                    **extra)

