"""Generation engines: the only code that imports torch / llama_cpp. See `base.Engine`.

`TRITUNE_ENGINE` picks the backend from the registry (`registry.BACKENDS`): `llamacpp` (the
GGUF base run by llama.cpp, adapters converted to GGUF LoRAs), `transformers` (fp32 weights
+ PEFT), `openai` (an OpenAI-compatible server; adapters are models it serves), or `auto`:
llama.cpp when the base model is a GGUF file that llama.cpp loads, transformers otherwise.
`auto` never picks `openai`: a server is only used when it is configured.

Importing this package imports no backend: each factory below imports its module when an
engine is loaded. The test double (`echo.EchoEngine`) is not registered: it is built by the
tests, never chosen by a setting.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from app.engine.base import (
    AdapterNotLoaded,
    Engine,
    EngineClosed,
    GenerationRequest,
    GenerationResult,
)
from app.engine.registry import BACKENDS, backend_factory, register_backend

if TYPE_CHECKING:
    from app.config import Settings

log = logging.getLogger(__name__)
# A backend `auto` chose that cannot load the model gives way to this one.
AUTO_FALLBACK = {"llamacpp": "transformers"}


@register_backend("llamacpp")
def load_llamacpp(settings: Settings) -> Engine:
    """The GGUF base run by llama.cpp; adapters converted to GGUF LoRAs."""
    from app.engine.llamacpp import LlamaCppEngine

    return LlamaCppEngine.from_settings(settings)


@register_backend("transformers")
def load_transformers(settings: Settings) -> Engine:
    """The base in fp32 (or the configured dtype) with PEFT adapters, batched."""
    from app.engine.transformers import TransformersEngine

    return TransformersEngine.from_settings(settings)


@register_backend("openai")
def load_openai(settings: Settings) -> Engine:
    """A client of an OpenAI-compatible server, first contacted by the first request."""
    from app.engine.openai_api import OpenAIEngine

    return OpenAIEngine.from_settings(settings)


def resolve_backend(engine: str, base_model: str) -> str:
    """The backend `engine` names; for `auto`, the one that suits `base_model`."""
    if engine != "auto":
        backend_factory(engine)  # ValueError naming the choices
        return engine
    try:
        from app.engine.llamacpp import can_run
    except ImportError:  # llama-cpp-python not installed
        log.warning("llama-cpp-python is not installed; using the transformers engine")
        return "transformers"
    return "llamacpp" if can_run(base_model) else "transformers"


def load_engine(settings: Settings) -> Engine:
    """The engine named by `settings.engine`, with its base model loaded (for `openai`: the
    client for the server, which is first contacted by the first request)."""
    backend = resolve_backend(settings.engine, settings.base_model)
    fallback = AUTO_FALLBACK.get(backend) if settings.engine == "auto" else None
    try:
        return backend_factory(backend)(settings)
    except Exception:
        if fallback is None:
            raise
        log.warning("%s cannot load %s; using %s", backend, settings.base_model, fallback)
    return backend_factory(fallback)(settings)


__all__ = [
    "AUTO_FALLBACK",
    "BACKENDS",
    "AdapterNotLoaded",
    "Engine",
    "EngineClosed",
    "GenerationRequest",
    "GenerationResult",
    "load_engine",
    "register_backend",
    "resolve_backend",
]
