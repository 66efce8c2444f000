"""llama-cpp-python's own OpenAI-compatible server, started for the `openai` engine's tests:
the packaged base GGUF served as model `base`, and the same GGUF with each GGUF LoRA as a
model named after its adapter (the vLLM / llama.cpp-server convention the engine follows).

The server keeps one model loaded and reloads on a switch between them (about 0.5 s
for the 135M model); it answers one request at a time. One thread per model and a small
context keep it light beside the tests' own engines on a 2-core machine.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

BASE_MODEL_NAME = "base"
CONTEXT_TOKENS = 2048  # the rag level's prompt (768 tokens of sources) plus an answer
STARTUP_S = 60


@dataclass(frozen=True)
class RunningServer:
    base_url: str  # ends in /v1
    api_key: str
    log: Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def model_entry(alias: str, base_model: str, lora: Path | None = None) -> dict:
    entry = {
        "model": base_model,
        "model_alias": alias,
        "n_ctx": CONTEXT_TOKENS,
        "n_threads": 1,
        "n_threads_batch": 1,
        "verbose": False,
    }
    return entry | ({"lora_path": str(lora)} if lora else {})


@contextmanager
def serve_llama_cpp(
    base_model: str, loras: dict[str, Path], workdir: Path, api_key: str
) -> Iterator[RunningServer]:
    """Run `python -m llama_cpp.server` on a free loopback port until the block ends.

    `interrupt_requests` is off: otherwise the server cuts a streaming answer short as soon
    as another request waits, and the engine sends a batch's requests at once."""
    port = free_port()
    models = [model_entry(BASE_MODEL_NAME, base_model)]
    models += [model_entry(name, base_model, lora) for name, lora in loras.items()]
    config = workdir / "llama-server.json"
    server = {"host": "127.0.0.1", "port": port, "api_key": api_key, "interrupt_requests": False}
    config.write_text(json.dumps({**server, "models": models}))
    log = workdir / "llama-server.log"
    command = [sys.executable, "-m", "llama_cpp.server", "--config_file", str(config)]
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}  # no spinning threads between tokens
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
    running = RunningServer(f"http://127.0.0.1:{port}/v1", api_key, log)
    try:
        wait_until_serving(process, running)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_serving(process: subprocess.Popen, server: RunningServer) -> None:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited:\n{server.log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{server.base_url}/models", headers=headers).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"llama_cpp.server not serving after {STARTUP_S} s: {server.log}")
