"""GHG inventory of a plant for any period and level, under a named methodology package.

:func:`compute_inventory` is the engine: it validates the activity records (an activity file,
see :mod:`models.activity_input`), keeps those of the period (:func:`models.records.period_records`: a
stock-take at the previous period's end is the opening stock, anything else outside is an error), reads
the metered energy (:mod:`models.metered`), routes every record to the package source that counts it
(``rules.yaml``, :mod:`models.rulebook`) and evaluates each source's formula (:mod:`models.sources`) for each
view's grid factor: location-based lines, the compliance view (the Chinese guideline's 排放总量) and the
market-based view (:mod:`models.scope2`). Every activity row ends up in a line, in the offsets or memo, or in
``Inventory.unused`` with the reason. The result is an :class:`models.lines.Inventory`. :func:`restate`
recomputes an inventory with another factor library and explains each difference;
:func:`models.footprint.footprint` allocates the emissions to products.

Formulas, sources and choices: ``docs/accounting.md``.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import replace
from pathlib import Path

import pandas as pd

from models import metered, scope2
from models.activity_input import _blank, validate_activity
from models.context import Context
from models.errors import InventoryError
from models.factors import DEFAULT_PATH, FactorError, FactorLibrary
from models.factors.measured import MeasuredFactor
from models.factors.resolution import Resolver
from models.factors.uncertainty import load_uncertainty
from models.lines import LEVEL_KEYS, LEVELS, Inventory, Line, merge
from models.packages import Methodology, check_library, load_methodology
from models.records import period_records
from models.rounding import dec, rounded
from models.sources import Group, evaluate, groups_of, quantity_group
from workspace.units import convert

__all__ = ["QUANTITIES", "compute_inventory", "restate"]

log = logging.getLogger(__name__)

#: named plant-level activity quantities a caller may give (``quantities=``), with their unit
QUANTITIES = {"electricity_self_consumed_nonfossil": "MWh", "electricity_exported": "MWh"}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
#: record kinds the engine reads itself (not through a package source)
_ENGINE_KINDS = {"electricity_statement": "electricity", "green_power": "market", "gec": "market",
                 "offset": "offsets"}


def _check_measured(measured: list[MeasuredFactor], meth: Methodology) -> None:
    """Refuse what a plant cannot measure (a grid factor) and evidence that is not a SHA-256."""
    grids = {v.factor for v in meth.rules.views.values()}
    problems = []
    for m in measured:
        where = f"{m.file}:{m.line}" if m.file else f"measured {m.factor_id}"
        if not _SHA256.match(str(m.evidence_sha256 or "")):
            problems.append(f"{where}:evidence_sha256: {m.evidence_sha256!r} is not a SHA-256 (64 lowercase hex "
                            f"digits of the lab report's bytes)")
        if m.factor_id in grids or m.factor_id.startswith("grid_"):
            problems.append(f"{where}:factor_id: {m.factor_id} is a grid emission factor, published by the "
                            f"authorities (MEE/NBS) for the grid, not something a plant measures; refused")
    if problems:
        raise InventoryError(f"{len(problems)} measured factor(s) refused:\n" + "\n".join(problems))


def _quantity_groups(quantities: dict | None, start, end) -> dict[str, Group]:
    out = {}
    for name, v in (quantities or {}).items():
        if name not in QUANTITIES:
            raise InventoryError(f"activity quantity {name!r} is unknown; known: {', '.join(QUANTITIES)}")
        value, unit = (v if isinstance(v, tuple) else (v, QUANTITIES[name]))
        try:
            q = convert(float(value), unit, QUANTITIES[name])
        except Exception as exc:  # noqa: BLE001 - UnitMismatch or a value that is not a number
            raise InventoryError(f"activity quantity {name}: {value!r} {unit}: {exc}") from None
        if q < 0:
            raise InventoryError(f"activity quantity {name}: {q:g} {QUANTITIES[name]} is negative")
        out[name] = quantity_group(name, q, QUANTITIES[name], start, end)
    return out


def _route(act: pd.DataFrame, meth: Methodology) -> tuple[dict, dict, list[dict]]:
    """(records per source id, records the engine reads itself per kind, rows no source counts)."""
    rules = meth.rules
    by_source: dict[str, list[int]] = {s.id: [] for s in rules.sources}
    engine: dict[str, list[int]] = {}
    unused = []
    for i, r in enumerate(act.itertuples(index=False)):
        if r.kind in _ENGINE_KINDS:
            engine.setdefault(r.kind, []).append(i)
            continue
        use = r.use
        if r.kind == "fuel" and use not in ("stationary", "mobile"):
            use = "mobile" if r.item in rules.mobile_fuels else "stationary"
        taken = False
        for src in rules.sources:
            if not src.matches(r.kind, r.item, use):
                continue
            if src.also:
                by_source[src.id].append(i)
            elif not taken:
                by_source[src.id].append(i)
                taken = True
        if not taken:
            reason = rules.not_counted.get(r.kind) or (
                f"methodology {meth.id} has no source for kind {r.kind!r} item {r.item!r} (use {use})")
            unused.append({"file": Path(str(r.source_file)).name, "row": int(r.row), "kind": r.kind,
                           "item": r.item, "reason": reason})
    return by_source, engine, unused


def _view_lines(ctx, sources, groups: dict, view, basis: str) -> list[Line]:
    """The lines of the grid-bound sources, computed with ``view``'s grid factor."""
    out = []
    for src in sources:
        for g in groups.get(src.id, []):
            out.append(evaluate(ctx, src, g, grid=(view.factor, view.region), basis=basis))
    return out


