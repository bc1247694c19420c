"""``tanjian serve``: the Panel dashboards (:func:`dashboards.app.serve`).

Logins are asked as soon as the workspace has accounts (``tanjian user add``); HTTPS with HSTS when
``dashboards.tls_certificate`` and ``dashboards.tls_key`` are set. Under systemd (``deploy/tanjian.service``,
``Type=notify``) the server reports READY=1 once it accepts connections.
"""

from __future__ import annotations

import socket
import time

from tanjian import args as A
from tanjian.args import config_from_args


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host if host not in ("0.0.0.0", "::", "") else "127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def cmd_serve(args) -> int:
    from dashboards.app import serve
    from tanjian.service import notify

    cfg = config_from_args(args)
    port = cfg.dashboards.port if args.port is None else args.port
    server = serve(cfg, port=port, show=args.show, threaded=True)
    try:
        while not _listening(cfg.dashboards.host, port):
            if not server.is_alive():
                return 1
            time.sleep(0.1)
        notify(f"READY=1\nSTATUS=serving on port {port}")
        while server.is_alive():
            server.join(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        notify("STOPPING=1")
        server.stop()
    return 0


def add_commands(sub) -> None:
    """Add ``serve``."""
    x = sub.add_parser("serve", description=__doc__)
    x.add_argument("--port", type=A.port, default=None, help="override dashboards.port")
    x.add_argument("--show", action="store_true", help="open a browser tab")
    x.set_defaults(func=cmd_serve)
