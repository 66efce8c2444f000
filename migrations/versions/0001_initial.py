"""Initial schema: scenarios, knowledge base, datasets, adapters, comparisons and results.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def created_at() -> sa.Column:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.create_table(
        "scenarios",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("slug", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("system_prompt", sa.Text, nullable=False),
        sa.Column("output_schema", JSONB),
        sa.Column("active_adapter_id", sa.Integer),
        created_at(),
    )
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "scenario_id",
            sa.Integer,
            sa.ForeignKey("scenarios.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        created_at(),
        sa.UniqueConstraint("scenario_id", "content_hash"),
    )
    op.create_table(
        "chunks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "document_id",
            sa.Integer,
            sa.ForeignKey("documents.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "scenario_id",
            sa.Integer,
            sa.ForeignKey("scenarios.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("heading", sa.Text, nullable=False, server_default=""),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("token_count", sa.Integer, nullable=False),
        sa.Column("embedding", Vector(384), nullable=False),
        sa.Column("embedding_model", sa.String(200), nullable=False),
        sa.Column(
            "tsv",
            TSVECTOR,
            sa.Computed("to_tsvector('english', heading || ' ' || text)", persisted=True),
        ),
    )
    op.create_index("ix_chunks_document_id", "chunks", ["document_id"])
    op.create_index("ix_chunks_scenario_id", "chunks", ["scenario_id"])
    op.execute(
        "CREATE INDEX ix_chunks_embedding_hnsw ON chunks "
        "USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)"
    )
    op.execute("CREATE INDEX ix_chunks_tsv_gin ON chunks USING gin (tsv)")

    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "scenario_id",
            sa.Integer,
            sa.ForeignKey("scenarios.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        created_at(),
        sa.UniqueConstraint("scenario_id", "sha256"),
    )
    op.create_table(
        "examples",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "dataset_id",
            sa.Integer,
            sa.ForeignKey("datasets.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("split", sa.String(16), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("messages", JSONB, nullable=False),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("completion", sa.Text, nullable=False),
        sa.Column("embedding", Vector(384), nullable=False),
    )
    op.create_index("ix_examples_dataset_split", "examples", ["dataset_id", "split"])
    op.execute(
        "CREATE INDEX ix_examples_embedding_hnsw ON examples "
        "USING hnsw (embedding vector_cosine_ops)"
    )

    op.create_table(
        "adapters",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "scenario_id",
            sa.Integer,
            sa.ForeignKey("scenarios.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("base_model", sa.Text, nullable=False),
        sa.Column("dataset_sha256", sa.String(64), nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("config", JSONB, nullable=False),
        sa.Column("metrics", JSONB, nullable=False),
        created_at(),
    )
    op.create_foreign_key(
        "fk_scenarios_active_adapter",
        "scenarios",
        "adapters",
        ["active_adapter_id"],
        ["id"],
        ondelete="SET NULL",
    )

    op.create_table(
        "comparisons",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "scenario_id",
            sa.Integer,
            sa.ForeignKey("scenarios.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("settings", JSONB, nullable=False),
        created_at(),
    )
    op.create_index(
        "ix_comparisons_scenario_created",
        "comparisons",
        ["scenario_id", sa.text("created_at DESC")],
    )
    op.create_table(
        "results",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "comparison_id",
            sa.Integer,
            sa.ForeignKey("comparisons.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("level", sa.String(32), nullable=False),
        sa.Column("output", sa.Text, nullable=False, server_default=""),
        sa.Column("error", sa.Text),
        sa.Column("engine", sa.String(32), nullable=False, server_default=""),
        sa.Column("model", sa.Text, nullable=False, server_default=""),
        sa.Column("adapter", sa.String(200)),
        sa.Column("adapter_checksum", sa.String(64)),
        sa.Column("prompt_tokens", sa.Integer, nullable=False, server_default="0"),
        sa.Column("completion_tokens", sa.Integer, nullable=False, server_default="0"),
        sa.Column("latency_total_ms", sa.Float, nullable=False, server_default="0"),
        sa.Column("latency_retrieval_ms", sa.Float, nullable=False, server_default="0"),
        sa.Column("latency_first_token_ms", sa.Float, nullable=False, server_default="0"),
        sa.Column("latency_generation_ms", sa.Float, nullable=False, server_default="0"),
        sa.Column("tokens_per_s", sa.Float, nullable=False, server_default="0"),
        sa.Column("cost_usd", sa.Float, nullable=False, server_default="0"),
        sa.Column("context", JSONB, nullable=False, server_default="[]"),
        sa.Column("examples", JSONB, nullable=False, server_default="[]"),
        sa.Column("provenance", JSONB, nullable=False, server_default="{}"),
    )
    op.create_index("ix_results_comparison_id", "results", ["comparison_id"])


def downgrade() -> None:
    for table in ("results", "comparisons"):
        op.drop_table(table)
    op.drop_constraint("fk_scenarios_active_adapter", "scenarios", type_="foreignkey")
    for table in ("adapters", "examples", "datasets", "chunks", "documents", "scenarios"):
        op.drop_table(table)
