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
packages, rulebook, expression
    Methodology packages (``models/methodologies/<id>/``: manifest + declarative ``rules.yaml``) verified against
    their manifests; the rules read and checked; the formula language (a safe arithmetic over named quantities).
activity_input
    Validation of activity records (the ``workspace.business.contract`` column contract) for the inventory.
inventory, sources
    The GHG inventory (:func:`models.inventory.compute_inventory`: routing, views, totals) and restatement; the one
    engine that evaluates a package source's formula for a group of activity records (:mod:`models.sources`).
lines
    The result: :class:`models.lines.Line`, :class:`models.lines.Inventory` and its canonical form.
context
    What the engine computes with (:class:`models.context.Context`).
combustion, scope2
    Generic machinery around the package's formulas: natural gas along time; electricity records from
    statements, the market-based allocation of instruments, electricity along time.
metered
    Activity from the store (energy per group and month with its data quality).
records, rounding
    Activity records of the period (the stock-take rule); the one rounding rule of published figures.
footprint
    Product carbon footprint (:func:`models.footprint.footprint`).
cli
    ``tanjian inventory`` and ``tanjian footprint``.

Units: :mod:`workspace.units` (the workspace's one pint registry).
"""
