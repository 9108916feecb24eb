"""The virtualised message log: layout without rendering, paging older messages in, ticks shown."""

from __future__ import annotations

import datetime as dt
import random

from textual.app import App, ComposeResult

from tui.session.model import ChatMessage, Conversation, Delivery, Direction
from tui.widgets.chat import MessageLog
from tui.widgets.chat.message_log import PAGE, WINDOW

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def history(count: int, seed: int = 7) -> Conversation:
    rng = random.Random(seed)
    words = ["ok", "meeting", "quarterly", "Zusammenarbeit", "🙂", "日本語", "a" * 70, "see", "you"]
    conversation = Conversation("bob@localhost")
    for index in range(count):
        outgoing = index % 3 == 0
        body = " ".join(rng.choice(words) for _ in range(rng.randint(1, 40)))
        if rng.random() < 0.2:
            body += "\n" + "second line"
        message = ChatMessage(f"m{index}", Direction.OUTGOING if outgoing else Direction.INCOMING,
                              "alice@localhost" if outgoing else "bob@localhost", body,
                              T0 + dt.timedelta(minutes=index))
        if outgoing:
            message.advance(Delivery(rng.randint(1, 3)), message.time)
        message.corrected = rng.random() < 0.1
        conversation.add(message)
    return conversation


class LogApp(App[None]):
    def compose(self) -> ComposeResult:
        yield MessageLog()


async def test_measured_heights_match_rendering_at_many_widths():
    conversation = history(300)
    app = LogApp()
    async with app.run_test(size=(120, 30)) as pilot:
        log = app.query_one(MessageLog)
        for width in (30, 47, 80, 119):
            await pilot.resize_terminal(width, 30)
            await pilot.pause()
            log.show(conversation)
            for index, message in enumerate(conversation.messages):
                assert log._measure(message) == len(log._strips(index)), (width, message.body)


async def test_opens_at_the_newest_and_pages_older_in_at_the_top():
    conversation = history(WINDOW + PAGE + 10)
    app = LogApp()
    async with app.run_test(size=(100, 30)) as pilot:
        log = app.query_one(MessageLog)
        log.show(conversation)
        await pilot.pause()
        visible = [log.render_line(y).text for y in range(log.size.height)]
        newest = conversation.messages[-1].body.split("\n")[-1][:20]
        assert any(newest in line for line in visible)
        assert log._first == len(conversation.messages) - WINDOW

        first_line_before = log.render_line(0).text
        log.scroll_to(y=0, animate=False, immediate=True)
        await pilot.pause()
        assert log._first == len(conversation.messages) - WINDOW - PAGE
        # the view did not jump: what was at the top is still at the top
        assert log.scroll_y > 0
        log.scroll_to(y=0, animate=False, immediate=True)
        await pilot.pause()
        assert log._first == 0
        assert first_line_before  # something was drawn


async def test_ticks_update_in_place():
    conversation = history(5)
    message = ChatMessage("new", Direction.OUTGOING, "alice@localhost", "Hello", T0)
    index = conversation.add(message)
    app = LogApp()
    async with app.run_test(size=(100, 30)) as pilot:
        log = app.query_one(MessageLog)
        log.show(conversation)
        await pilot.pause()
        assert "sending" in log.lines_of(message)[0]
        message.advance(Delivery.SENT, T0)
        log.message_changed(message)
        assert "✓ sent" in log.lines_of(message)[0]
        message.advance(Delivery.READ, T0 + dt.timedelta(seconds=5))
        log.message_changed(message)
        header = log.lines_of(message)[0]
        assert "delivered" in header and "read" in header
        assert index == len(conversation.messages) - 1


async def test_messages_added_at_the_bottom_are_followed_and_the_scrollbar_grows():
    conversation = history(300)
    app = LogApp()
    async with app.run_test(size=(100, 30)) as pilot:
        log = app.query_one(MessageLog)
        log.show(conversation)
        await pilot.pause()
        height = log.virtual_size.height
        for index in range(40):  # a burst: the view grows at most every GROW_EVERY seconds
            message = ChatMessage(f"n{index}", Direction.INCOMING, "bob@localhost",
                                  f"burst message {index}", T0 + dt.timedelta(days=1, seconds=index))
            log.message_added(conversation.add(message))
        for _ in range(100):  # until the last growth is shown
            if log.virtual_size.height == log._starts[-1] > height and log.is_vertical_scroll_end:
                break
            await pilot.pause(0.01)
        assert log.virtual_size.height == log._starts[-1] > height
        assert log.is_vertical_scroll_end
        assert log.vertical_scrollbar.window_virtual_size == log.virtual_size.height
        visible = [log.render_line(y).text for y in range(log.size.height)]
        assert any("burst message 39" in line for line in visible)


def test_newest_markable_message_follows_appends_and_archived_messages():
    conversation = Conversation("bob@localhost")

    def incoming(name: str, minutes: int, markable: bool = True) -> ChatMessage:
        return ChatMessage(name, Direction.INCOMING, "bob@localhost", name,
                           T0 + dt.timedelta(minutes=minutes), markable=markable)

    assert conversation.last_incoming_markable() is None
    first = incoming("first", 1)
    conversation.add(first)
    assert conversation.last_incoming_markable() is first
    conversation.add(incoming("plain", 2, markable=False))
    conversation.add(ChatMessage("mine", Direction.OUTGOING, "alice@localhost", "mine",
                                 T0 + dt.timedelta(minutes=3)))
    assert conversation.last_incoming_markable() is first
    second = incoming("second", 4)
    conversation.add(second)
    assert conversation.last_incoming_markable() is second
    conversation.put_history([incoming("older", 0)])  # in front: the newest stays
    assert conversation.last_incoming_markable() is second
    later = incoming("archived later", 5)  # from the archive, newer than everything here
    conversation.put_history([incoming("early", -1), later])
    assert conversation.last_incoming_markable() is later
