"""The one configuration of a Switchboard stack: where its state lives, its domain, ports and secrets.

Every process of the stack (launcher, ejabberd wrapper, components, assistant, terminal client)
reads the same settings: environment variables prefixed ``SWITCHBOARD_`` override the defaults,
and so does a ``switchboard.env`` file in the working directory.
"""

from __future__ import annotations

import os
import secrets
import socket
import uuid
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]


class StackSettings(BaseSettings):
    """Settings shared by every process of one Switchboard stack."""

    model_config = SettingsConfigDict(
        env_prefix="SWITCHBOARD_", env_file="switchboard.env", extra="ignore",
        use_attribute_docstrings=True,
    )

    state_dir: Path = REPO_ROOT / ".state"
    """Folder for everything the stack writes: ejabberd spool and logs, certificate, uploads,
    databases, process ids, generated secrets. Git-ignored."""

    domain: str = "localhost"
    """The XMPP domain users live on (``alice@<domain>``)."""

    bind_ip: str = "127.0.0.1"
    """Address every listener binds. Change it only to serve other machines."""

    c2s_port: int = 5222
    """Client connections (STARTTLS required)."""

    http_port: int = 5280
    """HTTP: file upload, WebSocket ``/ws``, BOSH ``/bosh``, admin API ``/api`` (loopback only)."""

    http_host: str | None = None
    """Host name clients use for upload links; defaults to the domain (to ``bind_ip`` for the
    domain ``localhost``, which may resolve to ::1 first or not at all)."""

    stun_port: int = 3478
    """STUN/TURN over UDP and TCP."""

    turn_ip: str = "127.0.0.1"
    """Relay address TURN hands out."""

    turn_udp_ports: tuple[int, int] = (49152, 49651)
    """Port range for TURN relays allocated over UDP."""

    turn_tcp_ports: tuple[int, int] = (49652, 50151)
    """Port range for TURN relays allocated over TCP."""

    journal_port: int = 5347
    """XEP-0114 listener of the journal component."""

    calls_port: int = 5348
    """XEP-0114 listener of the call-control component."""

    journal_secret: str | None = None
    """Shared secret of the journal component; generated into the state folder when unset."""

    calls_secret: str | None = None
    """Shared secret of the calls component; generated into the state folder when unset."""

    node_name: str = "switchboard@localhost"
    """Erlang node name of this stack's ejabberd (distinct per instance)."""

    dist_port: int = 5290
    """Erlang distribution port; the node runs without epmd and listens here on loopback."""

    admins: str = ""
    """``;``-separated accounts allowed to administer the components (journal grants); default
    ``admin@<domain>``, the account ejabberd.yml makes server admin."""

    upload_max_days: int = Field(default=30, ge=0)
    """Days an uploaded file stays on the server before ejabberd deletes it (its link then answers
    404); 0 keeps files forever."""

    loglevel: Literal["critical", "error", "warning", "notice", "info", "debug"] = "info"
    """ejabberd's log level."""

    database_url: str | None = None
    """SQLAlchemy URL of Switchboard's own database; default a SQLite file in the state folder.
    ``postgresql+asyncpg://user:pw@host/db`` for PostgreSQL."""

    ejabberd_sql_type: Literal["sqlite", "pgsql"] = "sqlite"
    """Where ejabberd keeps accounts, rosters and the message archive."""

    ejabberd_sql_server: str = "localhost"
    """PostgreSQL host for ejabberd (``pgsql`` only)."""

    ejabberd_sql_port: int = 5432
    """PostgreSQL port for ejabberd (``pgsql`` only)."""

    ejabberd_sql_database: str = "ejabberd"
    """PostgreSQL database for ejabberd (``pgsql`` only)."""

    ejabberd_sql_username: str = "ejabberd"
    """PostgreSQL user for ejabberd (``pgsql`` only)."""

    ejabberd_sql_password: str = Field(default="", repr=False)
    """PostgreSQL password for ejabberd (``pgsql`` only)."""

    # --- derived paths -------------------------------------------------------------------------

    @property
    def ejabberd_dir(self) -> Path:
        """ejabberd's own folder inside the state folder."""
        return self.state_dir / "ejabberd"

    @property
    def certfile(self) -> Path:
        """Self-signed certificate (and key) for the domain and ``*.domain``."""
        return self.state_dir / "tls" / "server.pem"

    @property
    def ca_file(self) -> Path:
        """The certificate alone, for clients to trust."""
        return self.state_dir / "tls" / "ca.pem"

    @property
    def upload_dir(self) -> Path:
        """Where HTTP upload stores files."""
        return self.state_dir / "upload"

    @property
    def log_dir(self) -> Path:
        """Logs of ejabberd and of every component."""
        return self.state_dir / "log"

    @property
    def run_dir(self) -> Path:
        """Process ids of what the launcher started."""
        return self.state_dir / "run"

    @property
    def ejabberd_sqlite_file(self) -> Path:
        """ejabberd's SQLite database (accounts, rosters, archive) when ``ejabberd_sql_type`` is sqlite."""
        return self.ejabberd_dir / "ejabberd.db"

    @property
    def effective_database_url(self) -> str:
        """Switchboard's own database URL."""
        return self.database_url or f"sqlite+aiosqlite:///{self.state_dir / 'switchboard.db'}"

    @property
    def archive_url(self) -> str:
        """Read-only URL of ejabberd's database, where the journal reads the message archive."""
        if self.ejabberd_sql_type == "sqlite":
            return f"sqlite+aiosqlite:///file:{self.ejabberd_sqlite_file}?mode=ro&uri=true"
        return (
            f"postgresql+asyncpg://{self.ejabberd_sql_username}:{self.ejabberd_sql_password}"
            f"@{self.ejabberd_sql_server}:{self.ejabberd_sql_port}/{self.ejabberd_sql_database}"
        )

    @property
    def upload_url(self) -> str:
        """Base URL of HTTP upload as clients see it."""
        host = self.http_host or (self.bind_ip if self.domain == "localhost" else self.domain)
        return f"http://{host}:{self.http_port}/upload"

    def admin_list(self) -> list[str]:
        """Bare JIDs of the components' administrators."""
        return [a.strip() for a in self.admins.split(";") if a.strip()] or [f"admin@{self.domain}"]

    def component_domain(self, name: str) -> str:
        """``journal`` → ``journal.<domain>``."""
        return f"{name}.{self.domain}"

    def component_port(self, name: str) -> int:
        """The XEP-0114 port of component ``name``."""
        return {"journal": self.journal_port, "calls": self.calls_port}[name]

    def component_secret(self, name: str) -> str:
        """The shared secret of component ``name``: configured, or generated once and kept."""
        configured = {"journal": self.journal_secret, "calls": self.calls_secret}[name]
        if configured:
            return configured
        path = self.state_dir / "secrets" / f"{name}.secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            path.write_text(secrets.token_urlsafe(24))
            path.chmod(0o600)
        return path.read_text().strip()

    def component_env(self) -> dict[str, str]:
        """Environment that hands these settings to a child process."""
        env = {
            f"SWITCHBOARD_{name.upper()}": str(value)
            for name, value in self.model_dump(exclude_none=True).items()
            if not isinstance(value, tuple)
        }
        for name, (low, high) in (("turn_udp_ports", self.turn_udp_ports),
                                  ("turn_tcp_ports", self.turn_tcp_ports)):
            env[f"SWITCHBOARD_{name.upper()}"] = f"[{low},{high}]"
        return env


def free_port(kinds: tuple[int, ...] = (socket.SOCK_STREAM,)) -> int:
    """A loopback port that is free for every socket kind in ``kinds`` right now."""
    while True:
        with socket.socket(socket.AF_INET, kinds[0]) as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            try:
                for kind in kinds[1:]:
                    with socket.socket(socket.AF_INET, kind) as other:
                        other.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


def private_settings(state_dir: Path) -> StackSettings:
    """Settings for a stack of its own (tests, benchmarks): free loopback ports, its own Erlang
    node name and state folder, so it never collides with a running suite."""
    base = 40000 + (os.getpid() % 400) * 20
    return StackSettings(
        state_dir=state_dir,
        c2s_port=free_port(),
        http_port=free_port(),
        stun_port=free_port((socket.SOCK_STREAM, socket.SOCK_DGRAM)),
        journal_port=free_port(),
        calls_port=free_port(),
        dist_port=free_port(),
        turn_udp_ports=(base, base + 9),
        turn_tcp_ports=(base + 10, base + 19),
        node_name=f"sbtest{uuid.uuid4().hex[:8]}@localhost",
    )
