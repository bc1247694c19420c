"""The configured mapping of a business file's columns onto activity-record fields (``imports:`` in
``tanjian.yaml``), checked against the record contract when the configuration loads.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .contract import MAPPABLE, REQUIRED


class ImportMapping(BaseModel):
    """How one kind of business file (CSV or XLSX) becomes activity records
    (:mod:`workspace.business.contract`)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["production", "electricity_statement", "fuel", "welding_gas", "refrigerant", "sf6", "heat",
                  "financial", "mixed"] = Field(description="kind of every record of the file, or 'mixed' when "
                                                            "a column gives each row's kind")
    description: str | None = None
    sheet: str | int | None = Field(None, description="XLSX sheet name or 0-based index (default: the first)")
    header_row: int = Field(1, ge=1, description="1-based row holding the column headers")
    columns: dict[str, str] = Field(default_factory=dict,
                                    description="the file's header -> record field (kind, item, period_start, "
                                                "period_end, date, month, quantity, unit, workshop, device, "
                                                "shift, team, co2_share, movement, note)")
    item_columns: dict[str, str] = Field(default_factory=dict,
                                         description="wide tables: the file's header -> item; each non-empty "
                                                     "cell is one record's quantity (e.g. 尖峰 -> sharp)")
    defaults: dict[str, str | float] = Field(default_factory=dict, description="field values every row shares")
    values: dict[str, dict[str, str]] = Field(default_factory=dict,
                                              description="per field, the file's text -> the record's value "
                                                          "(e.g. an ERP product name -> a product id)")
    date_format: str = Field("%Y-%m-%d", description="strptime format of the dates (ISO is always accepted)")
    default_unit: str | None = Field(None, description="unit of rows that give none")
    decimal: Literal[".", ","] = Field(".", description="decimal separator of numbers written as text")
    encoding: Literal["auto", "utf-8", "utf-8-sig", "gb18030"] = Field(
        "auto", description="CSV text encoding; auto tries UTF-8 then GB 18030")

    @model_validator(mode="after")
    def _complete(self) -> "ImportMapping":
        fields = set(self.columns.values()) | set(self.defaults)
        for header, f in self.columns.items():
            if f not in MAPPABLE:
                raise ValueError(f"column {header!r}: unknown field {f!r} (one of {', '.join(MAPPABLE)})")
        for f in self.defaults:
            if f not in MAPPABLE or f in ("date", "month"):
                raise ValueError(f"defaults: unknown field {f!r}")
        for f in self.values:
            if f not in MAPPABLE:
                raise ValueError(f"values: unknown field {f!r}")
        if "kind" in fields and self.kind != "mixed":
            raise ValueError("a 'kind' column or default needs kind: mixed")
        have = fields | ({"kind"} if self.kind != "mixed" else set()) | ({"unit"} if self.default_unit else set())
        if self.item_columns:
            have |= {"item", "quantity"}
            if "item" in fields or "quantity" in fields:
                raise ValueError("item_columns give item and quantity: map no column to them")
        if {"date", "month"} & fields:
            have |= {"period_start", "period_end"}
        missing = [f for f in REQUIRED if f not in have]
        if missing:
            raise ValueError(f"no column, default or item_columns gives {', '.join(missing)}")
        try:
            dt.date(2026, 1, 31).strftime(self.date_format)
        except ValueError as exc:
            raise ValueError(f"date_format {self.date_format!r}: {exc}") from None
        return self
