"""What can be done to a message that is already in a conversation: react to it (XEP-0444), correct
it (XEP-0308), retract it (XEP-0424) or answer it with a quote (XEP-0461); and the same arriving from
others — live, as carbons from my other devices, or out of an archive.

Everything goes through slixmpp's plugins for these XEPs. Messages are referred to as the XEPs say:
in a 1:1 chat by the id the sender gave (its origin-id), in a room by the id the room gave (its
stanza-id) — except corrections, which always name the sender's own id. A reaction, retraction or
correction whose message is not here yet (it is older than the history loaded so far) waits until
that message comes in with an older page of history; then they apply in the order they were sent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from slixmpp import JID, Message

from . import events, mentions, reactions, replies
from .model import ChatMessage, Conversation, Direction, Room
from .outbox import OutboxUnusable

if TYPE_CHECKING:
    from .client import ChatSession

PLUGINS = ("xep_0308", "xep_0334", "xep_0372", "xep_0424", "xep_0428", "xep_0444", "xep_0461")

REACTIONS = "{urn:xmpp:reactions:0}reactions"
RETRACT_NS = "urn:xmpp:message-retract:1"
RETRACT = f"{{{RETRACT_NS}}}retract"
REPLACE = "{urn:xmpp:message-correct:0}replace"
ORIGIN_ID = "{urn:xmpp:sid:0}origin-id"

RETRACTED_FALLBACK = "This message was retracted; your client does not show retractions."
"""The body a retraction carries for clients without XEP-0424."""

WAITING = 200
"""At most this many references per conversation wait for a message that is not here yet."""


class MessageActionError(Exception):
    """A message action cannot be done; the text says why and what to do instead."""


@dataclass(frozen=True)
class _Waiting:
    """A reaction, retraction or correction whose message is not loaded yet."""

    ref: str
    when: dt.datetime
    sender: str
    mine: bool
    stanza: Message


def _kind(stanza: Message) -> str:
    """``reactions``, ``retract``, ``replace`` — or empty for an ordinary message."""
    for tag, kind in ((REACTIONS, "reactions"), (RETRACT, "retract"), (REPLACE, "replace")):
        if stanza.xml.find(tag) is not None:
            return kind
    return ""


LABELS = {"reactions": "reaction", "replace": "correction", "retract": "retraction"}
"""How the view names each kind of action while it waits to go out."""


def label(stanza: Message) -> str:
    """``reaction``, ``correction`` or ``retraction`` for a stanza that acts on a message, else ''."""
    return LABELS.get(_kind(stanza), "")


def refers(stanza: Message) -> bool:
    """Whether ``stanza`` acts on an earlier message (reaction, retraction, correction) rather than
    being one."""
    return bool(_kind(stanza))


def _ref(stanza: Message, kind: str) -> str:
    # only the element of this kind: slixmpp adds an element to the stanza when one is asked for
    return str(stanza[kind]["id"])


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class MessageActions:
    """React, correct, retract and reply for one session, and apply what others do."""

    def __init__(self, session: ChatSession, emit: Callable[[events.SessionEvent], None]) -> None:
        self.session = session
        self._emit = emit
        self._waiting: dict[str, list[_Waiting]] = {}

    def attach(self, stream: Any) -> None:
        """Register the plugins on a freshly built stream and listen to it."""
        for plugin in PLUGINS:
            stream.register_plugin(plugin)
        # a reaction has no body and a retraction may lack its fallback: no 'message' event for them
        stream.add_event_handler("reactions", self._on_bodiless)
        stream.add_event_handler("message_retract", self._on_bodiless)

    def _on_bodiless(self, stanza: Message) -> None:
        if stanza["body"]:
            return  # the message handlers have it
        if stanza["type"] == "groupchat":
            self.session.rooms.take_bodiless(stanza)
        elif stanza["type"] in ("chat", "normal"):
            self.take_chat(stanza)

    # --- what others do ---------------------------------------------------------------------------

    def take_chat(self, stanza: Message, *, mine: bool = False, when: dt.datetime | None = None,
                  live: bool = True) -> bool:
        """Apply a 1:1 reaction, retraction or correction (``mine``: sent by me from another device
        or found in my archive); True when ``stanza`` was one and is dealt with."""
        if stanza["type"] not in ("chat", "normal") or not refers(stanza):
            return False
        peer = stanza["to"] if mine else stanza["from"]
        if (peer.bare == self.session.jid.bare and not mine) or peer.bare in self.session.rooms:
            return False
        sender = self.session.jid.bare if mine else peer.bare
        return self.take(peer.bare, stanza, sender, mine=mine, when=when, live=live)

    def take(self, jid: str, stanza: Message, sender: str, *, mine: bool,
             when: dt.datetime | None = None, live: bool = True) -> bool:
        """Apply a reaction, retraction or correction that ``sender`` (bare JID, or ``room/nick``)
        sent into the conversation ``jid``; True when ``stanza`` was one and is dealt with.

        ``live`` False (history being loaded) changes messages without telling observers: the
        history event that follows redraws them. An unknown correction arriving live is left to be
        shown as a message of its own (XEP-0308); everything else unknown waits for its message."""
        kind = _kind(stanza)
        if not kind:
            return False
        conversation = self.session.conversation(jid)
        ref = _ref(stanza, kind)
        target = conversation.find(ref)
        if target is None:
            if kind == "replace" and live:
                return False
            waiting = self._waiting.setdefault(jid, [])
            waiting.append(_Waiting(ref, when or _now(), sender, mine, stanza))
            del waiting[:-WAITING]
            return True
        if kind == "replace" and live and not self._by_author(target, sender, mine):
            return False  # nobody corrects someone else's words: shown as what it is, a new message
        if self._apply(target, kind, stanza, sender, mine) and live:
            self._emit(events.MessageChanged(jid, target))
        return True

    def settle(self, jid: str) -> None:
        """History came in: apply what waited for its messages, oldest first; what of mine still
        waits in the outbox to go out says so on its message."""
        waiting = self._waiting.get(jid)
        if waiting:
            conversation = self.session.conversation(jid)
            ready = [w for w in waiting if conversation.find(w.ref) is not None]
            self._waiting[jid] = [w for w in waiting if w not in ready]
            for item in sorted(ready, key=lambda w: w.when):
                target = conversation.find(item.ref)
                if target is not None:
                    self._apply(target, _kind(item.stanza), item.stanza, item.sender, item.mine)
        self.session.outbox.came_in(jid)

    @staticmethod
    def _by_author(target: ChatMessage, sender: str, mine: bool) -> bool:
        return target.direction is Direction.OUTGOING if mine else target.sender == sender

    @staticmethod
    def _apply(target: ChatMessage, kind: str, stanza: Message, sender: str, mine: bool) -> bool:
        """Change ``target`` as ``stanza`` says; True when it changed. Only the author of a
        message may correct or retract it."""
        if kind == "reactions":
            given = [reaction["value"] or "" for reaction in stanza["reactions"]]
            return reactions.set_reactions(target, sender, given)
        if not MessageActions._by_author(target, sender, mine) or target.retracted:
            return False
        if kind == "retract":
            target.retracted, target.body = True, ""
        else:
            target.body, target.corrected = stanza["body"], True
        return True

    def annotate(self, message: ChatMessage, stanza: Message, jid: str, room: Room | None = None) -> None:
        """Fill in what a newly received (or archived) ``message`` says beyond its text: which
        message it answers (its body then loses the quote) and, in a room, whether it names me."""
        if replies.is_reply(stanza):
            message.reply_to, message.body, message.quote = replies.read(stanza)
        if room is None:
            return
        if message.direction is not Direction.INCOMING:
            return
        conversation = self.session.conversation(jid)
        origin = stanza.xml.find(ORIGIN_ID)
        for own_id in (stanza["id"], origin.get("id") if origin is not None else ""):
            if own_id:  # what its sender's correction names
                conversation.by_id.setdefault(own_id, message)
        message.mentions_me = mentions.names_me(stanza, message.body, room.jid, room.nick,
                                                    self.session.jid.bare)

    # --- what I do --------------------------------------------------------------------------------

    @staticmethod
    def label(stanza: Message) -> str:
        """``reaction``, ``correction`` or ``retraction`` for a stanza that acts on a message, else ''."""
        return label(stanza)

    @staticmethod
    def ref(stanza: Message) -> str:
        """The id of the message a reaction, correction or retraction acts on."""
        kind = _kind(stanza)
        return _ref(stanza, kind) if kind else ""

    def _where(self, jid: str) -> tuple[Room | None, Literal["chat", "groupchat"]]:
        """The room (if ``jid`` is one) and the message type to use; raise if I cannot send there.
        Offline, or while the room is being rejoined, what I do waits in the outbox."""
        room = self.session.rooms.by_jid.get(jid)
        if room is not None and not room.joined and not self.session.rooms.coming_back(jid):
            raise MessageActionError(f"You are not in {room.display_name} right now; open it again "
                                     "to rejoin, then try again.")
        return room, "groupchat" if room is not None else "chat"

    def _send(self, jid: str, stanza: Message, target: ChatMessage) -> None:
        """Send ``stanza`` now, or queue it (then ``target`` says so); a refusal of the outbox
        becomes a :class:`MessageActionError`."""
        try:
            self.session.outbox.send(jid, stanza, target)
        except OutboxUnusable as exc:
            raise MessageActionError(f"Not connected, and {exc}") from None

    @staticmethod
    def ref_of(message: ChatMessage, room: Room | None) -> str:
        """The id others know ``message`` by: the room's id in a room, the sender's in a 1:1 chat."""
        return (message.room_id or message.id) if room is not None else message.id

    def dress(self, stanza: Message, message: ChatMessage, reply_to: ChatMessage | None,
              room: Room | None) -> None:
        """Before an outgoing ``stanza`` (its body set) is sent: make it answer ``reply_to`` with a
        quote, and in a room mark the occupants it names (XEP-0372)."""
        if reply_to is not None:
            if room is not None:
                author, name = f"{room.jid}/{reply_to.nick}", reply_to.nick
            else:
                author = reply_to.sender
                contact = self.session.contacts.get(author)
                name = contact.display_name if contact else JID(author).user
            message.reply_to = self.ref_of(reply_to, room)
            replies.attach(stanza, reply_to, author, message.reply_to, name)
        if room is not None:
            mentions.add_references(stanza, room.jid, [n for n in room.occupants if n != room.nick])

    def react(self, jid: str, message: ChatMessage, emoji: str) -> tuple[str, ...]:
        """Add my ``emoji`` to ``message``, or take it back if I gave it; returns my reactions now."""
        room, mtype = self._where(jid)
        me = self.session.jid.bare
        mine = reactions.toggled(message.reactions.get(me, ()), emoji)
        stanza = self.session.stream.make_message(mto=JID(jid), mtype=mtype)
        self.session.stream.plugin["xep_0444"].set_reactions(stanza, self.ref_of(message, room), mine)
        stanza.enable("store")  # XEP-0334: archives keep reactions only when asked to
        self._send(jid, stanza, message)
        reactions.set_reactions(message, me, mine)
        self._emit(events.MessageChanged(jid, message))
        return mine

    def _own(self, message: ChatMessage, what: str) -> None:
        if message.direction is not Direction.OUTGOING:
            raise MessageActionError(f"Only your own messages can be {what}.")
        if message.retracted:
            raise MessageActionError("That message was retracted already.")

    def correct(self, jid: str, message: ChatMessage, body: str) -> None:
        """Replace the text of my ``message`` with ``body`` (XEP-0308), here and for everyone."""
        self._own(message, "corrected")
        room, mtype = self._where(jid)
        if not body.strip():
            raise MessageActionError("A correction needs some text; to take the message back, "
                                     "retract it instead (Del on the message).")
        if self._change_queued(lambda: self.session.outbox.rewrite(message.id, body)):
            message.body = body  # it never went out: it goes out as written now
            self._emit(events.MessageChanged(jid, message))
            return
        stanza = self.session.stream.plugin["xep_0308"].build_correction(
            id_to_replace=message.id, mto=JID(jid), mtype=mtype, mbody=body)
        stanza["origin_id"]["id"] = stanza["id"]
        self._send(jid, stanza, message)
        message.body, message.corrected = body, True
        self._emit(events.MessageChanged(jid, message))

    def _change_queued(self, change: Callable[[], bool]) -> bool:
        """Change a message of mine that still waits in the outbox; True when it did."""
        try:
            return change()
        except OutboxUnusable as exc:
            raise MessageActionError(f"The message still waits to go out, and {exc}") from None

    def retract(self, jid: str, message: ChatMessage) -> None:
        """Take my ``message`` back (XEP-0424): everyone's client shows *message retracted*."""
        self._own(message, "retracted")
        room, mtype = self._where(jid)
        if not self._change_queued(lambda: self.session.outbox.withdraw(message.id)):
            if room is not None and not message.room_id:
                raise MessageActionError("The room has not passed that message on yet; wait for "
                                         "“✓ sent to room”, then retract it.")
            stanza = self.session.stream.make_message(mto=JID(jid), mtype=mtype,
                                                      mbody=RETRACTED_FALLBACK)
            stanza["retract"]["id"] = self.ref_of(message, room)
            # XEP-0424 names what the body is a fallback for; slixmpp's send_retraction leaves it out
            stanza["fallback"]["for"] = RETRACT_NS
            stanza.enable("store")
            self._send(jid, stanza, message)
        message.retracted, message.body = True, ""
        self._emit(events.MessageChanged(jid, message))

    def last_own(self, conversation: Conversation) -> ChatMessage | None:
        """My newest message in ``conversation`` that can still be corrected."""
        for message in reversed(conversation.messages):
            if message.direction is Direction.OUTGOING and not message.retracted:
                return message
        return None
