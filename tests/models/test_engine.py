"""The engine runs the package's declarative rules: hand-worked figures only (arithmetic in the comments).

Factors: models/data/emission-factors.csv; formulas: the packages' rules.yaml.
"""

import datetime as dt
import shutil

import pytest

from models.activity_input import ActivityFileError, read_activity_file
from models.errors import InventoryError
from models.expression import FormulaError, compile_formula
from models.factors import FactorError
from models.factors.measured import MeasuredFactor, load_measured
from models.inventory import compute_inventory
from models.packages import PACKAGES_DIR, MethodologyError, load_methodology
from workspace.units import UnitMismatch

D = dt.date
Y22 = (D(2022, 1, 1), D(2022, 12, 31))
Y24 = (D(2024, 1, 1), D(2024, 12, 31))
Y25 = (D(2025, 1, 1), D(2025, 12, 31))
SHA = "3f" * 32  # a SHA-256 as 64 hex digits (the lab report's bytes are not part of these tests)


def _act(tmp_path, text, name="activity.csv"):
    p = tmp_path / name
    p.write_text(text.strip() + "\n", encoding="utf-8")
    return read_activity_file(p)


def _lines(c, source, item=None):
    return [ln for ln in c["lines"] if ln["source"] == source and (item is None or ln["item"] == item)]


# -- the formula language ------------------------------------------------------------------------------------
def test_expressions_are_arithmetic_only_and_unit_checked():
    f = compile_formula("AD * NCV * CC * OF * CO2_PER_C")
    assert f.names == ("AD", "NCV", "CC", "OF", "CO2_PER_C")
    # 1 ×10^4 Nm3 × 389.31 GJ/10^4Nm3 × 15.3 tC/TJ × 99 % × 44/12 tCO2/tC
    # = 389.31 × 0.0153 = 5.956443; × 0.99 = 5.8968786; × 3.6666667 = 21.621888 tCO2
    units = {"AD": "10^4Nm3", "NCV": "GJ/10^4Nm3", "CC": "tC/TJ", "OF": "%", "CO2_PER_C": "tCO2/tC"}
    got = f.evaluate({"AD": 1.0, "NCV": 389.31, "CC": 15.3, "OF": 99.0, "CO2_PER_C": 44 / 12}, units, "tCO2e")
    assert got == pytest.approx(21.621888, abs=1e-6)
    # a stock balance in mixed units: 1 t + 500 kg − 200 kg = 1300 kg
    b = compile_formula("opening_stock + purchased - closing_stock")
    assert b.evaluate({"opening_stock": 1.0, "purchased": 500.0, "closing_stock": 200.0},
                      {"opening_stock": "t", "purchased": "kg", "closing_stock": "kg"}, "kg") == pytest.approx(1300)
    for bad in ("__import__('os').system('x')", "AD.real", "AD ** 2", "AD[0]", "AD if AD else 0", "'x'", "f(AD)",
                "lambda: 1"):
        with pytest.raises(FormulaError, match="not allowed|not an expression"):
            compile_formula(bad)
    with pytest.raises(UnitMismatch, match=r"cannot add \[kg\] and \[MWh\]"):
        compile_formula("A + B").evaluate({"A": 1.0, "B": 1.0}, {"A": "kg", "B": "MWh"}, "kg")
    with pytest.raises(UnitMismatch, match=r"the result is .* not \[tCO2e\]"):
        f.evaluate({"AD": 1.0, "NCV": 1.0, "CC": 1.0, "OF": 1.0, "CO2_PER_C": 1.0}, {**units, "NCV": "GJ/t"}, "tCO2e")


# -- the published example and the compliance total ----------------------------------------------------------
PUBLISHED = """
kind,item,period_start,period_end,quantity,unit
fuel,natural_gas,2022-01-01,2022-12-31,8.4082,10^4Nm3
"""


