"""Per-level prompts and defaults on scenarios, so that a scenario is editable by its users.

- the `prompt` level: `system_prompt` (already there), `few_shot_k` (NULL: the comparison's
  or the settings' default) and `few_shot_dataset_id` (NULL: the scenario's latest dataset);
- the `rag` level: `rag_instruction` (its system message) and `rag_template` (its user
  message, with the `{sources}` and the `{question}`); existing rows get the texts the level
  used as constants until now, so their prompts stay the same to the character;
- the `finetune` level: `finetune_system_prompt` (NULL: the system message of the adapter's
  training data);
- default generation settings `max_new_tokens` and `temperature` (NULL: the settings').

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# The rag level's prompt before this revision (app/levels/rag.py), as stored defaults; kept
# here as text so that a later change of the code's default does not change this revision.
RAG_INSTRUCTION = (
    "You are the assistant for {scenario}. Answer the customer's question in one short "
    "sentence, using only the numbered sources."
)
RAG_TEMPLATE = "Sources:\n{sources}\n\nQuestion: {question}"


def upgrade() -> None:
    op.add_column("scenarios", sa.Column("few_shot_k", sa.Integer))
    op.add_column(
        "scenarios",
        sa.Column(
            "few_shot_dataset_id",
            sa.Integer,
            sa.ForeignKey("datasets.id", ondelete="SET NULL", name="fk_scenarios_few_shot"),
        ),
    )
    op.add_column(
        "scenarios",
        sa.Column("rag_instruction", sa.Text, nullable=False, server_default=RAG_INSTRUCTION),
    )
    op.add_column(
        "scenarios",
        sa.Column("rag_template", sa.Text, nullable=False, server_default=RAG_TEMPLATE),
    )
    op.add_column("scenarios", sa.Column("finetune_system_prompt", sa.Text))
    op.add_column("scenarios", sa.Column("max_new_tokens", sa.Integer))
    op.add_column("scenarios", sa.Column("temperature", sa.Float))


def downgrade() -> None:
    for column in (
        "temperature",
        "max_new_tokens",
        "finetune_system_prompt",
        "rag_template",
        "rag_instruction",
        "few_shot_dataset_id",
        "few_shot_k",
    ):
        op.drop_column("scenarios", column)
