"""Prompt versions, few-shot selection and a scenario's own pricing.

- `prompt_versions`: each change of a level's prompt makes a new immutable row (numbered per
  scenario and level, with its content, the content's sha256 and an author note). Every
  scenario gets version 1 of each level from its current columns; results name the version
  they used (`results.prompt_version_id`; NULL in rows older than this revision).
- the `prompt` level's example selection: `few_shot_selection` (`nearest`, `fixed` or
  `random`), `few_shot_seed` (random) and `few_shot_examples` (fixed: the train lines of the
  example pool, 1-based);
- `pricing_profile` (NULL: the setting) and `pricing` (TOML of the scenario's own profiles).

Revision ID: 0009
Revises: 0008
"""

import hashlib
import json

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Each level's prompt fields as this revision knows them (app/levels/*.py `prompt_fields`),
# hashed as app/scenarios/versions.py's `content_sha256` does; written out here so that a
# later change of the code does not change this revision.
LEVEL_FIELDS = {
    "prompt": (
        "system_prompt",
        "few_shot_k",
        "few_shot_dataset_id",
        "few_shot_selection",
        "few_shot_seed",
        "few_shot_examples",
    ),
    "rag": ("rag_instruction", "rag_template"),
    "finetune": ("finetune_system_prompt",),
}


def content_sha256(content: dict) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def upgrade() -> None:
    op.add_column(
        "scenarios",
        sa.Column("few_shot_selection", sa.String(16), nullable=False, server_default="nearest"),
    )
    op.add_column("scenarios", sa.Column("few_shot_seed", sa.Integer))
    op.add_column("scenarios", sa.Column("few_shot_examples", JSONB))
    op.add_column("scenarios", sa.Column("pricing_profile", sa.String(100)))
    op.add_column("scenarios", sa.Column("pricing", sa.Text))
    versions = op.create_table(
        "prompt_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "scenario_id",
            sa.Integer,
            sa.ForeignKey("scenarios.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("level", sa.String(32), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("content", JSONB, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.UniqueConstraint("scenario_id", "level", "number"),
    )
    op.add_column(
        "results",
        sa.Column(
            "prompt_version_id",
            sa.Integer,
            sa.ForeignKey("prompt_versions.id", ondelete="SET NULL"),
        ),
    )
    columns = sorted({name for names in LEVEL_FIELDS.values() for name in names})
    scenarios = op.get_bind().execute(sa.text(f"SELECT id, {', '.join(columns)} FROM scenarios"))
    rows = []
    for scenario in scenarios.mappings():
        for level, names in LEVEL_FIELDS.items():
            content = {name: scenario[name] for name in names}
            rows.append(
                {
                    "scenario_id": scenario["id"],
                    "level": level,
                    "number": 1,
                    "content": content,
                    "sha256": content_sha256(content),
                    "note": "the prompt as it was before versions were kept",
                }
            )
    if rows:
        op.bulk_insert(versions, rows)


def downgrade() -> None:
    op.drop_column("results", "prompt_version_id")
    op.drop_table("prompt_versions")
    for column in (
        "pricing",
        "pricing_profile",
        "few_shot_examples",
        "few_shot_seed",
        "few_shot_selection",
    ):
        op.drop_column("scenarios", column)
