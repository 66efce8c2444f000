"""The template bundle `tritune init DIR` writes: scenario.yaml with a comment on every key,
and tiny example files (a document, a dataset, an eval set) to replace with a team's own.
It imports as it is (tests/test_bundles.py checks that)."""

from __future__ import annotations

import json
from textwrap import indent

from app.scenarios.manifest import dump_yaml
from app.scenarios.prompts import DEFAULT_RAG_INSTRUCTION, DEFAULT_RAG_TEMPLATE

SYSTEM_PROMPT = (
    "You answer customers of Example Co. When the message is a question about an order, "
    'answer with one JSON object: {"topic": "returns" | "shipping" | "other", "answer": '
    '"<one sentence>"}.'
)


def yaml_block(values: dict[str, str]) -> str:
    """`values` as YAML keys indented under a section."""
    return indent(dump_yaml(values), "  ").rstrip("\n")


MANIFEST = f"""\
# A TriTune scenario bundle: `tritune scenario import DIR` loads it, or upload a .tar.gz of
# this directory on the "Import a scenario" page. docs/bundles.md describes every key and
# file. A key left out, or null, takes the default named in its comment.
format: 1

# The scenario's address in pages and commands: lower-case letters, digits and '-'.
# `tritune scenario import DIR --slug other` imports it under another one.
slug: example-help-desk
name: Example Co. help desk
description: |
  What the scenario is for, in a paragraph: who asks what, and what a good answer is.

# The `prompt` level: the base model, this system prompt, and k worked examples from a dataset.
prompt:
  system_prompt: {json.dumps(SYSTEM_PROMPT)}
  few_shot_k: 2                # examples shown (null: the setting TRITUNE_FEW_SHOT_K)
  few_shot_dataset: null       # the example pool by dataset name (null: the latest dataset)
  few_shot_selection: nearest  # nearest (to the query), fixed (few_shot_examples), random
  few_shot_seed: null          # random: the seed of the draw (null: 0)
  few_shot_examples: null      # fixed: lines of the pool's train.jsonl, 1-based: [1, 4]

# The `rag` level: passages retrieved from documents/ in the context of the base model.
# The instruction is the system message and may name {{scenario}}; the template is the user
# message and must name {{sources}} and {{question}}.
rag:
{yaml_block({"rag_instruction": DEFAULT_RAG_INSTRUCTION, "rag_template": DEFAULT_RAG_TEMPLATE})}

# The `finetune` level: the base model with a LoRA adapter trained on a dataset.
finetune:
  finetune_system_prompt: null  # null: the system message of the adapter's training data

# The JSON schema answers should follow (null: none); evals check answers against it.
output_schema:
  type: object
  properties:
    topic: {{type: string, enum: [returns, shipping, other]}}
    answer: {{type: string}}
  required: [topic, answer]

# Generation defaults (null: the settings TRITUNE_MAX_NEW_TOKENS, TRITUNE_TEMPERATURE).
generation:
  max_new_tokens: null
  temperature: null

# The cost model's profile: one of data/pricing.toml's, or of a pricing.toml next to this
# file (`[profiles.NAME]` tables, the same format); null: the setting TRITUNE_PRICING_PROFILE.
pricing_profile: null

# The datasets, oldest first; the last is the latest (the default example pool and the
# default training set). dir `.` is train.jsonl (+ eval_split.jsonl, its held-out split)
# next to this file; any other dir is datasets/<dir>/ with the same two files.
datasets:
  - name: help-desk-examples
    dir: .

# The name of evalset.jsonl's eval set.
eval_set: help-desk-evalset

# The note of the prompt versions the import records. An exported bundle lists instead the
# whole prompt history under `versions` (level, number, note, created_at, content).
note: created from the template
"""

DOCUMENT = """\
# Example Co. help desk

Put the knowledge base of the scenario in `documents/`: Markdown, plain text, HTML or PDF
files. Every file becomes a document of the `rag` level; this one is an example.

## Returns

Example Co. takes back unused items within 30 days of delivery, with the receipt. Refunds
go to the original payment method within 5 business days.

## Shipping

Orders ship from the Springfield warehouse within 2 business days. Standard shipping takes
3 to 5 business days and is free over $50.
"""

EXAMPLES = [
    (
        "Can I return shoes I bought two weeks ago?",
        "returns",
        "Yes: unused items come back within 30 days of delivery, with the receipt.",
    ),
    (
        "How long until my refund shows up?",
        "returns",
        "Refunds reach your original payment method within 5 business days.",
    ),
    (
        "When will my order ship?",
        "shipping",
        "Orders leave our Springfield warehouse within 2 business days.",
    ),
    ("Is shipping free?", "shipping", "Standard shipping is free on orders over $50."),
    (
        "Do you have a store in Boston?",
        "other",
        "We sell online only; our warehouse is in Springfield.",
    ),
    (
        "My parcel has not arrived after a week",
        "shipping",
        "Standard shipping takes 3 to 5 business days; we will trace your parcel.",
    ),
]


def example_line(question: str, topic: str, answer: str) -> str:
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": question},
        {"role": "assistant", "content": json.dumps({"topic": topic, "answer": answer})},
    ]
    return json.dumps({"messages": messages})


EVAL_ITEMS = [
    {
        "kind": "knowledge",
        "input": "How many days do I have to return an item?",
        "facts": ["30"],
        "source": "README.md",
    },
    {
        "kind": "triage",
        "input": "Can I send back a jacket I never wore?",
        "fields": {"topic": "returns"},
    },
    {
        "kind": "general",
        "input": "What should I write on a parcel's label?",
        "keywords": ["address", "name"],
    },
]

TEMPLATE = {
    "scenario.yaml": MANIFEST,
    "documents/README.md": DOCUMENT,
    "train.jsonl": "".join(example_line(*example) + "\n" for example in EXAMPLES),
    "evalset.jsonl": "".join(json.dumps(item) + "\n" for item in EVAL_ITEMS),
}
