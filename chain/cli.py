"""Command-line commands of the chain package, added to the ``tanjian`` CLI by :func:`add_commands`.

::

    tanjian anchor [--once]                       anchor the ledger root now / every anchor_interval_s
    tanjian export SEQ --out DIR                  write batch SEQ and its proof bundle
    tanjian verify BATCH_FILE BUNDLE_FILE [--rpc URL | --offline] [--contract ADDR]
    tanjian chain keygen                          create the gateway keystore (and a 0600 password file)
    tanjian chain deploy                          deploy/find the contracts, register and fund the gateway

Every handler takes the parsed ``args`` (``args.config``: YAML path or None) and returns an exit code.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
import threading
from pathlib import Path

from workspace.errors import ChainError, ConfigError, TanjianError

log = logging.getLogger(__name__)


def _config(args: argparse.Namespace):
    from workspace.cli import config_from_args

    return config_from_args(args)


def _connect(cfg, rpc_url: str | None = None):
    from .node import connect

    w3 = connect(rpc_url or cfg.chain.rpc_url)
    if cfg.chain.chain_id is not None and rpc_url is None:
        got = w3.eth.chain_id
        if got != cfg.chain.chain_id:
            raise ChainError(f"{cfg.chain.rpc_url} is chain {got}, "
                             f"the configuration expects {cfg.chain.chain_id}")
    return w3


def cmd_keygen(args: argparse.Namespace) -> int:
    """Create the gateway keystore if missing; print its address."""
    from . import keys

    cfg = _config(args)
    ks, pw_file = Path(cfg.chain.keystore), Path(cfg.chain.password_file)
    if ks.exists():
        print(f"gateway {keys.keystore_address(ks)} (keystore {ks} exists)")
        return 0
    if not pw_file.exists() and not os.environ.get(keys.PASSWORD_ENV):
        pw_file.parent.mkdir(parents=True, exist_ok=True)
        keys.write_password_file(pw_file, secrets.token_urlsafe(24))
        print(f"wrote a random password to {pw_file} (mode 0600); keep a copy somewhere safe")
    address = keys.create_keystore(ks, keys.read_password(pw_file))
    print(f"gateway {address} (keystore {ks})")
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    """Deploy the registry if needed and register + fund the gateway (dev chains: node account 0)."""
    from .deploy import ensure_deployment
    from .keys import keystore_address

    cfg = _config(args)
    w3 = _connect(cfg)
    if cfg.chain.rpc_url == "tester":
        print("warning: rpc_url is 'tester': this in-process chain ends with this command", file=sys.stderr)
    info = ensure_deployment(w3, cfg.paths.chain, keystore_address(cfg.chain.keystore),
                             plant=cfg.site.plant.id)
    for name, c in info["contracts"].items():
        print(f"{name} {c['address']} (block {c['block']})")
    print(f"on chain {info['chain_id']}; gateway registered for plant {cfg.site.plant.id}")
    return 0


def _service(cfg):
    from .anchor import AnchorService
    from .deploy import ensure_deployment, read_deployment
    from .keys import load_account
    from .ledger import Ledger

    w3 = _connect(cfg)
    account = load_account(cfg.chain.keystore, password_file=cfg.chain.password_file)
    if cfg.chain.rpc_url == "tester":  # nothing outlives this process: set everything up here
        info = ensure_deployment(w3, cfg.paths.chain, account.address, plant=cfg.site.plant.id)
    else:
        info = read_deployment(cfg.paths.chain)
        if info is None:
            raise ChainError(f"no {cfg.paths.chain / 'deployment.json'}: run `tanjian chain deploy` first")
    ledger = Ledger(cfg.paths.journal, cfg.paths.chain)
    return AnchorService(w3, info["address"], account, ledger, cfg.paths.chain,
                         confirmations=cfg.chain.confirmations)


def cmd_anchor(args: argparse.Namespace) -> int:
    """Anchor once (``--once``) or every ``chain.anchor_interval_s`` until interrupted."""
    cfg = _config(args)
    svc = _service(cfg)
    if args.once:
        rec = svc.anchor_once()
        if rec is None:
            last = svc.last_anchor()
            covered = last["tree_size"] if last else 0
            print(f"nothing anchored: ledger holds {svc.ledger.size()} batches, last anchor covers {covered}")
        else:
            print(f"anchored {rec['root']} covering {rec['tree_size']} batches in block "
                  f"{rec['block_number']} (tx {rec['tx_hash']})")
        return 0
    stop = threading.Event()
    try:
        svc.run(cfg.chain.anchor_interval_s, stop)
    except KeyboardInterrupt:
        stop.set()
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write batch SEQ and its proof bundle into ``--out``."""
    from .bundle import export_batch
    from .deploy import read_deployment
    from .ledger import Ledger

    cfg = _config(args)
    info = read_deployment(cfg.paths.chain)
    with Ledger(cfg.paths.journal, cfg.paths.chain) as ledger:
        batch_path, bundle_path = export_batch(cfg.paths.journal, ledger, cfg.paths.chain, args.seq, args.out,
                                               contract=info["address"] if info else None)
    print(batch_path)
    print(bundle_path)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Verify a batch file against its bundle; exit 0 only when every check passes."""
    from .node import connect
    from .verify import verify_files

    w3 = None
    if not args.offline:
        rpc = args.rpc
        if rpc is None:
            try:
                rpc = _config(args).chain.rpc_url
            except ConfigError as exc:
                print(f"no --rpc and no usable configuration ({exc}); verifying offline", file=sys.stderr)
        if rpc is not None:
            w3 = connect(rpc)
    report = verify_files(args.batch_file, args.bundle_file, w3=w3,
                          expected_contract=getattr(args, "contract", None))
    print(report.render())
    ok = report.offline_ok if args.offline else report.ok
    return 0 if ok else 1


def _guard(fn):
    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except TanjianError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    run.__doc__ = fn.__doc__
    return run


def add_commands(subparsers) -> None:
    """Add ``anchor``, ``export``, ``verify`` and ``chain {keygen,deploy}`` to the CLI.

    Each sub-parser gets ``func`` (``args -> exit code``) as its default.
    """
    p = subparsers.add_parser("anchor", help="anchor the ledger root on chain")
    p.add_argument("--once", action="store_true", help="anchor once and exit")
    p.set_defaults(func=_guard(cmd_anchor))

    p = subparsers.add_parser("export", help="export a batch and its proof bundle")
    p.add_argument("seq", type=int, help="batch sequence number")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.set_defaults(func=_guard(cmd_export))

    p = subparsers.add_parser("verify", help="verify a batch file against its proof bundle")
    p.add_argument("batch_file", type=Path)
    p.add_argument("bundle_file", type=Path)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--rpc", help="JSON-RPC URL of a node of the anchor's chain "
                                 "(default: the configuration's)")
    g.add_argument("--offline", action="store_true", help="only the checks that need no node")
    p.add_argument("--contract", help="the AnchorRegistry address you trust "
                                      "(fail if the bundle names another)")
    p.set_defaults(func=_guard(cmd_verify))

    p = subparsers.add_parser("chain", help="gateway key and registry deployment")
    sub = p.add_subparsers(dest="chain_command", required=True)
    sub.add_parser("keygen", help="create the gateway keystore").set_defaults(func=_guard(cmd_keygen))
    sub.add_parser("deploy", help="deploy the registry, register and fund the gateway").set_defaults(
        func=_guard(cmd_deploy))
