"""Small knowledge-base files for the tests: Markdown, HTML, text and PDFs made here."""

from __future__ import annotations

import io


def pdf_with_text(lines: list[str]) -> bytes:
    """A one-page PDF whose text is `lines` (Helvetica), written by hand."""
    body = " ".join(f"({line}) Tj 0 -16 Td" for line in lines)
    stream = f"BT /F1 12 Tf 72 720 Td {body} ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n{obj}\nendobj\n".encode("latin-1"))
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    trailer = f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    out.write(trailer.encode())
    return out.getvalue()


def blank_pdf() -> bytes:
    """A valid PDF with one empty page: nothing to extract."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


MARKDOWN = b"""# Lantern care

## Batteries

Take the batteries out of a Lumenhall lantern before storing it for the winter.

## Cleaning

Wipe the globe with a dry cloth; never rinse the switch.
"""

HTML = b"""<!doctype html><html><head><title>Canoe rental</title>
<style>body { color: red }</style><script>var hidden = "do not index";</script></head>
<body><h1>Canoe rental</h1><p>Canoes rent by the day at the Riverside desk.</p>
<h2>Deposits</h2><p>A deposit of 80 dollars is held &amp; returned with the paddles.</p>
</body></html>
"""

TEXT = b"Trail maps are free at every store counter.\n# not a heading in plain text\n"

PDF = pdf_with_text(["Snowshoe sizing guide", "Pick the 25 inch frame up to 90 kilograms."])


def new_scenario(session, slug: str):
    """An empty scenario for one test module (the demo's stays untouched)."""
    from sqlalchemy import delete

    from app.db.models import Scenario
    from app.scenarios.versions import record_versions

    session.execute(delete(Scenario).where(Scenario.slug == slug))
    scenario = Scenario(slug=slug, name=f"Test {slug}", system_prompt="Answer briefly.")
    session.add(scenario)
    record_versions(session, scenario, "made by the test")
    session.commit()
    return scenario


def drop_scenario(session, slug: str) -> None:
    from sqlalchemy import delete

    from app.db.models import Scenario

    session.execute(delete(Scenario).where(Scenario.slug == slug))
    session.commit()
