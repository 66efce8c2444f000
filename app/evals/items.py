"""Eval sets: JSONL items, validated as a whole before anything is stored.

One item per line, a JSON object with `input` (or `query`) and any of:

- `expected`: the exact answer (a string); or an object, read as the demo set writes it:
  `{"facts": [...]}`, `{"keywords": [...]}`, or else the expected JSON field values;
- `facts`: strings the answer must contain; `keywords`: strings of which it should contain
  at least one; `fields`: expected values of the output's JSON fields; `schema`: a JSON
  schema the output must satisfy; `source`: the knowledge-base file that holds the answer
  (retrieval hit@k); `reference`: a reference answer for embedding similarity;
- `kind`: a free label (knowledge, triage, general...) that summaries are grouped by.

A file with any bad line is refused as a whole, every bad line named.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any, NoReturn

import jsonschema
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import EvalItem, EvalSet, Scenario
from app.errors import AppError
from app.jsonl import DEFAULT_LIMITS, JsonlLimits, TooManyLines, load_line, numbered_lines
from app.scenarios.current import choose_eval_set, current_eval_set

KEYS = {"input", "query", "kind", "expected", "facts", "keywords", "fields", "schema", "source"}
KEYS |= {"reference", "id"}
CHECKS = ("expected", "facts", "keywords", "fields", "schema", "source", "reference")
MAX_ERRORS = 20
MAX_UPLOAD_BYTES = 5_000_000


class EvalSetInvalid(AppError):
    """422: the eval JSONL has bad lines (`errors`: one message per line)."""

    status = 422

    def __init__(self, errors: list[str]) -> None:
        shown = errors[:MAX_ERRORS] + (
            [f"... {len(errors) - MAX_ERRORS} more"] * (len(errors) > MAX_ERRORS)
        )
        super().__init__("invalid eval set: " + "; ".join(shown))
        self.errors = errors


@dataclass
class EvalItemSpec:
    input: str
    kind: str = "general"
    expected: str | None = None
    facts: list[str] | None = None
    keywords: list[str] | None = None
    fields: dict[str, Any] | None = None
    schema: dict[str, Any] | None = None
    source: str | None = None
    reference: str | None = None


def parse_eval_jsonl(text: str, limits: JsonlLimits = DEFAULT_LIMITS) -> list[EvalItemSpec]:
    """Every item of the file, or EvalSetInvalid naming each bad line (1-based)."""
    items, errors = [], []
    try:
        for number, line in numbered_lines(text, limits):
            try:
                items.append(parse_item(line, limits))
            except ValueError as error:
                errors.append(f"line {number}: {error}")
    except TooManyLines as error:
        raise EvalSetInvalid([f"file: {error}"]) from None
    if not items and not errors:
        errors.append("the file holds no items")
    if errors:
        raise EvalSetInvalid(errors)
    return items


def parse_eval_upload(raw: bytes, limits: JsonlLimits = DEFAULT_LIMITS) -> list[EvalItemSpec]:
    """An uploaded file's items (at most `MAX_UPLOAD_BYTES`, UTF-8), or EvalSetInvalid. The
    API and the evals page read `MAX_UPLOAD_BYTES + 1` bytes, so a larger file is seen."""
    if len(raw) > MAX_UPLOAD_BYTES:
        raise EvalSetInvalid([f"file: larger than {MAX_UPLOAD_BYTES} bytes"])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise EvalSetInvalid([f"file: not UTF-8 text (byte {error.start})"]) from None
    return parse_eval_jsonl(text, limits)


def kind_counts(items: list[EvalItemSpec]) -> dict[str, int]:
    """How many items of each kind, in the order the kinds first appear."""
    counts: dict[str, int] = {}
    for item in items:
        counts[item.kind] = counts.get(item.kind, 0) + 1
    return counts


def parse_item(line: str, limits: JsonlLimits = DEFAULT_LIMITS) -> EvalItemSpec:
    raw = load_line(line, limits)
    if not isinstance(raw, dict):
        raise ValueError("must be a JSON object")
    unknown = sorted(set(raw) - KEYS)
    if unknown:
        raise ValueError(f"unknown key(s) {unknown}; allowed: {sorted(KEYS)}")
    raw = {**raw, **expected_object(raw.get("expected"))}
    item = EvalItemSpec(
        input=text_field(raw, "input") or text_field(raw, "query") or missing("input"),
        kind=text_field(raw, "kind") or "general",
        expected=text_field(raw, "expected"),
        facts=string_list(raw, "facts"),
        keywords=string_list(raw, "keywords"),
        fields=field_values(raw),
        schema=json_schema(raw),
        source=text_field(raw, "source"),
        reference=text_field(raw, "reference"),
    )
    if not any(getattr(item, name) for name in CHECKS):
        raise ValueError(f"nothing to score: give at least one of {list(CHECKS)}")
    return item


def missing(name: str) -> NoReturn:
    raise ValueError(f"'{name}' (or 'query') is required and must be a non-empty string")


def expected_object(expected: Any) -> dict[str, Any]:
    """The demo's `expected` objects: facts, keywords, or expected field values."""
    if not isinstance(expected, dict):
        return {}
    if set(expected) <= {"facts", "keywords"}:
        return {"expected": None, **expected}
    return {"expected": None, "fields": expected}


