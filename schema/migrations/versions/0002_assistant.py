"""assistant_message, assistant_usage: the assistant's context and token usage

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assistant_message",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("context", sa.String(320), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant_message")),
    )
    op.create_index("ix_assistant_message_context_id", "assistant_message", ["context", "id"])
    op.create_table(
        "assistant_usage",
        sa.Column("user", sa.String(320), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("user", "day", name=op.f("pk_assistant_usage")),
    )


def downgrade() -> None:
    op.drop_table("assistant_usage")
    op.drop_index("ix_assistant_message_context_id", table_name="assistant_message")
    op.drop_table("assistant_message")
