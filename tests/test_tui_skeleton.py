"""The walking skeleton, headless: alice in our client, bob a bare slixmpp client we did not write."""

from __future__ import annotations

import asyncio

from slixmpp import JID
from slixmpp.xmlstream import ET

from tui.app import SwitchboardApp
from tui.screens.login import LoginScreen
from tui.session import Delivery, Show
from tui.widgets.chat import MessageLog
from tui.widgets.roster import RosterList

from .conftest import session_account
from .watch import SessionWatcher


def screen_lines(widget) -> list[str]:
    """What a line-API widget shows right now, line by line."""
    return [widget.render_line(y).text.rstrip() for y in range(widget.size.height)]


async def test_alice_chats_with_bob_and_sees_ticks(pair, raw_client, stack_settings):
    alice, bob = pair
    bob_jid = bob.jid.bare
    app = SwitchboardApp(session_account(alice, stack_settings))
    session = app.session
    watch = SessionWatcher(session)
    async with app.run_test(size=(100, 30)) as pilot:
        await watch.until(lambda: session.state == "online", what="alice online")
        await pilot.pause()
        roster = app.screen.query_one(RosterList)
        assert "offline" in str(roster.get_option(bob_jid).prompt)

        # bob logs in from a client we did not write: alice sees him online
        peer = await raw_client(bob)
        await watch.until(lambda: session.contacts[bob_jid].show is Show.AVAILABLE, what="bob online")
        await pilot.pause()
        assert "available" in str(roster.get_option(bob_jid).prompt)

        # open the chat from the roster with Enter, type, send with Enter
        roster.focus()
        roster.highlighted = roster.get_option_index(bob_jid)
        await pilot.press("enter")
        assert app.screen.open_jid == bob_jid
        await pilot.press(*"Hello Bob")
        await pilot.press("enter")

        received = await asyncio.wait_for(peer.inbox.get(), 10)
        assert received["body"] == "Hello Bob"
        message = session.conversation(bob_jid).messages[-1]
        log = app.screen.query_one(MessageLog)

        await watch.until(lambda: message.delivery >= Delivery.DELIVERED, what="delivered")
        await pilot.pause()
        shown = "\n".join(screen_lines(log))
        assert "Hello Bob" in shown
        assert f"sent {message.sent_at.astimezone():%H:%M:%S}" in shown
        assert f"delivered {message.delivered_at.astimezone():%H:%M:%S}" in shown
        assert "read" not in shown

        peer.plugin["xep_0333"].send_marker(received["from"], received["id"], "displayed",
                                            mtype="chat")
        await watch.until(lambda: message.delivery is Delivery.READ, what="read")
        await pilot.pause()
        assert f"read {message.read_at.astimezone():%H:%M:%S}" in "\n".join(screen_lines(log))

        # bob answers; it appears live, and alice's client tells bob it was read
        markers: asyncio.Queue = asyncio.Queue()
        peer.add_event_handler("marker_displayed", markers.put_nowait)
        answer = peer.make_message(mto=JID(alice.jid.bare), mbody="Hi Alice, got it", mtype="chat")
        answer.enable("markable")
        answer.send()
        await watch.until(lambda: len(session.conversation(bob_jid).messages) == 2, what="answer")
        await pilot.pause()
        assert "Hi Alice, got it" in "\n".join(screen_lines(log))
        marker = await asyncio.wait_for(markers.get(), 10)
        assert marker["displayed"]["id"] == answer["id"]


async def test_shift_enter_and_alt_enter_insert_line_breaks(pair, raw_client, stack_settings):
    alice, bob = pair
    app = SwitchboardApp(session_account(alice, stack_settings))
    watch = SessionWatcher(app.session)
    peer = await raw_client(bob)
    async with app.run_test(size=(100, 30)) as pilot:
        await watch.until(lambda: app.session.state == "online", what="online")
        await pilot.pause()
        app.screen.open_conversation(bob.jid.bare)
        await pilot.press(*"first", "alt+enter", *"second", "enter")
        received = await asyncio.wait_for(peer.inbox.get(), 10)
        assert received["body"] == "first\nsecond"


async def test_login_failure_is_shown_not_raised(make_account, stack_settings):
    account = make_account("nologin")
    wrong = session_account(account, stack_settings)
    app = SwitchboardApp(type(wrong)(wrong.jid, "not-the-password", wrong.host, wrong.port,
                                     wrong.ca_file))
    async with app.run_test(size=(100, 30)) as pilot:
        session = app.session
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, LoginScreen)  # to type the password again
        said = str(app.screen.query_one("#login-message").render())
        assert f"refused the password for {account.jid}" in said
        assert session.state == "offline"


