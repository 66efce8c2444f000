"""Text extraction per file type and the reasons a file is refused (pure, no database)."""

import re

import pytest

from app.rag.extract import Rejected, extract, html_to_markdown
from tests.kb_files import HTML, MARKDOWN, PDF, TEXT, blank_pdf


def test_markdown_and_text_keep_their_text():
    assert extract("care.md", MARKDOWN).text.startswith("# Lantern care")
    plain = extract("maps.txt", TEXT)
    assert plain.kind == "text" and not plain.has_headings


def test_html_text_keeps_headings_and_drops_scripts_and_styles():
    doc = extract("canoe.html", HTML)
    assert doc.kind == "html" and doc.title == "Canoe rental"
    assert "# Canoe rental" in doc.text and "## Deposits" in doc.text
    assert "80 dollars is held & returned" in doc.text
    assert "do not index" not in doc.text and "color: red" not in doc.text


def test_html_heading_spread_over_lines_stays_one_heading():
    text, _ = html_to_markdown("<h2>Long\n   heading</h2><p>body</p>")
    assert text.splitlines()[0] == "## Long heading"


def test_pdf_text_is_extracted():
    doc = extract("snowshoes.pdf", PDF)
    assert doc.kind == "pdf"
    assert "Snowshoe sizing guide" in doc.text and "25 inch frame" in doc.text


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.md", b"", "empty"),
        ("blank.txt", b"  \n\t\n", "empty"),
        ("image.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("latin.txt", "caf\xe9".encode("latin-1"), "not UTF-8"),
        ("sheet.xlsx", b"PK\x03\x04", "unsupported file type '.xlsx'"),
        ("README", b"text", "unsupported file type '(no extension)'"),
        ("scan.pdf", blank_pdf(), "no extractable text"),
        ("fake.pdf", b"hello, not a pdf", "not a PDF"),
        ("broken.pdf", b"%PDF-1.4\ngarbage", "PDF"),
        ("empty.html", b"<html><script>x()</script></html>", "no text"),
    ],
)
def test_bad_files_are_rejected_with_the_reason(name, data, reason):
    with pytest.raises(Rejected, match=re.escape(reason)):
        extract(name, data)
