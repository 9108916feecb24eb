"""journal_room_occupant: local users in rooms, so room entries reach everyone who was there

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "journal_room_occupant",
        sa.Column("room", sa.String(320), nullable=False),
        sa.Column("occupant", sa.String(1024), nullable=False),
        sa.Column("nick", sa.String(1023), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("room", "occupant", name=op.f("pk_journal_room_occupant")),
    )


def downgrade() -> None:
    op.drop_table("journal_room_occupant")
