"""What the engine (:mod:`models.sources`, :mod:`models.scope2`) computes with: the methodology package, the
factor resolver, the uncertainties, the inventory period and the GWP set.

:func:`models.inventory.compute_inventory` makes one :class:`Context` per inventory and hands it to each builder;
the builders never import the engine, so the engine sits above them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from models.factors.resolution import Resolver
    from models.packages import Methodology

__all__ = ["Context"]


class Context:
    """What every source builder computes with: the methodology, the factor resolver, the
    uncertainties [%], the inventory period and the GWP set (``sar``, ``ar4``, ``ar5``, ``ar6``)."""

    def __init__(self, meth: Methodology, res: Resolver, unc: dict[str, float], start, end, gwp: str | None = None):
        self.m, self.r, self.u, self.start, self.end = meth, res, unc, start, end
        self.gwp = gwp or meth.rules.gwp_default
