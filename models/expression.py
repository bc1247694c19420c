"""The formula language of a methodology package: a small, safe arithmetic over named quantities.

A package states each source's formula as text (``AD * NCV * CC * OF * CO2_PER_C``). :func:`compile_formula`
parses it with :mod:`ast` and accepts only a whitelist: numbers, names, ``+ - * /``, unary ``-``/``+`` and
parentheses. Anything else (calls, attributes, subscripts, ``**``, comparisons, strings …) is refused with the
formula and the offending piece named; nothing is ever passed to ``eval``.

Evaluation is split in two, so that an inventory with many lines stays fast and exact:

- :meth:`Formula.plan` walks the tree once per combination of input units (cached): it checks the units with
  pint (a sum of a mass and an energy is refused, the result must convert to the target unit) and records the
  conversion factors of every sum and of the result;
- the plan then evaluates with plain floats (or numpy arrays: the same arithmetic along time).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import lru_cache

from workspace.errors import TanjianError
from workspace.units import UnitMismatch, parse, registry

__all__ = ["Formula", "FormulaError", "compile_formula"]

_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_UNARY = {ast.USub: "-", ast.UAdd: "+"}


class FormulaError(TanjianError):
    """A formula uses something outside the language, or a name it is not given."""


def _check(node: ast.AST, text: str, names: list[str]) -> None:
    if isinstance(node, ast.Expression):
        _check(node.body, text, names)
    elif isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        _check(node.left, text, names)
        _check(node.right, text, names)
    elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        _check(node.operand, text, names)
    elif isinstance(node, ast.Constant) and type(node.value) in (int, float):
        pass
    elif isinstance(node, ast.Name):
        if node.id not in names:
            names.append(node.id)
    else:
        piece = ast.get_source_segment(text, node) or type(node).__name__
        raise FormulaError(f"formula {text!r}: {piece!r} is not allowed (only numbers, names, + - * / and "
                           f"parentheses)")


@dataclass(frozen=True)
class _Plan:
    """An evaluation plan for fixed input units: a function of the input magnitudes."""

    fn: object
    unit: str


class Formula:
    """A parsed formula. ``names``: the names it uses, in order of first appearance."""

    def __init__(self, text: str):
        self.text = text
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as exc:
            raise FormulaError(f"formula {text!r}: not an expression ({exc.msg})") from None
        names: list[str] = []
        _check(tree, text.strip(), names)
        self.tree = tree.body
        self.names = tuple(names)

    def __repr__(self) -> str:
        return f"Formula({self.text!r})"

    def plan(self, units: dict[str, str], to: str) -> _Plan:
        """The plan for inputs in ``units`` ({name: unit}); the result in ``to``.

        Raises
        ------
        FormulaError
            If a name the formula uses is not in ``units``.
        UnitMismatch
            If a sum adds quantities of different dimensions, or the result does not convert to ``to``
            (the message names the formula and every input with its unit).
        """
        missing = [n for n in self.names if n not in units]
        if missing:
            raise FormulaError(f"formula {self.text!r}: no value for {', '.join(missing)} "
                               f"(given: {', '.join(sorted(units)) or 'nothing'})")
        return _plan(self.text, self.tree, tuple(sorted((n, str(units[n])) for n in self.names)), to)

    def evaluate(self, values: dict, units: dict[str, str], to: str):
        """``values`` ({name: float or array}) in ``units`` -> the result in ``to`` (float or array)."""
        p = self.plan(units, to)
        return p.fn(values)


@lru_cache(maxsize=1024)
def compile_formula(text: str) -> Formula:
    """Parse and check ``text`` once (cached); see :class:`Formula`."""
    return Formula(text)


def _describe(text: str, units: tuple) -> str:
    return f"formula {text!r} with " + ", ".join(f"{n} [{u}]" for n, u in units)


@lru_cache(maxsize=4096)
def _plan(text: str, tree: ast.AST, units: tuple, to: str) -> _Plan:
    ureg = registry()
    unit_of = {n: parse(u) for n, u in units}

    def walk(node):
        """(function of the magnitudes, pint unit of the result)."""
        if isinstance(node, ast.Constant):
            v = float(node.value)
            return (lambda _vals, v=v: v), ureg.dimensionless
        if isinstance(node, ast.Name):
            n = node.id
            return (lambda vals, n=n: vals[n]), unit_of[n]
        if isinstance(node, ast.UnaryOp):
            f, u = walk(node.operand)
            if isinstance(node.op, ast.USub):
                return (lambda vals, f=f: -f(vals)), u
            return f, u
        fa, ua = walk(node.left)
        fb, ub = walk(node.right)
        op = type(node.op)
        if op is ast.Mult:
            return (lambda vals, fa=fa, fb=fb: fa(vals) * fb(vals)), ua * ub
        if op is ast.Div:
            return (lambda vals, fa=fa, fb=fb: fa(vals) / fb(vals)), ua / ub
        # a sum: the right side in the left side's unit
        try:
            k = float(ureg.Quantity(1.0, ub).to(ua).magnitude)
        except Exception:  # noqa: BLE001 - pint's DimensionalityError and friends
            piece = ast.get_source_segment(text.strip(), node) or "a sum"
            raise UnitMismatch(f"{_describe(text, units)}: cannot add [{ua:~}] and [{ub:~}] in {piece!r}") from None
        if op is ast.Add:
            return (lambda vals, fa=fa, fb=fb, k=k: fa(vals) + fb(vals) * k), ua
        return (lambda vals, fa=fa, fb=fb, k=k: fa(vals) - fb(vals) * k), ua

    fn, unit = walk(tree)
    try:
        scale = float(ureg.Quantity(1.0, unit).to(parse(to)).magnitude)
    except Exception:  # noqa: BLE001
        raise UnitMismatch(f"{_describe(text, units)}: the result is [{unit:~}], not [{to}]") from None
    if scale == 1.0:
        return _Plan(fn, to)
    return _Plan(lambda vals, fn=fn, scale=scale: fn(vals) * scale, to)
