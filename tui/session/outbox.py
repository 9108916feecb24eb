"""Never lose a message: the outbox of what I sent that the server has not acknowledged yet.

Every chat message I write — to a contact or in a room — is kept in a small SQLite file per account
(under the client's data directory, :func:`tui.settings.data_dir`) from the moment Enter is pressed
until the server acknowledges it (XEP-0198) or refuses it. So is every reaction, correction and
retraction, and a read marker given while offline. Written while offline, these wait there as
*queued*; once the session is online they go out in the order they were written — those for a
room once I am in the room again — also after the client itself was restarted. Each keeps the id
it was given when written (a message's XEP-0359 origin-id), so a message sent twice (the server
took it, the ack was lost with the connection) is recognised by the receiver as the same message.

A correction of a message still queued changes the queued message instead of following it, and a
retraction of one takes it out of the outbox: nobody ever saw it. Of the read markers waiting for a
conversation only the newest is kept (it covers the ones before). A reaction, correction or
retraction waiting to go out says so on its message — after a restart too, once that message is
shown again (history, scrolling) — until it goes out. A room message keeps the nick I had in the
room when I wrote it, shown until the room is known again (its bookmark, my joining it).

Each running client of the account has an outbox of its own (see :mod:`tui.session.instance`):
two clients of one account on one machine never send each other's queued messages, and a client
that is restarted finds its own again. What a client that no longer runs left in its outbox moves
into the outbox of the next client of the account that starts, and goes out from there.

A resumed stream (XEP-0198) needs no help: slixmpp resends what the server has not acknowledged,
and only what was queued while offline goes out here. After a fresh login (the server restarted,
the stream could not be resumed) everything still in the outbox goes out again.

The file is tiny and written once per stanza, so it is written on the caller's thread: a message
shown as queued is on disk.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import sqlite3
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from slixmpp import JID, Message

from . import events, replies
from .instance import InstanceBusy, InstanceLock
from .localfile import VersionedFile
from .model import ChatMessage, Delivery, Direction

if TYPE_CHECKING:
    from .client import ChatSession

log = logging.getLogger(__name__)

DISPLAYED = "{urn:xmpp:chat-markers:0}displayed"

SCHEMA_VERSION = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS outgoing (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL,
    peer TEXT NOT NULL,
    stanza TEXT NOT NULL,
    written REAL NOT NULL,
    nick TEXT NOT NULL DEFAULT '',
    CONSTRAINT uq_outgoing_message_id UNIQUE (message_id)
);
"""

MIGRATIONS = {2: ("ALTER TABLE outgoing ADD COLUMN nick TEXT NOT NULL DEFAULT ''",)}
"""Version 2 keeps the nick a room message was written under (rows of version 1 have none)."""


class OutboxUnusable(Exception):
    """The outbox file cannot be read or written; the text says why and what to do."""


@dataclass(frozen=True)
class OutgoingMessage:
    """A message waiting for the server's acknowledgement, as the outbox keeps it."""

    message_id: str
    peer: str
    """The bare JID it goes to."""
    stanza: str
    """The whole ``<message/>`` as XML, ready to be sent again."""
    written: dt.datetime
    nick: str = ""
    """For a message to a room: my nick there when I wrote it (empty in rows of older clients)."""


def outbox_folder(account: str) -> Path:
    """Where the outboxes of ``account``'s clients (a bare JID) and their locks are."""
    from tui.settings import data_dir

    return data_dir() / "outbox" / JID(account).bare


def outbox_path(account: str, instance: int = 0) -> Path:
    """The outbox file of the running client number ``instance`` of ``account`` (a bare JID)."""
    return outbox_folder(account) / f"{instance}.sqlite3"


