"""Adapters and datasets in the ecosystem's formats (issue 18, part 5): a PEFT adapter laid
out as axolotl writes it imports, is checked against the scenario's base model, and serves on
both local engines; adapters export as GGUF LoRA, datasets as an axolotl run."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import save_file
from sqlalchemy import select

from app.db.models import Adapter
from app.engine import GenerationRequest
from tests.test_llamacpp import QUANTISATION_NOISE, logit_gap, transformers_logits

HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"  # what axolotl records for the packaged base
QUESTION = [{"role": "user", "content": "Where is my order? It was due on Monday."}]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def axolotl_output(settings, tmp_path_factory) -> Path:
    """`output_dir` of an axolotl LoRA run on the packaged base: the final adapter at the
    top, a checkpoint below it, and the extras axolotl writes (README, tokenizer files)."""
    from peft import LoraConfig, get_peft_model

    from app.engine.transformers import load_base

    torch.manual_seed(0)
    base, tokenizer = load_base(settings.base_model, settings.models_cache_dir)
    config = LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"], init_lora_weights=False
    )
    model = get_peft_model(base, config)
    with torch.no_grad():  # a small, visible change (PEFT's default would be none at all)
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.mul_(0.05)
    out = tmp_path_factory.mktemp("axolotl") / "lora-out"
    model.save_pretrained(out / "checkpoint-2")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "README.md").write_text("---\nlibrary_name: peft\n---\nTrained with axolotl\n")
    for directory in (out, out / "checkpoint-2"):
        path = directory / "adapter_config.json"
        declared = json.loads(path.read_text()) | {"base_model_name_or_path": HUB_ID}
        path.write_text(json.dumps(declared))
    return out


def tarball(directory: Path, into: Path) -> Path:
    archive = into / f"{directory.name}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(directory, arcname=directory.name)
    return archive


def post_import(client, files: list[tuple[str, bytes]], name: str, **form):
    return client.post(
        "/api/v1/scenarios/northwind/adapters",
        files=[("files", (n, content)) for n, content in files],
        data={"name": name, **form},
    )


def variant(source: Path, into: Path, *, config: dict | None = None, tensors=None) -> Path:
    """A copy of the adapter with its config fields or its tensors replaced."""
    target = into / uuid.uuid4().hex[:8]
    target.mkdir()
    declared = json.loads((source / "adapter_config.json").read_text()) | (config or {})
    (target / "adapter_config.json").write_text(json.dumps(declared))
    if tensors is None:
        shutil.copy(source / "adapter_model.safetensors", target)
    else:
        save_file(tensors, str(target / "adapter_model.safetensors"))
    return target


def stored(session, name: str) -> bool:
    return session.scalar(select(Adapter.id).where(Adapter.name == name)) is not None


@pytest.fixture(scope="module")
def imported(client, settings, axolotl_output, tmp_path_factory):
    """The axolotl output imported over the API as a .tar.gz: (adapter JSON, archive)."""
    archive = tarball(axolotl_output, tmp_path_factory.mktemp("upload"))
    name = unique("axolotl")
    answer = post_import(client, [(archive.name, archive.read_bytes())], name)
    assert answer.status_code == 201, answer.text
    yield answer.json(), archive
    assert client.delete(f"/api/v1/adapters/{name}").status_code == 204
    for converted in settings.adapters_dir.glob(f"{name}.*.lora.gguf"):
        converted.unlink()


def test_an_axolotl_tarball_imports_with_its_checksum_and_origin(imported, settings):
    adapter, archive = imported
    assert adapter["scenario"] == "northwind" and adapter["active"] is False
    assert adapter["base_model"] == settings.base_model
    assert len(adapter["checksum"]) == 64
    origin = adapter["config"]["imported"]
    assert origin["archive_sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert origin["base_model_name_or_path"] == HUB_ID and origin["source"] == archive.name
    assert adapter["config"]["lora_r"] == 4
    files = sorted(p.name for p in (settings.adapters_dir / adapter["name"]).iterdir())
    assert files == ["adapter_config.json", "adapter_model.safetensors"]  # not the checkpoint


def test_the_imported_adapter_serves_on_llamacpp_through_a_comparison(client, imported):
    adapter, _ = imported
    answer = client.post(
        "/api/v1/comparisons",
        json={
            "query": QUESTION[0]["content"],
            "levels": ["finetune"],
            "adapter": adapter["name"],
            "max_new_tokens": 8,
        },
    )
    assert answer.status_code == 201, answer.text
    result = answer.json()["results"][0]
    assert result["error"] is None and result["engine"] == "llamacpp"
    assert result["adapter"] == adapter["name"]
    assert result["adapter_checksum"] == adapter["checksum"]


def test_the_imported_adapter_serves_on_transformers_as_on_llamacpp(
    imported, settings, transformers_engine, llamacpp_engine
):
    adapter, _ = imported
    path = str(settings.adapters_dir / adapter["name"])
    for engine in (transformers_engine, llamacpp_engine):
        engine.load_adapter(adapter["name"], path, adapter["checksum"])
    gap, agreement = logit_gap(llamacpp_engine, transformers_engine, QUESTION, adapter["name"])
    assert gap < QUANTISATION_NOISE and agreement >= 0.9, (gap, agreement)
    tokens = transformers_engine.tokenize(transformers_engine.render_chat(QUESTION))
    moved = transformers_logits(transformers_engine, tokens, adapter["name"])
    moved -= transformers_logits(transformers_engine, tokens, None)
    assert np.abs(moved).max() > QUANTISATION_NOISE  # the adapter is applied
    answer = transformers_engine.generate([GenerationRequest(QUESTION, adapter["name"], 4)])
    assert answer[0].completion_tokens > 0


def remove(session, name: str) -> None:
    """Delete the adapter, and the GGUF LoRA converted beside it (which deleting keeps)."""
    from app.finetune.adapters import delete_adapter, get_adapter

    folder = Path(get_adapter(session, name).path).parent
    delete_adapter(session, name)
    session.commit()
    for converted in folder.glob(f"{name}.*.lora.gguf"):
        converted.unlink()


def test_a_directory_imports_from_the_cli(cli_run, axolotl_output, session, tmp_path):
    name = unique("cli-import")
    result = cli_run(["adapter", "import", str(axolotl_output), "--name", name])
    assert result.exit_code == 0, result.output
    assert "imported" in result.output and stored(session, name)
    assert (
        cli_run(
            ["adapter", "export", name, "--out", str(tmp_path / "a.gguf"), "--format", "gguf"]
        ).exit_code
        == 0
    )
    assert (tmp_path / "a.gguf").read_bytes()[:4] == b"GGUF"
    remove(session, name)


def test_the_two_files_import_from_the_fine_tune_page(echo_client, axolotl_output, session):
    name = unique("form-import")
    files = [
        ("files", (f, (axolotl_output / f).read_bytes()))
        for f in ("adapter_config.json", "adapter_model.safetensors")
    ]
    answer = echo_client.post(
        "/scenarios/northwind/adapters/import",
        files=files,
        data={"name": name},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == f"/adapters/{name}"
    page = echo_client.get("/scenarios/northwind/finetune").text
    assert 'action="/scenarios/northwind/adapters/import"' in page
    remove(session, name)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"base_model_name_or_path": "HuggingFaceTB/SmolLM2-360M-Instruct"}, "trained on"),
        ({"base_model_name_or_path": "HuggingFaceTB/SmolLM2-135M"}, "trained on"),
        ({"base_model_name_or_path": None}, "names no base_model_name_or_path"),
        ({"use_dora": True}, "use_dora"),
    ],
)
def test_another_base_or_an_unsupported_config_is_refused_and_nothing_stored(
    client, axolotl_output, tmp_path, session, settings, change, reason
):
    source = variant(axolotl_output, tmp_path, config=change)
    name = unique("refused")
    answer = post_import(client, [(f.name, f.read_bytes()) for f in source.iterdir()], name)
    assert answer.status_code == 422 and reason in answer.json()["detail"], answer.text
    assert not stored(session, name) and not (settings.adapters_dir / name).exists()


@pytest.mark.parametrize(
    ("key", "shape", "reason"),
    [
        ("base_model.model.lm_head.lora_A.weight", (4, 576), "unsupported target module"),
        ("base_model.model.model.embed_tokens.lora_A.weight", (4, 576), "unsupported"),
        ("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", (4, 960), "another"),
        ("base_model.model.model.layers.40.self_attn.q_proj.lora_A.weight", (4, 576), "another"),
    ],
)
def test_unsupported_modules_or_tensors_of_another_shape_are_refused(
    client, axolotl_output, tmp_path, session, key, shape, reason
):
    source = variant(axolotl_output, tmp_path, tensors={key: torch.zeros(shape)})
    name = unique("refused")
    answer = post_import(client, [(f.name, f.read_bytes()) for f in source.iterdir()], name)
    assert answer.status_code == 422 and reason in answer.json()["detail"], answer.text
    assert key in answer.json()["detail"] and not stored(session, name)


def test_an_upload_without_an_adapter_is_refused(client, tmp_path):
    answer = post_import(client, [("notes.txt", b"hello")], unique("refused"))
    assert answer.status_code == 422 and "adapter_config.json" in answer.json()["detail"]
    broken = post_import(client, [("x.tar.gz", b"not gzip")], unique("refused"))
    assert broken.status_code == 422 and "x.tar.gz" in broken.json()["detail"]


def test_an_adapter_exports_as_gguf_lora_and_peft(client, imported, tmp_path):
    import gguf

    adapter, _ = imported
    answer = client.get(f"/api/v1/adapters/{adapter['name']}/export?format=gguf")
    assert answer.status_code == 200 and answer.content[:4] == b"GGUF"
    (tmp_path / "lora.gguf").write_bytes(answer.content)
    fields = gguf.GGUFReader(tmp_path / "lora.gguf").fields
    assert fields["adapter.type"].contents() == "lora"
    peft = client.get(f"/api/v1/adapters/{adapter['name']}/export")
    with tarfile.open(fileobj=io.BytesIO(peft.content)) as tar:
        assert f"{adapter['name']}/adapter_model.safetensors" in tar.getnames()


def test_a_dataset_exports_with_a_matching_axolotl_config(echo_client, session):
    from app.db.models import Dataset, Scenario
    from app.finetune.dataset import split_examples

    dataset = session.scalar(
        select(Dataset)
        .join(Scenario, Dataset.scenario_id == Scenario.id)
        .where(Scenario.slug == "northwind")
        .order_by(Dataset.id)
    )
    answer = echo_client.get(f"/api/v1/datasets/{dataset.id}/export?format=axolotl")
    assert answer.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(answer.content)) as tar:
        files = {Path(m.name).name: tar.extractfile(m).read().decode() for m in tar.getmembers()}
    config = yaml.safe_load(files["axolotl.yaml"])
    assert config["adapter"] == "lora" and config["datasets"][0]["path"] == "train.jsonl"
    assert config["datasets"][0]["type"] == "chat_template" and config["lora_r"] == 8
    lines = files["train.jsonl"].splitlines()
    assert len(lines) == len(split_examples(session, dataset.id, "train"))
    assert json.loads(lines[0])["messages"][-1]["role"] == "assistant"
    assert echo_client.get("/api/v1/datasets/999999/export").status_code == 404
