"""Snapshots of file entries in a conversation, the files list and the notification settings, with
fixed data (no server, fixed clock, UTC, a true-colour terminal), plus the notice rules for rooms."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tui.screens.files import FilesScreen
from tui.session import ChatMessage, Delivery, Direction
from tui.session.attachment import Attachment, FileState, Preview
from tui.settings import ClientSettings, FileSettings

from .test_snapshots import T0, demo_app, populate, utc  # noqa: F401  (utc: autouse fixture)

UPLOAD = "http://127.0.0.1:5280/upload/4f1e/9a7c"


@pytest.fixture(autouse=True)
def true_colour_terminal_and_settings(tmp_path, monkeypatch):
    """Pictures shown (true colour), downloads going to a fixed folder, default notifications."""
    monkeypatch.setenv("COLORTERM", "truecolor")
    path = tmp_path / "client.json"
    ClientSettings(files=FileSettings(download_dir=Path("/home/alice/Downloads"))).save_to(path)
    monkeypatch.setenv("SWITCHBOARD_CLIENT_CONFIG", str(path))


def chart() -> Preview:
    """A 32×16 picture: a blue-to-orange sky over a green hill."""
    pixels = []
    for y in range(16):
        row = []
        for x in range(32):
            hill = y > 10 - 3 * abs(x - 16) / 16
            row.append((40, 150 + y * 5, 60) if hill else (60 + x * 6, 90 + y * 6, 220 - x * 4))
        pixels.append(row)
    return Preview(32, 16, pixels)


def file_message(index: int, name: str, direction: Direction = Direction.INCOMING,
                 **details: object) -> ChatMessage:
    url = f"{UPLOAD}/{name}"
    sender = "alice@localhost" if direction is Direction.OUTGOING else "bob@localhost"
    message = ChatMessage(f"f{index}", direction, sender, url, T0 + dt.timedelta(minutes=3 + index))
    if direction is Direction.OUTGOING:
        message.advance(Delivery.DELIVERED, message.time)
    message.attachment = Attachment(url, name, probed=True, **details)  # type: ignore[arg-type]
    return message


def files_app():
    app = demo_app()
    conversation = app.session.conversation("bob@localhost")
    for message in (
        file_message(1, "quarterly.pdf", size=1_234_567, content_type="application/pdf"),
        file_message(2, "chart.png", size=48_213, content_type="image/png", preview=chart()),
        file_message(3, "minutes.txt", Direction.OUTGOING, size=2_048, content_type="text/plain",
                     state=FileState.SAVED, local_path=Path("/home/alice/Documents/minutes.txt")),
        file_message(4, "site-visit.mp4", size=10_000_000, content_type="video/mp4",
                     state=FileState.DOWNLOADING, done=4_000_000),
    ):
        conversation.add(message)
    return app


async def open_bob(pilot) -> None:
    await populate(pilot)
    pilot.app.main_screen.open_conversation("bob@localhost")
    await pilot.pause()


def test_file_entries_in_the_conversation_and_an_upload_under_way(snap_compare):
    from tui.session.files import Transfer

    async def uploading(pilot) -> None:
        await open_bob(pilot)
        upload = Transfer("t1", True, "bob@localhost", "budget 2027.xlsx", 3_200_000, done=1_440_000,
                          path=Path("/home/alice/budget 2027.xlsx"))
        pilot.app.session.files._begin(upload)  # as the upload would announce itself
        await pilot.pause()

    assert snap_compare(files_app(), terminal_size=(100, 40), run_before=uploading)


def test_files_list_with_a_picture(snap_compare):
    async def open_files(pilot) -> None:
        await open_bob(pilot)
        await pilot.press("ctrl+l")
        await pilot.press("down", "down")  # chart.png: its picture beside the list
        await pilot.pause()
        assert isinstance(pilot.app.screen, FilesScreen)

    assert snap_compare(files_app(), terminal_size=(100, 30), run_before=open_files)


def test_notification_settings_without_a_desktop_service(snap_compare):
    from .test_screens_80x24 import notification_settings

    assert snap_compare(demo_app(), terminal_size=(100, 34), run_before=notification_settings)


def test_notice_rules_for_rooms_mentions_and_muted_conversations():
    from tui.session import Account, ChatSession
    from tui.session.callinfo import CallChanged, CallInfo
    from tui.session.events import UnreadChanged
    from tui.session.model import Room
    from tui.session.notifications import NoticeRules
    from tui.session.pins import NEVER, ON_MENTION, Marks
    from tui.settings import NotificationSettings

    session = ChatSession(Account("alice@localhost", "alice"))
    room = "sales@conference.localhost"
    session.rooms.by_jid[room] = Room(room, "Sales", nick="alice", joined=True)
    settings = NotificationSettings()
    looking: set[str] = set()
    rules = NoticeRules(session, lambda: settings, looking.__contains__)

    def said(jid: str, body: str, nick: str = "") -> object:
        conversation = session.conversation(jid)
        conversation.add(ChatMessage(str(len(conversation.messages)), Direction.INCOMING,
                                     "bob@localhost", body, T0, nick=nick,
                                     mentions_me="alice" in body))  # as the session marks them
        conversation.unread += 1
        return rules.notice(UnreadChanged(jid, conversation.unread))

    notice = said(room, "budget is approved", "bob")
    assert notice is not None and notice.kind == "rooms" and notice.title == "bob in Sales"
    notice = said(room, "@alice can you check?", "bob")
    assert notice.kind == "mentions" and notice.title == "bob mentioned you in Sales"

    session.pins.marks[room] = Marks(notify=ON_MENTION)  # muted room: mentions only
    assert said(room, "lunch?", "bob") is None
    assert said(room, "alice: lunch?", "bob").kind == "mentions"
    settings.mentions = False
    assert said(room, "alice: still lunch?", "bob") is None

    settings.rooms, settings.mentions = False, True
    session.pins.marks.clear()
    assert said(room, "nobody asked", "bob") is None
    assert said(room, "@alice you are asked", "bob").kind == "mentions"

    session.pins.marks["bob@localhost"] = Marks(notify=NEVER)  # muted chat: silent
    assert said("bob@localhost", "hello") is None
    session.pins.marks.clear()
    looking.add("bob@localhost")  # the open conversation: no notice
    assert said("bob@localhost", "hello again") is None
    looking.clear()
    settings.preview = False
    notice = said("bob@localhost", "the secret")
    assert notice.text == "New message" and "secret" not in notice.title

    call = CallInfo(sid="c1", peer="bob@localhost", device="bob@localhost/phone", outgoing=False,
                    video=False, state="ended", ended="missed")
    notice = rules.notice(CallChanged(call))
    assert notice.kind == "calls" and "bob@localhost tried to call you at" in notice.text
    assert rules.notice(CallChanged(call)) is None  # once per call
    settings.calls = False
    assert rules.notice(CallChanged(CallInfo(**{**call.__dict__, "sid": "c2"}))) is None
