"""``tanjian config {check,schema,init}``: validate, print the schema of, or create ``tanjian.yaml``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tanjian import args as A
from tanjian.commands.push import check_push_section


def cmd_config_check(args) -> int:
    from workspace.config import default_path, load_config
    from workspace.errors import ConfigError

    path = args.file or args.config or default_path()
    try:
        cfg = load_config(path)
        check_push_section(cfg)  # the push: section's secret files (its schema: load_config)
    except ConfigError as exc:
        for f, line, field, msg in exc.problems:
            print(f"{f}:{line if line is not None else '?'}: {field}: {msg}", file=sys.stderr)
        print(f"{len(exc.problems)} problem(s) found in {path}", file=sys.stderr)
        return 1
    s = cfg.site
    print(f"{path}: OK — {s.plant.name} ({s.plant.timezone}): {len(s.workshops)} workshops, "
          f"{len(s.devices)} devices, {len(s.meters)} meters on {len(s.gateways)} gateways; "
          f"data in {cfg.paths.data_dir}")
    for line in bus_warnings(cfg):
        print(line, file=sys.stderr)
    return 0


def bus_warnings(cfg) -> list[str]:
    """One line per DL/T 645 bus whose poll cycle, computed from its baud rate and the frames of every item its
    meters' families read (:func:`collectors.dlt645.bustime.estimate_cycle_s`), does not fit the shortest period
    of its meters: the bus cannot be read that often, whatever the meters answer."""
    out = []
    dlt = [g for g in cfg.site.gateways if g.protocol in ("dlt645_serial", "dlt645_tcp")]
    if not dlt:
        return out
    from collectors.dlt645.bustime import estimate_cycle_s

    for g in dlt:
        meters = [m for m in cfg.site.meters if m.gateway == g.id]
        if not meters:
            continue
        need = estimate_cycle_s(g, meters)
        period = min(m.period_s for m in meters)
        if need > period:
            out.append(f"warning: gateway {g.id}: a poll cycle of its {len(meters)} meters takes {need:.1f} s on "
                       f"the line, more than their {period:g} s period (fewer meters on this bus, fewer items, "
                       f"data blocks, or a faster line)")
    return out


def cmd_config_schema(args) -> int:
    from workspace.config import schema

    print(json.dumps(schema(), indent=2, ensure_ascii=False))
    return 0


def cmd_config_init(args) -> int:
    from workspace.config import EXAMPLE

    dest = Path(args.dest)
    if dest.exists() and not args.force:
        print(f"{dest} exists; use --force to overwrite", file=sys.stderr)
        return 1
    dest.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    print(f"wrote {dest} (Plant 18 example); edit it, then `tanjian config check {dest}`")
    return 0


def add_commands(sub) -> None:
    """Add ``config {check,schema,init}``."""
    c = sub.add_parser("config")
    cs = c.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    x = cs.add_parser("check", help="validate a configuration; every problem with file, line and field")
    x.add_argument("file", nargs="?", type=A.path_name)
    x.set_defaults(func=cmd_config_check)
    cs.add_parser("schema", help="print the JSON Schema of tanjian.yaml").set_defaults(func=cmd_config_schema)
    x = cs.add_parser("init", help="write the Plant 18 example to start from")
    x.add_argument("dest", nargs="?", default="tanjian.yaml", type=A.new_file)
    x.add_argument("--force", action="store_true")
    x.set_defaults(func=cmd_config_init)
