"""`scenario.yaml`, the manifest of a scenario bundle: reading it (every problem named with its
line) and writing it.

Its keys: `format` (1), `slug`, `name`, `description`; one section per level that has a
prompt (`prompt`, `rag`, `finetune`) holding that level's prompt fields, with the example
pool named by dataset name (`few_shot_dataset`) rather than by id; `output_schema`;
`generation` (`max_new_tokens`, `temperature`); `pricing_profile`; `datasets` (name, directory
and identity of each dataset, oldest first); `eval_set` (the eval set's name); `documents`
(a document's `source` and `title` where its file name and text do not give them);
`versions` (the prompt history, oldest first: level, number, note, created_at, content in
the section's keys); and `note` (the note of the versions an import records when `versions`
is absent). The scenario's values are checked by the same request model as the API's create.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.finetune.validate import LineError
from app.scenarios.bundle_files import MANIFEST, yaml_line
from app.scenarios.requests import MAX_NOTE_CHARS, ScenarioCreate, ScenarioUpdate
from app.scenarios.versions import versioned_levels

POOL_FIELD, POOL_KEY = "few_shot_dataset_id", "few_shot_dataset"
GENERATION = ("max_new_tokens", "temperature")
# The scenario's own keys besides the levels' sections (null or absent: the default).
SCENARIO_KEYS = ("name", "description", "output_schema", "pricing_profile")
SHA256 = r"^[0-9a-f]{64}$"
FORMAT: Literal[1] = 1


def level_sections() -> dict[str, tuple[str, ...]]:
    """Each level's section of scenario.yaml and its keys: the level's prompt fields, with
    the example pool by dataset name."""
    return {
        level: tuple(POOL_KEY if name == POOL_FIELD else name for name in fields)
        for level, fields in versioned_levels().items()
    }


class DatasetEntry(BaseModel):
    """A dataset of the bundle: its name, its files' directory (`.`: train.jsonl at the
    bundle's root, else `datasets/<dir>`), and its identity: `sha256` is kept on import while
    the files still hash to `files_sha256` (as exported), else the files' hash is."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    dir: str = Field(".", min_length=1, max_length=200)
    sha256: str | None = Field(None, pattern=SHA256)
    files_sha256: str | None = Field(None, pattern=SHA256)


class DocumentEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str | None = Field(None, min_length=1, max_length=500)
    title: str | None = Field(None, min_length=1, max_length=300)


class VersionEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: str
    number: int = Field(ge=1)
    note: str = Field("", max_length=MAX_NOTE_CHARS)
    created_at: datetime | None = None
    content: dict[str, Any]


class BundleManifest(BaseModel):
    """The keys besides the levels' sections; the scenario's values are checked afterwards by
    `ScenarioCreate`, so they are taken here as they are."""

    model_config = ConfigDict(extra="forbid")

    format: Literal[1] = FORMAT
    slug: Any = None
    name: Any = None
    description: Any = None
    output_schema: Any = None
    generation: dict[str, Any] = Field(default_factory=dict)
    pricing_profile: Any = None
    datasets: list[DatasetEntry] | None = None
    eval_set: str | None = Field(None, min_length=1, max_length=200)
    documents: dict[str, DocumentEntry] = Field(default_factory=dict)
    versions: list[VersionEntry] | None = None
    note: str = Field("", max_length=MAX_NOTE_CHARS)


@dataclass
class Manifest:
    """scenario.yaml, checked: the scenario's column values (the pool aside, by name)."""

    text: str
    values: dict[str, Any]
    pool: str | None
    datasets: list[DatasetEntry] | None
    eval_set: str | None
    documents: dict[str, DocumentEntry]
    versions: list[VersionEntry]
    note: str


class ManifestReader:
    """Collects the problems of one scenario.yaml, each with the line of its key."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.problems: list[LineError] = []

    def problem(self, path: tuple[str | int, ...], message: str) -> None:
        key = ".".join(map(str, path))
        self.problems.append(
            LineError(MANIFEST, yaml_line(self.text, path), f"{key}: {message}" if key else message)
        )

    def pydantic(self, error: ValidationError, prefix: tuple[str | int, ...] = ()) -> None:
        for item in error.errors():
            self.problem((*prefix, *item["loc"]), item["msg"])


def read_manifest(
    text: str, *, slug: str | None, pricing: str | None
) -> tuple[Manifest | None, list[LineError]]:
    """The checked manifest (`slug` replaces its slug; `pricing` is pricing.toml's text, checked
    by its own reader), or None and the problems."""
    reader = ManifestReader(text)
    raw = load_mapping(text, reader)
    if raw is None:
        return None, reader.problems
    sections = {
        level: section(raw, level, keys, reader) for level, keys in level_sections().items()
    }
    try:
        spec = BundleManifest.model_validate(raw)
    except ValidationError as error:
        reader.pydantic(error)
        spec = None
    values = scenario_values(raw, sections, slug, pricing, reader)
    versions = check_versions(spec.versions or [], reader) if spec else []
    if spec is None or values is None or reader.problems:
        return None, reader.problems
    pool = values.pop(POOL_KEY, None)
    manifest = Manifest(
        text, values, pool, spec.datasets, spec.eval_set, spec.documents, versions, spec.note
    )
    return manifest, []


def load_mapping(text: str, reader: ManifestReader) -> dict[str, Any] | None:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        reason = getattr(error, "problem", None) or str(error)
        reader.problems.append(LineError(MANIFEST, line, f"not YAML ({reason})"))
        return None
    if not isinstance(raw, dict):
        reader.problem((), "must be a mapping of keys (slug, name, prompt, ...)")
        return None
    return raw


def section(
    raw: dict[str, Any], level: str, keys: tuple[str, ...], reader: ManifestReader
) -> dict[str, Any]:
    """The level's section, taken out of `raw` (only the keys it sets)."""
    value = raw.pop(level, None)
    if value is None:
        return {}
    if not isinstance(value, dict):
        reader.problem((level,), f"must be a mapping of {', '.join(keys)}")
        return {}
    for key in value.keys() - set(keys):
        reader.problem((level, key), f"unknown key; the {level} level has {', '.join(keys)}")
    return {key: value[key] for key in keys if key in value}