def compute_inventory(period_start: dt.date, period_end: dt.date, *, methodology: str | Methodology = "ghg-protocol-corporate",
                      store=None, activity: pd.DataFrame | None = None, site=None,
                      library: FactorLibrary | None = None, as_of=None, level: str = "source",
                      measured: list[MeasuredFactor] | None = None, uncertainty: dict[str, float] | None = None,
                      allow_unverified: bool = False, gwp: str | None = None,
                      quantities: dict | None = None) -> Inventory:
    """Compute the GHG inventory of [period_start, period_end] (local dates, inclusive).

    Parameters
    ----------
    period_start, period_end : datetime.date
        Inclusive local dates.
    methodology : str or Methodology
        Package id (``cn-machinery-2015``, ``gbt-32151.29-2024``, ``ghg-protocol-corporate``,
        ``iso-14064-1-2018``) or a loaded package; refused if its files do not match its manifest.
    store : workspace.store.Store, optional
        Metered electricity (top meters) and natural gas (gas meters), read from the rollups.
        Used for a medium only when ``activity`` has no statement/fuel record of it (no double count).
    activity : pandas.DataFrame, optional
        Activity records (column contract of :mod:`models.activity_input`); validated first. Records outside
        the period are an error, except a stock-take dated the day before ``period_start`` (the opening stock).
    site : workspace.site.Site, optional
        Plant description (default: ``store.site``).
    library : FactorLibrary, optional
        Factor library (default: the packaged file, which must be the one the package was sealed with).
    as_of : str or datetime, optional
        Store snapshot id, tag or time to read.
    level : {"source", "workshop", "device", "plant"}
        Granularity of the lines.
    measured : list of MeasuredFactor, optional
        Plant-measured values of any factor the package uses, replacing library rows for their period. A
        grid factor, evidence that is not a SHA-256, or a value no line uses is refused with the reason.
    uncertainty : dict, optional
        Overrides of the default uncertainties (``models/data/uncertainty-defaults.csv``). [%]
    allow_unverified : bool
        Accept unverified factor rows (scope 3 upstream factors are always accepted and labelled).
    gwp : str, optional
        GWP set (``AR4``, ``AR5``, ``AR6``, ``SAR``) where the package allows it; default: the package's.
    quantities : dict, optional
        Plant-level activity quantities for the whole period, by name (:data:`QUANTITIES`):
        ``electricity_self_consumed_nonfossil`` and ``electricity_exported`` [MWh], a number or
        ``(value, unit)``; each is counted as the package says (a 0 line, a deduction, or unused with the reason).

    Returns
    -------
    Inventory

    Raises
    ------
    models.activity_input.ActivityFileError
        Bad activity rows (file:row:field); nothing is computed.
    models.factors.FactorError
        No factor valid for a line's period (names factor and period), or an unverified one.
    workspace.units.UnitMismatch
        A factor applied to an activity in an incompatible unit (names both).
    models.packages.MethodologyError
        The package does not match its manifest, or does not allow the GWP set asked for.
    models.errors.InventoryError
        A measured factor refused, an unknown activity quantity.
    """
    if level not in LEVELS:
        raise InventoryError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    if period_end < period_start:
        raise InventoryError(f"period_end {period_end} is before period_start {period_start}")
    meth = methodology if isinstance(methodology, Methodology) else load_methodology(methodology)
    rules = meth.rules
    gwp_set = meth.gwp_set(gwp)
    lib = library or FactorLibrary.load(meth.factor_path or DEFAULT_PATH)  # a synced package's own file first
    check_library(meth, lib)
    measured = list(measured or [])
    _check_measured(measured, meth)
    site = site if site is not None else getattr(store, "site", None)
    unc = load_uncertainty()
    unc.update(uncertainty or {})
    res = Resolver(lib, measured, allow_unverified)
    ctx = Context(meth, res, unc, period_start, period_end, gwp_set)

    if activity is None:
        act = validate_activity(pd.DataFrame(columns=["kind", "item", "period_start", "period_end", "quantity", "unit"]))
    else:
        act = validate_activity(activity, activity.attrs.get("source_file", "<activity>"))
    act = period_records(act, period_start, period_end).reset_index(drop=True)
    by_source, engine_rows, unused = _route(act, meth)

    def rows_of(idx):
        return act.iloc[idx] if idx else act.iloc[0:0]

    # groups per source: records, store meters, named quantities (on-site generation and export from the
    # store's on-site meters when the caller gives none: models.generation.store_quantities)
    qty, q_origin = quantities, None
    if qty is None and store is not None and site is not None:
        from .generation import store_quantities

        qty, q_origin = store_quantities(store, pd.Timestamp(period_start), pd.Timestamp(period_end)
                                         + pd.Timedelta(days=1), as_of=as_of)
        if qty is None and q_origin is not None:
            unused.append({"file": "store", "row": None, "kind": "quantity", "item": "electricity_exported",
                           "reason": q_origin})
            q_origin = None
    qgroups = _quantity_groups(qty, period_start, period_end)
    if q_origin is not None:
        import dataclasses

        qgroups = {k: dataclasses.replace(g, origin=q_origin, rows=(q_origin,)) for k, g in qgroups.items()}
    groups: dict[str, list[Group]] = {}
    memo: list[dict] = []
    for src in rules.sources:
        df = rows_of(by_source[src.id])
        cols = tuple(r.record_column for r in src.factors.values() if r.record_column)
        gs = groups_of(df, src.activity_unit, cols)
        if rules.memo_prefixes:
            for g in [g for g in gs if g.item.startswith(rules.memo_prefixes)]:
                gs.remove(g)
                memo.append({"item": g.item, "quantity": dec(_memo_used(src, g), 6), "unit": g.unit,
                             "origin": g.origin, "note": "Montreal Protocol gas: not part of scopes 1-3 "
                                                         "(GHG Protocol: report separately)"})
        if src.quantity and src.quantity in qgroups:
            gs.append(qgroups[src.quantity])
        groups[src.id] = gs
    for name, g in qgroups.items():
        if not any(src.quantity == name for src in rules.sources):
            unused.append({"file": "quantity", "row": None, "kind": "quantity", "item": name,
                           "reason": rules.not_counted.get(name, f"methodology {meth.id} does not count {name}")})

    snapshot = None
    # natural gas from the store's gas meters when no fuel record gives it
    fuel_rows = act[act["kind"] == "fuel"]
    if store is not None and site is not None and not (fuel_rows["item"] == "natural_gas").any() \
            and site.top_meters("natural_gas"):
        recs, snapshot = metered.store_records(store, site, period_start, period_end, level, as_of, "natural_gas")
        src = next(s for s in rules.sources if s.matches("fuel", "natural_gas", "stationary") and not s.also)
        extra = [_store_group(r, "natural_gas") for r in recs]
        groups[src.id] = groups.get(src.id, []) + extra
        for s2 in rules.sources:
            if s2.also and s2.matches("fuel", "natural_gas", "stationary"):
                groups[s2.id] = groups.get(s2.id, []) + extra
    # electricity: statements, else the store's top meters
    st = rows_of(engine_rows.get("electricity_statement", []))
    elec: list[Group] = []
    if not st.empty:
        if store is not None:
            log.info("electricity from %d statement record(s); the store's meters are not added (no double count)",
                     len(st))
        elec = [_store_group(r, "electricity") for r in scope2.statement_records(st, unused)]
    elif store is not None and site is not None:
        recs, snap = metered.store_records(store, site, period_start, period_end, level, as_of, "electricity")
        snapshot = snap or snapshot
        elec = [_store_group({**r, "qty": convert(r["qty"], "kWh", "MWh"), "unit": "MWh"}, "electricity")
                for r in recs]
    for src in rules.sources:
        if "electricity" in src.kind:
            groups[src.id] = groups.get(src.id, []) + elec
    if snapshot is None and store is not None:
        try:
            snapshot = store.snapshot(as_of)
        except Exception:  # noqa: BLE001 - an empty store has no snapshot to name
            snapshot = None

    # the lines: sources without a grid factor once; grid-bound sources once per view
    fixed, gridded = [], []
    for src in rules.sources:
        (gridded if any(r.grid for r in src.factors.values()) else fixed).append(src)
    lines: list[Line] = []
    for src in fixed:
        lines += [evaluate(ctx, src, g) for g in groups[src.id]]
    loc = rules.views["location"]
    lines += _view_lines(ctx, gridded, groups, loc, "location")

    # compliance view: unavailable (with the reason), not an error, when its factor does not cover the period
    comp_view = rules.views["compliance"]
    n_refused = len(res.refused)
    compliance_lines: list[Line] = []
    comp_reason = None
    try:
        compliance_lines = _view_lines(ctx, [s for s in gridded if s.scope == 2], groups, comp_view, "compliance")
        if len(res.refused) > n_refused:
            row, s, e = res.refused[n_refused]
            del res.refused[n_refused:]
            raise FactorError(
                f"factor {row.factor_id!r} for {s}..{e} is unverified ({row.key}, line {row.line} of "
                f"{res.lib.path}); allow unverified factors explicitly (allow_unverified=True, "
                f"tanjian inventory --allow-unverified) to use it")
    except FactorError as exc:
        compliance_lines, comp_reason = [], str(exc)

    # market-based view: instruments at 0, the rest and the other grid-bound scope 2 sources at the market grid
    mkt = rules.views["market"]
    elec_src = next((s for s in gridded if "electricity" in s.kind and s.scope == 2), None)
    instruments = pd.concat([rows_of(engine_rows.get("green_power", [])), rows_of(engine_rows.get("gec", []))])
    market: list[Line] = []
    if elec_src is not None:
        market = scope2.market_lines(ctx, [ln for ln in lines if ln.rule == elec_src.id], instruments, elec_src,
                                     (mkt.factor, mkt.region))
        market += _view_lines(ctx, [s for s in gridded if s.scope == 2 and s is not elec_src], groups, mkt, "market")

    # instrument rows no market line could use (no purchased electricity to cover): reported, not dropped
    claimed = {r for ln in market for r in ln.activity_rows}
    for r in instruments.itertuples():
        if f"{Path(str(r.source_file)).name}:{int(r.row)}" not in claimed:
            unused.append({"file": Path(str(r.source_file)).name, "row": int(r.row), "kind": r.kind, "item": r.item,
                           "reason": "contractual instrument with no purchased electricity in the period to cover "
                                     "(market-based scope 2 is 0)"})
    offsets = []
    for r in rows_of(engine_rows.get("offset", [])).itertuples():
        offsets.append({"item": r.item, "quantity": dec(r.quantity, 6), "unit": r.unit,
                        "tco2e": rounded(convert(r.quantity, r.unit, "tCO2e"), rules.places),
                        "period": {"start": r.period_start.isoformat(), "end": r.period_end.isoformat()},
                        "origin": f"activity:{Path(str(r.source_file)).name}:{r.row}",
                        "note": None if _blank(r.note) else str(r.note)})

    res.check()
    idle = [m for i, m in enumerate(measured) if i not in res.used_measured]
    if idle:
        raise InventoryError(f"{len(idle)} measured factor(s) refused: no line of this inventory uses them "
                             f"(methodology {meth.id}, GWP set {gwp_set.upper()}, {period_start}..{period_end}):\n"
                             + "\n".join(f"{m.file or 'measured'}:{m.line}:factor_id: {m.factor_id} "
                                          f"({m.applies_from}..{m.applies_to}) "
                                          + _idle_reason(m, res, meth, gwp_set) for m in idle))
    # one rounding rule, applied once to each published line (the package's places, half-up): every total and
    # every report section is then a sum of the same rounded figures
    lines = _rounded(merge(lines, LEVEL_KEYS[level]), rules.places)
    compliance_lines = _rounded(merge(compliance_lines, LEVEL_KEYS[level]), rules.places)
    market = _rounded(market, rules.places)

    def order(ln):
        return (ln.scope, ln.category, ln.source, ln.item, ln.workshop or "", ln.device or "", ln.period_start,
                ln.period_end, ln.scope3_category or 0, ln.factor_key, ln.origin)

    lines.sort(key=order)
    compliance_lines.sort(key=order)
    plant = {"id": None, "name": None, "enterprise": None}
    if site is not None:
        plant = {"id": site.plant.id, "name": site.plant.name, "enterprise": site.enterprise.name}
    inv = Inventory(plant=plant, period_start=period_start, period_end=period_end, methodology=meth, library=lib,
                    snapshot=snapshot, level=level, lines=lines, market_lines=market, compliance={},
                    offsets=offsets, memo=memo, gwp_set=gwp_set, compliance_lines=compliance_lines,
                    unused=sorted(unused, key=lambda u: (u["file"], u["row"] or 0, u["item"])),
                    inputs=dict(store=store, activity=activity, site=site, as_of=snapshot or as_of, level=level,
                                measured=measured, uncertainty=uncertainty, allow_unverified=allow_unverified,
                                gwp=gwp, quantities=quantities))
    inv.compliance = inv.compliance_view(comp_reason)
    t = inv.totals()
    log.info("inventory %s..%s (%s %s, GWP %s, level %s): scope 1 %.3f t, scope 2 location %.3f t / market %.3f t, "
             "scope 3 %.3f t, %d lines", period_start, period_end, meth.id, meth.version, gwp_set.upper(), level,
             t["scope1"][0], t["scope2_location"][0], t["scope2_market"][0], t["scope3"][0], len(lines))
    return inv


