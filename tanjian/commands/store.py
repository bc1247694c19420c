"""The store: ``tanjian fold``, ``query {energy,quality}``, ``correct``, ``replace-meter``, ``versions``,
``tag`` and ``compact``."""

from __future__ import annotations

from tanjian import args as A
from tanjian.args import config_from_args, open_store


def cmd_fold(args) -> int:
    from workspace.journal import Journal
    from workspace.keeper import Keeper

    cfg = config_from_args(args)
    journal = Journal(cfg.paths.journal, writer=True)
    keeper = Keeper.open(cfg, journal, store=open_store(cfg, create=True))
    if (k := keeper.drain()):
        print(f"journaled {k} waiting correction(s)/event(s) from {cfg.paths.inbox}")

    def step(r) -> None:
        print(f"folded batches {r.seq_from}..{r.seq_to} ({r.readings} readings) → snapshot {r.snapshot}")

    total = keeper.fold(max_batches=500, author=args.author, on_step=step)
    print(f"store holds journal batches 0..{keeper.store.last_folded_seq}; {total} readings folded now")
    return 0


def _checked_query(args, command: str):
    """The configuration, after refusing a period that ends before it starts and unknown ``--meter`` ids."""
    A.period(args.start, args.end, command=command)
    cfg = config_from_args(args)
    for m in args.meter or ():
        A.known_meter(cfg, m, command=command)
    return cfg


def cmd_query_energy(args) -> int:
    cfg = _checked_query(args, "query energy")
    store = open_store(cfg)
    da = store.energy(args.start, args.end, by=args.by, medium=args.medium,
                      freq=None if args.freq == "total" else args.freq, meters=args.meter or None,
                      as_of=args.as_of)
    df = da.to_pandas()
    print(f"# {da.attrs['long_name']} [{da.attrs['units']}], local time {da.attrs['timezone']}, "
          f"snapshot {da.attrs['snapshot']}, measured share {da.attrs['coverage']:.3f}")
    print(df.to_csv(float_format="%.3f") if hasattr(df, "to_csv") else df)
    return 0


def cmd_query_quality(args) -> int:
    cfg = _checked_query(args, "query quality")
    df = open_store(cfg).quality_report(args.start, args.end, meters=args.meter or None, as_of=args.as_of)
    print(f"# data quality {args.start} .. {args.end} ({df.attrs['timezone']}), snapshot {df.attrs['snapshot']}")
    cols = ["minutes", "readings", "completeness_pct", "estimated_pct"] + [
        c for c in df.columns[4:] if df[c].any()]
    print(df[cols].to_csv(float_format="%.2f"))
    return 0


def _when(s: str, tz: str) -> str:
    import pandas as pd

    t = pd.Timestamp(s)
    return (t.tz_localize(tz) if t.tzinfo is None else t).isoformat()


def _unknown(meter: str):
    from workspace.errors import UnknownMeter

    raise UnknownMeter(f"unknown meter {meter!r} (see the site model: `tanjian config check`)")


def cmd_correct(args) -> int:
    from workspace.inbox import submit

    cfg = config_from_args(args)
    if args.meter not in cfg.site.meter_ids():
        _unknown(args.meter)
    A.fits_register(cfg, args.meter, args.counter, command="correct", option="--counter")
    req = {"kind": "correction", "author": args.author, "reason": args.reason,
           "readings": [{"meter": args.meter, "time": _when(args.time, cfg.site.plant.timezone),
                         "counter": args.counter}]}
    path = submit(cfg.paths.inbox, req)
    print(f"correction queued as {path}; the collector journals it at its next cycle "
          f"(or run `tanjian fold` when no collector runs)")
    return 0


def cmd_replace_meter(args) -> int:
    from workspace.inbox import submit

    cfg = config_from_args(args)
    if args.meter not in cfg.site.meter_ids():
        _unknown(args.meter)
    A.fits_register(cfg, args.meter, args.old_final, command="replace-meter", option="--old-final")
    A.fits_register(cfg, args.meter, args.new_initial, command="replace-meter", option="--new-initial")
    req = {"kind": "meter_replaced", "author": args.author, "reason": args.reason, "meter": args.meter,
           "time": _when(args.time, cfg.site.plant.timezone), "old_final": args.old_final,
           "new_initial": args.new_initial}
    path = submit(cfg.paths.inbox, req)
    print(f"meter swap queued as {path}; the collector journals it at its next cycle "
          f"(or run `tanjian fold` when no collector runs)")
    return 0


