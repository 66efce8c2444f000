"""Generation engines: the only code that imports torch / llama_cpp. See `base.Engine`."""

from app.engine.base import Engine, GenerationRequest, GenerationResult

BACKENDS = ("transformers",)


def load_engine(settings) -> Engine:
    """The engine named by `settings.engine`, with its base model loaded."""
    if settings.engine == "transformers":
        from app.engine.transformers import TransformersEngine

        return TransformersEngine(settings.base_model, threads=settings.inference_threads)
    raise ValueError(f"unknown engine {settings.engine!r}; choose one of {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "Engine", "GenerationRequest", "GenerationResult", "load_engine"]
