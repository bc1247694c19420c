"""``tanjian``: the workspace's command line. ``tanjian --help`` lists the commands."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import sys
from pathlib import Path

from . import __version__
from .errors import TanjianError

log = logging.getLogger("tanjian")


def config_from_args(args: argparse.Namespace):
    """The configuration named by ``--config`` (default: see :func:`workspace.config.default_path`),
    with ``--data-dir`` applied."""
    from .config import load_config

    return load_config(getattr(args, "config", None), data_dir=getattr(args, "data_dir", None))



def guarded(fn, errors: tuple[type[BaseException], ...] = (TanjianError,)):
    """``fn`` as a sub-command that prints ``error: ...`` and exits 1 on one of ``errors`` (instead of the
    traceback, or :func:`main`'s generic exit 2)."""
    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except errors as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    run.__doc__ = fn.__doc__
    return run

# -- config ------------------------------------------------------------------------------------------
def cmd_config_check(args) -> int:
    from .config import default_path, load_config
    from .errors import ConfigError

    path = args.file or args.config or default_path()
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        for f, line, field, msg in exc.problems:
            print(f"{f}:{line if line is not None else '?'}: {field}: {msg}", file=sys.stderr)
        print(f"{len(exc.problems)} problem(s) found in {path}", file=sys.stderr)
        return 1
    s = cfg.site
    print(f"{path}: OK — {s.plant.name} ({s.plant.timezone}): {len(s.workshops)} workshops, "
          f"{len(s.devices)} devices, {len(s.meters)} meters on {len(s.gateways)} gateways; "
          f"data in {cfg.paths.data_dir}")
    return 0


def cmd_config_schema(args) -> int:
    from .config import schema

    print(json.dumps(schema(), indent=2, ensure_ascii=False))
    return 0


def cmd_config_init(args) -> int:
    from .config import EXAMPLE

    dest = Path(args.dest)
    if dest.exists() and not args.force:
        print(f"{dest} exists; use --force to overwrite", file=sys.stderr)
        return 1
    dest.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    print(f"wrote {dest} (Plant 18 example); edit it, then `tanjian config check {dest}`")
    return 0


# -- collection ----------------------------------------------------------------------------------------
def cmd_simulate(args) -> int:
    from collectors.simulator import PlantSimulator

    from .clock import Clock

    cfg = config_from_args(args)
    clock = Clock.parse(args.clock)

    async def main():
        async with PlantSimulator(cfg.site, clock, cfg.simulation.seed, args.port_offset) as sim:
            print(f"simulating the Modbus TCP meters of {cfg.site.plant.name}: "
                  + ", ".join(f"{g.id} on {g.host}:{g.port + args.port_offset}" for g in sim.tcp_gateways)
                  + f" (clock {clock.spec()}); Ctrl-C stops", flush=True)
            await asyncio.Event().wait()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    return 0


def cmd_collect(args) -> int:
    from collectors.service import CollectionService

    from .clock import Clock
    from .journal import Journal
    from .store import Store

    cfg = config_from_args(args)
    clock = Clock.parse(args.clock)
    journal = Journal(cfg.paths.journal, writer=True)
    store = Store.open(cfg.paths.store, cfg.site, create=True)
    svc = None
    from collectors.mqtt.signed import device_registry_for  # signed MQTT payloads: the chain's DeviceRegistry

    registry = device_registry_for(cfg)

    async def main():
        nonlocal svc
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        import signal

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        # pymodbus clients belong to the running loop: create the service inside it
        svc = CollectionService(cfg.site, journal, store, clock, fold_interval_s=cfg.collection.fold_interval_s,
                                backoff_initial_s=cfg.collection.backoff_initial_s,
                                backoff_max_s=cfg.collection.backoff_max_s,
                                compact_interval_s=cfg.collection.compact_interval_h * 3600,
                                compact_keep_days=cfg.collection.compact_keep_days,
                                clock_tolerance_s=cfg.collection.clock_tolerance_s, port_offset=args.port_offset,
                                period_s=args.period, health_path=cfg.paths.run / "health.json",
                                inbox=cfg.paths.inbox, device_registry=registry)
        await svc.run(stop)

    print(f"collecting into {cfg.paths.data_dir} (journal {len(journal)} batches, store folded up to batch "
          f"{store.last_folded_seq}); Ctrl-C stops", flush=True)
    asyncio.run(main())
    journal.close()
    print(f"stopped: {svc.acknowledged} readings acknowledged in {svc.cycles} cycles")
    return 0


def cmd_fold(args) -> int:
    from .journal import Journal
    from .store import Store

    cfg = config_from_args(args)
    journal = Journal(cfg.paths.journal, writer=True)
    store = Store.open(cfg.paths.store, cfg.site, create=True)
    store.clock_tolerance_s = cfg.collection.clock_tolerance_s
    from .inbox import drain

    if (k := drain(cfg.paths.inbox, journal, cfg.site.plant.id)):
        print(f"journaled {k} waiting correction(s)/event(s) from {cfg.paths.inbox}")
    total = 0
    while True:
        r = store.fold(journal, max_batches=500, author=args.author)
        if r.readings == 0 and r.seq_from > r.seq_to:
            break
        total += r.readings
        print(f"folded batches {r.seq_from}..{r.seq_to} ({r.readings} readings) → snapshot {r.snapshot}")
    print(f"store holds journal batches 0..{store.last_folded_seq}; {total} readings folded now")
    return 0


def cmd_history(args) -> int:
    from .demo_data import seed_history

    cfg = config_from_args(args)
    end = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
    n = seed_history(cfg, end - dt.timedelta(days=args.days), end, progress=True)
    print(f"journaled and folded {n} simulated readings ({args.days:g} days up to {end.isoformat()})")
    return 0


# -- reading ---------------------------------------------------------------------------------------------
def _store(cfg):
    from .store import Store

    return Store.open(cfg.paths.store, cfg.site)


def cmd_query_energy(args) -> int:
    cfg = config_from_args(args)
    store = _store(cfg)
    da = store.energy(args.start, args.end, by=args.by, medium=args.medium,
                      freq=None if args.freq == "total" else args.freq, as_of=args.as_of)
    df = da.to_pandas()
    print(f"# {da.attrs['long_name']} [{da.attrs['units']}], local time {da.attrs['timezone']}, "
          f"snapshot {da.attrs['snapshot']}, measured share {da.attrs['coverage']:.3f}")
    print(df.to_csv(float_format="%.3f") if hasattr(df, "to_csv") else df)
    return 0


def cmd_query_quality(args) -> int:
    cfg = config_from_args(args)
    df = _store(cfg).quality_report(args.start, args.end, meters=args.meter or None, as_of=args.as_of)
    print(f"# data quality {args.start} .. {args.end} ({df.attrs['timezone']}), snapshot {df.attrs['snapshot']}")
    cols = ["minutes", "readings", "completeness_pct", "estimated_pct"] + [
        c for c in df.columns[4:] if df[c].any()]
    print(df[cols].to_csv(float_format="%.2f"))
    return 0


def _when(s: str, tz: str) -> str:
    import pandas as pd

    t = pd.Timestamp(s)
    return (t.tz_localize(tz) if t.tzinfo is None else t).isoformat()


def cmd_correct(args) -> int:
    from .inbox import submit

    cfg = config_from_args(args)
    if args.meter not in cfg.site.meter_ids():
        _unknown(args.meter)
    req = {"kind": "correction", "author": args.author, "reason": args.reason,
           "readings": [{"meter": args.meter, "time": _when(args.time, cfg.site.plant.timezone),
                         "counter": args.counter}]}
    path = submit(cfg.paths.inbox, req)
    print(f"correction queued as {path}; the collector journals it at its next cycle "
          f"(or run `tanjian fold` when no collector runs)")
    return 0


def cmd_replace_meter(args) -> int:
    from .inbox import submit

    cfg = config_from_args(args)
    if args.meter not in cfg.site.meter_ids():
        _unknown(args.meter)
    req = {"kind": "meter_replaced", "author": args.author, "reason": args.reason, "meter": args.meter,
           "time": _when(args.time, cfg.site.plant.timezone), "old_final": args.old_final,
           "new_initial": args.new_initial}
    path = submit(cfg.paths.inbox, req)
    print(f"meter swap queued as {path}; the collector journals it at its next cycle "
          f"(or run `tanjian fold` when no collector runs)")
    return 0


def _unknown(meter: str):
    from .errors import UnknownMeter

    raise UnknownMeter(f"unknown meter {meter!r} (see the site model: `tanjian config check`)")


def methodology_guard(cfg) -> str | None:
    """Refuse to account unless the configured methodology package is the version active on chain.

    Returns a description of the version accounted with, or None when the configuration pins no
    methodology (then the packaged defaults are used, and the output says so).
    """
    if not cfg.chain.methodology_id:
        return None
    from chain.cli import _connect, _registry
    from chain.methodology import require_matching
    from chain.registry import METHODOLOGY_REGISTRY

    w3 = _connect(cfg)
    reg = _registry(cfg, w3, METHODOLOGY_REGISTRY, None)
    v = require_matching(cfg.chain.methodology_package, reg, cfg.chain.methodology_id)
    return f"{cfg.chain.methodology_id} {v.version} (package sha256 {v.package_sha256}, as published on chain)"


def cmd_kpi(args) -> int:
    from models.kpi import plant_kpis

    cfg = config_from_args(args)
    method = methodology_guard(cfg)
    df = plant_kpis(_store(cfg), as_of=args.as_of)
    print(f"# methodology: {method or 'none pinned (packaged factor library; set chain.methodology_id)'}")
    print(f"# {cfg.site.plant.name}: location-based, snapshot {df.attrs['snapshot']}, now {df.attrs['now']}")
    print(df.to_string(float_format=lambda v: f"{v:,.1f}"))
    print("# factors: " + "; ".join(df.attrs["factor_ids"]))
    return 0


def cmd_versions(args) -> int:
    cfg = config_from_args(args)
    for v in _store(cfg).versions()[: args.limit]:
        print(f"{v['id']}  {v['time']:%Y-%m-%d %H:%M:%S}Z  {v['message']}")
    return 0


def cmd_ledger_add(args) -> int:
    from .errors import JournalError
    from .inbox import document_request, submit
    from .journal import Journal
    from .keeper import Keeper

    cfg = config_from_args(args)
    req = document_request(args.file, args.author, args.reason)
    path = submit(cfg.paths.inbox, req)
    try:
        journal = Journal(cfg.paths.journal, writer=True)
    except JournalError:
        print(f"{args.file}: sha256 {req['sha256']} queued ({path}); the running collector journals it at its next "
              f"cycle and its anchoring loop anchors it")
        return 0
    with journal:
        seq = Keeper.open(cfg, journal).catch_up()
    print(f"{args.file}: sha256 {req['sha256']} is ledger batch {seq}")
    if args.no_anchor:
        return 0
    from chain.cli import _service

    try:  # anchor right after the report, when this workspace can reach its chain
        rec = _service(cfg).anchor_once()
        if rec is not None:
            print(f"anchored root {rec['root']} covering {rec['tree_size']} batches in block {rec['block_number']}")
    except Exception as exc:  # noqa: BLE001 - best effort: a node that is down, no key yet, ...
        print(f"not anchored now ({type(exc).__name__}: {str(exc)[:200]}); the anchoring loop or "
              f"`tanjian anchor --once` will")
    print(f"export and check it: `tanjian export {seq} --out DIR` then `tanjian verify DIR/batch-{seq:08d}.json "
          f"DIR/batch-{seq:08d}.proof.json --document {args.file}`")
    return 0


def cmd_compact(args) -> int:
    from .journal import Journal

    cfg = config_from_args(args)
    store = _store(cfg)
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
    snap = _store(cfg).tag(args.name, args.snapshot)
    print(f"tagged {snap} as {args.name} (never expired by `tanjian compact`; usable as --as-of {args.name})")
    return 0


def cmd_status(args) -> int:
    from collectors.health import device_health

    cfg = config_from_args(args)
    devices = device_health(cfg.paths.data_dir)  # what the collector last wrote (`tanjian health`: all of it)
    doc = devices.attrs
    if doc["written_at"] is not None:
        print(f"collector: {doc['cycles']} cycles, {doc['acknowledged']} readings acknowledged, journal "
              f"{doc['journal_batches']} batches, {doc['pending_cycles']} cycles waiting for disk "
              f"(health written {doc['age_s']:.0f} s ago)")
        if doc.get("fold_error"):
            print(f"  store fold failing: {doc['fold_error']}")
        bad = devices[devices["consecutive_failures"] > 0]
        print(f"devices: {len(devices)} seen, {len(bad)} failing")
        for k, v in bad.iterrows():
            wait = f", retry every {v['backoff_s']:.0f} s" if v["backoff_s"] else ""
            print(f"  {k}: {v['consecutive_failures']} failures{wait}, last: {v['last_error']}")
    else:
        print(f"collector: no health file at {doc['health_file']} (not running here yet)")
    try:
        store = _store(cfg)
        print(f"store: {store.path}, batches 0..{store.last_folded_seq} folded, newest reading "
              f"{store.latest_time()}")
    except TanjianError as exc:
        print(f"store: {exc}")
    try:
        from chain.anchor import anchors

        a = anchors(cfg.paths.chain)
        if a:
            last = a[-1]
            print(f"last anchor: root {last['root']} covering {last['tree_size']} batches, block "
                  f"{last['block_number']} on chain {last['chain_id']}")
        else:
            print("last anchor: none yet")
    except TanjianError as exc:
        print(f"anchors: {exc}")
    return 0


def cmd_serve(args) -> int:
    from dashboards.app import serve

    cfg = config_from_args(args)
    serve(cfg, port=args.port)
    return 0


def cmd_demo(args) -> int:
    from .demo import run_demo

    cfg = config_from_args(args)
    return run_demo(cfg, speed=args.speed, lab=not args.no_lab, chain=not args.no_chain,
                    history_days=args.history_days, port_offset=args.port_offset)


#: modules that add their own sub-commands through ``add_commands(subparsers)`` (one per line)
COMMAND_MODULES = (
    "chain.cli",
    "collectors.files_cli",
    "workspace.readings_cli",
    "models.cli",
    "models.quota_cli",
    "models.reports.cli",
    "collectors.opcua_cli",
)


# -- parser ---------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tanjian",
        description="碳鉴 tanjian: carbon-monitoring workspace. Meters → journal → versioned store → "
                    "inventory → anchored proofs.",
        epilog="Configuration: --config FILE, else $TANJIAN_CONFIG, else ./tanjian.yaml, else the packaged "
               "Plant 18 example (data in ./var).")
    p.add_argument("--version", action="version", version=f"tanjian {__version__}")
    p.add_argument("-c", "--config", type=Path, help="tanjian.yaml to use")
    p.add_argument("--data-dir", type=Path, help="override paths.data_dir of the configuration")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    c = sub.add_parser("config", help="check, print the schema of, or create tanjian.yaml")
    cs = c.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    x = cs.add_parser("check", help="validate a configuration; every problem with file, line and field")
    x.add_argument("file", nargs="?", type=Path)
    x.set_defaults(func=cmd_config_check)
    cs.add_parser("schema", help="print the JSON Schema of tanjian.yaml").set_defaults(func=cmd_config_schema)
    x = cs.add_parser("init", help="write the Plant 18 example to start from")
    x.add_argument("dest", nargs="?", default="tanjian.yaml")
    x.add_argument("--force", action="store_true")
    x.set_defaults(func=cmd_config_init)

    x = sub.add_parser("demo", help="run everything on the embedded Plant 18 simulation (what `make demo` runs)")
    x.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second (default 1)")
    x.add_argument("--history-days", type=float, default=None, help="history to backfill on first start")
    x.add_argument("--no-lab", action="store_true", help="do not start JupyterLab")
    x.add_argument("--no-chain", action="store_true", help="do not start anvil and the anchoring loop")
    x.add_argument("--port-offset", type=int, default=0, help="added to every port (run two demos side by side)")
    x.set_defaults(func=cmd_demo)

    x = sub.add_parser("simulate", help="serve the site's meters over Modbus TCP from the load model")
    x.add_argument("--clock", default=None, help="'wall' (default) or ORIGIN@WALLxSPEED, e.g. a faster clock")
    x.add_argument("--port-offset", type=int, default=0)
    x.set_defaults(func=cmd_simulate)

    x = sub.add_parser("collect", help="poll the meters, journal every reading, fold into the store")
    x.add_argument("--clock", default=None, help="as for simulate; must match the meters' clock in a simulation")
    x.add_argument("--port-offset", type=int, default=0)
    x.add_argument("--period", type=float, default=None, help="poll period [s of the clock] (default: meters')")
    x.set_defaults(func=cmd_collect)

    x = sub.add_parser("fold", help="fold journaled batches into the store now")
    x.add_argument("--author", default="cli")
    x.set_defaults(func=cmd_fold)

    x = sub.add_parser("history", help="backfill simulated history (demo data) into the journal and store")
    x.add_argument("--days", type=float, default=3.0)
    x.set_defaults(func=cmd_history)

    q = sub.add_parser("query", help="read the store through the query API")
    qs = q.add_subparsers(dest="query_command", metavar="WHAT", required=True)
    x = qs.add_parser("energy", help="energy per plant/workshop/meter and interval, as CSV")
    x.add_argument("--start", required=True, help="local time, e.g. 2026-11-24 or '2026-11-24 08:00'")
    x.add_argument("--end", required=True)
    x.add_argument("--by", choices=["plant", "workshop", "meter"], default="plant")
    x.add_argument("--medium", choices=["electricity", "natural_gas", "water", "compressed_air"],
                   default="electricity")
    x.add_argument("--freq", default="1h", help="pandas frequency (15min, 1h, 1D, MS) or 'total'")
    x.add_argument("--as-of", default=None, help="snapshot id to read (see `tanjian versions`)")
    x.set_defaults(func=cmd_query_energy)

    x = qs.add_parser("quality", help="completeness and flag counts per meter, as CSV")
    x.add_argument("--start", required=True)
    x.add_argument("--end", required=True)
    x.add_argument("--meter", action="append", help="a meter id (repeatable; default all)")
    x.add_argument("--as-of", default=None)
    x.set_defaults(func=cmd_query_quality)

    x = sub.add_parser("correct", help="replace a stored reading (a new version with author and reason)")
    x.add_argument("--meter", required=True)
    x.add_argument("--time", required=True, help="the reading's time (local unless it has a zone)")
    x.add_argument("--counter", type=float, required=True, help="the right counter value [kWh or m3]")
    x.add_argument("--author", required=True)
    x.add_argument("--reason", required=True)
    x.set_defaults(func=cmd_correct)
    x = sub.add_parser("replace-meter", help="record a meter swap: old meter's final and new meter's initial reading")
    x.add_argument("--meter", required=True)
    x.add_argument("--time", required=True, help="when the new meter started counting (local unless zoned)")
    x.add_argument("--old-final", type=float, required=True)
    x.add_argument("--new-initial", type=float, required=True)
    x.add_argument("--author", required=True)
    x.add_argument("--reason", required=True)
    x.set_defaults(func=cmd_replace_meter)

    x = sub.add_parser("kpi", help="energy and CO2e today, yesterday, this month, this year")
    x.add_argument("--as-of", default=None)
    x.set_defaults(func=cmd_kpi)
    x = sub.add_parser("versions", help="the store's commits, newest first")
    x.add_argument("--limit", type=int, default=20)
    x.set_defaults(func=cmd_versions)
    sub.add_parser("status", help="collector health, store and last anchor").set_defaults(func=cmd_status)
    lg = sub.add_parser("ledger", help="put a file's hash (a report, an invoice) into the ledger")
    ls = lg.add_subparsers(dest="ledger_command", metavar="ACTION", required=True)
    x = ls.add_parser("add", help="record FILE's SHA-256 as a ledger batch, with who issued it and why")
    x.add_argument("file", type=Path)
    x.add_argument("--author", required=True, help="the person responsible for the file")
    x.add_argument("--reason", required=True, help="what it is, e.g. 'monthly GHG report 2026-11'")
    x.add_argument("--no-anchor", action="store_true", help="do not try to anchor right away")
    x.set_defaults(func=cmd_ledger_add)
    x = sub.add_parser("tag", help="name a version of the store so that compaction keeps it")
    x.add_argument("name")
    x.add_argument("--snapshot", default=None, help="snapshot id (default: the newest)")
    x.set_defaults(func=cmd_tag)
    x = sub.add_parser("compact", help="expire old versions (tags kept) and delete what only they used")
    x.add_argument("--keep-days", type=float, default=30.0, help="keep every version younger than this [d]")
    x.add_argument("--dry-run", action="store_true")
    x.set_defaults(func=cmd_compact)
    x = sub.add_parser("serve", help="serve the Panel dashboards")
    x.add_argument("--port", type=int, default=None)
    x.set_defaults(func=cmd_serve)

    import importlib

    for module in COMMAND_MODULES:
        importlib.import_module(module).add_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * args.verbose if args.command != "demo" else logging.INFO - 10 * args.verbose
    logging.basicConfig(level=max(level, logging.DEBUG), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL if args.verbose < 2 else logging.DEBUG)
    try:
        return int(args.func(args) or 0)
    except TanjianError as exc:
        print(f"tanjian {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
