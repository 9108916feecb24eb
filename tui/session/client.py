"""The client-session layer: one XMPP account, its roster, presence and chats, observed by the UI.

:class:`ChatSession` owns the slixmpp client. Widgets never touch XMPP; they read the session's
plain data (:mod:`tui.session.model`) and react to the :mod:`tui.session.events` it emits.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import importlib
import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from slixmpp import JID, ClientXMPP, Message, Presence
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.plugins.base import PLUGIN_REGISTRY
from slixmpp.plugins.xep_0319.stanza import Idle
from slixmpp.xmlstream import register_stanza_plugin

from xmpp_components import slixfix
from xmpp_components.base.background import Background
from xmpp_components.base.reconnect import Reconnector

from . import events
from .files import FileService
from .history import ChatHistory, HistoryError
from .instance import InstanceBusy, InstanceLock, instance_folder
from .journal import JournalError, JournalService
from .message_actions import MessageActions
from .model import (
    ChatMessage,
    Contact,
    Conversation,
    Delivery,
    Direction,
    ResourcePresence,
    Show,
)
from .outbox import OutboxService, OutboxUnusable
from .pins import PinService
from .room_avatars import RoomAvatars
from .rooms import RoomService
from .search import SearchService
from .typing import TypingService

if TYPE_CHECKING:
    from .calls import CallService

log = logging.getLogger(__name__)

CATCH_UP_SLACK = dt.timedelta(minutes=5)
"""How far before the connection was lost the archive is read after a new login: a dead
connection is noticed late (keepalive), and copies of one message differ a little in time."""

Observer = Callable[[events.SessionEvent], None]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class PasswordRefused(ConnectionError):
    """The server refused the account's password (the user has to type it again)."""


@dataclass(frozen=True)
class Account:
    """Where and as whom to log in."""

    jid: str
    password: str
    host: str = "127.0.0.1"
    port: int = 5222
    ca_file: Path | None = None
    resource: str = ""
    """The XMPP resource; empty: this running client's own (see :mod:`tui.session.instance`), so
    two clients of the account never share one."""
    media_addresses: tuple[str, ...] | None = ("127.0.0.1",)
    """Local addresses for call media (ICE host candidates): loopback unless configured otherwise,
    as every listener of the suite; None: every interface."""


class _Stream(ClientXMPP):  # type: ignore[misc]
    """The slixmpp client with the plugins a chat client needs."""

    PLUGINS = ("xep_0030", "xep_0054", "xep_0115", "xep_0085", "xep_0184", "xep_0198", "xep_0199",
               "xep_0203", "xep_0280", "xep_0308", "xep_0333", "xep_0359",
               "xep_0045", "xep_0060", "xep_0163", "xep_0249", "xep_0313", "xep_0402")

    def __init__(self, account: Account) -> None:
        super().__init__(f"{JID(account.jid).bare}/{account.resource}", account.password)
        self.enable_direct_tls = False
        if account.ca_file is not None:
            self.ca_certs = account.ca_file
        for plugin in self.PLUGINS:
            self.register_plugin(plugin)
        register_stanza_plugin(Presence, Idle)
        # without an identity slixmpp answers disco as client/bot, and bots are ignored in rooms
        self.plugin["xep_0030"].add_identity(category="client", itype="console", name="Switchboard")
        self.plugin["xep_0184"].auto_ack = True
        self.plugin["xep_0199"].enable_keepalive(interval=60, timeout=20)
        slixfix.apply(self)
        slixfix.yield_between_stanzas(self)  # keys stay answered while a burst arrives
        slixfix.route_handlers(self)
        if "sb_jingle" in PLUGIN_REGISTRY:  # loaded by ChatSession.start, off the event loop
            addresses = list(account.media_addresses) if account.media_addresses else None
            self.register_plugin("sb_jingle", pconfig={"host_addresses": addresses})


