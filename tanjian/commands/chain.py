"""The chain's commands (ledger, anchoring, proofs, keys, registries), added to ``tanjian`` by :func:`add_commands`.

::

    tanjian anchor [--once]                       anchor the ledger root now / every anchor_interval_s
    tanjian export SEQ --out DIR                  write batch SEQ and its proof bundle
    tanjian verify BATCH_FILE BUNDLE_FILE [--rpc URL | --offline] [--contract ADDR]
    tanjian chain keygen                          create the gateway keystore (and a 0600 password file)
    tanjian chain compile [--out DIR]             recompile the contracts' committed artefacts (developers)
    tanjian chain deploy                          deploy/find the contracts, register and fund the gateway
    tanjian methodology publish DIR --id ID --version V --effective-from DATE [--effective-to DATE]
    tanjian methodology show --id ID [--at DATE]  /  tanjian methodology check DIR --id ID [--at DATE]
    tanjian quota set ENTERPRISE YEAR AMOUNT_T --author A --reason R [--on-chain]
    tanjian quota show ENTERPRISE YEAR
    tanjian ledger add FILE --author A --reason R [--no-anchor]

Role accounts (association, regulator) sign with ``--keystore FILE`` (password from
``$TANJIAN_KEYSTORE_PASSWORD`` or ``--password-file``) or, on a dev chain, ``--from ADDRESS`` (an
account the node holds unlocked).

Every handler takes the parsed ``args`` (``args.config``: YAML path or None) and returns an exit code.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import secrets
import sys
import threading
from pathlib import Path

from chain.connect import anchoring_service, connect, deployment
from chain.connect import registry as registry_of
from tanjian import args as A
from tanjian.args import config_from_args, guarded
from workspace import audit
from workspace.errors import ChainError, ConfigError

log = logging.getLogger(__name__)


def cmd_keygen(args: argparse.Namespace) -> int:
    """Create the gateway keystore if missing; print its address."""
    from chain import keys

    cfg = config_from_args(args)
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


def cmd_compile(args: argparse.Namespace) -> int:
    """Recompile the contracts with solcjs and print the artefacts written."""
    from tanjian.solc import build

    logging.getLogger("tanjian.solc").setLevel(logging.INFO)  # what solcjs was asked and said
    for path in (build(args.out) if args.out else build()):
        print(path)
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    """Deploy the registry if needed and register + fund the gateway (dev chains: node account 0)."""
    from chain.deploy import ensure_deployment
    from chain.keys import keystore_address

    cfg = config_from_args(args)
    w3 = connect(cfg)
    if cfg.chain.rpc_url == "tester":
        print("warning: rpc_url is 'tester': this in-process chain ends with this command", file=sys.stderr)
    info = ensure_deployment(w3, cfg.paths.chain, keystore_address(cfg.chain.keystore),
                             plant=cfg.site.plant.id)
    for name, c in info["contracts"].items():
        print(f"{name} {c['address']} (block {c['block']})")
    print(f"on chain {info['chain_id']}; gateway registered for plant {cfg.site.plant.id}")
    return 0


def cmd_rotate_key(args: argparse.Namespace) -> int:
    """Rotate the gateway key through the DeviceRegistry (the registry's admin signs)."""
    from chain.deploy import default_deployer
    from chain.rotation import rotate_gateway

    cfg = config_from_args(args)
    w3 = connect(cfg)
    info = deployment(cfg)
    if info is None:
        raise ChainError("no deployment: run `tanjian chain deploy` first")
    admin = _role_sender(args) if (args.keystore or args.sender) else default_deployer(w3)
    r = rotate_gateway(w3, info, cfg.chain.keystore, cfg.chain.password_file, cfg.site.plant.id, admin=admin)
    audit.record(cfg.paths.data_dir, getpass.getuser(), "key_rotate", f"gateway {r.old} -> {r.new}", args.reason)
    print(f"gateway key rotated: {r.old} (revoked in block {r.revoked_in_block}, keystore kept as "
          f"{r.retired_keystore}) -> {r.new} ({r.moved_wei} wei moved); restart the anchoring loop")
    return 0


def cmd_anchor(args: argparse.Namespace) -> int:
    """Anchor once (``--once``) or every ``chain.anchor_interval_s`` until interrupted."""
    cfg = config_from_args(args)
    svc = anchoring_service(cfg)
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
    also = ()
    if cfg.chain.methodology_id:  # the pinned methodology follows the registry's MethodologyPublished events
        from chain.methodology_sync import MethodologyWatcher

        also = (MethodologyWatcher(cfg).poll,)
    from models.reports.on_demand import watcher_for  # the regulator's report requests, when park.yaml says

    requests = watcher_for(cfg, svc)
    if requests is not None:
        also = (*also, requests.poll)
    try:
        svc.run(cfg.chain.anchor_interval_s, stop, also=also)
    except KeyboardInterrupt:
        stop.set()
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write batch SEQ and its proof bundle into ``--out``."""
    from chain.bundle import export_batch
    from chain.ledger import Ledger

    cfg = config_from_args(args)
    info = deployment(cfg)
    with Ledger(cfg.paths.journal, cfg.paths.chain) as ledger:
        batch_path, bundle_path = export_batch(cfg.paths.journal, ledger, cfg.paths.chain, args.seq, args.out,
                                               contract=info["address"] if info else None)
    print(batch_path)
    print(bundle_path)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Verify a batch file against its bundle; exit 0 only when every check passes."""
    from chain.node import connect
    from chain.verify import verify_files

    w3 = None
    if not args.offline:
        rpc = args.rpc
        if rpc is None:
            try:
                rpc = config_from_args(args).chain.rpc_url
            except ConfigError as exc:
                print(f"no --rpc and no usable configuration ({exc}); verifying offline", file=sys.stderr)
        if rpc is not None:
            w3 = connect(rpc)
    report = verify_files(args.batch_file, args.bundle_file, w3=w3,
                          expected_contract=getattr(args, "contract", None),
                          document_file=getattr(args, "document", None))
    print(report.render())
    ok = report.offline_ok if args.offline else report.ok
    return 0 if ok else 1


def _role_sender(args: argparse.Namespace):
    from chain.keys import load_account

    if getattr(args, "keystore", None):
        return load_account(args.keystore, password_file=args.password_file)
    if getattr(args, "sender", None):
        return args.sender
    raise ChainError("say who signs: --keystore FILE (the role's encrypted key) or --from ADDRESS "
                     "(an unlocked account of a dev node)")


def cmd_methodology(args: argparse.Namespace) -> int:
    """Publish, show or check a methodology version (MethodologyRegistry)."""
    from chain import methodology as m
    from chain.registry import METHODOLOGY_REGISTRY

    cfg = config_from_args(args)
    if args.methodology_command == "hash":
        print(m.package_sha256(args.package_dir))
        return 0
    if args.methodology_command == "status":
        from models.guarded import default_id
        from models.packages import IDS, PACKAGES_DIR

        mid = args.id or default_id(cfg)
        g = m.guard(cfg, PACKAGES_DIR / mid if mid in IDS else None, methodology_id=mid, strict=False)
        print(f"{mid}: package {g.package_sha256} ({g.origin}, {g.package_dir})")
        print(f"on chain: {g.label}: {g.reason}")
        return 0 if g.status != "mismatch" else 1
    if args.methodology_command == "pack":
        import hashlib

        from chain.methodology_sync import pack, sealed_factor_files
        from models.factors import DEFAULT_PATH

        # the factor file the package's manifest seals goes into the archive, so that a gateway syncing it
        # needs nothing else: the packaged one (models/data) when it is the sealed one
        sealed = sealed_factor_files(args.package_dir)
        ship = {n: DEFAULT_PATH for n, sha in sealed.items() if n == DEFAULT_PATH.name and DEFAULT_PATH.is_file()
                and hashlib.sha256(DEFAULT_PATH.read_bytes()).hexdigest() == sha}
        data = pack(args.package_dir, ship)
        args.out.write_bytes(data)
        missing = sorted(set(sealed) - set(ship))
        print(f"{args.out}: {len(data)} bytes, package {m.package_sha256(args.package_dir)}"
              + (f", with its factor file {', '.join(sorted(ship))}" if ship else "")
              + (f"; NOT carried (not here with the sealed hash): {', '.join(missing)}" if missing else "")
              + "; serve it and publish its URL with `tanjian methodology publish ... --uri URL`")
        return 0
    if args.methodology_command == "packages":
        from models.packages import IDS, load_methodology, reseal

        if args.reseal:
            for pid, sha in reseal().items():
                audit.record(cfg.paths.data_dir, getpass.getuser(), "factor_change", f"{pid} resealed: {sha}",
                             "methodology package data (factors, parameters) changed")
                print(f"{pid}  {sha}")
            return 0
        for pid in IDS:
            v = load_methodology(pid)
            print(f"{v.id}  {v.version}  {v.sha256}")
        return 0
    if args.methodology_command == "publish" and args.uri and \
            not args.uri.startswith(("http://", "https://", "file://")):
        raise A.ArgumentRefused(f"tanjian methodology publish: --uri {args.uri}: gateways fetch http://, https:// "
                                f"or file:// URLs only")
    from chain.node import NODE_DOWN_ERRORS

    try:
        return _on_chain(args, cfg, m, METHODOLOGY_REGISTRY)
    except NODE_DOWN_ERRORS as exc:  # the node is down: one line, not a traceback
        raise ChainError(f"chain node {cfg.chain.rpc_url} unreachable ({type(exc).__name__}); nothing was read or "
                         f"published") from None


def _on_chain(args, cfg, m, name) -> int:
    """The methodology sub-commands that talk to the registry."""
    w3 = connect(cfg)
    reg = registry_of(cfg, w3, name, args.contract)
    if args.methodology_command == "publish":
        v = m.publish(w3, reg, _role_sender(args), args.package_dir, args.id, args.version,
                      m.parse_when(args.effective_from),
                      m.parse_when(args.effective_to) if args.effective_to else None, uri=args.uri or "")
        audit.record(cfg.paths.data_dir, getattr(args, "author", None) or getpass.getuser(), "methodology_publish",
                     f"{v.id} {v.version} package {v.package_sha256} at {v.uri or '(no URI)'}",
                     f"effective from {args.effective_from}")
        print(f"published {v.id} {v.version}: package {v.package_sha256}, effective "
              f"{v.effective_from.isoformat()} .. {v.effective_to.isoformat() if v.effective_to else 'open'}; "
              f"fetched from {v.uri or '(no URI: gateways cannot sync it)'}")
        return 0
    if args.methodology_command == "sync":
        from chain.methodology_sync import sync

        res = sync(cfg, args.id, registry=reg, user=getattr(args, "author", None) or getpass.getuser())
        print(f"{res.version.id} {res.version.version}: {res.action} (package {res.version.package_sha256}, "
              f"from {res.version.uri}) in {res.path}")
        return 0
    when = m.parse_when(args.at) if args.at else None
    if args.methodology_command == "show":
        v = m.active(reg, args.id, when)
        if v is None:
            print(f"no version of {args.id} is effective then")
            return 1
        print(f"{v.id} {v.version}: package {v.package_sha256}, effective {v.effective_from.isoformat()} .. "
              f"{v.effective_to.isoformat() if v.effective_to else 'open'}, fetched from {v.uri or '(no URI)'}")
        return 0
    v = m.require_matching(args.package_dir, reg, args.id, when)
    print(f"{args.package_dir} is {v.id} {v.version} as published ({v.package_sha256})")
    return 0


def cmd_quota(args: argparse.Namespace) -> int:
    """Hand-enter (or, as the regulator, set on chain) and show quotas."""
    from chain.node import is_up
    from chain.quota import QuotaBook, set_on_chain
    from chain.registry import QUOTA_REGISTRY

    cfg = config_from_args(args)
    registry = None
    if args.quota_command == "show" or args.on_chain:
        w3 = connect(cfg)
        if is_up(w3) or args.on_chain:
            try:
                registry = registry_of(cfg, w3, QUOTA_REGISTRY, args.contract)
            except ChainError as exc:
                if args.on_chain:
                    raise
                print(f"note: {exc}; showing hand-entered quotas only", file=sys.stderr)
        else:
            print(f"note: chain node {cfg.chain.rpc_url} unreachable; on-chain quotas as last seen",
                  file=sys.stderr)
    book = QuotaBook(cfg.paths.chain, registry)
    if args.quota_command == "set":
        amount_kg = round(args.amount_t * 1000)
        if args.on_chain:
            set_on_chain(registry.w3, registry, _role_sender(args), args.enterprise, args.year, amount_kg,
                         args.reason)
            audit.record(cfg.paths.data_dir, getpass.getuser(), "quota_set",
                         f"{args.enterprise} {args.year} {amount_kg} kg on chain", args.reason)
            print(f"set on chain: {args.enterprise} {args.year} = {args.amount_t:g} t CO2e")
        else:
            book.set(args.enterprise, args.year, amount_kg, author=args.author, reason=args.reason)
            audit.record(cfg.paths.data_dir, args.author, "quota_set",
                         f"{args.enterprise} {args.year} {amount_kg} kg by hand", args.reason)
            print(f"hand-entered: {args.enterprise} {args.year} = {args.amount_t:g} t CO2e")
        return 0
    q = book.effective(args.enterprise, args.year)
    if q is None:
        print(f"no quota for {args.enterprise} in {args.year}")
        return 1
    how = "on chain, set by the regulator" if q.source == "chain" else "hand-entered"
    print(f"{q.enterprise} {q.year}: {q.amount_kg / 1000:g} t CO2e ({how})")
    for e in book.entries(args.enterprise, args.year):
        print(f"  {e['time']}  {e['action']:<8} {e['source']:<5} {e['amount_kg'] / 1000:>12g} t  "
              f"{e['author']}: {e['reason']}")
    return 0


def cmd_ledger_add(args: argparse.Namespace) -> int:
    """Put FILE's SHA-256 into the ledger (now when no collector holds the journal) and anchor it if possible."""
    from workspace.errors import JournalError
    from workspace.inbox import document_request, submit
    from workspace.keeper import Keeper
    from workspace.journal import Journal

    cfg = config_from_args(args)
    req = document_request(args.file, args.author, args.reason)
    path = submit(cfg.paths.inbox, req)
    try:
        journal = Journal(cfg.paths.journal, writer=True)
    except JournalError:
        print(f"{args.file}: sha256 {req['sha256']} queued ({path}); the running collector journals it at its next "
              f"cycle and its anchoring loop anchors it")
        return 0
    with journal:
        seq = Keeper.open(cfg, journal).catch_up()
    print(f"{args.file}: sha256 {req['sha256']} is ledger batch {seq}")
    if args.no_anchor:
        return 0
    try:  # anchor right after the report, when this workspace can reach its chain
        rec = anchoring_service(cfg).anchor_once()
        if rec is not None:
            print(f"anchored root {rec['root']} covering {rec['tree_size']} batches in block {rec['block_number']}")
    except Exception as exc:  # noqa: BLE001 - best effort: a node that is down, no key yet, ...
        print(f"not anchored now ({type(exc).__name__}: {str(exc)[:200]}); the anchoring loop or "
              f"`tanjian anchor --once` will")
    print(f"export and check it: `tanjian export {seq} --out DIR` then `tanjian verify DIR/batch-{seq:08d}.json "
          f"DIR/batch-{seq:08d}.proof.json --document {args.file}`")
    return 0


def add_commands(subparsers) -> None:
    """Add ``anchor``, ``export``, ``verify``, ``chain {keygen,deploy}``, ``methodology
    {publish,show,check,hash}``, ``quota {set,show}`` and ``ledger add`` to the CLI.

    Each sub-parser gets ``func`` (``args -> exit code``) as its default.
    """
    p = subparsers.add_parser("anchor")
    p.add_argument("--once", action="store_true", help="anchor once and exit")
    p.set_defaults(func=guarded(cmd_anchor))

    p = subparsers.add_parser("export")
    p.add_argument("seq", type=A.count, help="batch sequence number")
    p.add_argument("--out", type=A.path_name, required=True, help="output directory")
    p.set_defaults(func=guarded(cmd_export))

    p = subparsers.add_parser("verify")
    p.add_argument("batch_file", type=A.existing_file)
    p.add_argument("bundle_file", type=A.existing_file)
    p.add_argument("--document", type=A.existing_file, default=None,
                   help="a report (or any file) the batch records: checks that its SHA-256 is the one anchored")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--rpc", help="JSON-RPC URL of a node of the anchor's chain "
                                 "(default: the configuration's)")
    g.add_argument("--offline", action="store_true", help="only the checks that need no node")
    p.add_argument("--contract", help="the AnchorRegistry address you trust "
                                      "(fail if the bundle names another)")
    p.set_defaults(func=guarded(cmd_verify))

    p = subparsers.add_parser("chain")
    sub = p.add_subparsers(dest="chain_command", required=True)
    sub.add_parser("keygen", help="create the gateway keystore").set_defaults(func=guarded(cmd_keygen))
    sub.add_parser("deploy", help="deploy the registry, register and fund the gateway").set_defaults(
        func=guarded(cmd_deploy))
    q = sub.add_parser("rotate-key", help="a new gateway key takes over anchoring; the old one is revoked")
    q.add_argument("--reason", required=True, help="why (goes into the audit trail)")
    q.add_argument("--keystore", type=A.existing_file, help="the DeviceRegistry admin's encrypted key")
    q.add_argument("--password-file", type=A.existing_file, help="its password file (mode 0600)")
    q.add_argument("--from", dest="sender", help="the admin as an unlocked node account (dev chains; default: "
                                                 "the node's first account)")
    q.set_defaults(func=guarded(cmd_rotate_key))
    q = sub.add_parser("compile", help="recompile the contracts' committed artefacts with solcjs (developers)")
    q.add_argument("--out", type=A.path_name, default=None, help="output directory (default chain/contracts/build)")
    q.set_defaults(func=guarded(cmd_compile))

    def signer_options(q):
        q.add_argument("--keystore", type=A.existing_file, help="encrypted keystore of the role's account")
        q.add_argument("--password-file", type=A.existing_file, help="its password file (mode 0600)")
        q.add_argument("--from", dest="sender", help="unlocked node account (dev chains)")
        q.add_argument("--contract", help="registry address (default: deployment.json)")

    p = subparsers.add_parser("methodology")
    sub = p.add_subparsers(dest="methodology_command", required=True)
    q = sub.add_parser("publish", help="publish a version of a methodology package")
    q.add_argument("package_dir", type=A.existing_dir)
    q.add_argument("--id", required=True)
    q.add_argument("--version", required=True)
    q.add_argument("--effective-from", required=True, type=A.local_time, help="ISO date (00:00 UTC) or datetime with offset")
    q.add_argument("--effective-to", type=A.local_time, help="exclusive end; open-ended when omitted")
    q.add_argument("--uri", default=None, metavar="URL",
                   help="where gateways fetch the package: http(s):// or file:// URL of its tar archive "
                        "(make it with `tanjian methodology pack`); recorded on chain with the hash")
    signer_options(q)
    q = sub.add_parser("sync", help="fetch the version effective now from its URI, check its hash, activate it",
                       description="Read the version of the methodology effective now from MethodologyRegistry, "
                                   "fetch its package from the URI published with it, check the package's "
                                   "SHA-256 against the chain and activate it under DATA_DIR/methodology/ "
                                   "(accounting then uses it). A package that differs is refused and the "
                                   "refusal recorded in DATA_DIR/methodology/sync.jsonl.")
    q.add_argument("--id", default=None, help="methodology id (default: chain.methodology_id)")
    q.add_argument("--contract", help="registry address (default: deployment.json)")
    q = sub.add_parser("status", help="the package accounting uses now and whether it is the one on chain",
                       description="Which package of the methodology computes every figure (synced from the "
                                   "chain, configured, or packaged) and its on-chain status: checked ✓, offline, "
                                   "not checked, or mismatch ✗ (exit 1).")
    q.add_argument("--id", default=None, help="methodology id (default: chain.methodology_id, else "
                                              "ghg-protocol-corporate)")
    q = sub.add_parser("pack", help="write a reproducible tar archive of a package directory (to publish)")
    q.add_argument("package_dir", type=A.existing_dir)
    q.add_argument("--out", type=A.path_name, required=True, metavar="FILE.tar", help="archive to write")
    q = sub.add_parser("show", help="the version effective now (or --at)")
    q.add_argument("--id", required=True)
    q.add_argument("--at", type=A.local_time)
    q.add_argument("--contract")
    q = sub.add_parser("check", help="refuse a local package that differs from the published version")
    q.add_argument("package_dir", type=A.existing_dir)
    q.add_argument("--id", required=True)
    q.add_argument("--at", type=A.local_time)
    q.add_argument("--contract")
    q = sub.add_parser("hash", help="SHA-256 of a methodology package directory")
    q.add_argument("package_dir", type=A.existing_dir)
    q = sub.add_parser("packages", help="the packaged methodologies with their versions and hashes")
    q.add_argument("--reseal", action="store_true",
                   help="rewrite manifest.yaml of every packaged methodology (after editing one or the factor file)")
    p.set_defaults(func=guarded(cmd_methodology))

    p = subparsers.add_parser("quota")
    sub = p.add_subparsers(dest="quota_command", required=True)
    q = sub.add_parser("set", help="hand-enter a quota (or --on-chain, as the regulator)")
    q.add_argument("enterprise")
    q.add_argument("year", type=A.year)
    q.add_argument("amount_t", type=A.nonnegative, help="quota [t CO2e]")
    q.add_argument("--author", required=True)
    q.add_argument("--reason", required=True)
    q.add_argument("--on-chain", action="store_true", help="set it in the QuotaRegistry (regulator key)")
    signer_options(q)
    q = sub.add_parser("show", help="the quota that applies and its audit trail")
    q.add_argument("enterprise")
    q.add_argument("year", type=A.year)
    q.add_argument("--contract")
    q.set_defaults(on_chain=False)
    p.set_defaults(func=guarded(cmd_quota))

    lg = subparsers.add_parser("ledger")
    ls = lg.add_subparsers(dest="ledger_command", metavar="ACTION", required=True)
    x = ls.add_parser("add", help="record FILE's SHA-256 as a ledger batch, with who issued it and why")
    x.add_argument("file", type=A.existing_file)
    x.add_argument("--author", required=True, help="the person responsible for the file")
    x.add_argument("--reason", required=True, help="what it is, e.g. 'monthly GHG report 2026-11'")
    x.add_argument("--no-anchor", action="store_true", help="do not try to anchor right away")
    x.set_defaults(func=cmd_ledger_add)
