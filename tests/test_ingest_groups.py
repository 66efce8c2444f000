"""Ingest embeds the chunks of several files together, in a worker thread, and still stores
each file in its own transaction, in the files' order, with the same chunks and vectors as
one file at a time; the same text twice in one upload is stored once."""

import pytest
from sqlalchemy import select

from app.db.models import Chunk, Document
from app.db.queries import get_scenario
from app.rag import ingest
from app.rag.ingest import SourceFile, ingest_files
from tests.kb_files import HTML, MARKDOWN, PDF, TEXT, drop_scenario, new_scenario

FILES = {"lanterns.md": MARKDOWN, "canoe.html": HTML, "maps.txt": TEXT, "snowshoes.pdf": PDF}


@pytest.fixture
def two_scenarios(runtime):
    with runtime.session() as session:
        for slug in ("kb-groups-1", "kb-groups-2"):
            new_scenario(session, slug)
    yield "kb-groups-1", "kb-groups-2"
    with runtime.session() as session:
        for slug in ("kb-groups-1", "kb-groups-2"):
            drop_scenario(session, slug)


def run_ingest(runtime, session, slug, files, seen=None):
    return ingest_files(
        session,
        scenario=get_scenario(session, slug),
        files=[SourceFile.of_bytes(name, data) for name, data in files.items()],
        embedder=runtime.embedder,
        settings=runtime.settings,
        on_file=seen.append if seen is not None else None,
    )


def stored_chunks(session, slug):
    rows = session.execute(
        select(Document.source, Chunk.position, Chunk.text, Chunk.embedding)
        .join(Chunk.document)
        .where(Document.scenario_id == get_scenario(session, slug).id)
        .order_by(Document.source, Chunk.position)
    ).all()
    return [
        (source, position, text, [round(x, 4) for x in vector])
        for source, position, text, vector in rows
    ]


def test_grouped_ingest_stores_what_one_file_at_a_time_does(
    runtime, session, two_scenarios, monkeypatch
):
    grouped, one_by_one = two_scenarios
    seen: list[str] = []
    report = run_ingest(runtime, session, grouped, FILES, seen)
    assert [s.source for s in report.stored] == list(FILES) and seen == list(FILES)
    monkeypatch.setattr(ingest, "EMBED_GROUP", 1)  # each file embedded on its own
    for name, data in FILES.items():
        run_ingest(runtime, session, one_by_one, {name: data})
    assert stored_chunks(session, grouped) == stored_chunks(session, one_by_one)


def test_the_same_text_twice_in_one_upload_is_stored_once(
    runtime, session, two_scenarios, monkeypatch
):
    slug = two_scenarios[0]
    monkeypatch.setattr(ingest, "EMBED_GROUP", 2)  # several groups on their way at once
    files = {"a.md": MARKDOWN, "b.txt": TEXT, "copy-of-a.md": MARKDOWN, "c.html": HTML}
    report = run_ingest(runtime, session, slug, files)
    assert [(s.source, s.status) for s in report.stored] == [
        ("a.md", "created"),
        ("b.txt", "created"),
        ("copy-of-a.md", "unchanged"),
        ("c.html", "created"),
    ]
    sources = session.scalars(
        select(Document.source).where(Document.scenario_id == get_scenario(session, slug).id)
    ).all()
    assert sorted(sources) == ["a.md", "b.txt", "c.html"]