def _rounded(lines: list[Line], places: int) -> list[Line]:
    return [replace(ln, tco2e=rounded(ln.tco2e, places)) for ln in lines]


def _memo_used(src, g) -> float:
    from models.sources import _used

    return _used(src, g, f"{g.item} {g.origin}")[0]


def _store_group(r: dict, item: str) -> Group:
    """A group of one record prepared by :mod:`models.metered` or :func:`models.scope2.statement_records`."""
    rows = r.get("rows") or (r["origin"],)
    return Group(item=item, workshop=r.get("workshop"),
                 device=r.get("device"), period_start=r["period_start"], period_end=r["period_end"], unit=r["unit"],
                 movements={"used": r["qty"]}, origin=r["origin"], rows=tuple(rows), u_key=r.get("u_key"),
                 dq=r.get("dq", (None, None)))


def _idle_reason(m: MeasuredFactor, res: Resolver, meth: Methodology, gwp_set: str) -> str:
    gm = re.match(r"gwp_([a-z0-9]+)_", m.factor_id)
    if gm and gm.group(1) != gwp_set:
        return (f"is a GWP of set {gm.group(1).upper()}, this inventory uses {gwp_set.upper()}"
                + (f" (pass --gwp {gm.group(1).upper()})" if gm.group(1) in meth.rules.gwp_allowed else
                   f" and {meth.id} does not allow {gm.group(1).upper()}"))
    if m.factor_id in res.asked:
        return "covers no line's whole period: split the activity records at the measured period's edges"
    return f"is not a factor methodology {meth.id} applies to this activity"