def test_the_published_example_through_the_package_formula(tmp_path):
    # 8.4082 ×10^4 Nm3 × 389.31 GJ/10^4Nm3 × 0.0153 tC/GJ × 0.99 × 44/12 = 181.80116 tCO2 (report: 181, truncated)
    c = compute_inventory(*Y22, methodology="cn-machinery-2015", activity=_act(tmp_path, PUBLISHED)).to_canonical()
    (ln,) = _lines(c, "stationary_combustion", "natural_gas")
    assert ln["tco2e"] == "181.801" and ln["rule"] == "stationary_combustion"
    assert ln["formula"] == "E = AD * NCV * CC * OF * CO2_PER_C"
    assert [(p["role"], p["factor_id"], p["value"]) for p in ln["factor"]["parameters"]] == [
        ("NCV", "natural_gas_ncv", "389.31"), ("CC", "natural_gas_carbon_content", "15.3"),
        ("OF", "natural_gas_oxidation", "99")]
    assert ln["activity"]["rows"] == ["activity.csv:2"]


COMPLIANCE = """
kind,item,period_start,period_end,quantity,unit
electricity_statement,total,2024-01-01,2024-12-31,1000,MWh
fuel,natural_gas,2024-01-01,2024-12-31,8.4082,10^4Nm3
gec,wind,2024-01-01,2024-12-31,300,GEC
"""


def test_the_guidelines_total_is_the_compliance_figure_with_location_and_market_beside(tmp_path):
    c = compute_inventory(*Y24, methodology="cn-machinery-2015", activity=_act(tmp_path, COMPLIANCE)).to_canonical()
    # gas 181.801 t (as above); electricity 1000 MWh:
    #   compliance (MEE 2023 notice, 2023-2025 reporting): 1000 × 0.5703 = 570.300 t, the GECs not deducted
    #   -> 排放总量 = 181.801 + 570.300 = 752.101 t
    #   location-based: 1000 × 0.5306 (MEE/NBS data year 2023) = 530.600 t -> 712.401 t
    #   market-based: 300 MWh of GECs at 0, 700 × 0.5306 = 371.420 t -> 553.221 t
    assert c["methodology"]["headline"] == "compliance"
    assert c["totals"]["headline"] == {"view": "compliance", "tco2e": "752.101"}
    v = c["views"]
    assert v["compliance"]["total_tco2e"] == "752.101" and v["compliance"]["scope2_electricity_tco2e"] == "570.300"
    assert [(g["factor_id"], g["value"]) for g in v["compliance"]["grid_factors"]] == [
        ("grid_average_compliance", "0.5703")]
    assert "2022年度全国电网平均排放因子" in v["compliance"]["grid_factors"][0]["source"]
    assert v["location_based"]["total_tco2e"] == "712.401"
    assert [(g["factor_id"], g["value"]) for g in v["location_based"]["grid_factors"]] == [("grid_average", "0.5306")]
    assert "公告2025年第47号" in v["location_based"]["grid_factors"][0]["source"]
    assert v["market_based"]["total_tco2e"] == "553.221"
    # the GHG Protocol package keeps location-based as its headline, the compliance view beside it
    g = compute_inventory(*Y24, methodology="ghg-protocol-corporate", activity=_act(tmp_path, COMPLIANCE)).to_canonical()
    assert g["totals"]["headline"] == {"view": "location_based", "tco2e": "712.401"}
    assert g["views"]["compliance"]["total_tco2e"] == "752.101"


def test_onsite_generation_self_consumed_counts_zero_exported_is_netted_under_the_guideline(tmp_path):
    a = _act(tmp_path, COMPLIANCE)
    q = {"electricity_self_consumed_nonfossil": 120.0, "electricity_exported": (20000, "kWh")}
    c = compute_inventory(*Y24, methodology="cn-machinery-2015", activity=a, quantities=q).to_canonical()
    (pv,) = _lines(c, "onsite_nonfossil_self_consumed")
    # 120 MWh × 0 tCO2/MWh (self-generated, self-consumed non-fossil power) = 0
    assert (pv["activity"]["quantity"], pv["tco2e"]) == ("120.000000", "0.000")
    # net purchased = 1000 − 20 MWh exported: compliance 980 × 0.5703 = 558.894 t (570.300 − 11.406);
    # 排放总量 = 181.801 + 558.894 = 740.695 t; location 530.600 − 20 × 0.5306 (10.612) = 519.988 t -> 701.789 t
    assert c["views"]["compliance"]["total_tco2e"] == "740.695"
    assert c["views"]["location_based"]["total_tco2e"] == "701.789"
    (ex,) = _lines(c, "electricity_exported")
    assert ex["tco2e"] == "-10.612" and ex["formula"] == "E = -AD * GRID"
    # the GHG Protocol does not net exports: reported unused with the reason, the PV line still 0
    g = compute_inventory(*Y24, methodology="ghg-protocol-corporate", activity=a, quantities=q).to_canonical()
    assert g["views"]["location_based"]["total_tco2e"] == "712.401"
    (u,) = [u for u in g["activity_unused"] if u["item"] == "electricity_exported"]
    assert "not netted" in u["reason"]
    with pytest.raises(InventoryError, match="activity quantity 'pv_total' is unknown"):
        compute_inventory(*Y24, methodology="cn-machinery-2015", activity=a, quantities={"pv_total": 1.0})


