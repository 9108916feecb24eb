"""Notifications (CH12) in the headless client against the real ejabberd: bob and carol are bare
slixmpp clients we did not write. The desktop's ``notify-send`` is a script that writes down what it
was asked to show; everything else is the real thing."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest
from slixmpp import JID

from tui.app import SwitchboardApp
from tui.notifications import DesktopNotifier
from tui.screens.notification_settings import NotificationSettingsScreen
from tui.session import Show
from tui.settings import ClientSettings, NotificationSettings
from xmpp_components.plugins.jingle import CallState
from xmpp_components.plugins.jingle.media import ToneTrack

from .conftest import session_account
from .watch import SessionWatcher


@pytest.fixture
def trio(ejabberd, make_account):
    """Alice, bob and carol, each a contact of the others."""
    people = make_account("alice"), make_account("bob"), make_account("carol")
    ejabberd.ensure_group(f"team-{uuid.uuid4().hex[:6]}", "Team", [p.jid.user for p in people])
    return people


@pytest.fixture
def desktop(tmp_path, monkeypatch):
    """A desktop session whose ``notify-send`` records its arguments (one call per line); returns
    the record file. The client's settings file is a fresh one in ``tmp_path``."""
    record = tmp_path / "notify-send.log"
    program = tmp_path / "bin" / "notify-send"
    program.parent.mkdir()
    program.write_text(f"#!/bin/sh\nprintf '%s|' \"$@\" >> {record}\necho >> {record}\n")
    program.chmod(0o755)
    monkeypatch.setattr(DesktopNotifier, "SEARCH_PATH", str(program.parent))
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path}/no-bus")
    settings = tmp_path / "client.json"
    ClientSettings().save_to(settings)
    monkeypatch.setenv("SWITCHBOARD_CLIENT_CONFIG", str(settings))
    record.touch()
    return record


@contextlib.asynccontextmanager
async def alice_with_carol_open(alice, carol, settings):
    """Alice in our client, looking at her conversation with carol."""
    app = SwitchboardApp(session_account(alice, settings))
    watch = SessionWatcher(app.session)
    async with app.run_test(size=(100, 30)) as pilot:
        await watch.until(lambda: app.session.state == "online", what="alice online")
        await watch.until(lambda: carol.jid.bare in app.session.contacts, what="roster")
        app.main_screen.open_conversation(carol.jid.bare)
        await pilot.pause()
        yield app, pilot, watch


async def arrives(app, watch, pilot, peer, to, body: str) -> None:
    """``peer`` writes ``body`` to alice; return once her client has it and has reacted to it."""
    peer.send_message(mto=JID(to), mbody=body, mtype="chat")
    conversation = app.session.conversation(peer.boundjid.bare)
    await watch.until(lambda: any(m.body == body for m in conversation.messages), what=body)
    await pilot.pause()
    await app.notifier.idle()


async def test_a_message_in_a_conversation_not_open_gives_a_toast_the_bell_and_a_desktop_note(
        trio, raw_client, stack_settings, desktop):
    alice, bob, carol = trio
    bob_client, carol_client = await raw_client(bob), await raw_client(carol)
    async with alice_with_carol_open(alice, carol, stack_settings) as (app, pilot, watch):
        await watch.until(lambda: app.session.contacts[bob.jid.bare].show is Show.AVAILABLE,
                          what="bob online")
        await arrives(app, watch, pilot, bob_client, alice.jid.bare, "Lunch at noon?")
        notice = app.notifier.shown[-1]
        assert notice.kind == "messages" and notice.jid == bob.jid.bare
        assert notice.title == bob.jid.user and notice.text == "Lunch at noon?"
        toast = list(app._notifications)[-1]
        assert toast.title == bob.jid.user and toast.message == "Lunch at noon?"
        assert app.notifier.bells == 1
        assert desktop.read_text().splitlines() == [f"--app-name=Switchboard|--|{bob.jid.user}|"
                                                    "Lunch at noon?|"]

        # carol writes in the open conversation: alice sees it, nothing else happens
        await arrives(app, watch, pilot, carol_client, alice.jid.bare, "Here is the agenda")
        assert len(app.notifier.shown) == 1 and app.notifier.bells == 1


async def test_preview_off_hides_the_text_and_kinds_off_stay_silent(trio, raw_client, stack_settings,
                                                                   desktop):
    alice, bob, carol = trio
    bob_client = await raw_client(bob)
    async with alice_with_carol_open(alice, carol, stack_settings) as (app, pilot, watch):
        await watch.until(lambda: app.session.contacts[bob.jid.bare].show is Show.AVAILABLE,
                          what="bob online")
        app.notifier.save(NotificationSettings(preview=False))
        await arrives(app, watch, pilot, bob_client, alice.jid.bare, "The secret price is 42")
        notice = app.notifier.shown[-1]
        assert notice.text == "New message" and "42" not in notice.title
        assert all("42" not in str(n.message) + str(n.title) for n in app._notifications)
        assert "42" not in desktop.read_text() and "New message" in desktop.read_text()
        assert ClientSettings.load().notifications.preview is False  # saved in the file

        app.notifier.save(NotificationSettings(messages=False))
        await arrives(app, watch, pilot, bob_client, alice.jid.bare, "Anyone there?")
        assert len(app.notifier.shown) == 1 and app.notifier.bells == 1
        assert len(desktop.read_text().splitlines()) == 1

        # messages on, bell and desktop off: a toast only
        app.notifier.save(NotificationSettings(bell=False, desktop=False))
        await arrives(app, watch, pilot, bob_client, alice.jid.bare, "Hello?")
        assert app.notifier.shown[-1].text == "Hello?" and len(app.notifier.shown) == 2
        assert app.notifier.bells == 1 and len(desktop.read_text().splitlines()) == 1


