"""Every screen and dialog of the client in an 80×24 terminal: a snapshot of each with fixed data
(no server, fixed clock, UTC), and a check that nothing a user must reach — a field, a button, a
list, the hint line — is cut off by the terminal's edge. The Pilot tests of each screen's keys live
beside the feature they belong to; the room-from-a-group key is tested here, against ejabberd."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail
from textual.containers import ScrollableContainer
from textual.widget import Widget
from textual.widgets import Button, Footer, Input, OptionList, SelectionList, Static
from textual.widgets._footer import FooterKey

from tui.app import SwitchboardApp
from tui.screens.room_dialogs import GroupPicker
from tui.settings import ClientSettings, FileSettings
from tui.widgets.key_footer import KeyFooter

from .conftest import session_account
from .test_av_settings import null_audio  # noqa: F401, F811 (fixture: PortAudio on ALSA null devices)
from .test_conversation_tools_tui import fill_demo_index
from .test_conversation_tui import conversation_app, open_and_pick
from .test_rooms_tui import ROOM, open_room, room_demo_app
from .test_snapshots import T0, _call, demo_app, open_bob, populate, utc  # noqa: F401 (utc: fixture)
from .watch import SessionWatcher

SIZE = (80, 24)
Opener = Callable[..., Awaitable[None]]


@pytest.fixture(autouse=True)
def fixed_terminal_and_settings(tmp_path, monkeypatch):
    """Pictures shown (true colour), a fixed download folder, no system keyring."""
    monkeypatch.setenv("COLORTERM", "truecolor")
    path = tmp_path / "client.json"
    ClientSettings(files=FileSettings(download_dir=Path("/home/alice/Downloads"))).save_to(path)
    monkeypatch.setenv("SWITCHBOARD_CLIENT_CONFIG", str(path))
    before = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(before)


def journal_rows() -> list[object]:
    from tui.session.journal import JournalNoteView, JournalRow

    start = T0 - dt.timedelta(hours=3)
    return [
        JournalRow(1, "alice@localhost", "chat", "out", "bob@localhost", "answered", start,
                   start + dt.timedelta(minutes=12), 0, 3, 4, "See you at three"),
        JournalRow(2, "alice@localhost", "audio", "in", "carol@localhost", "missed",
                   start + dt.timedelta(minutes=30), start + dt.timedelta(minutes=30), 0, 0, 0),
        JournalRow(3, "alice@localhost", "video", "out", "bob@localhost", "answered",
                   start + dt.timedelta(hours=1), start + dt.timedelta(hours=1, minutes=5), 305, 0, 0,
                   notes=(JournalNoteView(1, "alice@localhost", "Agreed on the price", T0),)),
        JournalRow(4, "alice@localhost", "planned", "out", "+49301234567", "planned",
                   T0 + dt.timedelta(days=1), T0 + dt.timedelta(days=1), 0, 0, 0,
                   "Call back about the contract"),
    ]


async def journal(pilot, *keys: str) -> None:
    from tui.screens import JournalScreen

    await populate(pilot)
    await pilot.app.push_screen(JournalScreen(pilot.app.session, journal_rows()))
    await pilot.press(*keys)
    await pilot.pause()


async def online_with_bob_open(pilot, *keys: str) -> None:
    await open_bob(pilot)
    pilot.app.session.state = "online"  # the dialogs open; nothing is sent in these tests
    await pilot.press(*keys)
    await pilot.pause()


async def login(pilot) -> None:
    await pilot.pause()


async def refused_login(pilot) -> None:
    from tui.screens.login import LoginScreen
    from tui.settings import AccountSettings

    async def attempt(_request: object) -> str:
        return ""

    saved = AccountSettings(jid="alice@localhost", password_in_keyring=True)
    await pilot.app.switch_screen(LoginScreen(
        attempt, "No system keyring on this machine, so the password is typed at each start.", saved,
        "The server refused the password for alice@localhost — type it again.", error=True))
    await pilot.pause()


async def presence(pilot) -> None:
    await populate(pilot)
    await pilot.press("f2", "down")
    await pilot.pause()


async def card(pilot) -> None:
    from tui.screens.card import ContactCard

    await populate(pilot)
    session = pilot.app.session
    await pilot.app.push_screen(ContactCard(session, session.contacts["bob@localhost"]))
    await pilot.pause()


async def incoming_call(pilot) -> None:
    from tui.screens.call import IncomingCall

    await populate(pilot)
    window = IncomingCall(pilot.app.session, _call(state="ringing", video=True, duration=0.0,
                                                  answered=False), ring=False)
    window.number = "+49 89 1234-567"
    await pilot.app.push_screen(window)
    await pilot.pause()


async def notification_settings(pilot) -> None:
    from tui.notifications import DesktopNotifier
    from tui.screens.notification_settings import NotificationSettingsScreen

    await populate(pilot)
    notifier = pilot.app.notifier
    notifier.desktop = DesktopNotifier(None, "no desktop session here (no D-Bus session bus: "
                                             "DBUS_SESSION_BUS_ADDRESS is not set); toasts and "
                                             "the bell still work")
    await pilot.app.push_screen(NotificationSettingsScreen(notifier))
    await pilot.pause()


async def search(pilot) -> None:
    fill_demo_index()
    await populate(pilot)
    await pilot.press("ctrl+f", *"quarterly")
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def directory(pilot) -> None:
    from tui.screens.contact_dialogs import DirectoryResults

    await populate(pilot)
    await pilot.app.push_screen(DirectoryResults(pilot.app.session, "carol"))
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def first_hit(pilot, title: str) -> None:
    """Wait until the open palette's search puts ``title`` first (its hits come from a worker,
    on a busy machine a frame or more after the typing)."""
    from textual.command import CommandList

    hits = pilot.app.screen.query_one(CommandList)
    for _ in range(100):
        await pilot.app.workers.wait_for_complete()
        first = hits.get_option_at_index(0) if hits.option_count else None
        if first is not None and title in str(first.prompt):
            return
        await pilot.pause(0.05)
    raise AssertionError(f"the palette never offered {title!r}")


async def palette(pilot, title: str) -> None:
    """Run the palette command ``title``, once the palette's search has put it first (on a busy
    machine the hits can come a frame after the typing)."""
    await pilot.press("ctrl+p", *title)
    await first_hit(pilot, title)
    await pilot.press("enter")
    await pilot.pause()


async def group_chooser(pilot) -> None:
    await online_with_bob_open(pilot)
    await palette(pilot, "Move contact to group")


async def room_with(pilot, *keys: str) -> None:
    await open_room(pilot)
    pilot.app.session.state = "online"
    await pilot.press(*keys)
    await pilot.pause()


async def files_list(pilot) -> None:
    from .test_files_snapshots import open_bob as open_files_of_bob

    await open_files_of_bob(pilot)
    await pilot.press("ctrl+l", "down")
    await pilot.pause()


def files_demo() -> SwitchboardApp:
    from .test_files_snapshots import files_app

    return files_app()


async def group_picker(pilot) -> None:
    await populate(pilot)
    pilot.app.session.state = "online"
    await pilot.press("g")
    await pilot.pause()


SCREENS: dict[str, tuple[Callable[[], SwitchboardApp], Opener]] = {
    "login": (lambda: SwitchboardApp(None), login),
    "login_after_a_refused_password": (lambda: SwitchboardApp(None), refused_login),
    "main_roster": (demo_app, populate),
    "presence_dialog": (demo_app, presence),
    "contact_card": (demo_app, card),
    "incoming_call": (demo_app, incoming_call),
    "journal": (demo_app, lambda pilot: journal(pilot)),
    "journal_columns": (demo_app, lambda pilot: journal(pilot, "c")),
    "journal_note": (demo_app, lambda pilot: journal(pilot, "n", *"Call back")),
    "notification_settings": (demo_app, notification_settings),
    "search": (demo_app, search),
    "directory_results": (demo_app, directory),
    "group_chooser": (demo_app, group_chooser),
    "attach_file": (demo_app, lambda pilot: online_with_bob_open(pilot, "ctrl+t")),
    "reaction_picker": (demo_app, lambda pilot: online_with_bob_open(pilot, "shift+tab", "plus")),
    "retract_question": (demo_app, lambda pilot: online_with_bob_open(pilot, "shift+tab", "delete")),
    "files_list": (files_demo, files_list),
    "group_picker": (demo_app, group_picker),
    "room_rename": (room_demo_app, lambda pilot: room_with(pilot, "f5", "r")),
    "room_invite": (room_demo_app, lambda pilot: room_with(pilot, "f5", "a")),
    "room_leave_question": (room_demo_app, lambda pilot: room_with(pilot, "f5", "l")),
}
"""Every screen and dialog (the main screen's conversation, the room panel, the new-room dialog,
the call panel and the A/V settings have 80×24 snapshots beside their features)."""


@pytest.mark.parametrize("name", sorted(SCREENS))
def test_screen_at_80x24(snap_compare, name: str) -> None:
    make, opener = SCREENS[name]
    assert snap_compare(make(), terminal_size=SIZE, run_before=opener)


REACHABLE = (Button, Input, OptionList, SelectionList)


def cut_off(screen: Widget) -> list[str]:
    """What a user must reach on ``screen`` and cannot see whole: outside the terminal, or cut by
    a container that does not scroll."""
    problems = []
    width, height = SIZE
    for widget in screen.query("*"):
        if not widget.display or not isinstance(widget, REACHABLE + (Static,)):
            continue
        if not widget.region.area:
            if isinstance(widget, REACHABLE) and widget.visible:
                problems.append(f"{widget!r} has no room at all")
            continue
        region = widget.region
        scrolls = any(isinstance(a, ScrollableContainer) or a.styles.overflow_y in ("auto", "scroll")
                      for a in widget.ancestors_with_self[1:] if isinstance(a, Widget))
        if region.right > width or region.bottom > height and not scrolls:
            problems.append(f"{widget!r} reaches past the terminal: {region}")
        shown = widget.region.intersection(screen.region)
        if isinstance(widget, REACHABLE) and shown.area < region.area and not scrolls:
            problems.append(f"{widget!r} is cut off: {shown} of {region}")
    return problems


def drawn_footer(app: SwitchboardApp) -> Footer | None:
    """The key line at the terminal's bottom: the top screen's, or under a window the one of the
    screen below."""
    return next((f for screen in reversed(app.screen_stack) for f in screen.query(Footer)), None)


async def key_line_settled(pilot, wanted: tuple[str, ...] = ()) -> None:
    """Wait until the key line shows ``wanted`` and has its keys laid out: it composes them anew a
    frame after the keys that apply change, and places them a frame or more later (on a busy
    machine, several)."""
    for _ in range(100):
        footer = drawn_footer(pilot.app)
        if footer is None or not footer.display:
            return
        keys = list(footer.query(FooterKey))
        if keys and all(key.region.area for key in keys) and set(wanted) <= set(footer_keys(pilot.app)):
            return
        await pilot.pause(0.05)


def footer_problems(app: SwitchboardApp, *, busy: bool = False) -> list[str]:
    """What is wrong with the key line at the terminal's bottom: a key cut off or behind the
    palette key; and, unless the client is ``busy`` (a call, a transfer: keys of the moment come
    first), a key left out."""
    footer = drawn_footer(app)
    if footer is None or not footer.display:
        return []
    width, height = app.size
    keys = list(footer.query(FooterKey))
    palette = [key for key in keys if key.has_class("-command-palette")]
    problems = [] if len(palette) == 1 and palette[0].region.right <= width else ["no palette key"]
    edge = palette[0].region.x if palette else width
    for key in keys:
        text = f"{key.key_display} {key.description}".strip()
        region = key.region
        if key not in palette and (region.right > edge or region.width < len(text)
                                   or region.y != height - 1):
            problems.append(f"{text!r} is cut off: {region}, the palette key starts at {edge}")
    left_out = footer.left_out if isinstance(footer, KeyFooter) else []
    if left_out and not busy:
        problems.append(f"no room for {left_out}")
    return problems


def footer_keys(app: SwitchboardApp) -> list[str]:
    """The keys the bottom line shows, as they read (``f2 Presence``)."""
    footer = drawn_footer(app)
    return [] if footer is None else [f"{key.key_display} {key.description}"
                                      for key in footer.query(FooterKey)]


@pytest.mark.parametrize("name", sorted(SCREENS))
async def test_nothing_is_cut_off_at_80x24(name: str) -> None:
    make, opener = SCREENS[name]
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await opener(pilot)
        assert cut_off(app.screen) == [], name
        await key_line_settled(pilot)
        assert footer_problems(app) == [], name
        if name.startswith("login"):  # what went wrong is read first, not below the fold
            message = app.screen.query_one("#login-message")
            assert not message.region.area or message.region.bottom <= SIZE[1]


async def upload(pilot, to: str) -> None:
    """An upload to ``to`` begins, as the session announces one."""
    from tui.session.files import Transfer

    pilot.app.session.files._begin(Transfer("t1", True, to, "budget 2027.xlsx", 3_200_000,
                                            path=Path("/home/alice/budget 2027.xlsx")))
    await pilot.pause()


async def call_comes_in(pilot, *, answered: bool) -> None:
    """Bob's call as the call stack tracks one (no server here): ringing, or being connected."""
    from slixmpp import JID

    from xmpp_components.plugins.jingle import CallState
    from xmpp_components.plugins.jingle.call import Call

    call = Call(None, "s1", JID("bob@localhost/phone"), outgoing=False, media=("audio",), jmi=True)
    if answered:
        call.state = CallState.CONNECTING
    pilot.app.session.calls._track(call)
    await pilot.pause()
    await pilot.pause()


