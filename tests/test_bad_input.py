"""Hostile input gets a 4xx naming the problem, never a 500 (issue 17: D1-D9, S2, JSONL
limits). Each request here answered 500 before its fix, or stored something it should not."""

from __future__ import annotations

import asyncio
import io
import json
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sqlalchemy import select

from app.db.models import Document, Scenario
from app.evals import items as eval_items
from app.evals.metrics import embedding_similarity
from app.evals.scoring import score_result
from tests.scenario_files import create, unique_slug

GOOD_EVAL_LINE = '{"input": "How long to return?", "facts": ["30 days"]}'
GOOD_EXAMPLE = '{"prompt": "Hi", "completion": "Hello"}'
DEEP = "[" * 40_000 + "]" * 40_000  # within the line length limit: refused for its depth


@pytest.fixture
def slug(echo_client) -> str:
    """A scenario of its own for each test."""
    name = unique_slug("bad")
    create(echo_client, name)
    return name


def post_json(client, url: str, raw: str | bytes):
    """A body sent as written: JSON escapes such as a lone surrogate stay as they are."""
    return client.post(url, content=raw, headers={"content-type": "application/json"})


def upload_eval_set(client, slug: str, text: str):
    files = {"file": ("eval.jsonl", text.encode("utf-8", "surrogatepass"), "application/jsonl")}
    return client.post(f"/api/v1/scenarios/{slug}/eval-sets", files=files)


def upload_dataset(client, slug: str, text: str):
    files = {"file": ("train.jsonl", text.encode("utf-8", "surrogatepass"), "application/jsonl")}
    return client.post(f"/api/v1/scenarios/{slug}/datasets", files=files)


def dataset_errors(response) -> str:
    assert response.status_code == 422, response.text
    return json.dumps(response.json()["report"]["errors"])


# D1: lone surrogates


@pytest.mark.parametrize("field", ["query", "scenario", "adapter"])
def test_lone_surrogate_in_a_comparison_is_refused(echo_client, field):
    body = {"query": "Where is my order?", "levels": ["prompt"], field: "x\ud800y"}
    # json.dumps writes the lone surrogate as the escape `\ud800`, as a client would send it
    response = post_json(echo_client, "/api/v1/comparisons", json.dumps(body))
    assert response.status_code == 422, response.text
    assert "surrogate" in response.text


def test_paired_surrogates_are_text(echo_client, slug):
    raw = '{"query": "Where is my \\ud83d\\udce6?", "levels": ["prompt"], "scenario": "%s"}'
    response = post_json(echo_client, "/api/v1/comparisons", raw % slug)
    assert response.status_code == 201, response.text
    assert response.json()["query"] == "Where is my \U0001f4e6?"


def test_lone_surrogate_on_the_openai_route_is_a_400(echo_client):
    raw = '{"model": "northwind/prompt", "messages": [{"role": "user", "content": "\\udfff"}]}'
    response = post_json(echo_client, "/v1/chat/completions", raw)
    assert response.status_code == 400, response.text
    assert "surrogate" in response.json()["error"]["message"]


def test_lone_surrogate_in_an_eval_set_names_the_line(echo_client, slug):
    response = upload_eval_set(
        echo_client, slug, GOOD_EVAL_LINE + '\n{"input": "\\ud800", "facts": ["a"]}\n'
    )
    assert response.status_code == 422, response.text
    assert "line 2" in response.text and "surrogate" in response.text


def test_lone_surrogate_in_a_dataset_names_the_line(echo_client, slug):
    response = upload_dataset(echo_client, slug, '{"prompt": "\\ud800", "completion": "x"}\n')
    errors = dataset_errors(response)
    assert '"line": 1' in errors and "surrogate" in errors


# D2: NUL inside a JSON string


def test_escaped_nul_in_an_eval_set_is_refused(echo_client, slug):
    response = upload_eval_set(echo_client, slug, '{"input": "a\\u0000b", "facts": ["a"]}\n')
    assert response.status_code == 422, response.text
    assert "line 1" in response.text and "NUL" in response.text


def test_escaped_nul_in_a_dataset_is_refused(echo_client, slug):
    response = upload_dataset(echo_client, slug, '{"prompt": "a\\u0000b", "completion": "x"}\n')
    assert "NUL" in dataset_errors(response)


# D3: numbers JSON columns cannot hold


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_in_eval_fields_are_refused(echo_client, slug, number):
    line = f'{{"input": "triage this", "fields": {{"priority": {number}}}}}\n'
    response = upload_eval_set(echo_client, slug, line)
    assert response.status_code == 422, response.text
    assert "line 1" in response.text


# D4: nesting


