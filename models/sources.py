"""The one engine that turns activity into emission lines: each source of a package, evaluated as its rules say.

:func:`groups_of` gathers the activity records a source counts into groups (per item, workshop, device, use and
calendar year) with the sum of each stock movement (``opening_stock``, ``purchased``, ``closing_stock``, ``sold``,
``recovered``, ``used``) in one unit, and the ``file:row`` of every record. :func:`evaluate` computes one group:
the quantity used (``used`` when given, else the package's balance expression over the movement sums), then the
source's formula (:mod:`models.expression`) over that quantity (``AD``), the factor roles it names (resolved in
the library or as measured values, :mod:`models.factors.resolution`; a grid role takes the grid factor of the
view being computed) and the package's constants. (The engine rounds each published line once, after the
lines are summed to the inventory's level: :func:`models.inventory.compute_inventory`.)

Nothing here knows a formula: they are all in the package (``rules.yaml``, :mod:`models.rulebook`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from models.activity_input import ActivityFileError
from models.expression import compile_formula
from models.factors.uncertainty import pct
from models.factors.use import FactorUse
from models.lines import Line, make_line
from workspace.units import convert

if TYPE_CHECKING:
    from models.context import Context
    from models.rulebook import Source

__all__ = ["Group", "MOVEMENTS", "evaluate", "groups_of", "quantity_group"]

#: the stock movements a balance expression may name (each 0 when a group has none)
MOVEMENTS = ("opening_stock", "purchased", "closing_stock", "sold", "recovered", "used")


@dataclass
class Group:
    """The activity of one line before its formula: movement sums [unit] and where they came from."""

    item: str
    workshop: str | None
    device: str | None
    period_start: object
    period_end: object
    unit: str
    movements: dict
    origin: str
    rows: tuple[str, ...]
    u_key: str | None = None
    dq: tuple = (None, None)
    record_values: dict = field(default_factory=dict)  #: column -> the single value the records give
    notes: tuple[str, ...] = ()


def _rows(g: pd.DataFrame) -> tuple[str, ...]:
    return tuple(f"{Path(str(f)).name}:{int(r)}" for f, r in sorted(zip(g["source_file"], g["row"]),
                                                                      key=lambda x: (str(x[0]), int(x[1]))))


def _origin(g: pd.DataFrame) -> str:
    parts = []
    for f, sub in g.groupby("source_file", sort=True):
        parts.append(f"{Path(str(f)).name}:{','.join(str(r) for r in sorted(sub['row']))}")
    return "activity:" + ";".join(parts)


def groups_of(df: pd.DataFrame, unit: str = "", record_columns: tuple[str, ...] = ()) -> list[Group]:
    """Groups of records (item, workshop, device, use, calendar year) with their movement sums.

    ``unit``: the unit the sums are made in (default: the group's first record's unit).

    Raises
    ------
    ActivityFileError
        When a record's unit does not convert to the group's, or a record column a formula reads (e.g.
        ``co2_share``) has different values in one group (file:row named).
    """
    if df.empty:
        return []
    d = df.copy()
    d["year"] = [x.year for x in d["period_start"]]
    out = []
    for (item, ws, dev, _use, _y), g in d.groupby(["item", "workshop", "device", "use", "year"], dropna=False,
                                                   sort=True):
        u = unit or str(g["unit"].iloc[0])
        moves = {}
        for r in g.itertuples():
            try:
                q = convert(r.quantity, r.unit, u)
            except Exception as exc:  # noqa: BLE001 - UnitMismatch: a record's unit does not fit the group
                raise ActivityFileError([(str(r.source_file), int(r.row), "unit",
                                          f"{item}: [{r.unit}] does not convert to [{u}] ({exc})")]) from None
            moves[r.movement] = moves.get(r.movement, 0.0) + q
        values = {}
        for col in record_columns:
            vals = {float(x) for x in g[col] if x is not None and not (isinstance(x, float) and math.isnan(x))}
            if len(vals) > 1:
                r0 = g.iloc[0]
                raise ActivityFileError([(str(r0.source_file), int(r0.row), col,
                                          f"{item}: different {col} values {sorted(vals)} in one group")])
            if vals:
                values[col] = vals.pop()
        notes = tuple(sorted({str(n) for n in g.get("stock_note", pd.Series(dtype=object)) if isinstance(n, str) and n}))
        out.append(Group(item=str(item), workshop=None if pd.isna(ws) else ws, device=None if pd.isna(dev) else dev,
                         period_start=min(g["period_start"]), period_end=max(g["period_end"]), unit=u, movements=moves,
                         origin=_origin(g), rows=_rows(g), record_values=values, notes=notes))
    return out


def quantity_group(name: str, qty: float, unit: str, start, end) -> Group:
    """A plant-level activity quantity the caller gives by name (e.g. ``electricity_exported``)."""
    return Group(item=name, workshop=None, device=None, period_start=start, period_end=end, unit=unit,
                 movements={"used": float(qty)}, origin=f"quantity:{name}", rows=(f"quantity:{name}",))


def _used(src: Source, g: Group, what: str) -> tuple[float, str, dict | None]:
    """(quantity used [g.unit], how, the balance components or None)."""
    moves = set(g.movements)
    stock = moves & {"opening_stock", "closing_stock", "sold", "recovered"}
    if "used" in moves and (stock or "purchased" in moves):
        file, _, row = g.rows[0].rpartition(":")
        raise ActivityFileError([(file, int(row) if row.isdigit() else None, "movement",
                                  f"{what}: 'used' mixed with stock movements in rows {', '.join(g.rows)}; give "
                                  f"either the quantity used or the stock balance")])
    if "used" in moves:
        return g.movements["used"], "used", None
    f = compile_formula(src.balance)
    vals = {m: g.movements.get(m, 0.0) for m in f.names}
    unknown = [m for m in f.names if m not in MOVEMENTS]
    if unknown:
        from models.rulebook import RulesError

        raise RulesError(f"source {src.id}: balance {src.balance!r} names {', '.join(unknown)}: not a movement "
                         f"({', '.join(MOVEMENTS)})")
    q = f.evaluate(vals, {m: g.unit for m in f.names}, g.unit)
    comps = {m: g.movements.get(m, 0.0) for m in f.names}
    how = f"stock balance ({src.balance})" if stock else "purchased (no stock records: stock change taken as 0)"
    if g.notes:
        how += "; " + "; ".join(g.notes)
    if q < 0:
        file, _, row = g.rows[0].rpartition(":")
        raise ActivityFileError([(file, int(row) if row.isdigit() else None, "quantity",
                                  f"{what}: stock balance is negative ({q:g} {g.unit})")])
    return q, how, (comps if stock else None)


def evaluate(ctx: Context, src: Source, g: Group, *, grid: tuple[str, str] | None = None,
             basis: str = "location") -> Line:
    """The line of group ``g`` under source ``src``; ``grid``: (factor id, region) of the view's grid factor."""
    rules = ctx.m.rules
    what = f"{src.id} {g.item} {g.origin}"
    if src.items and g.item not in src.items:
        file, _, row = g.rows[0].rpartition(":")
        raise ActivityFileError([(file, int(row) if row.isdigit() else None, "item",
                                  f"{src.id}: item {g.item!r} is not one methodology {ctx.m.id} accounts for; "
                                  f"expected one of {', '.join(src.items)}")])
    prefix = str(src.items.get(g.item, g.item))
    ad, how, balance = _used(src, g, what)
    text = src.formula_for(g.unit)
    f = compile_formula(text)
    s, e = g.period_start, g.period_end
    values, units, params = {"AD": ad}, {"AD": g.unit}, []
    for name in f.names:
        if name == "AD":
            continue
        if name in rules.constants:
            v, u, _src = rules.constants[name]
            values[name], units[name] = v, u
            continue
        role = src.factors[name]
        if role.grid:
            if grid is None:
                raise ValueError(f"source {src.id}: grid role {name} needs a view's grid factor")
            p = ctx.r.get(grid[0], s, e, grid[1])
        elif role.record_column and role.record_column in g.record_values:
            share = g.record_values[role.record_column]
            p = FactorUse(f"record:{role.record_column}:{g.item}", role.record_column, share, "1",
                          f"activity record {g.origin}", s, e, "record")
        else:
            p = ctx.r.get(role.factor_id(g.item, prefix, ctx.gwp), s, e, role.region,
                          allow_unverified=True if role.allow_unverified else None)
        p = replace(p, role=name)
        params.append(p)
        values[name], units[name] = p.value, p.unit
    try:
        t = f.plan(units, src.unit).fn(values)
    except ZeroDivisionError:
        raise ActivityFileError([(g.rows[0], None, "quantity", f"{what}: division by zero in {text!r}")]) from None
    u_key = g.u_key or src.uncertainty.get("activity", "activity:meter")
    u_ef = [pct(ctx.u, k.format(item=g.item)) for k in (src.uncertainty.get("factor") or [])]
    gwp = next((p.value for p in params if p.role == "GWP"), None)
    rec = dict(workshop=g.workshop, device=g.device, period_start=s, period_end=e)
    origin = g.origin + (f" [{how}]" if how != "used" or g.origin.startswith("activity:") else "")
    return make_line(src.id, g.item, src.gas.format(ITEM=g.item.upper()), rec, ad, g.unit, origin, params, t,
                     f"{src.unit}/{g.unit}", pct(ctx.u, u_key), u_ef, gwp=gwp, formula=f"E = {text}", dq=g.dq,
                     scope=src.scope, category=src.iso_category, scope3_category=src.scope3_category, basis=basis,
                     rule=src.id, rows=g.rows, balance=balance, grid=any(r.grid for r in src.factors.values()
                                                                          if r.name in f.names))
