"""The GPU paths, tested on a CPU (issue 18, part 4): device and dtype choice, QLoRA
refused where it cannot run, and adapters pushed to a vLLM server (a small fake of its
runtime LoRA endpoints)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from app.db.models import Training
from app.engine import GenerationRequest, devices
from app.engine.devices import DeviceUnavailable, qlora_refusal, resolve_device, resolve_dtype
from app.engine.openai_api import OpenAIEngine, ServerError
from app.engine.transformers import placement_label
from app.finetune.placement import Placement, load_training_base

# Device and dtype.


@pytest.mark.parametrize(
    ("setting", "cuda", "device"),
    [("auto", True, "cuda"), ("auto", False, "cpu"), ("cpu", True, "cpu"), ("cuda", True, "cuda")],
)
def test_the_device_is_the_gpu_when_there_is_one_unless_set(setting, cuda, device):
    assert resolve_device(setting, cuda=cuda) == device


def test_asking_for_cuda_without_one_names_the_setting():
    with pytest.raises(DeviceUnavailable, match="TRITUNE_DEVICE=cuda"):
        resolve_device("cuda", cuda=False)


@pytest.mark.parametrize(
    ("setting", "device", "bf16", "dtype"),
    [
        ("auto", "cpu", True, "float32"),  # the reference on a CPU, whatever it supports
        ("auto", "cuda", True, "bfloat16"),
        ("auto", "cuda", False, "float16"),
        ("float32", "cuda", True, "float32"),
        ("bfloat16", "cpu", False, "bfloat16"),
    ],
)
def test_the_dtype_is_float32_on_a_cpu_and_16_bits_on_a_gpu_unless_set(
    setting, device, bf16, dtype
):
    assert resolve_dtype(setting, device, bf16=bf16) == dtype


def test_results_name_the_dtype_and_a_gpu_but_not_the_reference():
    assert placement_label("float32", "cpu") == ""
    assert placement_label("bfloat16", "cpu") == " (bfloat16)"
    assert placement_label("bfloat16", "cuda") == " (bfloat16, cuda)"


def test_this_machine_runs_the_transformers_engine_on_the_cpu_in_float32(settings):
    assert resolve_device(settings.device) == "cpu"  # no GPU here
    assert resolve_dtype(settings.transformers_dtype, "cpu") == "float32"


# QLoRA.


def test_qlora_is_refused_without_a_gpu_or_bitsandbytes_naming_what_is_missing():
    assert "TRITUNE_DEVICE=auto" in qlora_refusal("auto", cuda=False, bitsandbytes=True)
    assert "TRITUNE_DEVICE=cpu" in qlora_refusal("cpu", cuda=True, bitsandbytes=True)
    assert "bitsandbytes" in qlora_refusal("auto", cuda=True, bitsandbytes=False)
    assert qlora_refusal("cuda", cuda=True, bitsandbytes=True) is None


def trainings(session) -> int:
    return session.scalar(select(func.count()).select_from(Training))


def test_a_qlora_training_is_refused_with_422_on_this_cpu(echo_client, session):
    before = trainings(session)
    answer = echo_client.post(
        "/api/v1/scenarios/northwind/trainings", json={"config": {"qlora": True}}
    )
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert detail.startswith("qlora:") and "TRITUNE_DEVICE" in detail and "CUDA" in detail
    assert trainings(session) == before  # nothing queued


def test_a_qlora_training_without_bitsandbytes_says_so(echo_client, session, monkeypatch):
    monkeypatch.setattr(devices, "cuda_available", lambda: True)
    monkeypatch.setattr(devices, "bitsandbytes_installed", lambda: False)
    before = trainings(session)
    answer = echo_client.post(
        "/api/v1/scenarios/northwind/trainings", json={"config": {"qlora": True}}
    )
    assert answer.status_code == 422 and "pip install bitsandbytes" in answer.json()["detail"]
    assert trainings(session) == before


def test_a_qlora_run_that_slipped_through_stops_before_loading(settings):
    with pytest.raises(ValueError, match="qlora"):
        load_training_base(settings.base_model, qlora=True, placement=Placement("cpu"))


def test_the_config_form_offers_qlora_off(echo_client):
    page = echo_client.get("/scenarios/northwind/finetune").text
    assert "qlora: false" in page


# Adapters pushed to vLLM.


class FakeVllm(BaseHTTPRequestHandler):
    """vLLM's runtime LoRA endpoints, as far as TriTune uses them: load (400 when the name
    is loaded and the server predates `load_inplace`), unload."""

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        server = self.server
        server.calls.append((self.path, body))
        name = body.get("lora_name")
        if self.path == "/v1/load_lora_adapter" and server.runtime_updates:
            if name in server.loaded and not server.in_place:
                message = f"The lora adapter '{name}' has already been loaded."
                return self.answer(400, {"object": "error", "message": message, "code": 400})
            server.loaded[name] = body["lora_path"]
            return self.answer(200, f"Success: LoRA adapter '{name}' added successfully.")
        if self.path == "/v1/unload_lora_adapter" and server.runtime_updates:
            server.loaded.pop(name, None)
            return self.answer(200, f"Success: LoRA adapter '{name}' removed successfully.")
        return self.answer(404, {"detail": "Not Found"})

    def answer(self, status: int, body: object) -> None:
        data = json.dumps(body).encode() if not isinstance(body, str) else body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def fake_vllm(
    *, in_place: bool = True, runtime_updates: bool = True
) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeVllm)
    server.calls, server.loaded = [], {}
    server.in_place, server.runtime_updates = in_place, runtime_updates
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def pushing_engine(server, settings, **options) -> OpenAIEngine:
    return OpenAIEngine(
        base_url=f"http://127.0.0.1:{server.server_port}/v1",
        model="base",
        base_model=settings.base_model,
        push_adapters=True,
        **options,
    )


def test_an_adapter_is_pushed_with_the_path_the_server_sees(settings):
    with fake_vllm() as server:
        engine = pushing_engine(server, settings, adapter_root="/data/adapters/")
        engine.load_adapter("triage", "/srv/tritune/adapters/triage-v1", "a" * 64)
        engine.load_adapter("triage", "/srv/tritune/adapters/triage-v1", "a" * 64)  # no-op
        engine.load_adapter("triage", "/srv/tritune/adapters/triage-v2", "b" * 64)  # changed
        engine.close()
    body = {"lora_name": "triage", "lora_path": "/data/adapters/triage-v1", "load_inplace": True}
    assert server.calls[0] == ("/v1/load_lora_adapter", body)
    assert len(server.calls) == 2 and server.loaded == {"triage": "/data/adapters/triage-v2"}
    assert engine.request_body(GenerationRequest([], adapter="triage"))["model"] == "triage"


def test_a_vllm_without_in_place_loading_gets_unload_then_load(settings):
    with fake_vllm(in_place=False) as server:
        engine = pushing_engine(server, settings, adapter_models={"triage": "triage-served"})
        engine.load_adapter("triage", "/a/triage-v1", "a" * 64)
        engine.load_adapter("triage", "/a/triage-v2", "b" * 64)
        engine.close()
    paths = [path for path, _ in server.calls]
    assert paths == [
        "/v1/load_lora_adapter",
        "/v1/load_lora_adapter",
        "/v1/unload_lora_adapter",
        "/v1/load_lora_adapter",
    ]
    assert server.loaded == {"triage-served": "/a/triage-v2"}


def test_a_server_without_runtime_lora_updating_is_named_in_the_error(settings):
    with fake_vllm(runtime_updates=False) as server:
        engine = pushing_engine(server, settings)
        with pytest.raises(ServerError, match="load_lora_adapter answered HTTP 404"):
            engine.load_adapter("triage", "/a/triage", "a" * 64)
        assert not engine.has_adapter("triage")
        engine.close()


def test_activating_an_adapter_pushes_it_to_the_server(runtime, settings, demo_adapter):
    from fastapi.testclient import TestClient

    from app.main import create_app
    from tests.doubles import SharedRuntime

    with fake_vllm() as server:
        engine = pushing_engine(server, settings, adapter_root="/data/adapters")
        pushing = SharedRuntime(runtime, engine)
        pushing.load(demo=False)
        with TestClient(create_app(runtime=pushing)) as client:
            answer = client.post(f"/api/v1/adapters/{demo_adapter.name}/activate")
        engine.close()
    assert answer.status_code == 200, answer.text
    path = f"/data/adapters/{demo_adapter.name}"
    assert server.loaded == {demo_adapter.name: path}