async def room_panel(pilot) -> None:
    await open_room(pilot)
    await pilot.press("f5")
    await pilot.pause()


async def room_upload(pilot) -> None:
    await open_room(pilot)
    await upload(pilot, ROOM)


async def bob_upload(pilot) -> None:
    await open_bob(pilot)
    await upload(pilot, "bob@localhost")


MODES: dict[str, tuple[Callable[[], SwitchboardApp], Opener, tuple[str, ...]]] = {
    "contacts": (demo_app, populate, ("n New room", "f2 Presence", "f3 Journal")),
    "conversation": (demo_app, open_bob, ("^t Send file", "f2 Presence", "f3 Journal")),
    "message_picked": (conversation_app, open_and_pick, ("r Reply", "+ React", "e Edit",
                                                          "del Retract")),
    "room": (room_demo_app, open_room, ("f5 Room", "^t Send file")),
    "room_panel": (room_demo_app, room_panel, ("a Add", "x Remove", "r Rename", "l Leave",
                                               "esc Back")),
    "upload": (demo_app, bob_upload, ("^t Send file", "^g Cancel transfer")),
    "room_upload": (room_demo_app, room_upload, ("f5 Room", "^t Send file", "^g Cancel transfer")),
    "journal": (demo_app, lambda pilot: journal(pilot), ("t Today", "w Week", "m Month", "k Type",
                                                         "x Missed")),
    "search": (demo_app, search, ("esc Back",)),
}
"""Each screen and mode with a key line, with the keys it must show at 80 columns whatever else
goes on (a mode shows its own keys instead of the screen's)."""
CALLS = {"no call": ("f8 Call",), "ringing": ("f8 Answer", "f9 Hang up"),
         "in a call": ("f9 Hang up", "f7 Mute", "f6 Hold")}
