"""Manual vouchers for purchased resources (fuel, purchased heat or steam, an electricity bill) typed in by hand,
with the voucher's scan as evidence.

A voucher is not a second way into the activity records: :func:`enter_voucher` writes its lines as a small CSV in
the record's own columns (``voucher-<number>.csv``) and imports it with :func:`workspace.business.imports.import_file`
under the mapping :data:`MAPPING` (``manual_voucher``), exactly as ``tanjian import`` would: the same row checks
(every problem as ``file:row:column: message``, the file refused whole unless the good rows are accepted), the
same dedup, the CSV kept in the evidence store and its hash queued for the ledger, the records read by
``tanjian inventory`` from ``<data_dir>/activity/``. Each line's note names the voucher number, the supplier and
the scan's SHA-256, so the scan's hash is inside the ledgered CSV; the scan itself is stored in the evidence store
(and queued as a ``document`` of its own) once the voucher is imported.

``tanjian import voucher-X.csv --mapping manual_voucher`` imports such a file from the command line when the
configuration holds the mapping; :func:`config_with_mapping` adds it for the call when it does not.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import TanjianError
from .contract import ITEMS

#: the name of the import mapping of vouchers
MAPPING = "manual_voucher"
#: the CSV's columns (the record's own fields)
CSV_COLUMNS = ("kind", "item", "period_start", "period_end", "quantity", "unit", "note")
#: the resources a voucher buys: ``kind:item`` of the record contract (fuels, purchased heat, the power bill)
RESOURCES = tuple([f"fuel:{i}" for i in ITEMS["fuel"]] + [f"heat:{i}" for i in ITEMS["heat"]]
                  + ["electricity_statement:total"])
_SAFE = re.compile(r"[^A-Za-z0-9_.\-]+")
#: the largest scan accepted [bytes]
MAX_SCAN_BYTES = 20 * 1024 * 1024


def mapping() -> dict:
    """The import mapping of voucher CSVs: each column is the record field of its name."""
    return {"kind": "mixed", "description": "manual vouchers for purchased resources typed in on the "
            "data-collection page (workspace.business.vouchers)", "columns": {c: c for c in CSV_COLUMNS}}


def config_with_mapping(cfg):
    """``cfg`` itself when it has the ``manual_voucher`` mapping, else a copy that adds it."""
    if MAPPING in cfg.imports:
        return cfg
    from .mapping import ImportMapping

    return cfg.model_copy(update={"imports": {**cfg.imports, MAPPING: ImportMapping.model_validate(mapping())}})


@dataclass(frozen=True)
class VoucherLine:
    """One line of a voucher as typed: resource (``kind:item`` of :data:`RESOURCES`), quantity and unit (text:
    the import checks them)."""

    resource: str
    quantity: str
    unit: str


def voucher_csv(number: str, supplier: str, period_start: str, period_end: str, lines: list[VoucherLine],
                scan_sha256: str) -> bytes:
    """The voucher as CSV bytes in :data:`CSV_COLUMNS` (UTF-8; row 1 is the header, line ``k`` is row ``k + 1``)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    note = f"voucher {number}; supplier {supplier}; scan sha256 {scan_sha256}"
    for ln in lines:
        kind, _, item = ln.resource.partition(":")
        w.writerow([kind, item, period_start, period_end, ln.quantity, ln.unit, note])
    return buf.getvalue().encode("utf-8")


def file_name(number: str) -> str:
    """``voucher-<number>.csv`` with only letters, digits, ``_ . -`` kept from the number."""
    return f"voucher-{_SAFE.sub('_', number.strip()).strip('_') or 'x'}.csv"


def enter_voucher(cfg, *, author: str, number: str, supplier: str, period_start: str, period_end: str,
                  lines: list[VoucherLine], scan: bytes, scan_name: str, scan_type: str = "application/pdf",
                  accept_good_rows: bool = False, reason: str | None = None):
    """Import a hand-typed voucher through the import path (see the module's docstring).

    Returns
    -------
    workspace.business.imports.ImportResult

    Raises
    ------
    TanjianError
        A voucher without number, supplier, lines or scan (nothing is read or stored).
    workspace.business.sheets.ActivityFileError
        Row problems as ``voucher-<number>.csv:row:column: message`` (nothing imported unless the good rows are
        accepted and there are some).
    """
    from ..evidence import EvidenceStore
    from ..inbox import submit
    from .imports import import_file

    missing = [w for w, v in (("voucher number", number), ("supplier", supplier), ("author", author)) if not
               str(v or "").strip()]
    if missing:
        raise TanjianError(f"a voucher needs its {', '.join(missing)}")
    if not lines:
        raise TanjianError("a voucher needs at least one line (resource, quantity, unit)")
    bad = [ln.resource for ln in lines if ln.resource not in RESOURCES]
    if bad:
        raise TanjianError(f"unknown resource {bad[0]!r} (one of {', '.join(RESOURCES)})")
    if not scan:
        raise TanjianError("a voucher needs its scan (PDF or image) as evidence")
    if len(scan) > MAX_SCAN_BYTES:
        raise TanjianError(f"the scan has {len(scan):,} bytes, more than {MAX_SCAN_BYTES:,}")
    sha = hashlib.sha256(scan).hexdigest()
    data = voucher_csv(number.strip(), supplier.strip(), period_start.strip(), period_end.strip(), lines, sha)
    name = file_name(number)
    reason = reason or f"manual voucher {number.strip()} from {supplier.strip()}"
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / name
        path.write_bytes(data)
        r = import_file(config_with_mapping(cfg), path, MAPPING, author=author.strip(), reason=reason,
                        accept_good_rows=accept_good_rows)
    if r.status == "imported":
        ev = EvidenceStore(cfg.paths.evidence).put(scan, name=scan_name or f"{name}.scan", media_type=scan_type,
                                                   author=author.strip(), reason=f"scan of {reason}")
        submit(cfg.paths.inbox, {"kind": "document", "author": author.strip(), "reason": f"scan of {reason}",
                                 "name": scan_name or f"{name}.scan", "sha256": ev.sha256, "size": len(scan)})
    return r


def list_vouchers(data_dir) -> list[dict]:
    """The imported voucher records, newest import first: time, author, voucher file, resource, quantity, unit,
    period, note, the CSV's SHA-256."""
    from .documents import read_documents

    out = []
    for doc in read_documents(data_dir):
        if doc.get("mapping_name") != MAPPING:
            continue
        for rec in doc["records"]:
            out.append({"time": doc["time"], "author": doc["author"], "file": doc["source_file"],
                        "resource": f"{rec['kind']}:{rec['item']}", "quantity": rec["quantity"], "unit": rec["unit"],
                        "period_start": rec["period_start"], "period_end": rec["period_end"],
                        "note": rec.get("note") or "", "sha256": doc["source_sha256"]})
    return sorted(out, key=lambda r: r["time"], reverse=True)


__all__ = ["CSV_COLUMNS", "MAPPING", "RESOURCES", "VoucherLine", "config_with_mapping", "enter_voucher",
           "file_name", "list_vouchers", "mapping", "voucher_csv"]
