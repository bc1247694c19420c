"""What a GHG report says, independent of its file format: the canonical inventory dict laid out in the
Chinese guideline's structure or as an ISO 14064-1 GHG report.

The inventory is the dict of :meth:`models.inventory.Inventory.to_canonical` (schema
``tanjian.inventory/1``). Sums shown here (by source group, scope, ISO category, gas; the combined
uncertainty; the data-quality shares) are computed from its ``lines``; the inventory's own
``totals``, ``views`` and ``offsets`` are shown as they are. Offsets are never netted.

Combined uncertainty: IPCC 2006 Vol. 1 ch. 3 approach 1 (error propagation, uncorrelated sources),
``U_total = sqrt(sum((E_i U_i)^2)) / |sum(E_i)|`` with ``U_i`` each line's ``uncertainty_pct``
(half-width of the 95 % interval) [%].
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from workspace.errors import TanjianError

__all__ = ["LAYOUTS", "OptionRefused", "Report", "ReportDateRefused", "ReportError", "Table", "build", "newest_source", "period_label",
           "resolve_report_date", "summary"]

LAYOUTS = ("cn", "iso")
SCHEMA = "tanjian.inventory/1"

ISO_CATEGORIES = {
    1: "Direct GHG emissions and removals",
    2: "Indirect GHG emissions from imported energy",
    3: "Indirect GHG emissions from transportation",
    4: "Indirect GHG emissions from products used by the organization",
    5: "Indirect GHG emissions associated with the use of products from the organization",
    6: "Indirect GHG emissions from other sources",
}
#: the guideline's source groups (NDRC 2015 machinery guideline, section 2: 核算边界)
CN_GROUPS = (
    ("combustion", "化石燃料燃烧排放", "fossil fuel combustion"),
    ("process", "工业生产过程排放", "industrial process emissions"),
    ("electricity", "净购入使用的电力对应的排放", "net purchased electricity"),
    ("heat", "净购入使用的热力对应的排放", "net purchased heat"),
)


class ReportError(TanjianError):
    """The inventory cannot be reported: wrong schema, a line without its figures."""


class ReportDateRefused(ReportError):
    """A report date before the period's end or before a source the report cites (a usage error)."""


class OptionRefused(ReportError):
    """An option the active methodology package does not allow (e.g. a GWP set): a usage error."""


@dataclass
class Table:
    """A titled table. ``columns``: ``(label, kind)`` with kind ``text``, ``t`` (tCO2e), ``num``, ``pct``
    (a percentage already in %) or ``share`` (a fraction shown as %)."""

    title: str
    columns: list[tuple[str, str]]
    rows: list[list]
    note: str = ""


@dataclass
class Report:
    """A report's content: title, key/value facts, tables."""

    layout: str
    title: str
    facts: list[tuple[str, str]]
    tables: list[Table] = field(default_factory=list)


def _scope(line: dict) -> int | None:
    s = line.get("scope")
    if s is None:
        return None
    m = re.search(r"[123]", str(s))
    return int(m.group()) if m else None


def iso_category(line: dict) -> int:
    """ISO 14064-1 category (1-6) of a line: its ``iso_category``, or a ``category`` naming one
    ("1", "category 1", "ISO 2"), else from the scope (1 -> 1, 2 -> 2, 3 -> 4)."""
    for key in ("iso_category", "category"):
        v = line.get(key)
        if isinstance(v, int) and 1 <= v <= 6:
            return v
        if isinstance(v, str):
            m = re.fullmatch(r"\s*(?:iso[\s_-]*|category[\s_-]*|cat[\s_-]*)?([1-6])\s*", v, re.I)
            if m:
                return int(m.group(1))
    return {1: 1, 2: 2, 3: 4}.get(_scope(line) or 0, 6)


