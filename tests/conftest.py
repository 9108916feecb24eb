"""Fixtures: a private ejabberd from the real ejabberd.yml, users, migrated databases."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

import pytest
from slixmpp import JID

from schema.migrate import upgrade
from tui.session import Account as SessionAccount
from tui.session import ChatSession
from xmpp_components.stack.ejabberd import EjabberdServer
from xmpp_components.stack.settings import StackSettings, private_settings

from .clients import RawClient
from .watch import SessionWatcher

# ``phone``: clients with calls; ``xvfb``: an X display; ``browser``: StanzaJS in Chromium
pytest_plugins = ("tests.phones", "tests.displays", "tests.browser")


def _interrupted(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt("terminated")


def pytest_configure(config: pytest.Config) -> None:
    """A run ended with SIGTERM (``timeout``, CI cancelling) stops like Ctrl+C: pytest tears the
    fixtures down, so the private ejabberd and its epmd stop too instead of outliving the run."""
    signal.signal(signal.SIGTERM, _interrupted)


@pytest.fixture(autouse=True)
def client_data(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test's client keeps its search index and exports in the test's own directory."""
    monkeypatch.setenv("SWITCHBOARD_CLIENT_DATA", f"{tmp_path}/client-data")
    monkeypatch.setenv("SWITCHBOARD_CLIENT_EXPORTS", f"{tmp_path}/exports")


@pytest.fixture(scope="session")
def stack_settings(tmp_path_factory: pytest.TempPathFactory) -> StackSettings:
    """Settings of the session's private stack."""
    return private_settings(tmp_path_factory.mktemp("stack"))


@pytest.fixture(scope="session")
def ejabberd(stack_settings: StackSettings) -> Iterator[EjabberdServer]:
    """A real ejabberd started from the repository's ejabberd.yml, stopped after the session."""
    server = EjabberdServer(stack_settings)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def database_url(stack_settings: StackSettings) -> str:
    """Switchboard's own SQLite database, migrated to head."""
    url = stack_settings.effective_database_url
    upgrade(url)
    return url


@dataclass(frozen=True)
class Account:
    """A registered user of the private ejabberd."""

    jid: JID
    password: str


@pytest.fixture
def make_account(ejabberd: EjabberdServer) -> Callable[[str], Account]:
    """Register a fresh account; the name is prefixed to ``prefix`` so tests never share one."""

    def make(prefix: str = "user") -> Account:
        user = f"{prefix}-{uuid.uuid4().hex[:8]}"
        password = uuid.uuid4().hex
        ejabberd.register(user, password)
        return Account(JID(f"{user}@{ejabberd.settings.domain}"), password)

    return make


@pytest.fixture
async def raw_client(stack_settings: StackSettings) -> AsyncIterator[Callable[..., Awaitable[RawClient]]]:
    """Connect bare slixmpp clients (not our client code); all are disconnected afterwards."""
    clients: list[RawClient] = []

    async def connect(account: Account, resource: str = "raw", **kwargs: object) -> RawClient:
        client = RawClient(account.jid.bare + "/" + resource, account.password, stack_settings,
                           **kwargs)
        clients.append(client)
        await client.start()
        return client

    yield connect
    await asyncio.gather(*(c.stop() for c in clients))


@pytest.fixture
def pair(ejabberd, make_account):
    """Two fresh accounts that share a roster group, so each has the other as a contact."""
    alice, bob = make_account("alice"), make_account("bob")
    ejabberd.ensure_group(f"team-{uuid.uuid4().hex[:6]}", "Team",
                          [alice.jid.user, bob.jid.user])
    return alice, bob


def session_account(account: Account, settings: StackSettings) -> SessionAccount:
    """How our client logs in as ``account`` on the private stack."""
    return SessionAccount(str(account.jid), account.password, settings.bind_ip, settings.c2s_port,
                          settings.ca_file)


@pytest.fixture
async def session_for(stack_settings):
    """Start our client-session layer for an account; stopped afterwards."""
    sessions: list[ChatSession] = []

    async def start(account) -> tuple[ChatSession, SessionWatcher]:
        session = ChatSession(session_account(account, stack_settings))
        watcher = SessionWatcher(session)
        sessions.append(session)
        await session.start()
        return session, watcher

    yield start
    for session in sessions:
        await session.stop()


async def started(component) -> None:
    """Start ``component`` and wait for its session."""
    ready = asyncio.get_running_loop().create_future()
    component.add_event_handler("session_start", lambda _e: ready.done() or ready.set_result(True))
    component.start()
    await asyncio.wait_for(ready, 15)
