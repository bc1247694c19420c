"""Units of the accounting core, checked with pint.

One :class:`pint.UnitRegistry` (:data:`ureg`) knows, besides SI:

- ``Nm3`` — a cubic metre of gas at standard (normal) conditions; ``wNm3`` = 10^4 Nm3 (万标方).
  Written ``10^4Nm3`` in data files.
- ``tCO2e`` — a tonne of CO2-equivalent, its own dimension ``[co2e]``; ``tCO2`` is the same unit
  (CO2 has GWP 1); ``kgCO2``, ``kgCO2e`` the kilogram forms.
- ``tC`` — a tonne of carbon, dimension ``[carbon]``; :data:`CO2_PER_C` = 44/12 tCO2/tC links the two.
- ``GEC`` — a Chinese green electricity certificate, 1 GEC = 1 MWh (发改能源〔2023〕1044号).
- ``tGHG``/``kgGHG`` — a mass of a greenhouse gas (SF6, HFC, ...), plain mass.
- ``pcs`` (products counted), ``CNY``/``kCNY``/``wanCNY`` (financial records), as ``workspace.activity``.

A factor applied to an activity in a unit it does not fit is a :class:`UnitMismatch` naming
both units (:func:`apply`).
"""

from __future__ import annotations

from functools import lru_cache

import pint

from workspace.errors import TanjianError

__all__ = ["CO2_PER_C", "UnitMismatch", "apply", "convert", "parse", "quantity", "ureg"]

ureg = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
ureg.define("Nm3 = meter ** 3")
ureg.define("wNm3 = 10000 * Nm3")
ureg.define("tCO2e = [co2e]")
ureg.define("tCO2 = tCO2e")
ureg.define("kgCO2e = 0.001 * tCO2e")
ureg.define("kgCO2 = kgCO2e")
ureg.define("tC = [carbon]")
ureg.define("GEC = megawatt_hour")
ureg.define("tGHG = tonne")
ureg.define("kgGHG = kilogram")
ureg.define("pcs = [count] = piece")
ureg.define("CNY = [currency] = yuan")
ureg.define("kCNY = 1000 * CNY")
ureg.define("wanCNY = 10000 * CNY")

#: Mass ratio of CO2 to carbon, 44/12, as written in the NDRC guidelines. [tCO2/tC]
CO2_PER_C = ureg.Quantity(44.0 / 12.0, "tCO2 / tC")

#: Spellings used in data files -> pint expressions.
_ALIASES = {
    "10^4Nm3": "wNm3",
    "GJ/10^4Nm3": "GJ / wNm3",
    "%": "percent",
    "1": "dimensionless",
    "m3": "Nm3",
    "t": "tonne",
    "kg": "kilogram",
    "L": "liter",
    "tCO2e/t": "tCO2e / tGHG",
}


class UnitMismatch(TanjianError):
    """A value was combined with another in a unit it does not fit."""


@lru_cache(maxsize=512)
def parse(unit: str) -> pint.Unit:
    """The pint unit of a data-file unit string (``"GJ/10^4Nm3"``, ``"tCO2/MWh"``, ``"%"`` …).

    Raises
    ------
    UnitMismatch
        If pint does not know the unit.
    """
    expr = _ALIASES.get(unit.strip(), unit.strip())
    expr = expr.replace("10^4Nm3", "wNm3")
    try:
        return ureg.parse_units(expr)
    except (pint.errors.UndefinedUnitError, pint.errors.DefinitionSyntaxError, AttributeError,
            TypeError, ValueError) as exc:
        raise UnitMismatch(f"unknown unit {unit!r}: {exc}") from exc


def quantity(value: float, unit: str) -> pint.Quantity:
    """``value`` [unit] as a pint quantity (``unit`` in data-file spelling)."""
    return ureg.Quantity(value, parse(str(unit)))


@lru_cache(maxsize=4096)
def _product_factor(units: tuple, to: str) -> float | None:
    """pint's conversion factor from the product of ``units`` (in order) to ``to``; None if they do not fit.

    ``Quantity(m, u).to(v)`` is ``m * factor(u, v)`` for multiplicative units (all of ours), so an
    inventory can multiply magnitudes and apply the factor found once per combination of units,
    instead of building and converting a pint quantity per line: the same floats, without the
    parsing (profile: pint was most of a device-level inventory's time).
    """
    out = ureg.Quantity(1.0, units[0])
    for u in units[1:]:
        out = out * ureg.Quantity(1.0, u)
    try:
        return float(out.to(parse(to)).magnitude)
    except pint.errors.DimensionalityError:
        return None


def convert(value: float, unit: str, to: str) -> float:
    """``value`` [unit] in ``to`` (data-file spellings); the same float as ``quantity(value, unit).to(to)``.

    Raises
    ------
    UnitMismatch
        If the units do not fit.
    """
    f = _product_factor((parse(str(unit)),), to)
    if f is None:
        raise UnitMismatch(f"cannot convert [{unit}] to [{to}]")
    return float(value) * f


def apply(activity: pint.Quantity, *factors: tuple[str, pint.Quantity], to: str, what: str = "") -> float:
    """Multiply an activity by factors and express the result in ``to``.

    Parameters
    ----------
    activity : pint.Quantity
        The activity data (e.g. ``8.4082 wNm3``).
    *factors : (str, pint.Quantity)
        ``(factor id, value)`` pairs, applied in order.
    to : str
        Unit of the result (``"tCO2e"``).
    what : str
        Label for error messages (source, file:row).

    Returns
    -------
    float
        The product. [to]

    Raises
    ------
    UnitMismatch
        If the product is not convertible to ``to``; the message names the activity unit and every
        factor id with its unit.
    """
    f = _product_factor((activity.units,) + tuple(q.units for _, q in factors), to)
    if f is not None and isinstance(activity.magnitude, float) \
            and all(isinstance(q.magnitude, float) for _, q in factors):
        # pint multiplies the magnitudes in order, then scales by the conversion factor: the same here
        m = activity.magnitude
        for _, q in factors:
            m = m * q.magnitude
        return float(m * f)
    out = activity
    for _, q in factors:
        out = out * q
    try:
        return float(out.to(parse(to)).magnitude)
    except pint.errors.DimensionalityError:
        names = ", ".join(f"{fid} [{q.units:~}]" for fid, q in factors)
        raise UnitMismatch(
            f"{what + ': ' if what else ''}factor(s) {names} cannot be applied to activity in "
            f"[{activity.units:~}]: the product is [{out.units:~}], not [{to}]"
        ) from None
