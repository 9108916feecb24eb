"""What the client knows, as plain data the widgets can render: contacts, presence, messages.

Nothing here touches the network; :mod:`tui.session.client` fills these objects in and tells its
observers what changed.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .attachment import Attachment


class Show(enum.StrEnum):
    """Presence states, as RFC 6121 ``<show/>`` plus offline."""

    AVAILABLE = "available"
    CHAT = "chat"
    AWAY = "away"
    XA = "xa"
    DND = "dnd"
    OFFLINE = "offline"

    @property
    def label(self) -> str:
        """How the state reads in the user interface."""
        return {"available": "available", "chat": "free for chat", "away": "away",
                "xa": "extended away", "dnd": "busy", "offline": "offline"}[self.value]

    @property
    def rank(self) -> int:
        """Lower is more available; used to pick a contact's best resource."""
        return ["chat", "available", "away", "xa", "dnd", "offline"].index(self.value)


@dataclass
class ResourcePresence:
    """The presence of one connected device of a contact."""

    show: Show
    status: str = ""
    priority: int = 0


@dataclass
class Contact:
    """A roster entry with its live presence per resource."""

    jid: str
    name: str = ""
    groups: tuple[str, ...] = ()
    subscription: str = "none"
    resources: dict[str, ResourcePresence] = field(default_factory=dict)

    @property
    def display_name(self) -> str:
        """Roster name, or the local part of the address."""
        return self.name or self.jid.split("@")[0]

    @property
    def best(self) -> ResourcePresence | None:
        """The most available resource (highest priority first), or None when offline."""
        if not self.resources:
            return None
        return min(self.resources.values(), key=lambda r: (-r.priority, r.show.rank))

    @property
    def show(self) -> Show:
        """The contact's overall state."""
        best = self.best
        return best.show if best else Show.OFFLINE

    @property
    def status(self) -> str:
        """The absence note of the most available resource."""
        best = self.best
        return best.status if best else ""


class Direction(enum.StrEnum):
    """Who wrote a message."""

    OUTGOING = "out"
    INCOMING = "in"


class Delivery(enum.IntEnum):
    """How far an outgoing message got; each step has a time on the message."""

    QUEUED = -2
    """Written while offline: kept in the outbox, sent once the session is online."""
    PENDING = 0
    """Handed to the connection, not yet acknowledged by the server."""
    SENT = 1
    """The server acknowledged it (XEP-0198)."""
    DELIVERED = 2
    """A device of the recipient confirmed receipt (XEP-0184)."""
    READ = 3
    """The recipient displayed it (XEP-0333)."""
    FAILED = -1
    """The server returned an error."""


@dataclass
class ChatMessage:
    """One message of a conversation."""

    id: str
    direction: Direction
    sender: str
    body: str
    time: dt.datetime
    delivery: Delivery = Delivery.PENDING
    sent_at: dt.datetime | None = None
    delivered_at: dt.datetime | None = None
    read_at: dt.datetime | None = None
    error: str = ""
    markable: bool = False
    corrected: bool = False
    """The sender replaced the text (XEP-0308)."""
    nick: str = ""
    """In a room: the sender's nickname there (empty in 1:1 chats)."""
    room_id: str = ""
    """In a room: the id the room gave the message (XEP-0359 stanza-id), used by MAM and markers."""
    read_by: list[str] = field(default_factory=list)
    """In a room: nicknames whose clients displayed my message (XEP-0333)."""
    reactions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """XEP-0444: who reacted (bare JID, or ``room/nick`` when a room hides addresses) -> their emojis."""
    reply_to: str = ""
    """XEP-0461: the id of the message this one answers."""
    quote: str = ""
    """XEP-0461: the text the sender quoted, shown when the answered message is not here."""
    retracted: bool = False
    """The sender took the message back (XEP-0424); its text is gone."""
    mentions_me: bool = False
    """In a room: the message names me (XEP-0372 reference or my nickname)."""
    attachment: Attachment | None = None
    """The file the message shares (XEP-0363 + XEP-0066), if it shares one (CH7)."""
    queued: list[str] = field(default_factory=list)
    """What I did to this message while offline that waits in the outbox: ``reaction``,
    ``correction``, ``retraction`` (shown at once here, sent once online)."""

    @property
    def in_room(self) -> bool:
        """Whether the message was said in a room."""
        return bool(self.nick)

    @property
    def is_action(self) -> bool:
        """A ``/me`` message: the text says what the sender does."""
        return self.body.startswith("/me ")

    def advance(self, to: Delivery, when: dt.datetime) -> bool:
        """Move the delivery state forward (never back); fill in skipped steps' times.

        Returns True when anything changed.
        """
        if self.direction is not Direction.OUTGOING or self.delivery is Delivery.FAILED:
            return False
        if to <= self.delivery:
            return False
        steps = {Delivery.SENT: "sent_at", Delivery.DELIVERED: "delivered_at", Delivery.READ: "read_at"}
        for step, attr in steps.items():
            if step <= to and getattr(self, attr) is None:
                setattr(self, attr, when)
        self.delivery = to
        return True


