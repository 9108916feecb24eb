"""The local full-text index of messages (CH8): one SQLite file per account with an FTS5 table.

ejabberd 24.12 cannot search its archive on SQLite, so the client keeps its own index of the
history it has seen or fetched. The file is client-local, never the server's database; its schema
is versioned with ``PRAGMA user_version`` and built here (FTS5 tables have no SQLAlchemy form).
Every method is blocking: :class:`~tui.session.search.SearchService` calls them on one worker
thread, which also owns the connection.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .localfile import VersionedFile
from .model import Direction

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS message (
    id INTEGER NOT NULL,
    conversation TEXT NOT NULL,
    message_id TEXT NOT NULL,
    archive_id TEXT NOT NULL DEFAULT '',
    sender TEXT NOT NULL,
    nick TEXT NOT NULL DEFAULT '',
    direction TEXT NOT NULL,
    time REAL NOT NULL,
    body TEXT NOT NULL,
    CONSTRAINT pk_message PRIMARY KEY (id),
    CONSTRAINT uq_message_conversation UNIQUE (conversation, message_id),
    CONSTRAINT ck_message_direction CHECK (direction IN ('in', 'out'))
);
CREATE INDEX IF NOT EXISTS ix_message_conversation_time ON message (conversation, time);
CREATE INDEX IF NOT EXISTS ix_message_time ON message (time);
CREATE VIRTUAL TABLE IF NOT EXISTS message_text USING fts5(
    body, content='message', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS message_inserted AFTER INSERT ON message BEGIN
    INSERT INTO message_text (rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER IF NOT EXISTS message_deleted AFTER DELETE ON message BEGIN
    INSERT INTO message_text (message_text, rowid, body) VALUES ('delete', old.id, old.body);
END;
CREATE TRIGGER IF NOT EXISTS message_corrected AFTER UPDATE OF body ON message BEGIN
    INSERT INTO message_text (message_text, rowid, body) VALUES ('delete', old.id, old.body);
    INSERT INTO message_text (rowid, body) VALUES (new.id, new.body);
END;
CREATE TABLE IF NOT EXISTS archive_sync (
    conversation TEXT NOT NULL,
    newest TEXT NOT NULL DEFAULT '',
    oldest TEXT NOT NULL DEFAULT '',
    complete INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT pk_archive_sync PRIMARY KEY (conversation)
);
"""
"""Messages by conversation and id, their text in FTS5 (kept in step by triggers), and how far the
server archive of each conversation has been read."""

MARK_START = "\x02"
"""Starts a matched term in :attr:`Hit.snippet`."""
MARK_END = "\x03"
"""Ends a matched term in :attr:`Hit.snippet`."""

_COLUMNS = "m.conversation, m.message_id, m.sender, m.direction, m.time, m.body, m.nick, m.archive_id"


@dataclass(frozen=True)
class IndexedMessage:
    """A message as the index keeps it."""

    conversation: str
    """Bare JID of the contact or room."""
    message_id: str
    """The id the session knows the message by (origin id; a room's archive id for others'
    room messages)."""
    sender: str
    direction: Direction
    time: dt.datetime
    body: str
    nick: str = ""
    """In a room: the sender's nickname there."""
    archive_id: str = ""
    """The server archive's id, when the message came from there."""


@dataclass(frozen=True)
class Hit:
    """A message matching a search, with a piece of its text around the match."""

    message: IndexedMessage
    snippet: str
    """Text around the match; matched terms are between :data:`MARK_START` and :data:`MARK_END`."""

    def snippet_parts(self) -> list[tuple[str, bool]]:
        """The snippet as (text, matched) pieces, for highlighting."""
        parts: list[tuple[str, bool]] = []
        for piece in re.split(f"({MARK_START}[^{MARK_END}]*{MARK_END})", self.snippet):
            if piece.startswith(MARK_START):
                parts.append((piece.strip(MARK_START + MARK_END), True))
            elif piece:
                parts.append((piece, False))
        return parts


@dataclass(frozen=True)
class SyncState:
    """How far the server archive of one conversation has been read into the index."""

    newest: str = ""
    """Archive id of the newest message read: catching up starts after it."""
    oldest: str = ""
    """Archive id of the oldest message read: reading back continues before it."""
    complete: bool = False
    """Everything older than :attr:`oldest` has been read."""


def fts_query(text: str) -> str:
    """What the user typed as an FTS5 query: every word must occur (as a word or the start of one);
    ``"quoted words"`` must occur as a phrase. Empty when there is nothing to look for."""
    terms: list[str] = []
    for phrase, word in re.findall(r'"([^"]*)"|(\w+)', text):
        if phrase.strip():
            terms.append('"' + " ".join(re.findall(r"\w+", phrase)) + '"')
        elif word:
            terms.append(f'"{word}"*')
    return " ".join(t for t in terms if t != '""')