async def test_a_missed_call_notifies(pair, phone, stack_settings, desktop):
    alice, bob_account = pair
    app = SwitchboardApp(session_account(alice, stack_settings))
    watch = SessionWatcher(app.session)
    async with app.run_test(size=(100, 30)) as pilot:
        await watch.until(lambda: app.session.state == "online", what="alice online")
        bob = await phone(bob_account)
        await watch.until(lambda: app.session.contacts[bob.jid.bare].show is Show.AVAILABLE,
                          what="bob online")
        outgoing = await bob.jingle.call(alice.jid.bare, audio=ToneTrack(660))
        await watch.until(lambda: app.session.calls.current is not None, what="ringing at alice")
        await outgoing.hangup()  # bob gives up before alice answers
        await outgoing.wait_state(CallState.ENDED)
        await watch.until(lambda: not app.session.calls.calls, what="call over at alice")
        await pilot.pause()
        await app.notifier.idle()
        notice = app.notifier.shown[-1]
        assert notice.kind == "calls" and notice.title == "Missed call"
        assert f"{bob.jid.user} tried to call you at" in notice.text
        assert app.notifier.bells >= 1
        assert "Missed call" in desktop.read_text()


async def test_settings_screen_switches_are_saved_and_say_when_the_desktop_has_no_service(
        pair, stack_settings, desktop, monkeypatch):
    alice, _bob = pair
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(desktop.parent))  # no bus socket there
    app = SwitchboardApp(session_account(alice, stack_settings), autoconnect=False)
    async with app.run_test(size=(100, 34)) as pilot:
        await pilot.press("ctrl+p", *"notification settings")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, NotificationSettingsScreen)
        await asyncio.wait_for(app.notifier.detect_desktop(), 10)
        await pilot.pause()
        state = str(screen.query_one("#notify-desktop-state").render())
        assert "No desktop notifications: no desktop session here" in state
        await pilot.press("space")  # chat messages off
        await pilot.press("down", "down", "down", "down", "space")  # message text off
        await pilot.pause()
        saved = ClientSettings.load().notifications
        assert saved.messages is False and saved.preview is False and saved.rooms is True
        await pilot.press("escape")
        assert app.screen is app.main_screen


async def test_in_a_room_files_are_shared_and_a_muted_room_notifies_only_on_mention(
        pair, raw_client, stack_settings, desktop, tmp_path):
    from .test_files import fetch
    from .test_rooms import ROOM_PLUGINS, next_matching, queue_of, room_with_peer

    alice, bob = pair
    peer = await raw_client(bob, plugins=(*ROOM_PLUGINS, "xep_0066"))
    said = queue_of(peer, "groupchat_message")
    app = SwitchboardApp(session_account(alice, stack_settings))
    watch = SessionWatcher(app.session)
    async with app.run_test(size=(100, 30)) as pilot:
        await watch.until(lambda: app.session.state == "online", what="alice online")
        room = await room_with_peer(app.session, watch, peer, "Sales")

        # a file to the room: bob's client sees the link as body and as OOB, and gets the bytes
        minutes = tmp_path / "minutes.txt"
        minutes.write_bytes(b"1. budget approved\n")
        await app.session.files.send(room.jid, minutes)
        shared = await next_matching(said, lambda m: m["oob"]["url"])
        assert shared["body"] == shared["oob"]["url"]
        assert await asyncio.to_thread(fetch, shared["body"]) == b"1. budget approved\n"

        def bob_says(text: str) -> None:
            peer.send_message(mto=JID(room.jid), mbody=text, mtype="groupchat")

        async def arrived(text: str) -> None:
            conversation = app.session.conversation(room.jid)
            await watch.until(lambda: any(m.body == text for m in conversation.messages), what=text)
            await pilot.pause()

        bob_says("budget is approved")
        await arrived("budget is approved")
        assert app.notifier.shown[-1].kind == "rooms"
        assert app.notifier.shown[-1].title == "bob in Sales"

        await app.session.pins.set_muted(room.jid, True)
        bob_says("lunch anyone?")
        await arrived("lunch anyone?")
        assert len(app.notifier.shown) == 1  # muted
        bob_says(f"{room.nick}: can you check the numbers?")
        await arrived(f"{room.nick}: can you check the numbers?")
        notice = app.notifier.shown[-1]
        assert notice.kind == "mentions" and notice.title == "bob mentioned you in Sales"
        assert notice.text == f"{room.nick}: can you check the numbers?"
