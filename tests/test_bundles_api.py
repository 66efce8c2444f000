"""Scenario bundles over REST (`POST /api/v1/scenarios/import`, `GET .../{slug}/export`) and
in the browser (the import page, the export link), with the real embedding model; and a
bank-intent bundle made of the shared public data (BANKING77, uv's documentation)."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from app.levels import level_names
from app.scenarios.bundle_files import pack
from app.scenarios.bundles import init_bundle
from app.scenarios.versions import versioned_levels
from tests.scenario_files import (
    BANKING77,
    UV_DOCS,
    broken_bundle,
    needs_shared_data,
    unique_slug,
)
from tests.test_bundles import table_counts

API = "/api/v1/scenarios"


@pytest.fixture
def client(echo_client):
    """The session's client without a remembered scenario before or after (the import page
    remembers the scenario it imported)."""
    echo_client.cookies.clear()
    yield echo_client
    echo_client.cookies.clear()


def archive(directory: Path) -> bytes:
    """The bundle directory as a .tar.gz, as `tritune scenario export` writes one."""
    path = directory.with_name(directory.name + ".tar.gz")
    pack(directory, path, directory.name)
    return path.read_bytes()


def upload(client, data: bytes, slug: str | None = None, name: str = "bundle.tar.gz"):
    files = {"file": (name, data, "application/gzip")}
    return client.post(f"{API}/import", files=files, data={"slug": slug} if slug else {})


def test_a_bundle_imports_over_the_api_and_its_export_imports_again(client, tmp_path):
    init_bundle(tmp_path / "template")
    slug = unique_slug("api-bundle")
    answer = upload(client, archive(tmp_path / "template"), slug)
    assert answer.status_code == 201, answer.text
    imported = answer.json()
    assert (imported["slug"], imported["created"]) == (slug, True)
    assert imported["added"]["examples"] == 6 and imported["added"]["eval_items"] == 3
    scenario = client.get(f"{API}/{slug}").json()
    assert scenario["few_shot_k"] == 2 and scenario["documents"] == 1

    assert upload(client, archive(tmp_path / "template"), slug).status_code == 409

    download = client.get(f"{API}/{slug}/export")
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/gzip"
    assert f'filename="{slug}.tar.gz"' in download.headers["content-disposition"]
    again = upload(client, download.content, unique_slug("api-copy"))
    assert again.status_code == 201, again.text
    assert again.json()["added"]["prompt_versions"] == len(versioned_levels())  # one a level


def test_a_bad_bundle_is_a_422_naming_each_file_and_line_and_stores_nothing(
    client, session, tmp_path
):
    before = table_counts(session)
    answer = upload(client, archive(broken_bundle(tmp_path / "broken")), unique_slug("bad"))
    assert answer.status_code == 422
    errors = {(e["file"], e["line"]) for e in answer.json()["errors"]}
    assert {("train.jsonl", 2), ("train.jsonl", 3), ("evalset.jsonl", 2)} <= errors
    assert ("documents/photo.png", 0) in errors
    assert "train.jsonl:2: not JSON" in answer.json()["detail"]

    assert upload(client, b"not gzip", name="bundle.tar.gz").status_code == 422
    assert upload(client, b"{}", name="bundle.json").status_code == 422
    bad_slug = upload(client, archive(tmp_path / "broken"), "Not A Slug")
    assert bad_slug.status_code == 422 and bad_slug.json()["detail"].startswith("slug:")
    assert table_counts(session) == before


def test_import_is_a_reserved_slug(client):
    answer = client.post(API, json={"slug": "import", "name": "Import"})
    assert answer.status_code == 422 and "reserved" in answer.text


def test_the_import_page_lists_the_problems_then_imports(client, tmp_path):
    assert 'href="/scenarios/import"' in client.get("/scenarios").text
    form = client.get("/scenarios/import")
    assert form.status_code == 200 and 'name="file"' in form.text

    slug = unique_slug("page-bundle")
    files = {"file": ("b.tar.gz", archive(broken_bundle(tmp_path / "broken")), "application/gzip")}
    rejected = client.post("/scenarios/import", files=files, data={"slug": slug})
    assert rejected.status_code == 422
    assert "nothing was stored" in rejected.text
    assert "<td>train.jsonl</td><td>2</td>" in rejected.text
    assert client.get(f"{API}/{slug}").status_code == 404

    init_bundle(tmp_path / "good")
    files = {"file": ("good.tar.gz", archive(tmp_path / "good"), "application/gzip")}
    imported = client.post("/scenarios/import", files=files, data={"slug": slug})
    assert imported.status_code == 200 and "Imported" in imported.text
    assert f'href="/scenarios/{slug}"' in imported.text

    page = client.get(f"/scenarios/{slug}")
    assert f'href="/scenarios/{slug}/export"' in page.text
    download = client.get(f"/scenarios/{slug}/export")
    assert download.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(download.content)) as tar:
        assert f"{slug}/scenario.yaml" in tar.getnames()


def bank_bundle(root: Path, examples: int = 60, pages: int = 4) -> Path:
    """A bank-intent scenario: BANKING77's first `examples` training examples (their system
    message lists the labels), ten of its eval items, and `pages` pages of uv's docs."""
    train = (BANKING77 / "train.jsonl").read_text().splitlines()[:examples]
    system = json.loads(train[0])["messages"][0]["content"]
    (root / "documents").mkdir(parents=True)
    (root / "train.jsonl").write_text("\n".join(train) + "\n")
    items = []
    for line in (BANKING77 / "eval.jsonl").read_text().splitlines()[:10]:
        messages = json.loads(line)["messages"]
        fields = json.loads(messages[-1]["content"])
        items.append({"kind": "intent", "input": messages[-2]["content"], "fields": fields})
    (root / "evalset.jsonl").write_text("".join(json.dumps(item) + "\n" for item in items))
    docs = UV_DOCS
    for page in sorted(p for p in docs.rglob("*.md") if p.name != "SOURCE.md")[:pages]:
        target = root / "documents" / page.relative_to(docs)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(page, target)
    manifest = {
        "slug": "bank-intents",
        "name": "Bank intents",
        "prompt": {"system_prompt": system, "few_shot_k": 3, "few_shot_dataset": "banking77"},
        "output_schema": {"type": "object", "required": ["intent"]},
        "datasets": [{"name": "banking77", "dir": "."}],
    }
    (root / "scenario.yaml").write_text(json.dumps(manifest))  # JSON is YAML too
    return root


