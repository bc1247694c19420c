"""The meter families are core data: the packaged tables load, cite their sources and match the codecs."""

from __future__ import annotations

import pytest

from collectors.dlt645.frame import FAMILIES as DLT645_CODEC_FAMILIES
from workspace.meters import (DATA, DLT645_FAMILIES, FAMILIES, FamilyTableError, counter_wrap, load_families,
                              table_problems)


def test_packaged_tables_load_and_name_their_sources():
    modbus, dlt645 = load_families(DATA)
    assert {"sdm630", "sdm120", "dtsu666", "iem3255", "adl400", "cn3p-int32", "flow-u32"} <= set(modbus)
    assert set(dlt645) == {"dlt645-2007", "dlt645-1997", "dlt645-2007-3p", "dlt645-2007-1p"}
    for fam in [*modbus.values(), *dlt645.values()]:
        assert fam.source, fam.name
    assert "Eastron SDM630" in modbus["sdm630"].source
    assert all(table_problems(f) == [] for f in FAMILIES.values())


def test_sdm630_addresses_are_the_manuals_less_one():
    """Eastron numbers input registers from 30001: 30073 (total import kWh) is PDU address 72."""
    by_q = {f.quantity: f for f in FAMILIES["sdm630"].fields}
    assert {q: f.address + 30001 for q, f in by_q.items()} == {
        "voltage": 30043, "current": 30047, "rate": 30053, "power_factor": 30063, "counter": 30073}


def test_dlt645_codec_reads_the_core_families_in_order():
    for name, fam in DLT645_FAMILIES.items():
        codec = DLT645_CODEC_FAMILIES[name]
        assert codec.edition == fam.edition
        assert tuple(it.quantity for it in codec.items) == fam.read


def test_counter_wrap():
    assert counter_wrap("cn3p-int32") == pytest.approx(2 ** 32 * 0.01)
    assert counter_wrap("flow-u32") == pytest.approx(2 ** 32 * 0.01)
    assert counter_wrap("sdm630") is None  # float32: never wraps
    assert counter_wrap("dlt645-2007") is None  # not a register table


@pytest.mark.parametrize("text, problem", [
    ("modbus: {}\n", "missing key(s) dlt645"),
    ("modbus:\n  x: {media: [electricity], imitates: t, source: s, fields: []}\ndlt645: {}\n",
     "modbus family 'x': no 'counter' field"),
    ("modbus:\n  x: {media: [electricity], imitates: t, source: s, fields: "
     "[{quantity: counter, table: input, address: 0, dtype: uint32, width: 2}]}\ndlt645: {}\n",
     "modbus family 'x', field 0: unknown key(s) width"),
    ("modbus:\n  x: {media: [electricity], imitates: t, fields: []}\ndlt645: {}\n",
     "modbus family 'x': missing key(s) source"),
    ("modbus: {}\ndlt645:\n  y: {edition: 2003, source: s, read: [counter]}\n",
     "DL/T 645 family 'y': edition must be one of 2007, 1997, not 2003"),
    ("modbus: {}\ndlt645:\n  y: {edition: 2007, source: s, read: [voltage]}\n",
     "DL/T 645 family 'y': does not read 'counter'"),
])
def test_a_malformed_table_is_refused_naming_the_family(tmp_path, text, problem):
    p = tmp_path / "families.yaml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(FamilyTableError) as e:
        load_families(p)
    assert problem in str(e.value)