class Outbox(VersionedFile):
    """The outbox file: messages in the order they were written. Every method blocks briefly."""

    schema = SCHEMA
    version = SCHEMA_VERSION
    migrations = MIGRATIONS

    def refused(self, problem: str) -> Exception:
        return OutboxUnusable(f"the outbox {self.path} {problem} (deleting the file loses the "
                              "messages waiting in it)")

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        try:
            yield self.db
        except sqlite3.Error as exc:
            raise OutboxUnusable(f"the outbox {self.path} cannot be written ({exc}); check that "
                                 "the disk is not full") from None

    def put(self, message: OutgoingMessage) -> None:
        """Keep ``message`` (again: nothing changes)."""
        with self._writing() as db:
            db.execute("INSERT OR IGNORE INTO outgoing (message_id, peer, stanza, written, nick) "
                       "VALUES (?, ?, ?, ?, ?)", (message.message_id, message.peer, message.stanza,
                                                  message.written.timestamp(), message.nick))

    def rewrite(self, message_id: str, stanza: str) -> bool:
        """Replace the stanza kept as ``message_id`` (in its place); True when it was here."""
        with self._writing() as db:
            return db.execute("UPDATE outgoing SET stanza = ? WHERE message_id = ?",
                              (stanza, message_id)).rowcount > 0

    def remove(self, message_id: str) -> bool:
        """Forget ``message_id`` (acknowledged or refused); True when it was here."""
        with self._writing() as db:
            return db.execute("DELETE FROM outgoing WHERE message_id = ?", (message_id,)).rowcount > 0

    def waiting(self) -> list[OutgoingMessage]:
        """Every message kept, in the order written."""
        with self._writing() as db:
            rows = db.execute("SELECT message_id, peer, stanza, written, nick FROM outgoing "
                              "ORDER BY seq")
            return [OutgoingMessage(m, p, s, dt.datetime.fromtimestamp(w, dt.UTC), n)
                    for m, p, s, w, n in rows]

    def adopt(self, other: Outbox) -> int:
        """Move what waits in ``other`` here, after what waits here; returns how many."""
        rows = other.waiting()
        for row in rows:
            self.put(row)
        for row in rows:
            other.remove(row.message_id)
        return len(rows)


def legacy_outbox_path(account: str) -> Path:
    """Where clients before numbered instances kept the one outbox of ``account``."""
    from tui.settings import data_dir

    return data_dir() / "outbox" / f"{JID(account).bare}.sqlite3"


def claim_outbox(account: str, instance: InstanceLock) -> Outbox:
    """The outbox of the running client ``instance`` of ``account``. What clients that no longer
    run left in theirs moves into it, first what an older client kept in the single outbox of the
    account; the outboxes of running clients are left alone."""
    mine = Outbox(outbox_path(account, instance.number))
    legacy = legacy_outbox_path(account)
    if legacy.exists() and _take_over(mine, Outbox(legacy)):
        for leftover in (legacy, legacy.with_name(legacy.name + "-wal"),
                         legacy.with_name(legacy.name + "-shm")):
            leftover.unlink(missing_ok=True)
    for path in sorted(outbox_folder(account).glob("*.sqlite3")):
        if not path.stem.isdigit() or int(path.stem) == instance.number:
            continue
        held = InstanceLock.take(instance.folder, int(path.stem))
        if held is None:
            continue  # that client runs: its messages are its own
        try:
            _take_over(mine, Outbox(path))
        finally:
            held.release()
    return mine


def _take_over(mine: Outbox, left: Outbox) -> bool:
    """Move what waits in ``left`` into ``mine``, saying so; True when all of it moved. An
    unreadable ``left`` is left as it is, with a warning."""
    try:
        moved = mine.adopt(left)
    except OutboxUnusable as exc:
        log.warning("%s", exc)
        return False
    else:
        if moved:
            log.info("took over %d message(s) a closed client left in %s", moved, left.path)
        return True
    finally:
        left.close()


