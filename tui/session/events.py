"""What a :class:`~tui.session.client.ChatSession` tells its observers."""

from __future__ import annotations

from dataclasses import dataclass

from .journal import JournalRow
from .model import ChatMessage, Invitation, Show


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


@dataclass(frozen=True)
class RoomsChanged(SessionEvent):
    """Rooms were joined, left, bookmarked or renamed: the list of rooms needs redrawing."""


@dataclass(frozen=True)
class RoomChanged(SessionEvent):
    """A room's name, subject, state or participants changed."""

    jid: str


@dataclass(frozen=True)
class HistoryLoaded(SessionEvent):
    """Older messages were put into a conversation (from MAM): redraw it from the start."""

    jid: str


@dataclass(frozen=True)
class InvitationReceived(SessionEvent):
    """Someone invited me into a room; answer with ``accept`` or ``decline``."""

    invitation: Invitation


@dataclass(frozen=True)
class RoomNotice(SessionEvent):
    """Something the user should know about a room (removed, cannot rejoin), with what to do."""

    jid: str
    text: str
    severity: str = "information"


@dataclass(frozen=True)
class HistoryPrepended(SessionEvent):
    """``count`` older messages were put in front of a conversation (paged back from the archive):
    every index moved by ``count``."""

    jid: str
    count: int


@dataclass(frozen=True)
class ChatStateChanged(SessionEvent):
    """Someone in a conversation started or stopped typing (XEP-0085)."""

    jid: str
