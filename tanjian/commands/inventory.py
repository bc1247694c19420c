"""Accounting: ``tanjian kpi``, ``tanjian inventory`` and ``tanjian footprint``, added by :func:`add_commands`.

::

    tanjian kpi [--as-of SNAPSHOT]

    tanjian inventory --year 2026 | --from DATE --to DATE [--methodology ID] [--level LEVEL]
                      [--activity FILE ...] [--as-of SNAPSHOT] [--measured FILE] [--no-store]
                      [--allow-unverified] [--gwp SAR|AR4|AR5|AR6] [--json] [--restate-with FACTORS.csv]
    tanjian footprint --month YYYY-MM [--activity FILE ...] [--methodology ID] [--json]

Activity files are validated first: a bad row is an error naming file:row:field and nothing is
computed. A source with no factor valid for its period is an error naming factor and period.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tanjian import args as A
from tanjian.args import config_from_args, guarded, open_store
from workspace.errors import TanjianError

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)



def _period(args) -> tuple[dt.date, dt.date]:
    if args.month:
        from workspace.business.sheets import parse_month  # --month is a valid YYYY-MM (tanjian.args.month)

        return parse_month(args.month)
    if args.year is not None:
        if args.date_from or args.date_to:
            raise A.ArgumentRefused(f"tanjian {args.command}: --year {args.year}: give either --year or "
                                    f"--from/--to, not both")
        return dt.date(args.year, 1, 1), dt.date(args.year, 12, 31)
    if not (args.date_from and args.date_to):
        raise A.ArgumentRefused(f"tanjian {args.command}: give --year YYYY or both --from DATE and --to DATE")
    A.period(args.date_from, args.date_to, command=args.command, options=("--from", "--to"), inclusive=True)
    try:
        start, end = dt.date.fromisoformat(args.date_from), dt.date.fromisoformat(args.date_to)
    except ValueError as exc:
        raise TanjianError(f"--from/--to: {exc}") from None
    return start, end


def _activity(files):
    """The activity files given with --activity (all checked first: every bad row named file:row:field)."""
    from models.activity_input import read_activity_files

    return read_activity_files(files)


def _store_and_site(args):
    """(store, site, cfg): the configured store and site; store None when absent or --no-store."""
    try:
        cfg = config_from_args(args)
    except TanjianError:
        if args.activity:
            return None, None, None
        raise
    if args.no_store:
        return None, cfg.site, cfg
    if isinstance(cfg.paths.store, Path) and not cfg.paths.store.exists():
        if args.activity:
            log.info("no store at %s: computing from the activity file(s) only", cfg.paths.store)
            return None, cfg.site, cfg
    return open_store(cfg), cfg.site, cfg


def _active(cfg, methodology_id: str):
    """(package, guard result): the active package of the methodology (synced, configured or packaged), refused
    when it differs from the version published on chain (models.guarded, chain.methodology.guard)."""
    from models.guarded import active_methodology, describe

    meth, g = active_methodology(cfg, methodology_id)
    log.info("%s", describe(meth, g))
    return meth, g


def _compute(args, start, end, level):
    from models.activity_input import load_activity
    from models.factors.measured import load_measured
    from models.inventory import compute_inventory

    activity = _activity(args.activity)
    store, site, cfg = _store_and_site(args)
    if activity is None and cfg is not None:
        # invoices, statements and hand vouchers imported into <data_dir>/activity/ by `tanjian import`, and a
        # stock-take dated the day before the period (it counts as the opening stock)
        eve = start - dt.timedelta(days=1)
        activity = load_activity(cfg.paths.data_dir, eve, end)
        if not activity.empty:
            keep = [(e >= start) or (s == e == eve and m in ("opening_stock", "closing_stock"))
                    for s, e, m in zip(activity["period_start"], activity["period_end"], activity["movement"])]
            activity = activity[keep].reset_index(drop=True)
        log.info("read %d activity record(s) from %s/activity", len(activity), cfg.paths.data_dir)
    measured = load_measured(args.measured) if args.measured else None
    meth, args.guarded = _active(cfg, args.methodology)
    from models.packages import GwpRefused

    try:
        return compute_inventory(start, end, methodology=meth, store=store, activity=activity, site=site,
                                 as_of=args.as_of, level=level, measured=measured,
                                 allow_unverified=args.allow_unverified, gwp=getattr(args, "gwp", None))
    except GwpRefused as exc:  # the option, not the data: a usage error (exit 2)
        raise A.ArgumentRefused(f"tanjian {args.command}: --gwp {args.gwp}: {exc}") from None


def _print_inventory(inv, guarded=None) -> None:
    c = inv.to_canonical()
    m = c["methodology"]
    if guarded is not None:
        print(f"# methodology {m['id']} {m['version']} (package sha256 {m['sha256']}): on chain {guarded.label}")
    print(f"GHG inventory {c['period']['start']}..{c['period']['end']}  plant {c['plant']['id']}  "
          f"methodology {m['id']} {m['version']} ({m['sha256'][:12]})  factors {c['factor_library']['sha256'][:12]}"
          f"  store {c['store_snapshot'] or '-'}")
    print(f"{'source':<26}{'item':<16}{'workshop':<10}{'scope':>5}{'ISO':>4}{'activity':>16} {'unit':<11}"
          f"{'tCO2e':>14}{'±%':>7}")
    for ln in c["lines"]:
        print(f"{ln['source']:<26}{ln['item']:<16}{(ln['workshop'] or '-'):<10}{ln['scope']:>5}{ln['category']:>4}"
              f"{ln['activity']['quantity']:>16} {ln['activity']['unit']:<11}{ln['tco2e']:>14}"
              f"{ln['uncertainty_pct']:>7}")
    t = c["totals"]
    v = c["views"]

    def factors(view):
        return ", ".join(f"{g['factor_id']} {g['value']} {g['unit']} ({g['source']})" for g in view.get("grid_factors", []))

    comp = v["compliance"]
    comp_line = (f"{comp['total_tco2e']} t  [{factors(comp)}]" if comp["available"]
                 else "unavailable: " + comp["reason"])
    rows = {"compliance": f"compliance total {comp_line}\n    {comp['label']}",
            "location_based": f"location-based total {v['location_based']['total_tco2e']} t  "
                              f"[{factors(v['location_based'])}]\n    {v['location_based']['label']}",
            "market_based": f"market-based total {v['market_based']['total_tco2e']} t  "
                            f"[{factors(v['market_based'])}]\n    {v['market_based']['label']}"}
    head = m["headline"]
    print(f"HEADLINE ({head}, GWP {m['gwp_set'].upper()}): {t['headline']['tco2e'] or '-'} tCO2e")
    for k in [head] + [k for k in rows if k != head]:
        print(rows[k])
    print(f"scope 1 {t['scope1']['tco2e']} t (±{t['scope1']['uncertainty_pct']}%);  scope 2 location-based "
          f"{t['scope2_location']['tco2e']} t, market-based {t['scope2_market']['tco2e']} t")
    print(f"scope 3 {t['scope3']['tco2e']} t;  offsets {c['offsets']['total_tco2e']} t (not netted)")
    onsite = sorted({ln["activity"]["origin"] for ln in c["lines"]
                     if str(ln["activity"]["origin"]).startswith("store:onsite ")})
    for o in onsite:  # where the on-site generation and export figures came from
        print(f"on-site generation and export from the store's meters {o.removeprefix('store:onsite ')}")
    for u in c["activity_unused"]:
        print(f"not used: {u['file']}:{u['row'] if u['row'] is not None else '-'} {u['kind']} {u['item']}: "
              f"{u['reason']}")


def cmd_kpi(args) -> int:
    """Energy and CO2e today, yesterday, this month and this year (location-based), with the active package."""
    from models.guarded import describe
    from models.kpi import plant_kpis

    cfg = config_from_args(args)
    meth, g = _active(cfg, args.methodology)
    df = plant_kpis(open_store(cfg), as_of=args.as_of, methodology=meth)
    print(f"# {describe(meth, g)}")
    print(f"# {cfg.site.plant.name}: location-based, snapshot {df.attrs['snapshot']}, now {df.attrs['now']}")
    print(df.to_string(float_format=lambda v: f"{v:,.1f}"))
    print("# factors: " + "; ".join(df.attrs["factor_ids"]))
    return 0


def cmd_inventory(args) -> int:
    """Compute and print the inventory (or a restatement with another factor file)."""
    from models.factors import FactorLibrary
    from models.inventory import restate

    start, end = _period(args)
    inv = _compute(args, start, end, args.level)
    if args.restate_with:
        table = restate(inv, FactorLibrary.load(args.restate_with))
        if args.json:
            out = table.assign(period_start=table.period_start.astype(str), period_end=table.period_end.astype(str))
            print(json.dumps({"old_library_sha256": table.attrs["old_library_sha256"],
                              "new_library_sha256": table.attrs["new_library_sha256"],
                              "lines": out.to_dict("records")}, ensure_ascii=False, indent=1, default=str))
        else:
            import pandas as pd

            with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_colwidth", 90):
                print(table.to_string(index=False))
            print(f"total difference {table['difference_tco2e'].sum():+.3f} tCO2e")
        return 0
    if args.json:
        import rfc8785

        c = inv.to_canonical()
        if getattr(args, "guarded", None) is not None:  # whether the package was checked on chain
            c["methodology"]["chain_check"] = args.guarded.as_dict()
        sys.stdout.buffer.write(rfc8785.dumps(c) + b"\n")
    else:
        _print_inventory(inv, getattr(args, "guarded", None))
    return 0


def cmd_footprint(args) -> int:
    """Product carbon footprint (gate to gate) for a month."""
    from models.footprint import footprint

    start, end = _period(args)
    inv = _compute(args, start, end, "workshop")
    table = footprint(inv)
    g = getattr(args, "guarded", None)
    if g is not None:
        table.attrs["methodology_check"] = g.as_dict()
    if args.json:
        m = inv.methodology
        print(json.dumps({"methodology": {"id": m.id, "version": m.version, "sha256": m.sha256,
                                          "chain_check": None if g is None else g.as_dict()},
                          "products": table.to_dict("records")}, ensure_ascii=False, indent=1))
    else:
        if g is not None:
            m = inv.methodology
            print(f"# methodology {m.id} {m.version} (package sha256 {m.sha256}): on chain {g.label}")
        print(table.to_string(index=False))
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--methodology", default="ghg-protocol-corporate", metavar="ID",
                   help="methodology package id: cn-machinery-2015, gbt-32151.29-2024, ghg-protocol-corporate "
                        "(default), iso-14064-1-2018")
    p.add_argument("--activity", type=A.existing_file, action="append", metavar="FILE",
                   help="activity-data file (CSV or XLSX; repeatable); checked before anything is computed. "
                        "Default: every file in <data_dir>/activity/")
    p.add_argument("--as-of", default=None, metavar="SNAPSHOT", help="store snapshot id or tag to read")
    p.add_argument("--measured", type=A.existing_file, default=None, metavar="FILE", help="CSV of the plant's measured factors (lab values)")
    p.add_argument("--no-store", action="store_true", help="do not read the store (activity files only)")
    p.add_argument("--allow-unverified", action="store_true",
                   help="accept factor rows whose status is 'unverified' (values not yet confirmed against their "
                        "cited source; see models/data/emission-factors.csv). Without it, an inventory that needs "
                        "such a row stops and lists every one (id, value, file line, why) and nothing is computed; "
                        "with it, each line using one lists the row with status 'unverified' among its factors "
                        "(JSON and reports). Scope 3 upstream factors are always accepted and labelled")
    p.add_argument("--gwp", default=None, type=str.upper, choices=("SAR", "AR4", "AR5", "AR6"), metavar="SET",
                   help="IPCC GWP set (SAR, AR4, AR5, AR6) where the methodology allows it; default: the "
                        "methodology's own (cn-machinery-2015: SAR only; gbt-32151.29-2024: AR5, AR6; "
                        "ghg-protocol-corporate and iso-14064-1-2018: AR4, AR5, AR6). Refused, with the reason, "
                        "where the methodology does not allow it")
    p.add_argument("--json", action="store_true", help="print canonical JSON (RFC 8785)")


INVENTORY_EPILOG = """\
unverified factors:
  Some factor rows are marked status 'unverified' in models/data/emission-factors.csv (the value
  could not be confirmed in its cited source, e.g. raw_coal_ncv, the raw-coal default as recalled
  from the NDRC guidelines' table). An inventory that needs one stops with the list of every such row it
  needs (id, value, line in the file, why it is unverified) and computes nothing. To accept them
  knowingly, add --allow-unverified: the rows are then used and each line shows them with status
  'unverified' among its factors. Or give the plant's own value with --measured FILE.

examples:
  tanjian inventory --year 2026 --level workshop
  tanjian inventory --year 2025 --level device --json > inventory-2025.json
  # desk work from the example activity file, the Chinese guideline's compliance total first
  tanjian inventory --year 2025 --no-store --activity docs/examples/plant18-activity-2025.csv \\
      --methodology cn-machinery-2015
  # the same under the GHG Protocol with the AR6 GWPs
  tanjian inventory --year 2025 --no-store --activity docs/examples/plant18-activity-2025.csv \\
      --methodology ghg-protocol-corporate --gwp AR6

levels: source (default) | workshop (each workshop's main meters) | device (each device's own meter,
  plus each workshop's "unmetered remainder": its main meters minus its device meters) | plant;
  every level has the same total.
"""


def add_commands(subparsers) -> None:
    """Add ``kpi``, ``inventory`` and ``footprint`` to the CLI."""
    x = subparsers.add_parser("kpi", description="Energy and location-based CO2e today, yesterday, this month and "
                                                 "this year, with the active methodology package (checked on "
                                                 "chain when the configuration pins it).")
    x.add_argument("--as-of", default=None, metavar="SNAPSHOT", help="store snapshot id or tag to read")
    x.add_argument("--methodology", default=None, metavar="ID",
                   help="methodology package id (default: chain.methodology_id, else ghg-protocol-corporate)")
    x.set_defaults(func=cmd_kpi)

    p = subparsers.add_parser("inventory",
                              description="GHG inventory from the store's meters and activity files, under a "
                                          "versioned methodology package.",
                              epilog=INVENTORY_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--year", type=A.year, default=None, metavar="YYYY", help="calendar year (local dates)")
    p.add_argument("--from", dest="date_from", type=A.local_date, default=None, metavar="DATE", help="first day YYYY-MM-DD (inclusive)")
    p.add_argument("--to", dest="date_to", type=A.local_date, default=None, metavar="DATE", help="last day YYYY-MM-DD (inclusive)")
    p.add_argument("--level", default="source", choices=("source", "workshop", "device", "plant"),
                   help="granularity of the lines (default: source)")
    p.add_argument("--restate-with", type=A.existing_file, default=None, metavar="FACTORS.csv",
                   help="factor CSV to restate with: old and new side by side, with the reason per line")
    _common(p)
    p.set_defaults(func=guarded(cmd_inventory), month=None)

    p = subparsers.add_parser("footprint")
    p.add_argument("--month", required=True, type=A.month, metavar="YYYY-MM", help="YYYY-MM")
    _common(p)
    p.set_defaults(func=guarded(cmd_footprint), year=None, date_from=None, date_to=None)
