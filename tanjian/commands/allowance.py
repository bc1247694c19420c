"""``tanjian allowance status``: the year's allowance, monthly settlement, forecast, alarm and green share.

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


def cmd_status(args: argparse.Namespace) -> int:
    """Print the allowance status (see module docstring)."""
    import datetime as dt

    from models.quota import quota_status

    cfg = config_from_args(args)
    store = open_store(cfg)
    year = args.year or (store.latest_time() or dt.datetime.now()).year
    ent = args.enterprise or enterprise_id(cfg.site)
    green = None if args.green_mwh is None else args.green_mwh * 1000.0
    st = quota_status(store, _book(cfg), ent, year, green_kwh=green, level=args.level)
    if args.json:
        out = {"enterprise": ent, "year": year, "allowance_kg": st.quota.amount_kg, "source": st.quota.source,
               "snapshot": st.snapshot,
               "settlement": json.loads(st.settlement.reset_index().to_json(orient="records")),
               "forecast": None if st.forecast is None else {
                   k: (str(v) if isinstance(v, dt.date) else v) for k, v in st.forecast.__dict__.items()},
               "alarm": None if st.alarm is None else st.alarm.__dict__,
               "green_share": st.green_share, "electricity_kwh": st.electricity_kwh}
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    how = "on chain, set by the regulator" if st.quota.source == "chain" else "hand-entered"
    print(f"{ent} {year}: allowance {st.quota.amount_kg / 1000:,.1f} t CO2e ({how}); store snapshot {st.snapshot}")
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
        print(f"green electricity: {st.green_share:.1%} of {st.electricity_kwh / 1000:,.1f} MWh used")
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
                   help="green electricity year to date: contracts + certificates (1 GEC = 1 MWh) [MWh]")
    q.add_argument("--level", type=A.fraction, default=0.9, help="coverage of the forecast interval (default 0.9)")
    q.add_argument("--json", action="store_true", help="print JSON instead of a table")
    q.add_argument("--fail-on-alarm", action="store_true", help="exit 2 when an alarm is raised (for cron)")
    q.set_defaults(func=guarded(cmd_status))
