"""Room avatars (CH3, XEP-0486) against the real ejabberd: a picture we set is what a bare slixmpp
client (not our code) reads from the room, and a picture such a client set as the room's owner is
what we show in the room panel, in half blocks; initials where a room has none."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest
from slixmpp import JID
from slixmpp.plugins.xep_0054.stanza import VCardTemp

from tui.app import SwitchboardApp
from tui.screens.files import AttachDialog
from tui.session.room_avatars import AVATAR_COLUMNS, MOST_BYTES, RoomAvatar, advertised_hash
from tui.session.rooms import RoomError
from tui.widgets.chat.file_entry import UPPER_HALF
from tui.widgets.rooms import ParticipantList

from .conftest import session_account
from .test_files import png
from .test_rooms import ROOM_PLUGINS, peer_room, room_with_peer
from .watch import SessionWatcher

PEER_PLUGINS = (*ROOM_PLUGINS, "xep_0054")


def picture_file(tmp_path: Path, name: str = "logo.png", width: int = 48, height: int = 48) -> Path:
    path = tmp_path / name
    path.write_bytes(png(width, height))
    return path


async def test_owner_sets_the_picture_and_a_foreign_client_reads_it(
        pair, session_for, raw_client, tmp_path):
    alice, bob = pair
    session, watch = await session_for(alice)
    peer = await raw_client(bob, plugins=PEER_PLUGINS)
    room = await room_with_peer(session, watch, peer, "Avatar Team")
    await watch.until(lambda: room.jid in session.room_avatars.by_room, what="first look")
    assert session.room_avatars.by_room[room.jid] == RoomAvatar("")  # none yet: initials

    path = picture_file(tmp_path)
    avatar = await session.room_avatars.publish(room.jid, path)
    assert avatar.hash == hashlib.sha1(path.read_bytes()).hexdigest()
    assert avatar.preview is not None and avatar.preview.width <= AVATAR_COLUMNS

    info = await peer.plugin["xep_0030"].get_info(JID(room.jid), timeout=10)
    assert advertised_hash(info) == avatar.hash
    vcard = await peer.plugin["xep_0054"].get_vcard(JID(room.jid), timeout=10)
    assert vcard["vcard_temp"]["PHOTO"]["BINVAL"] == path.read_bytes()
    assert vcard["vcard_temp"]["PHOTO"]["TYPE"] == "image/png"


async def test_we_show_the_picture_a_foreign_owner_set_and_notice_a_new_one(
        pair, session_for, raw_client):
    alice, bob = pair
    peer = await raw_client(bob, plugins=PEER_PLUGINS)
    room = await peer_room(peer, "Bob's Corner")
    first = png(64, 32)
    vcard = VCardTemp()
    vcard["PHOTO"]["TYPE"] = "image/png"
    vcard["PHOTO"]["BINVAL"] = first
    await peer.plugin["xep_0054"].publish_vcard(vcard, jid=room, timeout=10)

    session, watch = await session_for(alice)
    await session.rooms.join(room.bare)
    avatars = session.room_avatars.by_room
    await watch.until(lambda: avatars.get(room.bare) and avatars[room.bare].hash, what="its picture")
    shown = avatars[room.bare]
    assert shown.hash == hashlib.sha1(first).hexdigest()
    assert shown.preview is not None and shown.preview.width == AVATAR_COLUMNS  # wide: fits across

    second = png(20, 20)
    vcard["PHOTO"]["BINVAL"] = second
    await peer.plugin["xep_0054"].publish_vcard(vcard, jid=room, timeout=10)
    again = await session.room_avatars.refresh(room.bare)  # what opening the room panel does
    assert again.hash == hashlib.sha1(second).hexdigest() and again.preview is not None
    assert await session.room_avatars.refresh(room.bare) is again  # unchanged: not read again


async def test_only_owners_set_it_and_only_with_a_small_picture(
        pair, session_for, raw_client, tmp_path):
    alice, bob = pair
    session, watch = await session_for(alice)
    room = await session.rooms.create("Picture Rules", [bob.jid.bare])
    with pytest.raises(RoomError, match="There is no file"):
        await session.room_avatars.publish(room.jid, tmp_path / "missing.png")
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    with pytest.raises(RoomError, match="no picture"):
        await session.room_avatars.publish(room.jid, notes)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    with pytest.raises(RoomError, match="could not be read as a picture"):
        await session.room_avatars.publish(room.jid, broken)
    huge = tmp_path / "huge.png"
    huge.write_bytes(png(8, 8) + bytes(MOST_BYTES))
    with pytest.raises(RoomError, match="choose a smaller one"):
        await session.room_avatars.publish(room.jid, huge)

    member, member_watch = await session_for(bob)
    await member.rooms.join(room.jid)
    with pytest.raises(RoomError, match="Only an owner"):
        await member.room_avatars.publish(room.jid, picture_file(tmp_path))
    assert not session.room_avatars.by_room[room.jid].hash  # nothing was set


def panel_text(app: SwitchboardApp) -> str:
    panel = app.main_screen.query_one(ParticipantList)
    return "\n".join(panel.render_line(y).text for y in range(panel.size.height))


async def test_room_panel_shows_initials_then_the_picture_set_with_p(
        make_account, stack_settings, tmp_path, monkeypatch):
    monkeypatch.setenv("COLORTERM", "truecolor")  # a terminal that shows pictures
    alice = make_account("alice")
    app = SwitchboardApp(session_account(alice, stack_settings))
    watch = SessionWatcher(app.session)
    async with app.run_test(size=(80, 24)) as pilot:
        await watch.until(lambda: app.session.state == "online", what="online")
        room = await app.session.rooms.create("Design Crew")
        await watch.until(lambda: room.jid in app.session.room_avatars.by_room, what="first look")
        app.main_screen.open_conversation(room.jid)
        await pilot.press("f5")
        await asyncio.wait_for(app.workers.wait_for_complete(), 20)
        await pilot.pause()
        assert " DC " in panel_text(app) and UPPER_HALF not in panel_text(app)

        await pilot.press("p")
        assert isinstance(app.screen, AttachDialog)
        await pilot.press(*str(picture_file(tmp_path)), "enter")
        await asyncio.wait_for(app.workers.wait_for_complete(), 20)
        await pilot.pause()
        assert UPPER_HALF in panel_text(app) and " DC " not in panel_text(app)
        assert "Design Crew" in panel_text(app)

        await pilot.press("p")  # a file that is no picture: said, nothing changes
        await pilot.press(*str(tmp_path), "/", *"nothing.txt", "enter")
        assert isinstance(app.screen, AttachDialog)  # no such file: the dialog says so and stays
        assert "There is no file" in str(app.screen.query_one("#attach-error").render())
        await pilot.press("escape")
        await pilot.pause()
        assert UPPER_HALF in panel_text(app)


async def test_a_member_is_told_only_owners_set_the_picture(pair, raw_client, stack_settings):
    alice, bob = pair
    peer = await raw_client(bob, plugins=PEER_PLUGINS)
    room = await peer_room(peer, "Bob's Room")
    app = SwitchboardApp(session_account(alice, stack_settings))
    watch = SessionWatcher(app.session)
    async with app.run_test(size=(80, 24)) as pilot:
        await watch.until(lambda: app.session.state == "online", what="online")
        await app.session.rooms.join(room.bare)
        app.main_screen.open_conversation(room.bare)
        await pilot.press("f5", "p")
        await pilot.pause()
        assert not isinstance(app.screen, AttachDialog)
        assert any("Only an owner" in n.message for n in app._notifications)