@dataclass
class Conversation:
    """A 1:1 chat with one contact, or a room's chat: its messages in order, and what is unread."""

    jid: str
    messages: list[ChatMessage] = field(default_factory=list)
    unread: int = 0
    by_id: dict[str, ChatMessage] = field(default_factory=dict, repr=False)
    _markable: tuple[int, ChatMessage | None] = field(default=(0, None), init=False, repr=False,
                                                      compare=False)
    """How many messages :meth:`last_incoming_markable` has looked at, and what it found."""

    def add(self, message: ChatMessage) -> int:
        """Append ``message``; returns its index."""
        self.messages.append(message)
        self.by_id[message.id] = message
        return len(self.messages) - 1

    def find(self, ref: str) -> ChatMessage | None:
        """The message whose id, or whose id given by the room, is ``ref``."""
        message = self.by_id.get(ref)
        if message is None and ref:
            message = next((m for m in reversed(self.messages) if m.room_id == ref), None)
        return message

    def put_history(self, older: list[ChatMessage]) -> bool:
        """Put archived messages (oldest first, none of them here yet) among those here, in time
        order; True when they all went in front (the indices of the others moved by their number)."""
        for message in older:
            self.by_id[message.id] = message
        self._markable = (0, None)  # the positions move: look at everything again next time
        if not self.messages or not older or older[-1].time <= self.messages[0].time:
            self.messages[:0] = older
            return True
        # stable: among equal times the archive's order comes first
        self.messages[:] = sorted([*older, *self.messages], key=lambda m: m.time)
        return False

    def index_of(self, message: ChatMessage) -> int:
        """Position of ``message`` (searched from the end, where updates happen)."""
        for index in range(len(self.messages) - 1, -1, -1):
            if self.messages[index] is message:
                return index
        raise ValueError(message.id)

    def last_incoming_markable(self) -> ChatMessage | None:
        """The newest incoming message that asked for chat markers. Asked after every burst of
        messages, it looks only at those added since it was last asked."""
        seen, found = self._markable if self._markable[0] <= len(self.messages) else (0, None)
        for index in range(len(self.messages) - 1, seen - 1, -1):
            message = self.messages[index]
            if message.direction is Direction.INCOMING and message.markable:
                found = message
                break
        self._markable = (len(self.messages), found)
        return found


@dataclass
class Occupant:
    """Someone present in a room, as the room announces them (XEP-0045 presence)."""

    nick: str
    jid: str = ""
    """Their bare JID, when the room shows real addresses (ours do)."""
    role: str = "participant"
    affiliation: str = "none"
    show: Show = Show.AVAILABLE
    status: str = ""


@dataclass
class Room:
    """A chat room (XEP-0045) I am in or have bookmarked; its messages are the
    :class:`Conversation` under the same JID."""

    jid: str
    name: str = ""
    nick: str = ""
    """My nickname in the room."""
    subject: str = ""
    joined: bool = False
    autojoin: bool = True
    occupants: dict[str, Occupant] = field(default_factory=dict)
    """Present now, by nickname."""
    members: dict[str, str] = field(default_factory=dict)
    """Everyone with an affiliation (bare JID -> owner, admin or member), present or not."""

    @property
    def display_name(self) -> str:
        """The room's name, or the local part of its address."""
        return self.name or self.jid.split("@")[0]

    @property
    def my_affiliation(self) -> str:
        """owner, admin, member or none."""
        me = self.occupants.get(self.nick)
        return me.affiliation if me else "none"


@dataclass(frozen=True)
class Invitation:
    """Someone asks me into a room: directly (XEP-0249) or through the room (XEP-0045)."""

    room: str
    inviter: str
    reason: str = ""
    password: str = ""
    mediated: bool = False
