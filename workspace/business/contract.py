"""The activity record: what the plant bought, made, burned, refilled and earned, one record per row.

The meters measure electricity, gas, water and air minute by minute; everything else an inventory needs
comes from business files (ERP output, the electricity bill, fuel and gas invoices, financial figures).
This module holds the record's fields and the values they allow, as tables: the one contract between the
file intake (:mod:`workspace.business.records`, :mod:`workspace.business.imports`) and the accounting
(:mod:`models.activity_input`, ``tanjian inventory``). It imports nothing, so the configuration can check
an import mapping against it cheaply.

An activity record has the columns :data:`COLUMNS`:

``kind``
    one of :data:`KINDS`.
``item``
    production: a product id; fuel: ``natural_gas``, ``diesel``, ``gasoline``, ``lpg``, ``raw_coal``,
    ``bituminous_coal``; welding_gas:
    ``co2``, ``ar_co2`` (with ``co2_share``), ``argon``; refrigerant / sf6: the gas (``sf6``,
    ``hfc_134a`` …); electricity_statement: the time-of-use period ``sharp | peak | flat | valley |
    total``; heat: ``steam``, ``hot_water``; financial: the line's name (``revenue_cny`` …);
    green_power: the contract (``solar_ppa`` …); gec: the certificates' source (``wind`` …); offset: the
    credit type (``ccer``, ``other`` …).
``period_start``, ``period_end``
    local calendar dates, both inclusive, ISO ``yyyy-mm-dd`` strings.
``quantity`` [unit], ``unit``
    a float and a unit the records' pint registry parses (``t, kg, Nm3, m3, 10^4Nm3, L, MWh, kWh, GJ, GEC,
    tCO2e, pcs, CNY, wanCNY`` …; see :func:`workspace.units.pint_unit`); the unit must fit the
    kind and item (mass, volume or energy as :data:`workspace.business.records.DIMENSIONS` allows: no kWh
    of diesel; energy for green power and GECs, 1 GEC = 1 MWh; tCO2e for offsets).
``workshop``, ``device``, ``shift``, ``team``, ``note``
    optional text.
``co2_share`` [-]
    mass fraction of CO₂ in a mixed welding gas (``ar_co2``), 0…1.
``movement``
    for stock balances: ``purchased`` (default), ``opening_stock``, ``closing_stock``, ``sold``, ``used``,
    ``recovered`` (F-gas recovered from products or equipment, taken off the balance).
``use``
    optional, one of :data:`USES`: refrigerant / sf6 ``product`` (charged into products made) or
    ``equipment`` (the plant's own switchgear and chillers); fuel ``stationary`` or ``mobile`` combustion.
    Empty when the file does not say (the inventory then applies its defaults).
``source_file``, ``source_sha256``, ``row``
    the file the record came from, its SHA-256, and the row in it (1-based, as a spreadsheet shows it).

Every imported file is kept as one canonical JSON document (:mod:`workspace.business.documents`).
"""

from __future__ import annotations

#: the columns of an activity record, in order
COLUMNS = ("kind", "item", "period_start", "period_end", "quantity", "unit", "workshop", "device", "shift",
           "team", "co2_share", "movement", "source_file", "source_sha256", "row", "note", "use")
#: the fields a file (or its mapping) must give for every record
REQUIRED = ("kind", "item", "period_start", "period_end", "quantity", "unit")
#: the fields a file's columns may be mapped to (``date``: both period ends; ``month``: a whole month)
MAPPABLE = ("kind", "item", "period_start", "period_end", "quantity", "unit", "workshop", "device", "shift",
            "team", "co2_share", "movement", "note", "date", "month", "use")

KINDS = ("production", "electricity_statement", "fuel", "welding_gas", "refrigerant", "sf6", "heat", "financial",
         "green_power", "gec", "offset")
MOVEMENTS = ("purchased", "opening_stock", "closing_stock", "sold", "used", "recovered")
#: what a refrigerant / SF6 (``product``, ``equipment``) or a fuel (``stationary``, ``mobile``) is used for
USES = ("product", "equipment", "stationary", "mobile")
TOU_PERIODS = ("sharp", "peak", "flat", "valley", "total")

#: the items a kind allows (None: any identifier, e.g. a product id or a financial line)
ITEMS: dict[str, tuple[str, ...] | None] = {
    "production": None,
    "electricity_statement": TOU_PERIODS,
    "fuel": ("natural_gas", "diesel", "gasoline", "lpg", "raw_coal", "bituminous_coal"),
    "welding_gas": ("co2", "ar_co2", "argon"),
    "refrigerant": ("hfc_134a", "hfc_32", "hfc_125", "hfc_143a", "hfc_410a", "hfc_407c", "hfc_404a",
                    "hcfc_22", "sf6", "cf4", "c2f6", "nf3"),
    "sf6": ("sf6",),
    "heat": ("steam", "hot_water"),
    "financial": None,
    "green_power": None,
    "gec": None,
    "offset": None,
}
