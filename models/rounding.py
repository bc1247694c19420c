"""The rounding rule of every published figure: decimal strings rounded half-up.

:func:`dec` rounds to a number of decimals (tCO2e to 3, activity to 6, uncertainty [%] to 2,
data-quality shares to 4: see :meth:`models.lines.Inventory.to_canonical`); :func:`sig` to a
number of significant digits (combined factors); :func:`pub` writes a published value as its
shortest decimal string. One rule, so that a figure is the same wherever it is shown.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

__all__ = ["dec", "pub", "rounded", "sig"]


def dec(x: float | None, places: int) -> str | None:
    """Decimal string rounded half-up to ``places`` decimals (no exponent, '-0' written as '0')."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    d = Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if d == 0:
        d = abs(d)
    return format(d, "f")


def rounded(x: float, places: int) -> float:
    """``x`` rounded half-up to ``places`` decimals, as the float of that decimal: the engine rounds each
    line's tCO2e once with it, so that every later sum of lines (totals, report sections) gives the same
    figure. (Rounding each section's sum of unrounded lines is what once made one ISO category read 930.968
    in one section and 930.969 in another.)"""
    return float(Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def sig(x: float, digits: int = 10) -> str:
    """Decimal string of ``x`` with at most ``digits`` significant digits, no exponent."""
    if x == 0:
        return "0"
    d = Decimal(repr(float(x)))
    q = Decimal(1).scaleb(d.adjusted() - digits + 1)
    out = format(d.quantize(q, rounding=ROUND_HALF_UP).normalize(), "f")
    return out


def pub(x: float) -> str:
    """A published value as its shortest decimal string."""
    return sig(x, 15)
