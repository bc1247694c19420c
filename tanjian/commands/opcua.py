"""``tanjian opcua {cert,simulate}``: certificates for the OPC UA collector, and the simulated SCADA."""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
from pathlib import Path

from tanjian import args as A
from tanjian.args import config_from_args, guarded
from workspace.errors import TanjianError


def cmd_cert(args: argparse.Namespace) -> int:
    """Write a key and a self-signed certificate (the collector's, or with --server a simulator's)."""
    from collectors.opcua import make_certificate

    out = args.out
    key, cert = out / f"{args.name}.key.pem", out / f"{args.name}.der"
    make_certificate(key, cert, args.uri, server=args.server, host=args.host, days=args.days)
    print(f"wrote {key} (mode 0600, keep it here) and {cert} (give it to the "
          f"{'clients' if args.server else 'server'} to trust); application URI {args.uri}")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    """Serve every ``protocol: opcua`` gateway of the configuration from the load model."""
    from tanjian.simulator.opcua import OpcUaPlantServer
    from workspace.clock import Clock

    cfg = config_from_args(args)
    clock = Clock.parse(args.clock)
    gws = [g for g in cfg.site.gateways if g.protocol == "opcua"]
    if not gws:
        print(f"error: {cfg.source} has no opcua gateway", file=sys.stderr)
        return 1

    async def main():
        servers = [OpcUaPlantServer(cfg.site, g.id, clock, args.pki / "scada.der", args.pki / "scada.key.pem",
                                    args.trusted, seed=cfg.simulation.seed, update_s=args.update_s) for g in gws]
        for s in servers:
            await s.start()
        print("simulating " + ", ".join(f"{s.gateway.id} at {s.url}" for s in servers)
              + f" (clock {clock.spec()}); Ctrl-C stops", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            for s in servers:
                await s.stop()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    return 0



def add_commands(subparsers) -> None:
    """Add ``opcua cert`` and ``opcua simulate`` to the CLI."""
    def _guard(fn):
        return guarded(fn, (TanjianError, OSError))

    p = subparsers.add_parser("opcua")
    sub = p.add_subparsers(dest="opcua_command", metavar="ACTION", required=True)
    x = sub.add_parser("cert", help="write a private key and a self-signed application certificate")
    x.add_argument("--out", type=A.path_name, default=Path("pki"), help="folder to write into (default ./pki)")
    x.add_argument("--name", default="collector", type=A.file_stem, help="file stem: NAME.key.pem and NAME.der (default collector)")
    x.add_argument("--uri", default="urn:tanjian:collector", type=A.uri,
                   help="application URI the certificate names (default urn:tanjian:collector)")
    x.add_argument("--host", default=socket.gethostname(), type=A.hostname, help="host name in the certificate (default this host)")
    x.add_argument("--server", action="store_true", help="a server certificate (for the simulator)")
    x.add_argument("--days", type=A.positive_int, default=365, help="validity [days] (default 365)")
    x.set_defaults(func=_guard(cmd_cert))
    x = sub.add_parser("simulate", help="serve the configuration's opcua gateways from the load model "
                                        "(Basic256Sha256 SignAndEncrypt only)")
    x.add_argument("--pki", type=A.path_name, default=Path("pki"),
                   help="folder with the server's scada.der and scada.key.pem (default ./pki; make them with "
                        "`tanjian opcua cert --server --name scada --uri urn:tanjian:simulator:opcua`)")
    x.add_argument("--trusted", type=A.path_name, default=Path("pki/trusted"),
                   help="folder of the client certificates to accept (default ./pki/trusted)")
    x.add_argument("--clock", default=None, type=A.clock, help="simulated clock '<ISO origin>@<wall origin>x<speed>' "
                                                 "(default: wall clock)")
    x.add_argument("--update-s", type=A.positive, default=1.0, help="seconds between two updates of every node "
                                                               "(default 1)")
    x.set_defaults(func=_guard(cmd_simulate))
