"""GHG inventory of a plant for any period and level, under a named methodology package.

:func:`compute_inventory` is the engine: it validates the activity records (an activity file,
see :mod:`models.activity_input`), reads the metered energy (:mod:`models.metered`), resolves
the factors (:mod:`models.factors.resolution`) and asks each source family for its lines:
:mod:`models.combustion` (fuels), :mod:`models.process` (welding CO2, fluorinated gases),
:mod:`models.scope2` (electricity, heat, market-based and compliance views). The result is an
:class:`models.lines.Inventory`. :func:`restate` recomputes an inventory with another factor
library and explains each difference; :func:`models.footprint.footprint` allocates the
emissions to products.

Formulas, sources and choices: ``docs/accounting.md``.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pandas as pd

from models import combustion, metered, process, scope2
from models.activity_input import _blank, validate_activity
from models.context import Context
from models.errors import InventoryError
from models.factors import DEFAULT_PATH, FactorLibrary
from models.factors.measured import MeasuredFactor
from models.factors.resolution import Resolver
from models.factors.uncertainty import load_uncertainty
from models.lines import LEVEL_KEYS, LEVELS, Inventory, Line, merge
from models.packages import Methodology, check_library, load_methodology
from models.records import in_period
from models.rounding import dec
from workspace.units import convert

__all__ = ["compute_inventory", "restate"]

log = logging.getLogger(__name__)


def compute_inventory(period_start: dt.date, period_end: dt.date, *, methodology: str | Methodology = "ghg-protocol-corporate",
                      store=None, activity: pd.DataFrame | None = None, site=None,
                      library: FactorLibrary | None = None, as_of=None, level: str = "source",
                      measured: list[MeasuredFactor] | None = None, uncertainty: dict[str, float] | None = None,
                      allow_unverified: bool = False) -> Inventory:
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
        Activity records (column contract of :mod:`models.activity_input`); validated first.
    site : workspace.site.Site, optional
        Plant description (default: ``store.site``).
    library : FactorLibrary, optional
        Factor library (default: the packaged file, which must be the one the package was sealed with).
    as_of : str or datetime, optional
        Store snapshot id, tag or time to read.
    level : {"source", "workshop", "device", "plant"}
        Granularity of the lines.
    measured : list of MeasuredFactor, optional
        Plant-measured factors overriding library rows for their period.
    uncertainty : dict, optional
        Overrides of the default uncertainties (``models/data/uncertainty-defaults.csv``). [%]
    allow_unverified : bool
        Accept unverified factor rows (scope 3 upstream factors are always accepted and labelled).

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
        The package does not match its manifest.
    """
    if level not in LEVELS:
        raise InventoryError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    if period_end < period_start:
        raise InventoryError(f"period_end {period_end} is before period_start {period_start}")
    meth = methodology if isinstance(methodology, Methodology) else load_methodology(methodology)
    lib = library or FactorLibrary.load(DEFAULT_PATH)
    check_library(meth, lib)
    site = site if site is not None else getattr(store, "site", None)
    unc = load_uncertainty()
    unc.update(uncertainty or {})
    res = Resolver(lib, list(measured or []), allow_unverified)
    ctx = Context(meth, res, unc, period_start, period_end)

    if activity is None:
        act = validate_activity(pd.DataFrame(columns=["kind", "item", "period_start", "period_end", "quantity", "unit"]))
    else:
        act = validate_activity(activity, activity.attrs.get("source_file", "<activity>"))
    act = in_period(act, period_start, period_end)
    by_kind = {k: g for k, g in act.groupby("kind")} if not act.empty else {}
    empty = act.iloc[0:0]

    lines: list[Line] = []
    snapshot = None
    # fuels (natural gas from the store's gas meters when no fuel record gives it)
    fuels = by_kind.get("fuel", empty)
    store_gas = []
    if store is not None and site is not None and not (fuels["item"] == "natural_gas").any() \
            and site.top_meters("natural_gas"):
        store_gas, snapshot = metered.store_records(store, site, period_start, period_end, level, as_of, "natural_gas")
    lines += combustion.fuel_lines(ctx, fuels, store_gas)
    lines += process.welding_lines(ctx, by_kind.get("welding_gas", empty))
    fg = pd.concat([by_kind.get("refrigerant", empty), by_kind.get("sf6", empty)])
    memo: list[dict] = []
    lines += process.fgas_lines(ctx, fg, memo)
    # electricity: statements, else the store's top meters
    st = by_kind.get("electricity_statement", empty)
    elec_recs = []
    if not st.empty:
        if store is not None:
            log.info("electricity from %d statement record(s); the store's meters are not added (no double count)",
                     len(st))
        elec_recs = scope2.statement_records(st)
    elif store is not None and site is not None:
        recs, snap = metered.store_records(store, site, period_start, period_end, level, as_of, "electricity")
        snapshot = snap or snapshot
        elec_recs = [{**r, "qty": convert(r["qty"], "kWh", "MWh"), "unit": "MWh"} for r in recs]
    elec_lines = scope2.electricity_lines(ctx, elec_recs)
    lines += elec_lines
    lines += scope2.heat_lines(ctx, by_kind.get("heat", empty))
    if snapshot is None and store is not None:
        try:
            snapshot = store.snapshot(as_of)
        except Exception:  # noqa: BLE001 - an empty store has no snapshot to name
            snapshot = None

    elec_only = [ln for ln in elec_lines if ln.source == "purchased_electricity"]
    instruments = pd.concat([by_kind.get("green_power", empty), by_kind.get("gec", empty)])
    market = scope2.market_lines(ctx, elec_only, instruments)
    compliance = scope2.compliance(ctx, lines, elec_only)
    offsets = []
    for r in by_kind.get("offset", empty).itertuples():
        offsets.append({"item": r.item, "quantity": dec(r.quantity, 6), "unit": r.unit,
                        "tco2e": convert(r.quantity, r.unit, "tCO2e"),
                        "period": {"start": r.period_start.isoformat(), "end": r.period_end.isoformat()},
                        "origin": f"activity:{Path(str(r.source_file)).name}:{r.row}",
                        "note": None if _blank(r.note) else str(r.note)})

    res.check()
    lines = merge(lines, LEVEL_KEYS[level])
    lines.sort(key=lambda ln: (ln.scope, ln.category, ln.source, ln.item, ln.workshop or "", ln.device or "",
                               ln.period_start, ln.period_end, ln.scope3_category or 0, ln.factor_key, ln.origin))
    plant = {"id": None, "name": None, "enterprise": None}
    if site is not None:
        plant = {"id": site.plant.id, "name": site.plant.name, "enterprise": site.enterprise.name}
    inv = Inventory(plant=plant, period_start=period_start, period_end=period_end, methodology=meth, library=lib,
                    snapshot=snapshot, level=level, lines=lines, market_lines=market, compliance=compliance,
                    offsets=offsets, memo=memo,
                    inputs=dict(store=store, activity=activity, site=site, as_of=snapshot or as_of, level=level,
                                measured=measured, uncertainty=uncertainty, allow_unverified=allow_unverified))
    t = inv.totals()
    log.info("inventory %s..%s (%s %s, level %s): scope 1 %.3f t, scope 2 location %.3f t / market %.3f t, "
             "scope 3 %.3f t, %d lines", period_start, period_end, meth.id, meth.version, level, t["scope1"][0],
             t["scope2_location"][0], t["scope2_market"][0], t["scope3"][0], len(lines))
    return inv


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
                            allow_unverified=i["allow_unverified"])

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
