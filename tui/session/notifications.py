"""Which session events deserve a notification, and what it says (CH12).

:class:`NoticeRules` watches the unread counts and the calls of a
:class:`~tui.session.client.ChatSession`: an unread count that grows in a conversation the user is
not looking at is news (one notice however many messages came at once, e.g. a room's catch-up after
rejoining), and so is an incoming call that ended unanswered. The settings decide per kind —
1:1 messages, room messages, mentions of me, missed calls — and whether the text is shown; a muted
conversation (CH10) stays silent, a muted room speaks only when I am mentioned. How a notice is
shown (toast, bell, desktop) is the app's business (:mod:`tui.notifications`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from .attachment import attachment_for
from .callinfo import CallChanged, CallInfo
from .events import SessionEvent, UnreadChanged
from .model import ChatMessage, Direction

if TYPE_CHECKING:
    from tui.settings import NotificationSettings

    from .client import ChatSession

PREVIEW_LENGTH = 160
"""Longest message text shown in a notification."""


@dataclass(frozen=True)
class Notice:
    """Something to tell the user: what kind, about which conversation, in words."""

    kind: str
    """``messages``, ``rooms``, ``mentions`` or ``calls`` — the switch in the settings that allows it."""
    jid: str
    title: str
    """Who (a contact, or ``bob in Sales``) or what (``Missed call``)."""
    preview: str
    """The newest message's text (empty when previews are off), or what happened for a call."""
    count: int = 1
    """How many messages or calls it stands for."""

    @property
    def text(self) -> str:
        """The line under the title: the preview with a count, or only the count."""
        if self.kind == "calls":
            return self.preview if self.count == 1 else f"{self.count} missed calls — {self.preview}"
        if not self.preview:
            return "New message" if self.count == 1 else f"{self.count} new messages"
        return self.preview if self.count == 1 else f"{self.count} new messages — {self.preview}"

    def merged(self, newer: Notice) -> Notice:
        """This notice and a newer one about the same conversation as one."""
        return replace(newer, count=self.count + newer.count)


def preview_of(message: ChatMessage) -> str:
    """A message as one short line: its text, or the file it shares."""
    attachment = attachment_for(message)
    if attachment is not None:
        return f"📎 {attachment.name}"
    text = " ".join(message.body.split())
    return text if len(text) <= PREVIEW_LENGTH else text[:PREVIEW_LENGTH - 1] + "…"


class NoticeRules:
    """Turns session events into :class:`Notice` objects, as the settings allow."""

    def __init__(self, session: ChatSession, settings: Callable[[], NotificationSettings],
                 looking_at: Callable[[str], bool]) -> None:
        """``looking_at(jid)``: whether the user sees that conversation right now (no notice then)."""
        self.session = session
        self._settings = settings
        self._looking_at = looking_at
        self._unread: dict[str, int] = {}
        self._calls_told: set[str] = set()

    def notice(self, event: SessionEvent) -> Notice | None:
        """The notice ``event`` calls for, or None."""
        if isinstance(event, UnreadChanged):
            return self._messages(event.jid, event.unread)
        if isinstance(event, CallChanged):
            return self._missed_call(event.call)
        return None

    # --- messages ------------------------------------------------------------------------------

    def _messages(self, jid: str, unread: int) -> Notice | None:
        before, self._unread[jid] = self._unread.get(jid, 0), unread
        if unread <= before or self._looking_at(jid):
            return None
        conversation = self.session.conversations.get(jid)
        if conversation is None:
            return None
        fresh: list[ChatMessage] = []
        for message in reversed(conversation.messages):
            if len(fresh) == unread - before:
                break
            if message.direction is Direction.INCOMING:
                fresh.append(message)
        if not fresh:
            return None
        kind = self._kind(jid, fresh)
        if kind is None:
            return None
        newest = fresh[0]
        room = self.session.rooms.by_jid.get(jid)
        if room is None:
            contact = self.session.contacts.get(jid)
            title = contact.display_name if contact is not None else jid
        else:
            who = newest.nick or newest.sender.split("@")[0]
            title = f"{who} mentioned you in {room.display_name}" if kind == "mentions" else \
                f"{who} in {room.display_name}"
        preview = preview_of(newest) if self._settings().preview else ""
        return Notice(kind, jid, title, preview, len(fresh))

    def _kind(self, jid: str, fresh: list[ChatMessage]) -> str | None:
        """Which switch allows a notice about ``fresh`` messages in ``jid``; None: none does."""
        settings = self._settings()
        pins = self.session.pins
        if jid not in self.session.rooms:
            return "messages" if settings.messages and pins.should_notify(jid) else None
        mentioned = any(m.mentions_me for m in fresh)
        if pins.is_muted(jid):
            allowed = mentioned and settings.mentions and pins.should_notify(jid, True)
            return "mentions" if allowed else None
        if mentioned and settings.mentions:
            return "mentions"
        return "rooms" if settings.rooms else None

    # --- calls ---------------------------------------------------------------------------------

    def _missed_call(self, call: CallInfo) -> Notice | None:
        if call.outgoing or call.ended != "missed" or call.sid in self._calls_told:
            return None
        self._calls_told.add(call.sid)
        if not self._settings().calls:
            return None
        contact = self.session.contacts.get(call.peer)
        name = contact.display_name if contact is not None else call.peer
        kind = "video call" if call.video else "call"
        when = dt.datetime.now().strftime("%H:%M")
        return Notice("calls", call.peer, "Missed call", f"{name} tried to {kind} you at {when}")
