"""Typing while 1,000 messages pour into the open conversation: keystroke to screen.

Alice runs the terminal client (headless, real session through the private ejabberd) with the
conversation with bob open. Bob, a bare slixmpp client, sends 1,000 messages as fast as his stream
takes them; meanwhile a key goes into alice's composer every 20 ms. Each figure is the time from
handing a key to Textual's driver until the first frame is composed after the composer holds that
key (Textual composes frames even when headless; only the terminal write is skipped). The peer is
the same typing with no messages arriving.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from textual import events as textual_events

from tests.clients import RawClient
from tui.app import SwitchboardApp
from tui.session import Account, events
from tui.widgets.chat import Composer

from .common import Figure, Note, account, met, p50, p99

BURST = 1000
KEY_EVERY = 0.02


class _FrameClock:
    """Notes when frames are composed, by wrapping the app's display hook."""

    def __init__(self, app: SwitchboardApp) -> None:
        self.waiting: tuple[int, float, asyncio.Future[float]] | None = None
        self._composer = app.main_screen.query_one(Composer)
        display = app._display

        def timed_display(screen: Any, renderable: Any) -> None:
            display(screen, renderable)
            if self.waiting is not None and renderable is not None:
                length, start, done = self.waiting
                if len(self._composer.text) >= length and not done.done():
                    done.set_result((time.perf_counter() - start) * 1000)

        app._display = timed_display  # type: ignore[method-assign]

    async def type_key(self, app: SwitchboardApp) -> float:
        """Send one key and return the milliseconds until a frame shows it."""
        done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting = (len(self._composer.text) + 1, time.perf_counter(), done)
        assert app._driver is not None
        app._driver.send_message(textual_events.Key("z", "z"))
        try:
            return await asyncio.wait_for(done, 5)
        finally:
            self.waiting = None


async def _typing(app: SwitchboardApp, clock: _FrameClock, until: asyncio.Event | None,
                  count: int) -> list[float]:
    samples = []
    while len(samples) < count and not (until is not None and until.is_set()):
        samples.append(await clock.type_key(app))
        await asyncio.sleep(KEY_EVERY)  # the typist's pace, not a wait for an event
    return samples


async def run(server: Any) -> list[Figure | Note]:
    settings = server.settings
    alice, bob = account(server, "alice"), account(server, "bob")
    server.ensure_group("burst", "Burst", [alice[0].split("@")[0], bob[0].split("@")[0]])
    app = SwitchboardApp(Account(alice[0], alice[1], settings.bind_ip, settings.c2s_port,
                                 settings.ca_file), idle_after=0)
    sender = RawClient(bob[0] + "/burst", bob[1], settings)
    received = asyncio.Event()
    count = 0

    def on_event(event: events.SessionEvent) -> None:
        nonlocal count
        if isinstance(event, events.MessageAdded) and event.jid == bob[0]:
            count += 1
            if count >= BURST:
                received.set()

    async with app.run_test(size=(120, 40)) as pilot:
        online = asyncio.Event()
        app.session.subscribe(lambda e: online.set() if app.session.state == "online" else None)
        if app.session.state != "online":
            await asyncio.wait_for(online.wait(), 30)
        app.session.subscribe(on_event)
        app.main_screen.open_conversation(bob[0])
        await pilot.pause()
        clock = _FrameClock(app)
        quiet = await _typing(app, clock, None, 100)
        await pilot.press(*["backspace"] * len(app.main_screen.query_one(Composer).text))
        await sender.start()
        started = time.perf_counter()
        for index in range(BURST):
            sender.send_message(mto=alice[0], mbody=f"burst message {index}", mtype="chat")
        busy = await _typing(app, clock, received, 10_000)
        await asyncio.wait_for(received.wait(), 60)
        took = time.perf_counter() - started
        await sender.stop()
    return [
        Figure("keystroke to screen during a 1,000-message burst, p50", "ms", p50(busy),
               p50(quiet), "no burst"),
        Figure("keystroke to screen during a 1,000-message burst, p99", "ms", p99(busy),
               p99(quiet), "no burst", met("≤ 50 ms", p99(busy) <= 50)),
        Note(f"{len(busy)} keys typed while the burst arrived; all {BURST} messages were in the "
             f"open conversation after {took:.2f} s"),
    ]
