"""Energy management: ``tanjian energy WHAT``, added to ``tanjian`` by :func:`add_commands`.

::

    tanjian energy tou          --start D --end D | --month YYYY-MM [--by plant|workshop|line|device|meter] [--freq total|1D|MS]
    tanjian energy demand       --start D --end D | --month YYYY-MM
    tanjian energy pf           --start D --end D | --month YYYY-MM [--target 0.95]
    tanjian energy loadmove     --device ID --from-hours 20-22 --to-hours 2-4 (--start D --end D | --month M)
    tanjian energy load         --start D --end D [--by ...] [--view curve|trend|duration|compare] ...
    tanjian energy transformers --start D --end D | --month YYYY-MM
    tanjian energy unit         --from DAY --to DAY | --month YYYY-MM [--view shifts|teams|products|windows|roles]
    tanjian energy states       --start D --end D | --month YYYY-MM [--device ID ...] [--view devices|shifts|habits]
    tanjian energy anomaly      --learn-start D --learn-end D --start D --end D [--limit 3.5]
    tanjian energy tariff       (the plant's tariff, prices and time-of-use hours)

Every WHAT prints a table for a person (default), or ``--format csv`` / ``--format json``.
"""

from __future__ import annotations

import argparse
import json
import math

from tanjian import args as A
from tanjian.args import ArgumentRefused, config_from_args, open_store

BYS = ["plant", "workshop", "line", "device", "meter"]


def _emit(df, fmt: str, title: str, notes: list[str] | None = None, floatfmt: str = "{:,.2f}") -> None:
    import pandas as pd

    if fmt == "json":
        data = json.loads(df.reset_index().to_json(orient="records", date_format="iso", double_precision=10))
        print(json.dumps({"title": title, "notes": notes or [], "rows": data}, ensure_ascii=False, indent=1))
        return
    if fmt == "csv":
        print(df.to_csv(float_format="%.4f"), end="")
        return
    print(title)
    if df.empty:
        print("(nothing in this period)")
    else:
        with pd.option_context("display.max_rows", 500, "display.max_columns", 50, "display.width", 200):
            print(df.to_string(float_format=lambda x: "—" if math.isnan(x) else floatfmt.format(x)))
    for n in notes or ():
        print(f"note: {n}")


def _period(args, command: str) -> tuple[str, str]:
    """``--start``/``--end`` (local times), or ``--month``: refused when neither or both are given."""
    month = getattr(args, "month", None)
    if month:
        if args.start or args.end:
            raise ArgumentRefused(f"tanjian energy {command}: give --month or --start/--end, not both")
        import pandas as pd

        a = pd.Timestamp(month + "-01")
        return str(a.date()), str((a + pd.offsets.MonthBegin(1)).date())
    if not args.start or not args.end:
        raise ArgumentRefused(f"tanjian energy {command}: needs --start and --end (or --month)")
    A.period(args.start, args.end, command=f"energy {command}")
    return args.start, args.end


def _tariff(cfg):
    from workspace.tariffs import config_tariff

    return config_tariff(cfg)


def _meters(cfg, args, command: str):
    for m in getattr(args, "meter", None) or ():
        A.known_meter(cfg, m, command=f"energy {command}")
    return getattr(args, "meter", None) or None