# -- GWP sets -----------------------------------------------------------------------------------------------
SF6 = """
kind,item,period_start,period_end,quantity,unit,movement,use
sf6,sf6,2024-05-01,2024-05-31,2,kg,purchased,equipment
"""


def test_gwp_set_ar5_against_ar6_and_refused_where_the_methodology_does_not_allow_it(tmp_path):
    a = _act(tmp_path, SF6)
    # 2 kg SF6 × 23,500 (AR5) = 47.000 t; × 25,200 (AR6) = 50.400 t
    ar5 = compute_inventory(*Y24, methodology="ghg-protocol-corporate", activity=a, gwp="AR5").to_canonical()
    ar6 = compute_inventory(*Y24, methodology="ghg-protocol-corporate", activity=a, gwp="ar6").to_canonical()
    assert _lines(ar5, "fugitive_sf6_switchgear")[0]["tco2e"] == "47.000"
    (l6,) = _lines(ar6, "fugitive_sf6_switchgear")
    assert (l6["tco2e"], l6["gwp"], ar6["methodology"]["gwp_set"]) == ("50.400", "25200", "ar6")
    assert l6["factor"]["parameters"][0]["factor_id"] == "gwp_ar6_sf6"
    # AR4: 2 kg × 22,800 = 45.600 t (its rows are unverified: accepted knowingly)
    ar4 = compute_inventory(*Y24, methodology="ghg-protocol-corporate", activity=a, gwp="AR4", allow_unverified=True)
    assert _lines(ar4.to_canonical(), "fugitive_sf6_switchgear")[0]["tco2e"] == "45.600"
    with pytest.raises(MethodologyError, match="cn-machinery-2015 .* does not allow GWP set AR6: it allows SAR"):
        compute_inventory(*Y24, methodology="cn-machinery-2015", activity=a, gwp="AR6")
    with pytest.raises(MethodologyError, match="GWP set 'AR7' is unknown"):
        compute_inventory(*Y24, methodology="ghg-protocol-corporate", activity=a, gwp="AR7")


def test_a_measured_ar6_gwp_is_used_under_ar6_and_refused_not_ignored_otherwise(tmp_path):
    a = _act(tmp_path, SF6)
    m = [MeasuredFactor("gwp_ar6_sf6", 25184, "tCO2e/t", D(2024, 1, 1), D(2024, 12, 31), "IPCC AR6 WG1 ch. 7 data",
                        "unrounded GWP-100", SHA)]
    # 2 kg × 25,184 = 50.368 t
    c = compute_inventory(*Y24, methodology="ghg-protocol-corporate", activity=a, gwp="AR6", measured=m).to_canonical()
    (ln,) = _lines(c, "fugitive_sf6_switchgear")
    assert ln["tco2e"] == "50.368" and ln["factor"]["parameters"][0]["status"] == "measured"
    with pytest.raises(InventoryError, match=r"gwp_ar6_sf6 .* is a GWP of set AR6, this inventory uses AR5 "
                                             r"\(pass --gwp AR6\)"):
        compute_inventory(*Y24, methodology="ghg-protocol-corporate", activity=a, measured=m)


