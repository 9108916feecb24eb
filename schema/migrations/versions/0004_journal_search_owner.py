"""journal_search indexes words per owner, so a search over one journal reads only its postings

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def owner_key(owner: str) -> str:
    """The owner as one full-text token (the same as xmpp_components.journal.store.owner_key)."""
    return "o" + re.sub(r"[^0-9a-z]", "", owner.lower())


def search_text(owner: str, text: str) -> str:
    """Words prefixed with the owner's token (the same as journal.store.search_text)."""
    key = owner_key(owner)
    return " ".join(f"{key}x{word}" for word in re.findall(r"[^\W_]+", text.lower()))


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT e.id, e.owner, e.peer, e.preview, "
        + ("group_concat(n.text, ' ')" if bind.dialect.name == "sqlite" else "string_agg(n.text, ' ')")
        + " FROM journal_entry e LEFT JOIN journal_note n ON n.entry_id = e.id "
        "GROUP BY e.id, e.owner, e.peer, e.preview")).all()
    if bind.dialect.name == "sqlite":
        op.execute("DROP TABLE journal_search")
        op.execute("CREATE VIRTUAL TABLE journal_search USING fts5(owner_key, text, tokenize='unicode61')")
    else:
        op.execute("ALTER TABLE journal_search ADD COLUMN owner_key TEXT NOT NULL DEFAULT ''")
        op.execute("DELETE FROM journal_search")
    sqlite = bind.dialect.name == "sqlite"
    if rows:
        bind.execute(sa.text("INSERT INTO journal_search (rowid, owner_key, text) VALUES (:id, :key, :text)"),
                     [{"id": r[0], "key": owner_key(r[1]),
                       "text": search_text(r[1], f"{r[2]} {r[3]} {r[4] or ''}") if sqlite
                       else f"{r[2]} {r[3]} {r[4] or ''}"} for r in rows])


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE journal_search")
        op.execute("CREATE VIRTUAL TABLE journal_search USING fts5(text, tokenize='unicode61')")
    else:
        op.execute("ALTER TABLE journal_search DROP COLUMN owner_key")
