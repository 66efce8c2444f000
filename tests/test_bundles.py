"""Scenario bundles (app/scenarios/bundles.py): the demo's round trip with equal checksums,
validation that names every file and line and stores nothing, safe archives, the template,
and adapters with their weights. Embeddings come from the hashing test double: these tests
are about what is stored, not what is found."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from app.db.models import (
    Adapter,
    Chunk,
    Dataset,
    Document,
    EvalItem,
    EvalSet,
    Example,
    PromptVersion,
    Scenario,
)
from app.db.queries import find_scenario, get_scenario
from app.scenarios.bundle_files import BundleInvalid, yaml_line
from app.scenarios.bundles import BundleTarget, export_bundle, import_bundle, init_bundle
from app.scenarios.service import SlugTaken, scenario_fields
from app.scenarios.versions import content_sha256, versioned_levels
from tests.doubles import HashEmbedder
from tests.scenario_files import broken_bundle, unique_slug

TABLES = (Scenario, Document, Chunk, Dataset, Example, EvalSet, EvalItem, PromptVersion, Adapter)


@pytest.fixture(scope="module")
def embedder(runtime):
    return HashEmbedder(runtime.embedder)


@pytest.fixture
def importing(session, embedder, settings):
    """`importing(source, **options)`: import_bundle with the hashing embedder; every import
    is rolled back after the test."""
    yield lambda source, **options: import_bundle(
        session, source=source, embedder=embedder, settings=settings, **options
    )
    session.rollback()


def table_counts(session) -> dict[str, int]:
    return {t.__name__: session.scalar(select(func.count()).select_from(t)) for t in TABLES}


def checksums(session, slug: str) -> dict[str, object]:
    """What a round trip must keep: documents' content hashes, datasets' sha256 (oldest
    first), the latest eval set's sha256, and each prompt version's content sha256."""
    scenario_id = get_scenario(session, slug).id

    def column(statement):
        return list(session.scalars(statement))

    latest_eval_set = (
        select(EvalSet.sha256)
        .where(EvalSet.scenario_id == scenario_id)
        .order_by(EvalSet.created_at.desc(), EvalSet.id.desc())
        .limit(1)
    )
    versions = session.scalars(
        select(PromptVersion)
        .where(PromptVersion.scenario_id == scenario_id)
        .order_by(PromptVersion.level, PromptVersion.number)
    )
    return {
        "documents": sorted(
            column(select(Document.content_hash).where(Document.scenario_id == scenario_id))
        ),
        "datasets": column(
            select(Dataset.sha256)
            .where(Dataset.scenario_id == scenario_id)
            .order_by(Dataset.created_at, Dataset.id)
        ),
        "eval_set": session.scalar(latest_eval_set),
        "versions": [
            (v.level, v.number, v.sha256, content_sha256(v.content), v.note) for v in versions
        ],
    }


def test_the_demo_exported_and_imported_under_a_new_slug_has_equal_checksums(
    session, importing, tmp_path
):
    northwind = get_scenario(session, "northwind")
    archive = export_bundle(session, scenario=northwind, out=tmp_path / "northwind.tar.gz")
    slug = unique_slug("round-trip")
    report = importing(archive, slug=slug)
    assert report.created and report.added["documents"] >= 40
    assert any("metadata only" in warning for warning in report.warnings)  # no weights asked
    original, copy = checksums(session, "northwind"), checksums(session, slug)
    assert copy == original
    assert len(original["documents"]) >= 40 and original["eval_set"] and original["versions"]
    fields = scenario_fields(northwind)
    copied = scenario_fields(get_scenario(session, slug))
    for name in ("slug", "created_at", "few_shot_dataset_id"):
        fields.pop(name), copied.pop(name)
    assert copied == fields


def test_the_demo_exports_its_files_byte_for_byte(session, settings, tmp_path):
    """The demo's dataset files come back as shipped: the same sha256, so the same cached
    adapter (its name hashes them)."""
    out = export_bundle(session, scenario=get_scenario(session, "northwind"), out=tmp_path / "b")
    manifest = yaml.safe_load((out / "scenario.yaml").read_text())
    [tickets] = [d for d in manifest["datasets"] if d["name"] == "northwind-tickets"]
    folder = out if tickets["dir"] == "." else out / "datasets" / tickets["dir"]
    for name in ("train.jsonl", "eval_split.jsonl"):
        assert (folder / name).read_bytes() == (settings.demo_dir / name).read_bytes()
    assert tickets["sha256"] == tickets["files_sha256"]
    shipped = settings.demo_dir / "documents" / "returns-policy.md"
    assert (out / "documents" / "returns-policy.md").read_bytes() == shipped.read_bytes()
    evalset = (out / "evalset.jsonl").read_text().splitlines()
    assert len(evalset) == len((settings.demo_dir / "evalset.jsonl").read_text().splitlines())


def test_a_bundle_with_problems_names_each_file_and_line_and_stores_nothing(
    session, importing, tmp_path
):
    root = broken_bundle(tmp_path / "broken")
    before = table_counts(session)
    with pytest.raises(BundleInvalid) as caught:
        importing(root, slug=unique_slug("broken"))
    found = {(p.file, p.line): p.message for p in caught.value.problems}
    k_line = yaml_line((root / "scenario.yaml").read_text(), ("prompt", "few_shot_k"))
    assert "less than or equal to 10" in found["scenario.yaml", k_line]
    assert "not JSON" in found["train.jsonl", 2]
    assert "role order" in found["train.jsonl", 3]
    assert "'input'" in found["evalset.jsonl", 2]
    assert "unsupported file type" in found["documents/photo.png", 0]
    assert ("pricing.toml", 1) in found
    assert caught.value.status == 422 and "train.jsonl:2" in caught.value.message
    assert table_counts(session) == before


def test_a_taken_slug_is_refused_and_another_slug_imports_the_same_bundle(
    session, importing, tmp_path
):
    init_bundle(tmp_path / "t")
    slug = unique_slug("twice")
    importing(tmp_path / "t", slug=slug)
    with pytest.raises(SlugTaken):
        importing(tmp_path / "t", slug=slug)
    assert importing(tmp_path / "t", slug=unique_slug("twice")).created


def archive_with(path: Path, member: tarfile.TarInfo, data: bytes = b"") -> Path:
    with tarfile.open(path, "w:gz") as tar:
        manifest = b"slug: x\nname: X\n"
        info = tarfile.TarInfo("scenario.yaml")
        info.size = len(manifest)
        tar.addfile(info, io.BytesIO(manifest))
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return path


@pytest.mark.parametrize(
    ("name", "kind", "reason"),
    [
        ("../outside.md", tarfile.REGTYPE, "outside the bundle"),
        ("documents/../../outside.md", tarfile.REGTYPE, "outside the bundle"),
        ("/tmp/absolute.md", tarfile.REGTYPE, "absolute path"),
        ("documents/passwords.md", tarfile.SYMTYPE, "a link"),
    ],
)
def test_an_unsafe_archive_is_refused_before_anything_is_written(
    session, importing, tmp_path, name, kind, reason
):
    member = tarfile.TarInfo(name)
    member.type = kind
    member.linkname = "/etc/passwd" if kind == tarfile.SYMTYPE else ""
    archive = archive_with(
        tmp_path / "unsafe.tar.gz", member, b"# Hi\n" if kind == tarfile.REGTYPE else b""
    )
    with pytest.raises(BundleInvalid) as caught:
        importing(archive)
    assert reason in caught.value.message and name in caught.value.message
    assert not (tmp_path / "outside.md").exists()
    assert find_scenario(session, "x") is None


def test_the_template_imports_as_it_is(session, importing, tmp_path):
    written = init_bundle(tmp_path / "template")
    assert {p.relative_to(tmp_path / "template").as_posix() for p in written} == {
        "scenario.yaml",
        "documents/README.md",
        "train.jsonl",
        "evalset.jsonl",
    }
    manifest = (tmp_path / "template" / "scenario.yaml").read_text()
    assert manifest.count("\n#") >= 10  # explained key by key
    slug = unique_slug("template")
    report = importing(tmp_path / "template", slug=slug)
    assert report.added == {
        "datasets": 1,
        "examples": 6,
        "prompt_versions": len(versioned_levels()),  # one per level with a prompt
        "documents": 1,
        "chunks": report.added["chunks"],
        "eval_items": 3,
    }
    scenario = get_scenario(session, slug)
    assert scenario.few_shot_k == 2 and scenario.output_schema["required"] == ["topic", "answer"]
    assert "Example Co." in scenario.system_prompt
    with pytest.raises(BundleTarget):
        init_bundle(tmp_path / "template")


def test_a_bundle_keeps_its_prompt_history_and_names_its_pool(session, importing, tmp_path):
    """An edited bundle (its fields differ from its last version) gets one version more."""
    init_bundle(tmp_path / "t")
    manifest = yaml.safe_load((tmp_path / "t" / "scenario.yaml").read_text())
    first = dict(manifest["prompt"], few_shot_dataset="help-desk-examples", few_shot_k=1)
    manifest["prompt"]["few_shot_dataset"] = "help-desk-examples"
    manifest["versions"] = [
        {"level": "prompt", "number": 1, "note": "first try", "content": first},
        {"level": "prompt", "number": 2, "note": "k=2", "content": manifest["prompt"]},
    ]
    manifest["rag"]["rag_template"] = "Question: {question}\nSources:\n{sources}"
    (tmp_path / "t" / "scenario.yaml").write_text(yaml.safe_dump(manifest))
    slug = unique_slug("history")
    importing(tmp_path / "t", slug=slug)
    scenario = get_scenario(session, slug)
    pool = session.scalar(select(Dataset.id).where(Dataset.scenario_id == scenario.id))
    assert scenario.few_shot_dataset_id == pool
    versions = session.scalars(
        select(PromptVersion)
        .where(PromptVersion.scenario_id == scenario.id)
        .order_by(PromptVersion.id)
    ).all()
    rows = [(v.level, v.number, v.note) for v in versions]
    assert rows[:2] == [("prompt", 1, "first try"), ("prompt", 2, "k=2")]
    assert {row[0] for row in rows[2:]} == set(versioned_levels()) - {"prompt"}
    assert versions[0].content["few_shot_dataset_id"] == pool


def test_adapters_travel_with_their_weights_on_request(session, importing, settings, tmp_path):
    northwind = get_scenario(session, "northwind")
    active = northwind.active_adapter
    out = export_bundle(session, scenario=northwind, out=tmp_path / "b", with_adapters=True)
    for folder in (out / "adapters").iterdir():  # only the active one's weights, to save time
        if json.loads((folder / "adapter.json").read_text())["name"] != active.name:
            shutil.rmtree(folder)
    for part in ("documents", "evalset.jsonl"):  # what this test is not about
        shutil.rmtree(out / part) if part == "documents" else (out / part).unlink()
    slug = unique_slug("adapters")
    report = importing(out, slug=slug)
    name = f"{slug}-{active.name}"  # the adapter's own name is taken
    try:
        assert report.adapters == [name]
        scenario = get_scenario(session, slug)
        assert scenario.active_adapter.name == name
        assert scenario.active_adapter.checksum == active.checksum
        assert (settings.adapters_dir / name / "adapter_config.json").is_file()
    finally:
        shutil.rmtree(settings.adapters_dir / name, ignore_errors=True)


def test_a_failed_import_leaves_no_adapter_files(
    session, importing, settings, tmp_path, monkeypatch
):
    northwind = get_scenario(session, "northwind")
    out = export_bundle(session, scenario=northwind, out=tmp_path / "b", with_adapters=True)
    shutil.rmtree(out / "documents")

    def fail(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr("app.scenarios.bundle_import.register_adapter", fail)
    slug = unique_slug("failed")
    with pytest.raises(RuntimeError):
        importing(out, slug=slug)
    assert not list(settings.adapters_dir.glob(f"{slug}-*"))
    assert not list(settings.adapters_dir.glob(f".{slug}-*"))


def test_scenario_yaml_problems_are_named_with_their_line(session, importing, tmp_path):
    root = tmp_path / "t"
    init_bundle(root)
    manifest = yaml.safe_load((root / "scenario.yaml").read_text())
    manifest["prompt"] |= {"few_shot_selection": "fixed", "few_shot_dataset": "nowhere"}
    manifest["rag"]["top_k"] = 3
    manifest["versions"] = [
        {"level": "prompt", "number": 2, "content": {}},
        {"level": "rerank", "number": 1, "content": {}},
    ]
    text = yaml.safe_dump(manifest, sort_keys=False)
    (root / "scenario.yaml").write_text(text)
    with pytest.raises(BundleInvalid) as caught:
        importing(root, slug=unique_slug("yaml"))
    found = {p.message.split(":")[0]: p.line for p in caught.value.problems}
    expected = {
        "rag.top_k": ("rag", "top_k"),
        "versions.0.number": ("versions", 0, "number"),
        "versions.1.level": ("versions", 1, "level"),
    }
    for key, path in expected.items():
        assert found[key] == yaml_line(text, path) > 1, key
    with pytest.raises(BundleInvalid) as caught:  # the values' problems, once the keys are right
        del manifest["rag"]["top_k"], manifest["versions"]
        (root / "scenario.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
        importing(root, slug=unique_slug("yaml"))
    messages = " ".join(p.message for p in caught.value.problems)
    assert "few_shot_examples: a fixed selection needs" in messages
    manifest["prompt"]["few_shot_examples"] = [1]
    (root / "scenario.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    with pytest.raises(BundleInvalid) as caught:
        importing(root, slug=unique_slug("yaml"))
    [problem] = caught.value.problems
    assert "prompt.few_shot_dataset: no dataset 'nowhere'" in problem.message