async def test_setting_presence_and_note_reaches_other_clients(pair, raw_client, stack_settings):
    alice, bob = pair
    peer = await raw_client(bob)
    seen: asyncio.Queue = asyncio.Queue()
    peer.add_event_handler("presence", lambda p: p["from"].bare == alice.jid.bare and seen.put_nowait(p))
    app = SwitchboardApp(session_account(alice, stack_settings))
    watch = SessionWatcher(app.session)
    async with app.run_test(size=(100, 30)) as pilot:
        await watch.until(lambda: app.session.state == "online", what="online")
        await pilot.press("f2", "down", "enter")  # available -> away, then the note
        await pilot.press(*"Sales meeting until 10:30", "enter")
        while (presence := await asyncio.wait_for(seen.get(), 10))["show"] != "away":
            pass
        assert presence["status"] == "Sales meeting until 10:30"
        await pilot.pause()
        bar = app.screen.query_one("#presence")
        assert "Sales meeting until 10:30" in str(bar.render())
        await pilot.press("f2", "down", "enter", "enter")  # busy, note kept
        while (presence := await asyncio.wait_for(seen.get(), 10))["show"] != "dnd":
            pass
        assert presence["status"] == "Sales meeting until 10:30"


async def test_idle_turns_away_with_idle_time_and_activity_brings_it_back(pair, raw_client,
                                                                          stack_settings):
    alice, bob = pair
    peer = await raw_client(bob, plugins=("xep_0319",))
    seen: asyncio.Queue = asyncio.Queue()
    peer.add_event_handler("presence", lambda p: p["from"].bare == alice.jid.bare and seen.put_nowait(p))
    app = SwitchboardApp(session_account(alice, stack_settings), idle_after=0.6)
    watch = SessionWatcher(app.session)
    async with app.run_test(size=(100, 30)) as pilot:
        await watch.until(lambda: app.session.state == "online", what="online")
        # nobody touches the client: away, with the time since when (XEP-0319)
        while (presence := await asyncio.wait_for(seen.get(), 10))["show"] != "away":
            pass
        assert presence.xml.find("{urn:xmpp:idle:1}idle") is not None
        await pilot.press("a")  # activity
        while (presence := await asyncio.wait_for(seen.get(), 10))["show"] != "":
            pass
        assert presence["type"] == "available"
        assert presence.xml.find("{urn:xmpp:idle:1}idle") is None


async def test_inform_me_when_a_contact_comes_online_or_leaves(pair, raw_client, stack_settings):
    alice, bob = pair
    app = SwitchboardApp(session_account(alice, stack_settings))
    watch = SessionWatcher(app.session)
    async with app.run_test(size=(100, 30)) as pilot:
        await watch.until(lambda: app.session.state == "online", what="online")
        await pilot.pause()
        roster = app.screen.query_one(RosterList)
        roster.focus()
        roster.highlighted = roster.get_option_index(bob.jid.bare)
        await pilot.press("i")
        peer = await raw_client(bob)
        await watch.until(lambda: app.session.contacts[bob.jid.bare].show is Show.AVAILABLE,
                          what="bob online")
        await pilot.pause()
        assert any(n.title == "Status change" and "available" in n.message for n in app._notifications)
        await peer.stop()
        await watch.until(lambda: app.session.contacts[bob.jid.bare].show is Show.OFFLINE,
                          what="bob offline")
        await pilot.pause()
        assert any(n.title == "Status change" and "offline" in n.message for n in app._notifications)


async def test_contact_card_shows_presence_and_vcard(pair, raw_client, stack_settings):
    alice, bob = pair
    peer = await raw_client(bob, plugins=("xep_0054",))
    vcard = peer.plugin["xep_0054"].make_vcard()
    vcard["FN"] = "Bob Builder"
    vcard["ORG"]["ORGNAME"] = "Builders Ltd"
    tel = ET.SubElement(vcard.xml, "{vcard-temp}TEL")
    ET.SubElement(tel, "{vcard-temp}WORK")
    ET.SubElement(tel, "{vcard-temp}NUMBER").text = "+49 30 1234567"
    await peer.plugin["xep_0054"].publish_vcard(vcard, timeout=10)
    peer.send_presence(pshow="away", pstatus="At the site")
    app = SwitchboardApp(session_account(alice, stack_settings))
    watch = SessionWatcher(app.session)
    async with app.run_test(size=(100, 30)) as pilot:
        await watch.until(lambda: app.session.contacts.get(bob.jid.bare) is not None
                          and app.session.contacts[bob.jid.bare].show is Show.AWAY, what="bob away")
        await pilot.pause()
        roster = app.screen.query_one(RosterList)
        roster.focus()
        roster.highlighted = roster.get_option_index(bob.jid.bare)
        await pilot.press("d")
        await app.workers.wait_for_complete()
        await pilot.pause()
        head = str(app.screen.query_one("#card-head").render())
        card = str(app.screen.query_one("#card-vcard").render())
        assert "away" in head and "At the site" in head
        assert "Bob Builder" in card and "Builders Ltd" in card and "+49 30 1234567" in card
        assert "phone (work)" in card
        await pilot.press("escape")
        assert app.screen is app.main_screen


def test_the_call_stack_is_not_loaded_at_start_up() -> None:
    """aiortc, PyAV and the Jingle plugin load with the session's first call use, not with the
    app: importing them costs ~200 ms of the client's cold start (bench tui_start)."""
    import subprocess
    import sys

    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, tui.app, tui.__main__; "
         "print(sorted(m for m in ('aiortc', 'av', 'xmpp_components.plugins.jingle') "
         "if m in sys.modules))"], capture_output=True, text=True, timeout=60, check=True)
    assert loaded.stdout.split() == ["[]"]
