"""``tanjian push serve``: the HTTP endpoint outside connectors push readings to (the connector contract,
:mod:`collectors.push`); and the same endpoint inside ``tanjian collect`` when ``push:`` is configured.

The journal has one writer process. Where ``tanjian collect`` runs, it serves the endpoint itself (one
writer, one lock, one minute rule for every collector); ``tanjian push serve`` is for a workspace where
nothing else collects (it refuses to start, naming the journal's lock, while ``collect`` holds it).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from dataclasses import replace
from pathlib import Path

from tanjian import args as A
from tanjian.args import config_from_args, guarded
from workspace.errors import ConfigError, TanjianError


def _push_config(cfg):
    from collectors.push import load_push_config

    base = cfg.source.parent if cfg.source is not None else Path.cwd()
    return load_push_config(cfg.push, base, origin=str(cfg.source))


def check_push_section(cfg) -> None:
    """Raise :class:`ConfigError` naming the field when the configuration's ``push:`` section is wrong
    (``tanjian config check``); nothing to check without one."""
    if cfg.push is not None:
        _push_config(cfg)


async def run_with_connectors(svc, cfg, stop: asyncio.Event) -> None:
    """``svc.run(stop)`` with the connector endpoint beside it when the configuration has a ``push:`` section."""
    if not cfg.push:
        await svc.run(stop)
        return
    from collectors.push import PushServer, ServiceSink

    srv = PushServer(cfg.site, _push_config(cfg), ServiceSink(svc))
    await srv.start()
    print(f"accepting connector readings at {srv.url} for {', '.join(sorted(srv.config.connectors))}", flush=True)
    try:
        await svc.run(stop)
    finally:
        await srv.stop()


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve ``POST /v1/readings`` for the connectors of the configuration's ``push:`` section until stopped."""
    from collectors.push import JournalSink, PushServer
    from workspace.journal import Journal

    cfg = config_from_args(args)
    if not cfg.push:
        raise ConfigError([(str(cfg.source), None, "push", "no 'push:' section (listen and connectors): nothing "
                                                         "to serve")])
    pc = _push_config(cfg)
    if args.listen:
        host, _, port = args.listen.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError([("--listen", None, args.listen, "expected HOST:PORT")])
        pc = replace(pc, host=host, port=int(port))
    journal = Journal(cfg.paths.journal, writer=True)  # refused, naming the lock, while `collect` holds it

    async def main() -> PushServer:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        srv = PushServer(cfg.site, pc, JournalSink(cfg.site, journal))
        await srv.start()
        print(f"accepting readings at {srv.url} for {', '.join(sorted(pc.connectors))} "
              f"(journal {cfg.paths.journal}, {len(journal)} batches); Ctrl-C stops", flush=True)
        try:
            await stop.wait()
        finally:
            await srv.stop()
        return srv

    try:
        srv = asyncio.run(main())
    finally:
        journal.close()
    print(f"stopped: {srv.accepted} readings accepted, {srv.refused} requests refused", file=sys.stderr)
    return 0


def add_commands(subparsers) -> None:
    """Add ``push serve`` to the CLI."""
    p = subparsers.add_parser("push")
    sub = p.add_subparsers(dest="push_command", metavar="ACTION", required=True)
    x = sub.add_parser("serve", help="accept readings POSTed by outside connectors (authenticated, "
                                     "schema-validated; acknowledged once journaled)")
    x.add_argument("--listen", type=A.host_port, help="HOST:PORT (default: push.listen of the configuration, else 127.0.0.1:8480)")
    x.set_defaults(func=guarded(cmd_serve, (TanjianError, OSError)))
