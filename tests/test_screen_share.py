"""Screen sharing (AV3) during a call, through the real ejabberd: a real X display (Xvfb) whose
two monitors show different colours, captured with mss and sent as a Jingle ``content-add``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
from slixmpp.exceptions import IqError

from xmpp_components.plugins.jingle import Call, CallState
from xmpp_components.plugins.jingle.contents import VideoState
from xmpp_components.plugins.jingle.media import AudioProbe, ToneTrack, VideoProbe
from xmpp_components.plugins.jingle.model import (
    Content,
    PayloadType,
    content_from_xml,
    content_to_xml,
)
from xmpp_components.plugins.jingle.screen import CaptureUnavailable, ScreenTrack, list_screens

from .displays import Display
from .phones import Phone
from .test_calls import established, quiet
from .test_journal import journal, query, settled  # noqa: F401  (journal is a fixture)


def colour(probe: VideoProbe) -> tuple[int, int, int]:
    """The mean colour of the newest received frame."""
    assert probe.last is not None
    pixels = probe.last.to_ndarray(format="rgb24").reshape(-1, 3)
    return tuple(int(v) for v in np.median(pixels, axis=0))  # type: ignore[return-value]


def near(seen: tuple[int, int, int], wanted: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 24 for a, b in zip(seen, wanted, strict=True))


async def test_a_display_lists_its_monitors_and_without_one_capture_says_why(xvfb: Display,
                                                                           monkeypatch) -> None:
    screens = list_screens(xvfb.name)
    assert [(s.left, s.width, s.height) for s in screens[:2]] == [(0, 160, 240), (160, 160, 240)]
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(CaptureUnavailable, match="DISPLAY is not set"):
        list_screens()
    with pytest.raises(CaptureUnavailable, match="cannot open the display"):
        list_screens(":9999")


async def test_a_shared_screen_arrives_beside_the_audio_and_stops_while_the_call_goes_on(
        pair, phone, xvfb: Display) -> None:
    alice, bob = [await phone(a) for a in pair]
    outgoing, incoming = await established(alice, bob)
    hearing = AudioProbe(await incoming.wait_remote_track("audio"))
    right = list_screens(xvfb.name)[1]
    capture = ScreenTrack(right, display=xvfb.name)

    share = await outgoing.share_screen(capture)
    assert share.state is VideoState.PROPOSED and share.sending and share.screen
    offered = await incoming.wait_video(None, VideoState.PROPOSED)
    assert offered.waiting_for_us and not offered.sending and offered.screen
    assert offered.name == share.name
    await incoming.accept_video(offered.name)
    await outgoing.wait_video(share.name, VideoState.ACTIVE)

    shown = incoming.videos.videos[offered.name]
    assert shown.remote_track is not None
    assert "video" not in incoming.remote_tracks, "the screen is not the peer's camera"
    seeing = VideoProbe(shown.remote_track)
    await seeing.wait_frames(5, timeout=15)
    assert near(colour(seeing), xvfb.right_rgb), colour(seeing)
    assert seeing.last is not None and (seeing.last.width, seeing.last.height) == (160, 240)

    await outgoing.remove_video(share.name)
    await incoming.wait_video(offered.name, VideoState.REMOVED)
    assert capture.readyState == "ended"
    assert await quiet(seeing)
    await hearing.wait_frames(50)  # one second more of the call's audio
    assert abs(hearing.peak_frequency(1.0) - 440) <= 5
    await seeing.stop()
    await hearing.stop()


async def test_asking_for_the_peer_s_screen_gets_the_one_it_chooses(pair, phone, xvfb) -> None:
    alice, bob = [await phone(a) for a in pair]
    outgoing, incoming = await established(alice, bob)

    asked = await incoming.request_screen()  # bob, the responder, wants alice's screen
    assert not asked.sending and asked.senders == "initiator"
    request = await outgoing.wait_video(None, VideoState.PROPOSED)
    assert request.waiting_for_us and request.sending
    with pytest.raises(ValueError, match="give the track"):
        await outgoing.accept_video(request.name)
    capture = ScreenTrack(list_screens(xvfb.name)[0], display=xvfb.name)
    await outgoing.accept_video(request.name, capture)
    got = await incoming.wait_video(asked.name, VideoState.ACTIVE)
    assert got.remote_track is not None
    seeing = VideoProbe(got.remote_track)
    await seeing.wait_frames(5, timeout=15)
    assert near(colour(seeing), xvfb.left_rgb), colour(seeing)

    await incoming.remove_video(asked.name)  # the viewer stops it
    await outgoing.wait_video(request.name, VideoState.REMOVED)
    assert capture.readyState == "ended"
    await seeing.stop()


async def test_a_declined_share_ends_for_the_sharer_and_a_later_one_still_works(
        pair, phone, xvfb) -> None:
    alice, bob = [await phone(a) for a in pair]
    outgoing, incoming = await established(alice, bob)
    screens = list_screens(xvfb.name)
    first = ScreenTrack(screens[0], display=xvfb.name)
    share = await incoming.share_screen(first)  # bob, the responder, shares
    offered = await outgoing.wait_video(None, VideoState.PROPOSED)
    await outgoing.reject_video(offered.name)
    refused = await incoming.wait_video(share.name, VideoState.REJECTED)
    assert refused.reason is not None and refused.reason.condition == "decline"
    assert first.readyState == "ended"

    again = await incoming.share_screen(ScreenTrack(screens[1], display=xvfb.name))
    assert again.record_id != share.record_id, "the archive tells the two shares apart"
    offered = await outgoing.wait_video(again.name, VideoState.PROPOSED)
    await outgoing.accept_video(offered.name)
    shown = await outgoing.wait_video(again.name, VideoState.ACTIVE)
    assert shown.remote_track is not None
    seeing = VideoProbe(shown.remote_track)
    await seeing.wait_frames(5, timeout=15)
    assert near(colour(seeing), xvfb.right_rgb), colour(seeing)
    await seeing.stop()


async def test_a_share_ends_with_the_call(pair, phone, xvfb) -> None:
    alice, bob = [await phone(a) for a in pair]
    outgoing, incoming = await established(alice, bob)
    capture = ScreenTrack(list_screens(xvfb.name)[0], display=xvfb.name)
    share = await outgoing.share_screen(capture)
    await incoming.accept_video((await incoming.wait_video(None, VideoState.PROPOSED)).name)
    await outgoing.wait_video(share.name, VideoState.ACTIVE)
    await incoming.hangup()
    await outgoing.closed()
    assert share.state is VideoState.REMOVED and capture.readyState == "ended"


async def content_iq(phone: Phone, call: Call, action: str, content: str) -> str:
    """Send a hand-made Jingle ``action`` in ``call``; the error text it gets."""
    iq = phone.client.make_iq_set(ito=call.peer)
    jingle = ET.SubElement(iq.xml, "{urn:xmpp:jingle:1}jingle", action=action, sid=call.sid)
    jingle.append(ET.fromstring(content))
    with pytest.raises(IqError) as refused:
        await iq.send(timeout=10)
    return f"{refused.value.iq['error']['condition']}: {refused.value.iq['error']['text']}"


async def test_wrong_content_actions_get_an_error_that_says_what_is_wrong(pair, phone) -> None:
    alice, bob = [await phone(a) for a in pair]
    outgoing, incoming = await established(alice, bob)
    rtp = "urn:xmpp:jingle:apps:rtp:1"
    audio = (f"<content xmlns='urn:xmpp:jingle:1' creator='initiator' name='extra'>"
             f"<description xmlns='{rtp}' media='audio'>"
             f"<payload-type id='0' name='PCMU' clockrate='8000'/></description></content>")
    assert await content_iq(alice, outgoing, "content-add", audio) == \
        "feature-not-implemented: only video can be added to a call, not audio"
    taken = audio.replace("'extra'", "'0'").replace("'audio'", "'video'")
    assert "there is a content named '0' already" in await content_iq(
        alice, outgoing, "content-add", taken)
    wrong_creator = audio.replace("'initiator'", "'responder'").replace("'audio'", "'video'")
    assert "creator=initiator" in await content_iq(alice, outgoing, "content-add", wrong_creator)
    stray = "<content xmlns='urn:xmpp:jingle:1' creator='responder' name='7'/>"
    assert "content-accept names no content we proposed" in await content_iq(
        alice, outgoing, "content-accept", stray)
    own = "<content xmlns='urn:xmpp:jingle:1' creator='initiator' name='0'/>"
    assert "no added content '0' to remove" in await content_iq(
        alice, outgoing, "content-remove", own)
    assert incoming.state.value == "active", "the call goes on after refused actions"


async def test_the_journal_files_a_share_added_to_a_call_as_a_screen_share(
        pair, phone, xvfb, journal) -> None:  # noqa: F811
    alice, bob = [await phone(a) for a in pair]
    outgoing, incoming = await established(alice, bob)
    declined = await outgoing.share_screen(ScreenTrack(list_screens(xvfb.name)[0],
                                                       display=xvfb.name))
    await incoming.reject_video((await incoming.wait_video(None, VideoState.PROPOSED)).name)
    await outgoing.wait_video(declined.name, VideoState.REJECTED)
    share = await outgoing.share_screen(ScreenTrack(list_screens(xvfb.name)[1],
                                                    display=xvfb.name))
    await incoming.accept_video((await incoming.wait_video(None, VideoState.PROPOSED)).name)
    await outgoing.wait_video(share.name, VideoState.ACTIVE)
    await incoming.remove_video(share.name)  # the viewer stops it: its device tells the archive
    await outgoing.wait_video(share.name, VideoState.REMOVED)
    await outgoing.hangup()
    await incoming.wait_state(CallState.ENDED)
    await settled(journal)

    mine, _ = await query(alice.client, journal, period="all", kind="screen")
    assert sorted((e.get("direction"), e.get("peer"), e.get("result")) for e in mine) == [
        ("out", bob.jid.bare, "answered"), ("out", bob.jid.bare, "declined")]
    assert [e.get("duration") is not None for e in mine if e.get("result") == "answered"] == [True]
    theirs, _ = await query(bob.client, journal, period="all", kind="screen")
    assert sorted((e.get("direction"), e.get("result")) for e in theirs) == [
        ("in", "answered"), ("in", "declined")]
    calls, _ = await query(alice.client, journal, period="all", kind="audio")
    assert [e.get("result") for e in calls] == ["answered"], "the call itself stays an audio call"


async def test_a_call_that_shares_a_screen_from_the_start_says_so_in_its_proposal(
        pair, phone, xvfb) -> None:
    alice, bob = [await phone(a) for a in pair]
    capture = ScreenTrack(list_screens(xvfb.name)[1], display=xvfb.name)
    outgoing = await alice.jingle.call(bob.jid.bare, audio=ToneTrack(), video=capture, screen=True)
    incoming = await bob.ringing()
    assert incoming.screen and incoming.media == ("audio", "video")
    await incoming.accept(audio=ToneTrack(660))
    await incoming.wait_state(CallState.ACTIVE)
    assert incoming._offer is not None
    assert [c.media_content for c in incoming._offer[0]] == [None, "slides"]
    seeing = VideoProbe(await incoming.wait_remote_track("video"))
    await seeing.wait_frames(5, timeout=15)
    assert near(colour(seeing), xvfb.right_rgb), colour(seeing)
    await outgoing.hangup()
    await seeing.stop()


def test_the_slides_marker_survives_xml_both_ways() -> None:
    content = Content("1", creator="responder", senders="responder", media="video",
                      payload_types=[PayloadType(96, "VP8", 90000)], media_content="slides")
    back = content_from_xml(ET.fromstring(ET.tostring(content_to_xml(content))))
    assert back.screen and back.media_content == "slides" and back.creator == "responder"
    plain = content_from_xml(ET.fromstring(ET.tostring(content_to_xml(
        Content("2", media="video", payload_types=[PayloadType(96, "VP8", 90000)])))))
    assert not plain.screen