# -- measured factors ---------------------------------------------------------------------------------------------
def test_a_measured_ncv_is_applied_and_a_measured_grid_factor_refused(tmp_path):
    a = _act(tmp_path, COMPLIANCE.replace("2024-", "2024-"))
    f = tmp_path / "measured.csv"
    f.write_text("factor_id,value,unit,applies_from,applies_to,lab,report,evidence_sha256\n"
                 f"natural_gas_ncv,0.0361,GJ/Nm3,2024-01-01,2024-12-31,CMA lab 17,report 2024-044,{SHA}\n",
                 encoding="utf-8")
    c = compute_inventory(*Y24, methodology="cn-machinery-2015", activity=a, measured=load_measured(f)).to_canonical()
    (ln,) = _lines(c, "stationary_combustion")
    # 84,082 Nm3 × 0.0361 GJ/Nm3 = 3035.3602 GJ; × 0.0153 tC/GJ = 46.441011 tC; × 0.99 = 45.976601 tC;
    # × 44/12 = 168.580870 tCO2 -> 168.581 (default NCV: 181.801)
    assert ln["tco2e"] == "168.581"
    ncv = ln["factor"]["parameters"][0]
    assert (ncv["role"], ncv["status"], ncv["evidence_sha256"]) == ("NCV", "measured", SHA)
    grid = tmp_path / "grid.csv"
    grid.write_text("factor_id,value,unit,applies_from,applies_to,lab,report,evidence_sha256\n"
                    f"grid_average_compliance,0.45,tCO2/MWh,2024-01-01,2024-12-31,own,r1,{SHA}\n", encoding="utf-8")
    with pytest.raises(InventoryError, match=r"grid\.csv:2:factor_id: grid_average_compliance is a grid emission "
                                             r"factor.*not something a plant measures"):
        compute_inventory(*Y24, methodology="cn-machinery-2015", activity=a, measured=load_measured(grid))
    fake = [MeasuredFactor("natural_gas_ncv", 0.0361, "GJ/Nm3", D(2024, 1, 1), D(2024, 12, 31), "lab", "r",
                           "not-a-hash")]
    with pytest.raises(InventoryError, match="'not-a-hash' is not a SHA-256"):
        compute_inventory(*Y24, methodology="cn-machinery-2015", activity=a, measured=fake)
    unused = [MeasuredFactor("diesel_ncv", 43.0, "GJ/t", D(2024, 1, 1), D(2024, 12, 31), "lab", "r", SHA)]
    with pytest.raises(InventoryError, match="diesel_ncv .* is not a factor methodology cn-machinery-2015 applies"):
        compute_inventory(*Y24, methodology="cn-machinery-2015", activity=a, measured=unused)


# -- activity rows: the stock-take, rows outside the period, rows not used ----------------------------------------
STOCK = """
kind,item,period_start,period_end,quantity,unit,movement,workshop
welding_gas,co2,2024-12-31,2024-12-31,1200,kg,closing_stock,WS-CW
welding_gas,co2,2025-01-01,2025-12-31,16800,kg,purchased,WS-CW
welding_gas,co2,2025-12-31,2025-12-31,900,kg,closing_stock,WS-CW
production,P-PUMP,2025-01-01,2025-12-31,420,pcs,,WS-AS
"""


def test_a_stock_take_at_the_previous_year_end_is_the_opening_stock(tmp_path):
    c = compute_inventory(*Y25, methodology="cn-machinery-2015", activity=_act(tmp_path, STOCK)).to_canonical()
    (ln,) = _lines(c, "process_welding_co2", "co2")
    # 1,200 kg on hand 2024-12-31 (opening) + 16,800 − 900 = 17,100 kg × 100 % CO2 = 17.100 t (not 15.900)
    assert (ln["activity"]["quantity"], ln["tco2e"]) == ("17100.000000", "17.100")
    assert ln["activity"]["balance"] == {"opening_stock": "1200.000000", "purchased": "16800.000000",
                                         "closing_stock": "900.000000", "sold": "0.000000"}
    assert sorted(ln["activity"]["rows"]) == ["activity.csv:2", "activity.csv:3", "activity.csv:4"]
    assert "activity.csv:2 closing_stock of 2024-12-31 counted as the opening stock of 2025-01-01" in \
        ln["activity"]["origin"]
    assert c["activity_unused"] == [{"file": "activity.csv", "row": 5, "kind": "production", "item": "P-PUMP",
                                     "reason": "production output: not an emission source (used by the footprint "
                                               "and unit-consumption figures)"}]
    late = STOCK + "welding_gas,co2,2024-11-30,2024-11-30,100,kg,purchased,WS-CW\n"
    with pytest.raises(ActivityFileError) as e:
        compute_inventory(*Y25, methodology="cn-machinery-2015", activity=_act(tmp_path, late, "late.csv"))
    assert "late.csv:6:period_start" in str(e.value) and "is outside the inventory period" in str(e.value)


