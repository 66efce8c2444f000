"""Data from the knowledge base and from served traffic: drafting jobs and their drafts
(app/drafts/), a person's verdict on a served call (app/serving/feedback.py), and the report
of a training's RAFT data (app/finetune/raft.py).

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def created_at() -> sa.Column:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )


def foreign(column: str, target: str, ondelete: str = "CASCADE", null: bool = False):
    return sa.Column(column, sa.Integer, sa.ForeignKey(target, ondelete=ondelete), nullable=null)


def job_columns() -> list[sa.Column]:
    return [
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(300)),
        sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("error", sa.Text),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
    ]


def upgrade() -> None:
    op.add_column("trainings", sa.Column("data_report", JSONB))
    op.create_table(
        "draft_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        foreign("scenario_id", "scenarios.id"),
        *job_columns(),
        sa.Column("options", JSONB, nullable=False),
        sa.Column("engine", sa.String(200), nullable=False),
        sa.Column("done", sa.Integer, nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        created_at(),
    )
    op.create_index("ix_draft_runs_status", "draft_runs", ["status", "id"])
    op.create_table(
        "drafts",
        sa.Column("id", sa.Integer, primary_key=True),
        foreign("run_id", "draft_runs.id"),
        foreign("scenario_id", "scenarios.id"),
        sa.Column("kind", sa.String(16), nullable=False),
        foreign("document_id", "documents.id", "SET NULL", null=True),
        sa.Column("document", sa.String(500), nullable=False),
        foreign("chunk_id", "chunks.id", "SET NULL", null=True),
        sa.Column("chunk_text", sa.Text, nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("output", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("stored_in", sa.String(200)),
        sa.Column("reviewed_at", sa.DateTime(timezone=True)),
        created_at(),
    )
    op.create_index("ix_drafts_run_id", "drafts", ["run_id"])
    op.create_index("ix_drafts_scenario_document", "drafts", ["scenario_id", "document"])
    op.create_table(
        "served_feedback",
        sa.Column("id", sa.Integer, primary_key=True),
        foreign("comparison_id", "comparisons.id"),
        sa.Column("verdict", sa.String(8), nullable=False),
        sa.Column("corrected", sa.Text),
        foreign("eval_set_id", "eval_sets.id", "SET NULL", null=True),
        created_at(),
        sa.UniqueConstraint("comparison_id"),
    )


def downgrade() -> None:
    op.drop_table("served_feedback")
    op.drop_table("drafts")
    op.drop_table("draft_runs")
    op.drop_column("trainings", "data_report")