def cn_group(line: dict) -> str | None:
    """The guideline's source group of a line, or None (scope 3 is outside the guideline's boundary)."""
    scope = _scope(line)
    text = f"{line.get('source', '')} {line.get('category', '')}".lower()
    if scope == 2:
        return "heat" if ("heat" in text or "steam" in text or "热" in text) else "electricity"
    if scope == 1:
        fuels = ("combustion", "natural_gas", "diesel", "gasoline", "lpg", "coal", "fuel", "燃烧")
        return "combustion" if any(f in text for f in fuels) else "process"
    return None


def _num(v) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return math.nan
    return x


def _check(inv: dict) -> list[dict]:
    if not isinstance(inv, dict):
        raise ReportError("the inventory must be a dict (Inventory.to_canonical())")
    schema = inv.get("schema")
    if schema is not None and schema != SCHEMA:
        raise ReportError(f"inventory schema {schema!r} is not {SCHEMA!r}")
    lines = inv.get("lines")
    if not isinstance(lines, list):
        raise ReportError("the inventory has no 'lines' list")
    for i, line in enumerate(lines):
        t = _num(line.get("tco2e"))
        if not math.isfinite(t):
            raise ReportError(f"inventory line {i} ({line.get('source')!r}): tco2e {line.get('tco2e')!r} "
                              f"is not a number")
    return lines


def _get(d: dict, *paths, default=None):
    """The first of ``paths`` (tuples of keys) present in ``d``."""
    for p in paths:
        cur = d
        for k in p:
            if not isinstance(cur, dict) or k not in cur:
                break
            cur = cur[k]
        else:
            return cur
    return default


def _flat(d, prefix: str = "") -> list[tuple[str, object]]:
    """(dotted key, value) of every scalar in nested dicts/lists, in key order."""
    if isinstance(d, dict):
        out = []
        for k in sorted(d, key=str):
            out += _flat(d[k], f"{prefix}.{k}" if prefix else str(k))
        return out
    if isinstance(d, list):
        out = []
        for i, v in enumerate(d):
            out += _flat(v, f"{prefix}[{i}]")
        return out
    return [(prefix, d)]


def _period_text(p) -> str:
    if isinstance(p, dict):
        label = period_label(p)
        span = " .. ".join(str(p[k]) for k in ("start", "end") if k in p)
        return f"{label} ({span})" if label and span and label != span.replace(" .. ", "_") else span or label
    return str(p)


def summary(inv: dict) -> dict:
    """Figures the report computes from the lines [tCO2e]: by scope, ISO category, guideline group and
    gas; gross total (scopes 1+2 location/compliance lines + scope 3); combined uncertainty [%]; data
    quality shares weighted by emissions [1]. Sums of tCO2e are exact decimal sums of the lines' rounded
    figures (one rounding, at the engine), so a total is the same wherever it appears."""
    from decimal import Decimal, InvalidOperation

    def d(v) -> Decimal:
        try:
            return Decimal(str(v))
        except (InvalidOperation, ValueError):
            return Decimal(0)

    lines = _check(inv)
    by_scope, by_cat, by_group, by_gas = {}, {c: Decimal(0) for c in ISO_CATEGORIES}, {}, {}
    total = Decimal(0)
    var = est = man = 0.0
    for line in lines:
        td = d(line["tco2e"])
        t = float(td)
        total += td
        s = _scope(line)
        key = f"scope{s}" if s else "unscoped"
        by_scope[key] = by_scope.get(key, Decimal(0)) + td
        by_cat[iso_category(line)] += td
        g = cn_group(line)
        if g:
            by_group[g] = by_group.get(g, Decimal(0)) + td
        gas = str(line.get("gas") or "CO2")
        by_gas[gas] = by_gas.get(gas, Decimal(0)) + td
        u = _num(line.get("uncertainty_pct"))
        if math.isfinite(u):
            var += (t * u / 100.0) ** 2
        dq = line.get("data_quality") or {}
        est += t * (_num(dq.get("estimated_share")) if math.isfinite(_num(dq.get("estimated_share"))) else 0.0)
        man += t * (_num(dq.get("manual_share")) if math.isfinite(_num(dq.get("manual_share"))) else 0.0)
    tot = float(total)
    return {
        "gross_tco2e": tot,
        "by_scope": {k: float(v) for k, v in sorted(by_scope.items())},
        "by_iso_category": {str(k): float(v) for k, v in by_cat.items()},
        "by_guideline_group": {k: float(by_group.get(k, Decimal(0))) for k, _, _ in CN_GROUPS},
        "guideline_total_tco2e": float(sum(by_group.values(), Decimal(0))),
        "by_gas": {k: float(v) for k, v in sorted(by_gas.items())},
        "uncertainty_pct": (100.0 * math.sqrt(var) / abs(tot)) if tot else 0.0,
        "estimated_share": est / tot if tot else 0.0,
        "manual_share": man / tot if tot else 0.0,
        "offsets_tco2e": float(sum((d(o.get("tco2e")) for o in _offset_items(inv)), Decimal(0))),
    }


