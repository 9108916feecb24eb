"""The storage on PostgreSQL: migrations, the journal (ingest, views, full text, notes, grants)
and the assistant's usage. Runs where PostgreSQL is installed (.ci/run installs it)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bridge_bot.memory import Memory, user_context
from schema import Base, create_engine
from schema.migrate import include_object, upgrade_async
from xmpp_components.journal.archive import ArchivedStanza
from xmpp_components.journal.rooms import RoomPresence
from xmpp_components.journal.store import JournalStore

from .postgres import postgres_bin, private_postgres

pytestmark = pytest.mark.skipif(
    postgres_bin() is None,
    reason="PostgreSQL is not installed: the PostgreSQL variant did not run (.ci/run installs it)")

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with private_postgres() as url:
        yield url


async def test_migrations_and_models_match_on_postgresql(postgres_url):
    await upgrade_async(postgres_url)
    await upgrade_async(postgres_url)
    engine = create_engine(postgres_url)
    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"include_object": include_object}), Base.metadata))
    finally:
        await engine.dispose()
    assert diff == []


def _message(index: int, owner: str, peer: str, outgoing: bool, body: str, minutes: int) -> ArchivedStanza:
    return ArchivedStanza(index, owner, False, peer, "", T0 + dt.timedelta(minutes=minutes), outgoing,
                          body, False, None)


async def test_journal_on_postgresql(postgres_url):
    await upgrade_async(postgres_url)
    engine = create_engine(postgres_url)
    store = JournalStore(engine, "localhost")
    try:
        alice, bob, carol = "alice@localhost", "bob@localhost", "carol@localhost"
        await store.ingest([_message(1, alice, bob, True, "Offer for Zanzibar", 0),
                            _message(2, alice, bob, False, "Thanks", 1),
                            _message(3, alice, carol, True, "Lunch?", 2),
                            _message(4, alice, bob, True, "Much later", 120)], 4)
        rows, total = await store.query([alice])
        assert total == 3
        assert [(r.peer, r.messages_out, r.messages_in) for r in rows] == [
            (bob, 1, 0), (carol, 1, 0), (bob, 1, 1)]
        offer = rows[-1]
        ingested, changed = await store.changed_since(0, [alice])
        assert ingested == await store.revision() > 0
        assert sorted(r.id for r in changed) == sorted(r.id for r in rows)
        await store.add_note(offer.id, alice, "Send the contract by Friday")
        assert [r.id for r in (await store.changed_since(ingested, [alice, bob]))[1]] == [offer.id]
        found, _ = await store.query([alice], search="friday")
        assert [r.id for r in found] == [offer.id]
        found, _ = await store.query([alice], search="lun")  # prefix match on the preview
        assert [r.peer for r in found] == [carol]
        assert await store.per_day([alice], T0 - dt.timedelta(days=1), T0 + dt.timedelta(days=1)) == [
            (T0.strftime("%Y-%m-%d"), 3)]
        await store.grant(bob, "group:Sales", can_read=True)
        assert await store.allowed(bob, set(), "group:Sales")
        assert not await store.allowed(carol, set(), "group:Sales")
        assert await store.cursor() == 4

        # room messages count for the local users in the room, as ingest learns who is there
        room, carol_pc = "team@conference.localhost", "carol@localhost/pc"

        def said(index: int, body: str) -> ArchivedStanza:
            return ArchivedStanza(index, room, True, bob, "bob", T0 + dt.timedelta(minutes=index), False,
                                  body, False, None, "bob@localhost/phone")

        await store.ingest([said(5, "Standup?")], 5, [RoomPresence(room, carol_pc, "carol", True)])
        await store.ingest([said(6, "Carol left")], 6, [RoomPresence(room, carol_pc, "carol", False)])
        assert [(r.peer, r.messages_in, r.preview) for r in (await store.query([carol]))[0]] == [
            (room, 1, "bob: Standup?")]
        bobs = (await store.query([bob], kinds=["groupchat"]))[0]
        assert [(r.messages_out, r.preview) for r in bobs] == [(2, "bob: Carol left")]
    finally:
        await engine.dispose()


async def test_assistant_usage_on_postgresql(postgres_url):
    await upgrade_async(postgres_url)
    engine = create_engine(postgres_url)
    memory = Memory(engine, 1000, 500)
    try:
        await asyncio.gather(*(memory.charge("alice@localhost", 30, 20) for _ in range(6)))
        assert (await Memory(engine, 1000, 500).usage("alice@localhost")).used == 300
        await (await memory.remember(user_context("alice@localhost"), "user", "hello"))
        assert await Memory(engine, 1000, 500).count(user_context("alice@localhost")) == 1
    finally:
        await engine.dispose()
