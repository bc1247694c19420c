"""``tanjian allowance status``: the year's allowance, monthly settlement, forecast, alarm and green share.

Emissions are the year-to-date inventory of the active methodology package (every source it counts, at
its headline total), green share from the imported certificates and contracts; see :mod:`models.quota`.

The allowance itself is entered with ``tanjian quota set`` (:mod:`tanjian.commands.chain`: hand-entered with author and
reason, or by the regulator on chain); this command only reads it. It is a separate command
(``allowance``) so that ``tanjian quota`` stays the chain module's.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from tanjian import args as A
from tanjian.args import config_from_args, guarded, open_store

log = logging.getLogger(__name__)


def _book(cfg):
    """The quota book, with the chain's QuotaRegistry when the node is up and the registry known."""
    from chain.connect import connect, registry as registry_of
    from chain.node import NODE_DOWN_ERRORS, is_up
    from chain.quota import QuotaBook
    from chain.registry import QUOTA_REGISTRY
    from workspace.errors import ChainError

    registry = None
    down = f"note: chain node {cfg.chain.rpc_url} unreachable; on-chain allowances as last seen"
    try:
        w3 = connect(cfg)
        if is_up(w3):
            registry = registry_of(cfg, w3, QUOTA_REGISTRY, None)
        else:
            print(down, file=sys.stderr)
    except NODE_DOWN_ERRORS:
        print(down, file=sys.stderr)
    except ChainError as exc:
        print(f"note: {exc}; using hand-entered allowances", file=sys.stderr)
    return QuotaBook(cfg.paths.chain, registry)


def enterprise_id(site) -> str:
    """The id allowances are filed under: the unified social credit code, else the plant id."""
    return site.enterprise.credit_code or site.plant.id


def _inventory(cfg, store, year: int, args):
    """The year-to-date inventory of the active methodology (canonical dict, with its on-chain status), the green
    supply from the imported contracts and certificates, and the activity rows left for later."""
    import datetime as dt

    import pandas as pd

    from models.activity_input import load_activity
    from models.guarded import active_methodology, default_id, describe
    from models.inventory import compute_inventory
    from models.quota import green_supply

    latest = store.latest_time(args.as_of)
    if latest is None:
        return None, None, 0, None, None
    last = min(dt.date(year, 12, 31), pd.Timestamp(latest).tz_convert(store.tz).date())
    start = dt.date(year, 1, 1)
    meth, g = active_methodology(cfg, args.methodology or default_id(cfg, "cn-machinery-2015"))
    log.info("%s", describe(meth, g))
    if args.gwp is not None:
        from models.packages import GwpRefused

        try:
            meth.gwp_set(args.gwp)
        except GwpRefused as exc:  # the option, not the data: a usage error (exit 2)
            raise A.ArgumentRefused(f"tanjian allowance status: --gwp {args.gwp}: {exc}") from None
    activity = load_activity(cfg.paths.data_dir, start - dt.timedelta(days=1), dt.date(year, 12, 31))
    green = green_supply(activity, start, last)
    later = 0
    if len(activity):
        eve = str(start - dt.timedelta(days=1))
        ends = activity["period_end"].astype(str).str[:10]
        # a stock-take dated the day before the year counts as the opening stock (as for `tanjian inventory`)
        this_year = (ends >= str(start)) | ((activity["period_start"].astype(str).str[:10] == eve) & (ends == eve)
                                            & activity["movement"].isin(("opening_stock", "closing_stock")))
        due = ends <= str(last)  # a record running past the newest reading is counted once its period is over
        later = int((this_year & ~due).sum())
        activity = activity[this_year & due].reset_index(drop=True)
    measured = None
    if args.measured:
        from models.factors.measured import load_measured

        measured = load_measured(args.measured)
    extra = {} if args.gwp is None else {"gwp": args.gwp}
    inv = compute_inventory(start, last, methodology=meth, store=store, activity=activity, site=cfg.site,
                            as_of=args.as_of, measured=measured, allow_unverified=args.allow_unverified, **extra)
    c = inv.to_canonical()
    c["methodology"]["chain_check"] = g.as_dict()
    return c, green, later, g, meth


