"""Knowledge-base ingest through the API, the CLI and the upload page; documents, chunks and
delete; a changed embedding model is refused until `tritune reembed`."""

import pytest
from sqlalchemy import func, select, update

from app.db.models import Chunk, Document
from tests.kb_files import HTML, MARKDOWN, PDF, TEXT, blank_pdf, drop_scenario, new_scenario

SLUG = "kb-api"
FILES = {"lanterns.md": MARKDOWN, "canoe.html": HTML, "maps.txt": TEXT, "snowshoes.pdf": PDF}


@pytest.fixture
def kb(runtime):
    with runtime.session() as session:
        new_scenario(session, SLUG)
    yield SLUG
    with runtime.session() as session:
        drop_scenario(session, SLUG)


def upload(client, slug, files: dict[str, bytes]):
    parts = [("files", (name, data)) for name, data in files.items()]
    return client.post(f"/api/v1/scenarios/{slug}/documents", files=parts)


def chunk_rows(session, slug):
    rows = session.execute(
        select(
            Document.source,
            Chunk.position,
            Chunk.heading,
            Chunk.text,
            Chunk.token_count,
            Chunk.embedding,
            Chunk.embedding_model,
        )
        .join(Chunk.document)
        .where(Document.scenario_id == scenario_id(session, slug))
        .order_by(Document.source, Chunk.position)
    ).all()
    return [(r[0], r[1], r[2], r[3], r[4], [round(x, 6) for x in r[5]], r[6]) for r in rows]


def scenario_id(session, slug):
    from app.db.queries import get_scenario

    return get_scenario(session, slug).id


def count_chunks(session, slug):
    return session.scalar(
        select(func.count(Chunk.id)).where(Chunk.scenario_id == scenario_id(session, slug))
    )


def test_upload_stores_good_files_and_names_each_rejected_one(client, session, kb):
    bad = {
        "empty.md": b"",
        "photo.txt": b"\x89PNG\r\n\x1a\n\x00\x00",
        "scan.pdf": blank_pdf(),
        "sheet.xlsx": b"PK\x03\x04",
    }
    response = upload(client, kb, {**FILES, **bad})
    assert response.status_code == 201, response.text
    body = response.json()
    assert {s["source"] for s in body["stored"]} == set(FILES)
    assert all(s["status"] == "created" and s["chunks"] >= 1 for s in body["stored"])
    reasons = {r["source"]: r["reason"] for r in body["rejected"]}
    assert set(reasons) == set(bad)
    assert "empty" in reasons["empty.md"] and "binary" in reasons["photo.txt"]
    assert "no extractable text" in reasons["scan.pdf"] and "unsupported" in reasons["sheet.xlsx"]
    listed = client.get(f"/api/v1/scenarios/{kb}/documents").json()
    assert {d["source"] for d in listed} == set(FILES)
    by_source = {d["source"]: d for d in listed}
    assert by_source["canoe.html"]["media_type"] == "text/html"
    assert by_source["canoe.html"]["title"] == "Canoe rental"
    assert by_source["lanterns.md"]["chunks"] == 2  # one per section
    assert sum(d["chunks"] for d in listed) == count_chunks(session, kb)


def test_an_upload_where_every_file_fails_is_a_4xx_naming_each(
    client, session, runtime, kb, monkeypatch
):
    response = upload(client, kb, {"a.md": b"   ", "b.exe": b"MZ"})
    assert response.status_code == 422
    assert "a.md: the file is empty" in response.json()["detail"]
    assert "b.exe: unsupported file type '.exe'" in response.json()["detail"]
    monkeypatch.setattr(runtime.settings, "max_upload_bytes", 100)
    too_large = upload(client, kb, {"big.md": b"# Big\n\n" + b"word " * 100})
    assert too_large.status_code == 413
    assert "big.md" in too_large.json()["detail"] and "limit is 100" in too_large.json()["detail"]
    assert count_chunks(session, kb) == 0
    assert client.post(f"/api/v1/scenarios/{kb}/documents", files=[]).status_code in (400, 422)


