"""Switchboard's data: SQLAlchemy models, the engine factory and Alembic migrations."""

from .base import Base
from .engine import create_engine, session_factory
from .migrate import upgrade
from .models import (
    AssistantMessage,
    AssistantUsage,
    ComponentState,
    JournalEntry,
    JournalGrant,
    JournalNote,
    JournalRoomOccupant,
)

__all__ = ["AssistantMessage", "AssistantUsage", "Base", "ComponentState", "JournalEntry",
           "JournalGrant", "JournalNote", "JournalRoomOccupant", "create_engine", "session_factory",
           "upgrade"]