def cmd_tariff(args) -> int:
    import pandas as pd

    from workspace.tariffs import PERIODS

    cfg = config_from_args(args)
    t = _tariff(cfg)
    prices = pd.DataFrame({"cny_per_kwh": [t.price(p) if p in t.schedule.ratios else float("nan") for p in PERIODS],
                           "ratio_to_flat": [t.schedule.ratios.get(p, float("nan")) for p in PERIODS]},
                          index=pd.Index(PERIODS, name="period"))
    hours = pd.DataFrame({m: [t.schedule.hours(m)[h][0].upper() if t.schedule.hours(m)[h] != "sharp" else "S"
                              for h in range(24)] for m in range(1, 13)}, index=pd.Index(range(24), name="hour")).T
    hours.index.name = "month"
    if args.format != "table":
        _emit(prices, args.format, t.id)
        return 0
    print(f"tariff {t.id} ({t.status}): {t.title}; {t.voltage_class}; valid {t.valid_from} … "
          f"{t.valid_to or 'until replaced'}\n  source: {t.source}\n  file: {t.path}")
    print(f"schedule {t.schedule.id} ({t.schedule.status}), valid {t.schedule.valid_from} … "
          f"{t.schedule.valid_to or 'until replaced'}\n  source: {t.schedule.source}")
    _emit(prices, "table", "energy prices", floatfmt="{:.4f}")
    print("hours by month (S sharp, P peak, F flat, V valley):")
    for m, row in hours.iterrows():
        print(f"  {m:>2}  {''.join(row)}")
    if t.capacity_price is not None:
        print(f"basic charge: {t.capacity_price:g} CNY/kVA·month by capacity or {t.demand_price:g} CNY/kW·month "
              f"by maximum demand (now: {t.basic_chosen}); power-factor standard {t.pf_standard} ({t.pf_source})")
    return 0


def cmd_tou(args) -> int:
    from models.energy.tou import tou_cost

    start, end = _period(args, "tou")
    cfg = config_from_args(args)
    meters = _meters(cfg, args, "tou")
    t = _tariff(cfg)
    df = tou_cost(open_store(cfg), t, start, end, by=args.by, meters=meters,
                  freq=None if args.freq == "total" else args.freq)
    cols = [c for c in df.columns if args.format != "table" or not c.endswith("_share_pct")]
    view = df[cols] if args.format != "table" else df[[c for c in cols if c.endswith(("_kwh", "_cny"))]]
    notes = [f"tariff {t.id} ({t.status}), schedule {t.schedule.id} ({t.schedule.status}); prices CNY/kWh "
             + ", ".join(f"{p} {v:.4f}" for p, v in df.attrs["prices"].items() if v == v),
             f"measured share of meter-minutes {df.attrs['coverage']:.1%}"]
    if args.format == "table":
        shares = df[[c for c in df.columns if c.endswith("_share_pct")]]
        _emit(view, "table", f"energy [kWh] and cost [CNY] by time-of-use period, {start} … {end}")
        _emit(shares, "table", "shares [%]", notes)
    else:
        _emit(view, args.format, f"tou {start} … {end}", notes)
    return 0


def cmd_demand(args) -> int:
    from models.energy.demand import basic_charge_report

    start, end = _period(args, "demand")
    cfg = config_from_args(args)
    t = _tariff(cfg)
    df = basic_charge_report(open_store(cfg), cfg.site, t, start, end)
    notes = [f"capacity = the transformers' rated kVA; demand billed at the month's highest 15-min mean power, "
             f"not below {t.demand_floor_share:.0%} of the capacity; tariff {t.id} ({t.status})"]
    _emit(df, args.format, f"maximum 15-min demand and the basic charge [CNY/month], {start} … {end}", notes)
    return 0


def cmd_pf(args) -> int:
    from models.energy.power_factor import pf_report

    start, end = _period(args, "pf")
    cfg = config_from_args(args)
    t = _tariff(cfg)
    df = pf_report(open_store(cfg), cfg.site, t, start, end, target=args.target)
    notes = [f"standard {t.pf_standard}, table {t.pf_source} (《功率因数调整电费办法》 1983); PF read on "
             f"{df.attrs['pf_minutes_pct']:.1f} % of the plant meters' minutes; compensation to reach "
             f"{args.target}"]
    _emit(df, args.format, f"power factor and its adjustment of the bill, {start} … {end}", notes)
    return 0


