"""Uncertainties (95 %) of activity data and factors, by key, as a data file.

The packaged default is ``models/data/uncertainty-defaults.csv`` (columns ``key, pct``); an
inventory may override any key. :func:`pct` looks one key up and refuses a key with no value.
"""

from __future__ import annotations

import csv
from pathlib import Path

from models.errors import InventoryError

__all__ = ["UNCERTAINTY_PATH", "load_uncertainty", "pct"]

UNCERTAINTY_PATH = Path(__file__).resolve().parent.parent / "data" / "uncertainty-defaults.csv"


def load_uncertainty(path: str | Path = UNCERTAINTY_PATH) -> dict[str, float]:
    """``{key: pct}`` from an uncertainty file (columns ``key, pct``, see the packaged default)."""
    out = {}
    with open(path, encoding="utf-8") as fh:
        rows = [r for r in fh if r.strip() and not r.lstrip().startswith("#")]
    for rec in csv.DictReader(rows):
        out[rec["key"].strip()] = float(rec["pct"])
    return out


def pct(u: dict[str, float], key: str) -> float:
    """The uncertainty configured for ``key`` [%]; :class:`InventoryError` if there is none."""
    if key not in u:
        raise InventoryError(f"no uncertainty configured for {key!r}")
    return u[key]
