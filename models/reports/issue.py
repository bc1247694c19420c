"""Issuing reports: their SHA-256s recorded and put into the ledger as document leaves; the monthly/yearly
schedule.

Each report file becomes a ``document`` request in the inbox (:func:`workspace.inbox.document_request`,
the same path as ``tanjian ledger add``): the collector journals it as a batch whose note names the
file, its SHA-256 and who issued it, the anchoring loop anchors it, and ``tanjian verify --document``
checks a copy against the proof. When no collector holds the journal, the requests are journaled and
folded at once.

Schedule
--------
:func:`run_scheduled` makes last month's (or last year's) report once: it writes a marker
``<data_dir>/reports/.issued/<kind>-<period>.json`` after the files are ledgered, and does nothing
when the marker exists, so a cron line or the collector may call it as often as it likes::

    # m h dom mon dow  (plant's local time): 00:20 on the 1st of each month, and on 2 January
    20 0 1 * *  tanjian --config /etc/tanjian.yaml report --schedule monthly --author scheduler
    20 0 2 1 *  tanjian --config /etc/tanjian.yaml report --schedule yearly --author scheduler
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from pathlib import Path

from workspace.errors import TanjianError

from . import LAYOUTS, write_reports
from .render import write_atomic

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_METHODOLOGY", "issue", "last_period", "ledger_files", "record_sums", "run_scheduled"]

#: The methodology package each layout is computed with unless one is named.
DEFAULT_METHODOLOGY = {"cn": "cn-machinery-2015", "iso": "iso-14064-1-2018"}
SUMS_NAME = "SHA256SUMS"


def record_sums(paths: list[Path]) -> Path:
    """Add the files' SHA-256s to ``SHA256SUMS`` in their folder (``sha256sum -c`` format); returns it."""
    folder = Path(paths[0]).parent
    sums = folder / SUMS_NAME
    known = {}
    if sums.exists():
        for line in sums.read_text().splitlines():
            if "  " in line:
                digest, name = line.split("  ", 1)
                known[name] = digest
    for p in paths:
        known[Path(p).name] = hashlib.sha256(Path(p).read_bytes()).hexdigest()
    write_atomic(sums, "".join(f"{d}  {n}\n" for n, d in sorted(known.items())).encode())
    return sums


def ledger_files(cfg, paths: list[Path], author: str, reason: str) -> list[dict]:
    """Put each file's SHA-256 into the ledger, as ``tanjian ledger add`` does (without anchoring).

    Returns one dict a file: ``name``, ``sha256``, ``size`` and ``batch`` (the journal sequence number,
    or None when the running collector will journal the queued request at its next cycle).
    """
    from workspace import audit
    from workspace.errors import JournalError
    from workspace.inbox import document_request, submit
    from workspace.journal import Journal
    from workspace.keeper import Keeper

    reqs = []
    for p in paths:
        req = document_request(p, author, reason)
        submit(cfg.paths.inbox, req)
        reqs.append(req)
    out = [{"name": r["name"], "sha256": r["sha256"], "size": r["size"], "batch": None} for r in reqs]
    audit.record(cfg.paths.data_dir, author, "report_issue", ", ".join(r["name"] for r in reqs), reason)
    try:
        journal = Journal(cfg.paths.journal, writer=True)
    except JournalError:
        log.info("the collector holds the journal: %d report hash(es) queued in %s", len(reqs), cfg.paths.inbox)
        return out
    with journal:
        first = Keeper.open(cfg, journal).catch_up()
        from workspace.batch import decode_batch

        by_hash = {}
        for seq in range(first, journal.next_seq):
            note = decode_batch(journal.read(seq)).note or {}
            if note.get("kind") == "document":
                by_hash.setdefault(note.get("sha256"), seq)
    for o in out:
        o["batch"] = by_hash.get(o["sha256"])
    return out


