"""The journal's storage: entries built from archived stanzas, notes, grants, and queries.

Ingest turns archive rows into journal entries — one per conversation (same peer or room, split
by a quiet gap; a room's for everyone in it), one per A/V chat or screen share — and writes them
with batched Core statements in the same transaction as the archive cursor, so a crash never
loses or doubles an entry.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    FromClause,
    Select,
    Text,
    bindparam,
    cast,
    delete,
    func,
    insert,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from schema import (
    ComponentState,
    JournalEntry,
    JournalGrant,
    JournalNote,
    JournalRoomOccupant,
    session_factory,
)

from .archive import ArchivedStanza
from .rooms import RoomPresence

CURSOR = ("journal", "archive_cursor")
REVISION = ("journal", "revision")
"""The counter every writing transaction moves on (see :meth:`JournalStore.changed_since`)."""
PREVIEW_CHARS = 200
DEFAULT_GAP = dt.timedelta(minutes=30)
CACHED_STATES = 20_000
"""Entry states ingest keeps between batches before it reads them from the database again."""
KINDS = ("chat", "groupchat", "audio", "video", "screen", "call", "planned")


@dataclass
class EntryState:
    """An entry being built or extended by ingest."""

    owner: str
    kind: str
    peer: str
    direction: str
    started_at: dt.datetime
    ended_at: dt.datetime
    source: str
    result: str = "answered"
    messages_in: int = 0
    messages_out: int = 0
    preview: str = ""
    duration_s: int = 0
    id: int | None = None
    dirty: bool = True


_NO_ENTRY = EntryState("", "", "", "", dt.datetime.min.replace(tzinfo=dt.UTC),
                       dt.datetime.min.replace(tzinfo=dt.UTC), "")
"""Marks a conversation known to have no entry yet (so ingest does not look it up again)."""


@dataclass
class IngestResult:
    """What one ingest step changed."""

    cursor: int
    entries: list[EntryState] = field(default_factory=list)


class JournalStore:
    """Entries, notes and grants in Switchboard's database."""

    def __init__(self, engine: AsyncEngine, domain: str, gap: dt.timedelta = DEFAULT_GAP) -> None:
        self.engine = engine
        self.sessions = session_factory(engine)
        self.domain = domain
        # SQLite answers a journal view in well under a millisecond: reading synchronously on a
        # connection of our own costs less than a hop to aiosqlite's thread (PostgreSQL stays async)
        self._reader = (sqlalchemy.create_engine(engine.url.set(drivername="sqlite"),
                                                 connect_args={"check_same_thread": False})
                        if engine.dialect.name == "sqlite" else None)
        self._raw: Any = None
        if self._reader is not None:
            self._raw = self._reader.raw_connection().driver_connection
        self._sql: dict[tuple[Any, ...], tuple[str, tuple[str, ...], dict[str, Any]]] = {}
        self.gap = gap
        self._open: dict[tuple[str, str, str], EntryState] = {}
        self._calls: dict[tuple[str, str], EntryState] = {}
        self._occupants: dict[str, dict[str, str]] = {}  # room -> local occupant's full JID -> nick
        self._occupancy: dict[tuple[str, str], tuple[str, dt.datetime] | None] = {}  # to write
        self.sqlite = engine.dialect.name == "sqlite"

    # --- cursor ------------------------------------------------------------------------------------

    async def cursor(self) -> int:
        """The last archive id applied."""
        async with self.engine.connect() as connection:
            value = await connection.scalar(select(ComponentState.value).where(
                ComponentState.component == CURSOR[0], ComponentState.name == CURSOR[1]))
        return int(value) if value else 0

    # --- ingest ------------------------------------------------------------------------------------

    async def ingest(self, stanzas: Sequence[ArchivedStanza], cursor: int,
                     presences: Sequence[RoomPresence] = ()) -> IngestResult:
        """Apply who entered and left rooms, then archive stanzas (in id order), and move the
        cursor to ``cursor``, atomically. A room message counts for the local users in the room
        at that point: ``presences`` seen before the stanzas were read come first."""
        try:
            async with self.engine.begin() as connection:
                await self._preload(connection, stanzas)
                for presence in presences:
                    await self._room_presence(connection, presence)
                touched: dict[int, EntryState] = {}
                for stanza in stanzas:
                    for state in await self._apply(connection, stanza):
                        touched[id(state)] = state
                await self._write(connection, list(touched.values()))
                await self._write_occupancy(connection)
                await self._save_cursor(connection, cursor)
        except BaseException:
            self._forget()  # the cached states hold changes the rollback undid
            raise
        if len(self._open) + len(self._calls) > CACHED_STATES:
            self._forget()  # written and unchanged: the database has them when needed again
        return IngestResult(cursor, list(touched.values()))

    def _forget(self) -> None:
        """Drop the cached entry states; ingest reads them from the database again."""
        self._open.clear()
        self._calls.clear()
        self._occupants.clear()
        self._occupancy.clear()

    async def _preload(self, connection: AsyncConnection, stanzas: Sequence[ArchivedStanza]) -> None:
        """Load the latest entry of every 1:1 conversation the batch touches in one query, so
        ingest costs no round trip per message."""
        keys = sorted({(s.archive, s.peer) for s in stanzas if not s.room and s.call is None
                       and (s.archive, "chat", s.peer) not in self._open})
        if not keys:
            return
        for row in await self._prepared(connection, self._latest_chats, keys):
            state = self._state(EntryRow.from_sqlite(row) if self.sqlite else row)
            self._open[(state.owner, "chat", state.peer)] = state
        for owner, peer in keys:  # conversations never seen: none to extend
            self._open.setdefault((owner, "chat", peer), _NO_ENTRY)

    def _pairs(self) -> tuple[FromClause, ColumnElement[Any], ColumnElement[Any]]:
        """A table of string pairs to join, and its two columns. The pairs travel as one bound
        value (see :meth:`_prepared`), so a statement is compiled once and each pair costs an
        index seek — a row-value ``IN`` list made SQLite scan the whole index."""
        if self.sqlite:  # a JSON array of pairs
            table = func.json_each(bindparam("pairs")).table_valued("value").alias("pairs")
            return table, func.json_extract(table.c.value, "$[0]"), func.json_extract(table.c.value, "$[1]")
        table = func.unnest(bindparam("firsts", type_=ARRAY(Text)), bindparam("seconds", type_=ARRAY(Text))
                            ).table_valued("first", "second").render_derived().alias("pairs")
        return table, table.c.first, table.c.second

    @functools.cached_property
    def _latest_chats(self) -> Select:
        """The latest chat entry of each (owner, peer) pair: one seek in the (owner, peer, time)
        index per pair."""
        pairs, owner, peer = self._pairs()
        latest = (select(JournalEntry.id)
                  .where(JournalEntry.owner == owner, JournalEntry.peer == peer, JournalEntry.kind == "chat")
                  .order_by(JournalEntry.started_at.desc()).limit(1).correlate(pairs).scalar_subquery())
        return select(JournalEntry.__table__).select_from(pairs).join(JournalEntry, JournalEntry.id == latest)

    @functools.cached_property
    def _written_ids(self) -> Select:
        """Ids of entries by (owner, source) pairs: one seek in the unique index per pair."""
        pairs, owner, source = self._pairs()
        return (select(JournalEntry.id, JournalEntry.owner, JournalEntry.source).select_from(pairs)
                .join(JournalEntry, (JournalEntry.owner == owner) & (JournalEntry.source == source)))

    async def _prepared(self, connection: AsyncConnection, statement: Select,
                        pairs: Sequence[tuple[str, str]]) -> Sequence[Any]:
        """Rows of one of ingest's statements for ``pairs``. On SQLite the statement is compiled
        once and runs through the driver (the same SQL text, so SQLite reuses its prepared
        statement; times come back as text, see :meth:`EntryRow.from_sqlite`)."""
        if not self.sqlite:
            return (await connection.execute(statement, {"firsts": [p[0] for p in pairs],
                                                         "seconds": [p[1] for p in pairs]})).all()
        sql, names, constants = self._compiled(statement)
        values = {**constants, "pairs": json.dumps(pairs)}
        return (await connection.exec_driver_sql(sql, tuple(values[n] for n in names))).all()

    def _compiled(self, statement: Select) -> tuple[str, tuple[str, ...], dict[str, Any]]:
        """A statement as SQLite SQL: its text, its parameters in order, and the values of its
        constant parameters (compiling costs ten times what SQLite then does)."""
        key = ("statement", id(statement))
        if key not in self._sql:
            compiled = statement.compile(dialect=sqlite_dialect())
            self._sql[key] = (compiled.string, tuple(compiled.positiontup or ()), compiled.params)
        return self._sql[key]

    @staticmethod
    def _state(row: Any) -> EntryState:
        return EntryState(row.owner, row.kind, row.peer, row.direction, _aware(row.started_at),
                          _aware(row.ended_at), row.source, row.result, row.messages_in,
                          row.messages_out, row.preview, row.duration_s, row.id, dirty=False)

    async def _apply(self, connection: AsyncConnection, stanza: ArchivedStanza) -> list[EntryState]:
        if stanza.call is not None:
            state = await self._call(connection, stanza)
            return [state] if state else []
        if stanza.room:
            return await self._room_message(connection, stanza)
        state = await self._conversation(connection, stanza.archive, "chat", stanza.peer, stanza.when,
                                         "out" if stanza.outgoing else "in", f"archive:{stanza.id}")
        if not stanza.correction:
            if stanza.outgoing:
                state.messages_out += 1
            else:
                state.messages_in += 1
        state.preview = stanza.body[:PREVIEW_CHARS]
        state.ended_at = max(state.ended_at, stanza.when)
        state.dirty = True
        return [state]

    async def _room_message(self, connection: AsyncConnection, stanza: ArchivedStanza) -> list[EntryState]:
        """A room message counts in the room entry of every local user in the room, and of its
        sender: who speaks there is there."""
        room = stanza.archive
        if stanza.peer.endswith("@" + self.domain) and stanza.sender:
            await self._room_presence(connection, RoomPresence(room, stanza.sender, stanza.nick, True))
        owners = {occupant.partition("/")[0] for occupant in await self._occupants_of(connection, room)}
        if stanza.peer.endswith("@" + self.domain):
            owners.add(stanza.peer)
        changed = []
        for owner in sorted(owners):
            outgoing = owner == stanza.peer
            state = await self._conversation(connection, owner, "groupchat", room, stanza.when,
                                             "out" if outgoing else "in", f"archive:{stanza.id}")
            if not stanza.correction:
                if outgoing:
                    state.messages_out += 1
                else:
                    state.messages_in += 1
            state.preview = f"{stanza.nick}: {stanza.body}"[:PREVIEW_CHARS]
            state.ended_at = max(state.ended_at, stanza.when)
            state.dirty = True
            changed.append(state)
        return changed

    async def _occupants_of(self, connection: AsyncConnection, room: str) -> dict[str, str]:
        """The local users in ``room`` (full JID -> nick), read once and then kept current."""
        if room not in self._occupants:
            self._occupants[room] = {row.occupant: row.nick for row in await connection.execute(
                select(JournalRoomOccupant.occupant, JournalRoomOccupant.nick)
                .where(JournalRoomOccupant.room == room))}
        return self._occupants[room]

    async def _room_presence(self, connection: AsyncConnection, presence: RoomPresence) -> None:
        """A local user entered or left a room (written with the batch)."""
        occupants = await self._occupants_of(connection, presence.room)
        if presence.present:
            nick = presence.nick if presence.nick is not None else occupants.get(presence.occupant, "")
            if occupants.get(presence.occupant) != nick:
                occupants[presence.occupant] = nick
                self._occupancy[(presence.room, presence.occupant)] = (nick, dt.datetime.now(dt.UTC))
            return
        gone = [presence.occupant] if presence.occupant else [
            occupant for occupant, nick in occupants.items() if nick == presence.nick]
        for occupant in gone:
            if occupants.pop(occupant, None) is not None:
                self._occupancy[(presence.room, occupant)] = None

    async def _write_occupancy(self, connection: AsyncConnection) -> None:
        """Store who entered (or changed nick) and who left rooms since the last batch."""
        if not self._occupancy:
            return
        await connection.execute(delete(JournalRoomOccupant).where(
            tuple_(JournalRoomOccupant.room, JournalRoomOccupant.occupant).in_(list(self._occupancy))))
        entered = [{"room": room, "occupant": occupant, "nick": value[0], "since": value[1]}
                   for (room, occupant), value in self._occupancy.items() if value is not None]
        if entered:
            await connection.execute(insert(JournalRoomOccupant), entered)
        self._occupancy.clear()

    async def _conversation(self, connection: AsyncConnection, owner: str, kind: str, peer: str,
                            when: dt.datetime, direction: str, source: str) -> EntryState:
        """The open conversation entry for (owner, kind, peer), or a new one after a quiet gap."""
        key = (owner, kind, peer)
        state: EntryState | None = self._open.get(key)
        if state is None:
            row = (await connection.execute(
                select(JournalEntry.__table__).where(JournalEntry.owner == owner, JournalEntry.kind == kind,
                                                     JournalEntry.peer == peer)
                .order_by(JournalEntry.started_at.desc()).limit(1))).first()
            state = self._state(row) if row is not None else None
        if state is None or state is _NO_ENTRY or when - state.ended_at > self.gap:
            state = EntryState(owner, kind, peer, direction, when, when, source)
        self._open[key] = state
        return state

    async def _call(self, connection: AsyncConnection, stanza: ArchivedStanza) -> EntryState | None:
        """An A/V chat or screen share from its Jingle Message Initiation steps (XEP-0353)."""
        assert stanza.call is not None
        signal = stanza.call
        key = (stanza.archive, signal.session)
        state = self._calls.get(key)
        if state is None:
            row = (await connection.execute(select(JournalEntry.__table__).where(
                JournalEntry.owner == stanza.archive,
                JournalEntry.source == f"jmi:{signal.session}"))).first()
            if row is not None:
                state = self._state(row)
        if state is None:
            if signal.action != "propose":
                return None  # a step of a call whose proposal is not in the archive
            kind = "screen" if signal.screen else "video" if "video" in signal.media else "audio"
            state = EntryState(stanza.archive, kind, stanza.peer, "out" if stanza.outgoing else "in",
                               stanza.when, stanza.when, f"jmi:{signal.session}", result="missed")
        if signal.action in ("proceed", "accept"):
            state.result = "answered"
            state.started_at = min(state.started_at, stanza.when)
            state.ended_at = stanza.when
        elif signal.action == "reject":
            state.result = "declined"
        elif signal.action == "retract":
            state.result = "missed"
        elif signal.action == "finish":
            if state.result == "answered":
                state.duration_s = max(0, int((stanza.when - state.ended_at).total_seconds()))
            if signal.reason in ("failed-application", "failed-transport", "connectivity-error",
                                 "general-error"):
                state.result = "failed"
            state.ended_at = stanza.when
        state.dirty = True
        self._calls[key] = state
        return state

    async def _write(self, connection: AsyncConnection, states: list[EntryState]) -> None:
        """Batched Core writes: new entries in one INSERT, changed ones in one UPDATE."""
        new = [s for s in states if s.id is None]
        changed = [s for s in states if s.id is not None and s.dirty]
        if not new and not changed:
            return
        revision = await self._next_revision(connection)
        if new:
            # one executemany, then the ids by (owner, source): RETURNING would cost a statement
            # (and, on aiosqlite, a thread hop) per row
            if self.sqlite:  # the driver's own executemany: SQLAlchemy's per-row binding cost more
                await connection.exec_driver_sql(SQLITE_INSERT, [_sqlite_row(s, revision) for s in new])
            else:
                await connection.execute(insert(JournalEntry), [_row(s, revision) for s in new])
            by_key = {(s.owner, s.source): s for s in new}
            for entry_id, owner, source in await self._prepared(connection, self._written_ids, list(by_key)):
                by_key[(owner, source)].id = entry_id
        if changed:
            await connection.execute(
                update(JournalEntry).where(JournalEntry.id == bindparam("entry_id")),
                [{"entry_id": s.id, **_row(s, revision)} for s in changed])
        if new:  # fresh entries have no notes yet: their search text is known without a query
            searchable = [(s.id, owner_key(s.owner), self._searchable(s.owner, f"{s.peer} {s.preview}"))
                          for s in new]
            if self.sqlite:
                await connection.exec_driver_sql(
                    "INSERT INTO journal_search (rowid, owner_key, text) VALUES (?, ?, ?)", searchable)
            else:
                await connection.execute(text("INSERT INTO journal_search (rowid, owner_key, text) "
                                              "VALUES (:id, :key, :text)"),
                                         [{"id": i, "key": k, "text": t} for i, k, t in searchable])
        if changed:
            await self._index(connection, [s.id for s in changed if s.id is not None])
        for state in states:
            state.dirty = False

    async def _index(self, connection: AsyncConnection, entry_ids: Iterable[int]) -> None:
        """Refresh the full-text rows of entries: peer, preview and notes."""
        ids = list(entry_ids)
        if not ids:
            return
        await connection.execute(text("DELETE FROM journal_search WHERE rowid IN :ids").bindparams(
            bindparam("ids", expanding=True)), {"ids": ids})
        notes = (select(JournalNote.entry_id, func.group_concat(JournalNote.text, " ")
                        if self.sqlite else func.string_agg(JournalNote.text, " "))
                 .where(JournalNote.entry_id.in_(ids)).group_by(JournalNote.entry_id))
        by_entry = {row[0]: row[1] for row in (await connection.execute(notes)).all()}
        rows = (await connection.execute(select(JournalEntry.id, JournalEntry.owner, JournalEntry.peer,
                                                JournalEntry.preview).where(JournalEntry.id.in_(ids)))).all()
        await connection.execute(text("INSERT INTO journal_search (rowid, owner_key, text) "
                                      "VALUES (:id, :key, :text)"),
                                 [{"id": r[0], "key": owner_key(r[1]),
                                   "text": self._searchable(r[1], f"{r[2]} {r[3]} {by_entry.get(r[0], '')}")}
                                  for r in rows])

    async def _next_revision(self, connection: AsyncConnection) -> int:
        """The journal's next revision, for everything this transaction writes. Take it before
        any other write: the counter's row stays locked until commit, so writers queue on it
        and revisions become visible in the order they were taken (on PostgreSQL too)."""
        taken = await connection.scalar(
            update(ComponentState).where(ComponentState.component == REVISION[0],
                                         ComponentState.name == REVISION[1])
            .values(value=cast(cast(ComponentState.value, BigInteger) + 1, Text))
            .returning(ComponentState.value))
        if taken is None:  # the counter's row was removed: start again above every entry
            taken = (await connection.scalar(select(func.max(JournalEntry.revision))) or 0) + 1
            await connection.execute(insert(ComponentState).values(
                component=REVISION[0], name=REVISION[1], value=str(taken)))
        return int(taken)

    async def revision(self) -> int:
        """The journal's latest revision: every write moves it on."""
        async with self.engine.connect() as connection:
            return int(await connection.scalar(_CURRENT_REVISION) or 0)

    async def changed_since(self, revision: int, owners: Collection[str]) -> tuple[int, list[Any]]:
        """The journal's latest revision, and the entries of ``owners`` written after
        ``revision`` (by this process or any other: ingest, the call switch, notes), oldest
        change first. Rows have the columns of ``journal_entry`` as attributes."""
        async with self.engine.connect() as connection:
            latest = int(await connection.scalar(_CURRENT_REVISION) or 0)
            if latest <= revision or not owners:
                return latest, []
            rows = (await connection.execute(  # a range of the revision index
                select(JournalEntry.__table__).where(
                    JournalEntry.revision > revision, JournalEntry.revision <= latest,
                    JournalEntry.owner.in_(sorted(owners)))
                .order_by(JournalEntry.revision, JournalEntry.id))).all()
        return latest, list(rows)

    def _searchable(self, owner: str, text: str) -> str:
        """The indexed text: per-owner tokens for SQLite's FTS5, plain for PostgreSQL."""
        return search_text(owner, text) if self.sqlite else text

    async def _save_cursor(self, connection: AsyncConnection, cursor: int) -> None:
        updated = await connection.execute(
            update(ComponentState).where(ComponentState.component == CURSOR[0],
                                         ComponentState.name == CURSOR[1]).values(value=str(cursor)))
        if not updated.rowcount:
            await connection.execute(insert(ComponentState).values(
                component=CURSOR[0], name=CURSOR[1], value=str(cursor)))

    # --- writes from other parts (calls, planned calls) ----------------------------------------------

    async def record(self, owner: str, kind: str, direction: str, peer: str, result: str,
                     started_at: dt.datetime, duration_s: int = 0, line: str = "",
                     recording: str = "", source: str = "", reminder_at: dt.datetime | None = None,
                     preview: str = "") -> int:
        """Write one entry (a call from the switch, a planned call); idempotent on ``source``."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        values = {"owner": owner, "kind": kind, "direction": direction, "peer": peer, "result": result,
                  "started_at": started_at, "ended_at": started_at + dt.timedelta(seconds=duration_s),
                  "duration_s": duration_s, "messages_in": 0, "messages_out": 0, "preview": preview,
                  "line": line, "recording": recording, "reminder_at": reminder_at,
                  "source": source or f"{kind}:{owner}:{started_at.isoformat()}"}
        async with self.engine.begin() as connection:
            values["revision"] = await self._next_revision(connection)
            existing = await connection.scalar(select(JournalEntry.id).where(
                JournalEntry.owner == owner, JournalEntry.source == values["source"]))
            if existing is not None:
                await connection.execute(update(JournalEntry).where(JournalEntry.id == existing)
                                         .values(**values))
                entry_id = existing
            else:
                entry_id = (await connection.execute(insert(JournalEntry).values(**values)
                                                     .returning(JournalEntry.id))).scalar_one()
            await self._index(connection, [entry_id])
        return entry_id

    # --- notes ---------------------------------------------------------------------------------------

    async def add_note(self, entry_id: int, author: str, note: str) -> int:
        """Add a note to an entry; returns its id."""
        now = dt.datetime.now(dt.UTC)
        async with self.engine.begin() as connection:
            revision = await self._next_revision(connection)
            note_id = (await connection.execute(insert(JournalNote).values(
                entry_id=entry_id, author=author, text=note, created_at=now, updated_at=now)
                .returning(JournalNote.id))).scalar_one()
            await self._annotated(connection, entry_id, revision)
        return note_id

    async def edit_note(self, note_id: int, author: str, note: str) -> int:
        """Change a note; only its author may. Returns the entry id."""
        async with self.engine.begin() as connection:
            row = (await connection.execute(select(JournalNote.entry_id, JournalNote.author)
                                            .where(JournalNote.id == note_id))).first()
            if row is None:
                raise LookupError(f"there is no note {note_id}")
            if row[1] != author:
                raise PermissionError("only the author of a note may edit it")
            revision = await self._next_revision(connection)
            await connection.execute(update(JournalNote).where(JournalNote.id == note_id).values(
                text=note, updated_at=dt.datetime.now(dt.UTC)))
            await self._annotated(connection, row[0], revision)
        return int(row[0])

    async def _annotated(self, connection: AsyncConnection, entry_id: int, revision: int) -> None:
        """An entry's notes changed: it is part of ``revision`` and its notes become searchable."""
        await connection.execute(update(JournalEntry).where(JournalEntry.id == entry_id)
                                 .values(revision=revision))
        await self._index(connection, [entry_id])

    async def notes(self, entry_ids: Sequence[int]) -> dict[int, list[JournalNote]]:
        """Notes of entries, oldest first."""
        if not entry_ids:
            return {}
        async with self.sessions() as session:
            rows = (await session.scalars(select(JournalNote).where(
                JournalNote.entry_id.in_(entry_ids)).order_by(JournalNote.id))).all()
        result: dict[int, list[JournalNote]] = {}
        for note in rows:
            result.setdefault(note.entry_id, []).append(note)
        return result

    async def entry(self, entry_id: int) -> JournalEntry | None:
        """One entry."""
        async with self.sessions() as session:
            return await session.get(JournalEntry, entry_id)

    # --- grants --------------------------------------------------------------------------------------

    async def grant(self, grantee: str, subject: str, can_read: bool = True,
                    can_write_notes: bool = False) -> None:
        """Let ``grantee`` read (and annotate) ``subject``'s journal."""
        async with self.engine.begin() as connection:
            await connection.execute(delete(JournalGrant).where(
                JournalGrant.grantee == grantee, JournalGrant.subject == subject))
            await connection.execute(insert(JournalGrant).values(
                grantee=grantee, subject=subject, can_read=can_read, can_write_notes=can_write_notes))

    async def revoke(self, grantee: str, subject: str) -> bool:
        """Remove a grant; True if there was one."""
        async with self.engine.begin() as connection:
            result = await connection.execute(delete(JournalGrant).where(
                JournalGrant.grantee == grantee, JournalGrant.subject == subject))
        return bool(result.rowcount)

    async def grants(self) -> list[JournalGrant]:
        """Every grant."""
        async with self.sessions() as session:
            return list((await session.scalars(
                select(JournalGrant).order_by(JournalGrant.subject, JournalGrant.grantee))).all())

    async def allowed(self, requester: str, groups_of_requester: set[str], subject: str,
                      write: bool = False) -> bool:
        """Whether ``requester`` may read (or annotate, with ``write``) ``subject``'s journal.

        ``subject`` is a bare JID or ``group:<name>``; everyone may read and annotate their own.
        """
        if subject == requester:
            return True
        grantees = [requester, *(f"group:{g}" for g in groups_of_requester)]
        async with self.sessions() as session:
            rows = (await session.scalars(select(JournalGrant).where(
                JournalGrant.grantee.in_(grantees), JournalGrant.subject == subject))).all()
        return any((row.can_write_notes if write else row.can_read) for row in rows)

    # --- queries -------------------------------------------------------------------------------------

    def _filtered(self, query: Select, owners: Sequence[str], start: dt.datetime | None,
                  end: dt.datetime | None, kinds: Sequence[str] = (), direction: str | None = None,
                  result: str | None = None, peer: str | None = None,
                  search: str | None = None) -> Select:
        """``query`` narrowed by the view's filters; every value is a named bound parameter, so a
        statement's SQL depends only on which filters are set (see :meth:`_fast_view`)."""
        query = query.where(JournalEntry.owner.in_(
            [bindparam(f"owner_{i}", owner) for i, owner in enumerate(owners)]))
        if start is not None:
            query = query.where(JournalEntry.started_at >= bindparam("start", start, type_=DateTime(True)))
        if end is not None:
            query = query.where(JournalEntry.started_at < bindparam("end", end, type_=DateTime(True)))
        if kinds:
            query = query.where(JournalEntry.kind.in_(
                [bindparam(f"kind_{i}", kind) for i, kind in enumerate(kinds)]))
        if direction:
            query = query.where(JournalEntry.direction == bindparam("direction", direction))
        if result:
            query = query.where(JournalEntry.result == bindparam("result", result))
        if peer:  # a whole address uses the (owner, peer, time) index; a part of one searches
            query = query.where(JournalEntry.peer == bindparam("peer", peer) if "@" in peer
                                else JournalEntry.peer.like(bindparam("peer", f"%{peer}%")))
        if search:
            words = _match(owners, search)
            if self.sqlite:
                matching = text("SELECT rowid FROM journal_search WHERE journal_search MATCH :words")
            else:
                matching = text("SELECT rowid FROM journal_search WHERE tsv @@ "
                                "to_tsquery('simple', :words)")
                words = " & ".join(f"{w}:*" for w in search.split())
            query = query.where(JournalEntry.id.in_(matching.bindparams(words=words)))
        return query

    def _fast_view(self, shape: tuple[Any, ...], build: Callable[[], Select],
                   values: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Run a view on SQLite through the driver directly. Each shape of statement is built and
        compiled once (that cost ten times SQLite's own work); later calls only bind values."""
        assert self._reader is not None
        if shape not in self._sql:
            compiled = build().compile(dialect=self._reader.dialect)
            self._sql[shape] = (compiled.string, tuple(compiled.positiontup or ()), compiled.params)
        sql, names, _constants = self._sql[shape]
        return self._raw.execute(sql, [values[name] for name in names]).fetchall()

    async def query(self, owners: Sequence[str], start: dt.datetime | None = None,
                    end: dt.datetime | None = None, kinds: Sequence[str] = (),
                    direction: str | None = None, result: str | None = None, peer: str | None = None,
                    search: str | None = None, newest_first: bool = True, limit: int = 50,
                    before: int | None = None, after: int | None = None, count: bool = True
                    ) -> tuple[list[Any], int]:
        """Entries of ``owners`` matching the filters, a page at a time, and the total count
        (``count=False`` skips counting and returns the page's length). Rows have the columns
        of ``journal_entry`` as attributes (ORM objects or Core rows).

        Pages follow XEP-0059: ``before``/``after`` are entry ids of the previous page's ends.
        """
        filters: dict[str, Any] = {"owners": owners, "start": start, "end": end, "kinds": kinds,
                   "direction": direction, "result": result, "peer": peer, "search": search}
        if self._reader is not None and before is None and after is None:
            shape = (tuple(sorted(k for k, v in filters.items() if v)), len(owners), len(kinds),
                     newest_first, peer is not None and "@" in peer)
            values = _sqlite_values(owners, start, end, kinds, direction, result, peer, search, limit)
            rows = [EntryRow.from_sqlite(r) for r in self._fast_view(
                ("page", *shape), lambda: self._filtered(select(JournalEntry.__table__), **filters)
                .order_by(*_order(newest_first)).limit(bindparam("limit", limit))
                .offset(bindparam("offset", 0)),
                values)]
            total = (self._fast_view(("count", *shape), lambda: self._filtered(
                select(func.count(JournalEntry.id)), **filters), values)[0][0] if count else len(rows))
            return rows, int(total or 0)
        page = self._filtered(select(JournalEntry), **filters)
        async with self.sessions() as session:
            for anchor, forward in ((after, True), (before, False)):
                if anchor is None:
                    continue
                at = await session.scalar(select(JournalEntry.started_at).where(
                    JournalEntry.id == anchor))
                if at is None:
                    raise LookupError(f"entry {anchor} is not in this journal")
                later = (JournalEntry.started_at > at) | ((JournalEntry.started_at == at)
                                                          & (JournalEntry.id > anchor))
                earlier = (JournalEntry.started_at < at) | ((JournalEntry.started_at == at)
                                                            & (JournalEntry.id < anchor))
                page = page.where(earlier if forward == newest_first else later)
            rows = list((await session.scalars(page.order_by(*_order(newest_first)).limit(limit))).all())
            total = await session.scalar(self._filtered(
                select(func.count(JournalEntry.id)), **filters)) if count else len(rows)
        return rows, int(total or 0)

    async def per_day(self, owners: Sequence[str], start: dt.datetime, end: dt.datetime
                      ) -> list[tuple[str, int]]:
        """Entries per day (UTC) in a period."""
        day = func.date(JournalEntry.started_at) if self.sqlite else func.to_char(
            JournalEntry.started_at, "YYYY-MM-DD")

        def build() -> Select:
            return self._filtered(select(day, func.count()), owners, start, end).group_by(day).order_by(day)

        if self._reader is not None:
            values = _sqlite_values(owners, start, end, (), None, None, None, None, 0)
            return [(str(r[0]), int(r[1])) for r in self._fast_view(("per_day", len(owners)), build, values)]
        query = build()
        async with self.engine.connect() as connection:
            return [(str(r[0]), int(r[1])) for r in (await connection.execute(query)).all()]


_CURRENT_REVISION = select(ComponentState.value).where(ComponentState.component == REVISION[0],
                                                      ComponentState.name == REVISION[1])


@dataclass(slots=True)
class EntryRow:
    """A ``journal_entry`` row read on the SQLite fast path (the same attributes as the model)."""

    id: int
    owner: str
    kind: str
    direction: str
    peer: str
    result: str
    started_at: dt.datetime
    ended_at: dt.datetime
    duration_s: int
    messages_in: int
    messages_out: int
    preview: str
    line: str
    recording: str
    reminder_at: dt.datetime | None
    source: str
    updated_at: dt.datetime | None
    revision: int

    @classmethod
    def from_sqlite(cls, row: Sequence[Any]) -> EntryRow:
        """From a row in column order (SQLite keeps times as ISO text, in UTC)."""
        values = list(row)
        for index in (6, 7, 14, 16):
            if values[index] is not None:
                values[index] = dt.datetime.fromisoformat(values[index]).replace(tzinfo=dt.UTC)
        return cls(*values)


def _order(newest_first: bool) -> tuple[Any, ...]:
    """A view's order (built only where a statement is, as building it costs more than a view
    of cached SQL takes)."""
    if newest_first:
        return JournalEntry.started_at.desc(), JournalEntry.id.desc()
    return JournalEntry.started_at, JournalEntry.id


def _sqlite_time(value: dt.datetime) -> str:
    """A time as SQLAlchemy stores it in SQLite (UTC, ISO text without zone, microseconds)."""
    if value.tzinfo is not dt.UTC:
        value = value.astimezone(dt.UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def _sqlite_values(owners: Sequence[str], start: dt.datetime | None, end: dt.datetime | None,
                   kinds: Sequence[str], direction: str | None, result: str | None, peer: str | None,
                   search: str | None, limit: int) -> dict[str, Any]:
    """The bound values of :meth:`JournalStore._filtered`'s parameters, by name, for SQLite."""
    values: dict[str, Any] = {f"owner_{i}": owner for i, owner in enumerate(owners)}
    values.update({f"kind_{i}": kind for i, kind in enumerate(kinds)})
    values.update(direction=direction, result=result, limit=limit, offset=0,
                  start=_sqlite_time(start) if start else None, end=_sqlite_time(end) if end else None,
                  peer=(peer if peer and "@" in peer else f"%{peer}%"),
                  words=_match(owners, search or ""))
    return values


@functools.lru_cache(maxsize=4096)
def owner_key(owner: str) -> str:
    """The owner as one full-text token (also in migration 0004)."""
    return "o" + re.sub(r"[^0-9a-z]", "", owner.lower())


_WORD = re.compile(r"[^\W_]+")


def search_text(owner: str, text: str) -> str:
    """What SQLite's full-text index stores: every word prefixed with its owner's token, so a
    search reads one journal's postings however common the word is in all journals (also in
    migration 0004)."""
    prefix = owner_key(owner) + "x"
    return " ".join([prefix + word for word in _WORD.findall(text.lower())])


def _match(owners: Sequence[str], search: str) -> str:
    """An FTS5 query for ``search`` (every word a prefix) in the owners' journals. Owner tokens
    only narrow the search; the entry's owner is still checked against the real address."""
    terms = []
    for word in _WORD.findall(search.lower()):
        terms.append("(" + " OR ".join(f'"{owner_key(o)}x{word}"*' for o in owners) + ")")
    return " AND ".join(terms) or '""'


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


SQLITE_INSERT = ("INSERT INTO journal_entry (owner, kind, direction, peer, result, started_at, ended_at, "
                 "duration_s, messages_in, messages_out, preview, line, recording, reminder_at, source, "
                 "revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
"""A new entry through the SQLite driver: the values of :func:`_sqlite_row`, in this order."""


def _sqlite_row(state: EntryState, revision: int) -> tuple[object, ...]:
    return (state.owner, state.kind, state.direction, state.peer, state.result,
            _sqlite_time(state.started_at), _sqlite_time(state.ended_at), state.duration_s,
            state.messages_in, state.messages_out, state.preview, "", "", None, state.source, revision)


def _row(state: EntryState, revision: int) -> dict[str, object]:
    return {"owner": state.owner, "kind": state.kind, "direction": state.direction,
            "peer": state.peer, "result": state.result, "started_at": state.started_at,
            "ended_at": state.ended_at, "duration_s": state.duration_s,
            "messages_in": state.messages_in, "messages_out": state.messages_out,
            "preview": state.preview, "line": "", "recording": "", "reminder_at": None,
            "source": state.source, "revision": revision}