"""The call keys each moment of a call shows."""


@pytest.mark.parametrize("moment", sorted(CALLS))
@pytest.mark.parametrize("mode", sorted(MODES))
async def test_key_line_fits_at_80x24(mode: str, moment: str) -> None:
    make, opener, wanted = MODES[mode]
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await opener(pilot)
        if moment != "no call":
            await call_comes_in(pilot, answered=moment == "in a call")
        await key_line_settled(pilot, wanted + CALLS[moment])
        busy = moment != "no call" or "upload" in mode
        assert footer_problems(app, busy=busy) == [], footer_keys(app)
        shown = footer_keys(app)
        assert [key for key in wanted + CALLS[moment] if key not in shown] == [], shown
        assert shown[-1] == "^p palette"


async def test_the_journal_fits_80_columns_and_is_whole_when_wider() -> None:
    from textual.widgets import DataTable

    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await journal(pilot, "down", "down")
        table = app.screen.query_one(DataTable)

        def row(index: int) -> list[str]:
            return [str(cell) for cell in table.get_row_at(index)]

        def labels() -> list[str]:
            return [str(column.label) for column in table.ordered_columns]

        assert table.max_scroll_x == 0  # nothing out of sight to the right
        assert labels() == ["Time", "Type", "Contact", "Duration", "Preview", "✎"]
        assert row(0)[1:] == ["→ planned", "+49301234567", "planned", "Call back about the con…", ""]
        assert row(1)[1] == "→ video" and row(1)[-1] == "✎"
        highlighted = row(table.cursor_row)

        await pilot.resize_terminal(120, 24)
        await key_line_settled(pilot)
        assert labels() == ["Time", "Type", "Dir", "Contact", "Duration", "Preview", "✎"]
        assert row(0)[1:] == ["planned", "→", "+49301234567", "planned", "Call back about the contract",
                              ""]
        assert row(table.cursor_row)[0] == highlighted[0]  # the same entry, laid out anew
        assert footer_problems(app) == [] and "esc Back" not in footer_keys(app)


