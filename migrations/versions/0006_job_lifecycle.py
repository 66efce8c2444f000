"""One job lifecycle (app/jobs.py): every job records its owner process; eval runs gain
cancel requests and a start time, as trainings have.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("trainings", "eval_runs"):
        op.add_column(table, sa.Column("owner", sa.String(300)))
    op.add_column(
        "eval_runs",
        sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.add_column("eval_runs", sa.Column("started_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("eval_runs", "started_at")
    op.drop_column("eval_runs", "cancel_requested")
    for table in ("trainings", "eval_runs"):
        op.drop_column(table, "owner")
