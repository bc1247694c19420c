"""``tanjian``: the workspace's command line. ``tanjian --help`` lists the commands.

:data:`COMMANDS` is the one table of commands: name, the group (a module of :mod:`tanjian.commands`) that
adds and runs it, and its line in ``tanjian --help``. Only the group of the command being run is imported
(its module then imports what the command needs when it runs), so ``--help`` and a command's start stay
quick; the other commands are listed with their help line only.
"""

from __future__ import annotations

import argparse
import logging
import sys
from types import ModuleType
from typing import Callable, NamedTuple


# -- the command groups: each loader imports its module (a plain import statement: grep finds it) --------
def _chain() -> ModuleType:
    from tanjian.commands import chain
    return chain


def _push() -> ModuleType:
    from tanjian.commands import push
    return push


def _collect() -> ModuleType:
    from tanjian.commands import collect
    return collect


def _config() -> ModuleType:
    from tanjian.commands import config
    return config


def _demo() -> ModuleType:
    from tanjian.commands import demo
    return demo


def _imports() -> ModuleType:
    from tanjian.commands import imports
    return imports


def _inventory() -> ModuleType:
    from tanjian.commands import inventory
    return inventory


def _alarms() -> ModuleType:
    from tanjian.commands import alarms
    return alarms


def _park() -> ModuleType:
    from tanjian.commands import park
    return park


def _allowance() -> ModuleType:
    from tanjian.commands import allowance
    return allowance


def _opcua() -> ModuleType:
    from tanjian.commands import opcua
    return opcua


def _readings() -> ModuleType:
    from tanjian.commands import readings
    return readings


def _reports() -> ModuleType:
    from tanjian.commands import reports
    return reports


def _serve() -> ModuleType:
    from tanjian.commands import serve
    return serve


def _lab() -> ModuleType:
    from tanjian.commands import lab
    return lab


def _plan() -> ModuleType:
    from tanjian.commands import plan
    return plan


def _store() -> ModuleType:
    from tanjian.commands import store
    return store


def _energy() -> ModuleType:
    from tanjian.commands import energy
    return energy


def _status() -> ModuleType:
    from tanjian.commands import status
    return status


def _backup() -> ModuleType:
    from tanjian.commands import backup
    return backup


def _audit() -> ModuleType:
    from tanjian.commands import audit
    return audit


def _user() -> ModuleType:
    from tanjian.commands import user
    return user


class Command(NamedTuple):
    """A row of :data:`COMMANDS`."""

    name: str  #: the word after ``tanjian``
    group: Callable[[], ModuleType]  #: imports and returns the group module whose add_commands adds it
    help: str  #: its line in ``tanjian --help``


#: every command of ``tanjian``, in the order ``tanjian --help`` lists them
COMMANDS: tuple[Command, ...] = (
    Command("config", _config, "check, print the schema of, or create tanjian.yaml"),
    Command("demo", _demo, "run everything on the embedded Plant 18 simulation (what `make demo` runs)"),
    Command("simulate", _collect, "serve the site's meters over Modbus TCP from the load model"),
    Command("collect", _collect, "poll the meters, journal every reading, fold into the store"),
    Command("simulate-mqtt", _collect, "publish one mqtt gateway's clamp meters from the load model (QoS 1)"),
    Command("fold", _store, "fold journaled batches into the store now"),
    Command("history", _demo, "backfill simulated history (demo data) into the journal and store"),
    Command("query", _store, "read the store through the query API"),
    Command("correct", _store, "replace a stored reading (a new version with author and reason)"),
    Command("replace-meter", _store, "record a meter swap: old meter's final and new meter's initial reading"),
    Command("kpi", _inventory, "energy and CO2e today, yesterday, this month, this year"),
    Command("versions", _store, "the store's commits, newest first"),
    Command("status", _status, "collectors, store, journal lag, ledger, chain, audit, disk, certificates"),
    Command("ledger", _chain, "put a file's hash (a report, an invoice) into the ledger"),
    Command("tag", _store, "name a version of the store so that compaction keeps it"),
    Command("compact", _store, "expire old versions (tags kept) and delete what only they used"),
    Command("serve", _serve, "serve the Panel dashboards"),
    Command("lab", _lab, "JupyterLab on the loopback interface, in the notebooks folder, for this workspace"),
    Command("anchor", _chain, "anchor the ledger root on chain"),
    Command("export", _chain, "export a batch and its proof bundle"),
    Command("verify", _chain, "verify a batch file against its proof bundle"),
    Command("chain", _chain, "gateway key and registry deployment"),
    Command("methodology", _chain, "methodology versions on chain (the association publishes)"),
    Command("quota", _chain, "emission quotas (hand-entered; the regulator's on chain win)"),
    Command("import", _imports, "import a business file (ERP output, electricity bill, invoices, financials); "
                                "'import list' lists them"),
    Command("reconcile", _imports, "electricity bill vs metered energy per time-of-use period"),
    Command("labels", _readings, "printable QR labels that open each meter's hand-reading page"),
    Command("reading", _readings, "hand readings with a photo (as the /readings page takes them)"),
    Command("health", _readings, "per-device health: last seen, errors, latency, back-off"),
    Command("inventory", _inventory, "GHG inventory for a year or period (scopes 1-3, ISO categories)"),
    Command("footprint", _inventory, "product carbon footprint per unit (gate to gate) for a month"),
    Command("allowance", _allowance, "the year's allowance: settlement, forecast, alarm, green share"),
    Command("report", _reports, "GHG report (XLSX, PDF, canonical JSON) for a year or month; hashes go into the "
                                "ledger"),
    Command("opcua", _opcua, "OPC UA: make certificates, simulate a SCADA server"),
    Command("push", _push, "the HTTP endpoint outside connectors push readings to (any language)"),
    Command("energy", _energy, "energy management: time-of-use cost, demand, PF, load moves, transformers, "
                               "unit consumption, device states, anomalies"),
    Command("plan", _plan, "the reduction path: PV, efficiency, green power, certificates, offsets (Pyomo)"),
    Command("audit", _audit, "the hash-chained audit trail: show, verify (names an edited entry), export"),
    Command("backup", _backup, "back up the data folder (journal, store, ledger, evidence, audit, keys) to a .tar.gz"),
    Command("restore", _backup, "restore a backup into an empty folder, checked against the anchors' Merkle roots"),
    Command("user", _user, "accounts and roles of the dashboards: add, passwd, role, disable, enable, list"),
    Command("alarms", _alarms, "alarms: list, show (path to the source), ack, shelve, unshelve, rules, evaluate"),
    Command("park", _park, "the park: submit report packages, verify them on chain, emissions and quota status"),
)
_BY_NAME = {c.name: c for c in COMMANDS}
#: global options that take a value (to find the command word in argv without parsing it)
_VALUED = ("-c", "--config", "--data-dir")


