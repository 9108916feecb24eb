"""The client's own small SQLite files (search index, outbox): opened the same way everywhere."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import ClassVar


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


class VersionedFile:
    """One such file, opened at first use and again after :meth:`close`. Subclasses name the
    ``schema`` and ``version`` and what a file they cannot use raises (:meth:`refused`)."""

    schema: ClassVar[str]
    version: ClassVar[int]

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None

    @property
    def db(self) -> sqlite3.Connection:
        """The open connection (the file and its schema are made on first use)."""
        if self._db is None:
            try:
                self._db = open_versioned(self.path, self.schema, self.version)
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
