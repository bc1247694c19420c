"""``tanjian backup --out FILE`` and ``tanjian restore FILE --into DIR`` (:mod:`workspace.backup`).

A restore goes into an empty folder and is checked: every file against the backup's manifest, the Merkle root
of every recorded anchor recomputed from the restored journal, each root looked up on the chain when its node
answers (``--offline``: skip), the audit trail verified. Point ``paths.data_dir`` (or ``--data-dir``) at the
restored folder afterwards.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from tanjian.args import config_from_args, path_name


def cmd_backup(args) -> int:
    from workspace.backup import backup

    cfg = config_from_args(args)
    if cfg.paths.store_url is not None:
        print(f"note: the store is on object storage ({cfg.paths.store_url}): back it up there; this backup holds "
              f"the journal, from which the store can be re-folded", file=sys.stderr)
    r = backup(cfg.paths.data_dir, args.out, by=args.by)
    m = r.manifest
    a = m["anchor"]
    print(f"{r.path}: {r.files} files, {r.bytes} bytes, sha256 {r.sha256}")
    print(f"  journal {m['journal_batches']} batches; audit trail through entry {m['audit_head']['n']}; "
          + (f"newest anchor covers {a['tree_size']} batches (root {a['root']})" if a else "no anchor yet")
          + ("; HOT: the collector was running" if m["hot"] else ""))
    return 0


def roots_on_chain(w3, anchors: list[dict]) -> tuple[int, list[str]]:
    """How many of the anchors' roots the chain's AnchorRegistry holds, and the problems (empty when all)."""
    from web3 import Web3

    from chain.deploy import registry

    ok, problems = 0, []
    for a in anchors:
        reg = registry(w3, Web3.to_checksum_address(a["contract"]))
        block = reg.functions.anchorOf(bytes.fromhex(a["root"][2:])).call()[0]
        if block == 0:
            problems.append(f"root {a['root']} ({a['tree_size']} batches) is not anchored in {a['contract']}")
        else:
            ok += 1
    return ok, problems


def cmd_restore(args) -> int:
    from chain.merkle import leaf_hash, root_from_hashes
    from workspace.backup import restore

    cfg = config_from_args(args)
    r = restore(args.archive, args.into, (leaf_hash, root_from_hashes), by=args.by)
    print(f"restored {r.files} files into {r.data_dir}; every file matches the manifest")
    for a in r.anchors:
        print(f"  anchor of {a['tree_size']} batches: root recomputed from the journal {a['recomputed']} = recorded")
    print(f"  audit trail verifies: {r.audit_entries} entries")
    if r.anchors and not args.offline:
        try:
            from chain.node import connect, is_up

            w3 = connect(cfg.chain.rpc_url, timeout=5.0)
            if not is_up(w3):
                raise ConnectionError(f"{cfg.chain.rpc_url} does not answer")
            ok, problems = roots_on_chain(w3, r.anchors)
        except Exception as exc:  # noqa: BLE001 - node down, no contract: say so, the local check stands
            print(f"  chain {cfg.chain.rpc_url} not consulted ({type(exc).__name__}: {str(exc)[:120]}); "
                  f"run `tanjian verify` on exported batches later")
        else:
            for p in problems:
                print(f"  FAIL: {p}", file=sys.stderr)
            if problems:
                return 1
            print(f"  on chain: {ok} of {len(r.anchors)} roots anchored, as recorded")
    print(f"use it: tanjian --data-dir {r.data_dir} status")
    return 0


def add_commands(sub) -> None:
    """Add ``backup`` and ``restore``."""
    x = sub.add_parser("backup", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    x.add_argument("--out", type=path_name, required=True, help="the .tar.gz to write (outside the data folder)")
    x.add_argument("--by", default=getpass.getuser(), help="who takes it (audit trail; default: the login name)")
    x.set_defaults(func=cmd_backup)
    x = sub.add_parser("restore", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    x.add_argument("archive", type=path_name, help="a backup written by `tanjian backup`")
    x.add_argument("--into", type=path_name, required=True, help="an empty or new folder")
    x.add_argument("--offline", action="store_true", help="do not ask the chain about the anchored roots")
    x.add_argument("--by", default=getpass.getuser(), help="who restores (audit trail; default: the login name)")
    x.set_defaults(func=cmd_restore)
