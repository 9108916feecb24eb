"""Typing while 1,000 messages pour into the open conversation: keystroke to screen.

Alice runs the terminal client (headless, real session through the private ejabberd) with the
conversation with bob open. Bob, a bare slixmpp client in a process of his own (as the other party
is: his sending must not take turns on alice's event loop), sends 1,000 messages as fast as his
stream takes them, asking for receipts; meanwhile a key goes into alice's composer every 20 ms.
Each figure is the time from handing a key to Textual's driver until the first frame is composed
after the composer holds that key (Textual composes frames even when headless; only the terminal
write is skipped). The burst comes :data:`ROUNDS` times, one after the other has fully arrived, so
the p99 rests on some hundred keys rather than on the slowest of twenty. The peer is the same
typing with no messages arriving.

Server, sender and client share this machine's cores (with whatever else runs), so the client's
event loop is sometimes ready but without a core. Each key's time is also taken less that wait
(``/proc/thread-self/schedstat``), and the notes say how busy the cores were: a miss can then be
told apart from a slow client.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

from textual import events as textual_events

from tui.app import SwitchboardApp
from tui.session import Account, events
from tui.widgets.chat import Composer

from .common import Figure, Note, account, busy_seconds, met, p50, p99, waited_for_core

BURST = 1000
ROUNDS = 5
KEY_EVERY = 0.02


class _FrameClock:
    """Notes when frames are composed, by wrapping the app's display hook."""

    def __init__(self, app: SwitchboardApp) -> None:
        self.waiting: tuple[int, float, float, asyncio.Future[float]] | None = None
        self.without_wait: list[float] = []
        """Each key's milliseconds less those the event loop spent waiting for a core."""
        self._composer = app.main_screen.query_one(Composer)
        display = app._display

        def timed_display(screen: Any, renderable: Any) -> None:
            display(screen, renderable)  # on the event loop's thread, as the key's handling was
            if self.waiting is not None and renderable is not None:
                length, start, waited, done = self.waiting
                if len(self._composer.text) >= length and not done.done():
                    took = (time.perf_counter() - start) * 1000
                    done.set_result(took)
                    self.without_wait.append(took - (waited_for_core() - waited) * 1000)

        app._display = timed_display  # type: ignore[method-assign]

    async def type_key(self, app: SwitchboardApp) -> float:
        """Send one key and return the milliseconds until a frame shows it."""
        done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting = (len(self._composer.text) + 1, time.perf_counter(), waited_for_core(), done)
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


class _Sender:
    """Bob in his own process (``python -m bench.tui_burst``): a line on stdin sends a burst."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, server: Any, jid: str, password: str, to: str) -> _Sender:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.tui_burst", jid, password, to,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "BENCH_SETTINGS": server.settings.model_dump_json()})
        sender = cls(process)
        await sender._answer()  # connected
        return sender

    async def _answer(self) -> None:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), 60)
        if not line:
            raise RuntimeError("the sender process ended early (see its output above)")

    async def burst(self) -> None:
        """Ask for a burst; returns once bob's stream has written every message."""
        assert self.process.stdin is not None
        self.process.stdin.write(b"burst\n")
        await self._answer()

    async def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        await asyncio.wait_for(self.process.wait(), 30)


async def _sender_main(jid: str, password: str, to: str) -> None:
    """The child: connect as bob, then send :data:`BURST` messages per line read from stdin."""
    from tests.clients import RawClient
    from xmpp_components.stack.settings import StackSettings

    settings = StackSettings.model_validate_json(os.environ["BENCH_SETTINGS"])
    bob = RawClient(jid + "/burst", password, settings)
    await bob.start()
    loop = asyncio.get_running_loop()
    print("ready", flush=True)
    sent = 0
    while await loop.run_in_executor(None, sys.stdin.readline):
        for _ in range(BURST):
            bob.send_message(mto=to, mbody=f"burst message {sent}", mtype="chat")
            sent += 1
        await bob.waiting_queue.join()
        print("sent", flush=True)
    await bob.stop()


async def run(server: Any) -> list[Figure | Note]:
    settings = server.settings
    alice, bob = account(server, "alice"), account(server, "bob")
    server.ensure_group("burst", "Burst", [alice[0].split("@")[0], bob[0].split("@")[0]])
    app = SwitchboardApp(Account(alice[0], alice[1], settings.bind_ip, settings.c2s_port,
                                 settings.ca_file), idle_after=0)
    received = asyncio.Event()
    count = 0

    def on_event(event: events.SessionEvent) -> None:
        nonlocal count
        if isinstance(event, events.MessageAdded) and event.jid == bob[0]:
            count += 1
            if count % BURST == 0:
                received.set()

    sender = await _Sender.start(server, bob[0], bob[1], alice[0])
    try:
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
            clock.without_wait.clear()
            busy: list[float] = []
            took = []
            cores = os.sched_getaffinity(0)
            load, own, waited = busy_seconds(cores), time.process_time(), waited_for_core()
            began = time.perf_counter()
            for _ in range(ROUNDS):
                await pilot.press(*["backspace"] * len(app.main_screen.query_one(Composer).text))
                received.clear()
                started = time.perf_counter()
                asking = asyncio.ensure_future(sender.burst())
                busy += await _typing(app, clock, received, 10_000)
                await asyncio.wait_for(received.wait(), 60)
                await asking
                took.append(time.perf_counter() - started)
            capacity = (time.perf_counter() - began) * len(cores)
            own = (time.process_time() - own) / capacity
            others = max(0.0, busy_seconds(cores) - load) / capacity - own
            waited = waited_for_core() - waited
    finally:
        await sender.stop()
    return [
        Figure("keystroke to screen during a 1,000-message burst, p50", "ms", p50(busy),
               p50(quiet), "no burst"),
        Figure("keystroke to screen during a 1,000-message burst, p99", "ms", p99(busy),
               p99(quiet), "no burst", met("≤ 50 ms", p99(busy) <= 50)),
        Note(f"{len(busy)} keys typed while {ROUNDS} bursts arrived (slowest {max(busy):.0f} ms); "
             f"every burst of {BURST} was in the open conversation after "
             f"{min(took):.2f}–{max(took):.2f} s; the sender runs in a process of his own"),
        Note(f"meanwhile the client used {own:.0%} of the {len(cores)} cores, everything else "
             f"(ejabberd, the sender, other work) {others:.0%}; its event loop waited "
             f"{waited * 1000:.0f} ms for a core; keys less that wait: p50 "
             f"{p50(clock.without_wait):.1f} ms, p99 {p99(clock.without_wait):.1f} ms"),
    ]


if __name__ == "__main__":
    asyncio.run(_sender_main(*sys.argv[1:4]))
