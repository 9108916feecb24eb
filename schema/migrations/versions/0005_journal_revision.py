"""journal_entry.revision: every write to the journal moves one counter on, so the component
can push entries that other processes wrote

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("journal_entry", sa.Column("revision", sa.BigInteger(), server_default="0",
                                             nullable=False))
    op.create_index("ix_journal_entry_revision", "journal_entry", ["revision"])
    op.execute("INSERT INTO component_state (component, name, value) VALUES ('journal', 'revision', '0')")


def downgrade() -> None:
    op.execute("DELETE FROM component_state WHERE component = 'journal' AND name = 'revision'")
    op.drop_index("ix_journal_entry_revision", table_name="journal_entry")
    with op.batch_alter_table("journal_entry") as batch:
        batch.drop_column("revision")