async def test_the_journal_keys_off_the_key_line_are_in_the_palette() -> None:
    from textual.binding import Binding

    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await journal(pilot)
        screen = app.screen
        helps = " ".join(help_text.lower() for _title, help_text, _do in screen.journal_commands())
        for binding in Binding.make_bindings(screen.BINDINGS):
            assert f"({app.get_key_display(binding).lower()})" in helps, binding
        await palette(pilot, "Journal: group")
        assert screen.grouping == "day"


async def test_the_key_line_shows_more_when_the_terminal_widens() -> None:
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_bob(pilot)
        await call_comes_in(pilot, answered=True)
        await key_line_settled(pilot, CALLS["in a call"])
        assert "^f Search" not in footer_keys(app)
        assert app.main_screen.query_one(KeyFooter).left_out == ["^f Search"]
        await pilot.resize_terminal(100, 24)
        await key_line_settled(pilot, ("^f Search",))
        assert footer_keys(app) == ["^t Send file", "f2 Presence", "f3 Journal", "^f Search",
                                    "f9 Hang up", "f7 Mute", "f6 Hold", "^p palette"]


async def test_room_from_a_contact_group_by_keys(pair, raw_client, stack_settings):
    from .test_rooms import ROOM_PLUGINS, next_matching, queue_of

    alice, bob = pair
    peer = await raw_client(bob, plugins=ROOM_PLUGINS)
    invites = queue_of(peer, "groupchat_direct_invite")
    app = SwitchboardApp(session_account(alice, stack_settings))
    watch = SessionWatcher(app.session)
    async with app.run_test(size=SIZE) as pilot:
        await watch.until(lambda: app.session.state == "online" and app.session.contacts,
                          what="online with bob as a contact")
        await pilot.pause()
        await pilot.press("g")
        assert isinstance(app.screen, GroupPicker)
        assert "Team" in str(app.screen.query_one(OptionList).get_option_at_index(0).prompt)
        await pilot.press("enter")
        rooms = app.session.rooms
        await watch.until(lambda: any(r.joined for r in rooms.by_jid.values()), what="room made")
        room = next(iter(rooms.by_jid.values()))
        assert room.name == "Team"
        invite = await next_matching(invites, lambda m: True)
        assert invite["groupchat_invite"]["jid"] == room.jid
        await asyncio.wait_for(app.workers.wait_for_complete(), 20)
        await pilot.pause()
        assert app.main_screen.open_jid == room.jid


def test_av_settings_at_80x24(snap_compare, null_audio) -> None:  # noqa: F811
    from tui.screens.av_settings import AVSettings
    from tui.session import Account
    from tui.settings import TEST_TONE, CallSettings

    # the test tone is chosen: ALSA's null device records noise, which would move the meter
    ClientSettings(calls=CallSettings(microphone=TEST_TONE)).save()

    async def open_settings(pilot) -> None:
        await pilot.app.push_screen(AVSettings(null_audio))
        await pilot.pause()
        assert cut_off(pilot.app.screen) == []

    app = SwitchboardApp(Account("alice@localhost", "alice"), autoconnect=False)
    assert snap_compare(app, terminal_size=SIZE, run_before=open_settings)


async def test_the_call_timer_leaves_a_main_screen_without_widgets_alone() -> None:
    """Quitting during a call: the once-a-second call tick can reach the main screen while it is
    taken down (its widgets gone); it used to raise NoMatches there, a traceback."""
    from tui.screens import MainScreen

    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await call_comes_in(pilot, answered=True)
        MainScreen(app.session).show_video()  # a screen with no widgets, as when taken down
