"""Engine backends by name: `TRITUNE_ENGINE` is looked up here.

A backend registers a factory, `settings -> Engine`, under its name. The factory imports the
backend's module when called, so that registering (at import of `app.engine`) imports
neither torch nor llama_cpp:

    @register_backend("llamacpp")
    def load_llamacpp(settings: Settings) -> Engine:
        from app.engine.llamacpp import LlamaCppEngine

        return LlamaCppEngine.from_settings(settings)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.config import Settings
    from app.engine.base import Engine

BackendFactory = Callable[["Settings"], "Engine"]
BACKENDS: dict[str, BackendFactory] = {}


class DuplicateBackend(ValueError):
    """A second backend registered under a name already taken."""


def register_backend(name: str) -> Callable[[BackendFactory], BackendFactory]:
    """Decorator: register `factory` as the backend `name`; `DuplicateBackend` if the
    name is taken (two backends under one name would make `TRITUNE_ENGINE` ambiguous)."""

    def register(factory: BackendFactory) -> BackendFactory:
        if name in BACKENDS:
            taken = BACKENDS[name]
            raise DuplicateBackend(
                f"engine backend {name!r} is already registered by "
                f"{taken.__module__}.{taken.__qualname__}"
            )
        BACKENDS[name] = factory
        return factory

    return register


def backend_factory(name: str) -> BackendFactory:
    """The factory of backend `name`; ValueError naming the choices if there is none."""
    try:
        return BACKENDS[name]
    except KeyError:
        choices = ", ".join(["auto", *BACKENDS])
        raise ValueError(f"unknown engine {name!r}; choose one of {choices}") from None
