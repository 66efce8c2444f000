"""The validation report of an uploaded fine-tuning dataset, made before anything is stored.

A line is one example: the OpenAI chat format (`{"messages": [{"role", "content"}, ...]}`:
an optional system turn first, then user and assistant turns alternating, ending with the
assistant) or `{"prompt", "completion"}`. Errors (bad lines, no examples) reject the
dataset; warnings (duplicates, examples longer than `max_seq_len`, train/eval overlap, fewer
than `MIN_EXAMPLES` examples) are shown but do not.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from app.finetune.dataset import ChatExample, parse_record
from app.jsonl import DEFAULT_LIMITS, JsonlLimits, TooManyLines, load_line, numbered_lines

MIN_EXAMPLES = 100
MAX_KEPT_ERRORS = 100  # errors a report lists; the rest are counted
# Tokens a chat template adds around each message (`<|im_start|>role\n … <|im_end|>\n`).
TEMPLATE_TOKENS_PER_MESSAGE = 5
CountTokens = Callable[[str], int]
Numbered = list[tuple[int, ChatExample]]  # examples with their line numbers


@dataclass(frozen=True)
class LineError:
    file: str
    line: int
    message: str


class CappedErrors(list[LineError]):
    """Line errors: the first `MAX_KEPT_ERRORS` are kept, the rest only counted, so that a
    file of a million bad lines answers with a hundred messages and the count, not a body of
    a hundred megabytes. `total` counts them all."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped = 0

    def append(self, error: LineError) -> None:
        if len(self) < MAX_KEPT_ERRORS:
            super().append(error)
        else:
            self.dropped += 1

    def extend(self, errors: Iterable[LineError]) -> None:
        for error in errors:
            self.append(error)

    @property
    def total(self) -> int:
        return len(self) + self.dropped


@dataclass
class Report:
    """What a dataset upload would store, and why it would not."""

    train: list[ChatExample] = field(default_factory=list)
    eval: list[ChatExample] = field(default_factory=list)
    errors: CappedErrors = field(default_factory=CappedErrors)
    warnings: list[str] = field(default_factory=list)
    token_stats: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> dict:
        return {
            "ok": self.ok,
            "train_examples": len(self.train),
            "eval_examples": len(self.eval),
            "errors": [vars(e) for e in self.errors],
            "errors_total": self.errors.total,
            "errors_not_shown": self.errors.dropped,
            "warnings": self.warnings,
            "token_stats": self.token_stats,
        }


def parse_lines(text: str, file: str, report: Report, limits: JsonlLimits) -> Numbered:
    examples = []
    try:
        for number, line in numbered_lines(text, limits):
            try:
                examples.append((number, parse_record(load_line(line, limits))))
            except ValueError as error:
                report.errors.append(LineError(file, number, str(error)))
    except TooManyLines as error:
        report.errors.append(LineError(file, 0, str(error)))
    return examples


def validate_dataset(
    train_text: str,
    *,
    count_tokens: CountTokens,
    max_seq_len: int,
    eval_text: str | None = None,
    eval_fraction: float = 0.0,
    train_name: str = "train.jsonl",
    eval_name: str = "eval.jsonl",
    seed: int = 42,
    limits: JsonlLimits = DEFAULT_LIMITS,
) -> Report:
    """Check every line and the dataset as a whole; the eval split is `eval_text` or a
    seeded `eval_fraction` of the training lines."""
    report = Report()
    train = parse_lines(train_text, train_name, report, limits)
    held = parse_lines(eval_text, eval_name, report, limits) if eval_text is not None else []
    if not held and eval_fraction > 0 and train:
        train, held = split_off(train, eval_fraction, seed)
    report.train = [example for _, example in train]
    report.eval = [example for _, example in held]
    if not report.train and not any(e.file == train_name for e in report.errors):
        report.errors.append(LineError(train_name, 0, "no examples"))
    if report.ok:
        check_whole(report, train, held, count_tokens, max_seq_len)
    return report


def split_off(rows: Numbered, fraction: float, seed: int) -> tuple[Numbered, Numbered]:
    order = rows[:]
    random.Random(seed).shuffle(order)
    size = max(1, round(len(order) * fraction))
    held = sorted(order[:size], key=lambda row: row[0])
    kept = sorted(order[size:], key=lambda row: row[0])
    return kept, held


def check_whole(
    report: Report, train: Numbered, held: Numbered, count_tokens: CountTokens, max_seq_len: int
) -> None:
    warn = report.warnings.append
    if len(train) < MIN_EXAMPLES:
        warn(
            f"only {len(train)} training examples; fewer than {MIN_EXAMPLES} rarely teach a format"
        )
    exact, near = duplicates(train)
    if exact:
        warn(f"{len(exact)} exact duplicate(s) at lines {lines(exact)}")
    if near:
        warn(
            f"{len(near)} near duplicate(s) (same text ignoring case, spacing and "
            f"punctuation) at lines {lines(near)}"
        )
    seen = {normalise(example) for _, example in train}
    overlap = [number for number, example in held if normalise(example) in seen]
    if overlap:
        warn(
            f"{len(overlap)} eval example(s) also in the training data "
            f"(eval lines {lines(overlap)})"
        )
    lengths = [(number, chat_tokens(example, count_tokens)) for number, example in train]
    too_long = [number for number, tokens in lengths if tokens > max_seq_len]
    if too_long:
        warn(
            f"{len(too_long)} example(s) over max_seq_len={max_seq_len} tokens will be "
            f"truncated (lines {lines(too_long)})"
        )
    report.token_stats = token_stats([tokens for _, tokens in lengths])


def duplicates(rows: Numbered) -> tuple[list[int], list[int]]:
    exact_seen: set[str] = set()
    near_seen: set[str] = set()
    exact, near = [], []
    for number, example in rows:
        raw = json.dumps(example.messages, sort_keys=True)
        if raw in exact_seen:
            exact.append(number)
        elif normalise(example) in near_seen:
            near.append(number)
        exact_seen.add(raw)
        near_seen.add(normalise(example))
    return exact, near


def normalise(example: ChatExample) -> str:
    text = " ".join(m["content"] for m in example.messages if m["role"] != "system")
    return re.sub(r"\W+", " ", text.lower()).strip()


def chat_tokens(example: ChatExample, count_tokens: CountTokens) -> int:
    return sum(count_tokens(m["content"]) + TEMPLATE_TOKENS_PER_MESSAGE for m in example.messages)


def token_stats(values: list[int]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def at(q: float) -> int:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {
        "examples": len(ordered),
        "total": sum(ordered),
        "min": ordered[0],
        "mean": round(sum(ordered) / len(ordered), 1),
        "p50": at(0.5),
        "p95": at(0.95),
        "max": ordered[-1],
    }


def lines(numbers: list[int], shown: int = 10) -> str:
    text = ", ".join(str(n) for n in numbers[:shown])
    return text + (f" and {len(numbers) - shown} more" if len(numbers) > shown else "")
