"""Screen sharing in the terminal client, headless at 80×24: alice in our client with a real X
display (Xvfb), bob a bare slixmpp client with the call plugin, through the real ejabberd."""

from __future__ import annotations

from textual.command import CommandInput, CommandPalette

from tui.app import SwitchboardApp
from tui.screens.screen_share import ScreenChoice
from tui.widgets.call import VideoView
from xmpp_components.plugins.jingle import CallState
from xmpp_components.plugins.jingle.contents import VideoState
from xmpp_components.plugins.jingle.media import ToneTrack, VideoProbe
from xmpp_components.plugins.jingle.screen import ScreenTrack, list_screens

from .displays import Display
from .test_screen_share import colour, near
from .test_screens_80x24 import first_hit
from .test_tui_calls import alice_online, panel_text, ringing_window, test_tone_settings  # noqa: F401


async def palette(app: SwitchboardApp, pilot, command: str) -> None:
    """Run ``command`` from the command palette: open it, put the words in its search field (as
    typing would, without a search per key), choose the first hit."""
    await pilot.press("ctrl+p")
    await pilot.pause()
    assert isinstance(app.screen, CommandPalette)
    app.screen.query_one(CommandInput).value = command
    await first_hit(pilot, command)
    await pilot.press("enter")
    await pilot.pause()


def palette_titles(app: SwitchboardApp) -> dict[str, str]:
    return {c.title: c.help for c in app.get_system_commands(app.screen)}


async def answered_call(app: SwitchboardApp, pilot, watch, phone, alice_account, bob_account):
    bob = await phone(bob_account)
    outgoing = await bob.jingle.call(alice_account.jid.bare, audio=ToneTrack(660))
    await ringing_window(app, watch, pilot)
    await pilot.press("f8")
    assert await outgoing.wait_state(CallState.ACTIVE) is CallState.ACTIVE
    await watch.until(lambda: app.session.calls.current is not None
                      and app.session.calls.current.state == "active", what="active at alice")
    return bob, outgoing


def view_colours(view: VideoView) -> set[tuple[int, int, int]]:
    line = view.render_line(view.size.height // 2)
    return {seg.style.color.triplet for seg in line if seg.style and seg.style.color}


async def test_sharing_a_chosen_screen_and_viewing_theirs_then_stopping(
        pair, phone, stack_settings, xvfb: Display, monkeypatch) -> None:
    monkeypatch.setenv("DISPLAY", xvfb.name)
    alice_account, bob_account = pair
    async with alice_online(alice_account, stack_settings, (80, 24)) as (app, pilot, watch):
        session = app.session
        bob, outgoing = await answered_call(app, pilot, watch, phone, alice_account, bob_account)
        assert "Share screen…" in palette_titles(app)

        await palette(app, pilot, "Share screen")
        assert isinstance(app.screen, ScreenChoice)  # the display has several: which one?
        await pilot.press("down", "enter")  # the second: the right half, green
        offered = await outgoing.wait_video(None, VideoState.PROPOSED)
        assert offered.screen and not offered.sending
        await outgoing.accept_video(offered.name)
        shown = await outgoing.wait_video(offered.name, VideoState.ACTIVE)
        assert shown.remote_track is not None
        seeing = VideoProbe(shown.remote_track)
        await seeing.wait_frames(5, timeout=15)
        assert near(colour(seeing), xvfb.right_rgb), colour(seeing)
        await watch.until(lambda: "sharing your screen" in panel_text(app), what="panel says so")

        mine = await outgoing.share_screen(ScreenTrack(list_screens(xvfb.name)[0],
                                                       display=xvfb.name))
        await watch.until(lambda: isinstance(app.screen, ScreenChoice), what="bob's offer asked")
        assert "wants to show you a screen" in str(app.screen.query_one("#screen-question").render())
        await pilot.press("enter")  # View their screen
        await outgoing.wait_video(mine.name, VideoState.ACTIVE)
        view = app.main_screen.query_one(VideoView)
        await watch.until(lambda: view._frame is not None, what="bob's screen shown", timeout=20)
        await pilot.pause()
        assert view.has_class("-active") and view.label.endswith("'s screen")
        assert any(near(c, xvfb.left_rgb) for c in view_colours(view)), view_colours(view)

        await palette(app, pilot, "Stop sharing")
        await outgoing.wait_video(offered.name, VideoState.REMOVED)
        await outgoing.wait_video(mine.name, VideoState.REMOVED)
        assert outgoing.state is CallState.ACTIVE, "the call goes on"
        notes = await watch.until(lambda: [
            m.body for m in session.conversation(bob.jid.bare).messages
            if m.body.startswith("🖥")] or None, what="share lines")
        assert sorted(n.split(" — ")[0] for n in notes) == [  # type: ignore[union-attr]
            "🖥 Incoming screen share", "🖥 Outgoing screen share"]
        await seeing.stop()


async def test_without_a_display_sharing_is_absent_with_the_reason_but_viewing_works(
        pair, phone, stack_settings, xvfb: Display, monkeypatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    alice_account, bob_account = pair
    async with alice_online(alice_account, stack_settings, (80, 24)) as (app, pilot, watch):
        bob, outgoing = await answered_call(app, pilot, watch, phone, alice_account, bob_account)
        titles = palette_titles(app)
        assert "Share screen…" not in titles
        assert "neither DISPLAY nor WAYLAND_DISPLAY" in titles["Share screen (unavailable)"]

        asked = await outgoing.request_screen()  # bob asks for alice's screen: she has none
        await watch.until(lambda: isinstance(app.screen, ScreenChoice), what="request asked")
        assert "No display to share" in str(app.screen.query_one("#screen-note").render())
        await pilot.press("enter")  # the only choice: Decline
        refused = await outgoing.wait_video(asked.name, VideoState.REJECTED)
        assert refused.reason is not None and refused.reason.condition == "decline"

        await palette(app, pilot, "Request peer's screen")  # seeing needs no display
        request = await outgoing.wait_video(None, VideoState.PROPOSED)
        assert request.sending and request.record_id != asked.record_id
        await outgoing.accept_video(request.name, ScreenTrack(list_screens(xvfb.name)[1],
                                                              display=xvfb.name))
        view = app.main_screen.query_one(VideoView)
        await watch.until(lambda: view._frame is not None, what="bob's screen shown", timeout=20)
        await pilot.pause()
        assert any(near(c, xvfb.right_rgb) for c in view_colours(view)), view_colours(view)
        assert "seeing their screen" in panel_text(app)
