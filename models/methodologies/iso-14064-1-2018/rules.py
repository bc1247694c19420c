"""Calculation rules of methodology iso-14064-1-2018.

ISO 14064-1:2018, categories 1-6, uncertainty assessment (clause 8.3) with IPCC error propagation.
Same factors as ghg-protocol-corporate; results are grouped by ISO category.

This module is data + formulas; models.inventory executes it after checking its hash against
manifest.yaml. Names used by the engine: FUEL_FACTOR_PREFIX, GRID, COMPLIANCE_GRID, HEAT_FACTOR,
GWP_SET, SCOPE3, MARKET_BASED, WELDING_SHARE_PREFIX, and the functions below.
"""

#: fuel item -> prefix of its factor ids (<prefix>_ncv, <prefix>_carbon_content, <prefix>_oxidation)
FUEL_FACTOR_PREFIX = {"natural_gas": "natural_gas", "diesel": "diesel", "gasoline": "gasoline", "lpg": "lpg"}
#: location-based grid factor (factor_id, region): MEE/NBS national average, vintage-matched
GRID = ("grid_average", "CN")
#: Chinese compliance-reporting grid factor (green power not deducted)
COMPLIANCE_GRID = ("grid_average_compliance", "CN")
#: purchased heat factor id
HEAT_FACTOR = "heat_emission_factor"
#: GWP set of gwp_<set>_<gas> factor ids
GWP_SET = "ar5"
#: whether scope 3 category 3 (upstream of fuels, T&D losses) is part of the result
SCOPE3 = True
#: whether a market-based scope 2 total is a required part of the result (it is always shown)
MARKET_BASED = True
#: welding gas item -> factor id of its default CO2 mass share = WELDING_SHARE_PREFIX + item
WELDING_SHARE_PREFIX = "welding_co2_share_"


def combustion(fc, ncv, cc, of, co2_per_c):
    """Fuel combustion CO2: E = FC x NCV x CC x OF x 44/12 (pint quantities in, tCO2 out)."""
    return fc * ncv * cc * of * co2_per_c


def stock_balance(opening, purchased, closing, sold):
    """Quantity used in the period: opening + purchased - closing - sold."""
    return opening + purchased - closing - sold


def welding_co2(used_mass, co2_share):
    """Process CO2 from shielding gas: mass of gas used x CO2 mass share (all released)."""
    return used_mass * co2_share


def fgas_mass_balance(opening, purchased, closing, sold, recovered):
    """Mass of SF6/HFC/PFC emitted: opening + purchased - closing - sold (charged into products
    that leave the plant count as sold) - recovered (sent back for destruction or recycling)."""
    return opening + purchased - closing - sold - recovered
