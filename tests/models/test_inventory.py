"""The GHG inventory against published and hand-worked values only.

Every expected number below is worked by hand in the comment next to it (factors from
models/data/emission-factors.csv, formulas from docs/accounting.md).
"""

import datetime as dt
import json
import math
import shutil

import pytest

from models.activity_input import ActivityFileError, read_activity_file
from models.factors import DEFAULT_PATH, FactorError, FactorLibrary
from models.errors import InventoryError
from models.factors.measured import MeasuredFactor, load_measured
from models.footprint import footprint
from models.inventory import compute_inventory, restate
from models.packages import MethodologyError, load_methodology, PACKAGES_DIR
from workspace.units import UnitMismatch

D = dt.date
Y22 = (D(2022, 1, 1), D(2022, 12, 31))
Y24 = (D(2024, 1, 1), D(2024, 12, 31))


def _act(tmp_path, text, name="activity.csv"):
    p = tmp_path / name
    p.write_text(text.strip() + "\n", encoding="utf-8")
    return read_activity_file(p)


def _lib_with(tmp_path, old: str, new: str, name="factors.csv"):
    """A copy of the packaged factor file with one row's text changed (a new factor version)."""
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    assert text.count(old) == 1
    p = tmp_path / name
    p.write_text(text.replace(old, new), encoding="utf-8")
    return FactorLibrary.load(p)


def _line(inv, source, item=None):
    found = [ln for ln in inv.to_canonical()["lines"] if ln["source"] == source and (item is None or ln["item"] == item)]
    assert len(found) == 1, found
    return found[0]


PUBLISHED = """
kind,item,period_start,period_end,quantity,unit
fuel,natural_gas,2022-01-01,2022-12-31,8.4082,10^4Nm3
electricity_statement,total,2022-01-01,2022-12-31,1619.725,MWh
"""


def test_published_plant_natural_gas(tmp_path):
    # 8.4082 ×10^4 Nm3 × 389.31 GJ/10^4Nm3 = 3273.396342 GJ; × 0.0153 tC/GJ = 50.082964 tC;
    # × 0.99 = 49.582134 tC; × 44/12 = 181.80116 tCO2. The published report says 181 (truncated).
    inv = compute_inventory(*Y22, methodology="cn-machinery-2015", activity=_act(tmp_path, PUBLISHED))
    ln = _line(inv, "stationary_combustion", "natural_gas")
    assert ln["tco2e"] == "181.801"
    assert math.floor(float(ln["tco2e"])) == 181
    assert (ln["scope"], ln["category"], ln["gas"]) == (1, 1, "CO2")
    assert [p["value"] for p in ln["factor"]["parameters"]] == ["389.31", "15.3", "99"]


def test_published_plant_electricity_with_the_reports_factor(tmp_path):
    # The report's implied factor 0.5257 tCO2/MWh, as a factor version of its own:
    # 1619.725 MWh × 0.5257 = 851.489 tCO2 (published: 851).
    lib = _lib_with(tmp_path, "grid_average,2,CN,grid_emission_factor,0.5366,", "grid_average,2,CN,grid_emission_factor,0.5257,")
    inv = compute_inventory(*Y22, methodology="cn-machinery-2015", activity=_act(tmp_path, PUBLISHED), library=lib)
    ln = _line(inv, "purchased_electricity")
    assert ln["tco2e"] == "851.489"
    assert round(float(ln["tco2e"])) == 851
    assert inv.to_canonical()["factor_library"]["sha256"] == lib.sha256


def test_diesel_mobile_combustion_by_hand(tmp_path):
    # 10 t diesel × 42.652 GJ/t = 426.52 GJ; × 0.0202 tC/GJ = 8.615704 tC; × 0.98 = 8.44338992 tC;
    # × 44/12 = 30.959096 tCO2.
    a = _act(tmp_path, "kind,item,period_start,period_end,quantity,unit,device\n"
                       "fuel,diesel,2024-01-01,2024-12-31,10,t,pump-truck-test")
    inv = compute_inventory(*Y24, methodology="cn-machinery-2015", activity=a)
    ln = _line(inv, "mobile_combustion", "diesel")
    assert ln["tco2e"] == "30.959"
    assert ln["device"] == "pump-truck-test"


