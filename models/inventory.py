"""GHG inventory of a plant for any period and level, under a named methodology package.

:func:`compute_inventory` turns activity records (an activity file, see
:mod:`models.activity_input`) and metered energy (the store) into emission lines, each with
its activity, the factor rows used (source and validity), its GWP, its uncertainty and the
data quality behind it; :class:`Inventory` holds them, the totals per scope and ISO 14064-1
category, three views of scope 2 (Chinese compliance, location-based, market-based) and the
offsets (never netted). :meth:`Inventory.to_canonical` is the stable plain-dict form
(schema ``tanjian.inventory/1``) reports are built from; :meth:`Inventory.canonical_json`
its RFC 8785 bytes. :func:`restate` recomputes an inventory with another factor library
and explains each difference; :func:`footprint` allocates the emissions to products.

Formulas, sources and choices: ``docs/accounting.md``.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import logging
import math
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property
from pathlib import Path

import pandas as pd

from models.activity_input import ActivityFileError, _blank, validate_activity
from models.factors import DEFAULT_PATH, Factor, FactorError, FactorLibrary
from models.packages import Methodology, check_library, load_methodology
from models.units import CO2_PER_C, UnitMismatch, apply, convert, parse, quantity
from workspace.errors import TanjianError

__all__ = ["FactorUse", "Inventory", "InventoryError", "LEVELS", "Line", "MeasuredFactor", "SCHEMA",
           "UnverifiedFactors",
           "compute_inventory", "footprint", "load_measured", "load_uncertainty", "restate"]

log = logging.getLogger(__name__)

SCHEMA = "tanjian.inventory/1"
LEVELS = ("source", "workshop", "device", "plant")
UNCERTAINTY_PATH = Path(__file__).resolve().parent / "data" / "uncertainty-defaults.csv"

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
_SCOPE = {"purchased_electricity": 2, "purchased_heat": 2, "upstream_fuel": 3, "td_losses": 3}
_MOBILE_FUELS = ("diesel", "gasoline")
NO_RESIDUAL_MIX = ("grid average (no residual mix is published for China; GHG Protocol Scope 2 Guidance "
                   "ch. 6.11: use the grid average and disclose it)")


class InventoryError(TanjianError):
    """The inventory cannot be computed from the given inputs."""


class UnverifiedFactors(FactorError):
    """Factor rows the inventory needs are unverified and were not allowed.

    Attributes
    ----------
    rows : list of (Factor, datetime.date, datetime.date)
        Every unverified row the computation needed, with the period it was needed for (all of
        them, not only the first).
    """

    def __init__(self, rows: list[tuple[Factor, dt.date, dt.date]], path):
        self.rows = rows
        uniq = list(dict.fromkeys(r for r, _, _ in rows))
        out = [f"{len(uniq)} factor row(s) needed by this inventory are unverified (status 'unverified' in "
               f"{path}: not confirmed in any source read so far), so nothing was computed:"]
        for r in uniq:
            periods = sorted({(s, e) for x, s, e in rows if x == r})
            when = ", ".join(f"{s}..{e}" for s, e in periods)
            note = f" - {r.notes}" if r.notes else ""
            out.append(f"  - {r.key} (unverified) = {r.value:g} {r.unit} (line {r.line}: {r.issuer}, {r.table}), needed for "
                       f"{when}{note}")
        out.append("To accept them knowingly: run again with --allow-unverified (Python: allow_unverified=True); "
                   "every line using one lists the row with status 'unverified' among its factors, in the JSON and "
                   "the reports. Or give the plant's own value for that factor with --measured FILE (a lab "
                   "value with its evidence), or correct the row and its status in the factor file once it "
                   "is checked against the cited source.")
        super().__init__("\n".join(out))


# -- factors -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FactorUse:
    """One parameter applied to a line: a library row or a measured value.

    Attributes
    ----------
    id : str
        ``factor_id@region:applies_from`` of the row, or ``measured:<factor_id>:<applies_from>``.
    factor_id : str
    value : float
        As published. [unit]
    unit : str
    source : str
        Citation (issuer, document, table, published, status) or the lab report.
    valid_from, valid_to : datetime.date
    status : str
    evidence_sha256 : str or None
        SHA-256 of the evidence (lab report) of a measured value.
    """

    id: str
    factor_id: str
    value: float
    unit: str
    source: str
    valid_from: dt.date
    valid_to: dt.date
    status: str
    evidence_sha256: str | None = None

    @cached_property
    def q(self):
        """The value as a pint quantity (built once per row use). [unit]"""
        return quantity(self.value, self.unit)


@dataclass(frozen=True)
class MeasuredFactor:
    """A plant's own measured value of a factor (e.g. the lab's carbon content of its natural gas).

    It replaces the library row of ``factor_id`` for lines whose whole period lies in
    [applies_from, applies_to]. Read from a CSV data file (:func:`load_measured`).
    """

    factor_id: str
    value: float
    unit: str
    applies_from: dt.date
    applies_to: dt.date
    lab: str
    report: str
    evidence_sha256: str
    notes: str = ""
    file: str = ""
    line: int = 0

    def use(self) -> FactorUse:
        return FactorUse(f"measured:{self.factor_id}:{self.applies_from.isoformat()}", self.factor_id, self.value,
                         self.unit, f"measured by {self.lab}, {self.report} (evidence sha256 {self.evidence_sha256})",
                         self.applies_from, self.applies_to, "measured", self.evidence_sha256)


_MEASURED_COLUMNS = ("factor_id", "value", "unit", "applies_from", "applies_to", "lab", "report", "evidence_sha256")


def load_measured(path: str | Path) -> list[MeasuredFactor]:
    """Read a measured-factor file (CSV; ``#`` lines are comments).

    Columns: ``factor_id, value, unit, applies_from, applies_to, lab, report, evidence_sha256``
    and optional ``notes``. ``evidence_sha256`` is the SHA-256 (64 hex) of the lab report, as kept
    in the evidence store (``workspace.evidence``).

    Raises
    ------
    InventoryError
        Naming file, line and column of every bad cell.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError(f"{path}: cannot read measured factors: {exc}") from exc
    problems, out, header = [], [], None
    for ln, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        cells = [c.strip() for c in next(csv.reader([raw]))]
        if header is None:
            header = cells
            miss = [c for c in _MEASURED_COLUMNS if c not in header]
            if miss:
                raise InventoryError(f"{path}:{ln}: columns missing: {', '.join(miss)}")
            continue
        row = dict(zip(header, cells + [""] * (len(header) - len(cells))))
        n = len(problems)
        for c in _MEASURED_COLUMNS:
            if not row.get(c):
                problems.append(f"{path}:{ln}:{c}: empty")
        try:
            value = float(row["value"])
        except ValueError:
            problems.append(f"{path}:{ln}:value: not a number: {row['value']!r}")
            value = math.nan
        try:
            parse(row["unit"])
        except UnitMismatch as exc:
            problems.append(f"{path}:{ln}:unit: {exc}")
        dates = {}
        for c in ("applies_from", "applies_to"):
            try:
                dates[c] = dt.date.fromisoformat(row[c])
            except ValueError:
                problems.append(f"{path}:{ln}:{c}: not a date YYYY-MM-DD: {row[c]!r}")
        if len(row.get("evidence_sha256", "")) != 64 or any(ch not in "0123456789abcdef" for ch in row["evidence_sha256"]):
            problems.append(f"{path}:{ln}:evidence_sha256: not a 64-hex SHA-256")
        if len(problems) == n:
            out.append(MeasuredFactor(row["factor_id"], value, row["unit"], dates["applies_from"],
                                      dates["applies_to"], row["lab"], row["report"], row["evidence_sha256"],
                                      row.get("notes", ""), str(path), ln))
    if problems:
        raise InventoryError(f"{len(problems)} problem(s) in measured factors:\n" + "\n".join(problems))
    return out


def load_uncertainty(path: str | Path = UNCERTAINTY_PATH) -> dict[str, float]:
    """``{key: pct}`` from an uncertainty file (columns ``key, pct``, see the packaged default)."""
    out = {}
    with open(path, encoding="utf-8") as fh:
        rows = [r for r in fh if r.strip() and not r.lstrip().startswith("#")]
    for rec in csv.DictReader(rows):
        out[rec["key"].strip()] = float(rec["pct"])
    return out


class _Resolver:
    """Looks factors up for a line's whole period, with measured overrides, strictly."""

    def __init__(self, lib: FactorLibrary, measured: list[MeasuredFactor], allow_unverified: bool):
        self.lib, self.measured, self.allow_unverified = lib, measured, allow_unverified
        #: unverified rows used without being allowed: the computation goes on so that all of them are
        #: named at once (:meth:`check`), then nothing is returned
        self.refused: list[tuple[Factor, dt.date, dt.date]] = []
        self._memo: dict[tuple, tuple[FactorUse, Factor | None]] = {}  # the same row for the same request

    def check(self) -> None:
        """Raise :class:`UnverifiedFactors` naming every unverified row that was needed and not allowed."""
        if self.refused:
            raise UnverifiedFactors(self.refused, self.lib.path)

    def get(self, factor_id: str, start: dt.date, end: dt.date, region: str = "CN",
            allow_unverified: bool | None = None) -> FactorUse:
        for m in self.measured:
            if m.factor_id != factor_id:
                continue
            if m.applies_from <= start and end <= m.applies_to:
                default = self._row(factor_id, start, end, region, True)
                if default is not None and parse(m.unit).dimensionality != parse(default.unit).dimensionality:
                    raise UnitMismatch(f"measured {factor_id} in [{m.unit}] ({m.file}:{m.line}) does not fit the "
                                       f"library's unit [{default.unit}]")
                return m.use()
            if m.applies_from <= end and start <= m.applies_to:
                raise InventoryError(
                    f"measured {factor_id} ({m.file}:{m.line}) covers {m.applies_from}..{m.applies_to}, only part of "
                    f"the line period {start}..{end}: split the activity records at the measured period's edges")
        allow = self.allow_unverified if allow_unverified is None else allow_unverified
        key = (factor_id, start, end, region, allow)
        hit = self._memo.get(key)
        if hit is not None:
            if hit[1]:
                self.refused.append((hit[1], start, end))
            return hit[0]
        n = len(self.refused)
        row = self._row(factor_id, start, end, region, allow)
        use = FactorUse(row.key, row.factor_id, row.value, row.unit, row.source, row.applies_from, row.applies_to,
                        row.status)
        self._memo[key] = (use, row if len(self.refused) > n else None)
        return use

    def _row(self, factor_id, start, end, region, allow) -> Factor | None:
        try:
            row = self.lib.lookup(factor_id, start, region, allow_unverified=True)
        except FactorError as exc:
            raise FactorError(f"no factor {factor_id!r} valid for the period {start}..{end}: {exc}") from None
        if not row.covers(end):
            raise FactorError(
                f"no single {factor_id!r} factor row is valid for the whole period {start}..{end}: {row.key} ends "
                f"{row.applies_to} (file {self.lib.path}); split the period at the validity boundary")
        if row.status == "unverified" and not allow:
            # collected, reported all together by check(); the message names each as "<id> ... unverified"
            self.refused.append((row, start, end))
        return row


# -- lines ---------------------------------------------------------------------------------------------
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

    @property
    def uncertainty_pct(self) -> float:
        """Relative uncertainty (95%) [%]."""
        return 100.0 * self.u_abs / abs(self.tco2e) if self.tco2e else 0.0

    @property
    def factor_key(self) -> tuple:
        return tuple(p.id for p in self.parameters)


def _u(u: dict[str, float], key: str) -> float:
    if key not in u:
        raise InventoryError(f"no uncertainty configured for {key!r}")
    return u[key]


def _line(source, item, gas, rec, qty, unit, origin, params: list[FactorUse], tco2e, ef_unit, u_ad, u_ef: list[float],
          *, gwp=None, formula="", dq=(None, None), scope3_category=None, basis="location") -> Line:
    """Build a line; the combined factor is tco2e per unit of activity (gwp included)."""
    rel = math.sqrt(u_ad ** 2 + sum(x ** 2 for x in u_ef)) / 100.0
    return Line(source=source, item=item, scope=_SCOPE.get(source, 1), category=ISO_CATEGORY[source], gas=gas,
                workshop=rec.get("workshop"), device=rec.get("device"), period_start=rec["period_start"],
                period_end=rec["period_end"], quantity=qty, unit=unit, origin=origin,
                ef_value=(tco2e / qty) if qty else 0.0, ef_unit=ef_unit, parameters=tuple(params), gwp=gwp,
                tco2e=tco2e, u_abs=abs(tco2e) * rel, estimated_share=dq[0], manual_share=dq[1], formula=formula,
                scope3_category=scope3_category, basis=basis)


def _origin(recs: pd.DataFrame) -> str:
    parts = []
    for f, g in recs.groupby("source_file", sort=True):
        rows = ",".join(str(r) for r in sorted(g["row"]))
        parts.append(f"{Path(str(f)).name}:{rows}")
    return "activity:" + ";".join(parts)


def _in_period(df: pd.DataFrame, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Records inside [start, end]; a record straddling an edge is an error (no silent proration)."""
    if df.empty:
        return df
    inside = (df["period_start"] >= start) & (df["period_end"] <= end)
    outside = (df["period_end"] < start) | (df["period_start"] > end)
    bad = df[~inside & ~outside]
    if not bad.empty:
        raise ActivityFileError([(str(r.source_file), int(r.row), "period_start",
                                  f"{r.period_start}..{r.period_end} straddles the inventory period {start}..{end}; "
                                  f"split the record") for r in bad.itertuples()])
    return df[inside]


def _yearly(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with a ``year`` column (calendar year of ``period_start``): records are grouped per year,
    so that a multi-year inventory uses each year's factor rows and stock balance."""
    out = df.copy()
    out["year"] = [d.year for d in out["period_start"]] if len(out) else []
    return out


def _balance(g: pd.DataFrame, unit: str, what: str, recovered: bool = False) -> tuple[float, str]:
    """Quantity used by stock balance (opening + purchased − closing − sold [− recovered]) or as 'used'."""
    def total(move):
        sub = g[g["movement"] == move]
        return sum(float(quantity(q, u).to(parse(unit)).magnitude) for q, u in zip(sub["quantity"], sub["unit"]))

    moves = set(g["movement"])
    stock = moves & {"opening_stock", "closing_stock", "sold", "recovered"}
    if "used" in moves and (stock or "purchased" in moves):
        rows = ", ".join(f"{f}:{r}" for f, r in zip(g["source_file"], g["row"]))
        raise ActivityFileError([(str(g["source_file"].iloc[0]), int(g["row"].iloc[0]), "movement",
                                  f"{what}: 'used' mixed with stock movements in rows {rows}; give either the "
                                  f"quantity used or the stock balance")])
    if "used" in moves:
        return total("used"), "used"
    q = total("opening_stock") + total("purchased") - total("closing_stock") - total("sold")
    if recovered:
        q -= total("recovered")
    how = "stock balance (opening + purchased - closing - sold" + (" - recovered)" if recovered else ")")
    if not stock:
        how = "purchased (no stock records: stock change taken as 0)"
    if q < 0:
        raise ActivityFileError([(str(g["source_file"].iloc[0]), int(g["row"].iloc[0]), "quantity",
                                  f"{what}: stock balance is negative ({q:g} {unit})")])
    return q, how


# -- the inventory ---------------------------------------------------------------------------------------
def _dec(x: float | None, places: int) -> str | None:
    """Decimal string rounded half-up to ``places`` decimals (no exponent, '-0' written as '0')."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    d = Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if d == 0:
        d = abs(d)
    return format(d, "f")


def _sig(x: float, digits: int = 10) -> str:
    """Decimal string of ``x`` with at most ``digits`` significant digits, no exponent."""
    if x == 0:
        return "0"
    d = Decimal(repr(float(x)))
    q = Decimal(1).scaleb(d.adjusted() - digits + 1)
    out = format(d.quantize(q, rounding=ROUND_HALF_UP).normalize(), "f")
    return out


def _pub(x: float) -> str:
    """A published value as its shortest decimal string."""
    return _sig(x, 15)


def _combined_u(lines: list[Line]) -> tuple[float, float]:
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

    # totals ---------------------------------------------------------------------------------------------
    def _sum(self, pred) -> tuple[float, float]:
        return _combined_u([ln for ln in self.lines if pred(ln)])

    def totals(self) -> dict:
        """Totals [tCO2e] and their absolute uncertainties [tCO2e] (unrounded floats)."""
        s1 = self._sum(lambda ln: ln.scope == 1)
        s2 = self._sum(lambda ln: ln.scope == 2)
        s3 = self._sum(lambda ln: ln.scope == 3)
        s2m = _combined_u([ln for ln in self.market_lines])
        s2m_heat = self._sum(lambda ln: ln.source == "purchased_heat")
        gross = self._sum(lambda ln: ln.scope in (1, 2))
        out = {
            "scope1": s1, "scope2_location": s2,
            "scope2_market": (s2m[0] + s2m_heat[0], math.hypot(s2m[1], s2m_heat[1])),
            "scope3": s3, "gross_location": gross,
            "gross_market": (s1[0] + s2m[0] + s2m_heat[0], math.sqrt(s1[1] ** 2 + s2m[1] ** 2 + s2m_heat[1] ** 2)),
            "iso": {c: self._sum(lambda ln, c=c: ln.category == c) for c in range(1, 7)},
            "offsets": sum(o["tco2e"] for o in self.offsets),
        }
        return out

    # canonical -------------------------------------------------------------------------------------------
    @staticmethod
    def _factor_dict(ln: Line) -> dict:
        ps = ln.parameters
        if len(ps) == 1 and ln.gwp is None:
            p = ps[0]
            fid, value, unit = p.id, _pub(p.value), p.unit
        else:
            fid = " x ".join(p.id for p in ps) if ps else "none"
            value, unit = _sig(ln.ef_value), ln.ef_unit
        return {
            "id": fid, "value": value, "unit": unit,
            "source": " | ".join(p.source for p in ps) if ps else "",
            "valid_from": max(p.valid_from for p in ps).isoformat() if ps else None,
            "valid_to": min(p.valid_to for p in ps).isoformat() if ps else None,
            "parameters": [{"id": p.id, "factor_id": p.factor_id, "value": _pub(p.value), "unit": p.unit,
                            "source": p.source, "valid_from": p.valid_from.isoformat(),
                            "valid_to": p.valid_to.isoformat(), "status": p.status,
                            "evidence_sha256": p.evidence_sha256} for p in ps],
        }

    def _line_dict(self, ln: Line) -> dict:
        return {
            "source": ln.source, "item": ln.item, "category": ln.category, "scope": ln.scope,
            "scope3_category": ln.scope3_category, "gas": ln.gas, "workshop": ln.workshop, "device": ln.device,
            "basis": ln.basis,
            "period": {"start": ln.period_start.isoformat(), "end": ln.period_end.isoformat()},
            "activity": {"quantity": _dec(ln.quantity, 6), "unit": ln.unit, "origin": ln.origin},
            "factor": self._factor_dict(ln),
            "gwp": _pub(ln.gwp) if ln.gwp is not None else None,
            "tco2e": _dec(ln.tco2e, 3),
            "uncertainty_pct": _dec(ln.uncertainty_pct, 2),
            "data_quality": {"estimated_share": _dec(ln.estimated_share, 4),
                             "manual_share": _dec(ln.manual_share, 4)},
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
            return {"tco2e": _dec(v, 3), "uncertainty_pct": _dec(100.0 * u / abs(v) if v else 0.0, 2)}

        m = self.methodology
        market_scope2 = t["scope2_market"]
        return {
            "schema": SCHEMA,
            "plant": self.plant,
            "period": {"start": self.period_start.isoformat(), "end": self.period_end.isoformat()},
            "level": self.level,
            "methodology": {"id": m.id, "version": m.version, "sha256": m.sha256, "title": m.title},
            "factor_library": {"sha256": self.library.sha256, "file": Path(self.library.path).name},
            "store_snapshot": self.snapshot,
            "lines": [self._line_dict(ln) for ln in self.lines],
            "totals": {
                "scope1": tot(t["scope1"]), "scope2_location": tot(t["scope2_location"]),
                "scope2_market": tot(market_scope2), "scope3": tot(t["scope3"]),
                "gross_location": tot(t["gross_location"]), "gross_market": tot(t["gross_market"]),
                "iso_categories": {str(c): {**tot(v), "name": ISO_NAMES[c]} for c, v in t["iso"].items()},
                "offsets_tco2e": _dec(t["offsets"], 3),
            },
            "views": {
                "compliance": self.compliance,
                "location_based": {
                    "label": "GHG Protocol scope 2 location-based: purchased electricity x grid average "
                             f"({m.rules.GRID[0]}/{m.rules.GRID[1]}), heat x heat factor",
                    "scope2_tco2e": _dec(t["scope2_location"][0], 3),
                    "total_tco2e": _dec(t["gross_location"][0], 3)},
                "market_based": {
                    "label": "GHG Protocol scope 2 market-based: green power contracts and GECs (1 GEC = 1 MWh) "
                             "at 0; the rest x " + NO_RESIDUAL_MIX,
                    "residual_mix": "none published: grid average used",
                    "lines": [self._line_dict(ln) for ln in self.market_lines],
                    "scope2_tco2e": _dec(market_scope2[0], 3),
                    "total_tco2e": _dec(t["gross_market"][0], 3)},
            },
            "offsets": {
                "note": "reported separately, never netted from gross emissions",
                "items": [{**o, "tco2e": _dec(o["tco2e"], 3)} for o in self.offsets],
                "total_tco2e": _dec(t["offsets"], 3)},
            "memo": list(self.memo),
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


# -- computation -----------------------------------------------------------------------------------------
class _Ctx:
    def __init__(self, meth: Methodology, res: _Resolver, unc: dict[str, float], start, end):
        self.m, self.r, self.u, self.start, self.end = meth, res, unc, start, end


def _gwp(ctx: _Ctx, gas: str, start, end) -> FactorUse:
    return ctx.r.get(f"gwp_{ctx.m.rules.GWP_SET}_{gas}", start, end, "GLOBAL")


def _fuel_lines(ctx: _Ctx, df: pd.DataFrame, store_gas: list[dict]) -> list[Line]:
    rules = ctx.m.rules
    lines = []
    groups = [(k[:4], g) for k, g in _yearly(df).groupby(["item", "workshop", "device", "use", "year"], dropna=False,
                                                              sort=True)]
    recs = []
    for (item, ws, dev, use), g in groups:
        if item not in rules.FUEL_FACTOR_PREFIX:
            r0 = g.iloc[0]
            raise ActivityFileError([(str(r0.source_file), int(r0.row), "item",
                                      f"unknown fuel {item!r}; expected one of {', '.join(rules.FUEL_FACTOR_PREFIX)}")])
        unit = g["unit"].iloc[0]
        qty, how = _balance(g, unit, f"fuel {item}")
        recs.append(dict(item=item, workshop=None if pd.isna(ws) else ws, device=None if pd.isna(dev) else dev,
                         use=use, period_start=min(g["period_start"]), period_end=max(g["period_end"]),
                         qty=qty, unit=unit, origin=_origin(g) + f" [{how}]", u_key="activity:fuel_invoice",
                         dq=(None, None)))
    recs.extend(store_gas)
    for rec in recs:
        item = rec["item"]
        prefix = rules.FUEL_FACTOR_PREFIX[item]
        s, e = rec["period_start"], rec["period_end"]
        what = f"{item} {rec['origin']}"
        act = quantity(rec["qty"], rec["unit"])
        if act.dimensionality == parse("GJ").dimensionality:
            # the activity is already heat (an invoice in GJ): E = AD x CC x OF x 44/12, no NCV
            heat_params = []
            formula = "E = AD [GJ] x CC x OF x 44/12"
        elif act.dimensionality == parse("L").dimensionality and item != "natural_gas":
            # a liquid fuel invoiced by volume: mass = V x density, then as usual
            heat_params = [ctx.r.get(f"{item}_density", s, e), ctx.r.get(f"{prefix}_ncv", s, e)]
            formula = "E = V x density x NCV x CC x OF x 44/12"
        else:
            heat_params = [ctx.r.get(f"{prefix}_ncv", s, e)]
            formula = "E = FC x NCV x CC x OF x 44/12"
        cc = ctx.r.get(f"{prefix}_carbon_content", s, e)
        of = ctx.r.get(f"{prefix}_oxidation", s, e)
        params = heat_params + [cc, of]
        t = apply(act, *[(p.id, p.q) for p in params], ("44/12", CO2_PER_C), to="tCO2e", what=what)
        mobile = item in _MOBILE_FUELS if rec["use"] not in ("stationary", "mobile") else rec["use"] == "mobile"
        source = "mobile_combustion" if mobile else "stationary_combustion"
        lines.append(_line(source, item, "CO2", rec, rec["qty"], rec["unit"], rec["origin"], params, t,
                           f"tCO2/{rec['unit']}", _u(ctx.u, rec["u_key"]), [_u(ctx.u, f"factor:{item}")],
                           formula=formula, dq=rec["dq"]))
        if rules.SCOPE3:
            up = ctx.r.get(f"upstream_{item}", s, e, allow_unverified=True)
            tu = apply(act, *[(p.id, p.q) for p in heat_params], (up.id, up.q), to="tCO2e", what=what)
            lines.append(_line("upstream_fuel", item, "CO2e", rec, rec["qty"], rec["unit"], rec["origin"],
                               heat_params + [up], tu, f"tCO2e/{rec['unit']}", _u(ctx.u, rec["u_key"]),
                               [_u(ctx.u, "factor:upstream")],
                               formula="E = FC x NCV x EF_upstream (scope 3 category 3a)", dq=rec["dq"],
                               scope3_category=3))
    return lines


def _welding_lines(ctx: _Ctx, df: pd.DataFrame) -> list[Line]:
    lines = []
    for (item, ws, dev, _y), g in _yearly(df).groupby(["item", "workshop", "device", "year"], dropna=False, sort=True):
        used, how = _balance(g, "kg", f"welding gas {item}")
        s, e = min(g["period_start"]), max(g["period_end"])
        shares = {float(x) for x in g["co2_share"] if not math.isnan(x)}
        rec = dict(workshop=None if pd.isna(ws) else ws, device=None if pd.isna(dev) else dev, period_start=s,
                   period_end=e)
        if len(shares) > 1:
            r0 = g.iloc[0]
            raise ActivityFileError([(str(r0.source_file), int(r0.row), "co2_share",
                                      f"welding gas {item}: different co2_share values {sorted(shares)} in one group")])
        if shares:
            share = shares.pop()
            p = FactorUse(f"record:co2_share:{item}", "co2_share", share, "1", f"activity record {_origin(g)}",
                          s, e, "record")
        else:
            p = ctx.r.get(f"{ctx.m.rules.WELDING_SHARE_PREFIX}{item}", s, e)
        t = apply(quantity(used, "kg"), (p.id, p.q), ("CO2 mass", quantity(1.0, "tCO2e/t")), to="tCO2e",
                  what=f"welding gas {item} {_origin(g)}")
        origin = _origin(g) + f" [{how}]"
        lines.append(_line("process_welding_co2", item, "CO2", rec, used, "kg", origin, [p], t, "tCO2/kg",
                           _u(ctx.u, "activity:stock_balance"), [_u(ctx.u, "factor:welding_share")],
                           formula="E = (opening + purchased - closing - sold) x CO2 mass share"))
    return lines


#: ozone-depleting gases (Montreal Protocol): outside the Kyoto basket, reported as memo items only
MONTREAL_PREFIXES = ("cfc_", "hcfc_", "halon_")


def _fgas_lines(ctx: _Ctx, df: pd.DataFrame, memo: list[dict]) -> list[Line]:
    lines = []
    for (item, use, ws, dev, _y), g in _yearly(df).groupby(["item", "use", "workshop", "device", "year"], dropna=False,
                                                         sort=True):
        used, how = _balance(g, "kg", f"{item} ({use})", recovered=True)
        if str(item).startswith(MONTREAL_PREFIXES):
            log.warning("%s: %.3f kg emitted is a Montreal Protocol gas, outside the Kyoto basket: memo item only",
                        item, used)
            memo.append({"item": item, "quantity": _dec(used, 6), "unit": "kg", "origin": _origin(g) + f" [{how}]",
                         "note": "Montreal Protocol gas: not part of scopes 1-3 (GHG Protocol: report separately)"})
            continue
        s, e = min(g["period_start"]), max(g["period_end"])
        rec = dict(workshop=None if pd.isna(ws) else ws, device=None if pd.isna(dev) else dev, period_start=s,
                   period_end=e)
        gwp = _gwp(ctx, item, s, e)
        t = apply(quantity(used, "kgGHG"), (gwp.id, gwp.q), to="tCO2e", what=f"{item} {_origin(g)}")
        if use == "product":
            source = "process_fgas_products"
        else:
            source = "fugitive_sf6_switchgear" if item == "sf6" else "fugitive_refrigerant"
        lines.append(_line(source, item, item.upper(), rec, used, "kg", _origin(g) + f" [{how}]", [gwp], t,
                           "tCO2e/kg", _u(ctx.u, "activity:stock_balance"), [_u(ctx.u, "factor:gwp")], gwp=gwp.value,
                           formula="E = (opening + purchased - closing - sold - recovered) x GWP"))
    return lines


def _electricity_lines(ctx: _Ctx, recs: list[dict]) -> list[Line]:
    """Location-based lines (grid average) and, for scope 3, T&D losses."""
    rules = ctx.m.rules
    lines = []
    for rec in recs:
        s, e = rec["period_start"], rec["period_end"]
        grid = ctx.r.get(rules.GRID[0], s, e, rules.GRID[1])
        act = quantity(rec["qty"], rec["unit"])
        t = apply(act, (grid.id, grid.q), to="tCO2e", what=f"electricity {rec['origin']}")
        lines.append(_line("purchased_electricity", "electricity", "CO2", rec, rec["qty"], rec["unit"], rec["origin"],
                           [grid], t, f"tCO2/{rec['unit']}", _u(ctx.u, rec["u_key"]), [_u(ctx.u, "factor:grid")],
                           formula="E = net purchased electricity x grid average factor", dq=rec["dq"]))
        if rules.SCOPE3:
            td = ctx.r.get("grid_td_loss_rate", s, e, allow_unverified=True)
            tt = apply(act, (td.id, td.q), (grid.id, grid.q), to="tCO2e", what=f"T&D losses {rec['origin']}")
            lines.append(_line("td_losses", "electricity", "CO2", rec, rec["qty"], rec["unit"], rec["origin"],
                               [td, grid], tt, f"tCO2/{rec['unit']}", _u(ctx.u, rec["u_key"]),
                               [_u(ctx.u, "factor:td_loss"), _u(ctx.u, "factor:grid")],
                               formula="E = electricity x T&D loss rate x grid factor (scope 3 category 3c)",
                               dq=rec["dq"], scope3_category=3))
    return lines


def _heat_lines(ctx: _Ctx, df: pd.DataFrame) -> list[Line]:
    lines = []
    for (item, ws, dev, _y), g in _yearly(df).groupby(["item", "workshop", "device", "year"], dropna=False, sort=True):
        s, e = min(g["period_start"]), max(g["period_end"])
        qty, how = _balance(g, "GJ", f"heat {item}")
        rec = dict(workshop=None if pd.isna(ws) else ws, device=None if pd.isna(dev) else dev, period_start=s,
                   period_end=e)
        f = ctx.r.get(ctx.m.rules.HEAT_FACTOR, s, e)
        t = apply(quantity(qty, "GJ"), (f.id, f.q), to="tCO2e", what=f"heat {_origin(g)}")
        lines.append(_line("purchased_heat", item, "CO2", rec, qty, "GJ", _origin(g) + f" [{how}]", [f], t, "tCO2/GJ",
                           _u(ctx.u, "activity:heat"), [_u(ctx.u, "factor:heat")],
                           formula="E = net purchased heat x heat factor"))
    return lines


def _market_lines(ctx: _Ctx, elec: list[Line], instruments: pd.DataFrame) -> list[Line]:
    """Market-based scope 2 electricity: instruments at 0, the rest at the grid average (no residual mix)."""
    if not elec:
        if not instruments.empty:
            log.warning("%d green power / GEC record(s) but no purchased electricity in the period: nothing to "
                        "cover, market-based scope 2 is 0", len(instruments))
        return []
    rules = ctx.m.rules
    total = sum(convert(ln.quantity, ln.unit, "MWh") for ln in elec)
    s, e = min(ln.period_start for ln in elec), max(ln.period_end for ln in elec)
    claimed, lines = 0.0, []
    for (kind, item), g in instruments.groupby(["kind", "item"], sort=True):
        mwh = sum(convert(q, u, "MWh") for q, u in zip(g["quantity"], g["unit"]))
        take = min(mwh, total - claimed)
        if take < mwh:
            log.warning("%s %s: %.3f MWh of instruments exceed the electricity left to cover; %.3f MWh claimed",
                        kind, item, mwh, take)
        claimed += take
        rec = dict(workshop=None, device=None, period_start=min(g["period_start"]), period_end=max(g["period_end"]))
        label = "green power contract" if kind == "green_power" else "green electricity certificates (1 GEC = 1 MWh)"
        lines.append(_line("purchased_electricity", f"{kind}:{item}", "CO2", rec, take, "MWh",
                           _origin(g) + f" [{label}]", [], 0.0, "tCO2/MWh", _u(ctx.u, "activity:instrument"), [],
                           formula="E = MWh covered by contractual instruments x 0", basis="market"))
    rest = total - claimed
    u_ad = max((_u(ctx.u, "activity:meter"), _u(ctx.u, "activity:statement")))
    residual = []
    for ln in elec:
        # instruments cover every electricity line in proportion; each residual part takes its own period's factor
        q = convert(ln.quantity, ln.unit, "MWh") * (rest / total if total else 0.0)
        grid = ctx.r.get(rules.GRID[0], ln.period_start, ln.period_end, rules.GRID[1])
        t = apply(quantity(q, "MWh"), (grid.id, grid.q), to="tCO2e")
        rec = dict(workshop=None, device=None, period_start=ln.period_start, period_end=ln.period_end)
        residual.append(_line("purchased_electricity", "residual", "CO2", rec, q, "MWh",
                              f"electricity not covered by instruments; factor: {NO_RESIDUAL_MIX}", [grid], t,
                              "tCO2/MWh", u_ad, [_u(ctx.u, "factor:grid")],
                              formula="E = (electricity - instruments) x grid average", basis="market"))
    return lines + _merge(residual, ("source", "item"))


def _compliance(ctx: _Ctx, lines: list[Line], elec: list[Line]) -> dict:
    rules = ctx.m.rules
    label = ("Chinese compliance view (MEE key-enterprise reporting): purchased electricity incl. green power x "
             f"{rules.COMPLIANCE_GRID[0]} (0.5703 for 2022-2025 reporting); green power is not deducted")
    n_refused = len(ctx.r.refused)
    try:
        t_e = 0.0
        used = []
        for ln in elec:
            f = ctx.r.get(rules.COMPLIANCE_GRID[0], ln.period_start, ln.period_end, rules.COMPLIANCE_GRID[1])
            if len(ctx.r.refused) > n_refused:
                # an unverified compliance factor makes this view unavailable, not the inventory
                row, s, e = ctx.r.refused[n_refused]
                del ctx.r.refused[n_refused:]
                raise FactorError(
                    f"factor {row.factor_id!r} for {s}..{e} is unverified ({row.key}, line {row.line} of "
                    f"{ctx.r.lib.path}); allow unverified factors explicitly (allow_unverified=True, "
                    f"tanjian inventory --allow-unverified) to use it")
            used.append(f.id)
            t_e += apply(quantity(ln.quantity, ln.unit), (f.id, f.q), to="tCO2e")
    except FactorError as exc:
        return {"label": label, "available": False, "reason": str(exc), "scope2_electricity_tco2e": None,
                "total_tco2e": None, "factors": []}
    other = sum(ln.tco2e for ln in lines if ln.scope == 1 or ln.source == "purchased_heat")
    return {"label": label, "available": True, "reason": None, "scope2_electricity_tco2e": _dec(t_e, 3),
            "total_tco2e": _dec(other + t_e, 3), "factors": sorted(set(used))}


def _device_meters(site, medium: str, workshop: str) -> dict[str, list[str]]:
    """The meters of ``workshop`` that measure single devices, by device.

    A meter with ``device`` set counts unless one of its ancestors in the same workshop measures a
    device too (a sub-meter of a device meter is part of that device, not counted twice).
    """
    from workspace.site import Medium

    med = Medium(medium)
    by_id = {m.id: m for m in site.meters}
    out: dict[str, list[str]] = {}
    for m in site.meters:
        if m.medium != med or m.workshop != workshop or m.device is None:
            continue
        up = by_id.get(m.parent) if m.parent else None
        covered = False
        while up is not None and up.workshop == workshop:
            if up.device is not None:
                covered = True
                break
            up = by_id.get(up.parent) if up.parent else None
        if not covered:
            out.setdefault(m.device, []).append(m.id)
    return dict(sorted(out.items()))


def _measured_minutes(store, start: dt.date, end: dt.date, meters: list[str], as_of) -> dict[str, int] | None:
    """Minutes with a measured (not estimated) energy per meter over the local days [start, end].

    Read in one selection from the store's daily rollup ``measured_1d`` (the variable
    :meth:`workspace.store.Store.energy` takes its ``coverage`` from); None when the store has no
    such rollup (the caller then asks :meth:`~workspace.store.Store.energy` group by group).
    """
    ds = store.dataset(as_of)
    if "measured_1d" not in ds.data_vars:
        return None
    import numpy as np

    sub = ds["measured_1d"].sel(day=slice(np.datetime64(start), np.datetime64(end)), meter=meters)
    vals = sub.values.astype("int64").sum(axis=sub.get_axis_num("day"))
    return dict(zip(meters, vals.tolist()))


def _manual_minutes(store, start: dt.date, end: dt.date, meters: list[str], as_of) -> dict[str, tuple[int, int]]:
    """Per meter: the minutes of the local days [start, end] and how many are flagged MANUAL.

    Reads only the minute ``quality`` bitmask of the store (what
    :meth:`~workspace.store.Store.quality_report` counts its flags from, without its other columns);
    falls back to ``quality_report`` if the store has no such variable.
    """
    import numpy as np

    from workspace.quality import Q

    tz = store.site.plant.timezone if getattr(store, "site", None) is not None else None
    ds = store.dataset(as_of)
    lo = pd.Timestamp(start).tz_localize(tz).tz_convert("UTC").tz_localize(None)
    hi = (pd.Timestamp(end) + pd.Timedelta(days=1)).tz_localize(tz).tz_convert("UTC").tz_localize(None)
    if tz is None or "quality" not in ds.data_vars:
        rep = store.quality_report(pd.Timestamp(start).to_pydatetime(),
                                   (pd.Timestamp(end) + pd.Timedelta(days=1)).to_pydatetime(), meters=meters,
                                   as_of=as_of)
        return {m: (int(a), int(b)) for m, a, b in zip(rep.index, rep["minutes"], rep["manual"])}
    n = int((hi - lo) / pd.Timedelta(minutes=1))
    sub = ds["quality"].sel(time=slice(lo.to_datetime64(), (hi - pd.Timedelta("1ns")).to_datetime64()), meter=meters)
    vals = sub.values
    flagged = (np.nan_to_num(vals, nan=0).astype(np.int64) & int(Q.MANUAL)) != 0
    counts = flagged.sum(axis=sub.get_axis_num("time"))
    return {m: (n, int(c)) for m, c in zip(meters, counts.tolist())}


def _store_records(store, site, start, end, level, as_of, medium) -> tuple[list[dict], str | None]:
    """Energy per group and month from the store's rollups, with its data quality.

    Groups: the plant's main meters (plant and source levels); each workshop's top meters
    (``Site.top_meters``) and the rest of the plant's main meters (workshop level); at device level,
    each device's meters (``Meter.device``: the sub-meters that measure one device), each workshop's
    unmetered remainder (its top meters minus its device meters, labelled) and the rest of the
    plant's main meters. Device lines plus the remainder sum to the workshop's total.

    One energy query for every meter involved (per meter and month), one read of the daily
    ``measured`` rollup for the estimated share of every group, and, for periods up to 31 days, one
    read of the minute quality flags for the MANUAL share (no rollup counts them).
    """
    lo = pd.Timestamp(start)
    hi = pd.Timestamp(end) + pd.Timedelta(days=1)
    roots = site.top_meters(medium)
    if not roots:
        return [], None
    # key -> (workshop, device, meters added, meters subtracted, label)
    groups: dict[str, tuple] = {}
    quality_sets: dict[str, list[str]] = {"__plant__": list(roots)}
    if level in ("workshop", "device"):
        for w in site.workshops:
            tops = site.top_meters(medium, w.id)
            if not tops:
                continue
            if level == "device":
                devs = _device_meters(site, medium, w.id)
                sub = [m for ms in devs.values() for m in ms]
                for dev, ms in devs.items():
                    groups[f"{w.id}/{dev}"] = (w.id, dev, ms, [], "")
                    quality_sets[f"{w.id}/{dev}"] = ms
                label = (f" (unmetered remainder: workshop {w.id} main meters minus its device meters "
                         f"{'+'.join(sub)})" if sub else f" (workshop {w.id} main meters: no device meter)")
                groups[f"{w.id}/"] = (w.id, None, tops, sub, label)
                quality_sets[f"{w.id}/"] = list(dict.fromkeys(tops + sub))
            else:
                groups[w.id] = (w.id, None, tops, [], "")
                quality_sets[w.id] = tops
    meters = sorted({m for _, _, plus, minus, _ in groups.values() for m in plus + minus} | set(roots))
    arr = store.energy(lo.to_pydatetime(), hi.to_pydatetime(), medium=medium, freq="MS", meters=meters, as_of=as_of)
    snapshot = arr.attrs.get("snapshot")
    per_meter = pd.DataFrame(arr.fillna(0).values, index=pd.DatetimeIndex(arr["time"].values),
                             columns=[str(g) for g in arr["group"].values])
    # estimated share = 1 - measured minutes / (minutes of the period x meters), as Store.energy's coverage
    tz = site.plant.timezone
    period_min = (hi.tz_localize(tz) - lo.tz_localize(tz)) / pd.Timedelta(minutes=1)
    measured = _measured_minutes(store, start, end, meters, as_of)
    est, man = {}, {}
    rep = None
    if hi - lo <= pd.Timedelta(days=31):
        rep = _manual_minutes(store, start, end, meters, as_of)
    for k, ms in quality_sets.items():
        if measured is not None:
            est[k] = 1.0 - float(sum(measured[m] for m in ms)) / (period_min * len(ms)) if period_min else 1.0
        else:
            cov = store.energy(lo.to_pydatetime(), hi.to_pydatetime(), medium=medium, freq=None, meters=ms,
                               as_of=as_of)
            est[k] = 1.0 - float(cov.attrs.get("coverage", 0.0))
        if rep is None:
            man[k] = None
        else:
            minutes = float(sum(rep[m][0] for m in ms))
            man[k] = float(sum(rep[m][1] for m in ms)) / minutes if minutes else 0.0
    out = []
    unit = "kWh" if medium == "electricity" else "Nm3"
    values = per_meter.to_numpy()
    col = {m: i for i, m in enumerate(per_meter.columns)}
    idx = {key: ([col[m] for m in plus], [col[m] for m in minus]) for key, (_, _, plus, minus, _) in groups.items()}
    origins = {key: f"store:{medium}:{'+'.join(plus)}" + (f"-({'+'.join(minus)})" if minus else "")
               + f"@{snapshot}{label}" for key, (_, _, plus, minus, label) in groups.items()}
    root_idx = [col[m] for m in roots]
    for i, t in enumerate(per_meter.index):
        m_start = max(t.date(), start)
        m_end = min((t + pd.offsets.MonthEnd(0)).date(), end)
        row = values[i]
        part = 0.0
        for key, (ws, dev, _plus, _minus, _label) in groups.items():
            p, n = idx[key]
            v = float(row[p].sum()) - (float(row[n].sum()) if n else 0.0)
            part += v
            out.append(dict(workshop=ws, device=dev, period_start=m_start, period_end=m_end, qty=v, unit=unit,
                            origin=origins[key], u_key="activity:meter", dq=(est[key], man[key]),
                            use="stationary", item="natural_gas"))
        rest = float(row[root_idx].sum()) - part
        if groups and abs(rest) < 1e-9:
            continue
        out.append(dict(workshop=None, device=None, period_start=m_start, period_end=m_end, qty=rest, unit=unit,
                        origin=f"store:{medium}:{'+'.join(roots)}@{snapshot}" + (
                            " (plant main meters minus the workshops' meters)" if groups else ""),
                        u_key="activity:meter", dq=(est["__plant__"], man["__plant__"]), use="stationary",
                        item="natural_gas"))
    return out, snapshot


def _merge(lines: list[Line], keys: tuple[str, ...]) -> list[Line]:
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
            workshop=first.workshop if "workshop" in keys else None, device=first.device if "device" in keys else None)
        out.append(merged)
    return out


_LEVEL_KEYS = {
    "source": ("source", "item", "workshop", "device", "scope3_category"),
    "device": ("source", "item", "workshop", "device", "scope3_category"),
    "workshop": ("source", "item", "workshop", "scope3_category"),
    "plant": ("source", "item", "scope3_category"),
}


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
    models.units.UnitMismatch
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
    res = _Resolver(lib, list(measured or []), allow_unverified)
    ctx = _Ctx(meth, res, unc, period_start, period_end)

    if activity is None:
        act = validate_activity(pd.DataFrame(columns=["kind", "item", "period_start", "period_end", "quantity", "unit"]))
    else:
        act = validate_activity(activity, activity.attrs.get("source_file", "<activity>"))
    act = _in_period(act, period_start, period_end)
    by_kind = {k: g for k, g in act.groupby("kind")} if not act.empty else {}
    empty = act.iloc[0:0]

    lines: list[Line] = []
    snapshot = None
    # fuels (natural gas from the store's gas meters when no fuel record gives it)
    fuels = by_kind.get("fuel", empty)
    store_gas = []
    if store is not None and site is not None and not (fuels["item"] == "natural_gas").any() \
            and site.top_meters("natural_gas"):
        store_gas, snapshot = _store_records(store, site, period_start, period_end, level, as_of, "natural_gas")
    lines += _fuel_lines(ctx, fuels, store_gas)
    lines += _welding_lines(ctx, by_kind.get("welding_gas", empty))
    fg = pd.concat([by_kind.get("refrigerant", empty), by_kind.get("sf6", empty)])
    memo: list[dict] = []
    lines += _fgas_lines(ctx, fg, memo)
    # electricity: statements, else the store's top meters
    st = by_kind.get("electricity_statement", empty)
    elec_recs = []
    if not st.empty:
        if store is not None:
            log.info("electricity from %d statement record(s); the store's meters are not added (no double count)",
                     len(st))
        for (ws, s, e), g in st.groupby(["workshop", "period_start", "period_end"], dropna=False, sort=True):
            g_tot = g[g["item"] == "total"]
            use = g_tot if not g_tot.empty else g
            mwh = sum(convert(q, u, "MWh") for q, u in zip(use["quantity"], use["unit"]))
            elec_recs.append(dict(workshop=None if pd.isna(ws) else ws, device=None, period_start=s, period_end=e,
                                  qty=mwh, unit="MWh", origin=_origin(use), u_key="activity:statement",
                                  dq=(None, None)))
    elif store is not None and site is not None:
        recs, snap = _store_records(store, site, period_start, period_end, level, as_of, "electricity")
        snapshot = snap or snapshot
        elec_recs = [{**r, "qty": convert(r["qty"], "kWh", "MWh"), "unit": "MWh"} for r in recs]
    elec_lines = _electricity_lines(ctx, elec_recs)
    lines += elec_lines
    lines += _heat_lines(ctx, by_kind.get("heat", empty))
    if snapshot is None and store is not None:
        try:
            snapshot = store.dataset(as_of).attrs.get("snapshot")
        except Exception:  # noqa: BLE001 - an empty store has no snapshot to name
            snapshot = None

    elec_only = [ln for ln in elec_lines if ln.source == "purchased_electricity"]
    instruments = pd.concat([by_kind.get("green_power", empty), by_kind.get("gec", empty)])
    market = _market_lines(ctx, elec_only, instruments)
    compliance = _compliance(ctx, lines, elec_only)
    offsets = []
    for r in by_kind.get("offset", empty).itertuples():
        offsets.append({"item": r.item, "quantity": _dec(r.quantity, 6), "unit": r.unit,
                        "tco2e": convert(r.quantity, r.unit, "tCO2e"),
                        "period": {"start": r.period_start.isoformat(), "end": r.period_end.isoformat()},
                        "origin": f"activity:{Path(str(r.source_file)).name}:{r.row}",
                        "note": None if _blank(r.note) else str(r.note)})

    res.check()
    lines = _merge(lines, _LEVEL_KEYS[level])
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


# -- restatement -----------------------------------------------------------------------------------------
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


# -- product carbon footprint -----------------------------------------------------------------------------
def footprint(inv: Inventory, production: pd.DataFrame | None = None) -> pd.DataFrame:
    """Gate-to-gate carbon footprint per unit of each product.

    Allocation: a workshop's lines go to the products made in it; lines with no workshop (plant
    level: heat, switchgear SF6, the part of the main meters not metered by workshop) are first
    spread over the workshops by their share of metered electricity [MWh]. Within a workshop, the
    emissions are split over its products by produced quantity (exact when a workshop makes one
    product). Scope 1 and location-based scope 2 only (scope 3 excluded: gate to gate).

    Parameters
    ----------
    inv : Inventory
        Computed at level ``workshop`` or ``device``.
    production : pandas.DataFrame, optional
        ``kind == "production"`` records (item = product id, quantity, unit, workshop); default: the
        production records of the inventory's activity.

    Returns
    -------
    pandas.DataFrame
        product, workshop(s), quantity, unit, energy_mwh [MWh], tco2e [tCO2e], tco2e_per_unit [tCO2e/unit].
    """
    if production is None:
        a = inv.inputs.get("activity")
        if a is None:
            raise InventoryError("footprint: no production records (give an activity file with kind=production)")
        a = validate_activity(a)
        production = a[a["kind"] == "production"]
    production = _in_period(validate_activity(production), inv.period_start, inv.period_end)
    if production.empty:
        raise InventoryError(f"footprint: no production records for {inv.period_start}..{inv.period_end}")
    if production["workshop"].isna().any():
        r = production[production["workshop"].isna()].iloc[0]
        raise ActivityFileError([(str(r.source_file), int(r.row), "workshop",
                                  "production record without workshop: cannot allocate")])
    lines = [ln for ln in inv.lines if ln.scope in (1, 2)]
    elec = {}
    for ln in lines:
        if ln.source == "purchased_electricity" and ln.workshop:
            elec[ln.workshop] = elec.get(ln.workshop, 0.0) + convert(ln.quantity, ln.unit, "MWh")
    made_in = set(production["workshop"])
    e_made = {w: elec.get(w, 0.0) for w in made_in}
    e_sum = sum(e_made.values())
    ws_t = {w: 0.0 for w in made_in}
    unallocated = 0.0
    for ln in lines:
        if ln.workshop in ws_t:
            ws_t[ln.workshop] += ln.tco2e
        elif ln.workshop is None:
            unallocated += ln.tco2e
        else:
            unallocated += ln.tco2e  # a workshop that made nothing in the period: shared like plant lines
    for w in ws_t:
        ws_t[w] += unallocated * (e_made[w] / e_sum if e_sum else 1.0 / len(ws_t))
    rows = {}
    for w, g in production.groupby("workshop"):
        tot_q = g["quantity"].sum()
        for r in g.itertuples():
            share = r.quantity / tot_q if tot_q else 0.0
            row = rows.setdefault(r.item, {"product": r.item, "workshops": set(), "quantity": 0.0, "unit": r.unit,
                                           "energy_mwh": 0.0, "tco2e": 0.0})
            row["workshops"].add(w)
            row["quantity"] += r.quantity
            row["energy_mwh"] += e_made.get(w, 0.0) * share
            row["tco2e"] += ws_t[w] * share
    out = pd.DataFrame([{**r, "workshops": ",".join(sorted(r["workshops"])),
                         "tco2e_per_unit": r["tco2e"] / r["quantity"] if r["quantity"] else math.nan}
                        for r in rows.values()])
    return out.sort_values("product").reset_index(drop=True)