def command_of(argv: list[str]) -> str | None:
    """The command ``argv`` runs (its first word that names one and is not a global option's value), or
    None: no command, or ``-h`` before it (then the whole list is wanted)."""
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word in _VALUED:
            skip = True
        elif word in ("-h", "--help"):
            return None
        elif word in _BY_NAME:
            return word
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``tanjian`` parser. Every command of :data:`COMMANDS` is listed; the options of ``command``'s
    group only are added (all commands of the group, by its ``add_commands``), the others are help lines."""
    from tanjian.args import Parser, path_name
    from workspace import __version__

    p = Parser(
        prog="tanjian",
        description="碳鉴 tanjian: carbon-monitoring workspace. Meters → journal → versioned store → "
                    "inventory → anchored proofs.",
        epilog="Configuration: --config FILE, else $TANJIAN_CONFIG, else ./tanjian.yaml, else the packaged "
               "Plant 18 example (data in ./var).")
    p.add_argument("--version", action="version", version=f"tanjian {__version__}")
    p.add_argument("-c", "--config", type=path_name, help="tanjian.yaml to use")
    p.add_argument("--data-dir", type=path_name, help="override paths.data_dir of the configuration")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    p.add_argument("--log-json", action="store_true", help="log lines as JSON objects (for journald, log shippers)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    group = _BY_NAME[command].group if command in _BY_NAME else None
    for c in COMMANDS:
        if c.group is not group:
            sub.add_parser(c.name, help=c.help)
        elif c.name == next(x.name for x in COMMANDS if x.group is group):
            group().add_commands(sub)  # the group's first row: all its commands, with their options
    return p


def main(argv: list[str] | None = None) -> int:
    """Run ``tanjian ARGV`` (default: the process's arguments); returns the exit code."""
    from tanjian.args import ArgumentRefused
    from workspace.errors import TanjianError

    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(command_of(argv))
    args, extra = parser.parse_known_args(argv)
    if extra:  # named with the command (argparse would say only "tanjian: unrecognized arguments")
        words = [w for w in (args.command, *(getattr(args, k) for k in vars(args) if k.endswith("_command")))
                 if isinstance(w, str)]
        shown = " ".join(w if w.isprintable() else repr(w) for w in extra)  # one line, whatever was typed
        parser.exit(2, f"tanjian {' '.join(words)}: unrecognized arguments: {shown}\n")
    level = logging.WARNING - 10 * args.verbose if args.command != "demo" else logging.INFO - 10 * args.verbose
    logging.basicConfig(level=max(level, logging.DEBUG), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.log_json:
        from tanjian.service import JsonFormatter

        for h in logging.getLogger().handlers:
            h.setFormatter(JsonFormatter())
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL if args.verbose < 2 else logging.DEBUG)
    try:
        return int(args.func(args) or 0)
    except ArgumentRefused as exc:
        print(exc, file=sys.stderr)
        return 2
    except TanjianError as exc:
        print(f"tanjian {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