def restate(inv_old: Inventory, library_new: FactorLibrary) -> pd.DataFrame:
    """Recompute ``inv_old`` from the same inputs with ``library_new``; old and new side by side.

    Returns
    -------
    pandas.DataFrame
        One row per line: source, item, workshop, device, period, ``old_tco2e``, ``new_tco2e``,
        ``difference_tco2e`` [tCO2e], ``reason`` (each factor row that changed, old -> new value, or
        "unchanged"). ``attrs``: old/new factor library sha256 and old/new canonical inventory sha256.
    """
    i = inv_old.inputs
    new = compute_inventory(inv_old.period_start, inv_old.period_end, methodology=inv_old.methodology,
                            store=i["store"], activity=i["activity"], site=i["site"], library=library_new,
                            as_of=i["as_of"], level=i["level"], measured=i["measured"], uncertainty=i["uncertainty"],
                            allow_unverified=i["allow_unverified"], gwp=i.get("gwp"),
                            quantities=i.get("quantities"))

    def key(ln):
        return (ln.source, ln.item, ln.workshop, ln.device, ln.period_start, ln.period_end, ln.scope3_category)

    old_by = {key(ln): ln for ln in inv_old.lines}
    new_by = {key(ln): ln for ln in new.lines}
    rows = []
    for k in list(dict.fromkeys(list(old_by) + list(new_by))):
        o, n = old_by.get(k), new_by.get(k)
        reasons = []
        if o and n:
            op = {p.factor_id: p for p in o.parameters}
            for p in n.parameters:
                q = op.get(p.factor_id)
                if q is None:
                    reasons.append(f"{p.factor_id}: new parameter {p.value:g} {p.unit}")
                elif (q.value, q.unit, q.id) != (p.value, p.unit, p.id):
                    reasons.append(f"{p.factor_id}: {q.value:g} {q.unit} ({q.id}) -> {p.value:g} {p.unit} ({p.id})")
        elif o:
            reasons.append("line not in the new computation")
        else:
            reasons.append("line only in the new computation")
        rows.append({"source": k[0], "item": k[1], "workshop": k[2], "device": k[3], "period_start": k[4],
                     "period_end": k[5], "old_tco2e": o.tco2e if o else 0.0, "new_tco2e": n.tco2e if n else 0.0,
                     "difference_tco2e": (n.tco2e if n else 0.0) - (o.tco2e if o else 0.0),
                     "reason": "; ".join(reasons) or "unchanged"})
    out = pd.DataFrame(rows)
    out.attrs = {"old_library_sha256": inv_old.library.sha256, "new_library_sha256": library_new.sha256,
                 "old_inventory_sha256": inv_old.sha256(), "new_inventory_sha256": new.sha256()}
    return out
