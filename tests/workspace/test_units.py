"""workspace.units: one pint registry (built on first use) and one table of reading units."""

import subprocess
import sys

import pytest

from workspace import units
from workspace.site import Medium


def test_importing_units_and_the_site_does_not_import_pint():
    code = "import sys, workspace.site, workspace.units; print('pint' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_one_registry_for_records_and_accounting():
    from workspace.business import records as activity

    assert units.ureg is units.registry()
    assert units.quantity(1.0, "10^4Nm3").to("m3").magnitude == pytest.approx(10_000)
    assert units.pint_unit("10^4Nm3") == units.parse("10^4Nm3")
    # a record's unit and a factor's unit are read by the same registry, so they combine
    t = units.apply(units.registry().Quantity(2.0, units.pint_unit("GEC")),
                    ("grid", units.quantity(0.5, "tCO2/MWh")), to="tCO2e")
    assert t == pytest.approx(1.0)
    assert activity.unit_fits("offset", "ccer", "tCO2e") and not activity.unit_fits("fuel", "diesel", "kWh")
    assert units.CO2_PER_C.to("tCO2/tC").magnitude == pytest.approx(44 / 12)
    with pytest.raises(units.UnitMismatch, match="cannot convert"):
        units.convert(1.0, "kWh", "Nm3")


def test_the_reading_table_gives_the_stored_units_and_the_mqtt_spellings():
    assert {m: units.MEDIUM_UNITS[m] for m in Medium} == {
        Medium.electricity: ("kWh", "kW"), Medium.water: ("m3", "m3/h"),
        Medium.natural_gas: ("m3", "m3/h"), Medium.compressed_air: ("m3", "m3/h")}
    assert units.MQTT_UNITS == {
        "counter": {"kWh": 1.0, "Wh": 1e-3, "MWh": 1e3, "m3": 1.0, "L": 1e-3},
        "rate": {"kW": 1.0, "W": 1e-3, "MW": 1e3, "m3/h": 1.0, "L/min": 0.06, "L/s": 3.6},
        "voltage": {"V": 1.0, "kV": 1e3},
        "current": {"A": 1.0, "mA": 1e-3},
        "power_factor": {"1": 1.0, "%": 1e-2},
    }
    assert units.mqtt_fits("electricity", "counter") == ("kWh", "Wh", "MWh")
    assert units.mqtt_fits("water", "rate") == ("m3/h", "L/min", "L/s")
    # every MQTT spelling converts as the collectors' table says
    for q, by in units.MQTT_SPELLINGS.items():
        for elec, spellings in by.items():
            for u in spellings:
                assert units.factor("electricity" if elec else "water", q, u) == units.MQTT_UNITS[q][u]


def test_the_mqtt_collector_reads_each_field_in_the_stored_unit():
    from collectors.mqtt.payload import READING_UNITS

    assert READING_UNITS == {
        True: {"counter": "kWh", "rate": "kW", "voltage": "V", "current": "A", "power_factor": "1"},
        False: {"counter": "m3", "rate": "m3/h", "voltage": "V", "current": "A", "power_factor": "1"}}
