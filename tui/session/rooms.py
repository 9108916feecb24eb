"""Chat rooms for the client session (CH3): XEP-0045 rooms, XEP-0249 invitations, XEP-0402 bookmarks.

:class:`RoomService` belongs to a :class:`~tui.session.client.ChatSession` and keeps its rooms as plain
:class:`~tui.session.model.Room` data; each room's messages are the session's
:class:`~tui.session.model.Conversation` under the room's JID, so the message view shows both alike.
Rooms we create are members-only, persistent and archived; every room we are in is bookmarked with
autojoin, so it comes back after a restart and on the user's other devices.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from slixmpp import JID, Message, Presence
from slixmpp.exceptions import IqError, IqTimeout, PresenceError

from . import bookmarks, events, room_archive
from .bookmarks import Bookmark
from .message_actions import refers
from .model import ChatMessage, Delivery, Direction, Invitation, Occupant, Room, Show

if TYPE_CHECKING:
    from .client import ChatSession

log = logging.getLogger(__name__)

MUC_USER = "http://jabber.org/protocol/muc#user"
DIRECT_INVITE = "jabber:x:conference"
MARKABLE = "{urn:xmpp:chat-markers:0}markable"
HISTORY = 50
"""Newest room messages fetched from the room's archive when joining it the first time."""
CATCH_UP = 500
"""At most this many missed messages are fetched when rejoining a room."""
TIMEOUT = 15

REMOVED = {301: "You were banned from {room}.",
           307: "You were removed from {room} by a moderator.",
           321: "You are no longer a participant of {room}.",
           322: "You are no longer a participant of {room}: it is for members only.",
           332: "{room} is unavailable: its server is shutting down."}
"""Status codes of the room's last presence to me (XEP-0045 §15.2) and what they mean."""

WHY_NOT_JOINED = {
    "registration-required": "{room} is for members only; ask one of its participants to invite you.",
    "forbidden": "You are banned from {room}; ask its owner to lift the ban.",
    "not-authorized": "{room} needs a password; accept an invitation that carries it.",
    "item-not-found": "{room} does not exist (any more); leave it to drop it from your list.",
    "service-unavailable": "{room} is full; try again later.",
    "conflict": "Your nickname is taken in {room}.",
}

WHY_REFUSED = {
    "forbidden": "only the room's owners and admins may do that; ask one of them.",
    "not-allowed": "the room does not allow that.",
    "item-not-found": "the room does not exist (any more).",
    "not-acceptable": "the server did not accept the value.",
}

ROOM_CONFIG: dict[str, Any] = {
    "muc#roomconfig_persistentroom": True, "muc#roomconfig_membersonly": True,
    "muc#roomconfig_publicroom": False, "public_list": False, "muc#roomconfig_whois": "anyone",
    "muc#roomconfig_allowinvites": True, "mam": True,
}
"""A private group as Conversations makes one: members only, persistent, addresses visible, archived."""


class RoomError(Exception):
    """A room action failed; the text says why and what to do next."""


