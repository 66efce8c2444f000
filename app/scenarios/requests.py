"""What creating, editing and cloning a scenario accept, for the API, the CLI and the pages.

Each bad value is a validation error on its own field (the API answers 422 naming it):
a slug that does not match `SLUG`, a template with an unknown placeholder or without the
ones it needs, an output schema that is not a JSON schema (the message names the JSON path
inside it). What needs the database (a slug already taken, a dataset of another scenario)
is checked by the service.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import jsonschema
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from app.costs import parse_profiles
from app.db.models import MAX_ID
from app.scenarios.prompts import (
    DEFAULT_RAG_INSTRUCTION,
    DEFAULT_RAG_TEMPLATE,
    DEFAULT_SYSTEM_PROMPT,
    RAG_INSTRUCTION_PLACEHOLDERS,
    RAG_TEMPLATE_PLACEHOLDERS,
    RAG_TEMPLATE_REQUIRED,
    check_placeholders,
)

SLUG = r"^[a-z0-9][a-z0-9-]{0,62}$"
MAX_NOTE_CHARS = 500
MAX_PROMPT_CHARS = 20_000
# Fields whose NULL means "the default" (see app/db/models.py's Scenario); the others are text
# that is always there and cannot be set to null.
NULLABLE = (
    "few_shot_k",
    "few_shot_dataset_id",
    "few_shot_seed",
    "few_shot_examples",
    "rag_top_k",
    "rag_candidates",
    "rag_vector_weight",
    "rag_keyword_weight",
    "finetune_system_prompt",
    "output_schema",
    "max_new_tokens",
    "temperature",
    "pricing_profile",
    "pricing",
)
TEXTS = ("name", "description", "system_prompt", "rag_instruction", "rag_template")
MAX_FIXED_EXAMPLES = 10
MAX_CANDIDATES = 200
Selection = Literal["nearest", "fixed", "random"]


RESERVED = {"new", "import"}  # `/scenarios/new` creates one, `/scenarios/import` imports one


def not_reserved(slug: str) -> str:
    if slug in RESERVED:
        raise ValueError(f"{slug!r} is reserved (the address of a page); choose another slug")
    return slug


Slug = Annotated[
    str,
    Field(pattern=SLUG, description="Lower-case letters, digits and '-', 1-63 long."),
    AfterValidator(not_reserved),
]


def check_json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema if it is a valid JSON schema (its `$schema` draft, else 2020-12);
    ValueError naming the JSON path of the first problem inside it."""
    validator = jsonschema.validators.validator_for(schema, jsonschema.Draft202012Validator)
    try:
        validator.check_schema(schema)
    except jsonschema.SchemaError as error:
        raise ValueError(f"not a valid JSON schema at {error.json_path}: {error.message}") from None
    return schema


