"""``tanjian park submit | verify | status | request | requests | answer``: the park on proofs alone (:mod:`models.park`).

    tanjian park submit PACKAGE_DIR (--drop DROP | --park park.yaml)
        copy an enterprise's report package into the park's drop folder (DROP/<enterprise>/<period>/), or
        upload it to the park's bucket (park.yaml's s3 section; keys from the environment or a 0600 file)
    tanjian park verify (--drop DROP --deployment deployment.json --rpc URL | --park park.yaml)
        every package's checks against the chain; the failing check named; exit 1 when any fails
    tanjian park request ENTERPRISE --period YYYY-MM --methodology ID --deployment F --rpc URL
                         (--keystore FILE [--password-file F] | --from ADDRESS)
        the regulator requests a month's report on chain (ReportRequests); refusals in one line
    tanjian park requests --deployment F --rpc URL
        every request: open, or fulfilled after N s
    tanjian [--config tanjian.yaml] park answer [REQUEST_ID ...] [--park park.yaml] [--author NAME]
        as the enterprise: issue the reports the regulator requested (tanjian report's path, the methodology
        guard included), ledger and anchor them, submit the package and fulfil the request on chain; the
        anchoring loop does the same by itself when <data_dir>/park.yaml has an `answer:` section
    tanjian park status (--drop DROP --deployment F --rpc URL --year YYYY | --park park.yaml) [--today DATE]
        emissions by enterprise, sector and month, quota position and forecast, late or missing reports

The park needs no plant's configuration and no store: the drop (a folder or a bucket), a node and the
consortium's deployment record (the contract addresses it publishes) are all it reads. ``park.yaml``
(models/park/config.py) holds them; an option given on the line wins over the file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

from tanjian.args import existing_dir, existing_file, local_date, month, path_name, year


class _Refused(Exception):
    """A one-line refusal and its exit status."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


def _park(args: argparse.Namespace):
    """park.yaml with the line's options over it (drop, deployment, rpc, year)."""
    from models.park.config import ParkConfig, load_park
    from workspace.errors import ConfigError

    try:
        cfg = load_park(args.park) if getattr(args, "park", None) else None
    except ConfigError as exc:
        raise _Refused(str(exc).split("\n", 1)[-1] if len(exc.problems) == 1 else str(exc), 2) from None
    if getattr(args, "drop", None):
        cfg = ParkConfig(drop=args.drop) if cfg is None else cfg.model_copy(update={"drop": args.drop, "s3": None})
    if cfg is None:
        raise _Refused("say where the packages are: --drop DROP or --park park.yaml", 2)
    upd = {k: getattr(args, k) for k in ("deployment", "rpc", "year") if getattr(args, k, None) is not None}
    return cfg.model_copy(update=upd)


def _packages(cfg):
    from models.park.package import PackageError
    from models.park.s3drop import scan
    from workspace.errors import ConfigError, TanjianError

    try:
        return scan(cfg)
    except ConfigError as exc:
        raise _Refused(str(exc).split("\n", 1)[-1], 2) from None
    except (PackageError, TanjianError) as exc:
        raise _Refused(str(exc), 1) from None


