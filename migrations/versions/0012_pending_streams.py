"""Live comparisons waiting for (or streaming to) their live view, in Postgres rather than
in one process's memory: a comparison the compare page started through one replica streams
and cancels through any other (app/compare/pending.py).

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_streams",
        sa.Column("token", sa.String(64), primary_key=True),
        sa.Column("request", JSONB, nullable=False),
        sa.Column("running", sa.Boolean, nullable=False),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    )


def downgrade() -> None:
    op.drop_table("pending_streams")
