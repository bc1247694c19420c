"""tanjian core, the ground floor of the one-way house: configuration and site model, meter families, units,
the journal and its keeper, the versioned store with its query API, business files and evidence.

Nothing here imports the floors above it (chain, collectors, models, dashboards, the app ``tanjian``).
"""

__version__ = "0.1.0"
