"""Business files: ``tanjian import`` and ``tanjian reconcile``, added to ``tanjian`` by :func:`add_commands`.

::

    tanjian import FILE --mapping NAME [--accept-good-rows] [--supersedes SHA] [--author A] [--reason R]
    tanjian import list
    tanjian reconcile --month YYYY-MM

Every handler takes the parsed ``args`` and returns an exit code; a :class:`workspace.errors.TanjianError`
(e.g. a file with bad rows) is printed by ``tanjian`` itself with exit code 2.
"""

from __future__ import annotations

import argparse
import getpass
import math
from pathlib import Path

from tanjian import args as A
from tanjian.args import config_from_args

IMPORT_EPILOG = """\
The mapping (imports: in tanjian.yaml) says which of the file's columns give which record field.
A file with any bad row is refused whole; every problem is listed as file:row:column: message.
With --accept-good-rows the good rows are imported and the bad ones listed and left out (the import
document records them). Importing the same bytes again changes nothing. Each imported file is kept in
the evidence store by its SHA-256 and its hash is queued for the ledger.

A corrected (re-issued) invoice is imported as a new file with --supersedes OLD_SHA (at least 8 hex
digits, see `tanjian import list`): from then on only the new file's records count.

Examples:
  tanjian import erp-production-2026-10.csv --mapping erp_production
  tanjian import settlement-2026-10.xlsx --mapping power_statement --author 王工
  tanjian import list
"""


def cmd_import(args: argparse.Namespace) -> int:
    """Import a business file, or list the imported ones (``tanjian import list``)."""
    from workspace.business.imports import import_file

    cfg = config_from_args(args)
    if str(args.file) == "list" and not Path(args.file).exists():
        return cmd_import_list(cfg)
    if not args.mapping:
        names = ", ".join(sorted(cfg.imports)) or "none configured"
        raise A.ArgumentRefused(f"tanjian import: --mapping NAME is needed (mappings in {cfg.source}: {names})")
    r = import_file(cfg, args.file, args.mapping, author=args.author, reason=args.reason,
                    accept_good_rows=args.accept_good_rows, supersedes=args.supersedes,
                    keep_repeated=args.keep_repeated)
    if r.status == "already" and r.repeated:
        print(f"{Path(args.file).name}: every record was imported before; nothing changed:")
        for line in r.repeated:
            print(f"  {line}")
        return 0
    if r.status == "already":
        print(f"{Path(args.file).name}: already imported on {r.imported_at} by {r.author} "
              f"(sha256 {r.sha256}); nothing changed")
        return 0
    print(f"{Path(args.file).name}: {r.records} record(s) imported (sha256 {r.sha256})")
    print(f"  document {r.document}; file kept as evidence; its hash is queued for the ledger")
    if r.repeated:
        print(f"  {len(r.repeated)} record(s) left out, imported before (if this file re-issues an imported "
              f"one: --supersedes SHA; if they are new records equal to old ones: --keep-repeated):")
        for line in r.repeated:
            print(f"    {line}")
    if r.rejected:
        print(f"  {len(r.rejected)} bad row problem(s) left out (--accept-good-rows):")
        for line in r.rejected:
            print(f"    {line}")
    return 0


def cmd_import_list(cfg) -> int:
    """Print one line per imported file."""
    from workspace.business.imports import list_imports

    rows = list_imports(cfg.paths.data_dir)
    if not rows:
        print(f"no file imported under {cfg.paths.data_dir}")
        return 0
    print(f"{'imported (UTC)':25} {'sha256':12} {'mapping':16} {'records':>7} {'bad':>4}  file")
    for r in rows:
        extra = ""
        if r["superseded_by"]:
            extra += f"  [superseded by {r['superseded_by'][:12]}]"
        if r["supersedes"]:
            extra += f"  [supersedes {r['supersedes'][:12]}]"
        print(f"{(r['time'] or '?')[:19] + 'Z':25} {r['sha256'][:12]} {r['mapping'] or '?':16} {r['records']:>7} "
              f"{r['rejected']:>4}  {r['file']}{extra}")
    return 0


def _num(x: float, fmt: str) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def cmd_reconcile(args: argparse.Namespace) -> int:
    """Print bill, metered and difference per time-of-use period for the month's statement."""
    from tanjian.startup import lazy_duck_arrays
    from workspace.business.reconcile import reconcile

    lazy_duck_arrays()

    cfg = config_from_args(args)
    t = reconcile(cfg, args.month)
    a = t.attrs
    print(f"electricity statement {a['period_start']} … {a['period_end']} ({', '.join(a['sources'])}) against "
          f"the plant's top meters; metered coverage {a['coverage']:.1%}")
    print(f"{'period':8} {'bill kWh':>14} {'metered kWh':>14} {'diff kWh':>12} {'diff %':>8}")
    for p, r in t.iterrows():
        print(f"{p:8} {_num(r.bill_kwh, ',.1f'):>14} {_num(r.metered_kwh, ',.1f'):>14} "
              f"{_num(r.difference_kwh, ',.1f'):>12} {_num(r.difference_pct, '.2f'):>8}")
    if "primary" not in a["tou_status"]:
        print(f"note: the {a['region']} time-of-use hours are {'/'.join(a['tou_status'])} "
              f"(schedule {a['schedule']}, workspace/data/tariffs/): the split per period is indicative, the total "
              f"is not affected")
    return 0


def add_commands(subparsers) -> None:
    """Add ``import`` and ``reconcile`` to the CLI."""
    p = subparsers.add_parser(
        "import",
        description="Import a CSV/XLSX business file into activity records with a configured mapping, or "
                    "list the imported files (tanjian import list).",
        epilog=IMPORT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", type=A.path_name, help="the CSV or XLSX file, or 'list'")
    p.add_argument("--mapping", "-m", help="name of the mapping under imports: in the configuration")
    p.add_argument("--accept-good-rows", action="store_true",
                   help="import the good rows of a file with bad rows (the bad ones are listed and left out)")
    p.add_argument("--supersedes", metavar="SHA", help="hash of an imported file this one corrects")
    p.add_argument("--keep-repeated", action="store_true",
                   help="import records equal to records imported before (default: left out, listed by row)")
    p.add_argument("--author", default=getpass.getuser(), help="who imports (default: the login name)")
    p.add_argument("--reason", default=None, help="why (default: 'import of FILE with mapping NAME')")
    p.set_defaults(func=cmd_import)

    p = subparsers.add_parser(
        "reconcile",
        description="Compare the month's imported electricity settlement statement (kWh per time-of-use "
                    "period) with the energy of the plant's top electricity meters over the statement's "
                    "billing period, each local hour assigned to its period by the plant tariff's time-of-use "
                    "schedule (site.plant.tariff; workspace/data/tariffs/). "
                    "difference = metered - bill; difference % = difference / bill x 100.")
    p.add_argument("--month", required=True, type=A.month, help="YYYY-MM of the statement")
    p.set_defaults(func=cmd_reconcile)
