"""Evals: eval sets and their items, eval runs and per-item scores.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def created_at() -> sa.Column:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )


def foreign(column: str, target: str, ondelete: str = "CASCADE", null: bool = False):
    return sa.Column(
        column, sa.Integer, sa.ForeignKey(target, ondelete=ondelete), nullable=null
    )


def upgrade() -> None:
    op.create_table(
        "eval_sets",
        sa.Column("id", sa.Integer, primary_key=True),
        foreign("scenario_id", "scenarios.id"),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        created_at(),
        sa.UniqueConstraint("scenario_id", "sha256"),
    )
    op.create_table(
        "eval_items",
        sa.Column("id", sa.Integer, primary_key=True),
        foreign("eval_set_id", "eval_sets.id"),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("input", sa.Text, nullable=False),
        sa.Column("expected", sa.Text),
        sa.Column("facts", JSONB),
        sa.Column("keywords", JSONB),
        sa.Column("fields", JSONB),
        sa.Column("json_schema", JSONB),
        sa.Column("source", sa.String(500)),
        sa.Column("reference", sa.Text),
    )
    op.create_index("ix_eval_items_eval_set_id", "eval_items", ["eval_set_id"])
    op.create_table(
        "eval_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        foreign("scenario_id", "scenarios.id"),
        foreign("eval_set_id", "eval_sets.id"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("options", JSONB, nullable=False),
        sa.Column("levels", JSONB, nullable=False),
        sa.Column("skipped", JSONB, nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("done", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", sa.Text),
        sa.Column("summary", JSONB),
        created_at(),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
    )
    op.create_index(
        "ix_eval_runs_scenario_created", "eval_runs", ["scenario_id", sa.text("created_at DESC")]
    )
    op.create_table(
        "eval_scores",
        sa.Column("id", sa.Integer, primary_key=True),
        foreign("eval_run_id", "eval_runs.id"),
        foreign("eval_item_id", "eval_items.id"),
        foreign("comparison_id", "comparisons.id", ondelete="SET NULL", null=True),
        sa.Column("repeat", sa.Integer, nullable=False),
        sa.Column("level", sa.String(32), nullable=False),
        sa.Column("metrics", JSONB, nullable=False),
    )
    op.create_index("ix_eval_scores_eval_run_id", "eval_scores", ["eval_run_id"])


def downgrade() -> None:
    for table in ("eval_scores", "eval_runs", "eval_items", "eval_sets"):
        op.drop_table(table)
