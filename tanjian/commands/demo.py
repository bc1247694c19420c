"""``tanjian demo`` (everything on the embedded simulation) and ``tanjian history`` (backfill demo data)."""

from __future__ import annotations

import datetime as dt

from tanjian import args as A
from tanjian.args import config_from_args


def cmd_history(args) -> int:
    from tanjian.demo.history import seed_history

    cfg = config_from_args(args)
    end = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
    n = seed_history(cfg, end - dt.timedelta(days=args.days), end, progress=True)
    print(f"journaled and folded {n} simulated readings ({args.days:g} days up to {end.isoformat()})")
    return 0


def cmd_demo(args) -> int:
    from tanjian.demo.run import run_demo

    cfg = config_from_args(args)
    return run_demo(cfg, speed=args.speed, lab=not args.no_lab, chain=not args.no_chain,
                    history_days=args.history_days, port_offset=args.port_offset)


def add_commands(sub) -> None:
    """Add ``demo`` and ``history``."""
    x = sub.add_parser("demo")
    x.add_argument("--speed", type=A.positive, default=1.0, help="simulated seconds per real second (default 1)")
    x.add_argument("--history-days", type=A.nonnegative, default=None, help="history to backfill on first start")
    x.add_argument("--no-lab", action="store_true", help="do not start JupyterLab")
    x.add_argument("--no-chain", action="store_true", help="do not start anvil and the anchoring loop")
    x.add_argument("--port-offset", type=A.port_offset, default=0, help="added to every port (run two demos side by side)")
    x.set_defaults(func=cmd_demo)

    x = sub.add_parser("history")
    x.add_argument("--days", type=A.nonnegative, default=3.0)
    x.set_defaults(func=cmd_history)
