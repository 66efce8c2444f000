"""The drafting prompt and reading a question-answer pair out of the engine's answer.

The engine is asked for one JSON object `{"question": ..., "answer": ...}` about one chunk;
an engine that constrains its output gets that object's JSON schema, so that even a small
local model returns parseable JSON. An answer that is not such an object is still kept as a
draft (with an empty question), so that the page shows what the engine wrote; such a draft
cannot be accepted until a person writes the question.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from app.engine.base import GenerationRequest

EVAL_ITEM, CHAT_EXAMPLE = "eval_item", "chat_example"
KINDS = (EVAL_ITEM, CHAT_EXAMPLE)
DRAFT_SCHEMA = {
    "type": "object",
    "properties": {
        # bounded, so that a small model that repeats itself still closes the object
        "question": {"type": "string", "maxLength": 160},
        "answer": {"type": "string", "maxLength": 240},
    },
    "required": ["question", "answer"],
    "additionalProperties": False,
}
SYSTEM = (
    "You write test questions for a customer-support assistant of {scenario}. Read the "
    "passage and write one question a customer could ask that the passage answers, and the "
    "answer in one short sentence using only the passage. Reply with JSON: "
    '{{"question": "...", "answer": "..."}}'
)
# chat examples teach the brand's voice: the answer is addressed to the customer
VOICE = " Write the answer as the assistant replying to the customer, friendly and brief."
LABELLED = re.compile(r"question\s*:\s*(?P<q>.+?)\s*answer\s*:\s*(?P<a>.+)", re.I | re.S)


@dataclass(frozen=True)
class DraftText:
    question: str
    answer: str


def drafting_request(
    scenario: str, heading: str, text: str, kind: str, max_new_tokens: int, schema: bool
) -> GenerationRequest:
    """The request that drafts one item of `kind` from one chunk (`schema`: constrain the
    answer to DRAFT_SCHEMA)."""
    system = SYSTEM.format(scenario=scenario) + (VOICE if kind == CHAT_EXAMPLE else "")
    passage = f"Passage ({heading}):\n{text}" if heading else f"Passage:\n{text}"
    return GenerationRequest(
        messages=[{"role": "system", "content": system}, {"role": "user", "content": passage}],
        max_new_tokens=max_new_tokens,
        temperature=0.0,
        json_schema=DRAFT_SCHEMA if schema else None,
    )


def read_draft(output: str) -> DraftText:
    """The question and answer in the engine's answer: a JSON object, else `Question: ...
    Answer: ...` lines; empty strings where neither is found."""
    start, end = output.find("{"), output.rfind("}")
    if 0 <= start < end:
        try:
            value = json.loads(output[start : end + 1])
        except json.JSONDecodeError:
            value = None
        if isinstance(value, dict):
            return DraftText(text_of(value.get("question")), text_of(value.get("answer")))
    labelled = LABELLED.search(output)
    if labelled:
        return DraftText(labelled["q"].strip(), labelled["a"].strip())
    return DraftText("", "")


def text_of(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""
