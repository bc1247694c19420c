"""Models: the accounting of emissions over what the store and the activity files hold.

Modules
-------
factors
    Versioned, sourced emission-factor library (:class:`models.factors.FactorLibrary`), with
    ``resolution`` (the row a line uses for its whole period), ``measured`` (a plant's own values)
    and ``uncertainty`` (default uncertainties).
series
    Emissions along time (KPIs, the big screen, the allowance): factor series and their provenance;
    the formulas are in ``scope2`` (electricity) and ``combustion`` (natural gas).
packages
    Methodology packages (``models/methodologies/<id>/``) verified against their manifests.
activity_input
    Validation of activity records (the ``workspace.business.contract`` column contract) for the inventory.
inventory
    The engine of the GHG inventory (:func:`models.inventory.compute_inventory`) and restatement.
lines
    The result: :class:`models.lines.Line`, :class:`models.lines.Inventory` and its canonical form.
context
    What every source builder computes with (:class:`models.context.Context`).
combustion, process, scope2
    One module per source family: fuels; welding CO2 and F-gases; purchased electricity and heat
    (each with its period lines and, for electricity and natural gas, its form along time).
metered
    Activity from the store (energy per group and month with its data quality).
records, rounding
    Activity records as the builders read them; the one rounding rule of published figures.
footprint
    Product carbon footprint (:func:`models.footprint.footprint`).
cli
    ``tanjian inventory`` and ``tanjian footprint``.

Units: :mod:`workspace.units` (the workspace's one pint registry).
"""
