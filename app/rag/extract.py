"""Text out of an uploaded file: Markdown, plain text, HTML and PDF. Pure functions.

Every refusal is a `Rejected` whose message says why, so that the caller can name the file
and its reason; nothing here touches the database.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import PurePath

KINDS = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
}
MEDIA_TYPES = {
    "markdown": "text/markdown",
    "text": "text/plain",
    "html": "text/html",
    "pdf": "application/pdf",
}


class Rejected(Exception):
    """A file that cannot go into the knowledge base; the message is the reason."""


@dataclass(frozen=True)
class Extracted:
    kind: str  # markdown | text | html | pdf
    text: str  # Markdown (headings as `#` lines) for markdown and html, plain otherwise
    title: str | None  # the file's own title (HTML <title>, PDF metadata), if any

    @property
    def has_headings(self) -> bool:
        return self.kind in ("markdown", "html")


def kind_of(name: str) -> str:
    suffix = PurePath(name).suffix.lower()
    if suffix not in KINDS:
        supported = ", ".join(sorted(KINDS))
        raise Rejected(f"unsupported file type {suffix or '(no extension)'!r}; use {supported}")
    return KINDS[suffix]


def extract(name: str, data: bytes, kind: str | None = None) -> Extracted:
    """The text of file `name` holding `data` (of `kind`, else by the name's extension), or
    `Rejected` with the reason."""
    kind = kind or kind_of(name)
    if not data.strip():
        raise Rejected("the file is empty")
    if kind == "pdf":
        return pdf_text(data)
    text = decode_text(data)
    if kind == "html":
        markdown, title = html_to_markdown(text)
        if not markdown.strip():
            raise Rejected("the HTML page has no text")
        return Extracted(kind, markdown, title)
    return Extracted(kind, text.replace("\r\n", "\n"), None)


def decode_text(data: bytes) -> str:
    # NUL bytes never occur in text and Postgres text cannot hold them.
    if b"\x00" in data:
        raise Rejected("binary content in a text file (NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise Rejected(f"not UTF-8 text (byte {error.start}); binary content?") from None


def pdf_text(data: bytes) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError, PdfReadError

    if not data.startswith(b"%PDF"):
        raise Rejected("not a PDF file (no %PDF header)")
    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
        title = (reader.metadata.title if reader.metadata else None) or None
    except (PdfReadError, LimitReachedError, ValueError, KeyError, TypeError) as error:
        raise Rejected(f"unreadable PDF ({str(error)[:200]})") from None
    except RecursionError:
        raise Rejected("unreadable PDF (nested too deeply)") from None
    except Exception as error:  # noqa: BLE001 - an untrusted file: pypdf fails in many ways
        raise Rejected(f"unreadable PDF ({type(error).__name__})") from None
    text = "\n\n".join(page.strip() for page in pages if page.strip()).replace("\x00", "")
    if not text.strip():
        raise Rejected("the PDF has no extractable text (a scan? run OCR first)")
    return Extracted("pdf", text, title)


BLOCKS = {"p", "div", "br", "li", "tr", "section", "article", "table", "ul", "ol", "pre", "dd"}
SKIPPED = {"script", "style", "noscript", "template", "svg", "head"}
HEADINGS = {f"h{n}": n for n in range(1, 7)}


class _TextOfHtml(HTMLParser):
    """Collects visible text; headings become Markdown `#` lines so chunking keeps them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] = []
        self.skipping = 0
        self.in_title = False
        self.in_heading = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self.in_title = True
        elif tag in SKIPPED:
            self.skipping += 1
        elif tag in HEADINGS:
            self.in_heading = True
            self.parts.append("\n\n" + "#" * HEADINGS[tag] + " ")
        elif tag in BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        elif tag in SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in HEADINGS or tag in BLOCKS:
            self.in_heading = self.in_heading and tag not in HEADINGS
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
        elif not self.skipping:
            self.parts.append(" ".join(data.split()) if self.in_heading else data)


def html_to_markdown(html: str) -> tuple[str, str | None]:
    """Visible text of an HTML page with its headings as Markdown, and its <title>."""
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    lines = [re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in text.split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    title = " ".join("".join(parser.title).split()) or None
    return text, title
