"""Generation engines: the only code that imports torch / llama_cpp. See `base.Engine`.

`TRITUNE_ENGINE` picks the backend: `llamacpp` (the GGUF base run by llama.cpp, adapters
converted to GGUF LoRAs), `transformers` (fp32 weights + PEFT), `openai` (an OpenAI-compatible
server; adapters are models it serves), or `auto`: llama.cpp when the base model is a GGUF
file that llama.cpp loads, transformers otherwise. `auto` never picks `openai`: a server is
only used when it is configured.
"""

import logging

from app.engine.base import Engine, GenerationRequest, GenerationResult

BACKENDS = ("llamacpp", "transformers", "openai")
CHOICES = ("auto", *BACKENDS)
log = logging.getLogger(__name__)


def resolve_backend(engine: str, base_model: str) -> str:
    """The backend `engine` names; for `auto`, the one that suits `base_model`."""
    if engine not in CHOICES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(CHOICES)}")
    if engine != "auto":
        return engine
    try:
        from app.engine.llamacpp import can_run
    except ImportError:  # llama-cpp-python not installed
        log.warning("llama-cpp-python is not installed; using the transformers engine")
        return "transformers"
    return "llamacpp" if can_run(base_model) else "transformers"


def load_engine(settings) -> Engine:
    """The engine named by `settings.engine`, with its base model loaded (for `openai`: the
    client for the server, which is first contacted by the first request)."""
    backend = resolve_backend(settings.engine, settings.base_model)
    if backend == "openai":
        from app.engine.openai_api import OpenAIEngine

        return OpenAIEngine.from_settings(settings)
    if backend == "llamacpp":
        from app.engine.llamacpp import LlamaCppEngine

        try:
            return LlamaCppEngine(settings.base_model, threads=settings.inference_threads)
        except Exception:
            if settings.engine != "auto":
                raise
            log.warning("llama.cpp cannot load %s; using transformers", settings.base_model)
    from app.engine.transformers import TransformersEngine

    return TransformersEngine(
        settings.base_model,
        threads=settings.inference_threads,
        max_batch_rows=settings.max_batch_rows,
        cache_dir=settings.models_cache_dir,
        dtype=settings.transformers_dtype,
    )


__all__ = [
    "BACKENDS",
    "CHOICES",
    "Engine",
    "GenerationRequest",
    "GenerationResult",
    "load_engine",
    "resolve_backend",
]
