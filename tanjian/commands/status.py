"""``tanjian status [--json] [--check]``: one look at a running workspace.

Collectors (their health file), devices, the store (tip, folded batches, newest reading), the journal and
how far the store lags behind it, the ledger and its last anchor, whether the chain node answers, the
audit trail (verified), the accounts, free disk space and the certificates' expiry (the dashboards' TLS
certificate and the site's OPC UA certificates). ``--check`` exits 1 when something needs a person:
disk under 5 % free, a certificate expiring within 14 days, an audit trail that does not verify, a store
lagging the journal by more than 100 batches, a failing store fold, a meter whose clock is off the
collector's by more than ``collection.clock_tolerance_s``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
from pathlib import Path

from tanjian.args import config_from_args, open_store
from workspace.errors import TanjianError

#: the thresholds of --check
DISK_MIN_FREE = 0.05  # [-] of the data folder's file system
CERT_MIN_DAYS = 14  # [d]
MAX_FOLD_LAG = 100  # [batches]


def certificates(cfg) -> list[tuple[str, Path]]:
    """``(what, PEM file)`` of the certificates the configuration names."""
    out = []
    d = cfg.dashboards
    if getattr(d, "tls_certificate", None):
        out.append(("dashboards TLS", Path(d.tls_certificate)))
    for g in cfg.site.gateways:
        if g.opcua is not None:
            out.append((f"OPC UA gateway {g.id}", Path(g.opcua.certificate)))
            out.append((f"OPC UA server of gateway {g.id}", Path(g.opcua.server_certificate)))
    return out


def cert_expiry(path: Path) -> dt.datetime:
    """``notAfter`` of the first certificate in a PEM (or DER) file [UTC]."""
    from cryptography import x509

    data = path.read_bytes()
    c = x509.load_pem_x509_certificate(data) if b"-----BEGIN" in data else x509.load_der_x509_certificate(data)
    return c.not_valid_after_utc


def gather(cfg, now: dt.datetime | None = None) -> dict:
    """Everything ``tanjian status`` shows, as a JSON-ready dict; ``problems`` lists what ``--check`` fails on."""
    now = now or dt.datetime.now(dt.timezone.utc)
    out: dict = {"time": now.isoformat(timespec="seconds"), "data_dir": str(cfg.paths.data_dir), "problems": []}
    problems = out["problems"]
    from collectors.health import device_health

    devices = device_health(cfg.paths.data_dir)
    doc = devices.attrs
    col = {"health_file": str(doc["health_file"]), "written_at": None}
    if doc["written_at"] is not None:
        bad = devices[devices["consecutive_failures"] > 0]
        col.update(written_at=str(doc["written_at"]), age_s=round(float(doc["age_s"]), 1), cycles=doc["cycles"],
                   acknowledged=doc["acknowledged"], journal_batches=doc["journal_batches"],
                   pending_cycles=doc["pending_cycles"], fold_error=doc.get("fold_error"),
                   devices=len(devices), failing={k: {"failures": int(v["consecutive_failures"]),
                                                      "backoff_s": float(v["backoff_s"] or 0),
                                                      "last_error": str(v["last_error"])}
                                                  for k, v in bad.iterrows()})
        if doc.get("fold_error"):
            problems.append(f"store fold failing: {doc['fold_error']}")
        from collectors.fleet import STATES, device_status

        states = device_status(cfg.paths.data_dir, cfg.site, now=now.timestamp())["state"].value_counts()
        col["states"] = {k: int(states.get(k, 0)) for k in STATES}
        tol = cfg.collection.clock_tolerance_s
        off = devices["clock_offset_s"].abs() > tol
        col["clock_off"] = {k: round(float(v), 1) for k, v in devices.loc[off, "clock_offset_s"].items()}
        if col["clock_off"]:
            problems.append(f"clocks off by more than {tol:g} s (device minus collector): "
                            + ", ".join(f"{k} {v:+.0f} s" for k, v in col["clock_off"].items()))
    out["collector"] = col

    from workspace.journal import Journal

    journal_size = None
    try:
        if cfg.paths.journal.exists():
            with Journal(cfg.paths.journal) as j:
                journal_size = sum(1 for _ in j.records())
    except TanjianError as exc:
        problems.append(f"journal: {exc}")
    out["journal"] = {"path": str(cfg.paths.journal), "batches": journal_size}
    out["store"] = _store(cfg, journal_size, problems)

    from chain.anchor import anchors

    leaves = cfg.paths.chain / "leaves.bin"
    ledger = {"leaves": leaves.stat().st_size // 32 if leaves.exists() else 0, "last_anchor": None}
    try:
        a = anchors(cfg.paths.chain)
        if a:
            last = a[-1]
            ledger["last_anchor"] = {k: last[k] for k in ("root", "tree_size", "block_number", "chain_id",
                                                          "block_time")}
            ledger["unanchored"] = max(0, (journal_size or 0) - last["tree_size"])
    except TanjianError as exc:
        ledger["error"] = str(exc)
    out["ledger"] = ledger
    out["chain"] = {"rpc_url": cfg.chain.rpc_url, "reachable": _reachable(cfg)}

    from workspace import audit
    from workspace.accounts import Accounts

    try:
        h = audit.verify(cfg.paths.data_dir)
        out["audit"] = {"entries": h.size, "head": h.hash, "verifies": True}
    except audit.AuditError as exc:
        out["audit"] = {"verifies": False, "error": str(exc)}
        problems.append(f"audit trail: {exc}")
    try:
        acc = Accounts(cfg.paths.data_dir)
        out["accounts"] = {"count": len(acc.list()), "login_required": acc.exists()}
    except TanjianError as exc:
        out["accounts"] = {"error": str(exc)}
        problems.append(f"accounts: {exc}")

    probe = Path(cfg.paths.data_dir)
    while not probe.exists():
        probe = probe.parent
    du = shutil.disk_usage(probe)
    out["disk"] = {"path": str(probe), "free_bytes": du.free, "total_bytes": du.total,
                   "free_fraction": round(du.free / du.total, 4)}
    if du.free / du.total < DISK_MIN_FREE:
        problems.append(f"disk: only {du.free / du.total:.1%} free on {probe}")

    certs = []
    for what, path in certificates(cfg):
        try:
            until = cert_expiry(path)
            days = (until - now).total_seconds() / 86400
            certs.append({"what": what, "file": str(path), "not_after": until.isoformat(), "days_left": round(days, 1)})
            if days < CERT_MIN_DAYS:
                problems.append(f"certificate {path} ({what}) expires in {days:.0f} days ({until:%Y-%m-%d})")
        except (OSError, ValueError) as exc:
            certs.append({"what": what, "file": str(path), "error": str(exc)})
            problems.append(f"certificate {path} ({what}): {exc}")
    out["certificates"] = certs
    return out


def _store(cfg, journal_size: int | None, problems: list) -> dict:
    """The store's tip, folded batches and newest reading, asked with a deadline (``status_deadline_s`` of
    ``workspace/data/store_network.yaml``): a store on object storage that does not answer is a problem,
    ``store unreachable: <url>: <reason>``, never a wait."""
    from workspace.storage import parse_location, probe

    def ask():
        store = open_store(cfg)
        folded = store.last_folded_seq
        latest = store.latest_time()
        return {"path": str(store.path), "tip": store.tip, "folded_through": folded,
                "newest_reading": latest.isoformat() if latest is not None else None}

    try:
        where = parse_location(cfg.paths.store)
    except TanjianError as exc:
        return {"error": str(exc)}
    if where.is_local:  # a folder answers or fails at once: no thread needed
        try:
            st = ask()
        except TanjianError as exc:
            return {"error": str(exc)}
    else:
        ok, st = probe(ask, what="store")
        if not ok:
            if "no store here yet" in st:
                return {"error": st}
            reason = st.removeprefix(f"{where.label}: ").splitlines()[0]
            problems.append(f"store unreachable: {where.label}: {reason}")
            return {"path": where.label, "error": f"store unreachable: {where.label}: {reason}",
                    "reachable": False}
    if journal_size is not None:
        lag = journal_size - 1 - st["folded_through"]
        st["lag_batches"] = lag
        if lag > MAX_FOLD_LAG:
            problems.append(f"store lags the journal by {lag} batches")
    return st


def _reachable(cfg) -> bool | None:
    if cfg.chain.rpc_url == "tester":
        return None  # in-process: nothing to reach
    from chain.node import connect, is_up

    try:
        return is_up(connect(cfg.chain.rpc_url, timeout=3.0))
    except Exception:  # noqa: BLE001 - any failure to connect is "not reachable"
        return False


def cmd_status(args: argparse.Namespace) -> int:
    rc = _report(args)
    from workspace.storage import probes_running

    if probes_running():  # a store that never answered: its client thread cannot be stopped, nor waited for
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(rc)
    return rc


def _report(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    s = gather(cfg)
    if args.json:
        print(json.dumps(s, ensure_ascii=False, indent=1, default=str))
        return 1 if args.check and s["problems"] else 0
    c = s["collector"]
    if c["written_at"] is not None:
        print(f"collector: {c['cycles']} cycles, {c['acknowledged']} readings acknowledged, journal "
              f"{c['journal_batches']} batches, {c['pending_cycles']} cycles waiting for disk "
              f"(health written {c['age_s']:.0f} s ago)")
        if c.get("fold_error"):
            print(f"  store fold failing: {c['fold_error']}")
        print(f"devices: {c['devices']} seen, {len(c['failing'])} failing"
              + (f", {len(c['clock_off'])} with a clock off" if c.get("clock_off") else "") + "; "
              + ", ".join(f"{n} {k}" for k, n in c["states"].items()))
        for k, v in c["failing"].items():
            wait = f", retry every {v['backoff_s']:.0f} s" if v["backoff_s"] else ""
            print(f"  {k}: {v['failures']} failures{wait}, last: {v['last_error']}")
    else:
        print(f"collector: no health file at {c['health_file']} (not running here yet)")
    st = s["store"]
    if "error" in st:
        print(f"store: {st['error']}")
    else:
        lag = f", {st['lag_batches']} journal batches not yet folded" if "lag_batches" in st else ""
        print(f"store: {st['path']}, batches 0..{st['folded_through']} folded, newest reading "
              f"{st['newest_reading']}, tip {st['tip']}{lag}")
    jb = s["journal"]["batches"]
    print(f"journal: {jb} batches" if jb is not None else f"journal: none yet at {s['journal']['path']}")
    lg = s["ledger"]
    if lg.get("last_anchor"):
        last = lg["last_anchor"]
        print(f"last anchor: root {last['root']} covering {last['tree_size']} batches, block "
              f"{last['block_number']} on chain {last['chain_id']} ({lg.get('unanchored', 0)} batches wait)")
    else:
        print(f"last anchor: none yet (ledger {lg['leaves']} leaves)")
    ch = s["chain"]
    print(f"chain: {ch['rpc_url']} " + {True: "reachable", False: "NOT reachable", None: "in-process"}[ch["reachable"]])
    au = s["audit"]
    print(f"audit trail: {au['entries']} entries, verifies" if au["verifies"] else f"audit trail: FAILS: {au['error']}")
    ac = s["accounts"]
    if "error" not in ac:
        print(f"accounts: {ac['count']}" + ("" if ac["login_required"] else " (dashboards open: no login asked)"))
    d = s["disk"]
    print(f"disk: {d['free_bytes'] / 1e9:.1f} GB free of {d['total_bytes'] / 1e9:.1f} GB ({d['free_fraction']:.0%}) "
          f"at {d['path']}")
    for c in s["certificates"]:
        print(f"certificate {c['what']}: " + (f"expires {c['not_after']} ({c['days_left']:.0f} days)"
                                               if "not_after" in c else c["error"]))
    for p in s["problems"]:
        print(f"PROBLEM: {p}")
    return 1 if args.check and s["problems"] else 0


def add_commands(sub) -> None:
    """Add ``status``."""
    x = sub.add_parser("status", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    x.add_argument("--json", action="store_true", help="one JSON document (for monitoring)")
    x.add_argument("--check", action="store_true", help="exit 1 when a problem is found")
    x.set_defaults(func=cmd_status)