class ChatSession:
    """One logged-in account: roster with presence, 1:1 conversations with delivery ticks."""

    def __init__(self, account: Account) -> None:
        self.account = account
        self.jid = JID(account.jid)
        self.contacts: dict[str, Contact] = {}
        self.conversations: dict[str, Conversation] = {}
        self.me = ResourcePresence(Show.AVAILABLE)
        self.state = "offline"
        self._observers: list[Observer] = []
        self._stream: _Stream | None = None
        self._reconnector: Reconnector | None = None
        self._read_sent: dict[str, str] = {}
        self.idle_since: dt.datetime | None = None
        """Set while I am away because idle (XEP-0319); None when active."""
        self._before_idle: Show | None = None
        self._ready: asyncio.Future[None] | None = None
        self._journal: JournalService | None = None
        self.background = Background()
        """What the session and its services started and nobody awaits; ended by :meth:`stop`."""
        self.rooms = RoomService(self, self._emit)
        """Chat rooms and their bookmarks (CH3)."""
        self.room_avatars = RoomAvatars(self, self._emit)
        """The rooms' pictures (XEP-0486)."""
        self._calls: CallService | None = None
        self.files = FileService(self, self._emit)
        """Files sent and received (CH7): upload, download, previews."""
        self.search = SearchService(self, self._emit)
        """The local message search index, filled from the server archive (CH8)."""
        self.pins = PinService(self, self._emit)
        """Pinned and muted conversations, the same on every device (CH10)."""
        self.actions = MessageActions(self, self._emit)
        """Reactions, replies, corrections and retractions (CH5, CH6)."""
        self.history = ChatHistory(self, self._emit)
        """1:1 history from the server archive, paged back on request (CH1)."""
        self.typing = TypingService(self, self._emit)
        """Typing indicators both ways (CH11)."""
        self.outbox = OutboxService(self, self._emit)
        """What I sent that the server has not acknowledged yet; what I do while offline waits here."""
        self._lost_at: dt.datetime | None = None  # when the stream dropped, until online again
        self._presence_at_drop: dict[str, dict[str, ResourcePresence]] = {}
        self._instance: InstanceLock | None = None

    # --- observing -----------------------------------------------------------------------------

    def subscribe(self, observer: Observer) -> Callable[[], None]:
        """Call ``observer`` with every :class:`~tui.session.events.SessionEvent`; returns an unsubscribe."""
        self._observers.append(observer)
        return lambda: self._observers.remove(observer)

    def _emit(self, event: events.SessionEvent) -> None:
        for observer in list(self._observers):
            try:
                observer(event)
            except Exception:  # an observer's bug must not break the session
                log.exception("session observer failed on %s", type(event).__name__)

    # --- connection ----------------------------------------------------------------------------

    @property
    def journal(self) -> JournalService:
        """The journal of this account (``journal.<domain>``)."""
        if self._journal is None:
            self._journal = JournalService(self.stream, lambda rows: self._emit(
                events.JournalChanged(rows)))
        return self._journal

    @property
    def calls(self) -> CallService:
        """Audio/video calls (AV1, AV2); the call stack loads with the session, not at start-up."""
        if self._calls is None:
            from .calls import CallService

            self._calls = CallService(self, self._emit)
        return self._calls

    @property
    def calls_loaded(self) -> bool:
        """Whether the call stack is loaded (cheap to ask, unlike :attr:`calls`)."""
        return self._calls is not None

    @property
    def instance(self) -> InstanceLock:
        """Which running client of this account on this machine this is: claimed on first use,
        let go of by :meth:`stop`. Raises ``OSError`` or :class:`InstanceBusy`."""
        if self._instance is None:
            self._instance = InstanceLock.claim(instance_folder(self.jid.bare))
        return self._instance

    def _own_resource(self) -> str:
        try:
            return self.instance.resource()
        except (OSError, InstanceBusy) as exc:
            log.warning("this client has no resource of its own (%s); it uses a new one", exc)
            return f"switchboard.{secrets.token_hex(4)}"

    @property
    def stream(self) -> _Stream:
        """The slixmpp client (exists once :meth:`start` ran)."""
        if self._stream is None:
            raise RuntimeError("session not started")
        return self._stream

    async def start(self, timeout: float = 20.0) -> None:
        """Connect, authenticate and fetch the roster; raise ConnectionError with a reason."""
        # aiortc takes a while to import: do it in a thread so the screen stays live
        await asyncio.to_thread(importlib.import_module, "xmpp_components.plugins.jingle")
        if not self.account.resource:
            self.account = dataclasses.replace(self.account, resource=self._own_resource())
        stream = self._stream = _Stream(self.account)
        self._journal = None
        self.rooms.attach(stream)
        self.room_avatars.attach(stream)
        self.pins.attach(stream)
        self.calls.attach(stream)
        self.files.attach(stream)
        self.actions.attach(stream)
        self.typing.attach(stream)
        self.outbox.restore()
        started: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def refused(_event: Any) -> None:
            if not started.done():
                started.set_exception(PasswordRefused(
                    f"the server refused the password for {self.jid.bare}"))

        stream.add_event_handler("failed_auth", refused)
        stream.add_event_handler("session_start", self._on_session_start)
        self._ready = started
        stream.add_event_handler("session_resumed", self._on_session_resumed)
        stream.add_event_handler("disconnected", self._on_disconnected)
        stream.add_event_handler("connection_failed", self._on_connection_failed)
        stream.add_event_handler("roster_update", self._on_roster_update)
        stream.add_event_handler("presence", self._on_presence)
        stream.add_event_handler("message", self._on_message)
        stream.add_event_handler("message_error", self._on_message_error)
        stream.add_event_handler("carbon_received", lambda m: self._on_message(m["carbon_received"]))
        stream.add_event_handler("carbon_sent", lambda m: self._on_carbon_sent(m["carbon_sent"]))
        stream.add_event_handler("stanza_acked", self._on_acked)
        stream.add_event_handler("receipt_received", self._on_receipt)
        stream.add_event_handler("marker_displayed", self._on_displayed)
        self._set_state("connecting")
        self._reconnector = Reconnector(stream, (self.account.host, self.account.port))
        self._reconnector.start()
        try:
            await asyncio.wait_for(started, timeout)
        except (TimeoutError, ConnectionError) as exc:
            await self._reconnector.stop()
            self._set_state("offline", str(exc) or "no answer from the server")
            if isinstance(exc, asyncio.TimeoutError):
                raise ConnectionError(
                    f"no XMPP session with {self.account.host}:{self.account.port} within "
                    f"{timeout:.0f} s; is the server running? (./switchboard status)") from None
            raise

    async def stop(self) -> None:
        """Say goodbye (unavailable presence, to contacts and rooms) and close the stream."""
        if self._stream is not None and self.state == "online":
            self._stream.send_presence(ptype="unavailable")
        if self._reconnector is not None:
            await self._reconnector.stop()
        await self.background.cancel()
        self._set_state("offline")
        await self.search.close()
        await self.files.close()
        self.outbox.close()
        if self._instance is not None:
            self._instance.release()
            self._instance = None

    def _set_state(self, state: str, detail: str = "") -> None:
        self.state = state
        self._emit(events.ConnectionChanged(state, detail))

    async def _on_session_start(self, _event: Any) -> None:
        stream = self.stream
        await stream.get_roster()
        self._sync_roster()
        try:
            await stream.plugin["xep_0280"].enable()
        except Exception as exc:  # carbons are a nicety; a server without them still chats
            log.info("carbons not enabled: %s", type(exc).__name__)
        self._send_own_presence()
        self._set_state("online")
        self.outbox.send_waiting(resumed=False)
        if self._lost_at is not None:  # a new login after a drop: fill the gap from the archive
            self.background.spawn(self._catch_up(self._lost_at - CATCH_UP_SLACK))
            self._lost_at = None
        self._presence_at_drop.clear()
        self.rooms.on_session_start()
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(None)
        self.background.spawn(self._subscribe_journal())

    async def _subscribe_journal(self) -> None:
        try:  # live journal updates; a stack without the journal simply has none
            await self.journal.subscribe()
        except JournalError as exc:
            log.info("journal not available: %s", exc)

    async def _catch_up(self, since: dt.datetime) -> None:
        try:
            await self.history.catch_up(since)
        except HistoryError as exc:
            log.warning("%s", exc)

    def _on_session_resumed(self, _event: Any) -> None:
        # the server keeps what happened meanwhile and sends it now; presence it sent before stays
        for jid, resources in self._presence_at_drop.items():
            if jid in self.contacts:
                self.contacts[jid].resources.update(resources)
        self._presence_at_drop.clear()
        self._lost_at = None
        self._emit(events.RosterChanged())
        self._set_state("online")
        self.outbox.send_waiting(resumed=True)

    def _on_disconnected(self, reason: Any) -> None:
        if self._lost_at is None:
            self._lost_at = _now()
        for contact in self.contacts.values():
            if contact.resources:
                self._presence_at_drop[contact.jid] = dict(contact.resources)
            contact.resources.clear()
        self._set_state("offline" if self._reconnector and self._reconnector.stopped else "connecting",
                        str(reason or ""))
        self._emit(events.RosterChanged())

    def _on_connection_failed(self, reason: Any) -> None:
        self._set_state("connecting", f"cannot reach {self.account.host}:{self.account.port}: {reason}")

    # --- roster and presence ---------------------------------------------------------------------

    def _sync_roster(self) -> None:
        roster = self.stream.client_roster
        known = set()
        for jid in roster:
            if jid == self.jid.bare:
                continue
            item = roster[jid]
            known.add(jid)
            contact = self.contacts.setdefault(jid, Contact(jid))
            contact.name = item["name"]
            contact.groups = tuple(item["groups"])
            contact.subscription = item["subscription"]
        for gone in set(self.contacts) - known:
            del self.contacts[gone]
        self._emit(events.RosterChanged())

    def _on_roster_update(self, _iq: Any) -> None:
        self._sync_roster()

    def _on_presence(self, presence: Presence) -> None:
        sender = presence["from"]
        if sender.bare == self.jid.bare:
            return
        contact = self.contacts.get(sender.bare)
        if contact is None or presence["type"] in ("error", "subscribe", "subscribed",
                                                    "unsubscribe", "unsubscribed", "probe"):
            return
        if presence["type"] == "unavailable":
            contact.resources.pop(sender.resource, None)
        else:
            show = presence["show"] or "available"
            contact.resources[sender.resource] = ResourcePresence(
                Show(show) if show in Show.__members__.values() else Show.AVAILABLE,
                presence["status"], int(presence["priority"] or 0))
        self._emit(events.PresenceChanged(contact.jid))

    def set_presence(self, show: Show, status: str = "") -> None:
        """Publish my state and absence note to every contact."""
        self._before_idle = self.idle_since = None  # a choice of mine ends automatic away
        self.me = ResourcePresence(show, status)
        self._send_own_presence()
        self._emit(events.OwnPresenceChanged(show, status))

    def go_idle(self, since: dt.datetime) -> None:
        """Nobody has touched the client since ``since``: show *away* with XEP-0319 idle time,
        unless I chose a state other than available myself."""
        if self.idle_since is not None or self.me.show not in (Show.AVAILABLE, Show.CHAT):
            return
        self._before_idle, self.idle_since = self.me.show, since
        self.me = ResourcePresence(Show.AWAY, self.me.status)
        self._send_own_presence()
        self._emit(events.OwnPresenceChanged(self.me.show, self.me.status))

    def back_from_idle(self) -> None:
        """Activity again: return to the state before going idle."""
        if self.idle_since is None or self._before_idle is None:
            return
        self.me = ResourcePresence(self._before_idle, self.me.status)
        self._before_idle = self.idle_since = None
        self._send_own_presence()
        self._emit(events.OwnPresenceChanged(self.me.show, self.me.status))

    def _send_own_presence(self) -> None:
        if self._stream is None or self.state == "offline" and self._stream.transport is None:
            return
        show = self.me.show
        if show is Show.OFFLINE:
            self.stream.send_presence(ptype="unavailable", pstatus=self.me.status or None)
            self.rooms.send_presence()
            return
        presence = self.stream.make_presence(
            pshow=None if show is Show.AVAILABLE else show.value, pstatus=self.me.status or None)
        if self.idle_since is not None:  # XEP-0319, without slixmpp's per-stanza async filter
            presence["idle"]["since"] = self.idle_since
        presence.send()
        self.rooms.send_presence()

    async def card(self, jid: str) -> dict[str, str]:
        """A contact's business card from their vCard (XEP-0054): name, organisation, title,
        phone numbers, e-mail. Empty fields are left out; no vCard gives an empty card."""
        try:
            result = await self.stream.plugin["xep_0054"].get_vcard(JID(jid), timeout=10)
        except (IqError, IqTimeout):
            return {}
        vcard = result["vcard_temp"]
        ns = "{vcard-temp}"
        card = {"name": vcard["FN"], "nickname": vcard["NICKNAME"],
                "organisation": vcard["ORG"]["ORGNAME"], "title": vcard["TITLE"]}
        for tel in vcard.xml.findall(f"{ns}TEL"):  # several numbers, each with its kinds
            kinds = [c.tag[len(ns):].lower() for c in tel if c.tag != f"{ns}NUMBER"]
            label = "phone" + (f" ({', '.join(k for k in kinds if k != 'voice')})" if kinds else "")
            card[label] = next((n.text.strip() for n in tel.findall(f"{ns}NUMBER")  # ejabberd's
                                if n.text and n.text.strip()), "")  # set_vcard2 adds an empty one
        for email in vcard.xml.findall(f"{ns}EMAIL"):
            card.setdefault("e-mail", email.findtext(f"{ns}USERID") or "")
        return {k: str(v) for k, v in card.items() if v}

    # --- conversations ---------------------------------------------------------------------------

    def conversation(self, jid: str) -> Conversation:
        """The conversation with ``jid`` (bare), created on first use."""
        bare = JID(jid).bare
        conversation = self.conversations.get(bare)
        if conversation is None:
            conversation = self.conversations[bare] = Conversation(bare)
        return conversation

    def send_chat(self, to: str, body: str, reply_to: ChatMessage | None = None) -> ChatMessage:
        """Send ``body`` to ``to``, asking for a receipt and chat markers; returns the message,
        whose delivery state then advances as the server and the recipient answer. In a room
        (see :attr:`rooms`) it goes to everyone there. ``reply_to``: the message it answers.
        Offline (or while a room is being rejoined) the message is queued in the :attr:`outbox`
        and goes out once it can; raises :class:`~tui.session.outbox.OutboxUnusable` when it
        cannot be queued."""
        self.typing.sent(JID(to).bare)
        if JID(to).bare in self.rooms:
            return self.rooms.send(JID(to).bare, body, reply_to)
        conversation = self.conversation(to)
        message_id = str(uuid.uuid4())
        stanza = self.stream.make_message(mto=conversation.jid, mbody=body, mtype="chat")
        stanza["id"] = message_id
        stanza["origin_id"]["id"] = message_id
        stanza["request_receipt"] = True
        stanza.enable("markable")
        stanza["chat_state"] = "active"  # XEP-0085: we are in the conversation
        message = ChatMessage(message_id, Direction.OUTGOING, self.jid.bare, body, _now())
        self.actions.dress(stanza, message, reply_to, None)
        # kept on disk before it shows; OutboxUnusable goes to the caller when it has to wait
        queued = self.outbox.hold(conversation.jid, message, stanza)
        index = conversation.add(message)
        self._emit(events.MessageAdded(conversation.jid, message, index))
        if not queued:
            self.outbox.release(stanza)
        return message

    def send_marker(self, jid: str, message_id: str, mtype: Literal["chat", "groupchat"]) -> None:
        """Tell ``jid`` that I displayed everything up to ``message_id`` (XEP-0333); offline the
        marker waits in the outbox (a failure to keep it is logged: it is only a marker)."""
        marker = self.stream.make_message(mto=JID(jid), mtype=mtype)
        marker["displayed"]["id"] = message_id
        try:
            self.outbox.send(jid, marker)
        except OutboxUnusable as exc:
            log.warning("%s", exc)

    def mark_read(self, jid: str) -> ChatMessage | None:
        """The user has seen the conversation: clear its unread count and send a XEP-0333
        ``displayed`` marker for the newest markable message (once per message)."""
        if jid in self.rooms:
            return self.rooms.mark_read(jid)
        conversation = self.conversation(jid)
        changed = conversation.unread != 0
        conversation.unread = 0
        newest = conversation.last_incoming_markable()
        if newest is not None and self._read_sent.get(conversation.jid) != newest.id:
            self._read_sent[conversation.jid] = newest.id
            self.send_marker(conversation.jid, newest.id, "chat")
            changed = True
        if changed:
            self._emit(events.UnreadChanged(conversation.jid, 0))
        return newest

    def _on_message(self, stanza: Message) -> None:
        if self.actions.take_chat(stanza):
            return  # a reaction, retraction or correction
        if stanza["type"] not in ("chat", "normal") or not stanza["body"] or self.rooms.claims(stanza):
            return
        sender = stanza["from"]
        if sender.bare == self.jid.bare:
            return
        conversation = self.conversation(sender.bare)
        # get_plugin(check=True): asking stanza["delay"] of a message without one would build
        # an empty element for it (~10 us each, a thousand times in a burst)
        origin = stanza.get_plugin("origin_id", check=True)
        message_id = (origin["id"] if origin is not None else "") or stanza["id"] or str(uuid.uuid4())
        archive_id = self._archive_id(stanza)
        if message_id in conversation.by_id or archive_id in conversation.by_id:
            return  # a copy we already have (carbon, resend after resumption, archive catch-up)
        delay = stanza.get_plugin("delay", check=True)
        message = ChatMessage(
            message_id, Direction.INCOMING, sender.bare, stanza["body"],
            (delay["stamp"] if delay is not None else None) or _now(),
            markable=bool(stanza.xml.find("{urn:xmpp:chat-markers:0}markable") is not None))
        self.actions.annotate(message, stanza, conversation.jid)
        if archive_id:  # what a later catch-up from the archive knows it by
            conversation.by_id.setdefault(archive_id, message)
        index = conversation.add(message)
        conversation.unread += 1
        self._emit(events.MessageAdded(conversation.jid, message, index))
        self._emit(events.UnreadChanged(conversation.jid, conversation.unread))

    def _archive_id(self, stanza: Message) -> str:
        """The id my archive gave ``stanza`` (XEP-0359 stanza-id by my bare JID), or ''."""
        for element in stanza.xml.findall("{urn:xmpp:sid:0}stanza-id"):
            if element.get("by") == self.jid.bare:
                return element.get("id") or ""
        return ""

    def _on_carbon_sent(self, stanza: Message) -> None:
        """A message I sent from another device: show it as mine."""
        if self.actions.take_chat(stanza, mine=True) or not stanza["body"]:
            return
        conversation = self.conversation(stanza["to"].bare)
        message_id = stanza["origin_id"]["id"] or stanza["id"] or str(uuid.uuid4())
        if message_id in conversation.by_id:
            return
        message = ChatMessage(message_id, Direction.OUTGOING, self.jid.bare, stanza["body"], _now())
        message.advance(Delivery.SENT, message.time)
        self.actions.annotate(message, stanza, conversation.jid)
        index = conversation.add(message)
        self._emit(events.MessageAdded(conversation.jid, message, index))

    def _find_outgoing(self, peer: str, message_id: str) -> tuple[Conversation, ChatMessage] | None:
        conversation = self.conversations.get(JID(peer).bare)
        if conversation is None:
            return None
        message = conversation.by_id.get(message_id)
        if message is None or message.direction is not Direction.OUTGOING:
            return None
        return conversation, message

    def _advance(self, peer: str, message_id: str, to: Delivery, cumulative: bool = False) -> None:
        found = self._find_outgoing(peer, message_id)
        if found is None:
            return
        conversation, target = found
        when = _now()
        # a displayed marker means every earlier message was read too (XEP-0333 §3)
        candidates = conversation.messages[:conversation.index_of(target) + 1] if cumulative else [target]
        for message in candidates:
            if message.direction is Direction.OUTGOING and message.advance(to, when):
                self._emit(events.MessageChanged(conversation.jid, message))

    def _on_acked(self, stanza: Any) -> None:
        if not isinstance(stanza, Message):
            return
        self.outbox.settled(stanza["id"])
        if stanza["body"] and stanza["type"] == "chat":
            self._advance(stanza["to"].bare, stanza["id"], Delivery.SENT)

    def _on_receipt(self, stanza: Message) -> None:
        self._advance(stanza["from"].bare, stanza["receipt"], Delivery.DELIVERED)

    def _on_displayed(self, stanza: Message) -> None:
        if stanza["type"] == "groupchat":
            self.rooms.on_displayed(stanza)
            return
        self._advance(stanza["from"].bare, stanza["displayed"]["id"], Delivery.READ, cumulative=True)

    def _on_message_error(self, stanza: Message) -> None:
        self.outbox.settled(stanza["id"])
        found = self._find_outgoing(stanza["from"].bare, stanza["id"])
        if found is None:
            return
        conversation, message = found
        message.delivery = Delivery.FAILED
        message.error = stanza["error"]["text"] or stanza["error"]["condition"]
        self._emit(events.MessageChanged(conversation.jid, message))
