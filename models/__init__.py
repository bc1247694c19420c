"""Models: pure functions over xarray/pandas for emission factors and emissions.

Modules
-------
factors
    Versioned, sourced emission-factor library (:class:`models.factors.FactorLibrary`).
emissions
    Location-based electricity and natural-gas combustion emissions.
"""
