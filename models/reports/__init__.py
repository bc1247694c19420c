"""GHG reports from a canonical inventory: canonical JSON, XLSX and PDF, in the Chinese guideline's structure
(``cn``) and as an ISO 14064-1 GHG report (``iso``); byte-identical for the same inputs.

>>> paths = write_reports(inventory, "out", formats=("json", "xlsx", "pdf"), report_date="2026-01-05",
...                       author="wang.fang")                                          # doctest: +SKIP

See :mod:`models.reports.content` (what is reported), :mod:`models.reports.render` (how files stay
reproducible) and :mod:`models.reports.issue` (ledgering, schedule).
"""

from __future__ import annotations

import re
from pathlib import Path

from .content import LAYOUTS, Report, ReportError, build, period_label, summary
from .render import canonical_json, pdf_bytes, report_json, write_atomic, xlsx_bytes

__all__ = ["FORMATS", "LAYOUTS", "Report", "ReportError", "build", "canonical_json", "report_stem", "summary",
           "write_reports"]

FORMATS = ("json", "xlsx", "pdf")


def report_stem(inv: dict) -> str:
    """``ghg-<plant>-<period>``: the files' common name part (safe for file names)."""
    plant = inv.get("plant")
    plant = plant.get("id", plant.get("name", "plant")) if isinstance(plant, dict) else str(plant or "plant")
    period = period_label(inv.get("period"))
    return re.sub(r"[^A-Za-z0-9._-]+", "_", f"ghg-{plant}-{period}")


def write_reports(inv: dict, out_dir, *, formats=FORMATS, layouts=LAYOUTS, report_date: str, author: str,
                  site=None) -> list[Path]:
    """Write the report files of ``inv`` into ``out_dir``; returns their paths.

    Parameters
    ----------
    inv : dict
        Canonical inventory (``tanjian.inventory/1``).
    out_dir : path
    formats : iterable of {"json", "xlsx", "pdf"}
        One file of each per layout: ``<stem>-<layout>.<format>`` (the JSON holds the inventory the layout
        was made from and the figures computed from it).
    layouts : iterable of {"cn", "iso"}
    report_date : str
        ISO date of the report (printed, and the XLSX's creation date).
    author : str
        Who issues the report.
    site : workspace.site.Site, optional
        Enterprise and plant details for the first section.

    Raises
    ------
    ReportError
        Unknown format or layout, or an inventory that cannot be reported.
    """
    formats, layouts = tuple(formats), tuple(layouts)
    for f in formats:
        if f not in FORMATS:
            raise ReportError(f"format {f!r}: expected some of {', '.join(FORMATS)}")
    for lay in layouts:
        if lay not in LAYOUTS:
            raise ReportError(f"layout {lay!r}: expected some of {', '.join(LAYOUTS)}")
    if not author.strip():
        raise ReportError("a report needs the name of who issues it (--author)")
    out, stem = Path(out_dir), report_stem(inv)
    paths = []
    for lay in layouts:
        rep = build(inv, lay, report_date=report_date, author=author, site=site)
        if "json" in formats:
            paths.append(write_atomic(out / f"{stem}-{lay}.json", report_json(inv, report_date=report_date,
                                                                             author=author)))
        if "xlsx" in formats:
            paths.append(write_atomic(out / f"{stem}-{lay}.xlsx", xlsx_bytes(rep, report_date=report_date,
                                                                            author=author)))
        if "pdf" in formats:
            paths.append(write_atomic(out / f"{stem}-{lay}.pdf", pdf_bytes(rep, report_date=report_date,
                                                                          author=author)))
    return paths