def issue(cfg, start: dt.date, end: dt.date, out_dir, *, author: str, reason: str, formats=("json", "xlsx", "pdf"),
          layouts=LAYOUTS, methodology: str | None = None, activity=None, report_date: str | None = None,
          level: str = "source", ledger: bool = True, store=None, as_of=None) -> dict:
    """Compute the inventory of [start, end], write the reports, record their SHA-256s and ledger them.

    Parameters
    ----------
    cfg : workspace.config.Config
    start, end : datetime.date
        Inclusive local dates of the period.
    out_dir : path
    author, reason : str
        Who issues the reports, and why (both go into the ledger leaf).
    formats, layouts
        See :func:`models.reports.write_reports`.
    methodology : str, optional
        One package for all layouts; default :data:`DEFAULT_METHODOLOGY` per layout.
    activity : pandas.DataFrame, optional
        Activity records (:mod:`models.activity_input`), in addition to the store's metered data.
    report_date : str, optional
        ISO date printed; default the day after ``end`` (the same inputs then give the same files).
    level : str
        Inventory line level (``source``, ``workshop``, ``device``, ``plant``).
    ledger : bool
        Put the files' hashes into the ledger.
    store : workspace.store.Store, optional
        Default: the configuration's.
    as_of : str, optional
        Store snapshot to read (default: the newest). Ledgering a report adds a store version, so
        regenerate a report byte for byte by passing the snapshot it names.

    Returns
    -------
    dict
        ``files`` (paths), ``sums`` (SHA256SUMS path), ``ledger`` (see :func:`ledger_files`), ``inventories``
        ({layout: canonical dict}).
    """
    from models.inventory import compute_inventory
    from workspace.store import Store

    store = store or Store.open(cfg.paths.store, cfg.site)
    report_date = report_date or (end + dt.timedelta(days=1)).isoformat()
    files, invs = [], {}
    cache: dict[str, dict] = {}
    for lay in layouts:
        mid = methodology or DEFAULT_METHODOLOGY[lay]
        if mid not in cache:
            inv = compute_inventory(start, end, methodology=mid, store=store, activity=activity, site=cfg.site,
                                    level=level, as_of=as_of)
            cache[mid] = inv.to_canonical()
        invs[lay] = cache[mid]
        files += write_reports(cache[mid], out_dir, formats=formats, layouts=(lay,), report_date=report_date,
                               author=author, site=cfg.site)
    out = {"files": files, "sums": record_sums(files) if files else None, "inventories": invs, "ledger": []}
    if ledger and files:
        out["ledger"] = ledger_files(cfg, files, author, reason)
    return out


def last_period(kind: str, today: dt.date) -> tuple[dt.date, dt.date, str]:
    """The last complete calendar month (``monthly``) or year (``yearly``) before ``today``: (start, end, label)."""
    if kind == "monthly":
        end = today.replace(day=1) - dt.timedelta(days=1)
        return end.replace(day=1), end, f"{end:%Y-%m}"
    if kind == "yearly":
        y = today.year - 1
        return dt.date(y, 1, 1), dt.date(y, 12, 31), str(y)
    raise TanjianError(f"schedule {kind!r}: expected 'monthly' or 'yearly'")


def run_scheduled(cfg, kind: str = "monthly", *, now: dt.datetime | None = None, author: str = "scheduler",
                  activity=None, formats=("json", "xlsx", "pdf"), layouts=LAYOUTS) -> dict | None:
    """Make last month's (or year's) reports once; None when they were already issued (see module docstring).

    Reports go to ``<data_dir>/reports/<period>/``; ``now`` (default: the clock) is read in the plant's time zone.
    """
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(cfg.site.plant.timezone)
    now = now.astimezone(tz) if now is not None and now.tzinfo else (now or dt.datetime.now(tz))
    start, end, label = last_period(kind, now.date() if isinstance(now, dt.datetime) else now)
    root = Path(cfg.paths.data_dir) / "reports"
    marker = root / ".issued" / f"{kind}-{label}.json"
    if marker.exists():
        log.info("%s report %s already issued (%s)", kind, label, marker)
        return None
    res = issue(cfg, start, end, root / label, author=author, reason=f"{kind} GHG report {label} (scheduled)",
                formats=formats, layouts=layouts, activity=activity)
    write_atomic(marker, json.dumps({"period": label, "issued_by": author,
                                     "files": [{"name": r["name"], "sha256": r["sha256"], "batch": r["batch"]}
                                               for r in res["ledger"]]}, indent=1).encode())
    log.info("%s report %s issued: %s", kind, label, ", ".join(p.name for p in res["files"]))
    return res
