"""Units a server may publish a meter's quantities in, and the factor to the units tanjian stores.

A :class:`~workspace.batch.Reading` carries the counter in kWh (electricity) or m3 (other media),
the rate in kW or m3/h, voltage in V, current in A and the power factor without unit. Servers that
push values (OPC UA) publish whatever their engineers chose; the configuration names that unit and
the collector converts. The factors are exact unit definitions (SI prefixes; 1 h = 3600 s,
1 min = 60 s, 1 L = 10^-3 m3 — BIPM, *The International System of Units*, 9th edition, 2019,
tables 8 and 9), not measured values.
"""

from __future__ import annotations

#: quantity kind -> {unit spelling: factor to the stored unit}
_ENERGY = {"kWh": 1.0, "Wh": 1e-3, "MWh": 1e3, "GWh": 1e6}
_POWER = {"kW": 1.0, "W": 1e-3, "MW": 1e3}
_VOLUME = {"m3": 1.0, "m³": 1.0, "L": 1e-3, "l": 1e-3, "dm3": 1e-3, "km3": 1e9}
_FLOW = {"m3/h": 1.0, "m³/h": 1.0, "m3/min": 60.0, "m3/s": 3600.0, "L/s": 3.6, "l/s": 3.6, "L/min": 0.06,
         "l/min": 0.06, "L/h": 1e-3, "l/h": 1e-3}
_VOLTAGE = {"V": 1.0, "kV": 1e3}
_CURRENT = {"A": 1.0, "kA": 1e3, "mA": 1e-3}
_RATIO = {"1": 1.0, "-": 1.0, "": 1.0, "%": 1e-2}


def _table(medium: str, quantity: str) -> tuple[str, dict[str, float]]:
    """The stored unit and the accepted units of ``quantity`` for a meter of ``medium``."""
    elec = medium == "electricity"
    if quantity == "counter":
        return ("kWh", _ENERGY) if elec else ("m3", _VOLUME)
    if quantity == "rate":
        return ("kW", _POWER) if elec else ("m3/h", _FLOW)
    if quantity == "voltage":
        return "V", _VOLTAGE
    if quantity == "current":
        return "A", _CURRENT
    if quantity == "power_factor":
        return "-", _RATIO
    raise KeyError(quantity)


def unit_problem(medium: str, quantity: str, unit: str | None) -> str | None:
    """Why ``unit`` cannot be converted for ``quantity`` of a ``medium`` meter, or None when it can."""
    if quantity in ("voltage", "current", "power_factor") and medium != "electricity":
        return f"{quantity} is only read from electricity meters, not {medium}"
    if unit is None:
        return None
    stored, table = _table(medium, quantity)
    if unit not in table:
        return (f"{quantity}: unknown unit {unit!r} for a {medium} meter (stored in {stored}; known: "
                f"{', '.join(repr(u) for u in table if u)})")
    return None


def factor(medium: str, quantity: str, unit: str | None) -> float:
    """Multiplier from ``unit`` to the stored unit of ``quantity`` [-] (1 when ``unit`` is None)."""
    if unit is None:
        return 1.0
    return _table(medium, quantity)[1][unit]
