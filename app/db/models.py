"""ORM models. The schema itself is created by the Alembic migrations in `migrations/`."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pgvector.sqlalchemy import HALFVEC, Vector
from sqlalchemy import (
    Boolean,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    cast,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, synonym

from app.scenarios.prompts import DEFAULT_RAG_INSTRUCTION, DEFAULT_RAG_TEMPLATE

EMBEDDING_DIM = 384
MAX_ID = 2**31 - 1  # ids are Postgres integers; a larger number is bad input, not a 500


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSONB, list[Any]: JSONB}


def created_at_column() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class JobColumns:
    """The columns of a background job's row, for the lifecycle in app/jobs.py; the job's
    table also has its progress as `done` and `total` (columns or synonyms)."""

    status: Mapped[str] = mapped_column(String(16), default="queued")
    owner: Mapped[str | None] = mapped_column(String(300))  # host:pid:nonce of its process
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    if TYPE_CHECKING:  # every job table's primary key, declared by the table itself
        id: Mapped[int]


class Scenario(Base):
    """A team's use case, with each level's prompt (app/scenarios/prompts.py for the texts'
    defaults and placeholders). A NULL setting means the default named next to it."""

    __tablename__ = "scenarios"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # the `prompt` level: its system prompt, k (NULL: the comparison's or the settings'),
    # and its example pool (NULL: the scenario's latest dataset)
    system_prompt: Mapped[str] = mapped_column(Text)
    few_shot_k: Mapped[int | None] = mapped_column(Integer)
    few_shot_dataset_id: Mapped[int | None] = mapped_column(
        ForeignKey("datasets.id", ondelete="SET NULL", use_alter=True, name="fk_scenarios_few_shot")
    )
    # which examples: `nearest` the query, a `fixed` list (train lines of the pool, 1-based,
    # in `few_shot_examples`) or `random` (drawn with `few_shot_seed`, NULL: 0)
    few_shot_selection: Mapped[str] = mapped_column(
        String(16), default="nearest", server_default="nearest"
    )
    few_shot_seed: Mapped[int | None] = mapped_column(Integer)
    few_shot_examples: Mapped[list[Any] | None]
    # the `rag` level: its system message and its user message (sources and question)
    rag_instruction: Mapped[str] = mapped_column(Text, default=DEFAULT_RAG_INSTRUCTION)
    rag_template: Mapped[str] = mapped_column(Text, default=DEFAULT_RAG_TEMPLATE)
    # its retrieval (NULL: the settings'): chunks in the prompt, rows each side of hybrid
    # search fuses, the fusion's weights; `tritune tune rag` chooses them
    rag_top_k: Mapped[int | None] = mapped_column(Integer)
    rag_candidates: Mapped[int | None] = mapped_column(Integer)
    rag_vector_weight: Mapped[float | None] = mapped_column(Float)
    rag_keyword_weight: Mapped[float | None] = mapped_column(Float)
    # the `finetune` level's system message (NULL: the one of the adapter's training data)
    finetune_system_prompt: Mapped[str | None] = mapped_column(Text)
    output_schema: Mapped[dict[str, Any] | None]
    # default generation settings (NULL: the settings')
    max_new_tokens: Mapped[int | None] = mapped_column(Integer)
    temperature: Mapped[float | None] = mapped_column(Float)
    # the cost model's default profile (NULL: the setting) and the scenario's own profiles
    # (TOML as data/pricing.toml; NULL: none), which add to or replace the file's
    pricing_profile: Mapped[str | None] = mapped_column(String(100))
    pricing: Mapped[str | None] = mapped_column(Text)
    active_adapter_id: Mapped[int | None] = mapped_column(
        ForeignKey("adapters.id", ondelete="SET NULL", use_alter=True)
    )
    # what trainings and eval runs use (app/scenarios/current.py); NULL: the latest upload
    current_dataset_id: Mapped[int | None] = mapped_column(
        ForeignKey(
            "datasets.id", ondelete="SET NULL", use_alter=True, name="fk_scenarios_current_dataset"
        )
    )
    current_eval_set_id: Mapped[int | None] = mapped_column(
        ForeignKey(
            "eval_sets.id",
            ondelete="SET NULL",
            use_alter=True,
            name="fk_scenarios_current_eval_set",
        )
    )
    created_at: Mapped[datetime] = created_at_column()

    active_adapter: Mapped[Adapter | None] = relationship(foreign_keys=[active_adapter_id])


class PromptVersion(Base):
    """One immutable version of a level's prompt in a scenario (app/scenarios/versions.py):
    the values of the level's `prompt_fields`, numbered from 1 per scenario and level."""

    __tablename__ = "prompt_versions"
    __table_args__ = (UniqueConstraint("scenario_id", "level", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"))
    level: Mapped[str] = mapped_column(String(32))
    number: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict[str, Any]]
    sha256: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = created_at_column()


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("scenario_id", "content_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(500))
    content_hash: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(
        String(64), default="text/markdown", server_default="text/markdown"
    )
    size_bytes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()

    chunks: Mapped[list[Chunk]] = relationship(
        back_populates="document", cascade="all, delete-orphan", passive_deletes=True
    )


class DeletedDocument(Base):
    """A source whose document the team deleted: the demo's load at start leaves it out."""

    __tablename__ = "deleted_documents"

    scenario_id: Mapped[int] = mapped_column(
        ForeignKey("scenarios.id", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[str] = mapped_column(String(500), primary_key=True)
    deleted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Chunk(Base):
    __tablename__ = "chunks"
    __table_args__ = (
        Index("ix_chunks_document_id", "document_id"),
        Index("ix_chunks_scenario_id", "scenario_id"),
        # finds chunks embedded with another model without reading them all (revision 0002)
        Index("ix_chunks_scenario_embedding_model", "scenario_id", "embedding_model"),
        Index("ix_chunks_tsv_gin", "tsv", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    heading: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text)
    token_count: Mapped[int] = mapped_column(Integer)
    embedding = mapped_column(Vector(EMBEDDING_DIM), nullable=False)
    embedding_model: Mapped[str] = mapped_column(String(200))
    tsv = mapped_column(
        TSVECTOR,
        Computed("to_tsvector('english', heading || ' ' || text)", persisted=True),
    )

    document: Mapped[Document] = relationship(back_populates="chunks")


# HNSW over the embeddings cast to 16-bit floats; search re-scores its candidates at full
# precision (app/rag/search.py says why; revision 0010)
Index(
    "ix_chunks_embedding_hnsw",
    cast(Chunk.embedding, HALFVEC(EMBEDDING_DIM)).label("embedding_halfvec"),
    postgresql_using="hnsw",
    postgresql_with={"m": 16, "ef_construction": 64},
    postgresql_ops={"embedding_halfvec": "halfvec_cosine_ops"},
)


class Dataset(Base):
    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("scenario_id", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at_column()

    examples: Mapped[list[Example]] = relationship(
        back_populates="dataset", cascade="all, delete-orphan", passive_deletes=True
    )


class Example(Base):
    """One chat example; `prompt` is the last user turn, `completion` the assistant answer."""

    __tablename__ = "examples"
    __table_args__ = (
        Index("ix_examples_dataset_split", "dataset_id", "split"),
        Index(
            "ix_examples_embedding_hnsw",
            "embedding",
            postgresql_using="hnsw",
            postgresql_ops={"embedding": "vector_cosine_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    split: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer)
    messages: Mapped[list[Any]]
    prompt: Mapped[str] = mapped_column(Text)
    completion: Mapped[str] = mapped_column(Text)
    embedding = mapped_column(Vector(EMBEDDING_DIM), nullable=False)

    dataset: Mapped[Dataset] = relationship(back_populates="examples")


class Adapter(Base):
    __tablename__ = "adapters"

    id: Mapped[int] = mapped_column(primary_key=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200), unique=True)
    path: Mapped[str] = mapped_column(Text)
    base_model: Mapped[str] = mapped_column(Text)
    dataset_sha256: Mapped[str] = mapped_column(String(64))
    checksum: Mapped[str] = mapped_column(String(64))
    config: Mapped[dict[str, Any]]
    metrics: Mapped[dict[str, Any]]
    # Held-out split on the base model and on this adapter (JSON validity, matches, loss).
    evaluation: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = created_at_column()

    scenario: Mapped[Scenario] = relationship(foreign_keys=[scenario_id])


class Comparison(Base):
    __tablename__ = "comparisons"
    __table_args__ = (
        Index("ix_comparisons_scenario_created", "scenario_id", text("created_at DESC")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"))
    query: Mapped[str] = mapped_column(Text)
    settings: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = created_at_column()

    scenario: Mapped[Scenario] = relationship()
    results: Mapped[list[Result]] = relationship(
        back_populates="comparison",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Result.id",
    )


class Result(Base):
    """One level's answer to a comparison's query, with what produced it."""

    __tablename__ = "results"
    __table_args__ = (Index("ix_results_comparison_id", "comparison_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    comparison_id: Mapped[int] = mapped_column(ForeignKey("comparisons.id", ondelete="CASCADE"))
    level: Mapped[str] = mapped_column(String(32))
    output: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text)
    engine: Mapped[str] = mapped_column(String(32), default="")
    model: Mapped[str] = mapped_column(Text, default="")
    adapter: Mapped[str | None] = mapped_column(String(200))
    adapter_checksum: Mapped[str | None] = mapped_column(String(64))
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    latency_total_ms: Mapped[float] = mapped_column(Float, default=0)
    latency_retrieval_ms: Mapped[float] = mapped_column(Float, default=0)
    latency_first_token_ms: Mapped[float] = mapped_column(Float, default=0)
    latency_generation_ms: Mapped[float] = mapped_column(Float, default=0)
    tokens_per_s: Mapped[float] = mapped_column(Float, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0)
    # What `cost_usd` was computed from besides the tokens (0 for a level that failed); NULL
    # only in rows older than revision 0006 that the migration could not fill.
    machine_s: Mapped[float | None] = mapped_column(Float, default=0)
    embedding_tokens: Mapped[int | None] = mapped_column(Integer, default=0)
    context: Mapped[list[Any]] = mapped_column(default=list)
    examples: Mapped[list[Any]] = mapped_column(default=list)
    provenance: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # the level's prompt version (NULL: a level without a prompt, or older than revision 0009)
    prompt_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("prompt_versions.id", ondelete="SET NULL")
    )

    comparison: Mapped[Comparison] = relationship(back_populates="results")
    prompt_version: Mapped[PromptVersion | None] = relationship()


class Training(JobColumns, Base):
    """A LoRA training job (app/finetune/jobs.py): either registering its adapter (status
    `succeeded`, the training's name for `done`) or leaving the registry as it was."""

    __tablename__ = "trainings"
    __table_args__ = (Index("ix_trainings_status", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"))
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    adapter_name: Mapped[str] = mapped_column(String(200))
    config: Mapped[dict[str, Any]]
    activate: Mapped[bool] = mapped_column(Boolean, default=False)
    step: Mapped[int] = mapped_column(Integer, default=0)
    total_steps: Mapped[int] = mapped_column(Integer, default=0)
    examples_per_s: Mapped[float] = mapped_column(Float, default=0)
    loss_history: Mapped[list[Any]] = mapped_column(default=list)
    adapter_id: Mapped[int | None] = mapped_column(ForeignKey("adapters.id", ondelete="SET NULL"))
    # with the `raft` option: how many examples got retrieved context, from which documents
    data_report: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = created_at_column()
    # A training's progress is in steps (the API's names); the job lifecycle says done/total.
    done = synonym("step")
    total = synonym("total_steps")

    scenario: Mapped[Scenario] = relationship()
    dataset: Mapped[Dataset] = relationship()
    adapter: Mapped[Adapter | None] = relationship()


class EvalSet(Base):
    """A scenario's eval items, stored as one set (keyed by content hash)."""

    __tablename__ = "eval_sets"
    __table_args__ = (UniqueConstraint("scenario_id", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at_column()

    items: Mapped[list[EvalItem]] = relationship(
        back_populates="eval_set",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="EvalItem.position",
    )


class EvalItem(Base):
    """One eval input and what its answer is checked against (see app/evals/items.py)."""

    __tablename__ = "eval_items"
    __table_args__ = (Index("ix_eval_items_eval_set_id", "eval_set_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    eval_set_id: Mapped[int] = mapped_column(ForeignKey("eval_sets.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(64))
    input: Mapped[str] = mapped_column(Text)
    expected: Mapped[str | None] = mapped_column(Text)
    facts: Mapped[list[Any] | None]
    keywords: Mapped[list[Any] | None]
    fields: Mapped[dict[str, Any] | None]
    json_schema: Mapped[dict[str, Any] | None]
    source: Mapped[str | None] = mapped_column(String(500))
    reference: Mapped[str | None] = mapped_column(Text)

    eval_set: Mapped[EvalSet] = relationship(back_populates="items")


class EvalRun(JobColumns, Base):
    """One eval (app/evals/runner.py): its items through the levels, progress in comparisons,
    the levels skipped and why, and the summary."""

    __tablename__ = "eval_runs"
    __table_args__ = (
        Index("ix_eval_runs_scenario_created", "scenario_id", text("created_at DESC")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"))
    eval_set_id: Mapped[int] = mapped_column(ForeignKey("eval_sets.id", ondelete="CASCADE"))
    options: Mapped[dict[str, Any]]
    levels: Mapped[list[Any]]
    skipped: Mapped[dict[str, Any]]
    total: Mapped[int] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = created_at_column()

    scenario: Mapped[Scenario] = relationship()
    scores: Mapped[list[EvalScore]] = relationship(
        back_populates="run",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="EvalScore.id",
    )


class EvalScore(Base):
    """One level's scores on one item in one repeat, and the comparison that produced it."""

    __tablename__ = "eval_scores"
    __table_args__ = (Index("ix_eval_scores_eval_run_id", "eval_run_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    eval_run_id: Mapped[int] = mapped_column(ForeignKey("eval_runs.id", ondelete="CASCADE"))
    eval_item_id: Mapped[int] = mapped_column(ForeignKey("eval_items.id", ondelete="CASCADE"))
    comparison_id: Mapped[int | None] = mapped_column(
        ForeignKey("comparisons.id", ondelete="SET NULL")
    )
    repeat: Mapped[int] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(32))
    metrics: Mapped[dict[str, Any]]

    run: Mapped[EvalRun] = relationship(back_populates="scores")
    item: Mapped[EvalItem] = relationship()


class User(Base):
    """Someone who logs in: a role (app/auth/roles.py) and an argon2 password hash."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()


class ApiKey(Base):
    """A user's key for scripts: only its SHA-256 is stored; its role is at most the user's."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    prefix: Mapped[str] = mapped_column(String(16))  # the key's first characters, to tell apart
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = created_at_column()
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship()


class WebSession(Base):
    """A browser login: the session cookie's SHA-256, until it expires or logs out."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship()


class LoginAttempt(Base):
    """One login, kept for the rate limit (app/auth/ratelimit.py)."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(Boolean)
    attempted_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )


class PendingStream(Base):
    """A live comparison the compare page validated, waiting for its live view to connect
    (`running` once one did), in Postgres so that any replica can run and cancel it
    (app/compare/pending.py). Deleted when its stream ends; a waiting one expires."""

    __tablename__ = "pending_streams"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    request: Mapped[dict[str, Any]]  # {"scenario", "query", "options"}
    running: Mapped[bool] = mapped_column(Boolean, default=False)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = created_at_column()


class DraftRun(JobColumns, Base):
    """A drafting job (app/drafts/jobs.py): chunks of a scenario's documents through an engine
    that writes question-answer drafts, each waiting for a person's verdict."""

    __tablename__ = "draft_runs"
    __table_args__ = (Index("ix_draft_runs_status", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"))
    options: Mapped[dict[str, Any]]
    engine: Mapped[str] = mapped_column(String(200))  # what wrote the drafts: engine · model
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = created_at_column()

    scenario: Mapped[Scenario] = relationship()
    drafts: Mapped[list[Draft]] = relationship(
        back_populates="run",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Draft.id",
    )


class Draft(Base):
    """One drafted eval item (`kind` eval_item) or training example (chat_example), with the
    chunk it was drafted from; `pending` until a person accepts (it is then stored where
    `stored_in` says) or rejects it."""

    __tablename__ = "drafts"
    __table_args__ = (
        Index("ix_drafts_run_id", "run_id"),
        Index("ix_drafts_scenario_document", "scenario_id", "document"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("draft_runs.id", ondelete="CASCADE"))
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"))
    document: Mapped[str] = mapped_column(String(500))  # the document's source name
    chunk_id: Mapped[int | None] = mapped_column(ForeignKey("chunks.id", ondelete="SET NULL"))
    chunk_text: Mapped[str] = mapped_column(Text)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    output: Mapped[str] = mapped_column(Text)  # the engine's whole answer, as written
    status: Mapped[str] = mapped_column(String(16), default="pending")
    stored_in: Mapped[str | None] = mapped_column(String(200))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()

    run: Mapped[DraftRun] = relationship(back_populates="drafts")


class ServedFeedback(Base):
    """A person's verdict on a served call (a comparison the OpenAI-compatible endpoint
    stored): thumbs up or down, the corrected answer, and the eval set it added an item to."""

    __tablename__ = "served_feedback"
    __table_args__ = (UniqueConstraint("comparison_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    comparison_id: Mapped[int] = mapped_column(ForeignKey("comparisons.id", ondelete="CASCADE"))
    verdict: Mapped[str] = mapped_column(String(8))
    corrected: Mapped[str | None] = mapped_column(Text)
    eval_set_id: Mapped[int | None] = mapped_column(ForeignKey("eval_sets.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at_column()
