"""The inventory's result: emission lines and the :class:`Inventory` that holds them.

A :class:`Line` is one emission line (activity, every factor row used, GWP, uncertainty, data
quality); :func:`make_line` is how a source builder makes one, :func:`merge` how lines are
summed to a level (:data:`LEVEL_KEYS`). :class:`Inventory` holds the lines, the totals per scope
and ISO 14064-1 category (:data:`ISO_CATEGORY`), the three views of scope 2 and the offsets;
:meth:`Inventory.to_canonical` is its stable plain-dict form (schema :data:`SCHEMA`),
:meth:`Inventory.canonical_json` its RFC 8785 bytes. Rounding: :mod:`models.rounding`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from models.factors import FactorLibrary
from models.factors.use import FactorUse
from models.packages import Methodology
from models.rounding import dec, pub, sig

__all__ = ["ISO_CATEGORY", "ISO_NAMES", "LEVELS", "LEVEL_KEYS", "NO_RESIDUAL_MIX", "SCHEMA", "SCOPE", "Inventory",
           "Line", "combined_u", "make_line", "merge"]

SCHEMA = "tanjian.inventory/1"
LEVELS = ("source", "workshop", "device", "plant")

#: ISO 14064-1:2018 category of each source (clause 5.2.4; mapping choice in docs/accounting.md).
ISO_CATEGORY = {
    "stationary_combustion": 1, "mobile_combustion": 1, "process_welding_co2": 1, "process_fgas_products": 1,
    "fugitive_sf6_switchgear": 1, "fugitive_refrigerant": 1,
    "purchased_electricity": 2, "purchased_heat": 2,
    "upstream_fuel": 4, "td_losses": 4,
}
ISO_NAMES = {
    1: "direct GHG emissions and removals",
    2: "indirect GHG emissions from imported energy",
    3: "indirect GHG emissions from transportation",
    4: "indirect GHG emissions from products used by the organization",
    5: "indirect GHG emissions associated with the use of products from the organization",
    6: "indirect GHG emissions from other sources",
}
#: GHG Protocol scope of each source that is not scope 1
SCOPE = {"purchased_electricity": 2, "purchased_heat": 2, "upstream_fuel": 3, "td_losses": 3}
NO_RESIDUAL_MIX = ("grid average (no residual mix is published for China; GHG Protocol Scope 2 Guidance "
                   "ch. 6.11: use the grid average and disclose it)")


@dataclass
class Line:
    """One emission line.

    Attributes
    ----------
    source, item : str
        Emission source (e.g. ``stationary_combustion``) and item (``natural_gas``).
    scope : int
        GHG Protocol scope (1, 2 or 3); ``scope3_category`` for scope 3.
    category : int
        ISO 14064-1:2018 category (1-6).
    gas : str
        ``CO2``, ``SF6``, ``HFC_134A`` …
    workshop, device : str or None
    period_start, period_end : datetime.date
    quantity : float
        Activity. [unit]
    unit, origin : str
        Unit of the activity; where it came from (``activity:FILE:ROWS`` or ``store:…``).
    ef_value : float
        Combined factor applied to the activity, gwp included. [ef_unit]
    ef_unit : str
    parameters : tuple of FactorUse
        Every row used (NCV, carbon content, oxidation, grid factor, GWP …).
    gwp : float or None
    tco2e : float
        [tCO2e]
    u_abs : float
        Absolute uncertainty (95%). [tCO2e]
    estimated_share, manual_share : float or None
        Share of the metered energy that is estimated / entered by hand [-]; None when not metered.
    formula : str
        The package's expression as evaluated (``E = AD * NCV * CC * OF * CO2_PER_C``).
    rule : str
        Id of the package source that made the line.
    activity_rows : tuple of str
        ``FILE:ROW`` of every activity record in the line (``quantity:NAME`` for a named quantity).
    balance : dict or None
        Stock-balance components [unit] (``opening_stock``, ``purchased``, ``closing_stock``, ``sold``,
        ``recovered``) where the quantity is a stock balance.
    grid : bool
        The line applies a view's grid factor (it is recomputed for each view).
    """

    source: str
    item: str
    scope: int
    category: int
    gas: str
    workshop: str | None
    device: str | None
    period_start: dt.date
    period_end: dt.date
    quantity: float
    unit: str
    origin: str
    ef_value: float
    ef_unit: str
    parameters: tuple[FactorUse, ...]
    gwp: float | None
    tco2e: float
    u_abs: float
    estimated_share: float | None = None
    manual_share: float | None = None
    formula: str = ""
    scope3_category: int | None = None
    basis: str = "location"
    rule: str = ""
    activity_rows: tuple[str, ...] = ()
    balance: dict | None = None
    grid: bool = False

    @property
    def uncertainty_pct(self) -> float:
        """Relative uncertainty (95%) [%]."""
        return 100.0 * self.u_abs / abs(self.tco2e) if self.tco2e else 0.0

    @property
    def factor_key(self) -> tuple:
        return tuple(p.id for p in self.parameters)


def make_line(source, item, gas, rec, qty, unit, origin, params: list[FactorUse], tco2e, ef_unit, u_ad, u_ef: list[float],
          *, gwp=None, formula="", dq=(None, None), scope3_category=None, basis="location", scope=None, category=None,
          rule="", rows=(), balance=None, grid=False) -> Line:
    """Build a line; the combined factor is tco2e per unit of activity (gwp included)."""
    rel = math.sqrt(u_ad ** 2 + sum(x ** 2 for x in u_ef)) / 100.0
    scope = SCOPE.get(source, 1) if scope is None else scope
    category = ISO_CATEGORY[source] if category is None else category
    return Line(source=source, item=item, scope=scope, category=category, gas=gas, rule=rule,
                activity_rows=tuple(rows), balance=balance, grid=grid,
                workshop=rec.get("workshop"), device=rec.get("device"), period_start=rec["period_start"],
                period_end=rec["period_end"], quantity=qty, unit=unit, origin=origin,
                ef_value=(tco2e / qty) if qty else 0.0, ef_unit=ef_unit, parameters=tuple(params), gwp=gwp,
                tco2e=tco2e, u_abs=abs(tco2e) * rel, estimated_share=dq[0], manual_share=dq[1], formula=formula,
                scope3_category=scope3_category, basis=basis)


def combined_u(lines: list[Line]) -> tuple[float, float]:
    tot = sum(ln.tco2e for ln in lines)
    u = math.sqrt(sum(ln.u_abs ** 2 for ln in lines))
    return tot, u


@dataclass
class Inventory:
    """Result of :func:`compute_inventory`. Use :meth:`to_canonical` for reports."""

    plant: dict
    period_start: dt.date
    period_end: dt.date
    methodology: Methodology
    library: FactorLibrary
    snapshot: str | None
    level: str
    lines: list[Line]
    market_lines: list[Line]
    compliance: dict
    offsets: list[dict]
    inputs: dict = field(default_factory=dict, repr=False)
    memo: list[dict] = field(default_factory=list)
    gwp_set: str = ""
    compliance_lines: list[Line] = field(default_factory=list)
    unused: list[dict] = field(default_factory=list)

    # totals ---------------------------------------------------------------------------------------------
    def _sum(self, pred) -> tuple[float, float]:
        return combined_u([ln for ln in self.lines if pred(ln)])

    def totals(self) -> dict:
        """Totals [tCO2e] and their absolute uncertainties [tCO2e]: sums of the lines, each rounded once by the
        engine, so the same figure comes out wherever lines are summed."""
        s1 = self._sum(lambda ln: ln.scope == 1)
        s2 = self._sum(lambda ln: ln.scope == 2)
        s3 = self._sum(lambda ln: ln.scope == 3)
        fixed = self._sum(lambda ln: ln.scope == 2 and not ln.grid)
        s2m = combined_u([ln for ln in self.market_lines if ln.scope == 2])
        s2c = combined_u([ln for ln in self.compliance_lines if ln.scope == 2])
        gross = self._sum(lambda ln: ln.scope in (1, 2))
        out = {
            "scope1": s1, "scope2_location": s2,
            "scope2_market": (s2m[0] + fixed[0], math.hypot(s2m[1], fixed[1])),
            "scope2_compliance": (s2c[0] + fixed[0], math.hypot(s2c[1], fixed[1])),
            "scope3": s3, "gross_location": gross,
            "gross_market": (s1[0] + s2m[0] + fixed[0], math.sqrt(s1[1] ** 2 + s2m[1] ** 2 + fixed[1] ** 2)),
            "gross_compliance": (s1[0] + s2c[0] + fixed[0], math.sqrt(s1[1] ** 2 + s2c[1] ** 2 + fixed[1] ** 2)),
            "iso": {c: self._sum(lambda ln, c=c: ln.category == c) for c in range(1, 7)},
            "offsets": sum(o["tco2e"] for o in self.offsets),
        }
        return out

    @staticmethod
    def _grid_factors(lines: list[Line]) -> list[dict]:
        seen: dict[str, dict] = {}
        for ln in lines:
            for p in ln.parameters:
                if p.role == "GRID" and p.id not in seen:
                    seen[p.id] = {"id": p.id, "factor_id": p.factor_id, "value": pub(p.value), "unit": p.unit,
                                  "source": p.source, "status": p.status, "valid_from": p.valid_from.isoformat(),
                                  "valid_to": p.valid_to.isoformat()}
        return [seen[k] for k in sorted(seen)]

    def compliance_view(self, reason: str | None = None) -> dict:
        """The compliance view (the Chinese guideline's 排放总量 where the package's headline is it): scope 1,
        net purchased electricity x the compliance grid factor (green power not deducted), heat."""
        v = self.methodology.rules.views["compliance"]
        if reason is not None:
            return {"label": v.label, "available": False, "reason": reason, "scope2_electricity_tco2e": None,
                    "scope1_tco2e": None, "scope2_tco2e": None, "total_tco2e": None, "factors": [],
                    "grid_factors": []}
        t = self.totals()
        s2c = sum(ln.tco2e for ln in self.compliance_lines if ln.scope == 2)
        gf = self._grid_factors(self.compliance_lines)
        return {"label": v.label, "available": True, "reason": None, "scope2_electricity_tco2e": dec(s2c, 3),
                "scope1_tco2e": dec(t["scope1"][0], 3), "scope2_tco2e": dec(t["scope2_compliance"][0], 3),
                "total_tco2e": dec(t["gross_compliance"][0], 3), "factors": sorted(f["id"] for f in gf),
                "grid_factors": gf}

    # canonical -------------------------------------------------------------------------------------------
    @staticmethod
    def _factor_dict(ln: Line) -> dict:
        ps = ln.parameters
        if len(ps) == 1 and ln.gwp is None:
            p = ps[0]
            fid, value, unit = p.id, pub(p.value), p.unit
        else:
            fid = " x ".join(p.id for p in ps) if ps else "none"
            value, unit = sig(ln.ef_value), ln.ef_unit
        return {
            "id": fid, "value": value, "unit": unit,
            "source": " | ".join(p.source for p in ps) if ps else "",
            "valid_from": max(p.valid_from for p in ps).isoformat() if ps else None,
            "valid_to": min(p.valid_to for p in ps).isoformat() if ps else None,
            "parameters": [{"id": p.id, "factor_id": p.factor_id, "value": pub(p.value), "unit": p.unit,
                            "source": p.source, "valid_from": p.valid_from.isoformat(),
                            "valid_to": p.valid_to.isoformat(), "status": p.status,
                            "evidence_sha256": p.evidence_sha256, "role": p.role} for p in ps],
        }

    def _line_dict(self, ln: Line) -> dict:
        return {
            "source": ln.source, "item": ln.item, "category": ln.category, "scope": ln.scope,
            "scope3_category": ln.scope3_category, "gas": ln.gas, "workshop": ln.workshop, "device": ln.device,
            "basis": ln.basis,
            "period": {"start": ln.period_start.isoformat(), "end": ln.period_end.isoformat()},
            "rule": ln.rule,
            "activity": {"quantity": dec(ln.quantity, 6), "unit": ln.unit, "origin": ln.origin,
                         "rows": list(ln.activity_rows),
                         "balance": None if ln.balance is None else {k: dec(v, 6) for k, v in ln.balance.items()}},
            "factor": self._factor_dict(ln),
            "gwp": pub(ln.gwp) if ln.gwp is not None else None,
            "tco2e": dec(ln.tco2e, 3),
            "uncertainty_pct": dec(ln.uncertainty_pct, 2),
            "data_quality": {"estimated_share": dec(ln.estimated_share, 4),
                             "manual_share": dec(ln.manual_share, 4)},
            "formula": ln.formula,
        }

    def to_canonical(self) -> dict:
        """The inventory as a plain dict of strings, ints, lists and None (schema ``tanjian.inventory/1``).

        Rounding rule (half-up): tCO2e to 3 decimals (1 kg), activity quantities to 6 decimals,
        uncertainties [%] to 2 decimals, data-quality shares to 4 decimals; published factor values
        as written (shortest decimal), combined factors to 10 significant digits. Totals are summed
        from unrounded lines and then rounded. Serialise with :meth:`canonical_json`.
        """
        t = self.totals()

        def tot(pair):
            v, u = pair
            return {"tco2e": dec(v, 3), "uncertainty_pct": dec(100.0 * u / abs(v) if v else 0.0, 2)}

        m = self.methodology
        r = m.rules
        market_scope2 = t["scope2_market"]
        views = {"compliance": "compliance", "location": "location_based", "market": "market_based"}
        comp = self.compliance or self.compliance_view()
        head_total = {"compliance": comp.get("total_tco2e"), "location": dec(t["gross_location"][0], 3),
                      "market": dec(t["gross_market"][0], 3)}[r.headline]
        return {
            "schema": SCHEMA,
            "plant": self.plant,
            "period": {"start": self.period_start.isoformat(), "end": self.period_end.isoformat()},
            "level": self.level,
            "methodology": {"id": m.id, "version": m.version, "sha256": m.sha256, "title": m.title,
                            "rules_sha256": m.rules_sha256, "gwp_set": self.gwp_set or r.gwp_default,
                            "gwp_allowed": list(r.gwp_allowed), "headline": views[r.headline]},
            "factor_library": {"sha256": self.library.sha256, "file": Path(self.library.path).name},
            "store_snapshot": self.snapshot,
            "lines": [self._line_dict(ln) for ln in self.lines],
            "totals": {
                "scope1": tot(t["scope1"]), "scope2_location": tot(t["scope2_location"]),
                "scope2_market": tot(market_scope2), "scope3": tot(t["scope3"]),
                "gross_location": tot(t["gross_location"]), "gross_market": tot(t["gross_market"]),
                "iso_categories": {str(c): {**tot(v), "name": ISO_NAMES[c]} for c, v in t["iso"].items()},
                "offsets_tco2e": dec(t["offsets"], 3),
                "headline": {"view": views[r.headline], "tco2e": head_total},
            },
            "views": {
                "compliance": comp,
                "location_based": {
                    "label": r.views["location"].label,
                    "grid_factors": self._grid_factors([ln for ln in self.lines if ln.scope == 2]),
                    "scope1_tco2e": dec(t["scope1"][0], 3),
                    "scope2_tco2e": dec(t["scope2_location"][0], 3),
                    "total_tco2e": dec(t["gross_location"][0], 3)},
                "market_based": {
                    "label": r.views["market"].label,
                    "residual_mix": "none published: grid average used",
                    "grid_factors": self._grid_factors(self.market_lines),
                    "lines": [self._line_dict(ln) for ln in self.market_lines],
                    "scope1_tco2e": dec(t["scope1"][0], 3),
                    "scope2_tco2e": dec(market_scope2[0], 3),
                    "total_tco2e": dec(t["gross_market"][0], 3)},
            },
            "offsets": {
                "note": "reported separately, never netted from gross emissions",
                "items": [{**o, "tco2e": dec(o["tco2e"], 3)} for o in self.offsets],
                "total_tco2e": dec(t["offsets"], 3)},
            "memo": list(self.memo),
            "activity_unused": [dict(u) for u in self.unused],
        }

    def canonical_json(self) -> bytes:
        """RFC 8785 (JCS) bytes of :meth:`to_canonical`."""
        import rfc8785

        return rfc8785.dumps(self.to_canonical())

    def sha256(self) -> str:
        """SHA-256 (hex) of :meth:`canonical_json`."""
        return hashlib.sha256(self.canonical_json()).hexdigest()

    def table(self) -> pd.DataFrame:
        """Lines as a DataFrame (floats, for notebooks and quick looks)."""
        return pd.DataFrame([{
            "source": ln.source, "item": ln.item, "scope": ln.scope, "iso_category": ln.category, "gas": ln.gas,
            "workshop": ln.workshop, "device": ln.device, "period_start": ln.period_start,
            "period_end": ln.period_end, "quantity": ln.quantity, "unit": ln.unit, "ef": ln.ef_value,
            "ef_unit": ln.ef_unit, "tco2e": ln.tco2e, "uncertainty_pct": ln.uncertainty_pct,
            "factors": "; ".join(ln.factor_key), "origin": ln.origin} for ln in self.lines])


def _sum_balances(bs: list[dict | None]) -> dict | None:
    if all(b is None for b in bs):
        return None
    out: dict = {}
    for b in bs:
        for k, v in (b or {}).items():
            out[k] = out.get(k, 0.0) + v
    return out


def merge(lines: list[Line], keys: tuple[str, ...]) -> list[Line]:
    """Group lines by ``keys`` (+ unit and factor rows); sum activity and emissions, uncertainty in quadrature."""
    groups: dict = {}
    for ln in lines:
        k = tuple(getattr(ln, a) for a in keys) + (ln.unit, ln.factor_key, ln.basis)
        groups.setdefault(k, []).append(ln)
    out = []
    for k, g in groups.items():
        if len(g) == 1:
            out.append(g[0])
            continue
        q = sum(x.quantity for x in g)
        t = sum(x.tco2e for x in g)

        def wavg(attr):
            vals = [(getattr(x, attr), x.quantity) for x in g]
            if any(v is None for v, _ in vals):
                return None
            w = sum(abs(wt) for _, wt in vals)
            return sum(v * abs(wt) for v, wt in vals) / w if w else 0.0

        first = g[0]
        merged = replace(
            first, quantity=q, tco2e=t, u_abs=math.sqrt(sum(x.u_abs ** 2 for x in g)),
            ef_value=t / q if q else 0.0, period_start=min(x.period_start for x in g),
            period_end=max(x.period_end for x in g),
            origin="; ".join(dict.fromkeys(x.origin for x in g)),
            estimated_share=wavg("estimated_share"), manual_share=wavg("manual_share"),
            activity_rows=tuple(dict.fromkeys(r for x in g for r in x.activity_rows)),
            balance=_sum_balances([x.balance for x in g]),
            workshop=first.workshop if "workshop" in keys else None, device=first.device if "device" in keys else None)
        out.append(merged)
    return out


#: the fields lines are grouped by at each level
LEVEL_KEYS = {
    "source": ("source", "item", "workshop", "device", "scope3_category"),
    "device": ("source", "item", "workshop", "device", "scope3_category"),
    "workshop": ("source", "item", "workshop", "scope3_category"),
    "plant": ("source", "item", "scope3_category"),
}
