"""The error an inventory raises when it cannot be computed from its inputs.

Factor problems are :class:`models.factors.FactorError` (and its subclasses), unit problems
:class:`workspace.units.UnitMismatch`, bad activity rows
:class:`models.activity_input.ActivityFileError`; everything else the accounting refuses is an
:class:`InventoryError`.
"""

from __future__ import annotations

from workspace.errors import TanjianError

__all__ = ["InventoryError"]


class InventoryError(TanjianError):
    """The inventory cannot be computed from the given inputs."""