def room_slug(name: str) -> str:
    """The readable part of a new room's address: ``Sales Team Ü`` → ``sales-team-u``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:24].rstrip("-") or "room"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _refused(exc: Exception, what: str) -> RoomError:
    """An IQ error or timeout as a sentence for the user."""
    if isinstance(exc, IqTimeout):
        return RoomError(f"Cannot {what}: the server did not answer; check the connection and try again.")
    condition = exc.iq["error"]["condition"] if isinstance(exc, IqError) else ""
    reason = WHY_REFUSED.get(condition, f"the server said {condition or 'no'}.")
    return RoomError(f"Cannot {what}: {reason}")


class RoomService:
    """The rooms of one session: join, create, invite, rename, leave, and their bookmarks."""

    def __init__(self, session: ChatSession, emit: Callable[[events.SessionEvent], None]) -> None:
        self.session = session
        self._emit = emit
        self.by_jid: dict[str, Room] = {}
        """Rooms I am in or have bookmarked, by bare JID."""
        self.invitations: dict[str, Invitation] = {}
        """Invitations not answered yet, by room JID."""
        self._service: str | None = None
        self._buffered: dict[str, list[Message]] = {}  # live messages held while history loads
        self._joining: set[str] = set()
        self._rejoin: set[str] = set()  # rooms I was in when the session or my presence went away
        self._read_sent: dict[str, str] = {}
        self._oldest: dict[str, str] = {}  # archive id of the oldest message fetched, per room
        self._complete: set[str] = set()  # rooms whose first archived message is here
        self._paging: set[str] = set()  # rooms with an older page on its way

    def __contains__(self, jid: object) -> bool:
        return jid in self.by_jid

    @property
    def _stream(self) -> Any:
        return self.session.stream

    def attach(self, stream: Any) -> None:
        """Listen to a freshly built stream (before it connects)."""
        bookmarks.listen(stream)  # other devices' bookmark changes
        # before the session's own handler, which sends my presence (to joined rooms only)
        stream.add_event_handler("session_start", self._on_new_session)
        for event, handler in (("groupchat_message", self._on_groupchat),
                               ("groupchat_subject", self._on_subject),
                               ("groupchat_presence", self._on_occupant),
                               ("groupchat_config_status", self._on_config_status),
                               ("groupchat_direct_invite", self._on_direct_invite),
                               ("groupchat_invite", self._on_mediated_invite),
                               ("pubsub_publish", self._on_bookmarks_changed),
                               ("pubsub_retract", self._on_bookmarks_changed)):
            stream.add_event_handler(event, handler)

    def _on_new_session(self, _event: Any) -> None:
        """A new session (not a resumed one) is in no room yet."""
        for room in self.by_jid.values():
            if room.joined:
                self._rejoin.add(room.jid)
            room.joined = False
            room.occupants.clear()

    def on_session_start(self) -> None:
        """The session is online: rejoin what was open and what is bookmarked."""
        self.session.background.spawn(self.restore())

    def claims(self, stanza: Message) -> bool:
        """Whether ``stanza`` (seen by the 1:1 handler) is an invitation or from a room: rooms handle it."""
        return (stanza["from"].bare in self.by_jid
                or stanza.xml.find(f"{{{DIRECT_INVITE}}}x") is not None
                or stanza.xml.find(f"{{{MUC_USER}}}x/{{{MUC_USER}}}invite") is not None)

    # --- discovery, bookmarks --------------------------------------------------------------------

    async def service(self) -> str:
        """The MUC service of my server (disco items with a conference/text identity)."""
        if self._service is not None:
            return self._service
        disco = self._stream.plugin["xep_0030"]
        try:
            items = await disco.get_items(jid=self.session.jid.domain, timeout=TIMEOUT)
            for item_jid, _node, _name in items["disco_items"]["items"]:
                info = await disco.get_info(jid=item_jid, timeout=TIMEOUT)
                identities = info["disco_info"]["identities"]
                if any(cat == "conference" and kind == "text" for cat, kind, *_ in identities):
                    self._service = str(item_jid)
                    return self._service
        except (IqError, IqTimeout) as exc:
            raise _refused(exc, "find the server's chat-room service") from None
        raise RoomError(f"{self.session.jid.domain} offers no chat rooms (no MUC service); "
                        "ask the administrator to enable mod_muc.")

    async def restore(self) -> None:
        """Read my bookmarks (XEP-0402) and join the rooms marked autojoin, and those I was in."""
        try:
            stored = await bookmarks.fetch(self._stream, self.session.jid.bare)
        except (IqError, IqTimeout) as exc:
            self._emit(events.RoomNotice("", str(_refused(exc, "load your bookmarked rooms"))
                                         + " They come back on the next login.", "warning"))
            return
        for bookmark in stored:
            self._remember(bookmark)
        self._emit(events.RoomsChanged())
        for room in list(self.by_jid.values()):
            if room.autojoin or room.jid in self._rejoin:
                self._join_later(room.jid)
        self._rejoin.clear()

    def _join_later(self, jid: str) -> None:
        """Join in the background (once, however often asked); a failure becomes a notice."""
        room = self.by_jid.get(jid)
        if jid in self._joining or (room is not None and room.joined):
            return
        self._joining.add(jid)

        async def join() -> None:
            try:
                await self.join(jid, bookmark=False)
            except RoomError as exc:
                self._emit(events.RoomNotice(jid, str(exc), "warning"))
            finally:
                self._joining.discard(jid)

        self.session.background.spawn(join())

    def _remember(self, bookmark: Bookmark) -> Room:
        room = self.by_jid.setdefault(bookmark.room, Room(bookmark.room))
        room.name = bookmark.name or room.name
        self._nick_is(room, bookmark.nick or room.nick)
        room.autojoin = bookmark.autojoin
        self.session.pins.bookmarked(bookmark)
        return room

    def _nick_is(self, room: Room, nick: str) -> None:
        """My nick in ``room`` is ``nick`` (from now on, or once I am in it again)."""
        if nick and nick != room.nick:
            room.nick = nick
            self.session.outbox.nick_changed(room.jid)

    async def _publish_bookmark(self, room: Room) -> None:
        try:
            await bookmarks.publish(self._stream, self.session.jid.bare,
                                    self.session.pins.marked(Bookmark(room.jid, room.name, room.nick)))
        except (IqError, IqTimeout) as exc:
            self._emit(events.RoomNotice(room.jid, str(_refused(exc, "bookmark the room"))
                                         + " It will not come back by itself after a restart.",
                                         "warning"))

    def _on_bookmarks_changed(self, message: Message) -> None:
        """Another device of mine bookmarked a room (join it here too) or left one (leave it)."""
        published, retracted = bookmarks.notified(message, self.session.jid.bare)
        for bookmark in published:
            if self._remember(bookmark).autojoin:
                self._join_later(bookmark.room)
        for jid in retracted:
            if jid in self.by_jid:
                self._forget(self.by_jid[jid])
        if published:
            self._emit(events.RoomsChanged())

    # --- joining -----------------------------------------------------------------------------------

    def default_nick(self) -> str:
        """My nick in a room that names none for me (no bookmark with one, not joined yet)."""
        return self.session.jid.user or "me"

    async def _enter(self, room: Room, password: str | None = None) -> Presence:
        """Send my join presence and wait for the room's answer; live messages are held back
        until the history is in (see :meth:`_load_history`)."""
        muc = self._stream.plugin["xep_0045"]
        self._buffered.setdefault(room.jid, [])
        nick = room.nick or self.default_nick()
        show = self.session.me.show
        options: dict[str, Any] = {"pstatus": self.session.me.status or None}
        if show not in (Show.AVAILABLE, Show.OFFLINE):
            options["pshow"] = show.value
        for attempt in range(2):
            try:
                presence: Presence = (await muc.join_muc_wait(
                    JID(room.jid), nick, password=password, maxstanzas=0, presence_options=options,
                    timeout=TIMEOUT))[0]
                break
            except PresenceError as exc:
                condition = exc.presence["error"]["condition"]
                if condition == "conflict" and attempt == 0:
                    nick = f"{nick} ({self.session.account.resource})"
                    continue
                self._buffered.pop(room.jid, None)
                why = WHY_NOT_JOINED.get(condition, "the room refused: {condition}.")
                raise RoomError(why.format(room=room.display_name, condition=condition)) from None
            except TimeoutError:
                self._buffered.pop(room.jid, None)
                raise RoomError(f"{room.display_name} did not answer; check the connection and "
                                "open the room again to retry.") from None
        self._nick_is(room, presence["from"].resource)
        room.joined = True
        return presence

    async def join(self, jid: str, name: str = "", *, password: str | None = None,
                   bookmark: bool = True) -> Room:
        """Enter the room ``jid``, load its recent history from its archive and bookmark it."""
        jid = JID(jid).bare
        room = self.by_jid.setdefault(jid, Room(jid, name))
        if room.joined:
            return room
        self._emit(events.RoomsChanged())
        try:
            await self._enter(room, password)
        except RoomError:
            self._emit(events.RoomChanged(jid))
            raise
        await self._after_entering(room)
        if not room.name:
            await self._refresh_name(room)
        if bookmark:
            await self._publish_bookmark(room)
        self._emit(events.RoomsChanged())
        return room

    async def _after_entering(self, room: Room) -> None:
        await self._load_history(room)
        self.session.outbox.room_joined(room.jid)  # what I wrote there while away
        if room.my_affiliation in ("owner", "admin"):
            await self._load_members(room)
        self._emit(events.RoomChanged(room.jid))

    async def _load_members(self, room: Room) -> None:
        muc = self._stream.plugin["xep_0045"]
        members: dict[str, str] = {}
        try:
            for affiliation in ("owner", "admin", "member"):
                for jid in await muc.get_affiliation_list(JID(room.jid), affiliation, timeout=TIMEOUT):
                    members[JID(jid).bare] = affiliation
        except (IqError, IqTimeout) as exc:
            log.info("member list of a room not readable: %s", type(exc).__name__)
            return
        room.members = members

    async def _refresh_name(self, room: Room) -> None:
        try:
            info = await self._stream.plugin["xep_0030"].get_info(jid=room.jid, timeout=TIMEOUT)
        except (IqError, IqTimeout):
            return
        for _category, _kind, _lang, name in info["disco_info"]["identities"]:
            if name:
                room.name = name

    # --- history -------------------------------------------------------------------------------------

    async def _load_history(self, room: Room) -> None:
        """Put the room's archived messages I have not seen into its conversation, then the live
        ones that came meanwhile: the newest :data:`HISTORY` at first, everything since the last one
        I have (up to :data:`CATCH_UP`) when rejoining."""
        conversation = self.session.conversation(room.jid)
        known = {m.room_id for m in conversation.messages[-CATCH_UP:] if m.room_id}
        pages: list[list[Message]] = []
        before: str | bool = True
        fetched = 0
        first_time = room.jid not in self._oldest
        try:
            while True:
                page, complete = await room_archive.page_before(self._stream, room.jid, before, HISTORY)
                fresh = [r for r in page if r["mam_result"]["id"] not in known]
                pages.insert(0, fresh)
                fetched += len(page)
                if first_time and page:  # where paging back on scroll goes on from
                    self._oldest[room.jid] = page[0]["mam_result"]["id"]
                if first_time and (complete or len(page) < HISTORY):
                    self._complete.add(room.jid)
                if (complete or not page or len(fresh) < len(page) or not known
                        or fetched >= CATCH_UP):
                    break
                before = page[0]["mam_result"]["id"]
        except (IqError, IqTimeout) as exc:
            log.info("room archive not readable: %s", type(exc).__name__)
            self._emit(events.RoomNotice(room.jid, f"The history of {room.display_name} could not be "
                                         "loaded; new messages still arrive.", "warning"))
        for page in pages:
            for result in page:
                forwarded = result["mam_result"]["forwarded"]
                self._take(room, forwarded["stanza"], forwarded["delay"]["stamp"] or None,
                           result["mam_result"]["id"], live=False)
        for stanza in self._buffered.pop(room.jid, []):
            self._take(room, stanza, None, "", live=False, unread=True)
        self.session.actions.settle(room.jid)  # what waited for these messages, mine included
        self._emit(events.HistoryLoaded(room.jid))
        self._emit(events.UnreadChanged(room.jid, conversation.unread))

    # --- messages ------------------------------------------------------------------------------------

    def take_bodiless(self, stanza: Message) -> None:
        """A reaction or retraction said in a room without a body (the room's message handler
        only sees messages with one)."""
        self._on_groupchat(stanza)

    def _on_groupchat(self, stanza: Message) -> None:
        room = self.by_jid.get(stanza["from"].bare)
        if room is None or not stanza["from"].resource:
            return
        held = self._buffered.get(room.jid)
        if held is not None:
            held.append(stanza)
            return
        self._take(room, stanza, None, "", live=True)

    def _real_jid(self, room: Room, stanza: Message) -> str:
        """The sender's bare JID: from the archive's copy, or from the occupant's presence."""
        item = stanza.xml.find(f"{{{MUC_USER}}}x/{{{MUC_USER}}}item")
        if item is not None and item.get("jid"):
            return JID(item.get("jid")).bare
        occupant = room.occupants.get(stanza["from"].resource)
        return occupant.jid if occupant is not None else ""

    def _is_mine(self, room: Room, stanza: Message) -> bool:
        real = self._real_jid(room, stanza)
        if real:
            return real == self.session.jid.bare
        return bool(stanza["from"].resource == room.nick)

    def _take(self, room: Room, stanza: Message, when: dt.datetime | None, archive_id: str, *,
              live: bool, unread: bool = False) -> None:
        """Add one room message (live, held back, or from the archive) unless it is known;
        my own message coming back from the room moves it to *sent to room*."""
        sender = self._real_jid(room, stanza) or f"{room.jid}/{stanza['from'].resource}"
        if self.session.actions.take(room.jid, stanza, sender, mine=self._is_mine(room, stanza),
                                     when=when, live=live):
            return  # a reaction, retraction or correction
        message = self._message(room, stanza, when, archive_id)
        if message is None:
            return
        conversation = self.session.conversation(room.jid)
        if message.direction is Direction.INCOMING and (live or unread):
            conversation.unread += 1
        index = conversation.add(message)
        if live:
            self._emit(events.MessageAdded(room.jid, message, index))
            if message.direction is Direction.INCOMING:
                self._emit(events.UnreadChanged(room.jid, conversation.unread))

    def _message(self, room: Room, stanza: Message, when: dt.datetime | None,
                 archive_id: str) -> ChatMessage | None:
        """The room message ``stanza`` as its conversation keeps it, not added yet; None when it
        has no body or is here already (my own message coming back moves to *sent to room*)."""
        body = stanza["body"]
        if not body:
            return None
        conversation = self.session.conversation(room.jid)
        stanza_id = stanza["stanza_id"]
        room_id = archive_id or (stanza_id["id"] if stanza_id["by"] == room.jid else "")
        nick = stanza["from"].resource
        own_id = stanza["origin_id"]["id"] or stanza["id"]
        if self._is_mine(room, stanza):
            known = conversation.by_id.get(own_id) if own_id else None
            if known is not None:
                known.room_id, known.nick = known.room_id or room_id, nick  # nick: restored ones guess
                if known.advance(Delivery.SENT, _now()):
                    self._emit(events.MessageChanged(room.jid, known))
                return None
            message = ChatMessage(own_id or room_id or str(uuid.uuid4()), Direction.OUTGOING,
                                  self.session.jid.bare, body, when or _now(), nick=nick,
                                  room_id=room_id)
            message.advance(Delivery.SENT, message.time)
        else:
            message_id = room_id or own_id or str(uuid.uuid4())
            if message_id in conversation.by_id:
                return None
            delay = stanza["delay"]["stamp"] if stanza["delay"]["stamp"] else None
            message = ChatMessage(message_id, Direction.INCOMING,
                                  self._real_jid(room, stanza) or f"{room.jid}/{nick}", body,
                                  when or delay or _now(), nick=nick, room_id=room_id,
                                  markable=stanza.xml.find(MARKABLE) is not None)
        self.session.actions.annotate(message, stanza, room.jid, room)
        return message

    def has_older(self, jid: str) -> bool:
        """Whether the room's archive may hold messages older than those here."""
        return jid in self._oldest and jid not in self._complete

    async def older(self, jid: str) -> int:
        """The page of the room's archive before the oldest message here, put in front of its
        conversation without duplicates (then :class:`~events.HistoryPrepended`); returns how many
        messages it added. 0 when there is nothing older or a page is on its way."""
        room = self.by_jid.get(jid)
        if room is None or not self.has_older(jid) or jid in self._paging:
            return 0
        self._paging.add(jid)
        try:
            results, complete = await room_archive.page_before(self._stream, jid, self._oldest[jid],
                                                               HISTORY)
        except (IqError, IqTimeout) as exc:
            raise _refused(exc, f"load older messages of {room.display_name}") from None
        finally:
            self._paging.discard(jid)
        if results:
            self._oldest[jid] = results[0]["mam_result"]["id"]
        if complete or len(results) < HISTORY:
            self._complete.add(jid)
        conversation = self.session.conversation(jid)
        fresh: list[ChatMessage] = []
        later: list[tuple[Message, dt.datetime | None, str]] = []
        seen = set(conversation.by_id)
        for result in results:
            forwarded = result["mam_result"]["forwarded"]
            archived = (forwarded["stanza"], forwarded["delay"]["stamp"] or None,
                        result["mam_result"]["id"])
            if refers(archived[0]):  # applied once the messages of the page are in
                later.append(archived)
            elif (message := self._message(room, *archived)) is not None and message.id not in seen:
                seen.add(message.id)
                fresh.append(message)
        in_front = conversation.put_history(fresh)
        for stanza, when, archive_id in later:
            self._take(room, stanza, when, archive_id, live=False)
        self.session.actions.settle(jid)
        self._emit(events.HistoryPrepended(jid, len(fresh)) if in_front else events.HistoryLoaded(jid))
        return len(fresh)

    def send(self, jid: str, body: str, reply_to: ChatMessage | None = None) -> ChatMessage:
        """Say ``body`` in the room (answering ``reply_to``, if given); the message is *sent to
        room* once the room reflects it."""
        room = self.by_jid[jid]
        if not room.joined and not self.coming_back(jid):
            raise RoomError(f"You are not in {room.display_name} right now; open it again to rejoin, "
                            "then send.")
        message_id = str(uuid.uuid4())
        stanza = self._stream.make_message(mto=room.jid, mbody=body, mtype="groupchat")
        stanza["id"] = message_id
        stanza["origin_id"]["id"] = message_id
        stanza.enable("markable")
        message = ChatMessage(message_id, Direction.OUTGOING, self.session.jid.bare, body, _now(),
                              nick=room.nick)
        self.session.actions.dress(stanza, message, reply_to, room)
        queued = self.session.outbox.hold(room.jid, message, stanza)  # OutboxUnusable to the caller
        conversation = self.session.conversation(room.jid)
        index = conversation.add(message)
        self._emit(events.MessageAdded(room.jid, message, index))
        if not queued:
            self.session.outbox.release(stanza)
        return message

    def coming_back(self, jid: str) -> bool:
        """Whether I will be in the room ``jid`` again without doing anything: the session is
        not online yet, or the room is being rejoined. What I write there meanwhile waits."""
        return self.session.state != "online" or jid in self._joining or jid in self._rejoin

    def mark_read(self, jid: str) -> ChatMessage | None:
        """I have seen the room: clear its unread count, tell the room (XEP-0333) once per message."""
        conversation = self.session.conversation(jid)
        changed = conversation.unread != 0
        conversation.unread = 0
        newest = conversation.last_incoming_markable()
        room = self.by_jid.get(jid)
        if (newest is not None and room is not None and (room.joined or self.coming_back(jid))
                and self._read_sent.get(jid) != newest.id):
            self._read_sent[jid] = newest.id
            self.session.send_marker(jid, newest.room_id or newest.id, "groupchat")
        if changed:
            self._emit(events.UnreadChanged(jid, 0))
        return newest

    def on_displayed(self, stanza: Message) -> None:
        """An occupant's client displayed messages up to one of mine: it and all before are read."""
        room = self.by_jid.get(stanza["from"].bare)
        nick = stanza["from"].resource
        if room is None or not nick or self._is_mine(room, stanza):
            return
        marked = stanza["displayed"]["id"]
        conversation = self.session.conversation(room.jid)
        messages = conversation.messages
        target = next((i for i in range(len(messages) - 1, -1, -1)
                       if marked in (messages[i].id, messages[i].room_id)), None)
        if target is None:
            return
        when = _now()
        for message in messages[:target + 1]:
            if message.direction is Direction.OUTGOING and nick not in message.read_by:
                message.read_by.append(nick)
                message.advance(Delivery.READ, when)
                self._emit(events.MessageChanged(room.jid, message))

    def _on_subject(self, stanza: Message) -> None:
        room = self.by_jid.get(stanza["from"].bare)
        if room is not None:
            room.subject = stanza["subject"]
            self._emit(events.RoomChanged(room.jid))

    def _on_config_status(self, stanza: Message) -> None:
        room = self.by_jid.get(stanza["from"].bare)
        if room is not None and 104 in stanza["muc"]["status_codes"]:
            self.session.background.spawn(self._renamed_elsewhere(room))

    async def _renamed_elsewhere(self, room: Room) -> None:
        await self._refresh_name(room)
        self._emit(events.RoomChanged(room.jid))
        self._emit(events.RoomsChanged())

    # --- occupants -------------------------------------------------------------------------------------

    def _on_occupant(self, presence: Presence) -> None:
        room = self.by_jid.get(presence["from"].bare)
        nick = presence["from"].resource
        if room is None or not nick or presence["type"] == "error":
            return
        muc = presence["muc"]
        codes = muc["status_codes"]
        real = JID(muc["jid"]).bare if muc["jid"] else ""
        if real and muc["affiliation"] in ("owner", "admin", "member"):
            room.members[real] = muc["affiliation"]
        elif real:
            room.members.pop(real, None)
        if presence["type"] == "unavailable":
            room.occupants.pop(nick, None)
            if 110 in codes and 303 not in codes and room.joined:
                room.joined = False
                room.occupants.clear()
                reason = next((REMOVED[c] for c in sorted(codes) if c in REMOVED), "")
                if presence.xml.find(f"{{{MUC_USER}}}x/{{{MUC_USER}}}destroy") is not None:
                    reason = "{room} was closed by its owner."
                if reason:
                    self._emit(events.RoomNotice(room.jid, reason.format(room=room.display_name)
                                                 + " Leave it to drop it from your list.", "warning"))
        else:
            show = presence["show"] or "available"
            room.occupants[nick] = Occupant(
                nick, real, muc["role"], muc["affiliation"],
                Show(show) if show in Show.__members__.values() else Show.AVAILABLE, presence["status"])
            if 110 in codes:
                self._nick_is(room, nick)
        self._emit(events.RoomChanged(room.jid))

    def send_presence(self) -> None:
        """My presence changed: show it in every room I am in (rooms only get directed presence)."""
        show = self.session.me.show
        if show is Show.OFFLINE:  # the server takes me out of every room; back when I come back
            self._rejoin |= {jid for jid, room in self.by_jid.items() if room.joined}
            return
        for room in self.by_jid.values():
            if room.joined:
                self._stream.send_presence(
                    pto=f"{room.jid}/{room.nick}", pstatus=self.session.me.status or None,
                    pshow=None if show is Show.AVAILABLE else show.value)
        if self.session.state == "online":  # not while a session starts: restore() rejoins then
            for jid in self._rejoin:
                self._join_later(jid)
            self._rejoin.clear()

    # --- creating and managing -----------------------------------------------------------------------

    async def create(self, name: str, participants: Iterable[str] = ()) -> Room:
        """A new members-only, persistent, archived room called ``name`` with a unique address on my
        server's MUC service; ``participants`` (bare JIDs) become members and are invited."""
        name = name.strip()
        if not name:
            raise RoomError("Give the room a name.")
        service = await self.service()
        for _attempt in range(3):
            jid = f"{room_slug(name)}-{uuid.uuid4().hex[:6]}@{service}"
            room = self.by_jid[jid] = Room(jid, name)
            presence = await self._enter(room)
            if 201 in presence["muc"]["status_codes"]:
                break
            self._forget(room, tell_room=True)  # somebody else's room by chance: pick another address
        else:
            raise RoomError("Could not find a free address for the room; try another name.")
        try:
            await self._configure(room, {"muc#roomconfig_roomname": name, **ROOM_CONFIG},
                                  "set up the room")
        except RoomError:
            self._forget(room, tell_room=True)
            raise
        await self._after_entering(room)
        await self._publish_bookmark(room)
        self._emit(events.RoomsChanged())
        people = [p for p in participants if JID(p).bare != self.session.jid.bare]
        if people:
            await self.invite(jid, people)
        return room

    async def create_from_group(self, group: str) -> Room:
        """A room named after a contact group, with all its contacts invited, in one step."""
        members = [c.jid for c in self.session.contacts.values() if group in c.groups]
        if not members:
            raise RoomError(f"The group {group} has no contacts to invite.")
        return await self.create(group, members)

    async def _configure(self, room: Room, values: dict[str, Any], what: str) -> None:
        muc = self._stream.plugin["xep_0045"]
        try:
            form = await muc.get_room_config(JID(room.jid), timeout=TIMEOUT)
            fields = form.get_fields()
            for var, value in values.items():
                if var in fields:
                    fields[var]["value"] = value
            await muc.set_room_config(JID(room.jid), form, timeout=TIMEOUT)
        except (IqError, IqTimeout) as exc:
            raise _refused(exc, what) from None

    async def invite(self, jid: str, people: Iterable[str], reason: str = "") -> None:
        """Make ``people`` members of the room and invite them: directly (XEP-0249) when I may
        grant membership, else through the room, which then makes them members itself."""
        room = self.by_jid[jid]
        people = [JID(p).bare for p in people]
        if not people:
            return
        me = self.session.jid.bare
        reason = reason or f"{me} invites you to {room.display_name}"
        if room.my_affiliation in ("owner", "admin"):
            try:
                await self._stream.plugin["xep_0045"].send_affiliation_list(
                    JID(jid), [(p, "member") for p in people], timeout=TIMEOUT)
            except (IqError, IqTimeout) as exc:
                raise _refused(exc, "add participants") from None
            for person in people:
                room.members[person] = "member"
                invitation = self._stream.make_message(
                    mto=person, mbody=f"{reason}: xmpp:{jid}?join", mtype="normal")
                invitation["groupchat_invite"]["jid"] = jid
                invitation["groupchat_invite"]["reason"] = reason
                invitation.send()
        else:
            if not room.joined:
                raise RoomError(f"Join {room.display_name} first, then invite.")
            for person in people:
                self._stream.plugin["xep_0045"].invite(JID(jid), person, reason)
        self._emit(events.RoomChanged(jid))

    async def remove(self, jid: str, person: str) -> None:
        """Take ``person``'s membership away (affiliation none): a members-only room lets them out."""
        room = self.by_jid[jid]
        person = JID(person).bare
        try:
            await self._stream.plugin["xep_0045"].set_affiliation(
                JID(jid), "none", jid=JID(person), timeout=TIMEOUT)
        except (IqError, IqTimeout) as exc:
            raise _refused(exc, "remove the participant") from None
        room.members.pop(person, None)
        self._emit(events.RoomChanged(jid))

    async def rename(self, jid: str, name: str) -> None:
        """Give the room a new name (``muc#roomconfig_roomname``); every participant sees it."""
        room = self.by_jid[jid]
        name = name.strip()
        if not name:
            raise RoomError("Give the room a name.")
        await self._configure(room, {"muc#roomconfig_roomname": name}, "rename the room")
        room.name = name
        await self._publish_bookmark(room)
        self._emit(events.RoomChanged(jid))
        self._emit(events.RoomsChanged())

    async def leave(self, jid: str) -> None:
        """Leave the room and drop its bookmark, here and on my other devices."""
        room = self.by_jid.get(jid)
        if room is None:
            return
        self._forget(room, tell_room=True)
        try:
            await bookmarks.retract(self._stream, self.session.jid.bare, jid)
        except IqError:
            pass  # it was not bookmarked
        except IqTimeout:
            raise RoomError(f"You left {room.display_name}, but the server did not confirm dropping "
                            "its bookmark; it may come back on the next login.") from None

    def _forget(self, room: Room, tell_room: bool = True) -> None:
        """Leave (if in) and drop the room and its conversation from this session."""
        if tell_room and room.joined and self.session.state == "online":
            with contextlib.suppress(KeyError):  # slixmpp no longer counts it as joined
                self._stream.plugin["xep_0045"].leave_muc(JID(room.jid), room.nick)
        room.joined = False
        self.by_jid.pop(room.jid, None)
        self.session.conversations.pop(room.jid, None)
        self._buffered.pop(room.jid, None)
        self._oldest.pop(room.jid, None)
        self._complete.discard(room.jid)
        self._emit(events.RoomsChanged())

    # --- invitations -----------------------------------------------------------------------------------

    def _invited(self, invitation: Invitation) -> None:
        room = self.by_jid.get(invitation.room)
        if (room is not None and room.joined) or invitation.room in self.invitations:
            return
        self.invitations[invitation.room] = invitation
        self._emit(events.InvitationReceived(invitation))

    def _on_direct_invite(self, message: Message) -> None:
        if message.xml.find(f"{{{MUC_USER}}}x/{{{MUC_USER}}}invite") is not None:
            return  # the room's own (mediated) invitation also carries this element
        invite = message["groupchat_invite"]
        self._invited(Invitation(JID(invite["jid"]).bare, message["from"].bare, invite["reason"] or "",
                                 invite["password"] or ""))

    def _on_mediated_invite(self, message: Message) -> None:
        invite = message["muc"]["invite"]
        inviter = JID(invite["from"]).bare if invite["from"] else ""
        self._invited(Invitation(message["from"].bare, inviter, invite["reason"] or "",
                                 message["muc"]["password"] or "", mediated=True))

    async def accept(self, room: str) -> Room:
        """Join the room of a pending invitation (and bookmark it)."""
        invitation = self.invitations.pop(room)
        try:
            return await self.join(room, password=invitation.password or None)
        except RoomError:
            self.by_jid.pop(room, None)
            self._emit(events.RoomsChanged())
            raise

    def decline(self, room: str) -> None:
        """Say no to a pending invitation; a mediated one is answered through the room."""
        invitation = self.invitations.pop(room, None)
        if invitation is not None and invitation.mediated and invitation.inviter:
            self._stream.plugin["xep_0045"].decline(JID(room), invitation.inviter)