def scenario_values(
    raw: dict[str, Any],
    sections: dict[str, dict[str, Any]],
    slug: str | None,
    pricing: str | None,
    reader: ManifestReader,
) -> dict[str, Any] | None:
    """The scenario's columns as `ScenarioCreate` checks them, or None (problems recorded)."""
    given = {key: raw[key] for key in SCENARIO_KEYS if raw.get(key) is not None}
    generation = raw.get("generation") or {}
    if isinstance(generation, dict):  # else BundleManifest names it
        for key in generation.keys() - set(GENERATION):
            reader.problem(("generation", key), f"unknown key; use {', '.join(GENERATION)}")
        given |= {key: generation[key] for key in GENERATION if key in generation}
    flat = {key: value for values in sections.values() for key, value in values.items()}
    pool = flat.pop(POOL_KEY, None)
    effective_slug = slug or raw.get("slug")
    if effective_slug is None:
        reader.problem(("slug",), "required (or give the slug to import under)")
        return None
    try:
        request = ScenarioCreate(slug=effective_slug, **given, **flat, pricing=pricing)
    except ValidationError as error:
        for item in error.errors():
            reader.problem(yaml_path(item["loc"]), item["msg"])
        return None
    if request.few_shot_selection == "fixed" and not request.few_shot_examples:
        message = "a fixed selection needs the example lines to show (1-based)"
        reader.problem(yaml_path(("few_shot_examples",)), message)
    return {**request.values(), POOL_KEY: pool}


def yaml_path(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """Where a `ScenarioCreate` field lives in scenario.yaml."""
    field = loc[0] if loc else ""
    for level, keys in level_sections().items():
        if field in keys:
            return (level, *loc)
    return ("generation", *loc) if field in GENERATION else loc


def check_versions(versions: list[VersionEntry], reader: ManifestReader) -> list[VersionEntry]:
    """Each version's level, keys, values, and number (1, 2, ... per level, in order)."""
    sections = level_sections()
    seen: dict[str, int] = {}
    for index, version in enumerate(versions):
        at = ("versions", index)
        keys = sections.get(version.level)
        if keys is None:
            reader.problem(
                (*at, "level"),
                f"no level {version.level!r} has a prompt; use {', '.join(sections)}",
            )
            continue
        seen[version.level] = seen.get(version.level, 0) + 1
        if version.number != seen[version.level]:
            reader.problem(
                (*at, "number"),
                f"expected {seen[version.level]}: a level's versions count 1, 2, ... in order",
            )
        for key in version.content.keys() - set(keys):
            reader.problem(
                (*at, "content", key),
                f"unknown key; the {version.level} level has {', '.join(keys)}",
            )
        fields = {k: v for k, v in version.content.items() if k in keys and k != POOL_KEY}
        try:
            ScenarioUpdate(**fields)
        except ValidationError as error:
            reader.pydantic(error, (*at, "content"))
    return versions


HEADER = (
    "# A TriTune scenario bundle; `tritune scenario import DIR` loads it, docs/bundles.md\n"
    "# describes every key. Null means the default named in the docs.\n"
)


class TextDumper(yaml.SafeDumper):
    """YAML with multi-line texts as `|` blocks, so that prompts read as they are written
    (a text a block cannot hold exactly, such as one with trailing spaces, stays quoted)."""


def represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar(
        "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None
    )


TextDumper.add_representer(str, represent_text)


def dump_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=TextDumper, sort_keys=False, allow_unicode=True, width=100)


def manifest_yaml(
    values: dict[str, Any],
    *,
    pool: str | None,
    datasets: list[DatasetEntry],
    eval_set: str | None,
    documents: dict[str, DocumentEntry],
    versions: list[dict[str, Any]],
) -> str:
    """scenario.yaml for a scenario's column `values` and the rest of its bundle."""
    data: dict[str, Any] = {"format": FORMAT, "slug": values["slug"], "name": values["name"]}
    data["description"] = values["description"]
    for level, keys in level_sections().items():
        data[level] = {key: pool if key == POOL_KEY else values[key] for key in keys}
    data["output_schema"] = values["output_schema"]
    data["generation"] = {key: values[key] for key in GENERATION}
    data["pricing_profile"] = values["pricing_profile"]
    data["datasets"] = [entry.model_dump(exclude_none=True) for entry in datasets]
    data["eval_set"] = eval_set
    data["documents"] = {
        name: entry.model_dump(exclude_none=True) for name, entry in documents.items()
    }
    data["versions"] = versions
    return HEADER + dump_yaml(data)
