"""The tables a verifier checks figure by figure: emissions summary, activity data with sources and stock-balance
components, factors and calculation parameters with sources (NCV, carbon content and oxidation rate each on
its own row), laid out after the reporting template annexed to the Chinese guideline (附表: 排放量汇总,
活动水平数据, 排放因子和计算系数) and reused by the ISO 14064-1 report.

Every tCO2e figure is a line's ``tco2e`` as the engine rounded it (:mod:`models.rounding`, once, per line) or
an exact decimal sum of such figures (:func:`dsum`), so a figure is the same in every section and in every
file; the XLSX stores each as a number (kind ``t``), the PDF prints it with three decimals.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from .content import Table

__all__ = ["BALANCE_KEYS", "ROLE_NAMES", "activity_table", "balance_table", "dec_or_nan", "dsum",
           "parameter_table"]

#: what each parameter role of a methodology's formula is, as the guideline names it
ROLE_NAMES = {
    "NCV": "低位发热量 net calorific value",
    "CC": "单位热值含碳量 carbon content per heat",
    "OF": "碳氧化率 oxidation rate",
    "EF": "排放因子 emission factor",
    "GWP": "全球变暖潜势 GWP",
    "GRID": "电网排放因子 grid emission factor",
    "HEAT": "热力排放因子 heat emission factor",
    "DENSITY": "密度 density",
    "SHARE": "CO2 质量分数 CO2 mass share",
    "UPSTREAM": "上游排放因子 upstream factor",
}
#: the stock-balance components in the order the guideline's balance is written
BALANCE_KEYS = ("opening_stock", "purchased", "closing_stock", "sold", "recovered", "used")


def dec_or_nan(v) -> float:
    """A decimal string (or number) as a float; NaN when empty or not a number."""
    if v is None or v == "":
        return float("nan")
    try:
        return float(Decimal(str(v)))
    except (InvalidOperation, ValueError):
        return float("nan")


def dsum(values) -> float:
    """Exact decimal sum of decimal strings (the engine's rounded figures), as a float."""
    total = Decimal(0)
    for v in values:
        if v is None or v == "":
            continue
        try:
            total += Decimal(str(v))
        except InvalidOperation:
            continue
    return float(total)


def _where(line: dict) -> str:
    return line.get("device") or line.get("workshop") or ""


def activity_table(lines: list[dict], title: str) -> Table:
    """Activity data with sources: one row per line, with the activity rows (file:row) it came from and, for a
    stock balance, its components in the activity unit."""
    rows = []
    for ln in lines:
        a = ln.get("activity") or {}
        bal = a.get("balance") or {}
        rows.append([ln.get("source", ""), ln.get("item", ""), _where(ln), dec_or_nan(a.get("quantity")),
                     a.get("unit", ""), *[dec_or_nan(bal.get(k)) if bal else float("nan") for k in BALANCE_KEYS],
                     ", ".join(a.get("rows") or []) or a.get("origin", "")])
    cols = [("Source", "text"), ("Item", "text"), ("Workshop / device", "text"), ("Activity", "num"),
            ("Unit", "text"), ("Opening stock", "num"), ("Purchased", "num"), ("Closing stock", "num"),
            ("Sold", "num"), ("Recovered", "num"), ("Used", "num"), ("Data source (file:row)", "text")]
    return Table(title, cols, rows,
                 "Stock balance (where a source is one): activity = opening stock + purchased - closing stock - "
                 "sold - recovered, in the activity's unit; a stock-take at the previous period's end is the "
                 "opening stock. Empty cells: not a stock balance.")


def parameter_table(lines: list[dict], ref, title: str) -> Table:
    """Factors and calculation parameters with sources: one row per parameter of each line (NCV, carbon content,
    oxidation rate, EF, GWP, grid factor …, each on its own row), citing its source (``ref`` maps a citation
    to S1, S2 …)."""
    rows = []
    for ln in lines:
        f = ln.get("factor") or {}
        params = f.get("parameters") or [dict(f, role="EF", factor_id=str(f.get("id", "")).split("@")[0])]
        for p in params:
            role = str(p.get("role") or "EF")
            rows.append([ln.get("source", ""), ln.get("item", ""), _where(ln), role, ROLE_NAMES.get(role, role),
                         p.get("factor_id") or p.get("id", ""), dec_or_nan(p.get("value")), p.get("unit", ""),
                         ref(p.get("source", "")),
                         f"{p.get('valid_from', '') or ''} .. {p.get('valid_to', '') or 'open'}",
                         str(p.get("status") or ""), p.get("evidence_sha256") or ""])
    cols = [("Source", "text"), ("Item", "text"), ("Workshop / device", "text"), ("Role", "text"),
            ("Parameter", "text"), ("Factor id", "text"), ("Value", "num"), ("Unit", "text"), ("Source ref", "text"),
            ("Valid", "text"), ("Status", "text"), ("Evidence SHA-256 (measured)", "text")]
    return Table(title, cols, rows, "Each parameter as published or measured, in its published unit; the formula "
                                    "of each source is the methodology package's (see the emissions table).")


def balance_table(lines: list[dict], title: str) -> Table:
    """The stock-balance sources only: components and the resulting activity and emissions."""
    rows = []
    for ln in lines:
        a = ln.get("activity") or {}
        bal = a.get("balance")
        if not bal:
            continue
        rows.append([ln.get("source", ""), ln.get("item", ""), _where(ln), a.get("unit", ""),
                     *[dec_or_nan(bal.get(k)) for k in BALANCE_KEYS], dec_or_nan(a.get("quantity")),
                     dec_or_nan(ln.get("tco2e"))])
    cols = [("Source", "text"), ("Item", "text"), ("Workshop / device", "text"), ("Unit", "text"),
            ("Opening stock", "num"), ("Purchased", "num"), ("Closing stock", "num"), ("Sold", "num"),
            ("Recovered", "num"), ("Used", "num"), ("Activity", "num"), ("tCO2e", "t")]
    return Table(title, cols, rows)