class ScenarioFields(BaseModel):
    """The editable fields; None where not given (an edit changes only the fields it sends)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=MAX_PROMPT_CHARS)
    system_prompt: str | None = Field(
        None, max_length=MAX_PROMPT_CHARS, description="The `prompt` level's system prompt."
    )
    few_shot_k: int | None = Field(
        None, ge=0, le=10, description="Examples the `prompt` level shows (null: the setting)."
    )
    few_shot_dataset_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="The example pool (null: the latest dataset)."
    )
    few_shot_selection: Selection | None = Field(
        None,
        description="How the `prompt` level picks its examples: `nearest` the query, a `fixed` "
        "list (`few_shot_examples`) or `random` (drawn once with `few_shot_seed`).",
    )
    few_shot_seed: int | None = Field(
        None, ge=0, le=MAX_ID, description="The seed of a `random` selection (null: 0)."
    )
    few_shot_examples: list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(
        None,
        max_length=MAX_FIXED_EXAMPLES,
        description="A `fixed` selection: lines of the example pool's train split, 1-based.",
    )
    rag_instruction: str | None = Field(
        None,
        max_length=MAX_PROMPT_CHARS,
        description="The `rag` level's system message; may name {scenario}.",
    )
    rag_template: str | None = Field(
        None,
        max_length=MAX_PROMPT_CHARS,
        description="The `rag` level's user message: {sources} and {question}, optionally "
        "{scenario}.",
    )
    rag_top_k: int | None = Field(
        None,
        ge=1,
        le=20,
        description="Chunks the `rag` level puts in the prompt (null: the setting).",
    )
    rag_candidates: int | None = Field(
        None,
        ge=1,
        le=MAX_CANDIDATES,
        description="Rows each side of the `rag` level's hybrid search fuses (null: the setting).",
    )
    rag_vector_weight: float | None = Field(
        None,
        ge=0,
        le=10,
        description="Weight of the vector ranking in the `rag` level's fusion (null: the setting).",
    )
    rag_keyword_weight: float | None = Field(
        None,
        ge=0,
        le=10,
        description="Weight of the keyword ranking in the `rag` level's fusion "
        "(null: the setting).",
    )
    finetune_system_prompt: str | None = Field(
        None,
        max_length=MAX_PROMPT_CHARS,
        description="The `finetune` level's system message (null: the adapter's training data's).",
    )
    output_schema: dict[str, Any] | None = Field(
        None, description="JSON schema of the expected output (null: none)."
    )
    max_new_tokens: int | None = Field(None, ge=1, le=1024, description="null: the setting.")
    temperature: float | None = Field(None, ge=0.0, le=2.0, description="null: the setting.")
    pricing_profile: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="The cost model's default pricing profile (null: the setting).",
    )
    pricing: str | None = Field(
        None,
        max_length=MAX_PROMPT_CHARS,
        description="The scenario's own pricing profiles, TOML as data/pricing.toml "
        "(`[profiles.NAME]` tables); they add to the file's (null: none).",
    )
    note: str = Field(
        "",
        max_length=MAX_NOTE_CHARS,
        description="Why the prompts changed: the note of the prompt versions this makes.",
    )

    @field_validator(*TEXTS, "finetune_system_prompt", "pricing", "note")
    @classmethod
    def no_nul_characters(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value

    @field_validator("name", "system_prompt", "rag_instruction", "rag_template")
    @classmethod
    def has_text(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("finetune_system_prompt")
    @classmethod
    def blank_is_not_a_prompt(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty; null uses the training data's system message")
        return value

    @field_validator("rag_instruction")
    @classmethod
    def instruction_placeholders(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return check_placeholders(value, allowed=RAG_INSTRUCTION_PLACEHOLDERS)

    @field_validator("rag_template")
    @classmethod
    def template_placeholders(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return check_placeholders(
            value, allowed=RAG_TEMPLATE_PLACEHOLDERS, required=RAG_TEMPLATE_REQUIRED
        )

    @field_validator("output_schema")
    @classmethod
    def valid_schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else check_json_schema(value)

    @field_validator("few_shot_examples")
    @classmethod
    def distinct_lines(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("lists a line twice")
        return value

    @field_validator("pricing")
    @classmethod
    def valid_pricing(cls, value: str | None) -> str | None:
        if value is not None:
            parse_profiles(value, "pricing")
        return value

    @model_validator(mode="after")
    def one_side_weighs(self) -> ScenarioFields:
        if self.rag_vector_weight == 0 and self.rag_keyword_weight == 0:
            raise ValueError(
                "rag_vector_weight and rag_keyword_weight cannot both be 0: one side must count"
            )
        return self

    def given(self) -> dict[str, Any]:
        """The scenario fields the request set, with their values (not the note)."""
        return {name: getattr(self, name) for name in self.model_fields_set - {"note"}}


class ScenarioCreate(ScenarioFields):
    """A new scenario: a slug and a name; every prompt has a default."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "slug": "bank-intents",
                    "name": "Bank intents",
                    "system_prompt": "Classify the customer's message. Answer with JSON "
                    '{"intent": "<label>"}.',
                    "output_schema": {
                        "type": "object",
                        "properties": {"intent": {"type": "string"}},
                        "required": ["intent"],
                    },
                }
            ]
        },
    )

    slug: Slug
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=MAX_PROMPT_CHARS)
    system_prompt: str = Field(DEFAULT_SYSTEM_PROMPT, max_length=MAX_PROMPT_CHARS)
    rag_instruction: str = Field(DEFAULT_RAG_INSTRUCTION, max_length=MAX_PROMPT_CHARS)
    rag_template: str = Field(DEFAULT_RAG_TEMPLATE, max_length=MAX_PROMPT_CHARS)
    few_shot_selection: Selection = "nearest"

    def values(self) -> dict[str, Any]:
        """Every column's value, defaults included."""
        return self.model_dump(exclude={"note"})


class ScenarioUpdate(ScenarioFields):
    """An edit: only the fields sent change. `null` resets a field in `NULLABLE` to its
    default and is refused for the texts."""

    @field_validator(*TEXTS, "few_shot_selection", mode="before")
    @classmethod
    def texts_are_not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must not be null")
        return value


class ScenarioClone(BaseModel):
    """A copy of a scenario under a new slug (and name: default the source's, "(copy)")."""

    model_config = ConfigDict(extra="forbid")

    slug: Slug
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=MAX_PROMPT_CHARS)
