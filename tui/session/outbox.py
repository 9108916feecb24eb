"""Never lose a message: the outbox of 1:1 messages the server has not acknowledged yet.

Every chat message I write is kept in a small SQLite file per account (under the client's data
directory, :func:`tui.settings.data_dir`) from the moment Enter is pressed until the server
acknowledges it (XEP-0198) or refuses it. Written while offline, a message waits there as
*queued*; once the session is online the waiting messages go out in the order they were written —
also after the client itself was restarted. Each keeps the id it was given when written (its
XEP-0359 origin-id), so a message sent twice (the server took it, the ack was lost with the
connection) is recognised by the receiver as the same message.

Each running client of the account has an outbox of its own (see :mod:`tui.session.instance`):
two clients of one account on one machine never send each other's queued messages, and a client
that is restarted finds its own again. What a client that no longer runs left in its outbox moves
into the outbox of the next client of the account that starts, and goes out from there.

A resumed stream (XEP-0198) needs no help: slixmpp resends what the server has not acknowledged,
and only what was queued while offline goes out here. After a fresh login (the server restarted,
the stream could not be resumed) everything still in the outbox goes out again.

The file is tiny and written once per message, so it is written on the caller's thread: a message
shown as queued is on disk.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from slixmpp import JID, Message

from . import events
from .instance import InstanceBusy, InstanceLock
from .localfile import NewerFileError, open_versioned
from .model import ChatMessage, Delivery, Direction

if TYPE_CHECKING:
    from .client import ChatSession

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS outgoing (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL,
    peer TEXT NOT NULL,
    stanza TEXT NOT NULL,
    written REAL NOT NULL,
    CONSTRAINT uq_outgoing_message_id UNIQUE (message_id)
);
"""


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


def outbox_folder(account: str) -> Path:
    """Where the outboxes of ``account``'s clients (a bare JID) and their locks are."""
    from tui.settings import data_dir

    return data_dir() / "outbox" / JID(account).bare


def outbox_path(account: str, instance: int = 0) -> Path:
    """The outbox file of the running client number ``instance`` of ``account`` (a bare JID)."""
    return outbox_folder(account) / f"{instance}.sqlite3"


