"""Methodology packages: ``models/methodologies/<id>/`` = ``manifest.yaml`` + ``rules.yaml``.

``manifest.yaml`` holds ``id``, ``version``, ``title``, ``sources`` (list of citations),
``files`` (``{name: sha256}`` of every other file of the package) and ``factor_files``
(``{name: sha256}`` of the factor library the package was released with). The package hash is
:func:`chain.methodology.package_sha256` of the directory (the same hash MethodologyRegistry
publishes), so it covers the manifest and, through it, the factor file hashes.

:func:`load_methodology` refuses a package whose files do not match its manifest (a changed or
an extra file), then reads ``rules.yaml`` (:mod:`models.rulebook`: declarative rules, formulas as
expressions that :mod:`models.expression` evaluates; a package holds no executable code, and a
``.py`` file in it is refused). The bytes hashed are the bytes that compute. A result made
with the packaged default factor file must use the file the manifest names;
:func:`check_library` refuses otherwise. Another library (a restatement) is allowed and its own
SHA-256 is recorded with the result.

After editing a package or the packaged factor file, re-seal the manifests::

    tanjian methodology packages --reseal
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from dataclasses import dataclass
from pathlib import Path

import yaml

from models.factors import DEFAULT_PATH, FactorLibrary
from models.rulebook import GWP_SETS, Rules, RulesError, read_rules
from workspace.errors import TanjianError

__all__ = ["IDS", "PACKAGES_DIR", "GwpRefused", "Methodology", "MethodologyError", "check_library", "load_methodology",
           "reseal", "reseal_dir", "series_methodology"]

PACKAGES_DIR = Path(__file__).resolve().parent / "methodologies"
IDS = ("cn-machinery-2015", "gbt-32151.29-2024", "ghg-protocol-corporate", "iso-14064-1-2018")


class MethodologyError(TanjianError):
    """A methodology package is unknown, malformed or does not match its manifest."""


class GwpRefused(MethodologyError):
    """A GWP set the methodology does not allow (or an unknown one) was asked for."""


@dataclass(frozen=True)
class Methodology:
    """A verified methodology package.

    Attributes
    ----------
    id, version, title : str
    sources : tuple of str
    sha256 : str
        Package hash (hex), :func:`chain.methodology.package_sha256` of ``path``.
    path : pathlib.Path
    factor_files : dict
        ``{file name: sha256}`` of the factor library it was sealed with.
    rules : models.rulebook.Rules
        The package's ``rules.yaml``, read and checked.
    rules_sha256 : str
        SHA-256 of ``rules.yaml``.
    """

    id: str
    version: str
    title: str
    sources: tuple[str, ...]
    sha256: str
    path: Path
    factor_files: dict
    rules: Rules
    rules_sha256: str = ""
    #: the factor file that came with a synced package (:func:`chain.methodology_sync.synced_factor_file`);
    #: the inventory's default library then (None: the packaged ``models/data`` file)
    factor_path: Path | None = None

    def gwp_set(self, requested: str | None) -> str:
        """The GWP set an inventory uses: ``requested`` (``AR4``, ``AR5``, ``AR6``, ``SAR``; any case) if the
        package allows it, else the package's default when None.

        Raises
        ------
        GwpRefused
            A :class:`MethodologyError` naming the sets the package allows and why (its ``gwp.note``).
        """
        if requested is None:
            return self.rules.gwp_default
        want = str(requested).strip().lower()
        if want not in GWP_SETS:
            raise GwpRefused(f"GWP set {requested!r} is unknown; known: "
                                   f"{', '.join(x.upper() for x in GWP_SETS)}")
        if want not in self.rules.gwp_allowed:
            raise GwpRefused(
                f"methodology {self.id} {self.version} does not allow GWP set {want.upper()}: it allows "
                f"{', '.join(x.upper() for x in self.rules.gwp_allowed)}. {self.rules.gwp_note}".strip())
        return want


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _dir(id_or_path: str | Path) -> Path:
    p = Path(id_or_path)
    if p.is_dir():
        return p
    if str(id_or_path) in IDS or (PACKAGES_DIR / str(id_or_path)).is_dir():
        return PACKAGES_DIR / str(id_or_path)
    raise MethodologyError(f"unknown methodology {id_or_path!r}; known: {', '.join(IDS)} (or a package directory)")


def load_methodology(id_or_path: str | Path) -> Methodology:
    """Load and verify a methodology package.

    Parameters
    ----------
    id_or_path : str or pathlib.Path
        One of :data:`IDS`, or a package directory.

    Raises
    ------
    MethodologyError
        If the manifest is missing or malformed, a file's hash differs from the manifest, a file is
        not listed, a file is Python, or ``rules.yaml`` is malformed. The message names the file (and both
        hashes, or the field).
    """
    from chain.methodology import package_sha256

    root = _dir(id_or_path)
    mpath = root / "manifest.yaml"
    try:
        man = yaml.safe_load(mpath.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise MethodologyError(f"methodology package {root}: cannot read manifest.yaml: {exc}") from exc
    for key in ("id", "version", "title", "sources", "files", "factor_files"):
        if not isinstance(man, dict) or key not in man:
            raise MethodologyError(f"{mpath}: field {key!r} missing")
    listed = dict(man["files"])
    present = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    for rel in present:
        if rel == "manifest.yaml":
            continue
        if rel not in listed:
            raise MethodologyError(f"methodology package {root}: file {rel} is not in manifest.yaml; refused "
                                   f"(remove it, or re-seal with tanjian methodology packages --reseal)")
        got = _sha(root / rel)
        if got != listed[rel]:
            raise MethodologyError(f"methodology package {root}: {rel} hashes to {got} but manifest.yaml says "
                                   f"{listed[rel]}; refusing a package whose files do not match its manifest")
    for rel in listed:
        if rel not in present:
            raise MethodologyError(f"methodology package {root}: {rel} listed in manifest.yaml is missing")
    py = [rel for rel in present if rel.endswith(".py")]
    if py:
        raise MethodologyError(f"methodology package {root}: {py[0]} is executable code; a package holds "
                               f"declarative rules only (rules.yaml)")
    if "rules.yaml" not in present:
        raise MethodologyError(f"methodology package {root}: rules.yaml missing")
    try:
        rules = read_rules(root / "rules.yaml")
    except RulesError as exc:
        raise MethodologyError(str(exc)) from None
    return Methodology(id=str(man["id"]), version=str(man["version"]), title=str(man["title"]),
                       sources=tuple(man["sources"]), sha256=package_sha256(root), path=root,
                       factor_files=dict(man["factor_files"]), rules=rules,
                       rules_sha256=_sha(root / "rules.yaml"))


@lru_cache(maxsize=8)
def _cached(id_or_path: str) -> Methodology:
    return load_methodology(id_or_path)


def series_methodology(methodology: str | Path | Methodology) -> Methodology:
    """The package the series along time compute with: a loaded :class:`Methodology` as it is (e.g. the active
    one of :mod:`models.guarded`), an id or directory loaded once per process (the big screen refreshes often),
    verified like :func:`load_methodology`."""
    if isinstance(methodology, Methodology):
        return methodology
    return _cached(str(methodology))


def check_library(meth: Methodology, library: FactorLibrary) -> None:
    """Refuse the packaged default factor file if it is not the one the package was sealed with.

    Raises
    ------
    MethodologyError
        If ``library`` is the packaged file and its SHA-256 differs from the manifest's.
    """
    own = meth.factor_path
    if own is not None and Path(library.path).resolve() == Path(own).resolve():
        want = meth.factor_files.get(Path(own).name)
        if want != library.sha256:
            raise MethodologyError(f"methodology {meth.id} {meth.version}: the factor file that came with it "
                                   f"({own}) hashes to {library.sha256}, but the package seals {want}: changed on "
                                   f"disk since the sync; sync again")
        return
    if Path(library.path).resolve() != DEFAULT_PATH.resolve():
        return
    want = meth.factor_files.get(DEFAULT_PATH.name)
    if want != library.sha256:
        raise MethodologyError(
            f"methodology {meth.id} {meth.version} was sealed with {DEFAULT_PATH.name} sha256 {want}, but the "
            f"packaged file is {library.sha256}; re-seal (tanjian methodology packages --reseal) or pass the "
            f"library explicitly as a restatement")


_SOURCES = {
    "cn-machinery-2015": ("cn-machinery-2015", "2015.2",
                          "机械设备制造企业温室气体排放核算方法与报告指南（试行） (NDRC 2015)",
                          ["NDRC, 发改办气候〔2015〕1722号, 2015-07 (text not read; see factor rows' status)"]),
    "gbt-32151.29-2024": ("gbt-32151.29-2024", "2024.2",
                          "GB/T 32151.29-2024 温室气体排放核算与报告要求 第29部分：机械设备制造企业",
                          ["SAMR/SAC, GB/T 32151.29-2024, published 2024-09-01, in force 2025-04-01 "
                           "(text not read: Annex C rows unverified)"]),
    "ghg-protocol-corporate": ("ghg-protocol-corporate", "2015.2",
                               "GHG Protocol Corporate Standard with Scope 2 Guidance",
                               ["WRI/WBCSD, The GHG Protocol Corporate Accounting and Reporting Standard, rev. 2004",
                                "WRI/WBCSD, GHG Protocol Scope 2 Guidance, 2015 (ch. 6-7: dual reporting, "
                                "quality criteria)",
                                "WRI/WBCSD, Corporate Value Chain (Scope 3) Standard, 2011, category 3"]),
    "iso-14064-1-2018": ("iso-14064-1-2018", "2018.2",
                         "ISO 14064-1:2018 organisation-level GHG inventory",
                         ["ISO 14064-1:2018, clauses 5.2.4 (categories 1-6), 8.3 (uncertainty), Annex B",
                          "IPCC 2006 Guidelines, Vol. 1 ch. 3 (uncertainty: error propagation, Approach 1)"]),
}


def reseal(library_path: Path = DEFAULT_PATH) -> dict[str, str]:
    """Rewrite every packaged manifest with the current file hashes; return ``{id: package sha256}``."""
    from chain.methodology import package_sha256

    out = {}
    fsha = _sha(library_path)
    for pid in IDS:
        root = PACKAGES_DIR / pid
        ident, version, title, sources = _SOURCES[pid]
        files = {p.relative_to(root).as_posix(): _sha(p) for p in sorted(root.rglob("*"))
                 if p.is_file() and p.name != "manifest.yaml" and "__pycache__" not in p.parts}
        man = {"id": ident, "version": version, "title": title, "sources": sources, "files": files,
               "factor_files": {library_path.name: fsha}}
        (root / "manifest.yaml").write_text(yaml.safe_dump(man, allow_unicode=True, sort_keys=True), encoding="utf-8")
        out[pid] = package_sha256(root)
    return out


def reseal_dir(package_dir: str | Path) -> str:
    """Rewrite one package's manifest with the current hashes of its files (id, version, title, sources and
    factor files kept); return the package hash. A re-sealed package still differs from the version published
    on chain: only :func:`chain.methodology.require_matching` tells them apart."""
    from chain.methodology import package_sha256

    root = Path(package_dir)
    man = yaml.safe_load((root / "manifest.yaml").read_text(encoding="utf-8"))
    man["files"] = {p.relative_to(root).as_posix(): _sha(p) for p in sorted(root.rglob("*"))
                    if p.is_file() and p.name != "manifest.yaml"}
    (root / "manifest.yaml").write_text(yaml.safe_dump(man, allow_unicode=True, sort_keys=True), encoding="utf-8")
    return package_sha256(root)
