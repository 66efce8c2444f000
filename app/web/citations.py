"""Citation markers `[n]` in a rag answer linked to the chunk they cite. Pure function."""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup, escape

CITATION = re.compile(r"\[(\d{1,3})\]")


def link_citations(output: str, context: list[dict[str, Any]] | None) -> Markup:
    """`output` escaped, with each `[n]` whose source n is in `context` a link to its chunk
    (`/chunks/{id}`); other brackets stay text."""
    chunks = {int(c["citation"]): int(c["chunk_id"]) for c in context or [] if "chunk_id" in c}

    def link(match: re.Match) -> str:
        n = int(match.group(1))
        if n not in chunks:
            return match.group(0)
        return f'<a class="cite" href="/chunks/{chunks[n]}">[{n}]</a>'

    # The escaped text has no markup of its own, and `[digits]` needs no escaping.
    return Markup(CITATION.sub(link, str(escape(output))))