# -- rounding: one rule, the same figure everywhere --------------------------------------------------------------
def test_every_sum_is_a_sum_of_the_published_lines(tmp_path):
    # three workshops with 0.6 MWh each × 0.5306 = 0.31836 t -> published 0.318 t each; every sum is
    # 3 × 0.318 = 0.954 t (rounding the unrounded sum 0.95508 would print 0.955 and disagree with the lines)
    a = _act(tmp_path, """
kind,item,period_start,period_end,quantity,unit,workshop
electricity_statement,total,2024-03-01,2024-03-31,0.6,MWh,WS-A
electricity_statement,total,2024-03-01,2024-03-31,0.6,MWh,WS-B
electricity_statement,total,2024-03-01,2024-03-31,0.6,MWh,WS-C
""")
    c = compute_inventory(D(2024, 3, 1), D(2024, 3, 31), methodology="iso-14064-1-2018", activity=a,
                          level="workshop").to_canonical()
    assert [ln["tco2e"] for ln in _lines(c, "purchased_electricity")] == ["0.318", "0.318", "0.318"]
    assert c["totals"]["scope2_location"]["tco2e"] == "0.954"
    assert c["totals"]["iso_categories"]["2"]["tco2e"] == "0.954"
    assert c["views"]["location_based"]["scope2_tco2e"] == "0.954"
    # the report's own sums of the lines (models.reports.content.summary) give the same figure
    from models.reports.content import summary
    from models.rounding import dec

    assert dec(summary(c)["by_iso_category"]["2"], 3) == c["totals"]["iso_categories"]["2"]["tco2e"]


# -- the sealed package is what computes ----------------------------------------------------------------------
def _tampered(tmp_path):
    """A copy of cn-machinery-2015 whose combustion formula drops the oxidation rate (one formula changed)."""
    pkg = tmp_path / "cn-machinery-2015"
    shutil.copytree(PACKAGES_DIR / "cn-machinery-2015", pkg)
    rules = pkg / "rules.yaml"
    text = rules.read_text(encoding="utf-8")
    assert text.count('formula: "AD * NCV * CC * OF * CO2_PER_C"') == 2
    rules.write_text(text.replace('formula: "AD * NCV * CC * OF * CO2_PER_C"', 'formula: "AD * NCV * CC * CO2_PER_C"', 1),
                     encoding="utf-8")
    return pkg


def test_without_the_guard_a_changed_formula_changes_the_result(tmp_path):
    from models.packages import reseal_dir

    pkg = _tampered(tmp_path)
    with pytest.raises(MethodologyError, match="rules.yaml hashes to .* but manifest.yaml says"):
        load_methodology(pkg)
    reseal_dir(pkg)  # whoever changed it also re-sealed the manifest: only the chain can tell now
    meth = load_methodology(pkg)
    assert meth.sha256 != load_methodology("cn-machinery-2015").sha256
    c = compute_inventory(*Y22, methodology=meth, activity=_act(tmp_path, PUBLISHED)).to_canonical()
    # without the oxidation rate: 8.4082 × 389.31 × 0.0153 × 44/12 = 183.63754 t (the sealed package: 181.801)
    assert _lines(c, "stationary_combustion")[0]["tco2e"] == "183.638"


@pytest.mark.requires_anvil
@pytest.mark.slow
def test_the_guard_refuses_a_changed_formula_against_the_hash_on_a_real_chain(tmp_path):
    from chain import methodology as cm
    from chain.deploy import deploy_contracts
    from chain.node import connect
    from chain.registry import METHODOLOGY_REGISTRY, from_deployment
    from models.packages import reseal_dir
    from tanjian.simulator.anvil import start_anvil
    from workspace.errors import ChainError

    sealed = PACKAGES_DIR / "cn-machinery-2015"
    with start_anvil() as node:
        w3 = connect(node.rpc_url)
        association = w3.eth.accounts[1]
        info = deploy_contracts(w3, w3.eth.accounts[0], association=association)
        reg = from_deployment(w3, info, METHODOLOGY_REGISTRY)
        cm.publish(w3, reg, association, sealed, "cn-machinery-2015", "2015.2", D(2015, 1, 1))
        assert cm.require_matching(sealed, reg, "cn-machinery-2015", D(2025, 6, 1)).package_sha256 == \
            load_methodology("cn-machinery-2015").sha256
        pkg = _tampered(tmp_path)
        reseal_dir(pkg)
        with pytest.raises(ChainError) as e:
            cm.require_matching(pkg, reg, "cn-machinery-2015", D(2025, 6, 1))
        assert cm.package_sha256(pkg) in str(e.value) and "refusing to account" in str(e.value)


