"""``tanjian plan solve|show|compare|actual``: the reduction path (models/reduction, docs/reduction.md).

``solve`` optimises a scenario (a packaged name such as ``plant18`` or a YAML file) and prints the pathway,
purchases and costs; ``--out`` saves the plan as JSON, ``--relax`` answers an infeasible scenario with the
extra offsets or budget each target needs, ``--tornado`` re-solves at the ends of each price's range.
``show`` prints a saved plan, ``compare`` plans side by side, ``actual`` a plan against the purchases
recorded in an activity file, ``replan`` re-optimises with the years that happened fixed to what was done.
"""

from __future__ import annotations

import argparse
import json
import sys

from tanjian import args as A


def _table(df, title: str, *, scale: float = 1.0, digits: int = 1) -> None:
    import pandas as pd

    print(f"\n{title}")
    num = df.select_dtypes("floating") / scale
    out = df.copy()
    out[num.columns] = num.round(digits)
    with pd.option_context("display.width", 200, "display.max_columns", 40, "display.max_colwidth", 60):
        print(out.to_string())


def _print_plan(plan, *, tables=("decisions", "pathway", "purchases", "pv", "costs", "targets")) -> None:
    print(f"plan {plan.name}: {plan.status}; net present cost {plan.npv / 1e6:,.3f} M CNY")
    if "build_s" in plan.timings:
        print(f"built in {plan.timings['build_s']:.2f} s, solved in {plan.timings['solve_s']:.2f} s (HiGHS)")
    titles = {"decisions": "efficiency projects (built: year; share: 1 = whole)",
              "pathway": "pathway [t CO2e]: baseline, reduction by lever, emissions by view",
              "purchases": "purchase plan per year", "pv": "rooftop PV", "costs": "costs by year [CNY]",
              "targets": "targets [t CO2e] (binds: no room left)"}
    for t in tables:
        df = getattr(plan, t)
        _table(df.drop(columns=["name"]) if t == "decisions" else df, titles[t], digits=3 if t == "costs" else 1)


def _load_from_store(args, year: int):
    """The plant's hourly electricity [kW] of ``year`` from the store (the query API)."""
    import pandas as pd

    from tanjian.args import config_from_args, open_store

    cfg = config_from_args(args)
    store = open_store(cfg)
    e = store.energy(f"{year}-01-01", f"{year + 1}-01-01", by="plant", freq="1h")
    s = pd.Series(e.values[:, 0], index=pd.DatetimeIndex(e["time"].values), name="load_kw")
    coverage = e.attrs.get("coverage")
    if s.isna().any():
        from workspace.errors import TanjianError

        raise TanjianError(f"the store has no electricity for {int(s.isna().sum())} hours of {year}: "
                           f"the load profile needs a whole year (use the scenario's profile instead)")
    print(f"load from the store: {year}, {s.sum() / 1000:,.1f} MWh, coverage {coverage}", file=sys.stderr)
    return s


def _baseline_from_inventory(args, sc):
    """The baseline of the year's inventory, computed as ``tanjian inventory`` computes it (store and imported
    or given activity records, the named methodology)."""
    import datetime as dt

    from models.reduction.baseline import baseline_from_inventory
    from tanjian.commands.inventory import _compute

    y = args.baseline_from_inventory
    ns = argparse.Namespace(**vars(args))
    ns.activity = [args.activity] if args.activity else None
    ns.no_store, ns.measured, ns.as_of, ns.allow_unverified, ns.gwp = False, None, None, False, None
    inv = _compute(ns, dt.date(y, 1, 1), dt.date(y, 12, 31), "source")
    if sc.gas is None:
        from workspace.errors import TanjianError

        raise TanjianError(f"scenario {sc.name}: --baseline-from-inventory needs the scenario's gas factor (gas:)")
    b = baseline_from_inventory(inv, sc.gas.factor.at(sc.horizon.first, sc.horizon.first))
    print(f"baseline from the {y} inventory ({b.source}): electricity {b.electricity_mwh:,.1f} MWh, natural gas "
          f"{b.natural_gas_gj:,.1f} GJ, other direct {b.other_scope1_t:,.1f} t", file=sys.stderr)
    return b