def test_natural_gas_invoiced_in_gj_needs_no_ncv(tmp_path):
    a = _act(tmp_path, "kind,item,period_start,period_end,quantity,unit\nfuel,natural_gas,2024-01-01,2024-12-31,100,GJ")
    inv = compute_inventory(*Y24, methodology="cn-machinery-2015", activity=a)
    # 100 GJ × 0.0153 tC/GJ × 0.99 × 44/12 = 5.5539 t
    ln = _line(inv, "stationary_combustion")
    assert ln["tco2e"] == "5.554"
    assert [p["factor_id"] for p in ln["factor"]["parameters"]] == ["natural_gas_carbon_content", "natural_gas_oxidation"]


def test_lpg_with_its_oxidation_rate_from_the_sister_standards(tmp_path):
    a = _act(tmp_path, "kind,item,period_start,period_end,quantity,unit\nfuel,lpg,2024-01-01,2024-12-31,2000,kg")
    # 98 % as reproduced in GB/T 32151.10/.22/.34 Table C.1 (REFERENCE-FACTS): secondary, no longer refused
    inv = compute_inventory(*Y24, methodology="cn-machinery-2015", activity=a)
    # 2 t × 50.179 GJ/t = 100.358 GJ; × 0.0172 = 1.7261576 tC; × 0.98 = 1.69163445 tC; × 44/12 = 6.202660 tCO2
    ln = _line(inv, "stationary_combustion", "lpg")
    assert ln["tco2e"] == "6.203"
    assert {p["factor_id"]: p["status"] for p in ln["factor"]["parameters"]}["lpg_oxidation"] == "secondary"


def test_welding_co2_by_stock_balance(tmp_path):
    a = _act(tmp_path, """
kind,item,period_start,period_end,quantity,unit,movement,co2_share,workshop
welding_gas,co2,2024-01-01,2024-01-01,500,kg,opening_stock,,WS-CW
welding_gas,co2,2024-03-01,2024-03-31,2000,kg,purchased,,WS-CW
welding_gas,co2,2024-12-31,2024-12-31,300,kg,closing_stock,,WS-CW
welding_gas,co2,2024-06-01,2024-06-30,100,kg,sold,,WS-CW
welding_gas,ar_co2,2024-02-01,2024-02-29,1000,kg,purchased,0.2,WS-CW
welding_gas,ar_co2,2024-12-31,2024-12-31,200,kg,closing_stock,0.2,WS-CW
""")
    inv = compute_inventory(*Y24, methodology="cn-machinery-2015", activity=a)
    # CO2: 500 + 2000 − 300 − 100 = 2100 kg × 1 = 2.100 tCO2
    co2 = _line(inv, "process_welding_co2", "co2")
    assert (co2["activity"]["quantity"], co2["tco2e"]) == ("2100.000000", "2.100")
    # Ar/CO2 mixture: 0 + 1000 − 200 = 800 kg × 0.2 = 160 kg = 0.160 tCO2
    mix = _line(inv, "process_welding_co2", "ar_co2")
    assert (mix["activity"]["quantity"], mix["tco2e"]) == ("800.000000", "0.160")


def test_sf6_refill_of_own_switchgear_and_chiller_leak(tmp_path):
    a = _act(tmp_path, """
kind,item,period_start,period_end,quantity,unit,movement,use
sf6,sf6,2024-05-01,2024-05-31,2,kg,purchased,equipment
refrigerant,hfc_134a,2024-01-01,2024-01-01,120,kg,opening_stock,equipment
refrigerant,hfc_134a,2024-07-01,2024-07-31,15,kg,purchased,equipment
refrigerant,hfc_134a,2024-12-31,2024-12-31,125,kg,closing_stock,equipment
""")
    inv = compute_inventory(*Y24, methodology="ghg-protocol-corporate", activity=a)
    # SF6 refilled 2 kg × GWP 23,500 (AR5) = 47,000 kgCO2e = 47.000 t
    sf6 = _line(inv, "fugitive_sf6_switchgear", "sf6")
    assert (sf6["tco2e"], sf6["gwp"], sf6["scope"], sf6["category"]) == ("47.000", "23500", 1, 1)
    # HFC-134a: 120 + 15 − 125 = 10 kg × 1,300 = 13.000 t
    assert _line(inv, "fugitive_refrigerant", "hfc_134a")["tco2e"] == "13.000"
    # the Chinese 2015 package uses SAR: 2 kg × 23,900 = 47.800 t
    cn = compute_inventory(*Y24, methodology="cn-machinery-2015", activity=a)
    assert _line(cn, "fugitive_sf6_switchgear")["tco2e"] == "47.800"


