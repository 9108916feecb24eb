"""The tables of the skeleton. Later features add their models beside these."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, String, Text, func
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
