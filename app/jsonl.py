"""Reading uploaded JSONL (datasets, eval sets): the file's lines within limits, and each line
as a JSON value that Python, Postgres and the JSON columns can all hold.

`json.loads` accepts more than that: `NaN`, `Infinity` and numbers that overflow to
infinity (a JSONB column refuses them), strings with `\\u0000` or a lone surrogate such as
`\\ud800` (Postgres text and UTF-8 cannot hold them), and nesting deep enough to exhaust
the interpreter's stack. Each is a `ValueError` here with a message for the line.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

MAX_DEPTH = 32  # the deepest the formats nest is 4 (messages -> message -> content)


class JsonlSettings(Protocol):
    max_jsonl_lines: int
    max_jsonl_line_chars: int


@dataclass(frozen=True)
class JsonlLimits:
    """How many lines a JSONL upload may have, and how long each may be (in characters)."""

    max_lines: int = 100_000
    max_line_chars: int = 100_000

    @classmethod
    def of(cls, settings: JsonlSettings) -> JsonlLimits:
        return cls(settings.max_jsonl_lines, settings.max_jsonl_line_chars)


DEFAULT_LIMITS = JsonlLimits()  # the settings' defaults; servers pass `JsonlLimits.of(settings)`


class TooManyLines(ValueError):
    """The file has more lines than the limit (the whole file is refused)."""


def numbered_lines(text: str, limits: JsonlLimits) -> Iterator[tuple[int, str]]:
    """The non-blank lines with their 1-based numbers. TooManyLines once past the limit; a
    line over the length limit comes back as it is, for `load_line` to refuse by number."""
    for number, line in enumerate(text.splitlines(), start=1):
        if number > limits.max_lines:
            raise TooManyLines(f"more than {limits.max_lines:,} lines (the limit)")
        if line.strip():
            yield number, line


def load_line(line: str, limits: JsonlLimits) -> Any:
    """One line as a JSON value, or ValueError saying what is wrong with it."""
    if len(line) > limits.max_line_chars:
        raise ValueError(f"longer than {limits.max_line_chars:,} characters (the limit)")
    try:
        value = json.loads(line, parse_constant=refuse_constant, parse_float=finite_float)
    except json.JSONDecodeError as error:
        raise ValueError(f"not JSON ({error.msg})") from None
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
    check_value(value, depth=0)
    return value


def refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]} is out of range")
    return value


def check_value(value: Any, *, depth: int) -> None:
    """Refuse what the JSON columns and Postgres text cannot store."""
    if depth > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        check_text(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key)
            check_value(item, depth=depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_value(item, depth=depth + 1)


def check_text(text: str) -> None:
    if "\x00" in text:
        raise ValueError("NUL characters (\\u0000) are not allowed")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        bad = f"\\u{ord(text[error.start]):04x}"
        raise ValueError(f"a lone surrogate ({bad}) is not text; pair it or remove it") from None