def _offset_items(inv: dict) -> list[dict]:
    """Offset items: ``offsets["items"]`` (models.inventory) or a plain list."""
    off = inv.get("offsets") or []
    items = off.get("items", []) if isinstance(off, dict) else off
    return [o for o in items if isinstance(o, dict)]


def period_label(p) -> str:
    """``2025`` for a calendar year, ``2025-03`` for a calendar month, else ``start_end`` (or the label)."""
    if not isinstance(p, dict):
        return str(p)
    if p.get("label"):
        return str(p["label"])
    import datetime as dt

    try:
        a, b = dt.date.fromisoformat(str(p["start"])), dt.date.fromisoformat(str(p["end"]))
    except (KeyError, ValueError):
        return "_".join(str(v) for v in p.values())
    if (a.month, a.day, b.month, b.day) == (1, 1, 12, 31) and a.year == b.year:
        return str(a.year)
    if a.day == 1 and a.year == b.year and a.month == b.month and (b + dt.timedelta(days=1)).day == 1:
        return f"{a:%Y-%m}"
    return f"{a}_{b}"


_PUBLISHED = re.compile(r"published (\d{4})(?:-(\d{2}))?(?:-(\d{2}))?")


def newest_source(inv: dict):
    """(date, citation) of the newest publication a report of ``inv`` cites, or None.

    Every string of the inventory holding ``published YYYY[-MM[-DD]]`` (factor citations,
    :meth:`models.factors.Factor.citation`) counts; a date known only to the month or year is taken at
    its last day, so a report is never dated before a source that may have appeared late in that month.
    """
    import calendar
    import datetime as dt

    best = None
    for _, v in _flat(inv):
        if not isinstance(v, str):
            continue
        for cite in v.split(" | "):
            for m in _PUBLISHED.finditer(cite):
                y, mo, d = int(m.group(1)), m.group(2), m.group(3)
                if d:
                    when = dt.date(y, int(mo), int(d))
                elif mo:
                    when = dt.date(y, int(mo), calendar.monthrange(y, int(mo))[1])
                else:
                    when = dt.date(y, 12, 31)
                if best is None or when > best[0]:
                    best = (when, cite.strip())
    return best


def resolve_report_date(invs: list[dict], period_end, report_date: str | None) -> str:
    """The report date: ``report_date`` if given, else the day after ``period_end``; never earlier than the
    newest source cited (:func:`newest_source`): a default moves to that date, a given earlier date is refused.

    Raises
    ------
    ReportError
        ``report_date`` is before the period's end or before a cited source's publication (named).
    """
    import datetime as dt

    newest = max((n for n in (newest_source(i) for i in invs) if n is not None), default=None,
                 key=lambda n: n[0])
    if report_date is None:
        date = period_end + dt.timedelta(days=1)
        if newest is not None and newest[0] > date:
            date = newest[0]
        return date.isoformat()
    given = dt.date.fromisoformat(str(report_date))
    if given <= period_end:
        raise ReportDateRefused(f"--report-date {given}: a report of a period ending {period_end} cannot be dated "
                          f"before the period is over (give {period_end + dt.timedelta(days=1)} or later)")
    if newest is not None and given < newest[0]:
        raise ReportDateRefused(f"--report-date {given}: the report cites a source published {newest[0]} or later "
                          f"({newest[1][:160]}); give --report-date {newest[0]} or later, or omit it")
    return given.isoformat()


