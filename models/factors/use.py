"""What a line records of each parameter applied to it: :class:`FactorUse`, a library row or a plant's measured
value (:mod:`models.factors.resolution` makes them from the library, :mod:`models.factors.measured` from a lab
value)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

from workspace.units import quantity

__all__ = ["FactorUse"]


@dataclass(frozen=True)
class FactorUse:
    """One parameter applied to a line: a library row or a measured value.

    Attributes
    ----------
    id : str
        ``factor_id@region:applies_from`` of the row, or ``measured:<factor_id>:<applies_from>``.
    factor_id : str
    value : float
        As published. [unit]
    unit : str
    source : str
        Citation (issuer, document, table, published, status) or the lab report.
    valid_from, valid_to : datetime.date
    status : str
    evidence_sha256 : str or None
        SHA-256 of the evidence (lab report) of a measured value.
    role : str
        The name the package's formula gives it (``NCV``, ``CC``, ``OF``, ``GWP``, ``GRID`` …); empty
        when it was not applied through a formula.
    """

    id: str
    factor_id: str
    value: float
    unit: str
    source: str
    valid_from: dt.date
    valid_to: dt.date
    status: str
    evidence_sha256: str | None = None
    role: str = ""

    @cached_property
    def q(self):
        """The value as a pint quantity (built once per row use). [unit]"""
        return quantity(self.value, self.unit)