def text_field(raw: dict, name: str) -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"'{name}' must be a non-empty string")
    return value.strip()


def string_list(raw: dict, name: str) -> list[str] | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise ValueError(f"'{name}' must be a non-empty list of strings")
    if not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"'{name}' must hold non-empty strings only")
    return value


def field_values(raw: dict) -> dict[str, Any] | None:
    value = raw.get("fields")
    if value is None:
        return None
    if not isinstance(value, dict) or not value:
        raise ValueError("'fields' must be a non-empty object of expected values")
    if any(isinstance(v, dict | list) for v in value.values()):
        raise ValueError("'fields' values must be strings, numbers, booleans or null")
    return value


def json_schema(raw: dict) -> dict[str, Any] | None:
    value = raw.get("schema")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError("'schema' must be a JSON schema object")
    try:
        jsonschema.Draft202012Validator.check_schema(value)
    except jsonschema.SchemaError as error:
        raise ValueError(f"'schema' is not a valid JSON schema ({error.message})") from None
    return value


def eval_set_sha256(items: list[EvalItemSpec]) -> str:
    lines = (json.dumps(asdict(item), sort_keys=True) for item in items)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def store_eval_set(
    session: Session, *, scenario: Scenario, name: str, items: list[EvalItemSpec]
) -> EvalSet:
    """Store the items as the scenario's eval set; the same items again return the stored set
    (keyed by content hash), so loading the demo twice stores nothing new."""
    sha256 = eval_set_sha256(items)
    existing = session.scalar(
        select(EvalSet).where(EvalSet.scenario_id == scenario.id, EvalSet.sha256 == sha256)
    )
    if existing is not None:
        return existing
    eval_set = EvalSet(scenario_id=scenario.id, name=name, sha256=sha256)
    eval_set.items = [item_row(position, item) for position, item in enumerate(items)]
    session.add(eval_set)
    session.flush()
    return eval_set


def item_row(position: int, item: EvalItemSpec) -> EvalItem:
    values = asdict(item)
    values["json_schema"] = values.pop("schema")
    return EvalItem(position=position, **values)


def item_page(session: Session, eval_set: EvalSet, *, page: int, size: int) -> list[EvalItem]:
    """The set's items in file order, `size` a page (`page` from 1)."""
    return list(
        session.scalars(
            select(EvalItem)
            .where(EvalItem.eval_set_id == eval_set.id)
            .order_by(EvalItem.position)
            .offset((page - 1) * size)
            .limit(size)
        )
    )


def expected_text(item: EvalItem) -> str:
    """What the item counts as right, in one line: the exact answer, the facts, keywords or
    field values it expects, else what else it checks."""
    parts = []
    if item.expected:
        parts.append(item.expected)
    if item.facts:
        parts.append("facts: " + "; ".join(item.facts))
    if item.keywords:
        parts.append("any of: " + ", ".join(item.keywords))
    if item.fields:
        parts.append("fields: " + ", ".join(f"{k}={json.dumps(v)}" for k, v in item.fields.items()))
    if item.json_schema and not item.fields:
        parts.append("output matches the item's JSON schema")
    if item.source:
        parts.append(f"source: {item.source}")
    if item.reference and not parts:
        parts.append(f"like: {item.reference}")
    return " · ".join(parts)


def item_spec(item: EvalItem) -> EvalItemSpec:
    """A stored item as the spec it was stored from."""
    return EvalItemSpec(
        input=item.input,
        kind=item.kind,
        expected=item.expected,
        facts=item.facts,
        keywords=item.keywords,
        fields=item.fields,
        schema=item.json_schema,
        source=item.source,
        reference=item.reference,
    )


def extend_eval_set(session: Session, *, scenario: Scenario, items: list[EvalItemSpec]) -> EvalSet:
    """The scenario's current eval set with `items` added, stored as a new set (sets are
    immutable, keyed by content hash) and made current: the next eval runs it, and runs of
    the old set keep their items."""
    current = current_eval_set(session, scenario)
    kept = [item_spec(item) for item in current.items] if current else []
    name = current.name if current else f"{scenario.slug} eval set"
    extended = store_eval_set(session, scenario=scenario, name=name, items=kept + items)
    session.flush()
    choose_eval_set(session, scenario, extended.id)
    return extended
