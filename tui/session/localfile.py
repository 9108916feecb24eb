"""The client's own small SQLite files (search index, outbox): opened the same way everywhere."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar


class NewerFileError(Exception):
    """The file was written by a newer client (its schema version is above ours)."""


def open_versioned(path: Path, schema: str, version: int,
                   migrations: Mapping[int, Sequence[str]] | None = None) -> sqlite3.Connection:
    """Open (creating it and its folder) the SQLite file at ``path`` in autocommit mode with WAL,
    and bring its schema to ``version``: a new file gets ``schema``, which must be idempotent so
    that two sessions starting at once both succeed; a file of an older version gets the
    statements of ``migrations`` for each version above its own (``migrations[2]`` turns a
    version 1 file into a version 2 one), in one transaction that reads the version again, so
    two sessions never migrate one file twice. Raises :class:`NewerFileError` for a newer file,
    ``sqlite3.Error`` for an older one without its migrations, and ``OSError`` /
    ``sqlite3.Error`` when it cannot be opened."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=10, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")  # survives a crash of the client
    found = _version(db)
    if found > version:
        db.close()
        raise NewerFileError(str(path))
    if found == 0:
        db.executescript(f"BEGIN IMMEDIATE; {schema} PRAGMA user_version = {version}; COMMIT;")
    elif found < version:
        try:
            _migrate(db, version, migrations or {})
        except sqlite3.Error:
            db.close()
            raise
    return db


def _version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def _migrate(db: sqlite3.Connection, version: int, migrations: Mapping[int, Sequence[str]]) -> None:
    """Bring an older file to ``version``, one statement at a time (``executescript`` would end
    the transaction that keeps a second session out)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        for step in range(_version(db) + 1, version + 1):
            if step not in migrations:
                raise sqlite3.DatabaseError(f"no way known from version {step - 1} to {step}")
            for statement in migrations[step]:
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {version}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


class VersionedFile:
    """One such file, opened at first use and again after :meth:`close`. Subclasses name the
    ``schema`` and ``version``, the ``migrations`` from older versions, and what a file they
    cannot use raises (:meth:`refused`)."""

    schema: ClassVar[str]
    version: ClassVar[int]
    migrations: ClassVar[Mapping[int, Sequence[str]]] = {}
    """The statements that bring a file of the version before each key to that version."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None

    @property
    def db(self) -> sqlite3.Connection:
        """The open connection (the file and its schema are made on first use)."""
        if self._db is None:
            try:
                self._db = open_versioned(self.path, self.schema, self.version,
                                          self.migrations)
            except NewerFileError:
                raise self.refused("was written by a newer client; update this one") from None
            except (OSError, sqlite3.Error) as exc:
                raise self.refused(f"cannot be opened ({exc}); check that the directory is "
                                   "writable and the disk not full") from None
        return self._db

    def refused(self, problem: str) -> Exception:
        """The exception to raise when the file cannot be used: ``problem`` says why."""
        raise NotImplementedError

    def close(self) -> None:
        """Close the file (it opens again on the next use)."""
        if self._db is not None:
            self._db.close()
            self._db = None
