"""How a stored comparison reads on a page: each result's badges (valid JSON, the scenario's
schema, citations, truncated), its settings in words, and short previews of its answers.
Pure functions of the stored rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jsonschema

from app.compare.service import CANCELLED
from app.db.models import Comparison, Result
from app.evals.metrics import parse_json_object
from app.web.citations import CITATION


@dataclass(frozen=True)
class Badge:
    """One check of an answer: `ok` True (passed), False (failed or a warning)."""

    label: str
    ok: bool
    title: str  # what the check means, for the tooltip


def result_badges(result: Result, comparison: Comparison) -> list[Badge]:
    """The checks that apply to `result`: JSON when the scenario has an output schema or the
    answer looks like JSON, the schema when there is one, citations when chunks were in the
    prompt, and whether the answer stopped at the token limit."""
    if result.error:
        return []
    schema = comparison.scenario.output_schema
    badges = []
    if schema or result.output.lstrip().startswith(("{", "```")):
        badges.append(json_badge(result.output))
    if schema:
        badges.append(schema_badge(result.output, schema))
    if result.context:
        badges.append(citation_badge(result.output, result.context))
    if truncated(result, comparison):
        limit = comparison.settings.get("max_new_tokens")
        title = f"the answer stopped at the max new tokens limit ({limit}): it may be cut off"
        badges.append(Badge("truncated", False, title))
    return badges


def json_badge(output: str) -> Badge:
    if parse_json_object(output) is not None:
        return Badge("valid JSON", True, "the answer is one JSON object")
    return Badge("not JSON", False, "the answer is not one JSON object")


def schema_badge(output: str, schema: dict[str, Any]) -> Badge:
    value = parse_json_object(output)
    try:
        errors = (
            []
            if value is None
            else list(jsonschema.Draft202012Validator(schema).iter_errors(value))
        )
    except jsonschema.SchemaError as error:
        return Badge(
            "schema unusable", False, f"the scenario's output schema is invalid: {error.message}"
        )
    if value is not None and not errors:
        return Badge("matches schema", True, "the answer satisfies the scenario's output schema")
    why = errors[0].message if errors else "the answer is not a JSON object"
    return Badge("schema mismatch", False, f"does not satisfy the scenario's output schema: {why}")


def citation_badge(output: str, context: list[dict[str, Any]]) -> Badge:
    """Whether the answer cites, as `[n]`, any of the chunks that were in its prompt."""
    sources = {int(chunk["citation"]) for chunk in context if "citation" in chunk}
    cited = sorted({int(n) for n in CITATION.findall(output)} & sources)
    if cited:
        marks = ", ".join(f"[{n}]" for n in cited)
        return Badge(f"cites {marks}", True, "the answer cites retrieved chunks")
    return Badge("no citations", False, "the answer cites none of the retrieved chunks as [n]")


def truncated(result: Result, comparison: Comparison) -> bool:
    """The answer used every token it was allowed (so it may have been cut off)."""
    limit = comparison.settings.get("max_new_tokens")
    return limit is not None and not result.error and result.completion_tokens >= limit


def cancelled(result: Result) -> bool:
    return result.error == CANCELLED


def settings_in_words(settings: dict[str, Any]) -> list[str]:
    """A stored comparison's settings as a person reads them, one phrase each."""
    phrases = []
    if levels := settings.get("levels"):
        phrases.append("levels " + ", ".join(levels))
    if (tokens := settings.get("max_new_tokens")) is not None:
        phrases.append(f"at most {tokens} new tokens")
    if (temperature := settings.get("temperature")) is not None:
        phrases.append(
            "greedy (temperature 0)" if temperature == 0 else f"temperature {temperature}"
        )
    if (top_k := settings.get("top_k")) is not None:
        phrases.append(f"{top_k} chunks for rag")
    if (few_shot_k := settings.get("few_shot_k")) is not None:
        phrases.append(f"{few_shot_k} few-shot examples")
    phrases.append(
        f"adapter {settings['adapter']}" if settings.get("adapter") else "the active adapter"
    )
    if versions := settings.get("prompt_versions"):
        phrases.append("prompts " + ", ".join(f"{lv} v{n}" for lv, n in versions.items()))
    if edited := settings.get("edited_messages"):
        phrases.append("edited prompt for " + ", ".join(edited) + " (one-off)")
    return phrases


def preview(result: Result, length: int = 90) -> str:
    """The start of a result's answer on one line (its error's, if it failed)."""
    text = " ".join((result.error or result.output).split())
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"