class Outbox:
    """The outbox file: messages in the order they were written. Every method blocks briefly."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None

    @property
    def db(self) -> sqlite3.Connection:
        """The open connection (the file and its schema are made on first use)."""
        if self._db is None:
            try:
                self._db = open_versioned(self.path, SCHEMA, SCHEMA_VERSION)
            except NewerFileError:
                raise OutboxUnusable(
                    f"the outbox {self.path} was written by a newer client; update this one "
                    "(deleting the file loses the messages waiting in it)") from None
            except (OSError, sqlite3.Error) as exc:
                raise OutboxUnusable(f"the outbox {self.path} cannot be opened ({exc}); check that "
                                     "the directory is writable and the disk not full") from None
        return self._db

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
            db.execute("INSERT OR IGNORE INTO outgoing (message_id, peer, stanza, written) "
                       "VALUES (?, ?, ?, ?)", (message.message_id, message.peer, message.stanza,
                                               message.written.timestamp()))

    def remove(self, message_id: str) -> bool:
        """Forget ``message_id`` (acknowledged or refused); True when it was here."""
        with self._writing() as db:
            return db.execute("DELETE FROM outgoing WHERE message_id = ?", (message_id,)).rowcount > 0

    def waiting(self) -> list[OutgoingMessage]:
        """Every message kept, in the order written."""
        with self._writing() as db:
            rows = db.execute("SELECT message_id, peer, stanza, written FROM outgoing ORDER BY seq")
            return [OutgoingMessage(m, p, s, dt.datetime.fromtimestamp(w, dt.UTC))
                    for m, p, s, w in rows]

    def adopt(self, other: Outbox) -> int:
        """Move what waits in ``other`` here, after what waits here; returns how many."""
        rows = other.waiting()
        for row in rows:
            self.put(row)
        for row in rows:
            other.remove(row.message_id)
        return len(rows)

    def close(self) -> None:
        """Close the file (it opens again on next use)."""
        if self._db is not None:
            self._db.close()
            self._db = None


def claim_outbox(account: str, instance: InstanceLock) -> Outbox:
    """The outbox of the running client ``instance`` of ``account``. What clients that no longer
    run left in theirs moves into it; the outboxes of running clients are left alone."""
    mine = Outbox(outbox_path(account, instance.number))
    for path in sorted(outbox_folder(account).glob("*.sqlite3")):
        if not path.stem.isdigit() or int(path.stem) == instance.number:
            continue
        held = InstanceLock.take(instance.folder, int(path.stem))
        if held is None:
            continue  # that client runs: its messages are its own
        left = Outbox(path)
        try:
            moved = mine.adopt(left)
        except OutboxUnusable as exc:
            log.warning("%s", exc)
        else:
            if moved:
                log.info("took over %d message(s) a closed client left in %s", moved, path)
        finally:
            left.close()
            held.release()
    return mine


class OutboxService:
    """The session's outbox: keeps what I write until the server has it, sends what waits."""

    def __init__(self, session: ChatSession, emit: Callable[[events.SessionEvent], None]) -> None:
        self.session = session
        self._emit = emit
        self._store: Outbox | None = None
        self._in_flight: set[str] = set()  # sent on the current stream, in slixmpp's resend queue
        self._kept: set[str] = set()  # ids in the file, so acks of others cost no file access

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
        """Put the messages left in the outbox by an earlier run into their conversations, as
        queued; returns how many. A file that cannot be read is logged, not fatal."""
        restored = 0
        for row in self._waiting():
            self._kept.add(row.message_id)
            conversation = self.session.conversation(row.peer)
            if row.message_id in conversation.by_id:
                continue
            stanza = Message(xml=ET.fromstring(row.stanza))  # read only: no stream needed yet
            message = ChatMessage(row.message_id, Direction.OUTGOING, self.session.jid.bare,
                                  stanza["body"], row.written, delivery=Delivery.QUEUED)
            self.session.actions.annotate(message, stanza, conversation.jid)
            index = conversation.add(message)
            self._emit(events.MessageAdded(conversation.jid, message, index))
            restored += 1
        return restored

    def _waiting(self) -> list[OutgoingMessage]:
        """What waits in the outbox; nothing (and a log line) when the file cannot be read."""
        try:
            return self.store.waiting()
        except OutboxUnusable as exc:
            log.warning("%s", exc)
            return []

    def keep(self, peer: str, message: ChatMessage, stanza: Message) -> None:
        """Write ``message`` (its ``stanza`` built) to the outbox; raises :class:`OutboxUnusable`."""
        self.store.put(OutgoingMessage(message.id, peer, ET.tostring(stanza.xml, encoding="unicode"),
                                       message.time))
        self._kept.add(message.id)

    def sent(self, message_id: str) -> None:
        """``message_id`` just went out on the current stream."""
        self._in_flight.add(message_id)
        if not self.session.stream.plugin["xep_0198"].enabled_out:
            self.settled(message_id)  # no acknowledgements will come: sent is all we can know

    def settled(self, message_id: str) -> None:
        """The server acknowledged or refused ``message_id``: it leaves the outbox."""
        self._in_flight.discard(message_id)
        if message_id not in self._kept:
            return
        self._kept.discard(message_id)
        try:
            self.store.remove(message_id)
        except OutboxUnusable as exc:  # it would go out once more, and be recognised by its id
            log.warning("%s", exc)

    def send_waiting(self, resumed: bool) -> int:
        """The session is online: send what waits, in order; returns how many went out.
        ``resumed``: the stream was resumed, and slixmpp resends what it sent before itself."""
        if not resumed:
            self._in_flight.clear()  # a new stream: slixmpp dropped what it had not got acked
        if not self._kept:
            return 0
        count = 0
        for row in self._waiting():
            if row.message_id in self._in_flight:
                continue
            self._stanza(row).send()
            self.sent(row.message_id)
            count += 1
            conversation = self.session.conversations.get(row.peer)
            message = conversation.by_id.get(row.message_id) if conversation else None
            if message is not None and message.delivery is Delivery.QUEUED:
                message.delivery = Delivery.PENDING
                self._emit(events.MessageChanged(row.peer, message))
        if count:
            log.info("sent %d message(s) from the outbox", count)
            if self.session.stream.plugin["xep_0198"].enabled_out:
                self.session.stream.plugin["xep_0198"].request_ack()
        return count

    def close(self) -> None:
        """Close the outbox file (the next use opens it again)."""
        if self._store is not None:
            self._store.close()
            self._store = None

    def _stanza(self, row: OutgoingMessage) -> Message:
        return self.session.stream.Message(xml=ET.fromstring(row.stanza))
