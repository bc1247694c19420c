"""The declarative rules of a methodology package (``rules.yaml``): read, checked, and held as data.

A package (:mod:`models.packages`) is a manifest plus this one YAML file; the engine
(:mod:`models.inventory` through :mod:`models.sources`) computes with nothing else. The file states:

``gwp``
    ``default`` set and the ``allowed`` sets (``sar``, ``ar4``, ``ar5``, ``ar6``), with a ``note`` saying why.
``rounding``
    ``tco2e_places`` (decimals of tCO2e, half-up), applied once per line by :mod:`models.rounding`.
``constants``
    named numbers with unit and source (``CO2_PER_C: {value: "44/12", unit: "tCO2/tC"}``).
``stock_balance``
    the default expression of the quantity used from the movement sums of a group of records.
``fuel_use``
    ``mobile``: the fuels counted as mobile combustion when a record does not say its use.
``views``
    ``location``, ``compliance``, ``market``: each one's grid factor (``factor``, ``region``), label, and how
    contractual instruments are treated; ``headline`` names the view of the methodology's total (排放总量).
``sources``
    one entry per emission source: ``id``, ``match`` (activity ``kind`` or named ``quantity``, optional ``use``,
    ``item``), ``scope``, ``iso_category``, ``scope3_category``, ``gas``, ``items`` (allowed items and their
    factor-id prefix), ``formula`` and unit ``formulas`` variants (:mod:`models.expression`), ``factors`` (role
    -> factor-id template; ``{item}``, ``{prefix}``, ``{gwp}`` are filled in), ``balance``, ``uncertainty``.
``not_counted``
    activity kinds or quantities the methodology does not count, each with the reason reported;
    ``memo_prefixes``: gases outside the Kyoto basket (reported as memo items only).

:func:`read_rules` refuses a malformed file with one message naming file, source and field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from models.expression import FormulaError, compile_formula
from workspace.errors import TanjianError
from workspace.units import UnitMismatch, parse

__all__ = ["GWP_SETS", "Role", "Rules", "RulesError", "Source", "View", "read_rules"]

SCHEMA = "tanjian.methodology-rules/1"
GWP_SETS = ("sar", "ar4", "ar5", "ar6")
VIEWS = ("location", "compliance", "market")


class RulesError(TanjianError):
    """A package's rules.yaml is malformed."""


@dataclass(frozen=True)
class Role:
    """A factor a formula names: the factor-id template and how it is looked up."""

    name: str
    template: str = ""
    region: str = "CN"
    allow_unverified: bool = False
    grid: bool = False          #: bound to the view's grid factor
    record_column: str = ""     #: a record's own value (e.g. ``co2_share``) wins over the library

    def factor_id(self, item: str, prefix: str, gwp: str) -> str:
        return self.template.format(item=item, prefix=prefix, gwp=gwp)


@dataclass(frozen=True)
class Source:
    """One emission source of the package."""

    id: str
    name_zh: str
    kind: tuple[str, ...]
    quantity: str
    use: tuple[str, ...]
    item: tuple[str, ...]
    scope: int
    iso_category: int
    scope3_category: int | None
    gas: str
    items: dict
    formula: str
    formulas: dict
    factors: dict
    balance: str
    unit: str
    uncertainty: dict
    activity_unit: str = ""
    also: bool = False          #: counts the records it matches in addition to the source that uses them
    note: str = ""

    def formula_for(self, unit: str) -> str:
        """The formula for activity given in ``unit`` (a unit variant, else the default)."""
        return self.formulas.get(unit, self.formula)

    def matches(self, kind: str, item: str, use: str) -> bool:
        return (kind in self.kind and (not self.use or use in self.use) and (not self.item or item in self.item))


@dataclass(frozen=True)
class View:
    """A view of the totals: its grid factor and label."""

    name: str
    factor: str
    region: str
    label: str
    instruments: str  # "deducted" | "not_deducted"


@dataclass(frozen=True)
class Rules:
    """A package's rules, as data."""

    gwp_default: str
    gwp_allowed: tuple[str, ...]
    gwp_note: str
    places: int
    constants: dict          #: name -> (value, unit, source)
    stock_balance: str
    mobile_fuels: tuple[str, ...]
    views: dict              #: name -> View
    headline: str
    sources: tuple[Source, ...]
    not_counted: dict
    memo_prefixes: tuple[str, ...] = ()
    scope3: bool = field(default=False)

    @property
    def GRID(self) -> tuple[str, str]:  # noqa: N802 - the name the older code and reports read
        v = self.views["location"]
        return v.factor, v.region

    @property
    def COMPLIANCE_GRID(self) -> tuple[str, str]:  # noqa: N802
        v = self.views["compliance"]
        return v.factor, v.region

    @property
    def GWP_SET(self) -> str:  # noqa: N802
        return self.gwp_default


def _tuple(v) -> tuple[str, ...]:
    if v is None:
        return ()
    return tuple(str(x) for x in (v if isinstance(v, list) else [v]))


def _number(text, where) -> float:
    """A constant's value: a number or an expression of numbers (``44/12``)."""
    if isinstance(text, (int, float)):
        return float(text)
    f = compile_formula(str(text))
    if f.names:
        raise RulesError(f"{where}: a constant is numbers only, not {text!r}")
    return float(f.evaluate({}, {}, "dimensionless"))


