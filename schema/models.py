"""The tables of the skeleton. Later features add their models beside these."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class ComponentState(Base):
    """A small durable value a component keeps between runs, e.g. an archive cursor.

    Keyed by component (``journal``) and name (``archive_cursor``).
    """

    __tablename__ = "component_state"

    component: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class AssistantMessage(Base):
    """One message of the assistant's conversation context.

    ``context`` is ``user:<bare jid>`` for a 1:1 chat or ``room:<room jid>`` for a room; the
    system prompt is not stored (it comes from the configuration with every request).
    """

    __tablename__ = "assistant_message"
    __table_args__ = (Index("ix_assistant_message_context_id", "context", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    context: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    tokens: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AssistantUsage(Base):
    """Tokens a user spent with the assistant on one day (UTC)."""

    __tablename__ = "assistant_usage"

    user: Mapped[str] = mapped_column(String(320), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    requests: Mapped[int] = mapped_column(Integer, default=0)


class JournalEntry(Base):
    """One communication action of one user: a chat conversation, a room conversation, an A/V
    chat, a call, a planned call. ``owner`` is the user whose journal it is in."""

    __tablename__ = "journal_entry"
    __table_args__ = (
        Index("ix_journal_entry_owner_started", "owner", "started_at"),
        Index("ix_journal_entry_owner_peer_started", "owner", "peer", "started_at"),
        Index("ix_journal_entry_revision", "revision"),
        UniqueConstraint("owner", "source", name="uq_journal_entry_owner_source"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner: Mapped[str] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(16))
    """``chat``, ``groupchat``, ``audio``, ``video``, ``screen``, ``call`` or ``planned``."""
    direction: Mapped[str] = mapped_column(String(3))
    """``in`` or ``out``: who started it."""
    peer: Mapped[str] = mapped_column(String(320))
    """Bare JID, room JID or phone number."""
    result: Mapped[str] = mapped_column(String(16), default="answered")
    """``answered``, ``missed``, ``declined``, ``failed``, ``planned`` or ``done``."""
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    duration_s: Mapped[int] = mapped_column(Integer, default=0)
    messages_in: Mapped[int] = mapped_column(Integer, default=0)
    messages_out: Mapped[int] = mapped_column(Integer, default=0)
    preview: Mapped[str] = mapped_column(Text, default="")
    line: Mapped[str] = mapped_column(String(64), default="")
    recording: Mapped[str] = mapped_column(Text, default="")
    reminder_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    source: Mapped[str] = mapped_column(String(200))
    """Where it came from, unique per owner: ``archive:<first archive id>``, ``call:<id>`` …"""
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now())
    revision: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """The journal's revision when the entry or its notes last changed: every writing
    transaction takes the next one from the ``journal``/``revision`` counter in
    :class:`ComponentState`, so entries newer than a revision are the changes since then."""


class JournalRoomOccupant(Base):
    """A local user in a room (one row per device), as the journal last saw it: from the room's
    presences and messages in ejabberd's service-log copies, and from what she says there.
    Room messages count in the room entry of every user in the room when they are applied."""

    __tablename__ = "journal_room_occupant"

    room: Mapped[str] = mapped_column(String(320), primary_key=True)
    occupant: Mapped[str] = mapped_column(String(1024), primary_key=True)
    """The user's full JID."""
    nick: Mapped[str] = mapped_column(String(1023))
    since: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    """When the journal saw her enter (or change her nick)."""


class JournalNote(Base):
    """A note on a journal entry, by its author; several per entry."""

    __tablename__ = "journal_note"
    __table_args__ = (Index("ix_journal_note_entry", "entry_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entry.id", ondelete="CASCADE"))
    author: Mapped[str] = mapped_column(String(320))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class JournalGrant(Base):
    """Who may read (and annotate) whose journal. ``grantee`` and ``subject`` are a bare JID or
    ``group:<shared-roster group>``; a grant on a group subject is that group's journal."""

    __tablename__ = "journal_grant"
    __table_args__ = (UniqueConstraint("grantee", "subject", name="uq_journal_grant_grantee_subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    grantee: Mapped[str] = mapped_column(String(330))
    subject: Mapped[str] = mapped_column(String(330))
    can_read: Mapped[bool] = mapped_column(Boolean, default=True)
    can_write_notes: Mapped[bool] = mapped_column(Boolean, default=False)
