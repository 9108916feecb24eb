"""Calls in the terminal client, headless: alice in our client, bob a bare slixmpp client with the
call plugin, real aiortc tracks fed from generated tones and test patterns, through the real
ejabberd on loopback."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from slixmpp.xmlstream import ET
from textual._xterm_parser import XTermParser
from textual.events import Key

from tui.app import SwitchboardApp
from tui.screens.call import IncomingCall
from tui.screens.card import initials
from tui.session import Show
from tui.settings import NO_SPEAKER, TEST_TONE, CallSettings, ClientSettings
from tui.widgets.call import CallPanel, VideoView
from tui.widgets.chat import Composer
from tui.widgets.roster import RosterList
from xmpp_components.plugins.jingle import CallState
from xmpp_components.plugins.jingle.media import AudioProbe, TestPatternTrack, ToneTrack

from .conftest import session_account
from .test_calls import until
from .watch import SessionWatcher


def panel_text(app: SwitchboardApp) -> str:
    return str(app.main_screen.query_one(CallPanel).render())


@pytest.fixture(autouse=True)
def test_tone_settings(tmp_path, monkeypatch) -> None:
    """Alice's client sends its 440 Hz test tone and plays nothing, whatever devices the machine
    has, so what bob hears is known."""
    path = tmp_path / "client.json"
    ClientSettings(calls=CallSettings(microphone=TEST_TONE, speaker=NO_SPEAKER)).save_to(path)
    monkeypatch.setenv("SWITCHBOARD_CLIENT_CONFIG", str(path))


@contextlib.asynccontextmanager
async def alice_online(account, settings, size: tuple[int, int]):
    """Alice in our client, headless, logged in."""
    app = SwitchboardApp(session_account(account, settings))
    watch = SessionWatcher(app.session)
    async with app.run_test(size=size) as pilot:
        await watch.until(lambda: app.session.state == "online", what="alice online")
        yield app, pilot, watch


async def ringing_window(app: SwitchboardApp, watch: SessionWatcher, pilot) -> None:
    """Wait for the call to ring at alice, then for the app to show the incoming-call window."""
    await watch.until(lambda: app.session.calls.current is not None
                      and app.session.calls.current.state == "ringing", what="ringing at alice")
    await pilot.pause()
    assert isinstance(app.screen, IncomingCall)


async def f8_on_contact(app: SwitchboardApp, pilot, watch: SessionWatcher, jid: str,
                        key: str = "f8", show: Show = Show.AVAILABLE) -> None:
    """Once ``jid`` shows as ``show``, highlight them in alice's contact list and press F8 (or
    ``key``)."""
    await watch.until(lambda: jid in app.session.contacts and app.session.contacts[jid].show is show,
                      what=f"{jid} {show}")
    roster = app.screen.query_one(RosterList)
    roster.focus()
    roster.highlighted = roster.get_option_index(jid)
    await pilot.press(key)


async def bob_video_calls(app: SwitchboardApp, pilot, watch: SessionWatcher, bob, alice_account,
                          key: str):
    """Bob's phone video-calls alice (tone and test pattern); she answers with ``key`` in the
    incoming-call window, which until then shows no "camera off". Returns bob's call, active."""
    outgoing = await bob.jingle.call(alice_account.jid.bare, audio=ToneTrack(660),
                                     video=TestPatternTrack())
    await ringing_window(app, watch, pilot)
    assert "Video call with" in panel_text(app) and "camera off" not in panel_text(app)
    await pilot.press(key)
    assert await outgoing.wait_state(CallState.ACTIVE) is CallState.ACTIVE
    return outgoing


async def publish_card(client, name: str, number: str) -> None:
    """Bob publishes a business card with a phone number (XEP-0054), as his own client would."""
    iq = client.make_iq_set()
    vcard = ET.SubElement(iq.xml, "{vcard-temp}vCard")
    ET.SubElement(vcard, "{vcard-temp}FN").text = name
    tel = ET.SubElement(vcard, "{vcard-temp}TEL")
    ET.SubElement(tel, "{vcard-temp}WORK")
    ET.SubElement(tel, "{vcard-temp}NUMBER").text = number
    await iq.send(timeout=10)