def _facts(inv: dict, site, report_date: str, author: str, zh: bool) -> list[tuple[str, str]]:
    plant = inv.get("plant")
    ent = getattr(site, "enterprise", None)
    pl = getattr(site, "plant", None)
    m = inv.get("methodology") or {}
    rows = [
        ("企业名称 Enterprise" if zh else "Organization",
         (f"{ent.name_zh} / {ent.name}" if ent.name_zh else ent.name) if ent else
         str(plant.get("enterprise") or "") if isinstance(plant, dict) else ""),
        ("统一社会信用代码 Credit code" if zh else "Unified social credit code", (ent.credit_code or "") if ent else ""),
        ("行业 Industry" if zh else "Industry", ent.industry if ent else ""),
        ("工厂 Plant" if zh else "Facility",
         (f"{pl.name} ({pl.id}), {pl.city}, {pl.province}" if pl else "") or
         (plant.get("name", plant.get("id", "")) if isinstance(plant, dict) else str(plant or ""))),
        ("报告期 Period" if zh else "Reporting period", _period_text(inv.get("period"))),
        ("核算方法 Methodology" if zh else "Methodology",
         f"{m.get('id', '')} {m.get('version', '')}".strip()),
        ("方法学包 SHA-256" if zh else "Methodology package SHA-256", str(m.get("sha256", ""))),
        ("链上核验 On-chain check" if zh else "Checked on chain",
         _chain_check_text(m.get("chain_check"))),
        ("排放因子库 SHA-256" if zh else "Factor library SHA-256",
         str(_get(inv, ("factor_library", "sha256"), ("factor_library_sha256",), default=""))),
        ("数据快照 Store snapshot" if zh else "Store snapshot",
         str(_get(inv, ("store_snapshot",), ("snapshot",), ("store", "snapshot"), default=""))),
        ("报告日期 Report date" if zh else "Report date", report_date),
        ("编制人 Issued by" if zh else "Issued by", author),
    ]
    return rows


def _chain_check_text(chk) -> str:
    """``checked ✓ (version '2026.1' as published ...)`` / ``offline, not checked (why)`` / ``mismatch ✗``."""
    if not isinstance(chk, dict):
        return "not recorded"
    return f"{chk.get('label', '')} ({chk.get('reason', '')})" if chk.get("reason") else str(chk.get("label", ""))


def _referencer(refs: dict[str, str]):
    """``ref(citations) -> "S1, S3"``: each distinct citation numbered once, in order of first use."""
    def ref(citations: str) -> str:
        keys = []
        for c in (x.strip() for x in str(citations or "").split(" | ")):
            if c:
                keys.append(refs.setdefault(c, f"S{len(refs) + 1}"))
        return ", ".join(dict.fromkeys(keys))
    return ref


def _line_rows(lines: list[dict], ref) -> tuple[list, list]:
    """Rows of the sources table and of the activity x factor table (factor sources as references S1, S2, ...)."""
    from .annex import dec_or_nan

    src, act = [], []
    for line in lines:
        a, f = line.get("activity") or {}, line.get("factor") or {}
        src.append([line.get("source", ""), str(line.get("category", "")), str(line.get("scope", "")),
                    line.get("gas", ""), line.get("workshop") or "", line.get("device") or "",
                    line.get("formula") or "", dec_or_nan(line.get("tco2e"))])
        act.append([line.get("source", ""), line.get("device") or line.get("workshop") or "",
                    dec_or_nan(a.get("quantity")), a.get("unit", ""), a.get("origin", ""),
                    f.get("id", ""), dec_or_nan(f.get("value")), f.get("unit", ""), ref(f.get("source", "")),
                    f"{f.get('valid_from', '') or ''} .. {f.get('valid_to', '') or 'open'}",
                    dec_or_nan(line.get("gwp")), dec_or_nan(line.get("tco2e"))])
    return src, act


