"""Switchboard's data: SQLAlchemy models, the engine factory and Alembic migrations."""

from .base import Base
from .engine import create_engine, session_factory
from .migrate import upgrade
from .models import ComponentState

__all__ = ["Base", "ComponentState", "create_engine", "session_factory", "upgrade"]