def test_a_package_with_python_or_a_bad_rule_is_refused(tmp_path):
    from models.packages import reseal_dir

    pkg = tmp_path / "p"
    shutil.copytree(PACKAGES_DIR / "ghg-protocol-corporate", pkg)
    (pkg / "rules.py").write_text("def combustion(): return 0\n")
    reseal_dir(pkg)
    with pytest.raises(MethodologyError, match="rules.py is executable code"):
        load_methodology(pkg)
    (pkg / "rules.py").unlink()
    rules = pkg / "rules.yaml"
    rules.write_text(rules.read_text(encoding="utf-8").replace('formula: "AD * EF"', 'formula: "__import__(1)"'),
                     encoding="utf-8")
    reseal_dir(pkg)
    with pytest.raises(MethodologyError, match=r"source purchased_heat: formula .* is not allowed"):
        load_methodology(pkg)
    rules.write_text(rules.read_text(encoding="utf-8").replace('formula: "__import__(1)"', 'formula: "AD * EFF"'),
                     encoding="utf-8")
    reseal_dir(pkg)
    with pytest.raises(MethodologyError, match="names EFF: neither AD, a factor role of the source nor a constant"):
        load_methodology(pkg)
    rules.write_text(rules.read_text(encoding="utf-8").replace('formula: "AD * EFF"', 'formula: "AD * EF"')
                     .replace('NCV: "{prefix}_ncv"', 'NCV: "{fuel}_ncv"', 1), encoding="utf-8")
    reseal_dir(pkg)
    with pytest.raises(MethodologyError, match=r"factors.NCV: template '\{fuel\}_ncv' may use"):
        load_methodology(pkg)


def test_no_factor_for_a_role_names_the_factor(tmp_path):
    # coal under the GHG Protocol: the scope 3 upstream row of raw coal does not exist in the library
    a = _act(tmp_path, "kind,item,period_start,period_end,quantity,unit,use\n"
                       "fuel,raw_coal,2024-01-01,2024-12-31,10,t,stationary")
    with pytest.raises(FactorError, match="upstream_raw_coal"):
        compute_inventory(*Y24, methodology="ghg-protocol-corporate", activity=a, allow_unverified=True)


def test_the_series_along_time_evaluate_the_same_package_formula(tmp_path):
    from models.combustion import natural_gas_emission_factor
    from models.packages import reseal_dir

    # guideline: 0.038931 GJ/Nm3 × 0.0153 tC/GJ × 0.99 × 44/12 = 0.0021621888 t = 2.1621888 kgCO2/Nm3
    assert natural_gas_emission_factor(0.038931, 0.0153, 0.99) == pytest.approx(2.1621888, rel=1e-7)
    pkg = _tampered(tmp_path)
    reseal_dir(pkg)
    # the changed formula (no oxidation rate): 0.038931 × 0.0153 × 44/12 × 1000 = 2.1840291 kgCO2/Nm3
    assert natural_gas_emission_factor(0.038931, 0.0153, 0.99, methodology=str(pkg)) == \
        pytest.approx(2.1840291, rel=1e-7)


def test_the_series_take_a_loaded_package_too(tmp_path):
    import pandas as pd
    import xarray as xr

    from models.combustion import natural_gas_combustion
    from models.scope2 import electricity_location_based

    meth = load_methodology("cn-machinery-2015")
    t = pd.date_range("2024-03-01", periods=2, freq="h")
    gas = xr.DataArray([100.0, 0.0], coords={"time": t}, dims="time",
                       attrs={"units": "Nm3", "timezone": "Asia/Shanghai"})
    el = xr.DataArray([1000.0, 0.0], coords={"time": t}, dims="time",
                      attrs={"units": "kWh", "timezone": "Asia/Shanghai"})
    # 100 Nm3 × 2.1621888 kgCO2/Nm3 = 216.21888 kg; 1000 kWh × 0.5306 kg/kWh = 530.6 kg
    assert float(natural_gas_combustion(gas, methodology=meth).sum()) == pytest.approx(216.21888, rel=1e-7)
    assert float(electricity_location_based(el, methodology=meth).sum()) == pytest.approx(530.6)
