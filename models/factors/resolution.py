"""Factor resolution: which value a line uses for a factor over its whole period.

:class:`Resolver` looks a factor up in the library for a line's period (one row must cover it
all), lets a plant's measured value (:mod:`models.factors.measured`) replace the row, and
collects every unverified row that was needed without being allowed, so that
:class:`UnverifiedFactors` names all of them at once. :class:`FactorUse` is what a line records
of each parameter it applied.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from models.errors import InventoryError
from models.factors import Factor, FactorError, FactorLibrary
from models.factors.use import FactorUse
from workspace.units import UnitMismatch, parse

if TYPE_CHECKING:
    from models.factors.measured import MeasuredFactor

__all__ = ["FactorUse", "Resolver", "UnverifiedFactors"]


class UnverifiedFactors(FactorError):
    """Factor rows the inventory needs are unverified and were not allowed.

    Attributes
    ----------
    rows : list of (Factor, datetime.date, datetime.date)
        Every unverified row the computation needed, with the period it was needed for (all of
        them, not only the first).
    """

    def __init__(self, rows: list[tuple[Factor, dt.date, dt.date]], path):
        self.rows = rows
        uniq = list(dict.fromkeys(r for r, _, _ in rows))
        out = [f"{len(uniq)} factor row(s) needed by this inventory are unverified (status 'unverified' in "
               f"{path}: not confirmed in any source read so far), so nothing was computed:"]
        for r in uniq:
            periods = sorted({(s, e) for x, s, e in rows if x == r})
            when = ", ".join(f"{s}..{e}" for s, e in periods)
            note = f" - {r.notes}" if r.notes else ""
            out.append(f"  - {r.key} (unverified) = {r.value:g} {r.unit} (line {r.line}: {r.issuer}, {r.table}), needed for "
                       f"{when}{note}")
        out.append("To accept them knowingly: run again with --allow-unverified (Python: allow_unverified=True); "
                   "every line using one lists the row with status 'unverified' among its factors, in the JSON and "
                   "the reports. Or give the plant's own value for that factor with --measured FILE (a lab "
                   "value with its evidence), or correct the row and its status in the factor file once it "
                   "is checked against the cited source.")
        super().__init__("\n".join(out))



class Resolver:
    """Looks factors up for a line's whole period, with measured overrides, strictly."""

    def __init__(self, lib: FactorLibrary, measured: list[MeasuredFactor], allow_unverified: bool):
        self.lib, self.measured, self.allow_unverified = lib, measured, allow_unverified
        #: unverified rows used without being allowed: the computation goes on so that all of them are
        #: named at once (:meth:`check`), then nothing is returned
        self.refused: list[tuple[Factor, dt.date, dt.date]] = []
        self._memo: dict[tuple, tuple[FactorUse, Factor | None]] = {}  # the same row for the same request
        #: the measured values applied (so that one given and never used is refused, not ignored)
        self.used_measured: set[int] = set()
        #: every factor id asked for
        self.asked: set[str] = set()

    def check(self) -> None:
        """Raise :class:`UnverifiedFactors` naming every unverified row that was needed and not allowed."""
        if self.refused:
            raise UnverifiedFactors(self.refused, self.lib.path)

    def get(self, factor_id: str, start: dt.date, end: dt.date, region: str = "CN",
            allow_unverified: bool | None = None) -> FactorUse:
        self.asked.add(factor_id)
        for i, m in enumerate(self.measured):
            if m.factor_id != factor_id:
                continue
            if m.applies_from <= start and end <= m.applies_to:
                default = self._row(factor_id, start, end, region, True)
                if default is not None and parse(m.unit).dimensionality != parse(default.unit).dimensionality:
                    raise UnitMismatch(f"measured {factor_id} in [{m.unit}] ({m.file}:{m.line}) does not fit the "
                                       f"library's unit [{default.unit}]")
                self.used_measured.add(i)
                return m.use()
            if m.applies_from <= end and start <= m.applies_to:
                raise InventoryError(
                    f"measured {factor_id} ({m.file}:{m.line}) covers {m.applies_from}..{m.applies_to}, only part of "
                    f"the line period {start}..{end}: split the activity records at the measured period's edges")
        allow = self.allow_unverified if allow_unverified is None else allow_unverified
        key = (factor_id, start, end, region, allow)
        hit = self._memo.get(key)
        if hit is not None:
            if hit[1]:
                self.refused.append((hit[1], start, end))
            return hit[0]
        n = len(self.refused)
        row = self._row(factor_id, start, end, region, allow)
        use = FactorUse(row.key, row.factor_id, row.value, row.unit, row.source, row.applies_from, row.applies_to,
                        row.status)
        self._memo[key] = (use, row if len(self.refused) > n else None)
        return use

    def _row(self, factor_id, start, end, region, allow) -> Factor | None:
        try:
            row = self.lib.lookup(factor_id, start, region, allow_unverified=True)
        except FactorError as exc:
            raise FactorError(f"no factor {factor_id!r} valid for the period {start}..{end}: {exc}") from None
        if not row.covers(end):
            raise FactorError(
                f"no single {factor_id!r} factor row is valid for the whole period {start}..{end}: {row.key} ends "
                f"{row.applies_to} (file {self.lib.path}); split the period at the validity boundary")
        if row.status == "unverified" and not allow:
            # collected, reported all together by check(); the message names each as "<id> ... unverified"
            self.refused.append((row, start, end))
        return row
