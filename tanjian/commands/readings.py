"""Sub-commands for the meter readers and the people who look after the devices:

- ``tanjian labels``: printable QR labels that open the hand-reading page of each meter;
- ``tanjian reading add``: queue a hand reading with its photo from a shell (what the page does);
- ``tanjian health``: per-device health as the collector last wrote it.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from tanjian import args as A
from tanjian.args import config_from_args, open_store


def cmd_labels(args) -> int:
    from dashboards.labels import labels_for, write_labels

    cfg = config_from_args(args)
    url = args.public_url or cfg.dashboards.public_url
    out = write_labels(cfg.site, url, args.out, args.meter)
    n = len(labels_for(cfg.site, url, args.meter))
    print(f"{out}: {n} label(s) pointing at {url}/readings?meter=ID")
    return 0


def cmd_health(args) -> int:
    from collectors.health import device_health, render, summary

    cfg = config_from_args(args)
    df = device_health(cfg.paths.data_dir, cfg.site if args.all else None)
    if args.csv:
        print(df.to_csv(), end="")
        return 0
    print(summary(df))
    if df.attrs.get("fold_error"):
        print(f"store fold failing: {df.attrs['fold_error']}")
    print(render(df, only_problems=args.problems))
    return 0


def cmd_reading_add(args) -> int:
    from zoneinfo import ZoneInfo

    from workspace.business.manual import submit_manual_reading
    from workspace.errors import StoreError

    cfg = config_from_args(args)
    tz = ZoneInfo(cfg.site.plant.timezone)
    when = dt.datetime.fromisoformat(args.time) if args.time else dt.datetime.now(tz)
    try:
        store = open_store(cfg)
    except StoreError:
        store = None
    photo = Path(args.photo)
    sub = submit_manual_reading(cfg.site, store, cfg.paths.inbox, cfg.paths.evidence, meter=args.meter,
                                time=when, counter=args.counter, reader=args.reader, photo=photo.read_bytes(),
                                photo_name=photo.name, reason=args.reason, confirmed=args.confirm)
    for p in sub.problems:
        print(f"confirmed {p.severity}: {p.message}")
    print(f"{args.meter} = {args.counter} at {when.isoformat()} by {args.reader} queued for the ledger "
          f"({sub.request}); photo sha256 {sub.photo.sha256}. The running collector journals it at its next "
          f"cycle, else `tanjian fold`.")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``labels``, ``reading`` and ``health`` to the ``tanjian`` parser."""
    x = sub.add_parser("labels",
                       description="Write a sheet of QR labels (A4, 3 x 8 labels of 70 x 37 mm as PDF, or one "
                                   "SVG), each pointing at <dashboards.public_url>/readings?meter=ID.")
    x.add_argument("--out", required=True, type=A.new_file, help="labels.pdf or labels.svg")
    x.add_argument("--meter", "--meters", action="extend", nargs="+", metavar="ID",
                   help="meters to label (default: every meter of the site model)")
    x.add_argument("--public-url", default=None,
                   help="override dashboards.public_url (the address the phones reach the dashboards at)")
    x.set_defaults(func=cmd_labels)

    r = sub.add_parser("reading")
    rs = r.add_subparsers(dest="reading_command", metavar="ACTION", required=True)
    x = rs.add_parser("add", help="check a hand reading, store its photo as evidence and queue it for the ledger")
    x.add_argument("--meter", required=True)
    x.add_argument("--counter", required=True, type=A.counter, help="the value on the register [kWh or m3]")
    x.add_argument("--photo", required=True, type=A.existing_file, help="photo of the meter's display (JPEG, PNG, WebP, HEIC)")
    x.add_argument("--reader", required=True, help="who read the meter")
    x.add_argument("--time", default=None, type=A.local_time, help="when it was read, ISO 8601 (local unless zoned; default now)")
    x.add_argument("--reason", default="hand reading")
    x.add_argument("--confirm", action="store_true", help="submit despite warnings (errors still refuse)")
    x.set_defaults(func=cmd_reading_add)

    x = sub.add_parser("health",
                       description="Per-device health from <data_dir>/run/health.json, which the running "
                                   "collector rewrites every cycle. States: ok, backing_off, never_seen.")
    x.add_argument("--all", action="store_true", help="list every meter of the site model, also never seen")
    x.add_argument("--problems", action="store_true", help="only devices that are not ok")
    x.add_argument("--csv", action="store_true", help="print CSV (every column, times in UTC)")
    x.set_defaults(func=cmd_health)