def test_json_documents_and_their_validation(client, kb):
    response = client.post(
        f"/api/v1/scenarios/{kb}/documents",
        json={"title": "Kayak policy", "text": "## Sizes\n\nKayaks come in two sizes."},
    )
    assert response.status_code == 201, response.text
    stored = response.json()["stored"][0]
    assert stored["title"] == "Kayak policy" and stored["media_type"] == "text/markdown"
    detail = client.get(f"/api/v1/scenarios/{kb}/documents/{stored['document_id']}").json()
    assert detail["chunks"][0]["heading"] == "Sizes"
    empty = client.post(f"/api/v1/scenarios/{kb}/documents", json={"title": "x", "text": "  "})
    assert empty.status_code == 422 and empty.json()["detail"][0]["loc"][-1] == "text"
    assert (
        client.post(
            "/api/v1/scenarios/nope/documents", json={"title": "a", "text": "b"}
        ).status_code
        == 404
    )


def test_same_content_is_kept_once_and_a_changed_file_replaces_its_chunks(client, session, kb):
    first = upload(client, kb, {"lanterns.md": MARKDOWN}).json()["stored"][0]
    again = upload(client, kb, {"lanterns.md": MARKDOWN}).json()["stored"][0]
    assert again["status"] == "unchanged" and again["document_id"] == first["document_id"]
    changed = MARKDOWN + b"\n## Bulbs\n\nThe Lumenhall takes one E14 bulb.\n"
    replaced = upload(client, kb, {"lanterns.md": changed}).json()["stored"][0]
    assert replaced["status"] == "replaced" and replaced["chunks"] == 3
    listed = client.get(f"/api/v1/scenarios/{kb}/documents").json()
    assert [(d["source"], d["chunks"]) for d in listed] == [("lanterns.md", 3)]
    assert count_chunks(session, kb) == 3
    old = client.get(f"/api/v1/scenarios/{kb}/documents/{first['document_id']}")
    assert old.status_code == 404


def test_cli_and_api_give_identical_chunks(client, runtime, session, kb, tmp_path, cli_run):
    (tmp_path / "sub").mkdir()
    for name, data in FILES.items():
        (tmp_path / "sub" / name).write_bytes(data)
    (tmp_path / "notes.png").write_bytes(b"\x89PNG")  # not a supported type: skipped in a walk
    result = cli_run(["ingest", str(tmp_path), "--scenario", kb])
    assert result.exit_code == 0, result.output
    assert "ingesting" in result.output and "4/4 files" in result.output
    via_cli = chunk_rows(session, kb)
    assert {row[0] for row in via_cli} == {f"sub/{name}" for name in FILES}
    with runtime.session() as other:
        new_scenario(other, "kb-api-2")
    try:
        assert upload(client, "kb-api-2", FILES).status_code == 201
        via_api = chunk_rows(session, "kb-api-2")
        strip = lambda rows: [row[1:] for row in rows]  # noqa: E731 (sources differ by folder)
        assert strip(sorted(via_cli, key=lambda r: (r[0].split("/")[-1], r[1]))) == strip(via_api)
    finally:
        with runtime.session() as other:
            drop_scenario(other, "kb-api-2")


def test_cli_reports_a_rejected_file_with_exit_code_1(kb, tmp_path, cli_run):
    (tmp_path / "empty.md").write_bytes(b"")
    result = cli_run(["ingest", str(tmp_path / "empty.md"), "--scenario", kb])
    assert result.exit_code == 1
    assert "empty.md" in result.output and "the file is empty" in result.output