def _row(row: tuple[str, str, str, str, float, str, str, str]) -> IndexedMessage:
    conversation, message_id, sender, direction, time, body, nick, archive_id = row
    return IndexedMessage(conversation, message_id, sender, Direction(direction),
                          dt.datetime.fromtimestamp(time, dt.UTC), body, nick, archive_id)


def _values(message: IndexedMessage) -> tuple[str, str, str, str, str, str, float, str]:
    return (message.conversation, message.message_id, message.archive_id, message.sender,
            message.nick, message.direction.value, message.time.timestamp(), message.body)


_INSERT = ("INSERT OR IGNORE INTO message (conversation, message_id, archive_id, sender, nick, direction, "
           "time, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")


def _insert(db: sqlite3.Connection, messages: Iterable[IndexedMessage]) -> int:
    return max(0, db.executemany(_INSERT, [_values(m) for m in messages]).rowcount)


def _correct(db: sqlite3.Connection, message: IndexedMessage) -> None:
    """Only the author changes a message: a correction by anyone else leaves it as it is."""
    known = db.execute("SELECT sender FROM message WHERE conversation = ? AND message_id = ?",
                       (message.conversation, message.message_id)).fetchone()
    if known is None:
        db.execute(_INSERT, _values(message))
    elif known[0] == message.sender:
        db.execute("UPDATE message SET body = ? WHERE conversation = ? AND message_id = ?",
                   (message.body, message.conversation, message.message_id))


class MessageIndex(VersionedFile):
    """One account's index file: add, correct, search, and the archive reading position."""

    schema = SCHEMA
    version = SCHEMA_VERSION

    def refused(self, problem: str) -> Exception:
        return RuntimeError(f"the search index {self.path} {problem}; or delete the file to "
                            "rebuild the index")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def add(self, messages: Iterable[IndexedMessage]) -> int:
        """Store messages not indexed yet (by conversation and id); returns how many were new."""
        with self._transaction() as db:
            return _insert(db, messages)

    def correct(self, message: IndexedMessage) -> None:
        """A message's text was replaced (XEP-0308) or retracted (XEP-0424, empty text) by its
        author: index the new text; a correction of a message not indexed yet stands in for it, so
        the original arriving later does not undo it."""
        with self._transaction() as db:
            _correct(db, message)

    def search(self, text: str, limit: int = 100, conversation: str | None = None) -> list[Hit]:
        """Messages matching ``text`` (see :func:`fts_query`), newest first."""
        query = fts_query(text)
        if not query:
            return []
        where = "message_text MATCH ?" + (" AND m.conversation = ?" if conversation else "")
        params: tuple[object, ...] = (query, conversation) if conversation else (query,)
        join = "FROM message_text JOIN message AS m ON m.id = message_text.rowid"
        # the newest matches first, then snippets for those only: snippet() on every match of a
        # common word would cost more than the search itself
        ids = [row[0] for row in self.db.execute(
            f"SELECT m.id {join} WHERE {where} ORDER BY m.time DESC LIMIT ?", (*params, limit))]
        if not ids:
            return []
        rows = self.db.execute(
            f"SELECT m.id, {_COLUMNS}, snippet(message_text, 0, '{MARK_START}', '{MARK_END}', '…', 12) "
            f"{join} WHERE message_text MATCH ? AND m.id IN ({', '.join('?' * len(ids))})",
            (query, *ids)).fetchall()
        by_id = {row[0]: Hit(_row(row[1:9]), row[9]) for row in rows}
        return [by_id[i] for i in ids if i in by_id]

    def history(self, conversation: str) -> list[IndexedMessage]:
        """Every indexed message of a conversation, oldest first."""
        rows = self.db.execute(f"SELECT {_COLUMNS} FROM message AS m WHERE m.conversation = ? "
                               "ORDER BY m.time, m.id", (conversation,)).fetchall()
        return [_row(row) for row in rows]

    def count(self) -> int:
        """How many messages are indexed."""
        return int(self.db.execute("SELECT count(*) FROM message").fetchone()[0])

    def sync_state(self, conversation: str) -> SyncState:
        """How far the server archive of ``conversation`` has been read."""
        row = self.db.execute("SELECT newest, oldest, complete FROM archive_sync WHERE conversation = ?",
                              (conversation,)).fetchone()
        return SyncState(row[0], row[1], bool(row[2])) if row else SyncState()

    def store_page(self, conversation: str, messages: Iterable[IndexedMessage],
                   corrections: Iterable[IndexedMessage], state: SyncState) -> int:
        """One page read from the archive and the position after it, in one transaction (so an
        interrupted reading resumes where it stopped); returns how many messages were new."""
        with self._transaction() as db:
            added = _insert(db, messages)
            for correction in corrections:
                _correct(db, correction)
            db.execute("INSERT INTO archive_sync (conversation, newest, oldest, complete) "
                       "VALUES (?, ?, ?, ?) ON CONFLICT (conversation) DO UPDATE SET "
                       "newest = excluded.newest, oldest = excluded.oldest, complete = excluded.complete",
                       (conversation, state.newest, state.oldest, int(state.complete)))
        return added
