"""``tanjian serve``: the Panel dashboards (:func:`dashboards.app.serve`)."""

from __future__ import annotations

from tanjian import args as A
from tanjian.args import config_from_args


def cmd_serve(args) -> int:
    from dashboards.app import serve

    cfg = config_from_args(args)
    serve(cfg, port=args.port, show=args.show)
    return 0


def add_commands(sub) -> None:
    """Add ``serve``."""
    x = sub.add_parser("serve")
    x.add_argument("--port", type=A.port, default=None, help="override dashboards.port")
    x.add_argument("--show", action="store_true", help="open a browser tab")
    x.set_defaults(func=cmd_serve)