def test_sf6_charged_into_products_is_a_process_source(tmp_path):
    a = _act(tmp_path, """
kind,item,period_start,period_end,quantity,unit,movement,use
sf6,sf6,2024-01-01,2024-12-31,100,kg,purchased,product
sf6,sf6,2024-01-01,2024-12-31,95,kg,sold,product
sf6,sf6,2024-01-01,2024-12-31,1,kg,recovered,product
""")
    inv = compute_inventory(*Y24, methodology="ghg-protocol-corporate", activity=a)
    # 100 − 95 shipped in products − 1 recovered = 4 kg × 23,500 = 94.000 t
    assert _line(inv, "process_fgas_products", "sf6")["tco2e"] == "94.000"


def test_purchased_heat(tmp_path):
    a = _act(tmp_path, "kind,item,period_start,period_end,quantity,unit\nheat,steam,2024-01-01,2024-12-31,1000,GJ")
    inv = compute_inventory(*Y24, methodology="cn-machinery-2015", activity=a)
    # 1000 GJ × 0.11 tCO2/GJ = 110.000 t, scope 2 / ISO category 2
    ln = _line(inv, "purchased_heat")
    assert (ln["tco2e"], ln["scope"], ln["category"]) == ("110.000", 2, 2)


MARKET = """
kind,item,period_start,period_end,quantity,unit
electricity_statement,total,2024-01-01,2024-12-31,1000,MWh
gec,wind,2024-01-01,2024-12-31,300,GEC
green_power,solar_ppa,2024-01-01,2024-12-31,200000,kWh
fuel,natural_gas,2024-01-01,2024-12-31,1,10^4Nm3
offset,ccer,2024-01-01,2024-12-31,100,tCO2e
"""


def test_market_based_with_gecs_and_the_compliance_view(tmp_path):
    inv = compute_inventory(*Y24, methodology="ghg-protocol-corporate", activity=_act(tmp_path, MARKET))
    c = inv.to_canonical()
    # location-based: 1000 MWh × 0.5306 (MEE/NBS 2023, carried to 2024) = 530.600 t
    assert c["totals"]["scope2_location"]["tco2e"] == "530.600"
    # market-based: 300 GEC (= 300 MWh) + 200 MWh green power at 0; 500 MWh × 0.5306 = 265.300 t
    mb = c["views"]["market_based"]
    assert mb["scope2_tco2e"] == "265.300"
    assert "no residual mix" in mb["label"] and mb["residual_mix"].startswith("none published")
    assert sorted(ln["activity"]["quantity"] for ln in mb["lines"]) == ["200.000000", "300.000000", "500.000000"]
    # compliance: green power not deducted, 1000 MWh × 0.5703 = 570.300 t, + natural gas
    # 1 ×10^4 Nm3 × 389.31 × 0.0153 × 0.99 × 44/12 = 21.622 t -> 591.922 t
    comp = c["views"]["compliance"]
    assert comp["available"] and comp["scope2_electricity_tco2e"] == "570.300"
    assert comp["total_tco2e"] == "591.922"
    assert "not deducted" in comp["label"]


def test_compliance_view_is_labelled_unavailable_after_its_validity(tmp_path):
    a = _act(tmp_path, "kind,item,period_start,period_end,quantity,unit\n"
                       "electricity_statement,total,2026-01-01,2026-01-31,10,MWh")
    inv = compute_inventory(D(2026, 1, 1), D(2026, 1, 31), methodology="ghg-protocol-corporate", activity=a)
    comp = inv.to_canonical()["views"]["compliance"]
    assert not comp["available"] and "grid_average_compliance" in comp["reason"] and "2026-01-01" in comp["reason"]
    # 10 MWh × 0.5306 = 5.306 t location-based
    assert inv.to_canonical()["totals"]["scope2_location"]["tco2e"] == "5.306"


