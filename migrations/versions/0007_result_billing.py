"""What each result is billed on besides its tokens: machine seconds and embedding tokens.

The comparison service computes them once and stores them; the eval runner reads them.
Existing rows are filled where the stored data determines them: `machine_s` by the rule the
comparison service bills with (the level's retrieval time plus the shared batch's wall time
split by tokens), `embedding_tokens` from the eval scores that recorded them, and 0 for the
fine-tuned level (which never embedded the query) and for failed levels. The embedding
tokens of other old rows stay NULL: counting them needs the embedding model's tokenizer.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

MACHINE_SECONDS = """
UPDATE results AS r
SET machine_s = (
    r.latency_retrieval_ms
    + b.batch_ms * (r.prompt_tokens + r.completion_tokens)::float / GREATEST(b.tokens, 1)
) / 1000
FROM (
    SELECT comparison_id,
           max(latency_first_token_ms + latency_generation_ms) AS batch_ms,
           sum(prompt_tokens + completion_tokens) AS tokens
    FROM results
    WHERE error IS NULL
    GROUP BY comparison_id
) AS b
WHERE r.comparison_id = b.comparison_id AND r.error IS NULL
"""

SCORED_EMBEDDING_TOKENS = """
UPDATE results AS r
SET embedding_tokens = round((s.metrics ->> 'embedding_tokens')::float)
FROM eval_scores AS s
WHERE s.comparison_id = r.comparison_id AND s.level = r.level AND r.error IS NULL
  AND s.metrics ->> 'embedding_tokens' IS NOT NULL
"""


def upgrade() -> None:
    op.add_column("results", sa.Column("machine_s", sa.Float, nullable=True))
    op.add_column("results", sa.Column("embedding_tokens", sa.Integer, nullable=True))
    op.execute(MACHINE_SECONDS)
    op.execute(SCORED_EMBEDDING_TOKENS)
    op.execute(
        "UPDATE results SET embedding_tokens = 0 WHERE error IS NOT NULL OR level = 'finetune'"
    )
    op.execute("UPDATE results SET machine_s = 0 WHERE error IS NOT NULL")


def downgrade() -> None:
    op.drop_column("results", "embedding_tokens")
    op.drop_column("results", "machine_s")