_SRC_COLS = [("Source", "text"), ("Category", "text"), ("Scope", "text"), ("Gas", "text"), ("Workshop", "text"),
             ("Device", "text"), ("Formula (methodology package)", "text"), ("tCO2e", "t")]


def _headline(inv: dict) -> tuple[str, float | None]:
    """(view, tCO2e) of the methodology's headline total (``totals.headline``), or ("", None)."""
    from .annex import dec_or_nan

    h = (inv.get("totals") or {}).get("headline")
    if isinstance(h, dict) and h.get("tco2e") is not None:
        return str(h.get("view") or ""), dec_or_nan(h["tco2e"])
    return "", None


def _grid_text(view: dict) -> str:
    gf = (view or {}).get("grid_factors") or []
    return "; ".join(f"{g.get('factor_id', g.get('id', ''))} {g.get('value', '')} {g.get('unit', '')} "
                     f"({g.get('source', '')})" for g in gf)


def _cn(inv, lines, s, src, act, refs, ref, ref_table, period, report_date, author, site) -> Report:
    """The guideline's report with its annex tables (附表): entity information, emissions summary, activity data
    with sources, factors and calculation parameters with sources."""
    from .annex import activity_table, dec_or_nan, dsum, parameter_table

    rep = Report("cn", f"温室气体排放报告 GHG emission report — {period}", _facts(inv, site, report_date, author, True))
    rep.tables.append(Table("一、企业基本情况 Enterprise information (附表1)", [("Item", "text"), ("Value", "text")],
                            [list(r) for r in rep.facts]))
    views = inv.get("views") or {}
    comp = views.get("compliance") or {}
    head_view, head_t = _headline(inv)
    groups = dict(s["by_guideline_group"])
    note = "Scope 3 lines are outside the guideline's boundary and not included here."
    if head_view == "compliance" and comp.get("available"):
        # the guideline's 排放总量: purchased electricity at the compliance grid factor in force (views.compliance)
        groups["electricity"] = dec_or_nan(comp.get("scope2_electricity_tco2e"))
        note += (" Net purchased electricity at the compliance grid factor: " + (_grid_text(comp) or "see views") +
                 ". " + str(comp.get("label") or ""))
    total = head_t if head_t is not None else dsum(
        f"{groups[k]:.3f}" for k, _, _ in CN_GROUPS if math.isfinite(groups[k]))
    res = [[zh, en, groups[k]] for k, zh, en in CN_GROUPS]
    res.append(["排放总量", f"total ({head_view or 'lines'})", total])
    for key, zh, en in (("location_based", "基于位置的排放总量", "location-based total"),
                        ("market_based", "基于市场的排放总量", "market-based total")):
        v = views.get(key) or {}
        if v.get("total_tco2e") is not None:
            res.append([zh, f"{en}: {_grid_text(v) or v.get('label', '')}", dec_or_nan(v["total_tco2e"])])
    rep.tables.append(Table("二、温室气体排放量汇总 Emissions summary (附表2)",
                            [("排放源类别", "text"), ("Source group", "text"), ("tCO2e", "t")], res, note))
    src_note = ""
    if head_view == "compliance" and comp.get("available"):
        src_note = (f"Lines are computed location-based; the 排放总量 above counts net purchased electricity at the "
                    f"compliance grid factor instead ({groups['electricity']:,.3f} t).")
    rep.tables.append(Table("二(续)、排放源 Emission sources", _SRC_COLS, src, src_note))
    rep.tables.append(activity_table(lines, "三、活动水平数据及来源 Activity data with sources (附表3)"))
    rep.tables.append(parameter_table(lines, ref, "四、排放因子和计算系数及来源 Emission factors and parameters with "
                                                  "sources (附表4)"))
    rep.tables.append(ref_table)
    rep.tables += _views_tables(inv)
    unused = inv.get("activity_unused") or []
    if unused:
        rep.tables.append(Table("未计入的活动数据 Activity rows not used, with the reason",
                                [("File", "text"), ("Row", "text"), ("Kind", "text"), ("Item", "text"),
                                 ("Reason", "text")],
                                [[str(u.get("file", "")), str(u.get("row", "")), str(u.get("kind", "")),
                                  str(u.get("item", "")), str(u.get("reason", ""))] for u in unused]))
    return rep


