"""The schema package: migrations, the engine factory's SQLite settings, models that match."""

from __future__ import annotations

import sqlite3

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text

from schema import Base, ComponentState, create_engine, session_factory
from schema.migrate import alembic_config, include_object, upgrade_async


async def test_migrations_run_twice_and_models_match(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    await upgrade_async(url)
    await upgrade_async(url)  # a second run is a no-op
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(
                    sync, opts={"include_object": include_object}), Base.metadata))
            version = (await connection.execute(text("select version_num from alembic_version"))).scalar()
    finally:
        await engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"
    assert version == _head()


def _head() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


async def test_sqlite_engine_uses_wal_and_foreign_keys(database_url):
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            journal_mode = (await connection.execute(text("PRAGMA journal_mode"))).scalar()
            foreign_keys = (await connection.execute(text("PRAGMA foreign_keys"))).scalar()
            busy = (await connection.execute(text("PRAGMA busy_timeout"))).scalar()
    finally:
        await engine.dispose()
    assert (journal_mode, foreign_keys) == ("wal", 1)
    assert busy >= 1000


async def test_component_state_round_trip(database_url):
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    try:
        async with sessions() as session, session.begin():
            session.add(ComponentState(component="test", name="round_trip", value="42"))
        async with sessions() as session:
            state = (await session.execute(select(ComponentState).where(
                ComponentState.component == "test"))).scalar_one()
        assert (state.name, state.value) == ("round_trip", "42")
        assert state.updated_at is not None
    finally:
        await engine.dispose()


async def test_read_only_url_never_writes(tmp_path):
    path = tmp_path / "archive.db"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=DELETE")
        db.execute("create table archive (id integer primary key, txt text)")
        db.execute("insert into archive (txt) values ('hello')")
    engine = create_engine(f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true")
    try:
        async with engine.connect() as connection:
            assert (await connection.execute(text("select txt from archive"))).scalar() == "hello"
            mode = (await connection.execute(text("PRAGMA journal_mode"))).scalar()
    finally:
        await engine.dispose()
    assert mode == "delete"  # the reader did not switch the file to WAL
    assert not (tmp_path / "archive.db-wal").exists()