def read_rules(path: Path) -> Rules:
    """Read and check a package's ``rules.yaml``.

    Raises
    ------
    RulesError
        Naming the file and the field (and the source id) of the first problem.
    """
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RulesError(f"{path}: cannot read: {exc}") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise RulesError(f"{path}: field 'schema' must be {SCHEMA!r}")

    def need(d, key, where):
        if not isinstance(d, dict) or key not in d:
            raise RulesError(f"{path}: {where}: field {key!r} missing")
        return d[key]

    gwp = need(doc, "gwp", "top level")
    allowed = tuple(s.lower() for s in _tuple(need(gwp, "allowed", "gwp")))
    default = str(need(gwp, "default", "gwp")).lower()
    for s in allowed + (default,):
        if s not in GWP_SETS:
            raise RulesError(f"{path}: gwp: unknown set {s!r}; known: {', '.join(GWP_SETS)}")
    if default not in allowed:
        raise RulesError(f"{path}: gwp: default {default!r} is not among allowed {list(allowed)}")
    places = int(need(need(doc, "rounding", "top level"), "tco2e_places", "rounding"))
    constants = {}
    for name, c in (doc.get("constants") or {}).items():
        where = f"constants.{name}"
        value = _number(need(c, "value", where), where)
        unit = str(need(c, "unit", where))
        try:
            parse(unit)
        except UnitMismatch as exc:
            raise RulesError(f"{path}: {where}: {exc}") from None
        constants[name] = (value, unit, str(need(c, "source", where)))
    views = {}
    for name in VIEWS:
        v = need(need(doc, "views", "top level"), name, "views")
        grid = need(v, "grid", f"views.{name}")
        views[name] = View(name, str(need(grid, "factor", f"views.{name}.grid")), str(grid.get("region", "CN")),
                           str(need(v, "label", f"views.{name}")), str(v.get("instruments", "deducted")))
    headline = str(need(doc, "headline", "top level"))
    if headline not in VIEWS:
        raise RulesError(f"{path}: headline must be one of {', '.join(VIEWS)}, not {headline!r}")
    stock = str(need(doc, "stock_balance", "top level"))
    sources, seen = [], set()
    for i, s in enumerate(need(doc, "sources", "top level") or []):
        sid = str(need(s, "id", f"sources[{i}]"))
        where = f"source {sid}"
        if sid in seen:
            raise RulesError(f"{path}: {where}: id used twice")
        seen.add(sid)
        match = need(s, "match", where)
        roles = {}
        for rname, spec in (s.get("factors") or {}).items():
            if isinstance(spec, str):
                spec = {"id": spec}
            if not isinstance(spec, dict):
                raise RulesError(f"{path}: {where}: factors.{rname} must be a factor-id template or a mapping")
            roles[rname] = Role(rname, str(spec.get("id", "")), str(spec.get("region", "CN")),
                                bool(spec.get("allow_unverified", False)), bool(spec.get("grid", False)),
                                str(spec.get("record_column", "")))
            if not roles[rname].template and not roles[rname].grid:
                raise RulesError(f"{path}: {where}: factors.{rname}: give 'id' (a factor-id template) or grid: true")
            try:
                roles[rname].factor_id("item", "prefix", "ar5")
            except (KeyError, IndexError, ValueError) as exc:
                raise RulesError(f"{path}: {where}: factors.{rname}: template {roles[rname].template!r} may use "
                                 f"{{item}}, {{prefix}} and {{gwp}} only ({exc!r})") from None
        formula = str(need(s, "formula", where))
        formulas = {str(k): str(v) for k, v in (s.get("formulas") or {}).items()}
        balance = str(s.get("balance", stock))
        for text in [formula, *formulas.values(), balance]:
            try:
                compile_formula(text)
            except FormulaError as exc:
                raise RulesError(f"{path}: {where}: {exc}") from None
        for text in [formula, *formulas.values()]:
            unknown = [n for n in compile_formula(text).names
                       if n not in roles and n not in constants and n != "AD"]
            if unknown:
                raise RulesError(f"{path}: {where}: formula {text!r} names {', '.join(unknown)}: neither AD, "
                                 f"a factor role of the source nor a constant")
        try:
            str(need(s, "gas", where)).format(ITEM="X")
        except (KeyError, IndexError, ValueError) as exc:
            raise RulesError(f"{path}: {where}: gas may use {{ITEM}} only ({exc!r})") from None
        scope = int(need(s, "scope", where))
        iso = int(need(s, "iso_category", where))
        if scope not in (1, 2, 3) or not 1 <= iso <= 6:
            raise RulesError(f"{path}: {where}: scope must be 1-3 and iso_category 1-6")
        sources.append(Source(
            id=sid, name_zh=str(s.get("name_zh", "")), kind=_tuple(match.get("kind")),
            quantity=str(match.get("quantity", "")), use=_tuple(match.get("use")), item=_tuple(match.get("item")),
            scope=scope, iso_category=iso, scope3_category=s.get("scope3_category"), gas=str(need(s, "gas", where)),
            items=dict(s.get("items") or {}), formula=formula, formulas=formulas, factors=roles, balance=balance,
            unit=str(s.get("unit", "tCO2e")), uncertainty=dict(s.get("uncertainty") or {}),
            activity_unit=str(s.get("activity_unit", "")), also=bool(s.get("also", False)),
            note=str(s.get("note", ""))))
    return Rules(gwp_default=default, gwp_allowed=allowed, gwp_note=str(gwp.get("note", "")), places=places,
                 constants=constants, stock_balance=stock,
                 mobile_fuels=_tuple((doc.get("fuel_use") or {}).get("mobile")), views=views, headline=headline,
                 sources=tuple(sources), not_counted={str(k): str(v) for k, v in (doc.get("not_counted") or {}).items()},
                 memo_prefixes=_tuple(doc.get("memo_prefixes")), scope3=any(s.scope == 3 for s in sources))
