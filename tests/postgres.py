"""A private PostgreSQL server for the tests' PostgreSQL variant: its own data folder, a free
loopback port, stopped afterwards. Skipped, with the reason, where PostgreSQL is not installed."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from xmpp_components.stack.settings import free_port


def postgres_bin() -> str | None:
    """The folder of PostgreSQL's server programs, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


@contextmanager
def private_postgres() -> Iterator[str]:
    """Start a throwaway server; yields an asyncpg URL of an empty database ``switchboard``."""
    binaries = postgres_bin()
    if binaries is None:
        raise RuntimeError("PostgreSQL is not installed")
    folder = tempfile.mkdtemp(prefix="switchboard-pg-", dir="/tmp")
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = os.path.join(folder, "data"), free_port()

    def run(*command: str) -> None:
        subprocess.run([*as_user, *command], check=True, capture_output=True, timeout=120)

    try:
        run(f"{binaries}/initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
        run(f"{binaries}/pg_ctl", "-D", data, "-w", "-l", os.path.join(folder, "log"),
            "-o", f"-h 127.0.0.1 -p {port} -k {folder} -F", "start")
        run(f"{binaries}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "switchboard")
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/switchboard"
    finally:
        subprocess.run([*as_user, f"{binaries}/pg_ctl", "-D", data, "-m", "fast", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)
