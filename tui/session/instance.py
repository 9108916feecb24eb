"""Which of the running clients of one account on this machine this one is.

Two terminal clients of the same account may run side by side (two terminals, a tmux pane and an
ssh login). What is theirs alone must not be shared: on disk the outbox of messages not yet
acknowledged (one would send what the other queued), on the wire the XMPP resource (two clients
with one resource make the server log each other out in turn). Each running client therefore
holds an exclusive lock (``flock``) on a numbered lock file in a folder of the account, the lowest
number nobody holds, so a client that is restarted gets its number back while the others keep
theirs. The lock goes with the process, also when it crashes: a number is never held by a dead
client.

Each number has a resource of its own, made up once: ``switchboard.`` and random letters, naming
neither the machine nor the user, so clients on other machines differ too.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from pathlib import Path

from slixmpp import JID

MOST_INSTANCES = 64
"""How many clients of one account may run at once on one machine."""


def instance_folder(account: str) -> Path:
    """Where the locks and resources of ``account``'s clients (a bare JID) are."""
    from tui.settings import data_dir

    return data_dir() / "instances" / JID(account).bare


class InstanceBusy(Exception):
    """Every number is held: too many clients of this account run here."""


class InstanceLock:
    """The exclusive hold of one running client on its ``number`` in ``folder``."""

    def __init__(self, folder: Path, number: int, fd: int) -> None:
        self.folder = folder
        self.number = number
        self._fd: int | None = fd

    @classmethod
    def take(cls, folder: Path, number: int) -> InstanceLock | None:
        """Hold ``number`` if no running client holds it; None when one does."""
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / f"{number}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return cls(folder, number, fd)

    @classmethod
    def claim(cls, folder: Path) -> InstanceLock:
        """The lowest number in ``folder`` no running client holds. Raises :class:`InstanceBusy`,
        and ``OSError`` when the folder cannot be written."""
        for number in range(MOST_INSTANCES):
            lock = cls.take(folder, number)
            if lock is not None:
                return lock
        raise InstanceBusy(f"{MOST_INSTANCES} clients of this account already run on this machine "
                           f"(locks in {folder}); close one of them")

    def resource(self, prefix: str = "switchboard") -> str:
        """The XMPP resource of this number: ``prefix.`` and random letters, made up and kept
        the first time it is asked for."""
        path = self.folder / f"{self.number}.resource"
        with contextlib.suppress(OSError):
            kept = path.read_text().strip()
            if kept:
                return kept
        made = f"{prefix}.{secrets.token_hex(4)}"
        path.write_text(made + "\n")
        return made

    @property
    def held(self) -> bool:
        """Whether this lock is still held."""
        return self._fd is not None

    def release(self) -> None:
        """Let go of the number (the next client to start may take it)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