def test_deep_nesting_in_an_eval_set_is_refused(echo_client, slug):
    response = upload_eval_set(echo_client, slug, GOOD_EVAL_LINE + "\n" + DEEP + "\n")
    assert response.status_code == 422, response.text
    assert "line 2" in response.text and "nested" in response.text


def test_deep_nesting_in_a_dataset_is_refused(echo_client, slug):
    response = upload_dataset(echo_client, slug, DEEP + "\n")
    assert "nested" in dataset_errors(response)


# D5: a JSON body that is not UTF-8


@pytest.mark.parametrize(
    "url", ["/api/v1/comparisons", "/api/v1/scenarios/northwind/documents", "/api/v1/scenarios"]
)
def test_json_body_that_is_not_utf8_is_refused(echo_client, url):
    response = post_json(echo_client, url, b'{"title": "a", "text": "\xff\xfe", "query": "\xff"}')
    assert 400 <= response.status_code < 500, response.text
    assert "detail" in response.json()


# D6 and S2: training requests


@pytest.mark.parametrize("base_model", ["/x.gguf", "/etc", "a b", "org/model"])
def test_training_base_model_outside_the_allow_list_is_refused(echo_client, slug, base_model):
    body = {"config": {"base_model": base_model}}
    response = echo_client.post(f"/api/v1/scenarios/{slug}/trainings", json=body)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert "base_model" in detail and "allowed" in detail
    # the same words whether the path exists or not: nothing learned about the disk
    assert "exist" not in detail and "not found" not in detail


def test_training_base_model_answer_does_not_depend_on_the_disk(echo_client, slug):
    url = f"/api/v1/scenarios/{slug}/trainings"
    answers = [
        echo_client.post(url, json={"config": {"base_model": path}}).json()["detail"]
        for path in ("/etc", "/no-such-directory-7f3a")
    ]
    assert answers[0].replace("/etc", "P") == answers[1].replace("/no-such-directory-7f3a", "P")


def test_training_dataset_id_out_of_range_is_refused(echo_client, slug):
    response = echo_client.post(
        f"/api/v1/scenarios/{slug}/trainings", json={"dataset_id": 1_000_000_000_000}
    )
    assert response.status_code == 422, response.text
    assert "dataset_id" in response.text


# D7: PDFs


def pdf(*, page_extra: bytes = b"", xref_size: int | None = None) -> bytes:
    """A one-page PDF saying "Hello", with `page_extra` in its page dictionary and its xref
    table declaring `xref_size` entries (default: the real count)."""
    stream = b"BT /F1 12 Tf 72 712 Td (Hello) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        + page_extra
        + b" >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (xref_size or len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1))
    out.write(b"startxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def bomb_pdf() -> bytes:
    """A PDF whose xref table claims a billion entries (pypdf's LimitReachedError)."""
    return pdf(xref_size=1_000_000_000)


def nested_pdf() -> bytes:
    """A PDF whose page dictionary opens 50,000 arrays (a RecursionError in pypdf)."""
    return pdf(page_extra=b"/Junk " + b"[" * 50_000)


@pytest.mark.parametrize("make", [bomb_pdf, nested_pdf], ids=["bomb", "nested"])
def test_bad_pdf_is_rejected_and_the_other_files_stored(echo_client, slug, make):
    files = [
        ("files", ("bad.pdf", make(), "application/pdf")),
        ("files", ("good.md", b"# Hours\n\nOpen 9 to 5, Monday to Saturday.", "text/markdown")),
    ]
    response = echo_client.post(f"/api/v1/scenarios/{slug}/documents", files=files)
    assert response.status_code == 201, response.text
    body = response.json()
    assert [s["source"] for s in body["stored"]] == ["good.md"]
    assert [r["source"] for r in body["rejected"]] == ["bad.pdf"]
    assert "PDF" in body["rejected"][0]["reason"]


def test_pdf_parser_recursion_is_a_rejection(monkeypatch):
    """pypdf recurses per nesting level in places (a RecursionError for 50,000 `[`)."""
    import pypdf

    from app.rag.extract import Rejected, extract

    def deep(*args, **kwargs):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(pypdf, "PdfReader", deep)
    with pytest.raises(Rejected, match="unreadable PDF"):
        extract("deep.pdf", pdf())


# D8: parallel uploads


class SlowEmbedder:
    """The session's embedding model, slowed down so that parallel ingests all check for
    their document before any of them stores it (the race is then certain, not likely)."""

    def __init__(self, real) -> None:
        self.real, self.name = real, real.name
        self.dimensions, self.count_tokens = real.dimensions, real.count_tokens

    def embed(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        time.sleep(0.5)
        return self.real.embed(texts, batch_size)


def ingest_in_parallel(runtime, slug: str, files: list[tuple[str, bytes]]) -> list[str]:
    """Each file ingested by its own thread and session, as parallel requests are."""
    from app.db.queries import get_scenario
    from app.rag.ingest import SourceFile, ingest_files

    embedder = SlowEmbedder(runtime.embedder)

    def ingest(file: tuple[str, bytes]) -> str:
        with runtime.session() as session:
            report = ingest_files(
                session,
                scenario=get_scenario(session, slug),
                files=[SourceFile.of_bytes(*file)],
                embedder=embedder,
                settings=runtime.settings,
            )
            return report.stored[0].status

    with ThreadPoolExecutor(len(files)) as pool:
        return list(pool.map(ingest, files))


def documents_of(session, slug: str) -> list[Document]:
    scenario_id = session.scalar(select(Scenario.id).where(Scenario.slug == slug))
    return list(session.scalars(select(Document).where(Document.scenario_id == scenario_id)))


def test_parallel_identical_uploads_store_one_document(runtime, session, slug):
    text = b"# Warranty\n\nTents carry a lifetime warranty."
    statuses = ingest_in_parallel(runtime, slug, [("warranty.md", text)] * 4)
    assert sorted(statuses) == ["created", "unchanged", "unchanged", "unchanged"]
    assert len(documents_of(session, slug)) == 1


def test_parallel_uploads_of_one_source_keep_one_document(runtime, session, slug):
    texts = [f"# Shipping\n\nZone {n} ships in {n + 2} days.".encode() for n in range(4)]
    ingest_in_parallel(runtime, slug, [("shipping.md", text) for text in texts])
    assert [d.source for d in documents_of(session, slug)] == ["shipping.md"]


def test_parallel_identical_uploads_over_the_api(echo_client, session, slug):
    body = {"title": "Hours", "text": "# Hours\n\nOpen 9 to 5."}
    url = f"/api/v1/scenarios/{slug}/documents"
    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda b: echo_client.post(url, json=b).status_code, [body] * 4))
    assert statuses == [201] * 4
    assert len(documents_of(session, slug)) == 1


