"""What a :class:`~tui.session.client.ChatSession` tells its observers."""

from __future__ import annotations

from dataclasses import dataclass

from .journal import JournalRow
from .model import ChatMessage, Show


class SessionEvent:
    """Base of every session event."""


@dataclass(frozen=True)
class ConnectionChanged(SessionEvent):
    """``connecting``, ``online`` or ``offline``, with the reason when there is one."""

    state: str
    detail: str = ""


@dataclass(frozen=True)
class RosterChanged(SessionEvent):
    """Contacts were added, removed, renamed or regrouped."""


@dataclass(frozen=True)
class PresenceChanged(SessionEvent):
    """A contact's presence changed."""

    jid: str


@dataclass(frozen=True)
class OwnPresenceChanged(SessionEvent):
    """My own state or absence note changed."""

    show: Show
    status: str


@dataclass(frozen=True)
class MessageAdded(SessionEvent):
    """A message joined a conversation at ``index``."""

    jid: str
    message: ChatMessage
    index: int


@dataclass(frozen=True)
class MessageChanged(SessionEvent):
    """A message's delivery state (or text) changed."""

    jid: str
    message: ChatMessage


@dataclass(frozen=True)
class UnreadChanged(SessionEvent):
    """A conversation's unread count changed."""

    jid: str
    unread: int


@dataclass(frozen=True)
class JournalChanged(SessionEvent):
    """The journal pushed new or changed entries."""

    entries: list[JournalRow]
