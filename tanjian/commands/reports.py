"""``tanjian report``: GHG reports (JSON, XLSX, PDF) for a year or month, their SHA-256s ledgered."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from pathlib import Path

from tanjian import args as A
from tanjian.args import config_from_args, guarded

log = logging.getLogger(__name__)


def _period(args) -> tuple[dt.date, dt.date]:
    if args.month:
        from workspace.business.sheets import parse_month  # --month is a valid YYYY-MM (tanjian.args.month)

        return parse_month(args.month)
    if args.year:
        return dt.date(args.year, 1, 1), dt.date(args.year, 12, 31)
    raise A.ArgumentRefused("tanjian report: say which period: --year YYYY or --month YYYY-MM (or --schedule "
                            "monthly|yearly)")


def _list(text: str, allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    items = tuple(x.strip() for x in text.split(",") if x.strip())
    bad = [x for x in items if x not in allowed]
    if bad or not items:
        raise A.ArgumentRefused(f"tanjian report: --{what} {text}: expected a comma-separated subset of "
                                f"{','.join(allowed)}")
    return items


def cmd_report(args: argparse.Namespace) -> int:
    """Write the reports and ledger their hashes."""
    from models.reports import FORMATS, LAYOUTS
    from models.reports.issue import issue, run_scheduled
    from tanjian.startup import lazy_duck_arrays

    lazy_duck_arrays()

    cfg = config_from_args(args)
    formats = _list(args.format, FORMATS, "format")
    layouts = _list(args.layout, LAYOUTS, "layout")
    activity = None
    if args.activity:
        from models.activity_input import read_activity_file

        activity = read_activity_file(args.activity)
    if args.schedule:
        res = run_scheduled(cfg, args.schedule, author=args.author, activity=activity, formats=formats,
                            layouts=layouts)
        if res is None:
            print(f"{args.schedule} report for the last period already issued; nothing to do")
            return 0
    else:
        start, end = _period(args)
        if not args.out:
            print("error: --out DIR is required (except with --schedule)", file=sys.stderr)
            return 1
        reason = args.reason or f"GHG report {start}..{end}"
        res = issue(cfg, start, end, args.out, author=args.author, reason=reason, formats=formats,
                    layouts=layouts, methodology=args.methodology, activity=activity,
                    report_date=args.report_date, level=args.level, ledger=not args.no_ledger,
                    as_of=args.as_of)
    for lay, inv in res["inventories"].items():
        t = inv.get("totals", {})
        m = inv.get("methodology", {})
        print(f"{lay}: {m.get('id')} {m.get('version')}: scope 1 {t.get('scope1', {}).get('tco2e')} t, scope 2 "
              f"location {t.get('scope2_location', {}).get('tco2e')} t / market "
              f"{t.get('scope2_market', {}).get('tco2e')} t, scope 3 {t.get('scope3', {}).get('tco2e')} t CO2e")
    led = {r["name"]: r for r in res["ledger"]}
    for p in res["files"]:
        r = led.get(p.name)
        where = ("" if r is None else f"  ledger batch {r['batch']}" if r["batch"] is not None
                 else "  queued for the collector")
        import hashlib

        print(f"{hashlib.sha256(Path(p).read_bytes()).hexdigest()}  {p}{where}")
    if res["sums"]:
        print(f"SHA-256s recorded in {res['sums']}")
    if res["ledger"]:
        print("anchor with `tanjian anchor --once` (or let the anchoring loop do it); check a copy with "
              "`tanjian export SEQ --out DIR` then `tanjian verify ... --document FILE`")
    return 0



def add_commands(subparsers) -> None:
    """Add ``report`` to the CLI."""
    p = subparsers.add_parser(
        "report",
        description="Compute the inventory of the period from the store (and --activity), write the reports "
                    "in the Chinese guideline's structure (cn) and as an ISO 14064-1 GHG report (iso), record "
                    "their SHA-256s in OUT/SHA256SUMS and put each into the ledger as a document leaf naming "
                    "--author. The same inputs give byte-identical files.",
        epilog="Schedule (cron, plant local time): `20 0 1 * * tanjian report --schedule monthly --author "
               "scheduler` writes last month's reports once into DATA_DIR/reports/YYYY-MM.")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--year", type=A.year, help="calendar year")
    g.add_argument("--month", type=A.month, help="calendar month YYYY-MM")
    g.add_argument("--schedule", choices=("monthly", "yearly"),
                   help="last complete month/year, once (idempotent marker under DATA_DIR/reports/.issued)")
    p.add_argument("--format", default="xlsx,pdf,json", help="comma-separated: xlsx,pdf,json (default all)")
    p.add_argument("--layout", default="cn,iso", help="comma-separated: cn (guideline), iso (ISO 14064-1)")
    p.add_argument("--out", type=A.path_name, help="output folder")
    p.add_argument("--author", required=True, help="who issues the report (recorded in the ledger leaf)")
    p.add_argument("--reason", default=None, help="why (default: 'GHG report START..END')")
    p.add_argument("--methodology", default=None,
                   help="methodology package for all layouts (default: cn-machinery-2015 for cn, "
                        "iso-14064-1-2018 for iso)")
    p.add_argument("--activity", type=A.existing_file, default=None, help="activity-data file (CSV/XLSX) to include")
    p.add_argument("--level", default="source", choices=("source", "workshop", "device", "plant"),
                   help="inventory line level (default source)")
    p.add_argument("--report-date", default=None, type=A.local_date, help="date printed (default: the day after the period)")
    p.add_argument("--as-of", default=None,
                   help="store snapshot id to read (default newest); the snapshot a report names regenerates it "
                        "byte for byte")
    p.add_argument("--no-ledger", action="store_true", help="write the files only")
    p.set_defaults(func=guarded(cmd_report))
