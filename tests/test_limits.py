"""Bounded resources (issue 17, D10): request bodies refused by size as they arrive, before
Starlette spools them to disk, and a cap on the files of one upload."""

from __future__ import annotations

import asyncio
import io
import tarfile
from collections.abc import Iterator

import pytest
import starlette.formparsers
from fastapi.testclient import TestClient

from app.main import create_app

SMALL = 256 * 1024  # below Starlette's 1 MB spool threshold, so a refused part never hits disk


@pytest.fixture
def limited_client(echo_runtime, monkeypatch) -> Iterator[TestClient]:
    """An app whose limits are small: 256 KiB per document request and per other body,
    3 files a document upload."""
    small = echo_runtime.settings.model_copy(
        update={
            "max_documents_request_bytes": SMALL,
            "max_request_bytes": SMALL,
            "max_files_per_request": 3,
        }
    )
    monkeypatch.setattr(echo_runtime, "settings", small)
    with TestClient(create_app(runtime=echo_runtime)) as client:
        yield client


@pytest.fixture
def spooled(monkeypatch) -> list[int]:
    """The bytes Starlette wrote into each upload's spool file, as they are written."""
    written: list[int] = []
    real = starlette.formparsers.SpooledTemporaryFile

    def counting(*args, **kwargs):
        spool = real(*args, **kwargs)
        index = len(written)
        written.append(0)
        write = spool.write

        def counted_write(data: bytes) -> int:
            written[index] += len(data)
            return write(data)

        spool.write = counted_write
        return spool

    monkeypatch.setattr(starlette.formparsers, "SpooledTemporaryFile", counting)
    return written


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """A multipart body streamed without a Content-Length (chunked)."""
    yield b'--B\r\nContent-Disposition: form-data; name="files"; filename="big.md"\r\n\r\n'
    for _ in range(total // size):
        yield b"x" * size
    yield b"\r\n--B--\r\n"


def test_a_declared_oversized_upload_is_refused_before_reading(limited_client, spooled):
    files = {"files": ("big.md", b"# Big\n" + b"word " * (SMALL // 2))}
    response = limited_client.post("/api/v1/scenarios/northwind/documents", files=files)
    assert response.status_code == 413
    assert "larger than 262,144 bytes" in response.json()["detail"]
    assert sum(spooled) == 0


def test_a_streamed_upload_stops_at_the_limit(limited_client, spooled):
    response = limited_client.post(
        "/api/v1/scenarios/northwind/documents",
        content=chunks(5 * 1024 * 1024),
        headers={"Content-Type": "multipart/form-data; boundary=B"},
    )
    assert response.status_code == 413
    assert sum(spooled) <= SMALL


def test_the_upload_page_answers_an_oversized_upload_with_a_page(limited_client):
    files = {"files": ("big.md", b"# Big\n" + b"word " * SMALL)}
    response = limited_client.post(
        "/scenarios/northwind/documents", files=files, headers={"HX-Request": "true"}
    )
    assert response.status_code == 413
    assert "text/html" in response.headers["content-type"]
    assert "larger than" in response.text


def test_a_json_body_past_the_limit_is_refused(limited_client):
    response = limited_client.post(
        "/api/v1/comparisons", json={"query": "x" * (SMALL + 1), "scenario": "northwind"}
    )
    assert response.status_code == 413


def test_an_eval_set_past_its_limit_is_refused_as_it_arrives(echo_client, spooled):
    big = b'{"input": "q"}\n' * 400_000  # 6 MB: over the eval-set limit of 5 MB
    files = {"file": ("big.jsonl", big)}
    response = echo_client.post("/api/v1/scenarios/northwind/eval-sets", files=files)
    assert response.status_code == 413
    assert sum(spooled) < 5_200_000


def test_a_document_upload_holds_at_most_max_files(limited_client):
    files = [("files", (f"doc{n}.md", b"# Doc\nwords here\n")) for n in range(4)]
    response = limited_client.post("/api/v1/scenarios/northwind/documents", files=files)
    assert response.status_code == 400
    assert "Maximum number of files is 3" in response.json()["detail"]


def test_a_dataset_upload_takes_two_files_at_most(echo_client):
    files = [("file", (f"t{n}.jsonl", b"{}\n")) for n in range(3)]
    response = echo_client.post("/api/v1/scenarios/northwind/datasets", files=files)
    assert response.status_code == 400


def response_bodies(app, path: str) -> list[bytes]:
    """The body messages the app sends for GET `path`, one per piece it sent."""
    bodies: list[bytes] = []

    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict:
        if requests:
            return requests.pop()
        await asyncio.Event().wait()  # no disconnect: the response ends first
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.body":
            bodies.append(message.get("body", b""))

    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"testserver")],  # the Host check answers 400 without it
        "http_version": "1.1",
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("testclient", 1),
        "root_path": "",
    }
    asyncio.run(app(scope, receive, send))
    return bodies


def test_an_adapter_export_is_sent_in_chunks_not_lines(echo_client, demo_adapter):
    """D15: the archive went out line by line (a gzip has a newline every ~256 bytes)."""
    bodies = response_bodies(echo_client.app, f"/api/v1/adapters/{demo_adapter.name}/export")
    data = b"".join(bodies)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        assert f"{demo_adapter.name}/adapter_config.json" in archive.getnames()
    assert len(bodies) <= len(data) // (32 * 1024) + 2