def test_offsets_are_reported_separately_never_netted(tmp_path):
    inv = compute_inventory(*Y24, methodology="ghg-protocol-corporate", activity=_act(tmp_path, MARKET))
    c = inv.to_canonical()
    # gross location = 21.622 (gas) + 530.600 (electricity) + scope 3 excluded = 552.222 t; the 100 t CCER stays out
    assert c["totals"]["gross_location"]["tco2e"] == "552.222"
    assert c["offsets"]["total_tco2e"] == "100.000" and c["totals"]["offsets_tco2e"] == "100.000"
    assert c["offsets"]["items"][0]["item"] == "ccer"


def test_iso_category_mapping(tmp_path):
    inv = compute_inventory(*Y24, methodology="iso-14064-1-2018", activity=_act(tmp_path, MARKET))
    cats = {(ln["source"], ln["scope"], ln["category"]) for ln in inv.to_canonical()["lines"]}
    assert ("stationary_combustion", 1, 1) in cats
    assert ("purchased_electricity", 2, 2) in cats
    # scope 3 category 3 (upstream of fuels, T&D losses) -> ISO category 4
    assert ("upstream_fuel", 3, 4) in cats and ("td_losses", 3, 4) in cats
    iso = inv.to_canonical()["totals"]["iso_categories"]
    assert set(iso) == {"1", "2", "3", "4", "5", "6"}
    assert iso["3"]["tco2e"] == "0.000"
    # T&D: 1000 MWh × 4.84% × 0.5306 = 25.681 t
    assert _line(inv, "td_losses")["tco2e"] == "25.681"
    # upstream of natural gas (UK DESNZ 2023 v1.1 well-to-tank, region UK): 1 ×10^4 Nm3 × 389.31 GJ/10^4Nm3
    # × 0.00930 tCO2e/GJ = 3.620583 -> 3.621 t
    up = _line(inv, "upstream_fuel", "natural_gas")
    assert up["tco2e"] == "3.621"
    assert {p["role"]: p["id"] for p in up["factor"]["parameters"]}["UPSTREAM"] == "upstream_natural_gas@UK:2015-01-01"


def test_a_two_year_period_uses_each_years_factor(tmp_path):
    a = _act(tmp_path, """
kind,item,period_start,period_end,quantity,unit
electricity_statement,total,2021-01-01,2021-12-31,100,MWh
electricity_statement,total,2022-01-01,2022-12-31,100,MWh
fuel,diesel,2021-06-01,2021-06-30,1,t
fuel,diesel,2022-06-01,2022-06-30,1,t
""")
    inv = compute_inventory(D(2021, 1, 1), D(2022, 12, 31), methodology="cn-machinery-2015", activity=a)
    c = inv.to_canonical()
    # 100 × 0.5568 + 100 × 0.5366 = 55.68 + 53.66 = 109.340 t
    assert c["totals"]["scope2_location"]["tco2e"] == "109.340"
    # diesel: 2 × (42.652 × 0.0202 × 0.98 × 44/12) = 2 × 3.0959096 = 6.192 t (same factor rows both years: one line)
    assert c["totals"]["scope1"]["tco2e"] == "6.192"
    assert len([ln for ln in c["lines"] if ln["source"] == "mobile_combustion"]) == 1
    el = [ln for ln in c["lines"] if ln["source"] == "purchased_electricity"]
    assert [ln["factor"]["value"] for ln in el] == ["0.5568", "0.5366"]


def test_measured_carbon_content_overrides_the_default(tmp_path):
    a = _act(tmp_path, "kind,item,period_start,period_end,quantity,unit\nfuel,natural_gas,2024-01-01,2024-12-31,8.4082,10^4Nm3")
    m = tmp_path / "measured.csv"
    m.write_text("factor_id,value,unit,applies_from,applies_to,lab,report,evidence_sha256\n"
                 "natural_gas_carbon_content,15.8,tC/TJ,2024-01-01,2024-12-31,CMA lab 17,report 2024-031,"
                 + "ab" * 32 + "\n", encoding="utf-8")
    inv = compute_inventory(*Y24, methodology="cn-machinery-2015", activity=a, measured=load_measured(m))
    ln = _line(inv, "stationary_combustion")
    # 3273.396342 GJ × 0.0158 tC/GJ = 51.719662 tC; × 0.99 = 51.202466; × 44/12 = 187.742374 t
    assert ln["tco2e"] == "187.742"
    cc = [p for p in ln["factor"]["parameters"] if p["factor_id"] == "natural_gas_carbon_content"][0]
    assert cc["status"] == "measured" and cc["evidence_sha256"] == "ab" * 32 and cc["value"] == "15.8"
    # a measured value covering only part of the line's period is refused
    half = [MeasuredFactor("natural_gas_carbon_content", 15.8, "tC/TJ", D(2024, 1, 1), D(2024, 6, 30), "lab", "r",
                           "ab" * 32)]
    with pytest.raises(InventoryError, match="only part of the line period"):
        compute_inventory(*Y24, methodology="cn-machinery-2015", activity=a, measured=half)