_ACT_COLS = [("Source", "text"), ("Device / workshop", "text"), ("Activity", "num"), ("Unit", "text"),
             ("Origin", "text"), ("Factor id", "text"), ("Factor", "num"), ("Factor unit", "text"),
             ("Factor source", "text"), ("Valid", "text"), ("GWP", "num"), ("tCO2e", "t")]


def _figure_row(label: str, key: str, v) -> list:
    """[label, key, tCO2e (number), other value]: tCO2e figures (keys ending in ``tco2e``) as numbers of kind
    ``t``, other decimal strings as numbers, the rest as text."""
    from .annex import dec_or_nan

    if isinstance(v, bool) or v is None:
        return [label, key, math.nan, "" if v is None else str(v)]
    if key.endswith("tco2e"):
        return [label, key, dec_or_nan(v), ""]
    if isinstance(v, (int, float)):
        return [label, key, math.nan, float(v)]
    x = dec_or_nan(v) if isinstance(v, str) and re.fullmatch(r"-?\d+(\.\d+)?", v) else math.nan
    return [label, key, math.nan, x if math.isfinite(x) else str(v)]


_FIGURE_COLS = [("View", "text"), ("Figure", "text"), ("tCO2e", "t"), ("Value", "num")]


def _views_tables(inv: dict) -> list[Table]:
    out = []
    views = inv.get("views") or {}
    names = {"compliance": "Chinese compliance rule (green power not deducted)",
             "location_based": "GHG Protocol scope 2, location-based",
             "market_based": "GHG Protocol scope 2, market-based (contracts, GECs; grid average where no "
                             "residual mix)"}
    rows = []
    for key in ("compliance", "location_based", "market_based", *sorted(k for k in views
                                                                       if k not in names)):
        if key in views:
            for k, v in _flat({k2: v2 for k2, v2 in views[key].items() if k2 != "lines"}
                              if isinstance(views[key], dict) else views[key]):
                rows.append(_figure_row(names.get(key, key), k, v))
    if rows:
        out.append(Table("Views: compliance, location-based and market-based", _FIGURE_COLS, rows,
                         "The Chinese compliance rule and the market-based rule treat purchased green power "
                         "differently; both are shown, labelled."))
    return out


def _offsets_table(inv: dict) -> Table:
    rows = [[str(o.get("item", o.get("type", ""))), str(o.get("note") or o.get("id") or ""),
             str(o.get("origin", "")), _num(o.get("tco2e"))] for o in _offset_items(inv)]
    return Table("Offsets (CCER), reported separately — not netted from gross emissions",
                 [("Item", "text"), ("Note / serial", "text"), ("Origin", "text"), ("tCO2e", "t")], rows)


