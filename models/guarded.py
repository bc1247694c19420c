"""The active methodology package, loaded, with its on-chain status: what every figure is computed with.

:func:`chain.methodology.guard` decides which package is active (synced from the chain, configured, or the
packaged default under ``models/methodologies/``) and whether it was checked on chain; this module only
supplies the packaged default and loads the package it names (with the factor file a synced package came
with: :func:`with_own_factor_file`), so inventory, report, kpi, allowance,
footprint, the big screen and the notebooks all go through the same guard::

    meth, g = active_methodology(cfg, "cn-machinery-2015")        # raises on a mismatch
    inventory = compute_inventory(..., methodology=meth)
    g.label  # 'checked ✓' | 'offline, not checked' | 'mismatch ✗'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chain.methodology import Guarded, guard
from models.packages import IDS, PACKAGES_DIR, Methodology, load_methodology

if TYPE_CHECKING:
    from workspace.config import Config

__all__ = ["DEFAULT_ID", "active_methodology", "default_id", "describe"]

#: The methodology used when neither the caller nor the configuration names one.
DEFAULT_ID = "ghg-protocol-corporate"


def default_id(cfg: Config | None, fallback: str = DEFAULT_ID) -> str:
    """The configuration's pinned methodology (``chain.methodology_id``), else ``fallback``."""
    pinned = cfg.chain.methodology_id if cfg is not None else None
    return pinned or fallback


def active_methodology(cfg: Config | None, methodology_id: str | None = None, *,
                       strict: bool = True) -> tuple[Methodology, Guarded]:
    """(loaded package, guard result) of the active package of ``methodology_id``.

    Parameters
    ----------
    cfg : Config or None
        None for desk work without a workspace (nothing is checked on chain then).
    methodology_id : str, optional
        Default :func:`default_id`.
    strict : bool
        Raise on a mismatch with the chain (accounting) instead of returning status ``mismatch`` (displays).

    Raises
    ------
    workspace.errors.ChainError
        ``strict`` and the package differs from the version published on chain.
    models.packages.MethodologyError
        The package is unknown or does not match its own manifest.
    """
    mid = methodology_id or default_id(cfg)
    default_dir = PACKAGES_DIR / mid if mid in IDS else None
    g = guard(cfg, default_dir, methodology_id=mid, strict=strict)
    meth = load_methodology(g.package_dir)
    return with_own_factor_file(meth), g


def with_own_factor_file(meth: Methodology) -> Methodology:
    """``meth`` with :attr:`~models.packages.Methodology.factor_path` set when its package was synced with
    the factor file it seals (:mod:`chain.methodology_sync`); the accounting then computes with that file
    (checked against the seal when the library is loaded: :func:`models.packages.check_library`)."""
    import dataclasses

    from chain.methodology_sync import synced_factor_file

    for name in sorted(meth.factor_files):
        p = synced_factor_file(meth.path, name)
        if p is not None:
            return dataclasses.replace(meth, factor_path=p)
    return meth


def describe(meth: Methodology, g: Guarded) -> str:
    """One line naming the methodology, its version and hash and the on-chain status (what outputs print)."""
    return (f"methodology {meth.id} {meth.version} (package sha256 {meth.sha256}, {g.origin}): on chain "
            f"{g.label}" + ("" if g.status == "checked" else f" ({g.reason})"))