def cmd_loadmove(args) -> int:
    from models.energy.loadmove import device_move

    start, end = _period(args, "loadmove")
    cfg = config_from_args(args)
    if args.device not in {d.id for d in cfg.site.devices}:
        raise ArgumentRefused(f"tanjian energy loadmove: --device {args.device}: unknown device "
                              f"(see the site model: `tanjian config check`)")
    t = _tariff(cfg)
    df = device_move(open_store(cfg), cfg.site, t, args.device, start, end, args.from_hours, args.to_hours)
    tot = df.attrs.get("total", {})
    notes = [f"moving {tot.get('kwh', 0):,.1f} kWh from hours {args.from_hours} to {args.to_hours} saves "
             f"{tot.get('saving_cny', 0):,.2f} CNY over the period (maximum demand not re-judged)"]
    _emit(df, args.format, f"load move of {args.device}, {start} … {end}", notes)
    return 0


def cmd_load(args) -> int:
    from models.energy import load

    start, end = _period(args, "load")
    cfg = config_from_args(args)
    meters = _meters(cfg, args, "load")
    store = open_store(cfg)
    if args.view == "curve":
        df = load.load_curve(store, start, end, by=args.by, freq=args.freq, meters=meters)
        title = f"load curve [kW], {args.freq} means, {start} … {end}"
    elif args.view == "trend":
        df = load.trend(store, start, end, by=args.by, every=args.every, meters=meters)
        title = f"energy per {args.every} [kWh], {start} … {end}"
    elif args.view == "duration":
        curve = load.duration_curve(load.load_curve(store, start, end, by=args.by, freq=args.freq, meters=meters))
        import pandas as pd

        df = pd.DataFrame(curve.attrs["stats"]).T
        df.index.name = "group"
        if args.format != "table":
            df = curve
        title = f"load duration ({args.freq} means) [kW], {start} … {end}"
    else:
        df = load.compare(store, start, end, against=args.against, by=args.by, meters=meters)
        title = f"{start} … {end} against the same period a {args.against} before [kWh]"
    _emit(df, args.format, title)
    return 0


def cmd_transformers(args) -> int:
    from models.energy.transformers import transformer_report

    start, end = _period(args, "transformers")
    cfg = config_from_args(args)
    df = transformer_report(open_store(cfg), cfg.site, start, end)
    notes = [f"{k}: losses {v['losses']}; band {v['band']}" for k, v in df.attrs["sources"].items()]
    if args.format == "table":
        df = df[["rated_kva", "peak_kw", "peak_rate", "mean_rate", "overload_minutes", "band_low", "band_high",
                 "in_band_pct", "loss_kwh", "loss_pct", "pf_mean", "signs"]]
    _emit(df, args.format, f"transformers, {start} … {end} (rates: load / rated kVA)", notes)
    return 0


def cmd_unit(args) -> int:
    import datetime as dt

    from models.energy.unit_consumption import roles, unit_consumption
    from workspace.business.documents import load_activity

    if args.month:
        if args.first or args.last:
            raise ArgumentRefused("tanjian energy unit: give --month or --from/--to, not both")
        from workspace.business.sheets import parse_month

        first, last = parse_month(args.month)
    elif args.first and args.last:
        first, last = dt.date.fromisoformat(args.first), dt.date.fromisoformat(args.last)
        A.period(args.first, args.last, command="energy unit", options=("--from", "--to"), inclusive=True)
    else:
        raise ArgumentRefused("tanjian energy unit: needs --from and --to (or --month)")
    cfg = config_from_args(args)
    store = open_store(cfg)
    if args.view == "roles":
        import pandas as pd

        df = roles(store, cfg.site, pd.Timestamp(first), pd.Timestamp(last) + pd.Timedelta(days=1))
        _emit(df, args.format, f"main and auxiliary machines [kWh], {first} … {last}")
        return 0
    prod = load_activity(cfg.paths.data_dir, first, last, kinds=["production"])
    if prod.empty:
        from workspace.errors import TanjianError

        raise TanjianError(f"no production records between {first} and {last}: import the ERP output first "
                           f"(tanjian import FILE --mapping erp_production)")
    r = unit_consumption(store, cfg.site, prod, first, last, by=args.by)
    df = {"shifts": r.shifts, "teams": r.teams, "products": r.products, "windows": r.windows}[args.view]
    notes = [f"product mix explains {r.explained_share:.1%} of the windows' energy differences (R²); index = "
             f"actual / expected by mix"] if r.explained_share == r.explained_share else []
    notes.append("energy outside the shifts [kWh]: " + ", ".join(f"{g} {v:,.1f}" for g, v in r.off_shift.items()))
    _emit(df, args.format, f"unit consumption ({args.view}), {first} … {last}", notes)
    return 0


