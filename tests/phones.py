"""Phones for tests: bare slixmpp clients (not our client code) with the ``sb_jingle`` plugin,
host candidates pinned to 127.0.0.1 so media stays on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

import xmpp_components.plugins.jingle  # noqa: F401  (registers sb_jingle)
from xmpp_components.plugins.jingle import Call

from .clients import RawClient
from .conftest import Account

PHONE_PLUGINS = ("xep_0280", "xep_0334", "sb_jingle")


class Phone:
    """A client with calls: incoming calls are queued on :attr:`incoming`."""

    def __init__(self, client: RawClient) -> None:
        self.client = client
        self.jingle = client.plugin["sb_jingle"]
        self.incoming: asyncio.Queue[Call] = asyncio.Queue()
        self.ended: asyncio.Queue[Call] = asyncio.Queue()
        client.add_event_handler("jingle_call_incoming", self.incoming.put_nowait)
        client.add_event_handler("jingle_call_ended", self.ended.put_nowait)

    @property
    def jid(self) -> Any:
        return self.client.boundjid

    async def ringing(self, timeout: float = 10) -> Call:
        """The next incoming call."""
        return await asyncio.wait_for(self.incoming.get(), timeout)


@pytest.fixture
async def phone(raw_client: Callable[..., Awaitable[RawClient]]
                ) -> AsyncIterator[Callable[..., Awaitable[Phone]]]:
    """Connect a phone for an account; calls still running at the end are hung up."""
    phones: list[Phone] = []

    async def connect(account: Account, resource: str = "phone", **config: Any) -> Phone:
        plugin_config = {"sb_jingle": {"host_addresses": ["127.0.0.1"], **config}}
        client = await raw_client(account, resource, plugins=PHONE_PLUGINS,
                                  plugin_config=plugin_config)
        phones.append(Phone(client))
        return phones[-1]

    yield connect
    for p in phones:
        for call in list(p.jingle.calls.values()):
            await call.hangup()
            await call.closed()