def _verdicts(args: argparse.Namespace):
    from chain.node import NODE_DOWN_ERRORS, connect
    from models.park import verify_package

    cfg = _park(args)
    for key, opt in (("deployment", "--deployment"), ("rpc", "--rpc")):
        if getattr(cfg, key) is None:
            raise _Refused(f"no {key}: give {opt} or set {key} in park.yaml", 2)
    try:
        deployment = json.loads(cfg.deployment.read_text("utf-8"))
        deployment["contracts"]["AnchorRegistry"]["address"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise _Refused(f"{cfg.deployment}: not a deployment record ({type(exc).__name__}: {exc})", 2) from None
    packages = _packages(cfg)
    w3 = connect(cfg.rpc)
    try:
        return [verify_package(p, w3, deployment) for p in packages]
    except NODE_DOWN_ERRORS as exc:
        raise _Refused(f"node {cfg.rpc} unreachable ({type(exc).__name__}); nothing verified", 1) from None


def _refusing(fn):
    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except _Refused as exc:
            print(f"tanjian park {args.park_command}: {exc}", file=sys.stderr)
            return exc.code
    run.__doc__ = fn.__doc__
    return run


def cmd_submit(args: argparse.Namespace) -> int:
    from models.park.package import PackageError
    from models.park.s3drop import submit_to
    from workspace.errors import ConfigError, TanjianError

    cfg = _park(args)
    try:
        dest = submit_to(cfg, args.package)
    except ConfigError as exc:
        raise _Refused(str(exc).split("\n", 1)[-1], 2) from None
    except PackageError as exc:
        raise _Refused(str(exc), 1 if cfg.s3 is not None and "failed:" in str(exc) else 2) from None
    except TanjianError as exc:
        raise _Refused(str(exc), 2) from None
    print(f"submitted: {dest}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from models.park import status_table

    verdicts = _verdicts(args)
    if not verdicts:
        print(f"no packages in {_park(args).drop_label}")
        return 0
    for v in verdicts:
        line = f"{v.enterprise:<14} {v.period}  {v.status}"
        print(line + (f"  ({v.detail()})" if v.failed else ""))
    st = status_table(verdicts)
    n_bad = int((st["failed_check"] != "").sum())
    print(f"{len(st) - n_bad} of {len(st)} packages verified")
    return 1 if n_bad else 0


def cmd_status(args: argparse.Namespace) -> int:
    import pandas as pd

    from models.park import by_enterprise, by_month, by_sector, lateness, quota_position

    verdicts = _verdicts(args)
    yr = _park(args).year
    if yr is None:
        raise _Refused("no year: give --year or set year in park.yaml", 2)
    today = dt.date.fromisoformat(args.today) if args.today else dt.date.today()
    enterprises = sorted({v.enterprise for v in verdicts})
    periods = [f"{yr}-{m:02d}" for m in range(1, 13)]
    with pd.option_context("display.width", 120, "display.max_columns", 12):
        print("emissions by enterprise [kg CO2e]\n" + by_enterprise(verdicts).to_string() + "\n")
        print("emissions by sector [kg CO2e]\n" + by_sector(verdicts).to_string() + "\n")
        print("emissions by month [kg CO2e]\n" + by_month(verdicts).to_string() + "\n")
        print(f"quota position {yr} [kg CO2e]\n" + quota_position(verdicts, yr).to_string() + "\n")
        late = lateness(verdicts, enterprises, periods, today=today)
        print("late or missing reports\n" + (late.to_string(index=False) if len(late) else "none"))
    return 0


def _deployment(args: argparse.Namespace) -> dict:
    try:
        dep = json.loads(args.deployment.read_text("utf-8"))
        dep["contracts"]["ReportRequests"]["address"]
    except (ValueError, KeyError, TypeError) as exc:
        raise _Refused(f"{args.deployment}: no ReportRequests contract in this deployment record "
                       f"({type(exc).__name__}: {exc})", 2) from None
    return dep


def cmd_request(args: argparse.Namespace) -> int:
    from chain.node import connect
    from chain.requests import request_report, requests_contract
    from tanjian.commands.chain import _role_sender
    from workspace.errors import ChainError

    dep = _deployment(args)
    w3 = connect(args.rpc)
    y, m = (int(x) for x in args.period.split("-"))
    start, end = dt.date(y, m, 1), dt.date(y + m // 12, m % 12 + 1, 1)
    try:
        rid = request_report(w3, requests_contract(w3, dep), _role_sender(args), args.enterprise, start, end,
                             args.methodology)
    except ChainError as exc:
        raise _Refused(str(exc), 1) from None
    print(f"request {rid}: report of {args.enterprise} for {args.period} under {args.methodology}")
    return 0


def cmd_requests(args: argparse.Namespace) -> int:
    from chain.node import connect
    from chain.requests import all_requests, requests_contract

    dep = _deployment(args)
    w3 = connect(args.rpc)
    rows = all_requests(requests_contract(w3, dep))
    if not rows:
        print("no requests")
    for r in rows:
        print(f"{r.id:>4}  {r.enterprise:<14} {r.period_start:%Y-%m}  {r.methodology:<22} {r.state}")
    return 0


def cmd_answer(args: argparse.Namespace) -> int:
    """Answer this plant's open requests (or the ones named) once; refusals one line each, exit 1."""
    from chain.connect import anchoring_service
    from chain.node import NODE_DOWN_ERRORS
    from models.park.config import load_park
    from models.reports.on_demand import forget_refusal, park_yaml, watcher_for
    from tanjian.args import config_from_args
    from workspace.errors import ConfigError, TanjianError

    cfg = config_from_args(args)
    path = args.park or park_yaml(cfg)
    if not path.is_file():
        raise _Refused(f"{path}: no park.yaml (the park's drop or s3 and its deployment record); give --park", 2)
    try:
        load_park(path)  # the settings' mistakes first, before any node is asked
        svc = anchoring_service(cfg)
        watcher = watcher_for(cfg, svc, path, author=args.author)
        if watcher is None:
            raise _Refused(f"{path}: who answers? give --author or set answer.author in park.yaml", 2)
        for rid in args.request_id:
            forget_refusal(cfg, rid)
        answers = watcher.poll()
    except ConfigError as exc:
        raise _Refused(str(exc).split("\n", 1)[-1] if len(exc.problems) == 1 else str(exc), 2) from None
    except TanjianError as exc:
        raise _Refused(str(exc), 1) from None
    except NODE_DOWN_ERRORS as exc:
        raise _Refused(f"node {cfg.chain.rpc_url} unreachable ({type(exc).__name__}); nothing answered", 1) from None
    if args.request_id:
        answers = [a for a in answers if a.request_id in set(args.request_id)]
    if not answers:
        print(f"no open request for {cfg.site.plant.id}")
    refused = 0
    for a in answers:
        if a.state in ("refused", "error"):
            refused += 1
            print(f"tanjian park answer: {a.state}: {a.detail}", file=sys.stderr)
        elif a.state == "fulfilled":
            print(f"request {a.request_id}: fulfilled after {a.latency_s:.0f} s; {a.detail}")
        else:
            print(f"request {a.request_id}: waiting: {a.detail}")
    return 1 if refused else 0


def add_commands(subparsers) -> None:
    """Add ``park {submit,verify,status,request,requests,answer}``."""
    p = subparsers.add_parser("park", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    s = p.add_subparsers(dest="park_command", metavar="ACTION", required=True)
    x = s.add_parser("submit", help="copy a report package into the park's drop folder or bucket")
    x.add_argument("package", type=existing_dir, help="the package folder (package.json, figures, batch, bundle)")
    x.add_argument("--drop", type=path_name, help="the park's drop folder")
    x.add_argument("--park", type=existing_file, help="park.yaml: its drop folder or S3 bucket (instead of --drop)")
    x.set_defaults(func=_refusing(cmd_submit))
    for name, fn, what in (("verify", cmd_verify, "verify every package on chain; name the failing check"),
                           ("status", cmd_status, "emissions, quota position and forecast, late reports")):
        x = s.add_parser(name, help=what)
        x.add_argument("--park", type=existing_file,
                       help="park.yaml: drop folder or S3 bucket, deployment, rpc, year (options below win)")
        x.add_argument("--drop", type=existing_dir, help="the park's drop folder")
        x.add_argument("--deployment", type=existing_file,
                       help="the consortium's deployment record (deployment.json: contract addresses)")
        x.add_argument("--rpc", help="node JSON-RPC URL, e.g. http://127.0.0.1:8545")
        if name == "status":
            x.add_argument("--year", type=year, help="compliance year (default: park.yaml's)")
            x.add_argument("--today", type=local_date, help="date the lateness is counted at (default: today)")
        x.set_defaults(func=_refusing(fn))
    x = s.add_parser("request", help="as the regulator, request an enterprise's report for a month on chain")
    x.add_argument("enterprise", help="enterprise (plant) id")
    x.add_argument("--period", type=month, required=True, help="the month YYYY-MM (must have ended)")
    x.add_argument("--methodology", required=True, help="methodology id, e.g. cn-machinery-2015")
    x.add_argument("--keystore", type=existing_file, help="the regulator's encrypted key")
    x.add_argument("--password-file", type=existing_file, help="its password file (mode 0600)")
    x.add_argument("--from", dest="sender", help="an unlocked account of a dev node, instead of --keystore")
    x.set_defaults(func=_refusing(cmd_request))
    x = s.add_parser("requests", help="every report request: open, or fulfilled after N s")
    x.set_defaults(func=_refusing(cmd_requests))
    x = s.add_parser("answer", help="as the enterprise, answer the regulator's open report requests")
    x.add_argument("request_id", type=int, nargs="*", help="only these requests (a refusal recorded earlier is "
                                                           "tried again)")
    x.add_argument("--park", type=existing_file, help="park.yaml (default: <data_dir>/park.yaml)")
    x.add_argument("--author", help="who issues the reports (default: park.yaml's answer.author)")
    x.set_defaults(func=_refusing(cmd_answer))
    for x in (s.choices["request"], s.choices["requests"]):
        x.add_argument("--deployment", type=existing_file, required=True,
                       help="the deployment record with the ReportRequests contract")
        x.add_argument("--rpc", required=True, help="node JSON-RPC URL")