@needs_shared_data
def test_a_bank_intent_bundle_of_the_shared_data_imports(client, tmp_path):
    slug = unique_slug("bank")
    answer = upload(client, archive(bank_bundle(tmp_path / "bank")), slug)
    assert answer.status_code == 201, answer.text
    added = answer.json()["added"]
    assert (added["examples"], added["documents"], added["eval_items"]) == (60, 4, 10)
    scenario = client.get(f"{API}/{slug}").json()
    assert scenario["few_shot_dataset_id"] is not None
    assert "activate_my_card" in scenario["system_prompt"]
    documents = client.get(f"{API}/{slug}/documents").json()
    sources = {document["source"] for document in documents}
    assert any("/" in source for source in sources)  # the folders are kept
    found = client.get(f"{API}/{slug}/search", params={"q": "install uv", "k": 3}).json()
    assert found["hits"] and found["hits"][0]["source"] in sources


@needs_shared_data
def test_a_bundle_goes_through_the_whole_loop_over_the_api(client, tmp_path):
    """Import a bank-intent bundle, train a small adapter on it, run its eval set through
    the three levels and read the decision report: the loop a team runs, with real training
    and generation (about two minutes on 2 cores)."""
    from tests.test_evals import wait_for as wait_for_eval
    from tests.test_finetune_api import finished, wait_for

    slug = unique_slug("bank-loop")
    imported = upload(client, archive(bank_bundle(tmp_path / "bank", examples=40, pages=3)), slug)
    assert imported.status_code == 201, imported.text
    try:
        config = {"micro_batch_size": 8, "num_epochs": 1, "max_seq_len": 192}
        started = client.post(f"{API}/{slug}/trainings", json={"activate": True, "config": config})
        assert started.status_code == 202, started.text
        job = wait_for(client, started.json()["id"], finished)
        assert job["status"] == "succeeded", job
        adapter = client.get(f"/api/v1/adapters/{job['adapter_name']}").json()
        assert adapter["active"] and adapter["evaluation"]  # before/after on a held-out 10%

        run = client.post(f"{API}/{slug}/evals", json={"limit": 10})
        assert run.status_code == 202, run.text
        done = wait_for_eval(client, run.json()["id"])
        assert done["status"] == "done", done
        assert done["levels"] == level_names()
        assert done["options"]["prompt_versions"] == {
            "prompt": 1,
            "rag": 1,
            "finetune": 1,
            "rag_finetune": 1,
        }

        report = client.get(f"{API}/{slug}/report")
        assert report.status_code == 200, report.text
        decided = report.json()
        assert decided["eval_run_id"] == done["id"] and decided["headline"]
        assert [kind["kind"] for kind in decided["kinds"]] == ["intent"]
        assert decided["kinds"][0]["tests"]  # the pairs of levels, with their numbers
    finally:
        client.delete(f"{API}/{slug}", params={"confirm": slug})
