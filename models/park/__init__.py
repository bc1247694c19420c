"""The park: enterprises' report packages verified on chain and aggregated, never their raw data.

An enterprise hands the park a *report package* (:mod:`models.park.package`): the canonical JSON of its
figures, the report files, the journal batch that records the figures' SHA-256 in its ledger and that
batch's proof bundle. The park checks each package against the chain (:mod:`models.park.verify`) and
aggregates the figures of the verified ones (:mod:`models.park.views`).

Why ``models``: the park is an *output* of the house (it computes park-level figures from reports),
it needs the chain's verification (``chain`` is below ``models``) and nothing of the collectors. It
never imports ``workspace.store`` (the import-linter contract ``park-holds-no-store`` in
``pyproject.toml`` forbids it), and its configuration has no store path: only a drop folder and the
chain (node URL and the consortium's deployment record).
"""

from .package import PACKAGE_SCHEMA, Package, build_package, load_package, scan_drop, submit
from .verify import PARK_CHECKS, PackageVerdict, verify_package
from .views import by_enterprise, by_month, by_sector, lateness, quota_position, status_table

__all__ = ["PACKAGE_SCHEMA", "PARK_CHECKS", "Package", "PackageVerdict", "build_package", "by_enterprise",
           "by_month", "by_sector", "lateness", "load_package", "quota_position", "scan_drop", "status_table",
           "submit", "verify_package"]
