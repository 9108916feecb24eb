"""Opening a 10,000- and a 100,000-message conversation: our MessageLog vs a plain Textual Log
of the same lines.

Both are measured headless in the same run: the time from handing the widget its content until
the screen has been painted with the newest lines at the bottom.
"""

from __future__ import annotations

import datetime as dt
import time

from textual.app import App, ComposeResult
from textual.widgets import Log

from tui.session.model import ChatMessage, Conversation, Delivery, Direction
from tui.widgets.chat import MessageLog

from .common import Figure

SIZE = (120, 40)


def conversation(size: int) -> Conversation:
    start = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)
    history = Conversation("bob@localhost")
    for index in range(size):
        outgoing = index % 2 == 0
        message = ChatMessage(
            str(index), Direction.OUTGOING if outgoing else Direction.INCOMING,
            "alice@localhost" if outgoing else "bob@localhost",
            f"Message number {index}: the quarterly numbers look fine, see you at the meeting.",
            start + dt.timedelta(seconds=30 * index))
        if outgoing:
            message.advance(Delivery.READ, message.time)
        history.add(message)
    return history


class _Bench(App[None]):
    def __init__(self, widget) -> None:
        super().__init__()
        self.widget = widget

    def compose(self) -> ComposeResult:
        yield self.widget


async def _time_message_log(history: Conversation) -> float:
    log = MessageLog()
    app = _Bench(log)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        start = time.perf_counter()
        log.show(history)
        await pilot.pause()
        app.screen._compositor.render_update(full=True)  # force the paint we are timing
        return (time.perf_counter() - start) * 1000


async def _time_plain_log(history: Conversation) -> float:
    log = Log()
    app = _Bench(log)
    lines = []
    for message in history.messages:
        lines += [f"{message.time:%H:%M} {message.sender}", f"  {message.body}", ""]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        start = time.perf_counter()
        log.write_lines(lines)
        await pilot.pause()
        app.screen._compositor.render_update(full=True)
        return (time.perf_counter() - start) * 1000


async def run(_server=None) -> list[Figure]:
    small, large = conversation(10_000), conversation(100_000)
    ours_small = min([await _time_message_log(small) for _ in range(3)])
    plain_small = min([await _time_plain_log(small) for _ in range(3)])
    ours_large = min([await _time_message_log(large) for _ in range(3)])
    return [
        Figure("open a 10,000-message conversation 120x40", "ms", ours_small, plain_small,
               "Textual Log ", target="<= 1.5"),
        Figure("open 100,000 vs 10,000 messages (ours)", "ms", ours_large, ours_small,
               "10k figure  ", target="<= 2"),
    ]
