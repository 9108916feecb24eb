"""The tables of the skeleton. Later features add their models beside these."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, DateTime, Index, Integer, String, Text, func
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
