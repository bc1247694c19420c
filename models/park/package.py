"""Report packages: what an enterprise submits to the park, and the park's drop folder.

A package is a folder ``<drop>/<enterprise>/<period>/`` holding::

    package.json      {"schema": "tanjian.park-package/1", "figures": "figures.json",
                       "batch": "<journal batch file>", "bundle": "<its proof bundle>", "reports": [...]}
    figures.json      canonical JSON (RFC 8785) of the figures, schema ``tanjian.park-figures/1``:
                      enterprise, sector, period ("YYYY-MM"), methodology {id, version, sha256},
                      emissions_kg {scope1, scope2, total}
    <batch>, <bundle> the ``document`` batch of the enterprise's journal that records the SHA-256 of
                      figures.json, and its proof bundle (``tanjian.proof/2``, :mod:`chain.bundle`)
    reports/...       the report files as issued (PDF, XLSX, ...), for a person to read

Only figures travel: no reading, no minute, no path to the plant's store.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from workspace.errors import TanjianError

from ..reports.render import canonical_json

PACKAGE_SCHEMA = "tanjian.park-package/1"
FIGURES_SCHEMA = "tanjian.park-figures/1"
MANIFEST = "package.json"
FIGURES = "figures.json"
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class PackageError(TanjianError):
    """A package that cannot be read (named by its folder and the field at fault)."""


@dataclass
class Package:
    """A package as read from the drop folder; ``problem`` says why it is unreadable (else None)."""

    folder: Path
    enterprise: str
    period: str
    figures_bytes: bytes = b""
    figures: dict = field(default_factory=dict)
    batch_bytes: bytes = b""
    bundle: dict = field(default_factory=dict)
    reports: list[str] = field(default_factory=list)
    problem: str | None = None

    @property
    def sector(self) -> str:
        return str(self.figures.get("sector", "?"))


def figures_json(enterprise: str, sector: str, period: str, methodology: dict, emissions_kg: dict) -> bytes:
    """Canonical bytes of an enterprise's figures for one month (``tanjian.park-figures/1``).

    ``methodology`` is ``{"id", "version", "sha256"}`` (the active on-chain version it was computed with);
    ``emissions_kg`` maps scope names to kg CO2e and must hold ``total``.
    """
    if not _PERIOD.match(period):
        raise PackageError(f"period {period!r} is not YYYY-MM")
    if "total" not in emissions_kg:
        raise PackageError("emissions_kg has no 'total'")
    return canonical_json({"schema": FIGURES_SCHEMA, "enterprise": enterprise, "sector": sector,
                           "period": period, "methodology": dict(methodology),
                           "emissions_kg": {k: float(v) for k, v in emissions_kg.items()}})


def build_package(out_dir: str | os.PathLike, figures: bytes, batch_path: str | os.PathLike,
                  bundle_path: str | os.PathLike, reports: list[str | os.PathLike] = ()) -> Path:
    """Assemble a package folder ``out_dir`` from the ledgered figures, their batch and bundle; returns it."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / FIGURES).write_bytes(figures)
    shutil.copyfile(batch_path, out / Path(batch_path).name)
    shutil.copyfile(bundle_path, out / Path(bundle_path).name)
    names = []
    if reports:
        (out / "reports").mkdir(exist_ok=True)
        for r in reports:
            shutil.copyfile(r, out / "reports" / Path(r).name)
            names.append(f"reports/{Path(r).name}")
    manifest = {"schema": PACKAGE_SCHEMA, "figures": FIGURES, "batch": Path(batch_path).name,
                "bundle": Path(bundle_path).name, "reports": names,
                "sha256": {FIGURES: hashlib.sha256(figures).hexdigest()}}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
    return out


def submit(package_dir: str | os.PathLike, drop: str | os.PathLike) -> Path:
    """Copy a package into the park's drop folder as ``<drop>/<enterprise>/<period>/``; returns that folder.

    The copy is written beside and renamed into place, so the park never reads half a package.
    """
    pkg = load_package(package_dir)
    if pkg.problem:
        raise PackageError(pkg.problem)
    dest = Path(drop) / pkg.enterprise / pkg.period
    tmp = dest.with_name(f".{pkg.period}.incoming")
    if tmp.exists():
        shutil.rmtree(tmp)
    shutil.copytree(package_dir, tmp)
    if dest.exists():
        shutil.rmtree(dest)  # a resubmission replaces the earlier package of the same month
    os.replace(tmp, dest)
    return dest


def load_package(folder: str | os.PathLike) -> Package:
    """Read a package folder; a problem is recorded on the package (never raised) with the file and field."""
    folder = Path(folder)
    pkg = Package(folder, enterprise=folder.parent.name, period=folder.name)
    where = folder / MANIFEST
    try:
        manifest = json.loads(where.read_text("utf-8"))
        if manifest.get("schema") != PACKAGE_SCHEMA:
            raise PackageError(f"{where}:schema: {manifest.get('schema')!r} is not {PACKAGE_SCHEMA!r}")
        for key in ("figures", "batch", "bundle"):
            if not isinstance(manifest.get(key), str) or not (folder / manifest[key]).is_file():
                raise PackageError(f"{where}:{key}: names no file of the package ({manifest.get(key)!r})")
        pkg.figures_bytes = (folder / manifest["figures"]).read_bytes()
        pkg.figures = json.loads(pkg.figures_bytes)
        fwhere = folder / manifest["figures"]
        if pkg.figures.get("schema") != FIGURES_SCHEMA:
            raise PackageError(f"{fwhere}:schema: {pkg.figures.get('schema')!r} is not {FIGURES_SCHEMA!r}")
        for key in ("enterprise", "period", "methodology", "emissions_kg"):
            if key not in pkg.figures:
                raise PackageError(f"{fwhere}:{key}: missing")
        pkg.enterprise, pkg.period = str(pkg.figures["enterprise"]), str(pkg.figures["period"])
        if not _PERIOD.match(pkg.period):
            raise PackageError(f"{fwhere}:period: {pkg.period!r} is not YYYY-MM")
        pkg.batch_bytes = (folder / manifest["batch"]).read_bytes()
        pkg.bundle = json.loads((folder / manifest["bundle"]).read_text("utf-8"))
        pkg.reports = list(manifest.get("reports") or [])
    except PackageError as exc:
        pkg.problem = str(exc)
    except (OSError, ValueError) as exc:
        pkg.problem = f"{folder}: unreadable package: {type(exc).__name__}: {exc}"
    return pkg


def scan_drop(drop: str | os.PathLike) -> list[Package]:
    """Every package in the drop folder (``<enterprise>/<period>/``), sorted; folders being written are skipped."""
    drop = Path(drop)
    if not drop.is_dir():
        return []
    return [load_package(p) for p in sorted(drop.glob("*/*")) if p.is_dir() and not p.name.startswith(".")]
