"""Textual messages the client's parts exchange."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from tui.session.events import SessionEvent


@dataclass
class SessionUpdate(Message):
    """Something changed in the client session (wraps a :class:`SessionEvent`)."""

    event: SessionEvent
