"""The rag level's retrieval settings per scenario, part of its versioned prompt, and a
faster vector index.

- `rag_top_k` (chunks put in the prompt), `rag_candidates` (rows each side of hybrid search
  fuses), `rag_vector_weight` and `rag_keyword_weight` (the fusion's weights); NULL: the
  settings' default. `tritune tune rag` sets them; the scenario form edits them.
- Each scenario gets a new version of its rag prompt: its latest one with the four fields
  added as NULL (the same search as before), so that the latest version equals the columns
  again and the first comparison after the upgrade records none "at use". Results that ran
  with the older versions keep naming them; the level reads a missing field as NULL.
- The chunks' HNSW index is built on the embeddings cast to `halfvec` (16-bit floats): half
  the size, twice as fast at the same recall at 100k chunks; search re-scores the candidates
  it finds with the full vectors (app/rag/search.py). Rebuilding it takes a while on a large
  knowledge base (49 s for 100,000 chunks on a busy 2-core machine).

Revision ID: 0010
Revises: 0009
"""

import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# Written out here, as 0009 does, so that a later change of the code does not change this
# revision (app/levels/rag.py `prompt_fields`, app/scenarios/versions.py `content_sha256`).
COLUMNS = (
    ("rag_top_k", sa.Integer),
    ("rag_candidates", sa.Integer),
    ("rag_vector_weight", sa.Float),
    ("rag_keyword_weight", sa.Float),
)
NOTE = "retrieval settings added to the rag level (null: the settings' defaults)"
HNSW = "USING hnsw ({}) WITH (m = 16, ef_construction = 64)"
HALFVEC_INDEX = HNSW.format("(CAST(embedding AS halfvec(384))) halfvec_cosine_ops")
VECTOR_INDEX = HNSW.format("embedding vector_cosine_ops")


def content_sha256(content: dict) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def upgrade() -> None:
    for name, kind in COLUMNS:
        op.add_column("scenarios", sa.Column(name, kind))
    op.execute("DROP INDEX ix_chunks_embedding_hnsw")
    op.execute(f"CREATE INDEX ix_chunks_embedding_hnsw ON chunks {HALFVEC_INDEX}")
    bind = op.get_bind()
    latest = bind.execute(
        sa.text(
            "SELECT DISTINCT ON (scenario_id) scenario_id, number, content FROM prompt_versions"
            " WHERE level = 'rag' ORDER BY scenario_id, number DESC"
        )
    ).mappings()
    rows = []
    for version in latest:
        content = {**version["content"], **{name: None for name, _ in COLUMNS}}
        rows.append(
            {
                "scenario_id": version["scenario_id"],
                "number": version["number"] + 1,
                "content": json.dumps(content),
                "sha256": content_sha256(content),
            }
        )
    if rows:
        bind.execute(
            sa.text(
                "INSERT INTO prompt_versions (scenario_id, level, number, content, sha256, note)"
                " VALUES (:scenario_id, 'rag', :number, CAST(:content AS jsonb), :sha256, :note)"
            ),
            [{**row, "note": NOTE} for row in rows],
        )


def downgrade() -> None:
    op.execute("DROP INDEX ix_chunks_embedding_hnsw")
    op.execute(f"CREATE INDEX ix_chunks_embedding_hnsw ON chunks {VECTOR_INDEX}")
    op.get_bind().execute(
        sa.text("DELETE FROM prompt_versions WHERE level = 'rag' AND note = :note"), {"note": NOTE}
    )
    for name, _ in reversed(COLUMNS):
        op.drop_column("scenarios", name)
