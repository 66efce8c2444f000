"""Response shapes of the REST API (v1) that only the API returns; a comparison's request
and public shapes live with the comparison service (`app.compare`)."""

from __future__ import annotations

from pydantic import BaseModel

from app.compare import ComparisonPublic


class ComparisonsPublic(BaseModel):
    items: list[ComparisonPublic]
    total: int
    limit: int
    offset: int


class ScenarioPublic(BaseModel):
    slug: str
    name: str
    description: str
    system_prompt: str
    documents: int
    chunks: int
    examples: int
    active_adapter: str | None
