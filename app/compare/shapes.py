"""What a comparison request accepts and how a stored comparison reads as JSON: the same
shapes for the REST API, the compare page's form, the stream and the CLI's `--json`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.compare.service import ComparisonOptions
from app.config import get_settings
from app.db.models import MAX_ID, Comparison, Result
from app.levels import level_names

QUERY_EXAMPLE = "How many days do I have to return a tent?"


class ComparisonCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"query": QUERY_EXAMPLE},
                {
                    "query": "My Kestrel 2 tent pole snapped on the first night. Refund please.",
                    "scenario": "northwind",
                    "levels": ["prompt", "finetune"],
                    "max_new_tokens": 96,
                },
            ]
        },
    )

    query: str = Field(description="The question or ticket to run through every level.")
    scenario: str = Field("northwind", description="Scenario slug.")
    levels: list[str] = Field(
        default_factory=level_names,
        min_length=1,
        description=f"Levels to run, any of {', '.join(level_names())}.",
    )
    max_new_tokens: int | None = Field(
        None, ge=1, le=1024, description="Generation length limit (default: setting, 128)."
    )
    temperature: float | None = Field(
        None, ge=0.0, le=2.0, description="0 = greedy (default: setting, 0)."
    )
    adapter: str | None = Field(None, description="Adapter for `finetune` (default: active).")
    top_k: int | None = Field(None, ge=1, le=20, description="Chunks for `rag`.")
    few_shot_k: int | None = Field(None, ge=0, le=10, description="Examples for `prompt`.")
    prompt_versions: dict[str, Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(
        None,
        max_length=10,
        description="Level -> the prompt version to run (default: each level's latest); "
        "`GET /api/v1/scenarios/{slug}/prompt-versions` lists them.",
    )

    constrained: bool = Field(
        False,
        description="Every level decodes under the scenario's output JSON schema (llama.cpp "
        "grammar, the server's response_format); 422 when the scenario has none.",
    )

    @field_validator("query", "scenario", "adapter")
    @classmethod
    def no_nul_characters(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value

    @field_validator("query")
    @classmethod
    def query_has_text(cls, query: str) -> str:
        query = query.strip()
        if not query:
            raise ValueError("query must not be empty")
        limit = get_settings().max_query_chars
        if len(query) > limit:
            raise ValueError(f"query is {len(query)} characters; the limit is {limit}")
        return query

    @field_validator("levels")
    @classmethod
    def known_levels(cls, levels: list[str]) -> list[str]:
        unknown = [name for name in levels if name not in level_names()]
        if unknown:
            known = ", ".join(level_names())
            raise ValueError(f"unknown level(s) {', '.join(unknown)}; choose from {known}")
        return list(dict.fromkeys(levels))

    def options(self) -> ComparisonOptions:
        """What to run, for the comparison service."""
        return ComparisonOptions(**self.model_dump(exclude={"query", "scenario"}))


class Latency(BaseModel):
    total: float
    retrieval: float
    first_token: float
    generation: float


class ResultPublic(BaseModel):
    level: str
    output: str
    engine: str
    model: str
    adapter: str | None
    adapter_checksum: str | None
    prompt_tokens: int
    completion_tokens: int
    latency_ms: Latency
    tokens_per_s: float
    cost_usd: float
    context: list[dict[str, Any]]
    examples: list[dict[str, Any]]
    provenance: dict[str, Any]
    error: str | None
    prompt_version: int | None = Field(
        None, description="The number of the level's prompt version (null: none recorded)."
    )

    @classmethod
    def of(cls, result: Result) -> ResultPublic:
        return cls(
            level=result.level,
            output=result.output,
            engine=result.engine,
            model=result.model,
            adapter=result.adapter,
            adapter_checksum=result.adapter_checksum,
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            latency_ms=Latency(
                total=round(result.latency_total_ms, 1),
                retrieval=round(result.latency_retrieval_ms, 1),
                first_token=round(result.latency_first_token_ms, 1),
                generation=round(result.latency_generation_ms, 1),
            ),
            tokens_per_s=result.tokens_per_s,
            cost_usd=result.cost_usd,
            context=result.context,
            examples=result.examples,
            provenance=result.provenance,
            error=result.error,
            prompt_version=result.prompt_version.number if result.prompt_version else None,
        )


class ComparisonPublic(BaseModel):
    id: int
    query: str
    scenario: str
    created_at: datetime
    settings: dict[str, Any]
    results: list[ResultPublic]

    @classmethod
    def of(cls, comparison: Comparison) -> ComparisonPublic:
        return cls(
            id=comparison.id,
            query=comparison.query,
            scenario=comparison.scenario.slug,
            created_at=comparison.created_at,
            settings=comparison.settings,
            results=[ResultPublic.of(r) for r in comparison.results],
        )
