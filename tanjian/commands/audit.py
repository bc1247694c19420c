"""``tanjian audit show | verify | export``: the audit trail (:mod:`workspace.audit`).

    tanjian audit show [--last N] [--user U] [--action A]
    tanjian audit verify            every entry, link and the heads journaled for the ledger
    tanjian audit export --out FILE [--format jsonl|csv]   (verified first; refused when it does not verify)
"""

from __future__ import annotations

import argparse
import sys

from tanjian.args import config_from_args


def _verified(cfg):
    from workspace import audit

    return audit.verify(cfg.paths.data_dir, anchored=audit.journal_heads(cfg.paths.journal))


def cmd_show(args: argparse.Namespace) -> int:
    from workspace import audit

    cfg = config_from_args(args)
    rows = [e for _, e in audit.entries(cfg.paths.data_dir)
            if (args.user is None or e.get("user") == args.user)
            and (args.action is None or e.get("action") == args.action)]
    if args.last:
        rows = rows[-args.last:]
    if not rows:
        print(f"no audit entries in {audit.trail_path(cfg.paths.data_dir)}")
    for e in rows:
        reason = f"  ({e.get('reason')})" if e.get("reason") else ""
        print(f"{e.get('n'):>6}  {e.get('time')}  {e.get('user'):<14} {e.get('action'):<18} {e.get('what')}{reason}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from workspace import audit

    cfg = config_from_args(args)
    try:
        anchored = audit.journal_heads(cfg.paths.journal)
        h = audit.verify(cfg.paths.data_dir, anchored=anchored)
    except audit.AuditError as exc:
        print(f"tanjian audit verify: FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"audit trail verifies: {h.size} entries, head {h.hash}; {len(anchored)} head(s) in the ledger match"
          + (f" (newest: entry {max(anchored)})" if anchored else ""))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    import csv
    import io
    import json

    from workspace import audit
    from workspace.fsutil import write_atomic

    cfg = config_from_args(args)
    try:
        h = _verified(cfg)
    except audit.AuditError as exc:
        print(f"tanjian audit export: refused, the trail does not verify: {exc}", file=sys.stderr)
        return 1
    rows = [e for _, e in audit.entries(cfg.paths.data_dir)]
    if args.format == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["n", *audit.FIELDS, "prev", "hash"])
        for e in rows:
            w.writerow([e["n"], *(e[k] for k in audit.FIELDS), e["prev"], e["hash"]])
        data = buf.getvalue().encode("utf-8")
    else:
        data = b"".join(audit.canonical(e) + b"\n" for e in rows)
    write_atomic(args.out, data, what="exporting the audit trail")
    print(f"{args.out}: {len(rows)} entries, head {h.hash}")
    if args.format == "jsonl":
        print(json.dumps({"entries": len(rows), "head": h.hash}))
    return 0


def add_commands(subparsers) -> None:
    """Add ``audit {show,verify,export}``."""
    from tanjian.args import path_name

    p = subparsers.add_parser("audit", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    s = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    x = s.add_parser("show", help="the entries, oldest first")
    x.add_argument("--last", type=int, default=0, help="only the newest N entries")
    x.add_argument("--user", help="only this user's entries")
    x.add_argument("--action", help="only this action (login, correction, quota_set, ...)")
    x.set_defaults(func=cmd_show)
    x = s.add_parser("verify", help="check every entry and link; name the entry and field that were edited")
    x.set_defaults(func=cmd_verify)
    x = s.add_parser("export", help="write the verified trail to a file")
    x.add_argument("--out", type=path_name, required=True, help="file to write")
    x.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    x.set_defaults(func=cmd_export)