def build(inv: dict, layout: str, *, report_date: str, author: str, site=None) -> Report:
    """The report's content.

    Parameters
    ----------
    inv : dict
        Canonical inventory (schema ``tanjian.inventory/1``).
    layout : {"cn", "iso"}
        ``cn``: the Chinese guideline's structure (企业基本情况, 排放源, 活动数据与排放因子及来源,
        排放量结果); ``iso``: an ISO 14064-1:2018 GHG report.
    report_date : str
        ISO date printed on the report (and set as the files' creation date).
    author : str
        Who issues it.
    site : workspace.site.Site, optional
        Enterprise and plant details.
    """
    if layout not in LAYOUTS:
        raise ReportError(f"layout {layout!r}: expected one of {', '.join(LAYOUTS)}")
    lines = _check(inv)
    s = summary(inv)
    refs_by_cite: dict[str, str] = {}
    ref = _referencer(refs_by_cite)
    src, act = _line_rows(lines, ref)
    from .annex import balance_table, parameter_table

    params = parameter_table(lines, ref, "")  # cites every parameter's source before the table is printed
    refs = [[k, c] for c, k in refs_by_cite.items()]
    ref_table = Table("Factor sources (cited above as S1, S2, ...)", [("Ref", "text"), ("Source", "text")], refs)
    period = _period_text(inv.get("period"))
    if layout == "cn":
        return _cn(inv, lines, s, src, act, refs, ref, ref_table, period, report_date, author, site)
    rep = Report("iso", f"GHG report (ISO 14064-1:2018) — {period}", _facts(inv, site, report_date, author, False))
    rep.tables.append(Table("1. Organization, boundaries and basis", [("Item", "text"), ("Value", "text")],
                            [list(r) for r in rep.facts]))
    cat = [[f"Category {k}", name, s["by_iso_category"][str(k)]] for k, name in ISO_CATEGORIES.items()]
    cat.append(["Total", "categories 1-6, gross (offsets not deducted)", s["gross_tco2e"]])
    rep.tables.append(Table("2. GHG emissions by category", [("Category", "text"), ("Description", "text"),
                                                            ("tCO2e", "t")], cat,
                            "Category 2 lines use the location-based method; see section 3 for both methods."))
    from .iso import content_index, direct_by_gas

    rep.tables.append(direct_by_gas(lines))
    rep.tables.append(Table("Emissions by scope and gas", [("Group", "text"), ("tCO2e", "t")],
                            [[k, v] for k, v in s["by_scope"].items()] + [[k, v] for k, v in s["by_gas"].items()]))
    rep.tables += [Table("3. " + t.title, t.columns, t.rows, t.note) for t in _views_tables(inv)]
    off = _offsets_table(inv)
    off.title = "4. " + off.title
    rep.tables.append(off)
    unc = [[r[0], r[1], r[-1], _num(line.get("uncertainty_pct"))] for r, line in zip(act, lines)]
    unc.append(["Total", "", s["gross_tco2e"], s["uncertainty_pct"]])
    rep.tables.append(Table("5. Uncertainty (IPCC approach 1, error propagation)",
                            [("Source", "text"), ("Device / workshop", "text"), ("tCO2e", "t"),
                             ("± % (95 %)", "pct")], unc))
    dq = [[line.get("source", ""), line.get("device") or line.get("workshop") or "", _num(line.get("tco2e")),
           _num((line.get("data_quality") or {}).get("estimated_share")),
           _num((line.get("data_quality") or {}).get("manual_share"))] for line in lines]
    dq.append(["Total (emission-weighted)", "", s["gross_tco2e"], s["estimated_share"], s["manual_share"]])
    rep.tables.append(Table("6. Data quality (share of estimated and manual data behind each figure)",
                            [("Source", "text"), ("Device / workshop", "text"), ("tCO2e", "t"),
                             ("Estimated", "share"), ("Manual", "share")], dq))
    rep.tables.append(Table("7. Quantification: activity data x emission factors", _ACT_COLS, act))
    params.title = "7a. Emission factors and calculation parameters (NCV, carbon content, oxidation rate, GWP ...)"
    rep.tables.append(params)
    bal = balance_table(lines, "7b. Stock balances (opening + purchased - closing - sold - recovered)")
    if bal.rows:
        rep.tables.append(bal)
    rep.tables.append(ref_table)
    totals = [_figure_row("totals", k, v)[1:] for k, v in _flat(inv.get("totals") or {})]
    if totals:
        rep.tables.append(Table("8. Totals as computed by the inventory", _FIGURE_COLS[1:], totals))
    rep.tables.append(content_index(inv))
    return rep
