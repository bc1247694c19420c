"""Units of the whole workspace: one pint registry and one table of reading units.

**The registry.** One :class:`pint.UnitRegistry` (:func:`registry`, also ``units.ureg``) knows,
besides SI:

- ``m3`` and ``Nm3`` — a cubic metre (of gas at standard conditions); ``wNm3`` = 10^4 Nm3 (万标方),
  written ``10^4Nm3`` in records and data files.
- ``tCO2e`` — a tonne of CO2-equivalent, its own dimension ``[co2e]``; ``tCO2`` is the same unit
  (CO2 has GWP 1); ``kgCO2``, ``kgCO2e`` the kilogram forms.
- ``tC`` — a tonne of carbon, dimension ``[carbon]``; :data:`CO2_PER_C` = 44/12 tCO2/tC links the two.
- ``GEC`` — a Chinese green electricity certificate, 1 GEC = 1 MWh (发改能源〔2023〕1044号).
- ``tGHG``/``kgGHG`` — a mass of a greenhouse gas (SF6, HFC, ...), plain mass.
- ``pcs`` (products counted), ``CNY``/``kCNY``/``wanCNY`` (financial records; 万元 = wanCNY).

pint takes a while to import, so the registry is built on first use: importing this module
costs nothing (the collectors import it for the reading table only). :func:`parse` reads a
data-file spelling (``"GJ/10^4Nm3"``, ``"%"``), :func:`convert` and :func:`apply` compute with
it, and a value combined with one it does not fit is a :class:`UnitMismatch` naming both units.
:data:`UNIT_ALIASES` maps the spellings met in Chinese business files to a record's unit.

**The reading table.** A :class:`~workspace.batch.Reading` carries the counter in kWh
(electricity) or m3 (other media), the rate in kW or m3/h, voltage in V, current in A and the
power factor without unit (:data:`MEDIUM_UNITS`). Servers that push values publish whatever their
engineers chose; the configuration names that unit and the collector converts with
:data:`READING_UNITS` (:func:`factor`, :func:`unit_problem`). An MQTT payload mapping may name
the spellings of :data:`MQTT_SPELLINGS` (:data:`MQTT_UNITS`). The factors are exact unit
definitions (SI prefixes; 1 h = 3600 s, 1 min = 60 s, 1 L = 10^-3 m3 — BIPM, *The International
System of Units*, 9th edition, 2019, tables 8 and 9), not measured values.

**The other tables**, data as well: :data:`FACTOR_UNITS`, the units a factor file may give a value
in, with their dimension and scale; :data:`SERIES_UNITS`, the units a series of activity (energy,
gas volume) may carry; :data:`CO2_PER_C_VALUE`, 44/12 as a number.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from workspace.errors import TanjianError

if TYPE_CHECKING:
    import pint

__all__ = ["CO2_PER_C", "CO2_PER_C_VALUE", "FACTOR_UNITS", "MEDIUM_UNITS", "MQTT_SPELLINGS", "MQTT_UNITS",
           "PINT_SPELLINGS", "READING_QUANTITIES", "READING_UNITS", "SERIES_UNITS", "UNIT_ALIASES", "UnitMismatch",
           "apply", "convert", "factor", "mqtt_fits", "parse", "pint_unit", "quantity", "registry", "unit_problem",
           "ureg"]


# -- the reading table (data; no pint) ----------------------------------------------------------------------
#: the quantities a reading carries besides its time
READING_QUANTITIES = ("counter", "rate", "voltage", "current", "power_factor")

_ENERGY = {"kWh": 1.0, "Wh": 1e-3, "MWh": 1e3, "GWh": 1e6}
_POWER = {"kW": 1.0, "W": 1e-3, "MW": 1e3}
_VOLUME = {"m3": 1.0, "m³": 1.0, "L": 1e-3, "l": 1e-3, "dm3": 1e-3, "km3": 1e9}
_FLOW = {"m3/h": 1.0, "m³/h": 1.0, "m3/min": 60.0, "m3/s": 3600.0, "L/s": 3.6, "l/s": 3.6, "L/min": 0.06,
         "l/min": 0.06, "L/h": 1e-3, "l/h": 1e-3}
_VOLTAGE = {"V": 1.0, "kV": 1e3}
_CURRENT = {"A": 1.0, "kA": 1e3, "mA": 1e-3}
_RATIO = {"1": 1.0, "-": 1.0, "": 1.0, "%": 1e-2}

#: (quantity, is the meter an electricity meter) -> (the unit a reading stores, {unit spelling: factor to it})
READING_UNITS: dict[tuple[str, bool], tuple[str, dict[str, float]]] = {
    ("counter", True): ("kWh", _ENERGY), ("counter", False): ("m3", _VOLUME),
    ("rate", True): ("kW", _POWER), ("rate", False): ("m3/h", _FLOW),
    ("voltage", True): ("V", _VOLTAGE), ("voltage", False): ("V", _VOLTAGE),
    ("current", True): ("A", _CURRENT), ("current", False): ("A", _CURRENT),
    ("power_factor", True): ("-", _RATIO), ("power_factor", False): ("-", _RATIO),
}

#: unit of the cumulative counter and of the rate, per medium (``Medium`` value)
MEDIUM_UNITS: dict[str, tuple[str, str]] = {
    m: (READING_UNITS[("counter", m == "electricity")][0], READING_UNITS[("rate", m == "electricity")][0])
    for m in ("electricity", "water", "natural_gas", "compressed_air")
}

#: the spellings an MQTT payload mapping may name, per quantity and per electricity (True) or flow
#: (False) meter; the first of each is the reading's own unit, the one a field without ``units`` is in
MQTT_SPELLINGS: dict[str, dict[bool, tuple[str, ...]]] = {
    "counter": {True: ("kWh", "Wh", "MWh"), False: ("m3", "L")},
    "rate": {True: ("kW", "W", "MW"), False: ("m3/h", "L/min", "L/s")},
    "voltage": {True: ("V", "kV"), False: ("V", "kV")},
    "current": {True: ("A", "mA"), False: ("A", "mA")},
    "power_factor": {True: ("1", "%"), False: ("1", "%")},
}

#: units a payload may carry, by reading quantity, with the factor to the reading's unit
MQTT_UNITS: dict[str, dict[str, float]] = {
    q: {u: READING_UNITS[(q, elec)][1][u] for elec in (True, False) for u in by[elec]}
    for q, by in MQTT_SPELLINGS.items()
}


def mqtt_fits(medium: str, quantity: str) -> tuple[str, ...]:
    """The spellings an MQTT mapping may give ``quantity`` of a ``medium`` meter (the first: the reading's own)."""
    return MQTT_SPELLINGS[quantity][medium == "electricity"]


def unit_problem(medium: str, quantity: str, unit: str | None) -> str | None:
    """Why ``unit`` cannot be converted for ``quantity`` of a ``medium`` meter, or None when it can."""
    if quantity in ("voltage", "current", "power_factor") and medium != "electricity":
        return f"{quantity} is only read from electricity meters, not {medium}"
    if unit is None:
        return None
    stored, table = READING_UNITS[(quantity, medium == "electricity")]
    if unit not in table:
        return (f"{quantity}: unknown unit {unit!r} for a {medium} meter (stored in {stored}; known: "
                f"{', '.join(repr(u) for u in table if u)})")
    return None


def factor(medium: str, quantity: str, unit: str | None) -> float:
    """Multiplier from ``unit`` to the stored unit of ``quantity`` [-] (1 when ``unit`` is None)."""
    if unit is None:
        return 1.0
    return READING_UNITS[(quantity, medium == "electricity")][1][unit]


#: units a series of activity (``attrs["units"]`` of an xarray.DataArray, :mod:`models.series`) may carry:
#: energy with its size in kWh, gas volume (at standard conditions) with its size in Nm3
SERIES_UNITS: dict[str, dict[str, float]] = {
    "energy": {"Wh": 1e-3, "kWh": 1.0, "MWh": 1e3},
    "volume": {"m3": 1.0, "Nm3": 1.0, "10^4Nm3": 1e4},
}

#: the units a factor file may give a value in: unit -> (dimension, factor to the dimension's reference unit).
#: Reference units: tCO2/MWh, GJ/Nm3, tC/GJ and 1 (dimensionless fraction).
FACTOR_UNITS: dict[str, tuple[str, float]] = {
    "tCO2/MWh": ("co2_per_electricity", 1.0),
    "kgCO2/kWh": ("co2_per_electricity", 1.0),  # 1 kg/kWh = 1000 kg / 1000 kWh = 1 t/MWh
    "gCO2/kWh": ("co2_per_electricity", 1e-3),
    "GJ/Nm3": ("energy_per_volume", 1.0),
    "GJ/10^4Nm3": ("energy_per_volume", 1e-4),
    "MJ/Nm3": ("energy_per_volume", 1e-3),
    "tC/GJ": ("carbon_per_energy", 1.0),
    "tC/TJ": ("carbon_per_energy", 1e-3),  # 1 TJ = 1000 GJ
    "1": ("fraction", 1.0),
    "%": ("fraction", 1e-2),
    # added for the accounting core (models/inventory.py); pint checks them again (:func:`parse`)
    "GJ/t": ("energy_per_mass", 1.0),
    "tCO2/GJ": ("co2_per_energy", 1.0),
    "tCO2e/GJ": ("co2e_per_energy", 1.0),
    "tCO2e/t": ("gwp", 1.0),  # tonnes CO2e per tonne of the gas: a 100-year GWP
    "kg/L": ("density", 1.0),
}

#: Mass ratio of CO2 to carbon, 44/12 (molar masses rounded as in the NDRC guidelines), as a number
#: for array arithmetic; :data:`CO2_PER_C` is the same as a pint quantity. [tCO2/tC]
CO2_PER_C_VALUE = 44.0 / 12.0


# -- record spellings -----------------------------------------------------------------------------------------
#: unit spellings met in Chinese business files → the unit written into the record
UNIT_ALIASES = {
    "吨": "t", "千克": "kg", "公斤": "kg", "克": "g", "立方米": "m3", "方": "m3", "m³": "m3", "标方": "Nm3",
    "标准立方米": "Nm3", "Nm³": "Nm3", "nm3": "Nm3", "升": "L", "l": "L", "千瓦时": "kWh", "度": "kWh",
    "kwh": "kWh", "KWH": "kWh", "兆瓦时": "MWh", "mwh": "MWh", "吉焦": "GJ", "gj": "GJ", "台": "pcs",
    "件": "pcs", "套": "pcs", "个": "pcs", "unit": "pcs", "units": "pcs", "元": "CNY", "rmb": "CNY",
    "RMB": "CNY", "cny": "CNY", "千元": "kCNY", "万元": "wanCNY", "万标方": "10^4Nm3", "万标准立方米": "10^4Nm3",
    "wNm3": "10^4Nm3", "tco2e": "tCO2e", "吨二氧化碳当量": "tCO2e",
}
#: record spellings pint cannot read as they are -> the unit of the registry they mean
PINT_SPELLINGS = {"10^4Nm3": "wNm3"}

#: data-file spellings (factor files, measured factors) -> pint expressions
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

_DEFINITIONS = (
    "m3 = meter ** 3",
    "Nm3 = meter ** 3 = normal_cubic_meter",
    "wNm3 = 10000 * Nm3",
    "tCO2e = [co2e]",
    "tCO2 = tCO2e",
    "kgCO2e = 0.001 * tCO2e",
    "kgCO2 = kgCO2e",
    "tC = [carbon]",
    "GEC = megawatt_hour",
    "tGHG = tonne",
    "kgGHG = kilogram",
    "pcs = [count] = piece",
    "CNY = [currency] = yuan",
    "kCNY = 1000 * CNY",
    "wanCNY = 10000 * CNY",
)


# -- the registry ---------------------------------------------------------------------------------------------
class UnitMismatch(TanjianError):
    """A value was combined with another in a unit it does not fit."""


@lru_cache(maxsize=1)
def registry() -> pint.UnitRegistry:
    """The workspace's pint registry (built, and pint imported, on the first call)."""
    import pint

    reg = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
    for d in _DEFINITIONS:
        reg.define(d)
    return reg


@lru_cache(maxsize=1)
def _co2_per_c() -> pint.Quantity:
    return registry().Quantity(CO2_PER_C_VALUE, "tCO2 / tC")


def __getattr__(name: str):
    # ``ureg`` and ``CO2_PER_C`` are built on first use, so that importing the module stays cheap
    if name == "ureg":
        return registry()
    if name == "CO2_PER_C":
        #: Mass ratio of CO2 to carbon, 44/12, as written in the NDRC guidelines. [tCO2/tC]
        return _co2_per_c()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def pint_unit(unit: str) -> pint.Unit:
    """The registry's unit of a record's unit (``10^4Nm3`` read as ``wNm3``, see :data:`PINT_SPELLINGS`).

    Raises pint's own errors for text it cannot read.
    """
    return registry().parse_units(PINT_SPELLINGS.get(unit, unit))


@lru_cache(maxsize=512)
def parse(unit: str) -> pint.Unit:
    """The pint unit of a data-file unit string (``"GJ/10^4Nm3"``, ``"tCO2/MWh"``, ``"%"`` …).

    Raises
    ------
    UnitMismatch
        If pint does not know the unit.
    """
    import pint

    expr = _ALIASES.get(unit.strip(), unit.strip())
    expr = expr.replace("10^4Nm3", "wNm3")
    try:
        return registry().parse_units(expr)
    except (pint.errors.UndefinedUnitError, pint.errors.DefinitionSyntaxError, AttributeError,
            TypeError, ValueError) as exc:
        raise UnitMismatch(f"unknown unit {unit!r}: {exc}") from exc


def quantity(value: float, unit: str) -> pint.Quantity:
    """``value`` [unit] as a pint quantity (``unit`` in data-file spelling)."""
    return registry().Quantity(value, parse(str(unit)))


@lru_cache(maxsize=4096)
def _product_factor(units: tuple, to: str) -> float | None:
    """pint's conversion factor from the product of ``units`` (in order) to ``to``; None if they do not fit.

    ``Quantity(m, u).to(v)`` is ``m * factor(u, v)`` for multiplicative units (all of ours), so an
    inventory can multiply magnitudes and apply the factor found once per combination of units,
    instead of building and converting a pint quantity per line: the same floats, without the
    parsing (profile: pint was most of a device-level inventory's time).
    """
    import pint

    ureg = registry()
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
    import pint

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