def cmd_solve(args: argparse.Namespace) -> int:
    """Solve a scenario (see the module docstring)."""
    from models.reduction.files import save_plan
    from models.reduction.inputs import build_inputs
    from models.reduction.macc import macc
    from models.reduction.outputs import cash_flow, payback_year
    from models.reduction.relax import relax
    from models.reduction.scenario import load_scenario
    from models.reduction.sensitivity import tornado
    from models.reduction.solve import Infeasible, solve

    sc = load_scenario(args.scenario)
    load = _load_from_store(args, args.load_from_store) if args.load_from_store else None
    base = _baseline_from_inventory(args, sc) if args.baseline_from_inventory else None
    d = build_inputs(sc, load=load, days=args.days, baseline=base)
    try:
        plan = solve(d, time_limit=args.time_limit)
    except Infeasible as exc:
        print(f"tanjian plan solve: {exc}", file=sys.stderr)
        if not args.relax:
            return 1
        r = relax(d)
        for m in r.messages:
            print(m)
        if args.json:
            print(json.dumps({"infeasible": True, "messages": r.messages,
                              "emission_slack_t": r.emissions.slack if r.emissions else None,
                              "extra_budget_cny": r.extra_budget}, indent=1))
        return 1
    extra = {}
    if args.tornado:
        extra["tornado"] = json.loads(tornado(sc, d, base_npv=plan.npv).reset_index().to_json(orient="records"))
    if args.out:
        save_plan(plan, args.out, scenario_path=sc.path, extra=extra)
        print(f"saved {args.out}", file=sys.stderr)
    if args.json:
        from models.reduction.files import summary

        print(json.dumps({"summary": summary(plan), "npv": plan.npv, "timings": plan.timings, **extra},
                         indent=1, default=str))
        return 0
    _print_plan(plan)
    if d.typical_error is not None:
        _table(d.typical_error, f"representative days ({len(d.weight) // 24}) against the full year "
                                f"(PV at the roof's {d.roof_kwp:,.0f} kWp; error relative)", digits=4)
    _table(macc(d), "marginal abatement cost curve (first year; cost_per_t CNY/t, market view)")
    cf = cash_flow(plan, d)
    _table(cf, "cash flow against doing nothing [CNY]", digits=0)
    py = payback_year(plan, d)
    print(f"\npays back in {py}" if py else "\ndoes not pay back within the horizon")
    if args.tornado:
        import pandas as pd

        _table(pd.DataFrame(extra["tornado"]).set_index("price"), "sensitivity of the net present cost [CNY]",
               digits=0)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    """Print a saved plan."""
    from models.reduction.files import load_plan

    plan = load_plan(args.plan)
    _print_plan(plan, tables=args.table or ("decisions", "pathway", "purchases", "pv", "costs", "targets"))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Plans side by side."""
    from models.reduction.files import compare, load_plan

    plans = {p.stem: load_plan(p) for p in args.plans}
    if len(plans) < len(args.plans):
        print("tanjian plan compare: two plan files have the same name; rename one", file=sys.stderr)
        return 2
    _table(compare(plans), "plans compared")
    return 0


def cmd_actual(args: argparse.Namespace) -> int:
    """A saved plan against the purchases of an activity file."""
    from models.activity_input import read_activity_file
    from models.reduction.actual import plan_vs_actual
    from models.reduction.files import load_plan

    _table(plan_vs_actual(load_plan(args.plan), read_activity_file(args.activity)),
           "purchases: planned against actual (green power and GEC in MWh, CCER in t)")
    return 0


def _pairs(values, what: str, key, val) -> dict:
    out = {}
    for v in values or ():
        k, sep, x = v.partition("=")
        if not sep:
            raise A.ArgumentRefused(f"tanjian plan replan: {what} {v!r}: expected KEY=VALUE")
        try:
            out[key(k)] = val(x)
        except ValueError:
            raise A.ArgumentRefused(f"tanjian plan replan: {what} {v!r}: not a number") from None
    return out


def cmd_replan(args: argparse.Namespace) -> int:
    """Re-optimise from the actual state: purchases of an activity file, projects built, PV added."""
    from models.activity_input import read_activity_file
    from models.reduction.actual import State, actual_purchases, replan
    from models.reduction.files import save_plan
    from models.reduction.inputs import build_inputs
    from models.reduction.scenario import load_scenario

    sc = load_scenario(args.scenario)
    if not sc.horizon.first <= args.through < sc.horizon.last:
        raise A.ArgumentRefused(f"tanjian plan replan: --through {args.through}: must be within "
                                f"{sc.horizon.first}-{sc.horizon.last - 1} (the scenario's horizon, less its last year)")
    built = _pairs(args.built, "--built", str, int)
    unknown = sorted(set(built) - {p.id for p in sc.projects})
    if unknown:
        raise A.ArgumentRefused(f"tanjian plan replan: --built {unknown[0]}: not a project of {sc.name} "
                                f"({', '.join(p.id for p in sc.projects)})")
    pv = _pairs(args.pv, "--pv", int, float)
    act = actual_purchases(read_activity_file(args.activity)) if args.activity else None
    if act is None:
        import pandas as pd

        act = pd.DataFrame(columns=["green_power_mwh", "gec_mwh", "ccer_t"])
    plan = replan(build_inputs(sc, days=args.days), State(args.through, act, built, pv))
    if args.out:
        save_plan(plan, args.out, scenario_path=sc.path, extra={"replanned_through": args.through})
    _print_plan(plan)
    return 0


def add_commands(subparsers) -> None:
    """Add ``plan solve|show|compare|actual`` to the CLI."""
    p = subparsers.add_parser("plan", description="The reduction path: PV, efficiency projects, green power, "
                                                  "certificates and offsets, optimised with Pyomo and HiGHS.")
    sub = p.add_subparsers(dest="plan_command", required=True)
    s = sub.add_parser("solve", help="optimise a scenario and print the plan",
                       description="Optimise a reduction scenario: minimise the net present cost of meeting "
                                   "its targets within its budget.")
    s.add_argument("scenario", nargs="?", default="plant18",
                   help="packaged scenario name or a scenario YAML file (default: plant18)")
    s.add_argument("--out", type=A.new_file, default=None, help="save the plan as JSON to this file")
    s.add_argument("--days", type=A.positive_int, default=None,
                   help="representative days (default: the scenario's)")
    s.add_argument("--load-from-store", type=A.year, default=None, metavar="YEAR",
                   help="use the store's hourly plant electricity of YEAR instead of the scenario's profile")
    s.add_argument("--baseline-from-inventory", type=A.year, default=None, metavar="YEAR",
                   help="take electricity, gas and other direct emissions from YEAR's inventory (store and activity)")
    s.add_argument("--methodology", default="ghg-protocol-corporate", metavar="ID",
                   help="methodology package of that inventory (default ghg-protocol-corporate)")
    s.add_argument("--activity", type=A.existing_file, default=None, metavar="FILE",
                   help="activity CSV for that inventory (default: the records imported into the data folder)")
    s.add_argument("--relax", action="store_true",
                   help="when the targets cannot be met, report the extra offsets or budget each needs")
    s.add_argument("--tornado", action="store_true", help="also re-solve at the low and high price ends")
    s.add_argument("--time-limit", type=A.positive, default=None, help="HiGHS time limit [s]")
    s.add_argument("--json", action="store_true", help="print a JSON summary instead of tables")
    s.set_defaults(func=cmd_solve)
    sh = sub.add_parser("show", help="print a saved plan", description="Print a plan saved by `plan solve --out`.")
    sh.add_argument("plan", type=A.existing_file, help="plan JSON file")
    sh.add_argument("--table", action="append",
                    choices=("decisions", "pathway", "purchases", "pv", "costs", "targets"),
                    help="only this table (repeatable)")
    sh.set_defaults(func=cmd_show)
    c = sub.add_parser("compare", help="saved plans side by side",
                       description="Compare saved plans: cost, capex, PV, projects, purchases, emissions.")
    c.add_argument("plans", type=A.existing_file, nargs="+", help="plan JSON files")
    c.set_defaults(func=cmd_compare)
    a = sub.add_parser("actual", help="a saved plan against the purchases actually recorded",
                       description="Planned against actual purchases per year, from an activity file "
                                   "(kinds green_power, gec, offset).")
    a.add_argument("plan", type=A.existing_file, help="plan JSON file")
    a.add_argument("activity", type=A.existing_file, help="activity CSV (see tanjian inventory --activity)")
    a.set_defaults(func=cmd_actual)
    r = sub.add_parser("replan", help="re-optimise from what was actually bought and built",
                       description="Re-plan a scenario with the years up to --through fixed to what happened: "
                                   "the purchases of an activity file, the projects built, the PV added.")
    r.add_argument("scenario", nargs="?", default="plant18", help="packaged scenario name or YAML file")
    r.add_argument("--through", type=A.year, required=True, help="last year that has happened")
    r.add_argument("--activity", type=A.existing_file, default=None,
                   help="activity CSV with the purchases made (kinds green_power, gec, offset)")
    r.add_argument("--built", action="append", metavar="PROJECT=YEAR", help="a project built (repeatable)")
    r.add_argument("--pv", action="append", metavar="YEAR=KWP", help="PV capacity added in a year (repeatable)")
    r.add_argument("--days", type=A.positive_int, default=None, help="representative days")
    r.add_argument("--out", type=A.new_file, default=None, help="save the re-plan as JSON")
    r.set_defaults(func=cmd_replan)
