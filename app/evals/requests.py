"""What a request to run an eval accepts (the REST API, the evals page and `tritune eval`
validate with the same rules)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.db.models import MAX_ID
from app.evals.runner import EvalOptions
from app.levels import level_names


class EvalCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"limit": 6}, {"repeats": 3}]}
    )

    levels: list[str] | None = Field(None, min_length=1, description="Default: all levels.")
    limit: int | None = Field(None, ge=1, le=100_000, description="Only the first N items.")
    kinds: list[str] | None = Field(None, min_length=1, description="Only items of these kinds.")
    repeats: int = Field(1, ge=1, le=20, description="Runs of each item (needs temperature > 0).")
    max_new_tokens: int | None = Field(None, ge=1, le=1024, description="Default: setting.")
    temperature: float | None = Field(
        None, ge=0, le=2, description="Default 0; 0.7 when repeats > 1."
    )
    prompt_versions: dict[str, Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(
        None,
        max_length=10,
        description="Level -> prompt version number to run (default: each level's latest).",
    )

    constrained: bool = Field(
        False, description="Every level decodes under the scenario's output JSON schema."
    )

    @field_validator("levels")
    @classmethod
    def known_levels(cls, levels: list[str] | None) -> list[str] | None:
        unknown = [lv for lv in levels or [] if lv not in level_names()]
        if unknown:
            raise ValueError(f"unknown level(s) {unknown}; choose from {level_names()}")
        return list(dict.fromkeys(levels)) if levels else None

    def options(self) -> EvalOptions:
        return EvalOptions(**self.model_dump())