class OutboxService:
    """The session's outbox: keeps what I write until the server has it, sends what waits."""

    def __init__(self, session: ChatSession, emit: Callable[[events.SessionEvent], None]) -> None:
        self.session = session
        self._emit = emit
        self._store: Outbox | None = None
        self._in_flight: set[str] = set()  # sent on the current stream, in slixmpp's resend queue
        self._kept: dict[str, str] = {}  # ids in the file -> peer, so acks of others cost no file access
        self._markers: dict[str, str] = {}  # peer -> id of its read marker waiting in the file
        self._acting: dict[str, tuple[str, ChatMessage, str]] = {}  # id -> (peer, message, label)
        self._unseen: dict[str, tuple[str, str, str]] = {}  # id -> (peer, ref, label): not shown yet

    @property
    def store(self) -> Outbox:
        """This client's outbox file (see :func:`claim_outbox`); raises :class:`OutboxUnusable`."""
        if self._store is None:
            try:
                instance = self.session.instance
            except (OSError, InstanceBusy) as exc:
                raise OutboxUnusable(f"no outbox can be kept ({exc}); check that the client's "
                                     "data directory is writable") from None
            self._store = claim_outbox(self.session.jid.bare, instance)
        return self._store

    def restore(self) -> int:
        """Put what an earlier run left in the outbox back into the conversations, as queued:
        messages are shown again, reactions, corrections and retractions applied again to their
        messages (now, or when those come with history); returns how many. A file that cannot
        be read is logged, not fatal."""
        restored = 0
        for row in self._waiting():
            if row.message_id in self._kept:
                continue  # restored already, or written in this run: shown as it is
            self._kept[row.message_id] = row.peer
            stanza = Message(xml=ET.fromstring(row.stanza))  # read only: no stream needed yet
            if stanza.xml.find(DISPLAYED) is not None:
                self._markers[row.peer] = row.message_id
                continue
            conversation = self.session.conversation(row.peer)
            if self._restore_action(row, stanza) or row.message_id in conversation.by_id:
                continue
            in_room = stanza["type"] == "groupchat"
            message = ChatMessage(row.message_id, Direction.OUTGOING, self.session.jid.bare,
                                  stanza["body"], row.written, delivery=Delivery.QUEUED,
                                  nick=self._nick_in(row.peer, row.nick) if in_room else "")
            self.session.actions.annotate(message, stanza, conversation.jid)
            index = conversation.add(message)
            self._emit(events.MessageAdded(conversation.jid, message, index))
            restored += 1
        return restored

    def _restore_action(self, row: OutgoingMessage, stanza: Message) -> bool:
        """Apply a kept reaction, correction or retraction to its message again; False when
        ``stanza`` is none of these."""
        what = self.session.actions.label(stanza)
        if not what:
            return False
        actions = self.session.actions
        actions.take(row.peer, stanza, self.session.jid.bare, mine=True, when=row.written, live=False)
        ref = actions.ref(stanza)
        target = self.session.conversation(row.peer).find(ref)
        if target is not None:
            self._waits_on(row.message_id, row.peer, target, what)
            self._emit(events.MessageChanged(row.peer, target))
        else:
            self._unseen[row.message_id] = (row.peer, ref, what)  # see came_in
        return True

    def _nick_in(self, room: str, kept: str) -> str:
        """My nick in ``room`` for a message waiting to go out there: the room's when it is known
        (bookmark, joined), else the one ``kept`` with the message, else the default one."""
        known = self.session.rooms.by_jid.get(room)
        return (known.nick if known is not None else "") or kept or self.session.rooms.default_nick()

    def came_in(self, jid: str) -> None:
        """Messages of the conversation ``jid`` came in (history, an older page): those that a
        restored reaction, correction or retraction still waiting to go out acts on say so, as
        they did before the restart (the history event that follows redraws them)."""
        if not self._unseen:
            return
        conversation = self.session.conversation(jid)
        for stanza_id, (peer, ref, what) in list(self._unseen.items()):
            if peer == jid and (target := conversation.find(ref)) is not None:
                del self._unseen[stanza_id]
                self._waits_on(stanza_id, peer, target, what)

    def nick_changed(self, room: str) -> None:
        """My nick in ``room`` is known now or changed: my messages waiting to go out there will
        go out under it, so they show it."""
        conversation = self.session.conversations.get(room)
        if conversation is None:
            return
        for message_id, peer in list(self._kept.items()):
            message = conversation.by_id.get(message_id) if peer == room else None
            if message is None or message.delivery is not Delivery.QUEUED:
                continue
            nick = self._nick_in(room, message.nick)
            if message.nick != nick:
                message.nick = nick
                self._emit(events.MessageChanged(room, message))

    def _waiting(self) -> list[OutgoingMessage]:
        """What waits in the outbox; nothing (and a log line) when the file cannot be read."""
        try:
            return self.store.waiting()
        except OutboxUnusable as exc:
            log.warning("%s", exc)
            return []

    def _waits_on(self, stanza_id: str, peer: str, target: ChatMessage, what: str) -> None:
        target.queued.append(what)
        self._acting[stanza_id] = (peer, target, what)

    # --- what goes out -------------------------------------------------------------------------

    def can_send(self, peer: str, groupchat: bool) -> bool:
        """Whether a stanza to ``peer`` may go out now: online, in the room if it is one, and
        nothing for ``peer`` still waiting before it."""
        if self.session.state != "online" or (groupchat and not self._in_room(peer)):
            return False
        return not any(p == peer and i not in self._in_flight for i, p in self._kept.items())

    def keep(self, peer: str, message: ChatMessage, stanza: Message) -> None:
        """Write ``message`` (its ``stanza`` built; in a room with my nick there) to the outbox;
        raises :class:`OutboxUnusable`."""
        self._put(peer, message.id, stanza, message.time, message.nick)

    def _put(self, peer: str, stanza_id: str, stanza: Message, written: dt.datetime,
             nick: str = "") -> None:
        self.store.put(OutgoingMessage(stanza_id, peer, ET.tostring(stanza.xml, encoding="unicode"),
                                       written, nick))
        self._kept[stanza_id] = peer

    def hold(self, peer: str, message: ChatMessage, stanza: Message) -> bool:
        """Keep my new ``message`` until the server has it; True when it cannot go out now and
        waits as *queued* (then :class:`OutboxUnusable` is raised when it cannot be kept).
        Otherwise :meth:`release` sends it once it is shown."""
        waits = not self.can_send(peer, stanza["type"] == "groupchat")
        if waits:
            message.delivery = Delivery.QUEUED
            self.keep(peer, message, stanza)
        else:
            try:
                self.keep(peer, message, stanza)
            except OutboxUnusable as exc:  # online it can still go out, just not survive a crash
                log.warning("%s", exc)
        return waits

    def release(self, stanza: Message) -> None:
        """Send ``stanza`` now and ask the server for an ack at once, not after the next few."""
        stanza.send()
        self.sent(stanza["id"])
        if self.session.stream.plugin["xep_0198"].enabled_out:
            self.session.stream.plugin["xep_0198"].request_ack()

    def send(self, peer: str, stanza: Message, target: ChatMessage | None = None) -> bool:
        """Send a reaction, correction, retraction or read marker to ``peer`` now, or keep it to go
        out in order once it can (``target``, the message it acts on, then says it is queued);
        True when it went out now. Raises :class:`OutboxUnusable` when it has to wait but
        cannot be kept. Read markers sent at once are not kept: a lost one costs nothing."""
        if not stanza["id"]:
            stanza["id"] = str(uuid.uuid4())
        stanza_id = stanza["id"]
        marker = stanza.xml.find(DISPLAYED) is not None
        if self.can_send(peer, stanza["type"] == "groupchat"):
            if not marker:
                try:
                    self._put(peer, stanza_id, stanza, _now())
                except OutboxUnusable as exc:
                    log.warning("%s", exc)
            self.release(stanza)
            return True
        self._put(peer, stanza_id, stanza, _now())
        if marker and (older := self._markers.get(peer)) is not None:
            self._forget(older)  # the newer marker covers it
        if marker:
            self._markers[peer] = stanza_id
        what = self.session.actions.label(stanza)
        if target is not None and what:
            self._waits_on(stanza_id, peer, target, what)
        return False

    def waiting(self, message_id: str) -> bool:
        """Whether ``message_id`` waits in the outbox and has not gone out yet."""
        return message_id in self._kept and message_id not in self._in_flight

    def rewrite(self, message_id: str, body: str) -> bool:
        """Give the queued message ``message_id`` a new text (a correction before it went out);
        True when done. A reply keeps its quote in front."""
        if not self.waiting(message_id):
            return False
        row = next((r for r in self._waiting() if r.message_id == message_id), None)
        if row is None:
            return False
        stanza = Message(xml=ET.fromstring(row.stanza))
        quoted = stanza["reply"].get_fallback_body() if replies.is_reply(stanza) else ""
        stanza["body"] = quoted + body
        return self.store.rewrite(message_id, ET.tostring(stanza.xml, encoding="unicode"))

    def withdraw(self, message_id: str) -> bool:
        """Take the queued message ``message_id`` out before it went out (a retraction); True
        when done."""
        if not self.waiting(message_id):
            return False
        self._forget(message_id)
        return True

    def _forget(self, stanza_id: str) -> None:
        self._kept.pop(stanza_id, None)
        self._unseen.pop(stanza_id, None)
        self.store.remove(stanza_id)

    def sent(self, message_id: str) -> None:
        """``message_id`` just went out on the current stream."""
        self._in_flight.add(message_id)
        self._unseen.pop(message_id, None)  # gone out: its message shows no label when it comes
        acting = self._acting.pop(message_id, None)
        if acting is not None:
            peer, target, what = acting
            if what in target.queued:
                target.queued.remove(what)
            self._emit(events.MessageChanged(peer, target))
        if not self.session.stream.plugin["xep_0198"].enabled_out:
            self.settled(message_id)  # no acknowledgements will come: sent is all we can know

    def settled(self, message_id: str) -> None:
        """The server acknowledged or refused ``message_id``: it leaves the outbox."""
        self._in_flight.discard(message_id)
        peer = self._kept.pop(message_id, None)
        if peer is None:
            return
        if self._markers.get(peer) == message_id:
            del self._markers[peer]
        try:
            self.store.remove(message_id)
        except OutboxUnusable as exc:  # it would go out once more, and be recognised by its id
            log.warning("%s", exc)

    def send_waiting(self, resumed: bool) -> int:
        """The session is online: send what waits, in order, except what waits for a room I am
        not in yet (:meth:`room_joined` sends that); returns how many went out.
        ``resumed``: the stream was resumed, and slixmpp resends what it sent before itself."""
        if not resumed:
            self._in_flight.clear()  # a new stream: slixmpp dropped what it had not got acked
        return self._flush()

    def room_joined(self, jid: str) -> int:
        """I am in the room ``jid`` again: what waited for it goes out, in order."""
        return self._flush(jid)

    def _flush(self, only: str | None = None) -> int:
        if not any(i not in self._in_flight and (only is None or p == only)
                   for i, p in self._kept.items()):
            return 0
        count = 0
        blocked: set[str] = set()  # rooms I am not in: what follows for them waits too
        for row in self._waiting():
            if row.message_id in self._in_flight or (only is not None and row.peer != only):
                continue
            stanza = self._stanza(row)
            if row.peer in blocked or (stanza["type"] == "groupchat"
                                       and not self._in_room(row.peer)):
                blocked.add(row.peer)
                continue
            stanza.send()
            self.sent(row.message_id)
            count += 1
            conversation = self.session.conversations.get(row.peer)
            message = conversation.by_id.get(row.message_id) if conversation else None
            if message is not None and message.delivery is Delivery.QUEUED:
                message.delivery = Delivery.PENDING
                self._emit(events.MessageChanged(row.peer, message))
        if count:
            log.info("sent %d stanza(s) from the outbox", count)
            if self.session.stream.plugin["xep_0198"].enabled_out:
                self.session.stream.plugin["xep_0198"].request_ack()
        return count

    def _in_room(self, jid: str) -> bool:
        room = self.session.rooms.by_jid.get(jid)
        return room is not None and room.joined

    def close(self) -> None:
        """Close the outbox file (the next use opens it again)."""
        if self._store is not None:
            self._store.close()
            self._store = None

    def _stanza(self, row: OutgoingMessage) -> Message:
        return self.session.stream.Message(xml=ET.fromstring(row.stanza))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