def call_keys(app: SwitchboardApp) -> dict[str, str]:
    """The call keys the main screen's footer shows now, with their words."""
    return {key: active.binding.description
            for key, active in app.main_screen.active_bindings.items()
            if key in ("f8", "f9", "f7", "f6") and active.binding.show and active.enabled}


async def test_an_incoming_call_shows_the_caller_then_f8_answers_and_the_keys_work(
        pair, phone, stack_settings) -> None:
    alice_account, bob_account = pair
    async with alice_online(alice_account, stack_settings, (100, 32)) as (app, pilot, watch):
        session = app.session
        bob = await phone(bob_account)
        await publish_card(bob.client, "Bob Builder", "+49 89 1234-567")
        await watch.until(lambda: session.contacts[bob.jid.bare].show is Show.AVAILABLE,
                          what="bob online")

        outgoing = await bob.jingle.call(alice_account.jid.bare, audio=ToneTrack(660))
        await ringing_window(app, watch, pilot)
        window = app.screen
        assert isinstance(window, IncomingCall)
        await app.workers.wait_for_complete()  # the caller's business card
        await pilot.pause()
        shown = str(window.query_one("#incoming-who").render())
        assert "Call from" in shown and bob.jid.bare in shown and "+49 89 1234-567" in shown
        name = session.contacts[bob.jid.bare].display_name
        assert shown.startswith(f" {initials(name)} ") and name in shown  # avatar initials, name
        assert outgoing.state is CallState.RINGING  # bob hears it ring before alice answers
        assert call_keys(app) == {"f8": "Answer", "f9": "Hang up"}

        await pilot.press("f8")
        assert await outgoing.wait_state(CallState.ACTIVE) is CallState.ACTIVE
        await watch.until(lambda: session.calls.current is not None
                          and session.calls.current.state == "active", what="active at alice")
        await watch.until(lambda: session.calls.current is not None
                          and session.calls.current.peer_level > 0.05, what="bob's tone arrives")
        await pilot.pause()
        text = panel_text(app)
        assert "connected" in text and "opus" in text.lower()
        assert call_keys(app) == {"f9": "Hang up", "f7": "Mute", "f6": "Hold"}  # no F8: busy
        at_bob = AudioProbe(await outgoing.wait_remote_track("audio"))
        await at_bob.wait_frames(60)
        assert abs(at_bob.peak_frequency(1.0) - 440) <= 5  # alice's test tone

        app.main_screen.open_conversation(bob.jid.bare)  # the call keys work while typing too
        await pilot.pause()
        assert isinstance(app.focused, Composer)
        await pilot.press("f7")
        await until(outgoing, lambda c: "audio" in c.remote_muted)
        await pilot.press("f7")
        await until(outgoing, lambda c: "audio" not in c.remote_muted)
        await pilot.press("f6")
        await until(outgoing, lambda c: c.remote_hold)
        await watch.until(lambda: "on hold" in panel_text(app), what="hold shown")
        await pilot.press("f6")
        await until(outgoing, lambda c: not c.remote_hold)

        await pilot.press("f9")
        await outgoing.wait_state(CallState.ENDED)
        await watch.until(lambda: not session.calls.calls, what="call gone at alice")
        notes = [m.body for m in session.conversation(bob.jid.bare).messages]
        assert any(n.startswith("📞 Incoming call — ended after 0:") for n in notes), notes
        assert call_keys(app) == {"f8": "Call"}
        await at_bob.stop()


async def test_f8_calls_the_open_contact_and_a_declined_call_is_noted(pair, phone,
                                                                      stack_settings) -> None:
    alice_account, bob_account = pair
    async with alice_online(alice_account, stack_settings, (100, 32)) as (app, pilot, watch):
        session = app.session
        bob = await phone(bob_account)
        await f8_on_contact(app, pilot, watch, bob.jid.bare)
        incoming = await bob.ringing()
        await watch.until(lambda: "ringing at the other end" in panel_text(app), what="ringback")
        await incoming.reject()
        await watch.until(lambda: not session.calls.calls, what="call over")
        await pilot.pause()
        assert "Call with" in panel_text(app) and "— declined" in panel_text(app)  # the outcome stays
        notes = [m.body for m in session.conversation(bob.jid.bare).messages]
        assert notes[-1] == "📞 Outgoing call — declined"