def cmd_states(args) -> int:
    from models.energy import states

    start, end = _period(args, "states")
    cfg = config_from_args(args)
    devs = args.device or None
    for d in devs or ():
        if d not in {x.id for x in cfg.site.devices}:
            raise ArgumentRefused(f"tanjian energy states: --device {d}: unknown device")
    store = open_store(cfg)
    if args.view in ("shifts", "habits"):
        df = states.shift_states(store, cfg.site, start, end, devices=devs)
        if args.view == "habits":  # the lowest standby share any device of the class showed in any shift
            from models.energy.unit_consumption import NO_SHIFT

            on = df[df.index.get_level_values("shift") != NO_SHIFT] if not df.empty else df
            df = states.best_habits(on.set_axis([f"{d} {s}" for d, s in on.index], axis=0)) if not on.empty else on
    else:
        df = states.device_states(store, cfg.site, start, end, devices=devs, idle_min=args.idle_min)
    if args.format == "table" and args.view != "habits" and not df.empty and "kind" in df:
        df = df[["kind", "off_kw", "running_kw", "running_kwh", "standby_kwh", "startup_kwh", "standby_share_pct",
                 "saveable_kwh"]]
    _emit(df, args.format, f"device states ({args.view}), {start} … {end}",
          [f"saveable = standby stretches of at least {args.idle_min:g} min"])
    return 0


def cmd_anomaly(args) -> int:
    from models.energy import anomaly

    start, end = _period(args, "anomaly")
    A.period(args.learn_start, args.learn_end, command="energy anomaly", options=("--learn-start", "--learn-end"))
    cfg = config_from_args(args)
    store = open_store(cfg)
    base = anomaly.baseline(anomaly.device_power(store, cfg.site, args.learn_start, args.learn_end))
    z = anomaly.score(anomaly.device_power(store, cfg.site, start, end), base)
    df = anomaly.anomalies(z, limit=args.limit)
    _emit(df, args.format, f"hours beyond |z| {args.limit} against the baseline of {args.learn_start} … "
                           f"{args.learn_end}, {start} … {end}",
          ["z = 0.6745 (power - median) / MAD per device and hour of week (Iglewicz & Hoaglin)"])
    return 0


def _common(p, *, period: bool = True) -> None:
    p.add_argument("--format", choices=["table", "csv", "json"], default="table", help="output (default: table)")
    if period:
        p.add_argument("--start", type=A.local_time, help="local time, e.g. 2026-11-01 or '2026-11-24 08:00'")
        p.add_argument("--end", type=A.local_time, help="local time (excluded)")
        p.add_argument("--month", type=A.month, help="YYYY-MM instead of --start/--end")


