"""The assistant: an ordinary XMPP account that answers with a language model.

It answers every 1:1 message from an authorised user and, in rooms, messages that contain one of
its keywords. It behaves like a person's client: receipts, read markers, a typing indicator, and an
answer that streams in as XEP-0308 corrections (intermediate ones not archived). Message content is
never logged.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import logging
import re
import struct
import time
import uuid
import zlib
from collections import defaultdict
from pathlib import Path
from typing import Any, Literal

from slixmpp import JID, ClientXMPP, Message
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream import ET

from xmpp_components import slixfix
from xmpp_components.base.background import Background
from xmpp_components.base.reconnect import Reconnector

from .config import AssistantSettings
from .memory import Memory, next_reset, room_context, user_context
from .provider import Completion, Provider, ProviderError
from .styling import markdown_to_styling

log = logging.getLogger(__name__)

BOOKMARKS = "urn:xmpp:bookmarks:1"
REFUSAL_INTERVAL = 3600.0
IMAGE_TOKENS = 1000
"""What one generated image counts against the daily budget."""


def _png(size: int, rgb: tuple[int, int, int]) -> bytes:
    """A single-colour PNG (the assistant's avatar), without an imaging library."""
    row = b"\x00" + bytes(rgb) * size
    raw = zlib.compress(row * size)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


class _Stream(ClientXMPP):  # type: ignore[misc]
    PLUGINS = ("xep_0030", "xep_0045", "xep_0054", "xep_0060", "xep_0066", "xep_0084", "xep_0085",
               "xep_0115", "xep_0163", "xep_0172", "xep_0184", "xep_0198", "xep_0199", "xep_0203",
               "xep_0249", "xep_0308", "xep_0333", "xep_0334", "xep_0359", "xep_0363", "xep_0402")

    def __init__(self, settings: AssistantSettings) -> None:
        super().__init__(f"{JID(settings.jid).bare}/assistant", settings.password.get_secret_value())
        self.enable_direct_tls = False
        if settings.ca_file:
            self.ca_certs = Path(settings.ca_file)
        for plugin in self.PLUGINS:
            self.register_plugin(plugin)
        self.plugin["xep_0184"].auto_ack = True
        self.plugin["xep_0030"].add_identity(category="client", itype="bot", name=settings.nickname)
        self.plugin["xep_0199"].enable_keepalive(interval=60, timeout=20)
        slixfix.apply(self)


class Conversation:
    """Where an answer goes: a contact (1:1) or a room, and whose question it is."""

    def __init__(self, to: JID, mtype: Literal["chat", "groupchat"], context: str, asker: str,
                 prefix: str = "") -> None:
        self.to = to
        self.mtype = mtype
        self.context = context
        self.asker = asker
        self.prefix = prefix  # "alice: " in rooms, so the answer says whom it answers


class AnswerStreamer:
    """Sends one answer as it streams: the first words at once, then at most ``rate`` corrections
    a second (``<no-store/>``), and a final, archived correction with the whole text."""

    def __init__(self, stream: _Stream, where: Conversation, rate: float) -> None:
        self.stream = stream
        self.where = where
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.first_id: str | None = None
        self.sent_text = ""
        self.last_sent = 0.0
        self.unstored_corrections = 0
        self.first_sent_at: float | None = None

    def _message(self, body: str) -> Message:
        message = self.stream.make_message(mto=self.where.to, mbody=body, mtype=self.where.mtype)
        message_id = str(uuid.uuid4())
        message["id"] = message_id
        message["origin_id"]["id"] = message_id
        return message

    def update(self, text: str, final: bool = False) -> bool:
        """Show ``text`` (the answer so far); throttled unless ``final``. True when it sent."""
        body = self.where.prefix + markdown_to_styling(text)
        now = time.monotonic()
        if self.first_id is None:
            message = self._message(body)
            self.first_id = message["id"]
            message.send()
            self.first_sent_at = time.perf_counter()
            self.sent_text, self.last_sent = body, now
            return True
        if body == self.sent_text and not (final and self.unstored_corrections):
            return False
        if not final and now - self.last_sent < self.interval:
            return False
        correction = self._message(body)
        correction["replace"]["id"] = self.first_id
        if not final:
            correction.enable("no-store")
            self.unstored_corrections += 1
        correction.send()
        self.sent_text, self.last_sent = body, now
        return True


class AssistantBot:
    """The assistant account and its behaviour."""

    def __init__(self, settings: AssistantSettings, memory: Memory) -> None:
        self.settings = settings
        self.memory = memory
        self.provider: Provider | None = None if settings.problem() else Provider(settings)
        self.stream = _Stream(settings)
        self.jid = JID(settings.jid)
        self.reconnector = Reconnector(self.stream, (settings.server, settings.port))
        self.rooms: dict[str, str] = {}  # room bare JID -> our nick
        self.state = settings.problem()  # None when ready
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._refused: dict[str, float] = {}
        self._bots: dict[str, bool] = {}
        self._background = Background()
        self.ready = asyncio.Event()
        self.profile_published = asyncio.Event()
        """Set once its vCard, avatar and nickname are published (after each login)."""
        s = self.stream
        s.add_event_handler("session_start", self._on_session_start)
        s.add_event_handler("message", self._on_message)
        s.add_event_handler("groupchat_message", self._on_groupchat)
        s.add_event_handler("groupchat_direct_invite", self._on_direct_invite)
        s.add_event_handler("groupchat_invite", self._on_mediated_invite)
        s.add_event_handler("disconnected", lambda _e: self.ready.clear())

    # --- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect and keep connected; returns when the first session is up."""
        self.reconnector.start()
        await asyncio.wait_for(self.ready.wait(), 30)

    async def stop(self) -> None:
        """Leave, finish nothing new, close the provider's connections."""
        await self.reconnector.stop()
        await self._background.cancel()
        if self.provider is not None:
            await self.provider.close()

    async def _on_session_start(self, _event: Any) -> None:
        await self.stream.get_roster()
        self._announce()
        await self._join_bookmarked_rooms()
        self.ready.set()
        self._background.spawn(self._publish_profile())
        log.info("assistant %s online (%s)", self.jid.bare, self.state or "ready")

    def _announce(self) -> None:
        """Presence says whether the assistant can really answer."""
        if self.state is None:
            self.stream.send_presence(pstatus="ready")
        else:
            show = "away" if "unreachable" in self.state else "dnd"
            self.stream.send_presence(pshow=show, pstatus=self.state)
        for room, nick in self.rooms.items():
            self.stream.send_presence(pto=f"{room}/{nick}", pstatus=self.state or "ready")

    def _set_state(self, state: str | None) -> None:
        if state != self.state:
            self.state = state
            log.info("assistant state: %s", state or "ready")
            self._announce()

    async def _publish_profile(self) -> None:
        try:
            vcard = self.stream.plugin["xep_0054"].make_vcard()
            vcard["FN"] = self.settings.nickname
            vcard["NICKNAME"] = self.settings.nickname
            await self.stream.plugin["xep_0054"].publish_vcard(vcard, timeout=10)
            avatar = _png(64, (0x3b, 0x82, 0xf6))
            await self.stream.plugin["xep_0084"].publish_avatar(avatar, timeout=10)
            # slixmpp 1.17 types these as int but can only serialise strings
            await self.stream.plugin["xep_0084"].publish_avatar_metadata(
                [{"id": self.stream.plugin["xep_0084"].generate_id(avatar), "type": "image/png",
                  "bytes": str(len(avatar)), "width": "64", "height": "64"}],  # type: ignore[typeddict-item]
                timeout=10)
            await self.stream.plugin["xep_0172"].publish_nick(self.settings.nickname, timeout=10)
            self.profile_published.set()
        except (IqError, IqTimeout) as exc:
            log.warning("profile not published: %s", type(exc).__name__)

    # --- rooms -------------------------------------------------------------------------------------

    async def _join_bookmarked_rooms(self) -> None:
        try:
            result = await self.stream.plugin["xep_0060"].get_items(self.jid.bare, BOOKMARKS, timeout=10)
        except (IqError, IqTimeout):
            return  # no bookmarks yet
        for item in result["pubsub"]["items"]:
            conference = item["conference"]
            if conference["autojoin"]:
                await self.join_room(JID(item["id"]), bookmark=False)

    async def join_room(self, room: JID, bookmark: bool = True) -> None:
        """Join ``room`` without history, and bookmark it (XEP-0402) so restarts rejoin it."""
        nick = self.settings.nickname
        # known before the join completes: occupants may speak as soon as they see us arrive
        self.rooms[room.bare] = nick
        try:
            await self.stream.plugin["xep_0045"].join_muc_wait(room, nick, maxstanzas=0, timeout=15)
        except (IqError, IqTimeout, TimeoutError) as exc:
            del self.rooms[room.bare]
            log.warning("could not join %s: %s", room.bare, type(exc).__name__)
            return
        self.stream.send_presence(pto=f"{room.bare}/{nick}", pstatus=self.state or "ready",
                                  pshow=None if self.state is None else "dnd")
        log.info("joined room %s", room.bare)
        if bookmark:
            conference = ET.Element(f"{{{BOOKMARKS}}}conference", {"autojoin": "true", "name": room.user})
            ET.SubElement(conference, f"{{{BOOKMARKS}}}nick").text = nick
            options = self.stream.plugin["xep_0004"].make_form(ftype="submit")
            options.add_field(var="FORM_TYPE", ftype="hidden",
                              value="http://jabber.org/protocol/pubsub#publish-options")
            options.add_field(var="pubsub#persist_items", value="true")
            options.add_field(var="pubsub#max_items", value="max")
            options.add_field(var="pubsub#send_last_published_item", value="never")
            options.add_field(var="pubsub#access_model", value="whitelist")
            try:
                await self.stream.plugin["xep_0060"].publish(
                    self.jid.bare, BOOKMARKS, id=room.bare, payload=conference, options=options,
                    timeout=10)
            except (IqError, IqTimeout) as exc:
                log.warning("bookmark for %s not stored: %s", room.bare, type(exc).__name__)

    def _on_direct_invite(self, message: Message) -> None:
        room = message["groupchat_invite"]["jid"]
        self._background.spawn(self._invited(JID(room), message["from"]))

    def _on_mediated_invite(self, invite: Message) -> None:
        inviter = invite["muc"]["invite"]["from"] if invite["muc"]["invite"]["from"] else invite["from"]
        self._background.spawn(self._invited(invite["from"], JID(inviter)))

    async def _invited(self, room: JID, inviter: JID) -> None:
        if room.bare in self.rooms:
            return
        if not self.authorised(inviter.bare):
            log.info("ignored an invitation from an unauthorised user")
            return
        await self.join_room(JID(room.bare))

    # --- authorisation ------------------------------------------------------------------------------

    def authorised(self, jid: str) -> bool:
        """Whether ``jid`` (bare) may use the assistant."""
        entries = self.settings.allowed_list()
        if not entries:
            return JID(jid).domain == self.jid.domain
        groups: set[str] = set()
        roster = self.stream.client_roster
        if jid in roster:
            groups = set(roster[jid]["groups"])
        for entry in entries:
            if entry.startswith("group:") and entry[6:] in groups:
                return True
            if entry.startswith("@") and JID(jid).domain == entry[1:]:
                return True
            if entry == jid:
                return True
        return False

    async def _refuse(self, where: Conversation) -> None:
        last = self._refused.get(where.asker, 0.0)
        if time.monotonic() - last < REFUSAL_INTERVAL and last:
            return
        self._refused[where.asker] = time.monotonic()
        self._reply(where, "Sorry, I only answer people I am set up for. Please ask your "
                           "administrator if you need access to the assistant.")

    # --- incoming ------------------------------------------------------------------------------------

    def _read(self, message: Message) -> None:
        """Behave like a person's client: mark what was read (receipts are automatic)."""
        if message.xml.find("{urn:xmpp:chat-markers:0}markable") is not None:
            marker = self.stream.make_message(mto=message["from"] if message["type"] != "groupchat"
                                              else JID(message["from"].bare), mtype=message["type"])
            marker["displayed"]["id"] = (message["stanza_id"]["id"] if message["type"] == "groupchat"
                                         and message["stanza_id"]["id"] else message["id"])
            marker.send()

    def _on_message(self, message: Message) -> None:
        if message["type"] not in ("chat", "normal") or not message["body"]:
            return
        sender = message["from"]
        if sender.bare == self.jid.bare or message["replace"]["id"]:
            return
        self._read(message)
        where = Conversation(JID(sender.bare), "chat", user_context(sender.bare), sender.bare)
        self._background.spawn(self.handle(where, message["body"].strip()))

    def _on_groupchat(self, message: Message) -> None:
        room = message["from"].bare
        nick = message["from"].resource
        if room not in self.rooms or not message["body"] or not nick:
            return
        if nick == self.rooms[room] or message["delay"]["stamp"] or message["replace"]["id"]:
            return  # our own echo, history replayed on join, or a correction
        text = self._strip_keyword(message["body"])
        if text is None:
            return
        real = self.stream.plugin["xep_0045"].get_jid_property(room, nick, "jid")
        asker = JID(real).bare if real else f"{room}/{nick}"
        self._read(message)
        where = Conversation(JID(room), "groupchat", room_context(room), asker, prefix=f"{nick}: ")
        # ask the occupant itself when the room hides its address (the room relays the query)
        self._background.spawn(self._handle_room(where, str(real) if real else f"{room}/{nick}", nick, text))

    async def _handle_room(self, where: Conversation, occupant: str, nick: str, text: str) -> None:
        if await self._is_bot(occupant):
            return  # never answer other bots
        await self.handle(where, text, speaker=nick)

    async def _is_bot(self, jid: str) -> bool:
        if jid not in self._bots:
            try:
                info = await self.stream.plugin["xep_0030"].get_info(jid=JID(jid), timeout=5)
                identities = info["disco_info"]["identities"]
                self._bots[jid] = any(i[0] == "client" and i[1] == "bot" for i in identities)
            except (IqError, IqTimeout):
                self._bots[jid] = False
        return self._bots[jid]

    def _strip_keyword(self, body: str) -> str | None:
        """The message without the keyword that addressed us, or None if none did."""
        for keyword in self.settings.keyword_list():
            pattern = re.compile(rf"(?<![\w@]){re.escape(keyword)}(?!\w)[,:]?", re.IGNORECASE)
            if pattern.search(body):
                return " ".join(pattern.sub(" ", body).split())
        return None

    # --- answering ------------------------------------------------------------------------------------

    async def handle(self, where: Conversation, text: str, speaker: str | None = None) -> None:
        """Answer ``text``: a command, an image request, or a question for the model."""
        # a room occupant whose address the room hides (asker "room/nick") is let in: the room
        # was joined on an authorised user's invitation
        if "/" not in where.asker and not self.authorised(where.asker):
            await self._refuse(where)
            return
        command = text.split(maxsplit=1)[0].lower() if text else ""
        if command in ("/clear", "/help", "/usage"):
            await {"/clear": self._clear, "/help": self._help, "/usage": self._usage}[command](where)
            return
        if self.provider is None:
            self._reply(where, f"I cannot answer yet: {self.state}. An administrator can set "
                               "OPENAI_API_KEY (or the assistant's settings) and restart me.")
            return
        first_word = text.split(maxsplit=1)[0].lower().rstrip(":,") if text else ""
        if first_word in self.settings.image_keyword_list():
            prompt = text.split(maxsplit=1)[1] if len(text.split(maxsplit=1)) > 1 else ""
            await self._image(where, prompt)
            return
        async with self._locks[where.context]:
            await self._answer(where, f"{speaker}: {text}" if speaker else text)

    def _reply(self, where: Conversation, text: str) -> None:
        message = self.stream.make_message(mto=where.to, mbody=where.prefix + text, mtype=where.mtype)
        message.send()

    def _typing(self, where: Conversation, state: str) -> None:
        message = self.stream.make_message(mto=where.to, mtype=where.mtype)
        message["chat_state"] = state
        message.enable("no-store")
        message.send()

    async def _over_budget(self, where: Conversation) -> bool:
        usage = await self.memory.usage(where.asker)
        if not usage.exhausted:
            return False
        reset = next_reset()
        left = reset - dt.datetime.now(dt.UTC)
        hours, minutes = divmod(int(left.total_seconds()) // 60, 60)
        self._reply(where, f"Your daily budget of {usage.budget:,} tokens is used up. It resets at "
                           f"{reset:%H:%M} UTC (in {hours} h {minutes} min).")
        return True

    async def _answer(self, where: Conversation, prompt: str) -> None:
        assert self.provider is not None
        if await self._over_budget(where):
            return
        # kept even if the provider fails; written to the database while the provider works
        stored = await self.memory.remember(where.context, "user", prompt)
        messages = await self.memory.recall(where.context, self.settings.system_prompt)
        self._typing(where, "composing")
        streamer = AnswerStreamer(self.stream, where, self.settings.updates_per_second)
        text = ""
        started = time.perf_counter()
        try:
            async for part in self.provider.stream_chat(messages):
                if isinstance(part, Completion):
                    streamer.update(part.text or "(no answer)", final=True)
                    await (await self.memory.remember(where.context, "assistant", part.text))
                    await self.memory.charge(where.asker, part.prompt_tokens, part.completion_tokens)
                    log.info("answered %s in %.0f ms (%d tokens)", where.context,
                             (time.perf_counter() - started) * 1000, part.total_tokens)
                    if part.first_token_at and streamer.first_sent_at:
                        log.debug("timing %s: to first token %.1f ms, first words sent %.1f ms later",
                                  where.context, (part.first_token_at - started) * 1000,
                                  (streamer.first_sent_at - part.first_token_at) * 1000)
                else:
                    text += part
                    if streamer.update(text):
                        # let the send queue write it now: buffered chunks would otherwise be
                        # consumed without the loop ever switching to the writer
                        await asyncio.sleep(0)
            self._set_state(None)
        except ProviderError as exc:
            log.warning("provider failed for %s: %s", where.context, exc.presence or "error")
            if streamer.first_id is not None:
                streamer.update(text + f"\n\n[{exc.text}]", final=True)
            else:
                self._reply(where, exc.text)
            if exc.presence:
                self._set_state(exc.presence)
        finally:
            self._typing(where, "active")
            await stored

    async def _image(self, where: Conversation, prompt: str) -> None:
        assert self.provider is not None
        if not prompt:
            self._reply(where, f"Tell me what to draw, e.g. “{self.settings.image_keyword_list()[0]} "
                               "a lighthouse at dusk”.")
            return
        if await self._over_budget(where):
            return
        self._typing(where, "composing")
        try:
            image, revised = await self.provider.image(prompt)
            url = await self.stream.plugin["xep_0363"].upload_file(
                "image.png", size=len(image), content_type="image/png",
                input_file=io.BytesIO(image), timeout=30)
        except ProviderError as exc:
            self._reply(where, exc.text)
            if exc.presence:
                self._set_state(exc.presence)
            return
        except Exception as exc:  # upload service missing or refusing: tell the user, keep running
            log.warning("image upload failed: %s", type(exc).__name__)
            self._reply(where, "I made the image but could not upload it (the server's file "
                               "upload refused it).")
            return
        finally:
            self._typing(where, "active")
        message = self.stream.make_message(mto=where.to, mbody=url, mtype=where.mtype)
        message["oob"]["url"] = url
        message["oob"]["desc"] = revised
        message.send()
        await self.memory.charge(where.asker, 0, IMAGE_TOKENS)
        self._set_state(None)
        log.info("image sent to %s", where.context)

    # --- commands ---------------------------------------------------------------------------------------

    async def _clear(self, where: Conversation) -> None:
        async with self._locks[where.context]:
            count = await self.memory.forget(where.context)
        whose = "this room's" if where.mtype == "groupchat" else "your"
        self._reply(where, f"Done: I forgot {whose} conversation ({count} messages).")

    async def _help(self, where: Conversation) -> None:
        keywords = ", ".join(self.settings.keyword_list())
        images = ", ".join(self.settings.image_keyword_list())
        self._reply(where, "I am the company assistant. Ask me anything.\n"
                           f"• In rooms, mention me ({keywords}) to ask.\n"
                           f"• Start with {images} to get an image, e.g. “{images.split(',')[0]} a "
                           "red bicycle”.\n"
                           "• /clear forgets our conversation, /usage shows your tokens today, "
                           "/help shows this.")

    async def _usage(self, where: Conversation) -> None:
        usage = await self.memory.usage(where.asker)
        if not usage.budget:
            self._reply(where, f"Today you used {usage.used:,} tokens in {usage.requests} requests "
                               "(no daily limit).")
            return
        reset = next_reset()
        self._reply(where, f"Today you used {usage.used:,} of your {usage.budget:,} tokens "
                           f"({usage.left:,} left, {usage.requests} requests). "
                           f"The budget resets at {reset:%H:%M} UTC.")