async def test_f8_on_a_contact_whose_devices_take_no_calls_says_so_and_proposes_nothing(
        pair, raw_client, stack_settings) -> None:
    """Bob is online only in a chat client (disco#info without Jingle audio, like the assistant
    account): F8 tells alice at once instead of ringing nobody for the ring timeout."""
    alice_account, bob_account = pair
    async with alice_online(alice_account, stack_settings, (100, 32)) as (app, pilot, watch):
        session = app.session
        bob = await raw_client(bob_account, resource="chat-only")
        await f8_on_contact(app, pilot, watch, bob.boundjid.bare)
        await app.workers.wait_for_complete()
        await pilot.pause()
        notes = [str(n.message) for n in app._notifications if n.title == "Call"]
        assert notes == [f"{bob.boundjid.bare} cannot take calls: no device of it online "
                         "(chat-only) supports Jingle audio calls (XEP-0167). "
                         "Send a message instead."]
        assert not session.calls.calls
        session.send_chat(bob.boundjid.bare, "after the call that was not placed")
        first = await asyncio.wait_for(bob.inbox.get(), 10)  # one stream: a propose would be first
        assert first["body"] == "after the call that was not placed"


async def test_calling_an_offline_contact_says_so_while_it_rings_out(pair, stack_settings) -> None:
    alice_account, bob_account = pair
    async with alice_online(alice_account, stack_settings, (120, 32)) as (app, pilot, watch):
        await f8_on_contact(app, pilot, watch, bob_account.jid.bare, show=Show.OFFLINE)
        await watch.until(lambda: app.session.calls.calls, what="the call placed")
        await pilot.pause()
        assert f"{bob_account.jid.user} is offline: a device of theirs rings if it comes online " \
               "within 45 s" in panel_text(app)
        await pilot.press("f9")
        await watch.until(lambda: not app.session.calls.calls, what="call withdrawn")


async def test_shift_f8_as_terminals_send_it_places_a_video_call(pair, phone,
                                                                stack_settings) -> None:
    """xterm, tmux and GNOME Terminal send Shift+F8 as ESC [19;2~, which Textual reads as F20,
    not as shift+f8: the key goes through Textual's own parser, then to the app."""
    keys = [m.key for m in XTermParser().feed("\x1b[19;2~") if isinstance(m, Key)]
    assert len(keys) == 1
    alice_account, bob_account = pair
    async with alice_online(alice_account, stack_settings, (100, 32)) as (app, pilot, watch):
        bob = await phone(bob_account)
        await f8_on_contact(app, pilot, watch, bob.jid.bare, key=keys[0])
        incoming = await bob.ringing()
        assert incoming.media == ("audio", "video")
        await incoming.reject()
        await watch.until(lambda: not app.session.calls.calls, what="call over")


async def test_shift_f8_in_the_incoming_call_window_answers_with_the_camera(
        pair, phone, stack_settings) -> None:
    """The window holds the keys while it is up: Shift+F8 there answers too (it used to do
    nothing, the main screen's binding being out of reach under the window)."""
    alice_account, bob_account = pair
    async with alice_online(alice_account, stack_settings, (100, 32)) as (app, pilot, watch):
        outgoing = await bob_video_calls(app, pilot, watch, await phone(bob_account),
                                         alice_account, key="shift+f8")
        assert await outgoing.wait_remote_track("video") is not None  # alice's (test) camera
        await outgoing.hangup()
        await watch.until(lambda: not app.session.calls.calls, what="call over")


async def test_a_video_call_shows_the_peer_s_picture(pair, phone, stack_settings) -> None:
    alice_account, bob_account = pair
    async with alice_online(alice_account, stack_settings, (110, 36)) as (app, pilot, watch):
        outgoing = await bob_video_calls(app, pilot, watch, await phone(bob_account),
                                         alice_account, key="f8")
        view = app.main_screen.query_one(VideoView)
        await watch.until(lambda: view._frame is not None, what="a video frame", timeout=20)
        await pilot.pause()
        assert view.has_class("-active")
        line = view.render_line(view.size.height // 2)
        colours = {seg.style.color.triplet for seg in line if seg.style and seg.style.color}
        assert len(colours) >= 4, "the colour bars of bob's test pattern"
        assert "video" in outgoing.remote_tracks  # alice sends her (test) camera too