# D9: scores are Python floats


def test_embedding_similarity_is_a_python_float():
    vector = np.array([0.6, 0.8], dtype=np.float32)
    score = embedding_similarity(vector, vector)
    assert type(score) is float
    json.dumps(score)


def test_reference_and_plain_expected_scores_serialise():
    from types import SimpleNamespace

    item = eval_items.parse_item('{"input": "q", "expected": "yes", "reference": "yes it is"}')
    result = SimpleNamespace(
        output="yes", error=None, context=[], latency_total_ms=1.0, cost_usd=0.0,
        prompt_tokens=1, completion_tokens=1,
    )  # fmt: skip
    vector = np.array([0.6, 0.8], dtype=np.float32)
    scores = score_result(
        item, result, schema=None, k=5, output_vector=vector, reference_vector=vector
    )
    assert all(type(v) is float for v in scores.values() if v is not None)
    json.dumps(scores)


# JSONL limits and parsing off the event loop


def test_eval_set_over_the_line_limit_is_refused():
    from app.jsonl import JsonlLimits

    text = "\n".join([GOOD_EVAL_LINE] * 11)
    with pytest.raises(eval_items.EvalSetInvalid, match="10 lines"):
        eval_items.parse_eval_jsonl(text, JsonlLimits(max_lines=10, max_line_chars=1000))


def test_eval_line_over_the_length_limit_names_it():
    from app.jsonl import JsonlLimits

    long = '{"input": "%s", "facts": ["a"]}' % ("x" * 2000)
    with pytest.raises(eval_items.EvalSetInvalid, match="line 2: longer than 1,000"):
        eval_items.parse_eval_jsonl(
            GOOD_EVAL_LINE + "\n" + long, JsonlLimits(max_lines=10, max_line_chars=1000)
        )


def test_dataset_limits_come_from_the_settings(echo_client, echo_runtime, slug, monkeypatch):
    monkeypatch.setattr(echo_runtime.settings, "max_jsonl_lines", 5)
    response = upload_dataset(echo_client, slug, "\n".join([GOOD_EXAMPLE] * 6))
    assert "5 lines" in dataset_errors(response)


def test_eval_set_is_parsed_off_the_event_loop(echo_client, slug, monkeypatch):
    seen = []

    def parse(raw: bytes, limits):
        try:
            asyncio.get_running_loop()
            seen.append("event loop")
        except RuntimeError:
            seen.append("worker thread")
        return eval_items.parse_eval_upload(raw, limits)

    monkeypatch.setattr("app.api.evals.parse_eval_upload", parse)
    response = upload_eval_set(echo_client, slug, GOOD_EVAL_LINE + "\n")
    assert response.status_code == 201, response.text
    assert seen == ["worker thread"]
