"""A scenario's current dataset and eval set chosen explicitly, and the documents its team
deleted remembered.

- `scenarios.current_dataset_id`, `scenarios.current_eval_set_id`: what trainings, the
  prompt level's default pool and eval runs use. An upload (new or the same content again)
  makes its dataset or eval set current; the pages and the API choose another. NULL: the
  latest upload, as before this revision.
- `deleted_documents`: the sources of documents a team deleted, so that the demo's load at
  every start (an import that adds what a scenario lacks) does not bring them back.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("scenarios", sa.Column("current_dataset_id", sa.Integer()))
    op.add_column("scenarios", sa.Column("current_eval_set_id", sa.Integer()))
    op.create_foreign_key(
        "fk_scenarios_current_dataset",
        "scenarios",
        "datasets",
        ["current_dataset_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_foreign_key(
        "fk_scenarios_current_eval_set",
        "scenarios",
        "eval_sets",
        ["current_eval_set_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_table(
        "deleted_documents",
        sa.Column(
            "scenario_id",
            sa.Integer(),
            sa.ForeignKey("scenarios.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("source", sa.String(500), primary_key=True),
        sa.Column(
            "deleted_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    )


def downgrade() -> None:
    op.drop_table("deleted_documents")
    op.drop_constraint("fk_scenarios_current_eval_set", "scenarios", type_="foreignkey")
    op.drop_constraint("fk_scenarios_current_dataset", "scenarios", type_="foreignkey")
    op.drop_column("scenarios", "current_eval_set_id")
    op.drop_column("scenarios", "current_dataset_id")
