"""The client's own small SQLite files (search index, outbox): opened the same way everywhere."""

from __future__ import annotations

import sqlite3
from pathlib import Path


class NewerFileError(Exception):
    """The file was written by a newer client (its schema version is above ours)."""


def open_versioned(path: Path, schema: str, version: int) -> sqlite3.Connection:
    """Open (creating it and its folder) the SQLite file at ``path`` in autocommit mode with WAL,
    and bring its schema to ``version`` with ``schema``, which must be idempotent so that two
    sessions starting at once both succeed. Raises :class:`NewerFileError` for a newer file and
    ``OSError`` / ``sqlite3.Error`` when it cannot be opened."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=10, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")  # survives a crash of the client
    found = db.execute("PRAGMA user_version").fetchone()[0]
    if found > version:
        db.close()
        raise NewerFileError(str(path))
    if found < version:
        db.executescript(f"BEGIN IMMEDIATE; {schema} PRAGMA user_version = {version}; COMMIT;")
    return db
