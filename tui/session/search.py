"""Message search for the client session (CH8): the local index, kept filled.

:class:`SearchService` belongs to a :class:`~tui.session.client.ChatSession`. It indexes every
message the session shows (live, sent, corrected, loaded from a room's history) and, while the
session is online, reads the server archive (XEP-0313) of each conversation into the index in the
background: first what is new since the last reading, then further back until the beginning. The
position is stored with every page, so a reading cut short by a disconnect or a restart resumes
where it stopped. The index lives in a file per account under the client's data directory
(:func:`tui.settings.data_dir`); all file work runs on one worker thread, never on the UI's loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from slixmpp import JID, Message
from slixmpp.exceptions import IqError, IqTimeout

from . import events, mam, replies
from .message_actions import REACTIONS, RETRACT
from .model import ChatMessage, Direction

if TYPE_CHECKING:
    from .client import ChatSession
    from .message_index import Hit, IndexedMessage, MessageIndex, SyncState

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

PAGE = 100
"""Archived messages asked for at a time."""

SLICE = 20
"""Archived messages read from a page before the loop gets a turn (~2 ms of work)."""

WRITE_EVERY = 0.5
"""Seconds messages the session shows wait to be written to the index (searching writes them first)."""

SLACK = dt.timedelta(minutes=5)
"""How much older than a message the loaded history may reach before looking for it further
back is given up (time stamps of copies of one message differ a little)."""

MUC_USER = "http://jabber.org/protocol/muc#user"


@dataclass(frozen=True)
class IndexChanged(events.SessionEvent):
    """Messages were added to the search index (``conversation`` empty: from several)."""

    conversation: str
    added: int
    reading: bool
    """Whether the archive is still being read into the index."""


class IndexUnusable(Exception):
    """The index file cannot be read or written (the text is the reason)."""


def index_path(account: str) -> Path:
    """The index file of ``account`` (a bare JID)."""
    from tui.settings import data_dir

    return data_dir() / "search" / f"{JID(account).bare}.sqlite3"


def indexed(conversation: str, message: ChatMessage) -> IndexedMessage:
    """A session message as the index keeps it."""
    from .message_index import IndexedMessage

    return IndexedMessage(conversation, message.id, message.sender, message.direction, message.time,
                          message.body, message.nick, message.room_id)


class SearchService:
    """The account's message index: fed by the session's events and by the server archive."""

    def __init__(self, session: ChatSession, emit: Callable[[events.SessionEvent], None]) -> None:
        self.session = session
        self._emit = emit
        self._index: MessageIndex | None = None
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="search-index")
        self._pending: list[IndexedMessage] = []
        self._corrections: list[IndexedMessage] = []
        self._flush: asyncio.TimerHandle | None = None
        self._queue: list[str] = []
        self._reader: asyncio.Task[None] | None = None
        self._stopped = False
        self.reading = False
        """Whether the server archive is being read into the index now."""
        self.problem = ""
        """Why the index cannot be used (empty while it can), with what to do."""
        session.subscribe(self._on_event)

    # --- the index on its thread ------------------------------------------------------------------

    @property
    def index(self) -> MessageIndex:
        """The index (opened on its thread at first use)."""
        if self._index is None:
            from .message_index import MessageIndex

            self._index = MessageIndex(index_path(self.session.jid.bare))
        return self._index

    async def _run(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``work`` on the index's thread; any failure there is the index's: :class:`IndexUnusable`."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._thread, lambda: work(*args, **kwargs))
        except Exception as exc:
            raise IndexUnusable(str(exc)) from exc

    async def search(self, text: str, limit: int = 100, conversation: str | None = None) -> list[Hit]:
        """Messages matching ``text``, newest first (see :func:`~tui.session.message_index.fts_query`)."""
        index = self.index
        await self._write_pending()
        return await self._run(index.search, text, limit, conversation)

    async def history(self, conversation: str) -> list[IndexedMessage]:
        """Every indexed message of ``conversation``, oldest first."""
        index = self.index
        await self._write_pending()
        return await self._run(index.history, conversation)

    async def count(self) -> int:
        """How many messages are indexed."""
        index = self.index
        await self._write_pending()
        return await self._run(index.count)

    async def close(self) -> None:
        """Stop reading the archive, write what is pending and close the file."""
        await self._stop_reading()
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        if self._index is not None:
            await self._write_pending()
            await self._run(self._index.close)

    async def bring_in(self, jid: str, message_id: str, time: dt.datetime,
                       max_pages: int = 200) -> ChatMessage | None:
        """The message ``message_id`` of ``jid``'s conversation, paging older history in from the
        server archive until it is there (1:1 chats; a room shows what it loaded on joining). None
        when it cannot be brought in: offline, a room, the archive no longer has it."""
        from .history import HistoryError

        conversation = self.session.conversation(jid)
        history = self.session.history
        paged = asyncio.Event()

        def on_page(event: events.SessionEvent) -> None:
            if isinstance(event, (events.HistoryLoaded, events.HistoryPrepended)) and event.jid == jid:
                paged.set()

        unsubscribe = self.session.subscribe(on_page)
        try:
            for _page in range(max_pages):
                message = conversation.by_id.get(message_id)
                if message is not None:
                    return message
                if (jid in self.session.rooms or self.session.state != "online"
                        or not history.has_older(jid)
                        or conversation.messages and conversation.messages[0].time < time - SLACK):
                    return None
                paged.clear()
                if not await history.older(jid) and not paged.is_set():
                    # a page asked for by someone else (opening the conversation) is on its way
                    await asyncio.wait_for(paged.wait(), mam.TIMEOUT)
        except (HistoryError, TimeoutError):
            return None
        finally:
            unsubscribe()
        return None

    # --- what the session shows ---------------------------------------------------------------------

    def _on_event(self, event: events.SessionEvent) -> None:
        if isinstance(event, events.MessageAdded):
            self._later(indexed(event.jid, event.message))
        elif isinstance(event, events.MessageChanged):
            if event.message.corrected or event.message.retracted:  # retracted: body is empty
                self._later(indexed(event.jid, event.message), correction=True)
        elif isinstance(event, events.HistoryLoaded):
            conversation = self.session.conversations.get(event.jid)
            if conversation is not None:
                for message in conversation.messages:
                    self._later(indexed(event.jid, message))
            if event.jid in self.session.rooms:
                self.read_archive(event.jid)  # a room's archive is readable once in it
        elif isinstance(event, events.ConnectionChanged):
            if event.state == "online":
                self.read_archive(*self.session.contacts, *self.session.conversations)
            else:
                self.stop_reading()

    def _later(self, message: IndexedMessage, correction: bool = False) -> None:
        """Queue a message for the index; queued messages are written together, at most every
        :data:`WRITE_EVERY` seconds (a burst of messages costs one write, not one per message)."""
        (self._corrections if correction else self._pending).append(message)
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(WRITE_EVERY, self._spawn_flush)

    def _spawn_flush(self) -> None:
        self._flush = None
        task = asyncio.get_running_loop().create_task(self._write_pending())
        task.add_done_callback(_log_failure)

    async def _write_pending(self) -> None:
        if not (self._pending or self._corrections):
            return
        pending, corrections = self._pending, self._corrections
        self._pending, self._corrections = [], []
        index = self.index
        try:
            added = await self._run(index.add, pending)
            for correction in corrections:
                await self._run(index.correct, correction)
        except IndexUnusable as exc:  # a broken index must not break chatting
            self._failed(exc)
            return
        if added:
            self._emit(IndexChanged(pending[0].conversation if len(
                {m.conversation for m in pending}) == 1 else "", added, self.reading))

    def _failed(self, exc: Exception) -> None:
        self.problem = (f"The search index {index_path(self.session.jid.bare)} cannot be used "
                        f"({exc}); search finds nothing new until it can. Delete the file to "
                        "rebuild it from the server archive.")
        log.warning("search index failed: %s", type(exc).__name__)

    # --- reading the server archive -------------------------------------------------------------------

    def read_archive(self, *conversations: str) -> None:
        """Read the server archive of ``conversations`` into the index in the background (each once
        per session, in the order asked)."""
        for jid in conversations:
            bare = JID(jid).bare
            if bare not in self._queue and bare != self.session.jid.bare:
                self._queue.append(bare)
        if self._reader is None or self._reader.done():
            self._stopped = False
            self._reader = asyncio.get_running_loop().create_task(self._read_queue())
            self._reader.add_done_callback(_log_failure)

    def stop_reading(self) -> None:
        """Stop reading the archive now: what was read stays indexed, and the next reading (the
        next time the session comes online) resumes where this one stopped."""
        self._queue.clear()
        self._stopped = True
        if self._reader is not None:
            self._reader.cancel()

    async def _stop_reading(self) -> None:
        self.stop_reading()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None

    async def wait_read(self) -> None:
        """Return once the archive reading asked for so far has ended."""
        while self._reader is not None and not self._reader.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._reader)

    async def _read_queue(self) -> None:
        self.reading = True
        done: set[str] = set()
        try:
            while self._queue and not self._stopped:
                jid = self._queue.pop(0)
                if jid in done:
                    continue
                done.add(jid)
                try:
                    await self.read_conversation(jid)
                except (IqError, IqTimeout) as exc:
                    log.info("archive of a conversation not readable: %s", type(exc).__name__)
                except IndexUnusable as exc:
                    self._failed(exc)
                    return
        finally:
            self.reading = False
            self._emit(IndexChanged("", 0, False))

    async def read_conversation(self, jid: str) -> int:
        """Read the server archive of one conversation into the index: what is newer than the last
        reading, then older pages until the beginning; returns how many messages were new."""
        index = self.index
        await self._write_pending()
        room = jid in self.session.rooms
        state: SyncState = await self._run(index.sync_state, jid)
        added = 0
        if state.newest:
            while True:
                page = await self._page(jid, room, after=state.newest)
                state = dataclasses.replace(state, newest=page.last or state.newest)
                added += await self._store(jid, page, state)
                if page.complete or not page.results or self._stopped:
                    break
        while not state.complete and not self._stopped:
            page = await self._page(jid, room, before=state.oldest or True)
            state = dataclasses.replace(state, newest=state.newest or page.last,
                                        oldest=page.first or state.oldest,
                                        complete=page.complete or not page.results)
            added += await self._store(jid, page, state)
        return added

    async def _page(self, jid: str, room: bool, *, before: str | bool | None = None,
                    after: str | None = None) -> mam.ArchivePage:
        stream = self.session.stream
        if room:
            return await mam.page(stream, jid, before=before, after=after, size=PAGE)
        return await mam.page(stream, None, with_jid=jid, before=before, after=after, size=PAGE)

    async def _store(self, jid: str, page: mam.ArchivePage, state: SyncState) -> int:
        messages: list[IndexedMessage] = []
        corrections: list[IndexedMessage] = []
        for number, result in enumerate(page.results, 1):
            found = self._from_archive(jid, result)
            if found is not None:
                (corrections if found[1] else messages).append(found[0])
            if number % SLICE == 0:
                await asyncio.sleep(0)  # let keys and live messages through between slices
        added = await self._run(self.index.store_page, jid, messages, corrections, state)
        if added:
            self._emit(IndexChanged(jid, added, True))
        return added

    def _from_archive(self, jid: str, result: Message) -> tuple[IndexedMessage, bool] | None:
        """An archived message as the index keeps it, and whether it corrects an earlier one;
        None for archived stanzas without text. Ids are chosen as the session chooses them, so a
        message seen live and read from the archive is indexed once."""
        from .message_index import IndexedMessage

        forwarded = result["mam_result"]["forwarded"]
        stanza = forwarded["stanza"]
        body = stanza["body"]
        retracts = stanza.xml.find(RETRACT)
        if not body or stanza.xml.find(REACTIONS) is not None:
            return None
        if replies.is_reply(stanza):
            body = replies.read(stanza)[1]  # without the quote of the answered message
        archive_id = result["mam_result"]["id"]
        when = forwarded["delay"]["stamp"]
        own_id = stanza["origin_id"]["id"] or stanza["id"]
        me = self.session.jid.bare
        sender = stanza["from"]
        nick = ""
        if jid in self.session.rooms:
            nick = sender.resource
            item = stanza.xml.find(f"{{{MUC_USER}}}x/{{{MUC_USER}}}item")
            real = JID(item.get("jid")).bare if item is not None and item.get("jid") else ""
            room = self.session.rooms.by_jid.get(jid)
            mine = real == me if real else room is not None and nick == room.nick
            message_id = (own_id or archive_id) if mine else archive_id or own_id
            author = me if mine else real or f"{jid}/{nick}"
        else:
            mine = sender.bare == me
            message_id = own_id or archive_id
            author = sender.bare
        replaces = stanza["replace"]["id"]
        if retracts is not None:  # the retracted message's text leaves the index
            replaces, body = retracts.get("id", ""), ""
        return IndexedMessage(jid, replaces or message_id, author,
                              Direction.OUTGOING if mine else Direction.INCOMING, when, body, nick,
                              archive_id), bool(replaces)


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("search index task failed: %s", type(task.exception()).__name__)
