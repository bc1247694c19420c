"""``tanjian report``: GHG reports (JSON, XLSX, PDF) for a year or month, their SHA-256s ledgered."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
from pathlib import Path

from tanjian import args as A
from tanjian.args import config_from_args, guarded

log = logging.getLogger(__name__)


def _period(args) -> tuple[dt.date, dt.date]:
    if args.month:
        from workspace.business.sheets import parse_month  # --month is a valid YYYY-MM (tanjian.args.month)

        if args.date_from or args.date_to:
            raise A.ArgumentRefused(f"tanjian report: --month {args.month}: give either --month or --from/--to, "
                                    f"not both")
        return parse_month(args.month)
    if args.year:
        if args.date_from or args.date_to:
            raise A.ArgumentRefused(f"tanjian report: --year {args.year}: give either --year or --from/--to, "
                                    f"not both")
        return dt.date(args.year, 1, 1), dt.date(args.year, 12, 31)
    if args.date_from and args.date_to:
        A.period(args.date_from, args.date_to, command="report", options=("--from", "--to"), inclusive=True)
        return dt.date.fromisoformat(args.date_from), dt.date.fromisoformat(args.date_to)
    raise A.ArgumentRefused("tanjian report: say which period: --year YYYY, --month YYYY-MM, --from DATE --to DATE "
                            "(or --schedule monthly|yearly)")


def _activity(files):
    """The activity files given with --activity (all checked first: every bad row named file:row:field)."""
    from models.activity_input import read_activity_files

    return read_activity_files(files)


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
    activity = _activity(args.activity)
    measured = None
    if args.measured:
        from models.factors.measured import load_measured

        measured = load_measured(args.measured)
    if args.schedule and (args.date_from or args.date_to):
        raise A.ArgumentRefused(f"tanjian report: --schedule {args.schedule} picks the last complete period; "
                                f"give either --schedule or --from/--to, not both")
    if args.schedule:
        res = run_scheduled(cfg, args.schedule, author=args.author, activity=activity, formats=formats,
                            methodology=args.methodology, measured=measured, allow_unverified=args.allow_unverified,
                            gwp=args.gwp, level=args.level, use_store=not args.no_store,
                            layouts=layouts)
        if res is None:
            print(f"{args.schedule} report for the last period already issued; nothing to do")
            return 0
    else:
        start, end = _period(args)
        if not args.out:
            raise A.ArgumentRefused("tanjian report: --out DIR is required (except with --schedule)")
        reason = args.reason or f"GHG report {start}..{end}"
        from models.reports.content import OptionRefused, ReportDateRefused

        try:
            res = _issue(issue, cfg, start, end, args, formats, layouts, activity, measured, reason)
        except (ReportDateRefused, OptionRefused) as exc:
            raise A.ArgumentRefused(f"tanjian report: {exc}") from None
    return _print_result(res)


def _issue(issue, cfg, start, end, args, formats, layouts, activity, measured, reason):
    return issue(cfg, start, end, args.out, author=args.author, reason=reason, formats=formats,
                 layouts=layouts, methodology=args.methodology, activity=activity,
                 report_date=args.report_date, level=args.level, ledger=not args.no_ledger,
                 as_of=args.as_of, measured=measured, allow_unverified=args.allow_unverified, gwp=args.gwp,
                 use_store=not args.no_store)


def _print_result(res: dict) -> int:
    for lay, inv in res["inventories"].items():
        t = inv.get("totals", {})
        m = inv.get("methodology", {})
        chk = m.get("chain_check") or {}
        print(f"{lay}: methodology {m.get('id')} {m.get('version')} (package sha256 {m.get('sha256')}): on chain "
              f"{chk.get('label', 'not recorded')}")
        head = t.get("headline") or {}
        if head.get("tco2e") is not None:  # the methodology's 排放总量 first (compliance for the Chinese ones)
            print(f"{lay}: total ({head.get('view')}) {head['tco2e']} t CO2e")
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
    g.add_argument("--year", type=A.year, metavar="YYYY", help="calendar year (local dates)")
    g.add_argument("--month", type=A.month, metavar="YYYY-MM", help="calendar month YYYY-MM")
    g.add_argument("--schedule", choices=("monthly", "yearly"),
                   help="last complete month/year, once (idempotent marker under DATA_DIR/reports/.issued)")
    p.add_argument("--from", dest="date_from", type=A.local_date, default=None, metavar="DATE",
                   help="first day YYYY-MM-DD (inclusive; with --to, instead of --year/--month)")
    p.add_argument("--to", dest="date_to", type=A.local_date, default=None, metavar="DATE",
                   help="last day YYYY-MM-DD (inclusive)")
    p.add_argument("--format", default="xlsx,pdf,json", help="comma-separated: xlsx,pdf,json (default all)")
    p.add_argument("--layout", default="cn,iso", help="comma-separated: cn (guideline), iso (ISO 14064-1)")
    p.add_argument("--out", type=A.path_name, help="output folder")
    p.add_argument("--author", required=True, help="who issues the report (recorded in the ledger leaf)")
    p.add_argument("--reason", default=None, help="why (default: 'GHG report START..END')")
    p.add_argument("--methodology", default=None, metavar="ID",
                   help="methodology package for all layouts (default: cn-machinery-2015 for cn, "
                        "iso-14064-1-2018 for iso); the active package of that id computes (synced from the "
                        "chain, configured, or packaged) and the report says whether it was checked on chain")
    p.add_argument("--activity", type=A.existing_file, action="append", metavar="FILE",
                   help="activity-data file (CSV or XLSX; repeatable) to include; checked before anything is "
                        "computed")
    p.add_argument("--measured", type=A.existing_file, default=None, metavar="FILE",
                   help="CSV of the plant's measured factors (lab values), as for `tanjian inventory`")
    p.add_argument("--allow-unverified", action="store_true",
                   help="accept factor rows whose status is 'unverified' (each line using one lists it); "
                        "without it such an inventory stops and lists them, as `tanjian inventory` does")
    p.add_argument("--gwp", default=None, metavar="SET",
                   help="GWP set (AR4, AR5, AR6) where the methodology allows a choice; default the package's")
    p.add_argument("--no-store", action="store_true", help="do not read the store (activity files only)")
    p.add_argument("--level", default="source", choices=("source", "workshop", "device", "plant"),
                   help="inventory line level (default source)")
    p.add_argument("--report-date", default=None, type=A.local_date,
                   help="date printed (default: the day after the period, or the newest cited source's "
                        "publication date when later; an earlier date is refused)")
    p.add_argument("--as-of", default=None, metavar="SNAPSHOT",
                   help="store snapshot id to read (default newest); the snapshot a report names regenerates it "
                        "byte for byte")
    p.add_argument("--no-ledger", action="store_true", help="write the files only")
    p.set_defaults(func=guarded(cmd_report))