def test_restatement_shows_old_new_and_the_factor_that_changed(tmp_path):
    a = _act(tmp_path, MARKET)
    inv = compute_inventory(*Y24, methodology="cn-machinery-2015", activity=a)
    new = _lib_with(tmp_path, "grid_average,2,CN,grid_emission_factor,0.5306,", "grid_average,2,CN,grid_emission_factor,0.5200,",
                    "factors-v2.csv")
    table = restate(inv, new)
    row = table[table.source == "purchased_electricity"].iloc[0]
    # 1000 MWh × 0.5306 = 530.6 t -> × 0.5200 = 520.0 t: −10.6 t
    assert row.old_tco2e == pytest.approx(530.6) and row.new_tco2e == pytest.approx(520.0)
    assert row.difference_tco2e == pytest.approx(-10.6)
    assert "grid_average: 0.5306" in row.reason and "0.52 tCO2/MWh" in row.reason
    gas = table[table.source == "stationary_combustion"].iloc[0]
    assert gas.difference_tco2e == 0 and gas.reason == "unchanged"


def test_uncertainty_of_a_total_by_hand(tmp_path):
    unc = {"activity:fuel_invoice": 3, "factor:natural_gas": 4, "activity:statement": 6, "factor:grid": 8}
    inv = compute_inventory(*Y22, methodology="cn-machinery-2015", activity=_act(tmp_path, PUBLISHED), uncertainty=unc)
    c = inv.to_canonical()
    # line: sqrt(3² + 4²) = 5 %, sqrt(6² + 8²) = 10 %
    assert _line(inv, "stationary_combustion")["uncertainty_pct"] == "5.00"
    assert _line(inv, "purchased_electricity")["uncertainty_pct"] == "10.00"
    # total: gas 181.80116 t ± 9.090058 t; electricity 1619.725 × 0.5366 = 869.144435 t ± 86.914444 t
    # U = sqrt(9.090058² + 86.914444²) = sqrt(82.629154 + 7554.120576) = 87.388499 t over 1050.945595 t = 8.32 %
    # One rounding rule, applied once per line: 181.801 + 869.144 = 1050.945 t (rounding the unrounded sum
    # 1050.945595 would give 1050.946, a total that disagrees with its own lines: the 930.968/930.969 defect)
    assert c["totals"]["gross_location"] == {"tco2e": "1050.945", "uncertainty_pct": "8.32"}


def test_no_factor_for_the_period_is_an_error_naming_factor_and_period(tmp_path):
    a = _act(tmp_path, "kind,item,period_start,period_end,quantity,unit\nelectricity_statement,total,2020-01-01,2020-12-31,5,MWh")
    with pytest.raises(FactorError, match=r"grid_average.*2020-01-01\.\.2020-12-31"):
        compute_inventory(D(2020, 1, 1), D(2020, 12, 31), methodology="ghg-protocol-corporate", activity=a)
    # a line crossing a validity boundary is not silently given one year's factor
    b = _act(tmp_path, "kind,item,period_start,period_end,quantity,unit\nelectricity_statement,total,2022-12-01,2023-01-31,5,MWh",
             "b.csv")
    with pytest.raises(FactorError, match=r"grid_average.*2022-12-01\.\.2023-01-31"):
        compute_inventory(D(2022, 12, 1), D(2023, 1, 31), methodology="ghg-protocol-corporate", activity=b)