def test_document_detail_and_delete_cascades_to_chunks(client, session, kb):
    stored = upload(client, kb, {"canoe.html": HTML}).json()["stored"][0]
    detail = client.get(f"/api/v1/scenarios/{kb}/documents/{stored['document_id']}").json()
    assert [c["position"] for c in detail["chunks"]] == list(range(stored["chunks"]))
    assert detail["chunks"][-1]["heading"] == "Canoe rental › Deposits"
    assert (
        client.get(f"/api/v1/scenarios/northwind/documents/{stored['document_id']}").status_code
        == 404
    )
    deleted = client.delete(f"/api/v1/scenarios/{kb}/documents/{stored['document_id']}")
    assert deleted.status_code == 204
    assert count_chunks(session, kb) == 0
    assert (
        client.delete(f"/api/v1/scenarios/{kb}/documents/{stored['document_id']}").status_code
        == 404
    )


def test_upload_page_lists_documents_and_accepts_files(client, kb):
    page = client.get(f"/scenarios/{kb}/documents")
    assert page.status_code == 200
    assert 'type="file"' in page.text and 'id="dropzone"' in page.text and "<progress" in page.text
    response = client.post(
        f"/scenarios/{kb}/documents",
        files=[("files", ("lanterns.md", MARKDOWN)), ("files", ("bad.md", b""))],
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "lanterns.md" in response.text and "bad.md" in response.text
    assert "the file is empty" in response.text
    assert 'hx-swap-oob="true"' in response.text and "Lantern care" in response.text


def test_document_page_anchors_chunks_and_chunk_links_resolve(client, session, kb):
    stored = upload(client, kb, {"lanterns.md": MARKDOWN}).json()["stored"][0]
    page = client.get(f"/scenarios/{kb}/documents/{stored['document_id']}")
    chunk_id = session.scalar(
        select(Chunk.id).where(Chunk.document_id == stored["document_id"]).order_by(Chunk.position)
    )
    assert f'id="chunk-{chunk_id}"' in page.text and "Lantern care › Batteries" in page.text
    link = client.get(f"/chunks/{chunk_id}", follow_redirects=False)
    assert link.headers["location"] == (
        f"/scenarios/{kb}/documents/{stored['document_id']}#chunk-{chunk_id}"
    )
    removed = client.delete(
        f"/scenarios/{kb}/documents/{stored['document_id']}", headers={"HX-Request": "true"}
    )
    assert removed.status_code == 200 and "No documents yet" in removed.text


def test_chunks_of_another_embedding_model_are_refused_until_reembedded(
    client, runtime, session, kb, cli_run
):
    upload(client, kb, {"lanterns.md": MARKDOWN})
    session.execute(
        update(Chunk)
        .where(Chunk.scenario_id == scenario_id(session, kb))
        .values(embedding_model="some-other-model")
    )
    session.commit()
    search = client.get(f"/api/v1/scenarios/{kb}/search", params={"q": "batteries"})
    assert search.status_code == 409
    assert "some-other-model" in search.json()["detail"]
    assert f"tritune reembed --scenario {kb}" in search.json()["detail"]
    assert upload(client, kb, {"canoe.html": HTML}).status_code == 409
    assert "some-other-model" in rag_level_error(runtime, session, kb)
    result = cli_run(["reembed", "--scenario", kb])
    assert result.exit_code == 0, result.output
    assert "re-embedded 2 chunks" in " ".join(result.output.split())
    hits = client.get(f"/api/v1/scenarios/{kb}/search", params={"q": "batteries"}).json()["hits"]
    assert hits[0]["heading"] == "Lantern care › Batteries"


def rag_level_error(runtime, session, slug) -> str:
    from app.db.queries import get_scenario
    from app.levels import LevelInputs, LevelUnavailable, get_level
    from app.scenarios.versions import resolve_versions

    scenario = get_scenario(session, slug)
    versions = resolve_versions(session, scenario)  # a scenario made here has none yet
    session.commit()  # so that deleting the scenario later does not wait on this session
    inputs = LevelInputs(
        session=session,
        scenario=scenario,
        query="batteries",
        query_embedding=runtime.embedder.embed_one("batteries"),
        settings=runtime.settings,
        engine=runtime.engine,
        top_k=3,
        few_shot_k=0,
        versions=versions,
    )
    with pytest.raises(LevelUnavailable) as error:
        get_level("rag").plan(inputs)
    return str(error.value)
