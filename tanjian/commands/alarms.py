"""``tanjian alarms``: the alarm log and its rules: ``list``, ``show``, ``ack``, ``shelve``, ``unshelve``,
``rules`` and ``evaluate`` (one evaluation now; the collector runs it every minute)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

from tanjian import args as A
from tanjian.args import ArgumentRefused, config_from_args, guarded


def _rules_file(args, cfg):
    from tanjian.alarm_loop import rules_path

    path = args.rules or rules_path(cfg)
    if path is None:
        raise ArgumentRefused(f"tanjian alarms {args.alarms_command}: no alarm rules: put alarms.yaml beside "
                              f"{cfg.source} or give --rules FILE")
    return path


def _db(cfg):
    from models.alarms import AlarmDB

    return AlarmDB.in_data_dir(cfg.paths.data_dir)


def _local(cfg, t: float | None) -> str:
    if t is None:
        return "-"
    from zoneinfo import ZoneInfo

    return dt.datetime.fromtimestamp(t, ZoneInfo(cfg.site.plant.timezone)).strftime("%Y-%m-%d %H:%M")


def _alarm(db, args):
    from models.alarms import AlarmNotFound

    try:
        return db.alarm(args.id)
    except AlarmNotFound:
        raise ArgumentRefused(f"tanjian alarms {args.alarms_command}: no alarm #{args.id} "
                              f"(`tanjian alarms list --all` lists them)") from None


def cmd_list(args) -> int:
    from models.alarms import shown

    cfg = config_from_args(args)
    with _db(cfg) as db:
        rows = db.alarms(limit=args.limit) if args.all else shown(db)
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    if not rows:
        print("no alarms" + ("" if args.all else " to show (UNACK, ACKED, RTNUN); --all lists every one"))
        return 0
    print(f"{'#':>5} {'priority':<8} {'state':<5} {'count':>5} {'last raised':<16} {'rule':<26} {'target':<10} message")
    for a in rows:
        print(f"{a['id']:>5} {a['priority']:<8} {a['state']:<5} {a['count']:>5} {_local(cfg, a['last_raised']):<16} "
              f"{a['rule']:<26} {a['target']:<10} {a['message']}")
    return 0


def cmd_show(args) -> int:
    from workspace.topology import TopologyError, locate

    cfg = config_from_args(args)
    with _db(cfg) as db:
        a = _alarm(db, args)
        events = db.events(a["id"])
    try:
        where = locate(cfg.site, a["target"])
    except TopologyError:
        where = None
    if args.json:
        print(json.dumps({"alarm": a, "events": events, "where": where}, indent=2, ensure_ascii=False))
        return 0
    print(f"alarm #{a['id']} {a['priority']} {a['state']}: {a['message']}")
    print(f"  rule {a['rule']} ({a['kind']}) on {a['target']}; raised {a['count']} time(s), first "
          f"{_local(cfg, a['first_raised'])}, last {_local(cfg, a['last_raised'])}")
    if a["acked_by"]:
        print(f"  acknowledged by {a['acked_by']} at {_local(cfg, a['acked_at'])}")
    if a["state"] == "SHLVD":
        print(f"  shelved by {a['shelved_by']} until {_local(cfg, a['shelved_until'])}: {a['shelve_reason']}")
    if where is not None:
        print(f"  path to source: {' -> '.join(where['path'])}")
        print(f"  meters on it: {', '.join(where['meters']) or '-'}; distribution room(s): "
              f"{', '.join(where['rooms']) or '-'}")
        if where["position"]:
            print(f"  floor plan: x {where['position'][0]} m, y {where['position'][1]} m")
        if where["process_step"]:
            s = where["process_step"]
            print(f"  process: line {s['line']}, step {s['step']} of {s['of']}")
    for e in events:
        who = f" by {e['user']}" if e["user"] else ""
        print(f"  {_local(cfg, e['at'])} {e['event']:<9} -> {e['state']:<5}{who}{': ' + e['detail'] if e['detail'] else ''}")
    return 0


def _audit(cfg, user: str, action: str, a: dict, reason: str) -> None:
    """The person's action on the audit trail (workspace.audit), beside the alarm log's own event."""
    from workspace import audit

    audit.record(cfg.paths.data_dir, user, action, f"alarm #{a['id']} {a['rule']} on {a['target']}", reason)


#: what a person needs for each action on an alarm (workspace/data/roles.yaml; the alarms page asks the same)
PERMISSION = {"ack": "alarm.ack", "shelve": "alarm.shelve", "unshelve": "alarm.shelve"}


def _permitted(cfg, args) -> None:
    """Once the workspace has accounts (``tanjian user add``), ``--user`` must name an enabled account whose
    role has the action's :data:`PERMISSION`; refused (exit 2) otherwise. Without accounts any named person may act (the
    name is recorded, as before accounts existed)."""
    from workspace.accounts import Accounts

    acc = Accounts(cfg.paths.data_dir)
    if not acc.exists():
        return
    who = f"tanjian alarms {args.alarms_command}: --user {args.user}"
    a = acc.get(args.user)
    if a is None:
        raise ArgumentRefused(f"{who}: no such account (this workspace has accounts: `tanjian user list`)")
    if a.disabled:
        raise ArgumentRefused(f"{who}: the account is disabled")
    need = PERMISSION[args.alarms_command]
    if need not in a.permissions:
        raise ArgumentRefused(f"{who}: role {a.role} has no permission {need} (roles.yaml)")


def cmd_ack(args) -> int:
    cfg = config_from_args(args)
    _permitted(cfg, args)
    with _db(cfg) as db:
        _alarm(db, args)
        a = db.ack(args.id, args.user, note=args.note)
    _audit(cfg, args.user, "alarm_ack", a, args.note or "")
    print(f"alarm #{a['id']} acknowledged by {a['acked_by']}: now {a['state']}")
    return 0


def cmd_shelve(args) -> int:
    import time

    cfg = config_from_args(args)
    _permitted(cfg, args)
    until = time.time() + args.hours * 3600
    with _db(cfg) as db:
        _alarm(db, args)
        a = db.shelve(args.id, args.user, args.reason, until)
    _audit(cfg, args.user, "alarm_shelve", a, f"{args.reason} (until {_local(cfg, until)})")
    print(f"alarm #{a['id']} shelved by {args.user} until {_local(cfg, until)}: {args.reason}")
    return 0


def cmd_unshelve(args) -> int:
    cfg = config_from_args(args)
    _permitted(cfg, args)
    with _db(cfg) as db:
        _alarm(db, args)
        a = db.unshelve(args.id, args.user)
    _audit(cfg, args.user, "alarm_unshelve", a, "")
    print(f"alarm #{a['id']} unshelved by {args.user}: now {a['state']}")
    return 0


def cmd_rules(args) -> int:
    from models.alarms import load_rules

    cfg = config_from_args(args)
    path = _rules_file(args, cfg)
    rs = load_rules(path)
    if args.json:
        print(json.dumps(rs.model_dump(), indent=2, ensure_ascii=False))
        return 0
    print(f"{path}: {len(rs.rules)} rules; source: {' '.join(rs.source.split())}")
    print(f"{'rule':<26} {'kind':<20} {'quantity':<17} {'limit':>10} {'band':>6} {'on s':>6} {'off s':>6} priority")
    for r in rs.rules:
        lim = f"{'>' if r.high else '<'}{r.limit:g}"
        off = "" if r.enabled else " (disabled)"
        print(f"{r.id:<26} {r.kind:<20} {r.quantity:<17} {lim:>10} {r.deadband:>6g} {r.on_delay_s:>6g} "
              f"{r.off_delay_s:>6g} {r.priority}{off}")
    for c in rs.channels:
        where = f"{c.url.split('://')[0]}://…" if c.url else f"the URL in {c.url_file}"
        print(f"channel {where} receives {c.min_priority} and above")
    return 0


def cmd_evaluate(args) -> int:
    from models.alarms.inputs import gather
    from tanjian.alarm_loop import engine_for
    from tanjian.args import open_store

    cfg = config_from_args(args)
    engine = engine_for(cfg, _rules_file(args, cfg), notify=not args.no_notify)
    store = open_store(cfg)
    now = dt.datetime.now(dt.timezone.utc) if args.at is None else _aware(cfg, args.at)
    rooms, onsite = {}, {}
    if args.read_devices:
        import asyncio

        from tanjian.alarm_loop import read_onsite, read_rooms

        site = cfg.site
        rooms = asyncio.run(read_rooms(site, args.port_offset)) if site.rooms else {}
        if site.onsite.pv or site.onsite.batteries:
            onsite = asyncio.run(read_onsite(site, args.port_offset))
    out = engine.evaluate(now, gather(store, now, rooms=rooms, onsite=onsite))
    engine.db.close()
    for t in out:
        print(f"{t.event:<9} #{t.alarm} {t.priority:<8} {t.rule} on {t.target}: {t.message}")
    print(f"{len(out)} transition(s) at {now.isoformat(timespec='seconds')}", file=sys.stderr)
    return 0


def _aware(cfg, text: str) -> dt.datetime:
    from zoneinfo import ZoneInfo

    t = dt.datetime.fromisoformat(text)
    return t if t.tzinfo else t.replace(tzinfo=ZoneInfo(cfg.site.plant.timezone))


def _name(value: str) -> str:
    if not value.strip():
        raise argparse.ArgumentTypeError("a person's name, not blank")
    return value.strip()


def add_commands(sub) -> None:
    """Add ``alarms`` and its sub-commands."""
    p = sub.add_parser("alarms", description="The alarm log (ISA-18.2 states: UNACK, ACKED, RTNUN, SHLVD, DSUPR, "
                                             "NORM) and its rules. The collector evaluates the rules every minute.")
    s = p.add_subparsers(dest="alarms_command", required=True)
    x = s.add_parser("list", help="alarms an operator sees now (--all: every one, newest first)")
    x.add_argument("--all", action="store_true", help="every alarm, closed ones too")
    x.add_argument("--limit", type=A.positive_int, default=200, help="with --all: at most this many (default 200)")
    x.add_argument("--json", action="store_true")
    x.set_defaults(func=guarded(cmd_list))
    x = s.add_parser("show", help="one alarm: its events, and the path from its target to the transformer or source")
    x.add_argument("id", type=A.positive_int)
    x.add_argument("--json", action="store_true")
    x.set_defaults(func=guarded(cmd_show))
    x = s.add_parser("ack", help="acknowledge an alarm, by a named person")
    x.add_argument("id", type=A.positive_int)
    x.add_argument("--user", required=True, type=_name, help="who acknowledges (recorded with the event); with accounts, an account "
                                                                 "whose role has alarm.ack")
    x.add_argument("--note", default=None, help="what was found or done")
    x.set_defaults(func=guarded(cmd_ack, (ValueError,) + _errors()))
    x = s.add_parser("shelve", help="take an alarm out of view for a time, with a reason")
    x.add_argument("id", type=A.positive_int)
    x.add_argument("--user", required=True, type=_name)
    x.add_argument("--reason", required=True, type=_name, help="why (recorded; e.g. 'meter being replaced')")
    x.add_argument("--hours", type=A.positive, default=8.0, help="how long (default 8 h); it returns by itself")
    x.set_defaults(func=guarded(cmd_shelve, (ValueError,) + _errors()))
    x = s.add_parser("unshelve", help="return a shelved alarm before its time")
    x.add_argument("id", type=A.positive_int)
    x.add_argument("--user", required=True, type=_name)
    x.set_defaults(func=guarded(cmd_unshelve, (ValueError,) + _errors()))
    x = s.add_parser("rules", help="the rules evaluated (alarms.yaml beside the configuration)")
    x.add_argument("--rules", type=A.existing_file, default=None, help="a rules file instead")
    x.add_argument("--json", action="store_true")
    x.set_defaults(func=guarded(cmd_rules))
    x = s.add_parser("evaluate", help="evaluate the rules once now (the collector does it every minute)")
    x.add_argument("--rules", type=A.existing_file, default=None, help="a rules file instead")
    x.add_argument("--at", type=A.local_time, default=None, help="evaluate at this local time instead of now")
    x.add_argument("--no-notify", action="store_true", help="do not send notifications")
    x.add_argument("--read-devices", action="store_true", help="read the distribution rooms and the SunSpec "
                                                               "units over Modbus first (as the collector does)")
    x.add_argument("--port-offset", type=A.port_offset, default=0, help="with --read-devices: added to every "
                                                                        "gateway port")
    x.set_defaults(func=guarded(cmd_evaluate))


def _errors() -> tuple[type[BaseException], ...]:
    from workspace.errors import TanjianError

    return (TanjianError,)
