"""The per-level prompt texts of a scenario: defaults, placeholders and rendering.

A placeholder is a word in braces (`{question}`); every other brace is literal text, so a
JSON example in a prompt needs no escaping. Rendering substitutes in one pass, so a value
that itself contains `{question}` (a user's query) is not substituted again.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

# A new scenario's few-shot system prompt, until its team writes its own.
DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant. Answer briefly and precisely."

# The rag level's prompt. The scenario's own system prompt is written for its tickets (a JSON
# triage format); given to a small model next to retrieved text it drowns the question. This
# short instruction answered 18 of the demo's first 32 knowledge questions with
# SmolLM2-135M (top_k=3), the scenario prompt far fewer (measured while building the level).
# Revision 0008 stores the same texts in the scenarios that existed before it.
DEFAULT_RAG_INSTRUCTION = (
    "You are the assistant for {scenario}. Answer the customer's question in one short "
    "sentence, using only the numbered sources."
)
DEFAULT_RAG_TEMPLATE = "Sources:\n{sources}\n\nQuestion: {question}"

# What each text may name, and what it must.
RAG_INSTRUCTION_PLACEHOLDERS = ("scenario",)
RAG_TEMPLATE_PLACEHOLDERS = ("question", "sources", "scenario")
RAG_TEMPLATE_REQUIRED = ("question", "sources")


def placeholders(text: str) -> list[str]:
    """The placeholder names in `text`, in order of first appearance."""
    return list(dict.fromkeys(PLACEHOLDER.findall(text)))


def check_placeholders(
    text: str, *, allowed: tuple[str, ...], required: tuple[str, ...] = ()
) -> str:
    """ValueError naming the unknown or missing placeholders; the text otherwise."""
    names = placeholders(text)
    unknown = [f"{{{n}}}" for n in names if n not in allowed]
    if unknown:
        known = ", ".join(f"{{{n}}}" for n in allowed)
        raise ValueError(f"unknown placeholder(s) {', '.join(unknown)}; use {known}")
    missing = [f"{{{n}}}" for n in required if n not in names]
    if missing:
        raise ValueError(f"must contain the placeholder(s) {', '.join(missing)}")
    return text


def render(template: str, **values: str) -> str:
    """`template` with each `{name}` replaced by `values[name]` (names checked on save; an
    unknown one is left as it is)."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def text_record(text: str) -> dict[str, Any]:
    """A prompt text as a result's provenance records it: the text and its sha256."""
    return {"text": text, "sha256": hashlib.sha256(text.encode()).hexdigest()}
