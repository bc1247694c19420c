"""Models: pure functions over xarray/pandas for emission factors and emissions.

Modules
-------
factors
    Versioned, sourced emission-factor library (:class:`models.factors.FactorLibrary`).
emissions
    Location-based electricity and natural-gas combustion emissions.
units
    The pint unit registry of the accounting core (Nm3, 10^4 Nm3, tC, tCO2e, GEC …).
packages
    Methodology packages (``models/methodologies/<id>/``) verified against their manifests.
activity_input
    Validation of activity records (the ``workspace.activity`` column contract) for the inventory.
inventory
    The GHG inventory (:func:`models.inventory.compute_inventory`), restatement and product footprint.
cli
    ``tanjian inventory`` and ``tanjian footprint``.
"""
