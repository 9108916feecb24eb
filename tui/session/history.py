"""The history of 1:1 conversations from my archive (CH1): XEP-0313 queries paged with XEP-0059.

The newest page comes in when a conversation is opened, an older one each time the user reaches the
top. A message that is here already (it came live, as a carbon, or I sent it) is not added twice:
its archived copy carries the id it is kept under. Reactions, corrections and retractions in the
archive change the messages they name (see :mod:`tui.session.message_actions`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from slixmpp import Message
from slixmpp.exceptions import IqError, IqTimeout

from . import events, mam
from .message_actions import refers
from .model import ChatMessage, Delivery, Direction

if TYPE_CHECKING:
    from .client import ChatSession

log = logging.getLogger(__name__)

PAGE = 50
"""Messages asked for per page."""


class HistoryError(Exception):
    """The archive could not be read; the text says what to do."""


class ChatHistory:
    """Pages of my archive, per 1:1 conversation, from the newest back to the first message."""

    def __init__(self, session: ChatSession, emit: Callable[[events.SessionEvent], None]) -> None:
        self.session = session
        self._emit = emit
        self._oldest: dict[str, str] = {}  # archive id of the oldest message fetched, per conversation
        self._complete: set[str] = set()  # conversations whose first message is here
        self._busy: set[str] = set()
        self._wanted: set[str] = set()  # opened while offline: loaded once online
        session.subscribe(self._on_event)

    def _on_event(self, event: events.SessionEvent) -> None:
        if isinstance(event, events.ConnectionChanged) and event.state == "online" and self._wanted:
            for jid in self._wanted:
                self.session.background.spawn(self._fetch_quietly(jid))
            self._wanted.clear()

    async def _fetch_quietly(self, jid: str) -> int:
        try:
            return await self.open(jid)
        except HistoryError:
            return 0  # logged; scrolling to the top tries again

    def has_older(self, jid: str) -> bool:
        """Whether the archive may hold messages of ``jid`` older than those here."""
        return jid not in self._complete

    async def open(self, jid: str) -> int:
        """The newest page of the conversation with ``jid``, the first time it is opened in this
        session; returns how many messages it added (then :class:`~events.HistoryLoaded`). Asked
        while offline, it comes once the session is online."""
        if jid in self._oldest or jid in self._complete or jid in self._busy:
            return 0
        if self.session.state != "online":
            self._wanted.add(jid)
            return 0
        return await self._fetch(jid, True)

    async def older(self, jid: str) -> int:
        """The page before the oldest message here; returns how many messages it added (then
        :class:`~events.HistoryPrepended`). 0 when there is nothing older or a page is on its way."""
        if jid not in self._oldest:
            return await self.open(jid)
        if jid in self._complete or jid in self._busy:
            return 0
        return await self._fetch(jid, self._oldest[jid])

    async def _fetch(self, jid: str, before: str | bool) -> int:
        self._busy.add(jid)
        try:
            page = await mam.page(self.session.stream, None, with_jid=jid, before=before, size=PAGE)
        except (IqError, IqTimeout) as exc:
            log.info("archive not readable: %s", type(exc).__name__)
            reason = "the server did not answer" if isinstance(exc, IqTimeout) else \
                f"the server said {exc.iq['error']['condition'] or 'no'}"
            raise HistoryError(f"The history of this conversation could not be loaded ({reason}); "
                               "new messages still arrive. Scroll to the top to try again.") from None
        finally:
            self._busy.discard(jid)
        if page.first:
            self._oldest[jid] = page.first
        if page.complete or len(page.results) < PAGE:
            self._complete.add(jid)
        fresh, in_front = self._merge(jid, page.results)
        if before is not True and in_front:
            self._emit(events.HistoryPrepended(jid, len(fresh)))
        else:
            self._emit(events.HistoryLoaded(jid))
        return len(fresh)

    async def catch_up(self, since: dt.datetime) -> int:
        """After a new login (the stream could not be resumed): every 1:1 message archived since
        ``since`` — received while away, or sent from my other devices — put into its
        conversation unless it is there already (by its id or the archive's); returns how many
        were added. Raises :class:`HistoryError`."""
        results: dict[str, list[Message]] = {}
        after: str | None = None
        while True:
            try:
                page = await mam.page(self.session.stream, None, start=since, after=after, size=PAGE)
            except (IqError, IqTimeout) as exc:
                log.info("archive not readable after reconnecting: %s", type(exc).__name__)
                raise HistoryError("Messages that came while you were offline could not be loaded; "
                                   "they appear when you scroll to the top of a conversation.") from None
            for result in page.results:
                stanza: Message = result["mam_result"]["forwarded"]["stanza"]
                mine = stanza["from"].bare == self.session.jid.bare
                peer = (stanza["to"] if mine else stanza["from"]).bare
                if peer and peer not in self.session.rooms:
                    results.setdefault(peer, []).append(result)
            if page.complete or len(page.results) < PAGE or not page.last:
                break
            after = page.last
        added = 0
        for jid, archived in results.items():
            fresh, _in_front = self._merge(jid, archived)
            if not fresh:
                continue
            added += len(fresh)
            news = sum(m.direction is Direction.INCOMING for m in fresh)
            conversation = self.session.conversation(jid)
            conversation.unread += news
            self._emit(events.HistoryLoaded(jid))
            if news:
                self._emit(events.UnreadChanged(jid, conversation.unread))
        return added

    def _merge(self, jid: str, results: list[Message]) -> tuple[list[ChatMessage], bool]:
        """Put archived ``results`` (oldest first) of the conversation with ``jid`` among its
        messages, leaving out those it has; returns the new ones and whether they all went in front."""
        conversation = self.session.conversation(jid)
        fresh: list[ChatMessage] = []
        later: list[tuple[Message, dt.datetime, bool]] = []
        seen = set(conversation.by_id)
        for result in results:
            forwarded = result["mam_result"]["forwarded"]
            stanza: Message = forwarded["stanza"]
            when = forwarded["delay"]["stamp"] or dt.datetime.now(dt.UTC)
            mine = stanza["from"].bare == self.session.jid.bare
            archive_id = result["mam_result"]["id"]
            if refers(stanza):  # applied once the messages of the page are in
                later.append((stanza, when, mine))
            elif (message := self._message(stanza, archive_id, when, mine)) is not None \
                    and message.id not in seen and archive_id not in seen:
                seen.add(message.id)
                fresh.append(message)
        in_front = conversation.put_history(fresh)
        for stanza, when, mine in later:
            self.session.actions.take_chat(stanza, mine=mine, when=when, live=False)
        self.session.actions.settle(jid)
        return fresh, in_front

    def _message(self, stanza: Message, archive_id: str, when: dt.datetime,
                 mine: bool) -> ChatMessage | None:
        """An archived chat message as the conversation keeps it (not marked read again: it is
        history, not news)."""
        if stanza["type"] not in ("chat", "normal") or not stanza["body"]:
            return None
        peer = stanza["to"] if mine else stanza["from"]
        message_id = stanza["origin_id"]["id"] or stanza["id"] or archive_id
        message = ChatMessage(message_id, Direction.OUTGOING if mine else Direction.INCOMING,
                              self.session.jid.bare if mine else peer.bare, stanza["body"], when)
        if mine:
            message.advance(Delivery.SENT, when)
        self.session.actions.annotate(message, stanza, peer.bare)
        return message
