"""Pinned and muted conversations (CH10), kept in PEP so every device of mine shows the same.

A room's pin (XEP-0469) and notification setting (XEP-0492) live where those XEPs put them: in the
``<extensions/>`` of the room's bookmark (XEP-0402), which :class:`~tui.session.rooms.RoomService`
reads and publishes. The XEPs define no place for 1:1 chats, so their pins and settings are the
same elements in a private PEP node of ours (``urn:switchboard:chat-settings:0``, one item per
contact, XEP-0223 private storage): other devices running Switchboard see them at once.

Muting a room lets through only messages that mention me (``on-mention``); muting a chat silences
it (``never``). :meth:`PinService.should_notify` is what notifications ask.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slixmpp import Message
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.plugins.xep_0060.stanza import EventItem, Item
from slixmpp.plugins.xep_0402.stanza import Extensions
from slixmpp.xmlstream import ElementBase, register_stanza_plugin

from . import bookmarks, events
from .bookmarks import Bookmark

if TYPE_CHECKING:
    from .client import ChatSession

log = logging.getLogger(__name__)

CHAT_SETTINGS = "urn:switchboard:chat-settings:0"
TIMEOUT = 15

ALWAYS, ON_MENTION, NEVER = "always", "on-mention", "never"
"""XEP-0492 notification settings."""


class ChatSettings(ElementBase):  # type: ignore[misc]
    """A 1:1 chat's settings: the XEP-0402 ``<extensions/>`` element holding ``<pinned/>`` and
    ``<notify/>``, as a room's bookmark holds them."""

    namespace = CHAT_SETTINGS
    name = "chat"
    plugin_attrib = "chat_settings"


class PinError(Exception):
    """Pinning or muting failed; the text says why and what to do next."""


@dataclass(frozen=True)
class PinsChanged(events.SessionEvent):
    """Conversations were pinned, unpinned, muted or unmuted (here or on another device)."""


@dataclass(frozen=True)
class Marks:
    """How one conversation is marked."""

    pinned: bool = False
    notify: str = ""
    """``always``, ``on-mention`` or ``never`` (XEP-0492); empty: not set."""


