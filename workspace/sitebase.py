"""What every section of the site model shares: identifiers and a strict, frozen pydantic base."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$", description="identifier")]


class SiteModel(BaseModel):
    """Unknown keys are refused (a misspelt field is an error, not a silent default); values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)