def cmd_status(args: argparse.Namespace) -> int:
    """Print the allowance status (see module docstring)."""
    import datetime as dt

    from models.quota import quota_status

    cfg = config_from_args(args)
    store = open_store(cfg)
    year = args.year or (store.latest_time() or dt.datetime.now()).year
    ent = args.enterprise or enterprise_id(cfg.site)
    override = None if args.green_mwh is None else args.green_mwh * 1000.0
    inv, green, later, g, meth = _inventory(cfg, store, year, args)
    st = quota_status(store, _book(cfg), ent, year, green_kwh=override, level=args.level, as_of=args.as_of,
                      inventory=inv, green=green, methodology=meth)
    green_out = {
        "share": st.green_share, "electricity_kwh": st.electricity_kwh,
        "source": "hand-entered --green-mwh (overrides imported certificates and contracts)"
                  if override is not None else "imported certificates (GEC, 1 GEC = 1 MWh) and green-power contracts",
        "override_kwh": override,
        "imported_kwh": None if green is None else green.kwh,
        "certificates_kwh": None if green is None else green.certificates_kwh,
        "contracts_kwh": None if green is None else green.contracts_kwh,
        "records": [] if green is None else green.records}
    if args.json:
        out = {"enterprise": ent, "year": year, "allowance_kg": st.quota.amount_kg, "source": st.quota.source,
               "snapshot": st.snapshot, "emissions_basis": st.emissions_basis, "methodology": st.methodology,
               "activity_rows_not_yet_counted": later,
               "settlement": json.loads(st.settlement.reset_index().to_json(orient="records")),
               "forecast": None if st.forecast is None else {
                   k: (str(v) if isinstance(v, dt.date) else v) for k, v in st.forecast.__dict__.items()},
               "alarm": None if st.alarm is None else st.alarm.__dict__,
               "green_share": st.green_share, "electricity_kwh": st.electricity_kwh, "green": green_out}
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 2 if (st.alarm is not None and args.fail_on_alarm) else 0
    how = "on chain, set by the regulator" if st.quota.source == "chain" else "hand-entered"
    print(f"{ent} {year}: allowance {st.quota.amount_kg / 1000:,.1f} t CO2e ({how}); store snapshot {st.snapshot}")
    if st.methodology:
        m = st.methodology
        print(f"# methodology {m['id']} {m['version']} (package sha256 {m['sha256']}): on chain "
              f"{(m.get('chain_check') or {}).get('label', 'not recorded')}")
    print(f"# emissions: {st.emissions_basis}; spread over the days as the metered electricity and gas"
          + (f"; {later} activity record(s) ending after the newest reading are counted once their period is over"
             if later else ""))
    print(f"{'month':>5} {'days':>4} {'no data':>7} {'emitted t':>11} {'quota t':>10} {'balance t':>10} "
          f"{'cum emitted t':>14} {'cum quota t':>12} {'cum balance t':>14}")
    for m, r in st.settlement.iterrows():
        print(f"{m:>5} {r.days:>4} {r.missing_days:>7} {r.emissions_kg / 1000:>11,.2f} {r.quota_kg / 1000:>10,.2f} "
              f"{r.balance_kg / 1000:>10,.2f} {r.cum_emissions_kg / 1000:>14,.2f} {r.cum_quota_kg / 1000:>12,.2f} "
              f"{r.cum_balance_kg / 1000:>14,.2f}" + ("  OVER" if r.over else ""))
    fc = st.forecast
    if fc is None:
        print(f"forecast: none ({st.forecast_note})")
    else:
        print(f"forecast {year}: {fc.total_kg / 1000:,.1f} t CO2e, {fc.level:.0%} interval "
              f"{fc.lower_kg / 1000:,.1f}-{fc.upper_kg / 1000:,.1f} t ({fc.observed_days} days observed to "
              f"{fc.last_day}, {fc.predicted_days} forecast; {fc.method})")
    if st.green_share is not None:
        if override is not None:
            imported = "" if green is None else f"; imported certificates and contracts give {green.kwh / 1000:,.3f} MWh"
            print(f"green electricity: {st.green_share:.1%} of {st.electricity_kwh / 1000:,.3f} MWh used, from the "
                  f"HAND-ENTERED --green-mwh {override / 1000:,.3f} MWh (an override{imported})")
        else:
            print(f"green electricity: {st.green_share:.1%} of {st.electricity_kwh / 1000:,.3f} MWh used: "
                  f"certificates {green.certificates_kwh / 1000:,.3f} MWh (GEC, 1 GEC = 1 MWh) + contracts "
                  f"{green.contracts_kwh / 1000:,.3f} MWh, {len(green.records)} imported record(s)")
    if st.alarm is not None:
        print(f"ALARM ({st.alarm.severity}): {st.alarm.message}")
        return 2 if args.fail_on_alarm else 0
    print("no alarm: the forecast interval stays within the allowance" if fc else "no alarm")
    return 0


def add_commands(subparsers) -> None:
    """Add ``allowance status`` to the CLI."""
    p = subparsers.add_parser("allowance",
                              description="Read the allowance set with `tanjian quota set` (or on chain) and "
                                          "compare the store's emissions with it.")
    sub = p.add_subparsers(dest="allowance_command", required=True)
    q = sub.add_parser("status", help="monthly settlement, forecast of the year with its interval, alarm",
                       description="Monthly settlement (pro rata by days), forecast of the year's emissions "
                                   "(weekday profile, residual block bootstrap; see models/quota.py), an alarm "
                                   "when the forecast or its upper bound crosses the allowance, green share.")
    q.add_argument("--year", type=A.year, default=None, help="compliance year (default: the newest reading's)")
    q.add_argument("--enterprise", default=None,
                   help="enterprise id the allowance is filed under (default: credit code, else plant id)")
    q.add_argument("--green-mwh", type=A.nonnegative, default=None,
                   help="OVERRIDE: a hand-entered green electricity figure for the year to date [MWh], used instead "
                        "of the imported certificates (GEC, 1 GEC = 1 MWh) and green-power contracts; the output "
                        "says it is an override")
    q.add_argument("--methodology", default=None, metavar="ID",
                   help="methodology package of the inventory (default: chain.methodology_id, else "
                        "cn-machinery-2015); the active package of that id computes")
    q.add_argument("--as-of", default=None, metavar="SNAPSHOT", help="store snapshot id or tag to read")
    q.add_argument("--measured", type=A.existing_file, default=None, metavar="FILE",
                   help="CSV of the plant's measured factors (lab values), as for `tanjian inventory`")
    q.add_argument("--allow-unverified", action="store_true",
                   help="accept factor rows whose status is 'unverified', as for `tanjian inventory`")
    q.add_argument("--gwp", default=None, metavar="SET",
                   help="GWP set (AR4, AR5, AR6) where the methodology allows a choice; default the package's")
    q.add_argument("--level", type=A.fraction, default=0.9, help="coverage of the forecast interval (default 0.9)")
    q.add_argument("--json", action="store_true", help="print JSON instead of a table")
    q.add_argument("--fail-on-alarm", action="store_true", help="exit 2 when an alarm is raised (for cron)")
    q.set_defaults(func=guarded(cmd_status))
