"""Split Markdown into chunks: by heading first, then by token windows with overlap.

Pure functions: the token counter is passed in, so tests need no model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

HEADING = re.compile(r"^(#{1,6})\s+(.*\S)\s*$")


@dataclass(frozen=True)
class Section:
    path: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class ChunkText:
    position: int
    heading: str
    text: str
    token_count: int


def markdown_title(markdown: str, fallback: str) -> str:
    """The first level-1 heading, or `fallback`."""
    for line in markdown.splitlines():
        match = HEADING.match(line)
        if match and len(match.group(1)) == 1:
            return match.group(2)
    return fallback


def split_sections(markdown: str) -> list[Section]:
    """Sections of text under their heading path (`Returns › Tents`)."""
    sections: list[Section] = []
    path: list[str] = []
    lines: list[str] = []

    def flush() -> None:
        text = "\n".join(lines).strip()
        if text:
            sections.append(Section(tuple(path), text))
        lines.clear()

    for line in markdown.splitlines():
        match = HEADING.match(line)
        if match:
            flush()
            level = len(match.group(1))
            del path[level - 1 :]
            path.extend([""] * (level - 1 - len(path)))
            path.append(match.group(2))
        else:
            lines.append(line)
    flush()
    return sections


def window_words(
    words: list[str], size: int, overlap: int, count: Callable[[str], int]
) -> Iterator[str]:
    """Greedy windows of whole words holding at most `size` tokens, overlapping by `overlap`.

    Linear in the number of words: each word is counted once, windows are found with running
    sums, and each window is counted once more as a whole (a tokenizer that is not additive
    over words, e.g. one merging across spaces, then shrinks the window by a word or two).
    """
    tokens = [count(word) for word in words]
    start = 0
    while start < len(words):
        end, used = start + 1, tokens[start]
        while end < len(words) and used + tokens[end] <= size:
            used += tokens[end]
            end += 1
        while end > start + 1 and count(" ".join(words[start:end])) > size:
            end -= 1
        yield " ".join(words[start:end])
        if end >= len(words):
            return
        back, kept = end, 0
        while back > start + 1 and kept + tokens[back - 1] <= overlap:
            kept += tokens[back - 1]
            back -= 1
        start = max(back, start + 1)


def chunk_markdown(
    markdown: str,
    *,
    size: int,
    overlap: int,
    count: Callable[[str], int],
    headings: bool = True,
) -> list[ChunkText]:
    """Chunks of at most `size` tokens, each within one section and labelled with its path.
    With `headings=False` (plain text, PDF) `#` lines are text and there is one section."""
    chunks: list[ChunkText] = []
    sections = split_sections(markdown) if headings else [Section((), markdown.strip())]
    for section in sections:
        heading = " › ".join(part for part in section.path if part)
        if count(section.text) <= size:
            pieces = [section.text]
        else:
            pieces = list(window_words(section.text.split(), size, overlap, count))
        for piece in pieces:
            chunks.append(ChunkText(len(chunks), heading, piece, count(piece)))
    return chunks


def embedding_input(title: str, heading: str, text: str) -> str:
    """What is embedded for a chunk. The heading path (title first) goes in: a chunk under
    "Tents" is about tents even when its own sentences never say so."""
    return f"{heading or title}\n{text}"
