"""Knowledge base: documents record their media type and size; chunks are indexed by
(scenario, embedding model) so a changed embedding model is found without a table scan.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "documents",
        sa.Column("media_type", sa.String(64), nullable=False, server_default="text/markdown"),
    )
    op.add_column(
        "documents", sa.Column("size_bytes", sa.Integer, nullable=False, server_default="0")
    )
    op.create_index(
        "ix_chunks_scenario_embedding_model", "chunks", ["scenario_id", "embedding_model"]
    )


def downgrade() -> None:
    op.drop_index("ix_chunks_scenario_embedding_model", "chunks")
    op.drop_column("documents", "size_bytes")
    op.drop_column("documents", "media_type")