def test_activity_file_errors_name_file_row_and_field(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("kind,item,period_start,period_end,quantity,unit\n"
                 "fuel,diesel,2024-01-01,2024-12-31,5,t\n"
                 "fuel,diesel,2024-02-30,2024-12-31,5,t\n"
                 "heat,steam,2024-01-01,2024-12-31,five,GJ\n"
                 "sf6,sf6,2024-01-01,2024-12-31,1,MWh\n", encoding="utf-8")
    with pytest.raises(ActivityFileError) as e:
        read_activity_file(p)
    msg = str(e.value)
    assert f"{p}:3:period_start" in msg and f"{p}:4:quantity" in msg and f"{p}:5:unit" in msg
    assert "nothing computed" in msg


def test_factor_in_an_incompatible_unit_names_both(tmp_path):
    # a measured NCV given per volume cannot be applied to diesel weighed in tonnes
    a = _act(tmp_path, "kind,item,period_start,period_end,quantity,unit\nfuel,diesel,2024-01-01,2024-12-31,5,t")
    m = [MeasuredFactor("diesel_ncv", 36.0, "GJ/10^4Nm3", D(2024, 1, 1), D(2024, 12, 31), "lab", "r", "ab" * 32)]
    with pytest.raises(UnitMismatch, match=r"diesel_ncv.*GJ/10\^4Nm3.*GJ/t"):
        compute_inventory(*Y24, methodology="cn-machinery-2015", activity=a, measured=m)


def test_diesel_invoiced_in_litres_uses_the_density(tmp_path):
    a = _act(tmp_path, "kind,item,period_start,period_end,quantity,unit\nfuel,diesel,2024-01-01,2024-12-31,2400,L")
    with pytest.raises(FactorError, match="diesel_density.*unverified"):
        compute_inventory(*Y24, methodology="cn-machinery-2015", activity=a)
    inv = compute_inventory(*Y24, methodology="cn-machinery-2015", activity=a, allow_unverified=True)
    # 2400 L × 0.8503 kg/L = 2040.72 kg = 2.04072 t × 42.652 × 0.0202 × 0.98 × 44/12 (= 3.0959096 tCO2/t) = 6.317885 t
    assert _line(inv, "mobile_combustion")["tco2e"] == "6.318"


def test_package_hash_mismatch_is_refused(tmp_path):
    m = load_methodology("cn-machinery-2015")
    assert len(m.sha256) == 64 and m.version == "2015.2"
    pkg = tmp_path / "cn-machinery-2015"
    shutil.copytree(PACKAGES_DIR / "cn-machinery-2015", pkg)
    assert load_methodology(pkg).sha256 == m.sha256
    rules = pkg / "rules.yaml"
    rules.write_text(rules.read_text(encoding="utf-8").replace("default: sar", "default: ar5"), encoding="utf-8")
    with pytest.raises(MethodologyError, match="rules.yaml hashes to .* but manifest.yaml says"):
        load_methodology(pkg)
    shutil.copytree(PACKAGES_DIR / "cn-machinery-2015", tmp_path / "p2")
    (tmp_path / "p2" / "extra.py").write_text("x = 1\n")
    with pytest.raises(MethodologyError, match="extra.py is not in manifest.yaml"):
        load_methodology(tmp_path / "p2")


def test_results_record_the_package_and_serialise_canonically(tmp_path):
    a = _act(tmp_path, MARKET.replace("2024-", "2025-"))
    y25 = (D(2025, 1, 1), D(2025, 12, 31))
    one = compute_inventory(*y25, methodology="gbt-32151.29-2024", activity=a, allow_unverified=True)
    two = compute_inventory(*y25, methodology="gbt-32151.29-2024", activity=a, allow_unverified=True)
    c = one.to_canonical()
    meth = load_methodology("gbt-32151.29-2024")
    assert c["schema"] == "tanjian.inventory/1"
    assert c["methodology"] == {"id": "gbt-32151.29-2024", "version": "2024.2", "sha256": meth.sha256,
                                "title": meth.title, "rules_sha256": meth.rules_sha256, "gwp_set": "ar5",
                                "gwp_allowed": ["ar5", "ar6"], "headline": "compliance"}
    assert one.canonical_json() == two.canonical_json()
    assert json.loads(one.canonical_json()) == c
    # RFC 8785: keys sorted, no whitespace
    assert one.canonical_json().startswith(b'{"activity_unused":[')
    # GB/T Annex C candidate NCV: 1 ×10^4 Nm3 × 389.31 × 0.0153 × 0.99 × 44/12 = 21.622 t
    assert _line(one, "stationary_combustion")["tco2e"] == "21.622"


def test_gbt_package_refuses_unverified_annex_values_unless_allowed(tmp_path):
    a = _act(tmp_path, "kind,item,period_start,period_end,quantity,unit\nfuel,diesel,2025-01-01,2025-12-31,1,t")
    with pytest.raises(FactorError, match="gbt2024_diesel_ncv.*unverified"):
        compute_inventory(D(2025, 1, 1), D(2025, 12, 31), methodology="gbt-32151.29-2024", activity=a)


def test_footprint_allocates_by_metered_energy(tmp_path):
    a = _act(tmp_path, """
kind,item,period_start,period_end,quantity,unit,workshop
electricity_statement,total,2024-03-01,2024-03-31,600,MWh,WS-A
electricity_statement,total,2024-03-01,2024-03-31,400,MWh,WS-B
heat,steam,2024-03-01,2024-03-31,100,GJ,
production,P-PUMP,2024-03-01,2024-03-31,100,unit,WS-A
production,P-CRANE,2024-03-01,2024-03-31,50,unit,WS-B
""")
    inv = compute_inventory(D(2024, 3, 1), D(2024, 3, 31), methodology="cn-machinery-2015", activity=a, level="workshop")
    fp = footprint(inv).set_index("product")
    # WS-A: 600 × 0.5306 = 318.36 t + heat 100 × 0.11 = 11 t × 600/1000 = 6.6 t -> 324.96 t / 100 = 3.2496 t/unit
    # WS-B: 400 × 0.5306 = 212.24 t + 11 × 0.4 = 4.4 t -> 216.64 t / 50 = 4.3328 t/unit
    assert fp.loc["P-PUMP", "tco2e_per_unit"] == pytest.approx(3.2496)
    assert fp.loc["P-CRANE", "tco2e_per_unit"] == pytest.approx(4.3328)
    assert fp.loc["P-PUMP", "energy_mwh"] == pytest.approx(600)


def test_level_plant_sums_workshop_lines(tmp_path):
    a = _act(tmp_path, """
kind,item,period_start,period_end,quantity,unit,workshop
electricity_statement,total,2024-03-01,2024-03-31,600,MWh,WS-A
electricity_statement,total,2024-03-01,2024-03-31,400,MWh,WS-B
""")
    inv = compute_inventory(D(2024, 3, 1), D(2024, 3, 31), methodology="cn-machinery-2015", activity=a, level="plant")
    ln = _line(inv, "purchased_electricity")
    # 1000 MWh × 0.5306 = 530.600 t; uncertainty: each line sqrt(2² + 5²) = 5.385 %, absolute
    # 600×0.5306×0.053852 = 17.1440 and 400×0.5306×0.053852 = 11.4293 -> sqrt(17.1440² + 11.4293²) = 20.6044 t
    # = 3.88 % of 530.6
    assert (ln["activity"]["quantity"], ln["tco2e"], ln["workshop"]) == ("1000.000000", "530.600", None)
    assert ln["uncertainty_pct"] == "3.88"


def test_refrigerant_blend_and_montreal_gas(tmp_path):
    a = _act(tmp_path, """
kind,item,period_start,period_end,quantity,unit,movement,use
refrigerant,hfc_407c,2024-04-01,2024-04-30,10,kg,purchased,equipment
refrigerant,hcfc_22,2024-04-01,2024-04-30,5,kg,purchased,equipment
""")
    inv = compute_inventory(*Y24, methodology="ghg-protocol-corporate", activity=a)
    # R-407C (AR5): 0.23 × 677 + 0.25 × 3170 + 0.52 × 1300 = 1624.2; 10 kg -> 16.242 t
    assert _line(inv, "fugitive_refrigerant", "hfc_407c")["tco2e"] == "16.242"
    c = inv.to_canonical()
    # HCFC-22 is not a Kyoto gas: memo only, not in scope 1
    assert c["totals"]["scope1"]["tco2e"] == "16.242"
    assert c["memo"][0]["item"] == "hcfc_22" and c["memo"][0]["quantity"] == "5.000000"