def add_commands(subparsers) -> None:
    """Add ``energy`` and its sub-commands to the CLI."""
    p = subparsers.add_parser("energy", description="Energy management analytics: time-of-use cost, demand, "
                                                    "power factor, load moves, load and trends, transformers, "
                                                    "unit consumption, device states, anomalies.",
                              formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("::")[1])
    sub = p.add_subparsers(dest="energy_command", metavar="WHAT", required=True)

    x = sub.add_parser("tariff", help="the plant's tariff: prices, time-of-use hours, basic charge, PF standard")
    _common(x, period=False)
    x.set_defaults(func=cmd_tariff)

    x = sub.add_parser("tou", help="energy, cost and share by time-of-use period (sharp/peak/flat/valley)")
    _common(x)
    x.add_argument("--by", choices=BYS, default="plant")
    x.add_argument("--meter", action="append", help="a meter id (repeatable; instead of --by)")
    x.add_argument("--freq", default="total", type=A.frequency, help="total (default), 1D or MS: a row per interval")
    x.set_defaults(func=cmd_tou)

    x = sub.add_parser("demand", help="maximum 15-min demand per month and the cheaper basic-charge option")
    _common(x)
    x.set_defaults(func=cmd_demand)

    x = sub.add_parser("pf", help="monthly power factor, its adjustment of the bill, capacitors to a target")
    _common(x)
    x.add_argument("--target", type=A.fraction, default=0.95, help="PF to compensate to (default 0.95)")
    x.set_defaults(func=cmd_pf)

    x = sub.add_parser("loadmove", help="what moving a device's load to other hours would save")
    _common(x)
    x.add_argument("--device", required=True, help="device id (it needs its own meter)")
    x.add_argument("--from-hours", required=True, type=A.hours, help="hours to move out of, e.g. 20-22")
    x.add_argument("--to-hours", required=True, type=A.hours, help="hours to move into, e.g. 2-4 or 0-2,23")
    x.set_defaults(func=cmd_loadmove)

    x = sub.add_parser("load", help="load curve, trend, load duration, or this period against an earlier one")
    _common(x)
    x.add_argument("--view", choices=["curve", "trend", "duration", "compare"], default="curve")
    x.add_argument("--by", choices=BYS, default="plant")
    x.add_argument("--meter", action="append", help="a meter id (repeatable; instead of --by)")
    x.add_argument("--freq", default="15min", type=A.frequency, help="curve/duration interval (default 15min)")
    x.add_argument("--every", choices=["day", "week", "month"], default="day", help="trend interval")
    x.add_argument("--against", choices=["week", "month", "year"], default="year", help="compare with")
    x.set_defaults(func=cmd_load)

    x = sub.add_parser("transformers", help="load rate, overload, economic band, losses, early signs")
    _common(x)
    x.set_defaults(func=cmd_transformers)

    x = sub.add_parser("unit", help="energy and CO2e per unit produced by shift, team, product; main vs auxiliary")
    _common(x, period=False)
    x.add_argument("--from", dest="first", type=A.local_date, help="first day YYYY-MM-DD")
    x.add_argument("--to", dest="last", type=A.local_date, help="last day YYYY-MM-DD (included)")
    x.add_argument("--month", type=A.month, help="YYYY-MM instead of --from/--to")
    x.add_argument("--by", choices=["workshop", "plant"], default="workshop")
    x.add_argument("--view", choices=["shifts", "teams", "products", "windows", "roles"], default="shifts")
    x.set_defaults(func=cmd_unit)

    x = sub.add_parser("states", help="device states, standby energy that could be saved, best habits")
    _common(x)
    x.add_argument("--device", action="append", help="a device id (repeatable; default: every metered device)")
    x.add_argument("--view", choices=["devices", "shifts", "habits"], default="devices")
    x.add_argument("--idle-min", type=A.positive, default=30.0, help="standby stretch worth switching off [min]")
    x.set_defaults(func=cmd_states)

    x = sub.add_parser("anomaly", help="hours far from each device's usual power for that hour of the week")
    _common(x)
    x.add_argument("--learn-start", required=True, type=A.local_time, help="baseline period start")
    x.add_argument("--learn-end", required=True, type=A.local_time, help="baseline period end")
    x.add_argument("--limit", type=A.positive, default=3.5, help="|z| above which an hour is listed (3.5)")
    x.set_defaults(func=cmd_anomaly)