def cmd_versions(args) -> int:
    cfg = config_from_args(args)
    for v in open_store(cfg).versions()[: args.limit]:
        print(f"{v['id']}  {v['time']:%Y-%m-%d %H:%M:%S}Z  {v['message']}")
    return 0


def cmd_compact(args) -> int:
    from workspace.journal import Journal

    cfg = config_from_args(args)
    store = open_store(cfg)
    # the store's single writer: refuse while a collector holds the journal
    with Journal(cfg.paths.journal, writer=True):
        out = store.compact(args.keep_days, dry_run=args.dry_run)
    what = "would delete" if args.dry_run else "deleted"
    print(f"{store.path}: {out['expired']} version(s) older than {args.keep_days:g} days expired, {what} "
          f"{out['deleted_snapshots']} snapshots, {out['deleted_manifests']} manifests and {out['deleted_chunks']} "
          f"chunks ({out['deleted_bytes'] / 1e6:.1f} MB); tags kept: "
          f"{', '.join(store.tags()) or 'none'}")
    return 0


def cmd_tag(args) -> int:
    cfg = config_from_args(args)
    snap = open_store(cfg).tag(args.name, args.snapshot)
    print(f"tagged {snap} as {args.name} (never expired by `tanjian compact`; usable as --as-of {args.name})")
    return 0


def add_commands(sub) -> None:
    """Add ``fold``, ``query``, ``correct``, ``replace-meter``, ``versions``, ``tag`` and ``compact``."""
    x = sub.add_parser("fold")
    x.add_argument("--author", default="cli")
    x.set_defaults(func=cmd_fold)

    q = sub.add_parser("query")
    qs = q.add_subparsers(dest="query_command", metavar="WHAT", required=True)
    x = qs.add_parser("energy", help="energy per plant/workshop/meter and interval, as CSV")
    x.add_argument("--start", required=True, type=A.local_time, help="local time, e.g. 2026-11-24 or '2026-11-24 08:00'")
    x.add_argument("--end", required=True, type=A.local_time)
    x.add_argument("--by", choices=["plant", "workshop", "meter"], default="plant")
    x.add_argument("--medium", choices=["electricity", "natural_gas", "water", "compressed_air"],
                   default="electricity")
    x.add_argument("--meter", action="append", help="a meter id (repeatable; instead of --by)")
    x.add_argument("--freq", default="1h", type=A.frequency, help="pandas frequency (15min, 1h, 1D, MS) or 'total'")
    x.add_argument("--as-of", default=None, help="snapshot id to read (see `tanjian versions`)")
    x.set_defaults(func=cmd_query_energy)

    x = qs.add_parser("quality", help="completeness and flag counts per meter, as CSV")
    x.add_argument("--start", required=True, type=A.local_time)
    x.add_argument("--end", required=True, type=A.local_time)
    x.add_argument("--meter", action="append", help="a meter id (repeatable; default all)")
    x.add_argument("--as-of", default=None)
    x.set_defaults(func=cmd_query_quality)

    x = sub.add_parser("correct")
    x.add_argument("--meter", required=True)
    x.add_argument("--time", required=True, type=A.local_time, help="the reading's time (local unless it has a zone)")
    x.add_argument("--counter", type=A.counter, required=True, help="the right counter value [kWh or m3]")
    x.add_argument("--author", required=True)
    x.add_argument("--reason", required=True)
    x.set_defaults(func=cmd_correct)
    x = sub.add_parser("replace-meter")
    x.add_argument("--meter", required=True)
    x.add_argument("--time", required=True, type=A.local_time, help="when the new meter started counting (local unless zoned)")
    x.add_argument("--old-final", type=A.counter, required=True)
    x.add_argument("--new-initial", type=A.counter, required=True)
    x.add_argument("--author", required=True)
    x.add_argument("--reason", required=True)
    x.set_defaults(func=cmd_replace_meter)

    x = sub.add_parser("versions")
    x.add_argument("--limit", type=A.positive_int, default=20)
    x.set_defaults(func=cmd_versions)
    x = sub.add_parser("tag")
    x.add_argument("name")
    x.add_argument("--snapshot", default=None, help="snapshot id (default: the newest)")
    x.set_defaults(func=cmd_tag)
    x = sub.add_parser("compact")
    x.add_argument("--keep-days", type=A.nonnegative, default=30.0, help="keep every version younger than this [d]")
    x.add_argument("--dry-run", action="store_true")
    x.set_defaults(func=cmd_compact)
