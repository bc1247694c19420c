"""Verifying a report package on chain, check by check, the failing one named.

Checks, in order (once one fails, the later ones are skipped):

``package``      the folder is a readable ``tanjian.park-package/1`` (:mod:`models.park.package`)
``format`` .. ``gateway``
                 the proof checks of :func:`chain.verify.verify_bundle` with figures.json as the
                 document: its SHA-256 is recorded by a ``document`` batch (``document``) that is in
                 the enterprise's ledger (``leaf``, ``signature``, ``inclusion``, ``consistency``),
                 whose root is anchored in the consortium's AnchorRegistry (``chain_id``, ``anchor``)
                 by an active gateway registered in its DeviceRegistry (``gateway``)
``enterprise``   that root is anchored for the enterprise the figures are of (no borrowing of
                 another plant's proofs)
``methodology``  the figures name the version of their methodology that the association's
                 MethodologyRegistry holds active at the start of the period, with the same hash
``quota``        the regulator has set the enterprise's quota for the year in the QuotaRegistry
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from web3 import Web3

from chain.methodology import active
from chain.registry import ANCHOR_REGISTRY, METHODOLOGY_REGISTRY, QUOTA_REGISTRY, from_deployment, id32
from chain.verify import CHECKS, FAIL, PASS, SKIP, Check, verify_bundle

from .package import Package

PARK_CHECKS = ("package", *CHECKS[:2], "document", *CHECKS[2:], "enterprise", "methodology", "quota")


@dataclass
class PackageVerdict:
    """The checks of one package, and what the park may aggregate from it."""

    enterprise: str
    period: str
    sector: str
    checks: list[Check] = field(default_factory=list)
    emissions_kg: dict = field(default_factory=dict)
    quota_kg: int | None = None

    @property
    def ok(self) -> bool:
        return [c.name for c in self.checks] == list(PARK_CHECKS) and all(c.ok for c in self.checks)

    @property
    def failed(self) -> str | None:
        """Name of the first failed check, or None."""
        return next((c.name for c in self.checks if c.status == FAIL), None)

    @property
    def status(self) -> str:
        return "verified" if self.ok else f"failed: {self.failed}" if self.failed else "incomplete"

    def detail(self) -> str:
        """The detail of the failing check (or of the last one)."""
        bad = [c for c in self.checks if c.status == FAIL]
        return (bad or self.checks)[-1 if not bad else 0].detail if self.checks else ""


def period_start(period: str) -> dt.datetime:
    y, m = (int(x) for x in period.split("-"))
    return dt.datetime(y, m, 1, tzinfo=dt.timezone.utc)


def verify_package(pkg: Package, w3: Web3, deployment: dict) -> PackageVerdict:
    """Run :data:`PARK_CHECKS` on one package against the consortium's deployment (``deployment.json``)."""
    v = PackageVerdict(pkg.enterprise, pkg.period, pkg.sector)
    if pkg.problem:
        v.checks.append(Check("package", FAIL, pkg.problem))
        v.checks += [Check(n, SKIP, "not run: 'package' failed") for n in PARK_CHECKS[1:]]
        return v
    v.checks.append(Check("package", PASS, f"{pkg.folder.name}: figures, batch and bundle readable"))
    anchor_addr = deployment["contracts"][ANCHOR_REGISTRY]["address"]
    proof = verify_bundle(pkg.batch_bytes, pkg.bundle, w3, expected_contract=anchor_addr,
                          document=pkg.figures_bytes)
    v.checks += proof.checks
    steps = [("enterprise", _enterprise), ("methodology", _methodology), ("quota", _quota)]
    failed = proof.failed or (None if proof.ok else "gateway")
    for name, fn in steps:
        if failed:
            v.checks.append(Check(name, SKIP, f"not run: '{failed}' failed"))
            continue
        ok, detail = fn(pkg, w3, deployment, v)
        v.checks.append(Check(name, PASS if ok else FAIL, detail))
        failed = None if ok else name
    if v.ok:
        v.emissions_kg = {k: float(x) for k, x in pkg.figures["emissions_kg"].items()}
    return v


def _enterprise(pkg: Package, w3, deployment, v) -> tuple[bool, str]:
    plant = pkg.bundle["anchor"]["plant"]
    if plant != pkg.enterprise:
        return False, f"the proof is anchored for {plant!r}, the figures are of {pkg.enterprise!r}"
    return True, f"anchored for {plant!r}, the enterprise of the figures"


def _methodology(pkg: Package, w3, deployment, v) -> tuple[bool, str]:
    m = pkg.figures["methodology"]
    registry = from_deployment(w3, deployment, METHODOLOGY_REGISTRY)
    when = period_start(pkg.period)
    on = active(registry, str(m.get("id")), when)
    if on is None:
        return False, f"no version of methodology {m.get('id')!r} is active on chain at {when.date()}"
    if str(m.get("sha256", "")).lower().removeprefix("0x") != on.package_sha256 or m.get("version") != on.version:
        return False, (f"figures computed with {m.get('id')} version {m.get('version')!r} (sha256 {m.get('sha256')}); "
                       f"the association's active version at {when.date()} is {on.version!r} "
                       f"(sha256 {on.package_sha256})")
    return True, f"{on.id} version {on.version!r} (sha256 {on.package_sha256[:12]}…) active at {when.date()}"


def _quota(pkg: Package, w3, deployment, v) -> tuple[bool, str]:
    registry = from_deployment(w3, deployment, QUOTA_REGISTRY)
    year = int(pkg.period[:4])
    amount, revisions, block, _, _ = registry.functions.quotaOf(id32(pkg.enterprise), year).call()
    if not revisions:
        return False, f"the regulator has set no quota for {pkg.enterprise!r} in {year} ({registry.address})"
    v.quota_kg = int(amount)
    return True, f"quota {int(amount)} kg CO2e for {year} (revision {revisions}, block {block})"