class PinService:
    """The pins and notification settings of my conversations, synchronised through PEP."""

    def __init__(self, session: ChatSession, emit: Callable[[events.SessionEvent], None]) -> None:
        self.session = session
        self._emit = emit
        self.marks: dict[str, Marks] = {}
        """Conversation (bare JID) -> its marks; unmarked conversations are left out."""
        self._publishing: dict[str, int] = {}  # conversation -> my publishes not answered yet
        self._heard_while_loading: set[str] | None = None
        """While :meth:`load` waits for the node: conversations whose marks a notification
        changed meanwhile (the node as read may be older than they are)."""
        session.subscribe(self._on_event)

    # --- reading ------------------------------------------------------------------------------------

    def is_pinned(self, jid: str) -> bool:
        """Whether ``jid``'s conversation is pinned."""
        return self.marks.get(jid, Marks()).pinned

    def is_muted(self, jid: str) -> bool:
        """Whether ``jid``'s conversation is muted (never notifies, or a room only on mention)."""
        return self.marks.get(jid, Marks()).notify in (NEVER, ON_MENTION)

    @property
    def pinned(self) -> set[str]:
        """Every pinned conversation."""
        return {jid for jid, marks in self.marks.items() if marks.pinned}

    @property
    def muted(self) -> set[str]:
        """Every muted conversation."""
        return {jid for jid in self.marks if self.is_muted(jid)}

    def should_notify(self, jid: str, mentions_me: bool = False) -> bool:
        """Whether a new message in ``jid``'s conversation should notify me."""
        notify = self.marks.get(jid, Marks()).notify
        return notify != NEVER and (notify != ON_MENTION or mentions_me)

    def _set(self, jid: str, marks: Marks, notified: bool = False) -> bool:
        """Take ``marks`` for ``jid``; True when that changed anything. A ``notified`` change
        (PEP) is the echo of an older publish of mine while a newer one is on its way: skipped."""
        if notified and self._publishing.get(jid):
            return False
        if self.marks.get(jid, Marks()) == marks:
            return False
        if marks == Marks():
            self.marks.pop(jid, None)
        else:
            self.marks[jid] = marks
        return True

    # --- rooms: the bookmark carries the marks ------------------------------------------------------

    def bookmarked(self, bookmark: Bookmark) -> None:
        """A room's bookmark was read or changed (here or on another device): take its marks."""
        if self._set(bookmark.room, Marks(bookmark.pinned, bookmark.notify), notified=True):
            self._emit(PinsChanged())

    def marked(self, bookmark: Bookmark) -> Bookmark:
        """``bookmark`` with the room's current marks, for publishing it."""
        marks = self.marks.get(bookmark.room, Marks())
        return dataclasses.replace(bookmark, pinned=marks.pinned, notify=marks.notify)

    # --- changing -------------------------------------------------------------------------------------

    async def set_pinned(self, jid: str, pinned: bool) -> None:
        """Pin or unpin ``jid``'s conversation on every device."""
        current = self.marks.get(jid, Marks())
        await self._change(jid, dataclasses.replace(current, pinned=pinned),
                           "pin the conversation" if pinned else "unpin the conversation")

    async def set_muted(self, jid: str, muted: bool) -> None:
        """Mute (a room: notify only on mention; a chat: never) or unmute, on every device."""
        current = self.marks.get(jid, Marks())
        notify = (ON_MENTION if jid in self.session.rooms else NEVER) if muted else ""
        await self._change(jid, dataclasses.replace(current, notify=notify),
                           "mute the conversation" if muted else "unmute the conversation")

    async def _change(self, jid: str, marks: Marks, what: str) -> None:
        before = self.marks.get(jid, Marks())
        if not self._set(jid, marks):
            return
        self._emit(PinsChanged())
        self._publishing[jid] = self._publishing.get(jid, 0) + 1
        try:
            await self._publish(jid, marks)
        except (IqError, IqTimeout) as exc:
            self._set(jid, before)
            self._emit(PinsChanged())
            raise _refused(exc, what) from None
        finally:
            self._publishing[jid] -= 1

    async def _publish(self, jid: str, marks: Marks) -> None:
        stream = self.session.stream
        owner = self.session.jid.bare
        room = self.session.rooms.by_jid.get(jid)
        if room is not None:
            await bookmarks.publish(stream, owner, Bookmark(room.jid, room.name, room.nick, room.autojoin,
                                                            marks.pinned, marks.notify))
            return
        pubsub = stream.plugin["xep_0060"]
        if marks == Marks():
            try:
                await pubsub.retract(owner, CHAT_SETTINGS, jid, notify=True, timeout=TIMEOUT)
            except IqError as exc:
                if exc.iq["error"]["condition"] != "item-not-found":
                    raise
            return
        settings = ChatSettings()
        bookmarks.write_marks(settings, marks.pinned, marks.notify)
        await pubsub.publish(owner, CHAT_SETTINGS, id=jid, payload=settings,
                             options=bookmarks.publish_options(stream), timeout=TIMEOUT)

    # --- synchronising --------------------------------------------------------------------------------

    def attach(self, stream: Any) -> None:
        """Listen to a freshly built stream (before it connects): my other devices' changes."""
        register_stanza_plugin(ChatSettings, Extensions)
        register_stanza_plugin(Item, ChatSettings)
        register_stanza_plugin(EventItem, ChatSettings)
        stream.plugin["xep_0163"].add_interest(CHAT_SETTINGS)
        stream.add_event_handler("pubsub_publish", self._on_notified)
        stream.add_event_handler("pubsub_retract", self._on_notified)

    def _on_event(self, event: events.SessionEvent) -> None:
        if isinstance(event, events.ConnectionChanged) and event.state == "online":
            self.session.background.spawn(self.load())

    async def load(self) -> None:
        """Read the 1:1 chats' marks (rooms' come with their bookmarks). A change another device
        makes while the answer is on its way arrives as a notification and wins: the answer may
        show the node from before it."""
        heard: set[str] = set()
        self._heard_while_loading = heard
        try:
            result = await self.session.stream.plugin["xep_0060"].get_items(
                self.session.jid.bare, CHAT_SETTINGS, timeout=TIMEOUT)
        except IqError as exc:
            if exc.iq["error"]["condition"] != "item-not-found":
                log.info("chat settings not readable: %s", exc.iq["error"]["condition"])
            return
        except IqTimeout:
            log.info("chat settings not readable: no answer")
            return
        finally:
            self._heard_while_loading = None
        read = {item["id"]: Marks(*bookmarks.read_marks(item["chat_settings"]))
                for item in result["pubsub"]["items"] if item["id"] not in heard}
        changed = False
        for jid in [j for j in self.marks
                    if j not in read and j not in heard and j not in self.session.rooms]:
            changed |= self._set(jid, Marks())
        for jid, marks in read.items():
            changed |= self._set(jid, marks)
        if changed:
            self._emit(PinsChanged())

    def _on_notified(self, message: Message) -> None:
        """Another device of mine changed a chat's marks."""
        items = message["pubsub_event"]["items"]
        if message["from"].bare != self.session.jid.bare or items["node"] != CHAT_SETTINGS:
            return
        changed = False
        for element in list(items.iterables):  # not ``for item in items``: see bookmarks.notified
            if self._heard_while_loading is not None:
                self._heard_while_loading.add(element["id"])
            if element.name == "item":
                changed |= self._set(element["id"], Marks(*bookmarks.read_marks(element["chat_settings"])),
                                     notified=True)
            elif element.name == "retract":
                changed |= self._set(element["id"], Marks(), notified=True)
        if changed:
            self._emit(PinsChanged())


def _refused(exc: Exception, what: str) -> PinError:
    if isinstance(exc, IqTimeout):
        return PinError(f"Cannot {what}: the server did not answer; check the connection and try again.")
    condition = exc.iq["error"]["condition"] if isinstance(exc, IqError) else ""
    return PinError(f"Cannot {what}: the server said {condition or 'no'}. Nothing changed; try "
                    "again, and if it keeps failing, ask the administrator whether PEP is enabled.")
