"""journal_entry, journal_note, journal_grant and the journal's full-text index

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "journal_entry",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("owner", sa.String(320), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("peer", sa.String(320), nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_s", sa.Integer(), nullable=False),
        sa.Column("messages_in", sa.Integer(), nullable=False),
        sa.Column("messages_out", sa.Integer(), nullable=False),
        sa.Column("preview", sa.Text(), nullable=False),
        sa.Column("line", sa.String(64), nullable=False),
        sa.Column("recording", sa.Text(), nullable=False),
        sa.Column("reminder_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_entry")),
        sa.UniqueConstraint("owner", "source", name="uq_journal_entry_owner_source"),
    )
    op.create_index("ix_journal_entry_owner_started", "journal_entry", ["owner", "started_at"])
    op.create_index("ix_journal_entry_owner_peer_started", "journal_entry",
                    ["owner", "peer", "started_at"])
    op.create_table(
        "journal_note",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(320), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["journal_entry.id"], ondelete="CASCADE",
                                name=op.f("fk_journal_note_entry_id_journal_entry")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_note")),
    )
    op.create_index("ix_journal_note_entry", "journal_note", ["entry_id"])
    op.create_table(
        "journal_grant",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("grantee", sa.String(330), nullable=False),
        sa.Column("subject", sa.String(330), nullable=False),
        sa.Column("can_read", sa.Boolean(), nullable=False),
        sa.Column("can_write_notes", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_grant")),
        sa.UniqueConstraint("grantee", "subject", name="uq_journal_grant_grantee_subject"),
    )
    # free text over previews, peers and notes: FTS5 on SQLite, a GIN tsvector on PostgreSQL
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE journal_search USING fts5(text, tokenize='unicode61')")
    else:
        op.execute("CREATE TABLE journal_search (rowid INTEGER PRIMARY KEY "
                   "REFERENCES journal_entry(id) ON DELETE CASCADE, text TEXT NOT NULL, "
                   "tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED)")
        op.execute("CREATE INDEX ix_journal_search_tsv ON journal_search USING gin (tsv)")


def downgrade() -> None:
    op.execute("DROP TABLE journal_search")
    op.drop_table("journal_grant")
    op.drop_index("ix_journal_note_entry", table_name="journal_note")
    op.drop_table("journal_note")
    op.drop_index("ix_journal_entry_owner_peer_started", table_name="journal_entry")
    op.drop_index("ix_journal_entry_owner_started", table_name="journal_entry")
    op.drop_table("journal_entry")
