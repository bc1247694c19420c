"""tanjian core: configuration, site model, journal, versioned store, query API and CLI."""

__version__ = "0.1.0"
