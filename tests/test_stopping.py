"""Stopping ends everything a client or component started: no task is left waiting for a stream
that is gone, to be destroyed pending later ("Task was destroyed but it is pending! …
run_filters" at the end of a benchmark)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from slixmpp.xmlstream import XMLStream

from tui.session import ChatSession
from xmpp_components.calls import CallsComponent
from xmpp_components.journal import JournalComponent

from .clients import RawClient
from .conftest import session_account, started


async def left_running(work: Callable[[], Awaitable[None]], streams: list[XMLStream]
                       ) -> list[asyncio.Task[object]]:
    """The tasks ``work`` started that are still running once it has returned. ``work`` lists the
    streams it makes in ``streams``: a task of any other stream (one an earlier test left trying
    to reach its own stopped server, in this shared event loop) is not its doing."""
    before = asyncio.all_tasks()
    await work()

    def elsewhere(task: asyncio.Task[object]) -> bool:
        frame = getattr(task.get_coro(), "cr_frame", None)
        owner = frame.f_locals.get("self") if frame is not None else None
        return isinstance(owner, XMLStream) and not any(owner is s for s in streams)

    return [task for task in asyncio.all_tasks() - before
            if not task.done() and not elsewhere(task)]


async def test_a_stopped_session_and_a_stopped_bare_client_leave_nothing_running(pair, stack_settings):
    alice, bob = pair

    streams: list[XMLStream] = []

    async def chat_and_stop() -> None:
        peer = RawClient(f"{bob.jid.bare}/raw", bob.password, stack_settings)
        streams.append(peer)
        await peer.start()
        session = ChatSession(session_account(alice, stack_settings))
        await session.start()  # its services start reading (pins, bookmarks, journal) at login
        streams.append(session.stream)
        session.send_chat(bob.jid.bare, "hello")
        peer.send_presence(pstatus="going")  # through the send loop's async filters
        await session.stop()  # at once: the reads have no answer yet
        await peer.stop()

    assert await left_running(chat_and_stop, streams) == []


async def test_stopped_components_leave_nothing_running(ejabberd, database_url):
    streams: list[XMLStream] = []

    async def start_and_stop() -> None:
        components = [JournalComponent(ejabberd.settings), CallsComponent(ejabberd.settings)]
        streams.extend(components)
        for component in components:
            await started(component)
        for component in components:
            await component.stop()

    assert await left_running(start_and_stop, streams) == []
