"""Snapshots of every screen, with fixed data (no server, fixed clock, UTC)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import time

import pytest

from tui.app import SwitchboardApp
from tui.messages import SessionUpdate
from tui.session import Account, ChatMessage, Delivery, Direction, Show, events
from tui.session.model import Contact, ResourcePresence

T0 = dt.datetime(2026, 11, 26, 9, 30, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def utc():
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def demo_app() -> SwitchboardApp:
    app = SwitchboardApp(Account("alice@localhost", "alice"), autoconnect=False)
    session = app.session
    session.contacts = {
        "bob@localhost": Contact("bob@localhost", "Bob", ("Sales",), "both",
                                 {"phone": ResourcePresence(Show.AWAY, "Sales meeting until 10:30")}),
        "carol@localhost": Contact("carol@localhost", "Carol", ("Sales",), "both",
                                   {"pc": ResourcePresence(Show.AVAILABLE)}),
        "dave@localhost": Contact("dave@localhost", "Dave", ("Support",), "both",
                                  {"pc": ResourcePresence(Show.DND, "On the phone")}),
        "erin@localhost": Contact("erin@localhost", "", (), "both"),
    }
    conversation = session.conversation("bob@localhost")
    first = ChatMessage("1", Direction.OUTGOING, "alice@localhost",
                        "Hello Bob, do you have the quarterly numbers?", T0)
    first.advance(Delivery.SENT, T0 + dt.timedelta(seconds=1))
    first.advance(Delivery.DELIVERED, T0 + dt.timedelta(seconds=2))
    first.advance(Delivery.READ, T0 + dt.timedelta(seconds=40))
    conversation.add(first)
    conversation.add(ChatMessage("2", Direction.INCOMING, "bob@localhost",
                                 "Yes — sending them after the meeting.\nAround 10:45.",
                                 T0 + dt.timedelta(minutes=1)))
    pending = ChatMessage("3", Direction.OUTGOING, "alice@localhost", "Great, thanks!",
                          T0 + dt.timedelta(minutes=2))
    pending.advance(Delivery.SENT, T0 + dt.timedelta(minutes=2, seconds=1))
    conversation.add(pending)
    session.conversation("carol@localhost").unread = 2
    return app


async def populate(pilot) -> None:
    app = pilot.app
    screen = app.main_screen
    for event in (events.ConnectionChanged("online"), events.RosterChanged(),
                  events.UnreadChanged("carol@localhost", 2)):
        screen.post_message(SessionUpdate(event))
    await pilot.pause()


def test_main_screen_roster(snap_compare):
    assert snap_compare(demo_app(), terminal_size=(100, 30), run_before=populate)


async def open_bob(pilot) -> None:
    await populate(pilot)
    pilot.app.main_screen.open_conversation("bob@localhost")
    await pilot.pause()


def test_main_screen_conversation_with_ticks(snap_compare):
    assert snap_compare(demo_app(), terminal_size=(100, 30), run_before=open_bob)


def test_main_screen_at_80x24(snap_compare):
    assert snap_compare(demo_app(), terminal_size=(80, 24), run_before=open_bob)


def test_journal_screen(snap_compare):
    from tui.screens import JournalScreen
    from tui.session.journal import JournalNoteView, JournalRow

    start = T0 - dt.timedelta(hours=3)
    rows = [
        JournalRow(1, "alice@localhost", "chat", "out", "bob@localhost", "answered", start,
                   start + dt.timedelta(minutes=12), 0, 3, 4, "See you at three"),
        JournalRow(2, "alice@localhost", "audio", "in", "carol@localhost", "missed",
                   start + dt.timedelta(minutes=30), start + dt.timedelta(minutes=30), 0, 0, 0),
        JournalRow(3, "alice@localhost", "video", "out", "bob@localhost", "answered",
                   start + dt.timedelta(hours=1), start + dt.timedelta(hours=1, minutes=5), 305, 0, 0,
                   notes=(JournalNoteView(1, "alice@localhost", "Agreed on the price", T0),)),
        JournalRow(4, "alice@localhost", "groupchat", "in", "sales@conference.localhost", "answered",
                   start + dt.timedelta(hours=2), start + dt.timedelta(hours=2, minutes=9), 0, 5, 1,
                   "dave: budget is approved"),
        JournalRow(5, "alice@localhost", "planned", "out", "+49301234567", "planned",
                   T0 + dt.timedelta(days=1), T0 + dt.timedelta(days=1), 0, 0, 0,
                   "Call back about the contract"),
    ]

    async def open_journal(pilot) -> None:
        await populate(pilot)
        await pilot.app.push_screen(JournalScreen(pilot.app.session, rows))
        await pilot.pause()

    assert snap_compare(demo_app(), terminal_size=(110, 24), run_before=open_journal)


def test_journal_screen_grouped_by_day(snap_compare):
    from tui.screens import JournalScreen
    from tui.session.journal import JournalRow

    rows = [JournalRow(i, "alice@localhost", "chat", "out" if i % 2 else "in", peer, "answered",
                       T0 - dt.timedelta(days=i // 2, hours=i), T0 - dt.timedelta(days=i // 2, hours=i),
                       0, 1, 2, f"message {i}")
            for i, peer in enumerate(["bob@localhost", "carol@localhost", "dave@localhost",
                                      "bob@localhost", "erin@localhost"], start=1)]

    async def grouped(pilot) -> None:
        await populate(pilot)
        await pilot.app.push_screen(JournalScreen(pilot.app.session, rows))
        await pilot.press("g")
        await pilot.pause()

    assert snap_compare(demo_app(), terminal_size=(110, 24), run_before=grouped)


async def test_journal_columns_can_be_hidden_and_reordered():
    from textual.widgets import DataTable

    from tui.screens import JournalScreen
    from tui.session.journal import JournalRow

    rows = [JournalRow(1, "alice@localhost", "chat", "out", "bob@localhost", "answered", T0, T0,
                       0, 1, 1, "hello")]
    app = demo_app()
    async with app.run_test(size=(110, 24)) as pilot:
        await populate(pilot)
        await app.push_screen(JournalScreen(app.session, rows))
        await pilot.pause()
        table = app.screen.query_one(DataTable)

        def labels() -> list[str]:
            return [str(column.label) for column in table.ordered_columns]

        assert labels()[:2] == ["Time", "Type"]
        await pilot.press("c", "space", "a")  # hide Time
        await pilot.pause()
        assert "Time" not in labels() and table.row_count == 1
        await pilot.press("c", "space", "down", "down", "down", "shift+up", "a")  # Time back; Contact up
        await pilot.pause()
        assert labels()[:4] == ["Time", "Type", "Contact", "Dir"]


def test_presence_dialog(snap_compare):
    async def open_dialog(pilot) -> None:
        await populate(pilot)
        await pilot.press("f2", "down")
        await pilot.pause()

    assert snap_compare(demo_app(), terminal_size=(100, 30), run_before=open_dialog)


async def test_hide_offline_contacts():
    app = demo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await populate(pilot)
        roster = app.main_screen.query_one("#roster")
        ids = lambda: [o.id for o in roster.options if o.id]  # noqa: E731
        assert "erin@localhost" in ids()
        await pilot.press("h")
        assert "erin@localhost" not in ids() and "bob@localhost" in ids()
        await pilot.press("h")
        assert "erin@localhost" in ids()


def _call(**changes):
    from tui.session.callinfo import CallInfo

    info = CallInfo(sid="s1", peer="bob@localhost", device="bob@localhost/phone", outgoing=False,
                    video=False, state="active", duration=83.0, answered=True, round_trip_ms=1.4,
                    loss=0.0, codecs={"audio": "opus/48000"}, peer_level=0.12,
                    media_note="no microphone on this machine: sending a test tone")
    return dataclasses.replace(info, **changes)


def test_incoming_call_window(snap_compare):
    from .test_screens_80x24 import incoming_call

    assert snap_compare(demo_app(), terminal_size=(100, 30), run_before=incoming_call)


def test_call_panel_during_a_call_at_80x24(snap_compare):
    from tui.session.callinfo import CallChanged

    async def in_call(pilot) -> None:
        await open_bob(pilot)
        pilot.app.main_screen.post_message(SessionUpdate(CallChanged(_call(muted=True))))
        await pilot.pause()

    assert snap_compare(demo_app(), terminal_size=(80, 24), run_before=in_call)


def test_screen_share_chooser_at_80x24(snap_compare):
    from tui.screens.screen_share import DECLINE, ScreenChoice

    async def asked(pilot) -> None:
        await open_bob(pilot)
        choices = [("1", "Screen 1 — 1920×1080 at +0+0 (DP-1)"),
                   ("2", "Screen 2 — 2560×1440 at +1920+0 (HDMI-1)"), (DECLINE, "Decline")]
        await pilot.app.push_screen(ScreenChoice("Bob asks to see your screen: which one?",
                                                 choices, escape="Esc declines"))
        await pilot.pause()

    assert snap_compare(demo_app(), terminal_size=(80, 24), run_before=asked)
