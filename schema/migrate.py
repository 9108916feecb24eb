"""Run Alembic migrations programmatically (the launcher and the test fixture do)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")

UNMODELLED = ("journal_search",)
"""Tables the migrations create by hand (full-text indexes) and no model describes."""


def include_object(_object: object, name: str | None, type_: str, _reflected: bool,
                   _compare_to: object) -> bool:
    """Alembic's filter: leave the hand-made full-text tables (and their shadow tables) alone."""
    return not (type_ == "table" and name is not None and name.startswith(UNMODELLED))


def alembic_config(url: str) -> Config:
    """An Alembic configuration for the database at ``url`` (no ini file needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision``; safe to call on an up-to-date database.

    Runs its own event loop: from async code call :func:`upgrade_async`."""
    command.upgrade(alembic_config(url), revision)


async def upgrade_async(url: str, revision: str = "head") -> None:
    """:func:`upgrade` from inside a running event loop."""
    await asyncio.to_thread(upgrade, url, revision)
