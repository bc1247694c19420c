"""Electricity settlement statements checked against themselves: a statement's total and the sum of its
time-of-use parts (sharp, peak, flat, valley) must agree.

A State Grid settlement statement (电费结算单) prints the energy of each time-of-use period and their total,
all read from the same revenue meter's registers (its total register is the sum of its tariff registers by
construction). They can differ only by the printing's rounding and by the meter's error, so a larger
difference is a typing or export error (a total of 999,999 kWh over parts summing to 588,200 kWh) and the
statement is refused, naming its rows.

Tolerance: the larger of :data:`TOLERANCE_KWH` and :data:`TOLERANCE_SHARE` of the parts' sum (not of the
total: a wrong total must not widen its own tolerance).
"""

from __future__ import annotations

from collections import defaultdict

from ..units import convert
from .contract import TOU_PERIODS

#: absolute tolerance [kWh]: each of the five printed values (four parts and the total) is rounded to a
#: whole kWh, ±0.5 kWh each, so rounding alone can make them differ by up to 2.5 kWh
TOLERANCE_KWH = 2.5
#: relative tolerance [-] of the parts' sum: 0.5 %, the error limit of a class 0.5S revenue meter
#: (GB/T 17215.322 / IEC 62053-22), the class of the metering points whose statements are imported; a
#: difference beyond it cannot be the meter's error
TOLERANCE_SHARE = 0.005

_PARTS = TOU_PERIODS[:-1]


def _kwh(quantity: float, unit: str) -> float:
    return convert(quantity, unit, "kWh")


def tolerance(parts_kwh: float) -> float:
    """The largest accepted difference between a total and ``parts_kwh``, the sum of its parts [kWh]."""
    return max(TOLERANCE_KWH, TOLERANCE_SHARE * abs(parts_kwh))


def check_totals(name: str, records: list[dict], columns: dict[str, str] | None = None
                 ) -> tuple[list[dict], list[tuple[str, int | None, str, str]]]:
    """The records of a file whose statements' totals agree with their parts, and a problem per
    statement whose total does not (its records are left out).

    A statement is the ``electricity_statement`` records of one period, workshop and device; it is
    checked when it has a ``total`` and at least one part.

    Parameters
    ----------
    name : str
        The file's name (for the problems' location).
    records : list of dict
        Parsed records (with ``row``).
    columns : dict, optional
        Item → the column it was read from (a wide layout), for the location; default ``quantity``.
    """
    columns = columns or {}
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        if r["kind"] == "electricity_statement":
            groups[(r["period_start"], r["period_end"], r.get("workshop"), r.get("device"))].append(r)
    problems, bad = [], set()
    for (start, end, _ws, _dev), recs in groups.items():
        totals = [r for r in recs if r["item"] == "total"]
        parts = [r for r in recs if r["item"] in _PARTS]
        if len(totals) != 1 or not parts:
            continue
        total = _kwh(totals[0]["quantity"], totals[0]["unit"])
        s = sum(_kwh(r["quantity"], r["unit"]) for r in parts)
        tol = tolerance(s)
        if abs(total - s) <= tol:
            continue
        rows = sorted({r["row"] for r in recs})
        what = " + ".join(f"{r['item']} {_kwh(r['quantity'], r['unit']):,.0f}" for r in parts)
        problems.append((name, totals[0]["row"], columns.get("total", "quantity"),
                         f"the statement {start}..{end} (row{'s' if len(rows) > 1 else ''} "
                         f"{', '.join(map(str, rows))}): total {total:,.0f} kWh differs from the sum of its "
                         f"time-of-use parts {s:,.0f} kWh ({what}) by {abs(total - s):,.0f} kWh, more than the "
                         f"tolerance {tol:,.1f} kWh (the larger of {TOLERANCE_KWH} kWh and "
                         f"{TOLERANCE_SHARE:.1%} of the parts)"))
        bad.update(id(r) for r in recs)
    return [r for r in records if id(r) not in bad], problems
