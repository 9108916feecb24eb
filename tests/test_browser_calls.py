"""Calls between our Jingle plugin and a real browser endpoint we did not write: StanzaJS 12 in
headless Chromium, logged in over ejabberd's WebSocket, its microphone a known tone and its camera
Chromium's fake one, its media relayed through ejabberd's TURN over TCP on 127.0.0.1 (every packet
on loopback)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from xmpp_components.plugins.jingle import Call, CallState
from xmpp_components.plugins.jingle.media import AudioProbe, TestPatternTrack, ToneTrack, VideoProbe

from .browser import BrowserPeer
from .phones import Phone
from .test_screen_share import colour

BROWSER_HZ, OUR_HZ = 523, 660


@pytest.fixture
async def bob_and_browser(pair, phone, browser, stack_settings) -> tuple[Phone, BrowserPeer, str]:
    """Bob on one of our phones; alice in Chromium, logged in over WebSocket (her full JID)."""
    alice_account, bob_account = pair
    bob = await phone(bob_account)
    page = await browser(microphone_hz=BROWSER_HZ)
    login = await page.login(alice_account, stack_settings)
    assert login["iceServers"], "ejabberd announces TURN over TCP (XEP-0215)"
    assert login["jid"].split("/")[0] == alice_account.jid.bare
    return bob, page, login["jid"]


async def assert_browser_hears_us_through_loopback_relay(page: BrowserPeer) -> None:
    """Chromium decodes our tone, and its selected pair is its TURN-over-TCP relay on 127.0.0.1;
    it gathered nothing else (no host or reflexive candidate that could carry media elsewhere)."""
    stats = await page.call("stats")
    assert stats["received"] > 0 and stats["energy"] > 0 and stats["sent"] > 0
    heard = await page.call("peakHz")
    assert abs(heard["hz"] - OUR_HZ) <= 10, heard
    assert stats["local"] == {"type": "relay", "address": "127.0.0.1", "relayProtocol": "tcp"}
    assert stats["remote"]["address"] == "127.0.0.1"
    candidates = await page.call("localCandidates")
    assert candidates and all(" 127.0.0.1 " in c and " typ relay " in c for c in candidates)


async def assert_each_hears_the_other(call: Call, page: BrowserPeer) -> AudioProbe:
    """Our phone hears the browser's tone and the browser ours, through its loopback relay."""
    at_bob = AudioProbe(await call.wait_remote_track("audio"))
    await at_bob.wait_frames(75)  # 1.5 s, so a 1 s window holds only the steady tone
    assert abs(at_bob.peak_frequency(1.0) - BROWSER_HZ) <= 5
    await assert_browser_hears_us_through_loopback_relay(page)
    return at_bob


async def test_a_browser_calls_our_phone_hears_it_and_hangs_up(bob_and_browser) -> None:
    bob, page, alice = bob_and_browser
    assert await page.call("call", str(bob.jid)) is None
    incoming = await bob.ringing()
    assert not incoming.jmi and incoming.peer == alice
    await incoming.accept(audio=ToneTrack(OUR_HZ))
    start, connected = await page.next("calling"), await page.next("connected")
    assert await incoming.wait_state(CallState.ACTIVE) is CallState.ACTIVE
    print(f"browser -> phone: connected {connected['ms'] - start['ms']:.0f} ms after the call started")

    at_bob = await assert_each_hears_the_other(incoming, page)
    assert at_bob.level() > 0.05

    await page.call("hangup")
    assert await incoming.wait_state(CallState.ENDED) is CallState.ENDED
    assert incoming.end is not None and (incoming.end.condition, incoming.end.by) == ("success", "peer")
    assert (await page.next("ended"))["detail"]["reason"] == "success"
    await at_bob.stop()


async def test_our_phone_calls_the_browser_which_answers_and_sees_our_hangup(bob_and_browser) -> None:
    bob, page, alice = bob_and_browser
    outgoing = await bob.jingle.call(alice, audio=ToneTrack(OUR_HZ), jmi=False)
    ringing = await page.next("incoming")
    assert ringing["detail"]["from"] == str(bob.jid)
    await page.call("answer")
    connected = await page.next("connected")
    assert await outgoing.wait_state(CallState.ACTIVE) is CallState.ACTIVE
    print(f"phone -> browser: connected {connected['ms'] - ringing['ms']:.0f} ms after the page "
          "got the call (the test answers through DevTools in between)")

    at_bob = await assert_each_hears_the_other(outgoing, page)

    await outgoing.hangup()
    assert (await page.next("ended"))["detail"]["reason"] == "success"
    assert outgoing.end is not None and outgoing.end.by == "local" and outgoing.end.answered
    await at_bob.stop()


def frame_rgb(probe: VideoProbe) -> np.ndarray:
    assert probe.last is not None
    return probe.last.to_ndarray(format="rgb24")


async def phone_sees_the_browser_camera(call: Call, page: BrowserPeer, since: float
                                        ) -> tuple[VideoProbe, float]:
    """Our phone gets Chromium's fake camera: its green test card, at the captured size or scaled
    down by the browser, moving. Returns the probe and the seconds from ``since`` (the loop's
    clock) to its first frame."""
    at_bob = VideoProbe(await call.wait_remote_track("video"))
    await at_bob.wait_frames(1)
    first = asyncio.get_running_loop().time() - since
    before = frame_rgb(at_bob)
    await at_bob.wait_frames(15)  # 0.75 s of a 20 fps camera: the card's clock and pac-man move
    after = frame_rgb(at_bob)
    camera = (await page.call("videoStats"))["camera"]
    height, width, _ = after.shape
    assert width * camera["height"] == height * camera["width"], (after.shape, camera)
    assert camera["width"] // 4 <= width <= camera["width"]
    red, green, blue = colour(at_bob)
    assert green > red + 60 and green > blue + 60, "Chromium's fake camera is a green card"
    if before.shape == after.shape:  # (the browser may rescale in between)
        moved = np.abs(before.astype(int) - after).max(axis=2) > 64
        assert moved.sum() > 500, "the card's clock and pac-man move between frames"
    return at_bob, first


async def browser_shows_our_bars(page: BrowserPeer, pattern: TestPatternTrack) -> float:
    """The browser decodes our colour bars at the size we send and its <video> element shows them;
    returns the page's clock (ms) at its first shown frame."""
    first = await page.next("first-frame")
    assert first["detail"] == {"width": pattern.width, "height": pattern.height}
    await page.call("shownFrames", 30)
    stats = await page.call("videoStats")
    assert stats["decoded"] >= 30 and stats["encoded"] > 0
    assert (stats["width"], stats["height"]) == (pattern.width, pattern.height)
    # a row of the <video> element is our eight colour bars, shifted by however far they moved
    row = np.array(await page.call("videoRow", pattern.height // 2), dtype=int)
    bars = (await TestPatternTrack(pattern.width, pattern.height).recv()).to_ndarray(format="rgb24")
    errors = [np.percentile(np.abs(row - np.roll(bars[0], shift, axis=0)), 90)
              for shift in range(pattern.width)]
    assert min(errors) <= 24, row[::pattern.width // 16]
    return float(first["ms"])


async def assert_video_both_ways(call: Call, page: BrowserPeer, pattern: TestPatternTrack,
                                 since: float, page_since: str) -> str:
    """Each side sees and hears the other in an answered audio+video call; says how long the first
    frame took at our phone (from ``since``, the loop's clock) and in the browser (from its event
    ``page_since``)."""
    assert await call.wait_state(CallState.ACTIVE) is CallState.ACTIVE
    assert call.codecs["video"].split("/")[0] in ("VP8", "H264")
    at_bob, first_at_bob = await phone_sees_the_browser_camera(call, page, since)
    started = await page.next(page_since)
    first_at_page = await browser_shows_our_bars(page, pattern)
    at_bob_audio = await assert_each_hears_the_other(call, page)
    await at_bob.stop()
    await at_bob_audio.stop()
    return (f"first frame at our phone {first_at_bob * 1000:.0f} ms, in the browser "
            f"{first_at_page - started['ms']:.0f} ms")


async def test_a_browser_video_call_shows_each_side_the_other_s_camera(bob_and_browser) -> None:
    """Audio and video both ways, the browser calling: our phone gets Chromium's fake camera, the
    browser shows our colour bars."""
    bob, page, alice = bob_and_browser
    assert await page.call("call", str(bob.jid), True) is None
    incoming = await bob.ringing()
    assert incoming.peer == alice and incoming.media == ("audio", "video")
    pattern = TestPatternTrack()
    answered = asyncio.get_running_loop().time()
    await incoming.accept(audio=ToneTrack(OUR_HZ), video=pattern)
    timing = await assert_video_both_ways(incoming, page, pattern, answered, "accepted")
    print(f"browser -> phone video: {timing} after the answer")

    await page.call("hangup")
    assert await incoming.wait_state(CallState.ENDED) is CallState.ENDED
    assert (await page.next("ended"))["detail"]["reason"] == "success"


async def test_our_phone_video_call_is_answered_with_the_browser_s_camera(bob_and_browser) -> None:
    """Audio and video both ways, our phone calling: the page sees video in the offer and answers
    with its camera as well as its microphone; each side sees the other's picture."""
    bob, page, alice = bob_and_browser
    pattern = TestPatternTrack()
    outgoing = await bob.jingle.call(alice, audio=ToneTrack(OUR_HZ), video=pattern, jmi=False)
    ringing = await page.next("incoming")
    assert ringing["detail"] == {"from": str(bob.jid), "video": True}
    answering = asyncio.get_running_loop().time()
    await page.call("answer")
    timing = await assert_video_both_ways(outgoing, page, pattern, answering, "answering")
    print(f"phone -> browser video: {timing} after the page began to answer")

    await outgoing.hangup()
    assert (await page.next("ended"))["detail"]["reason"] == "success"
    assert outgoing.end is not None and outgoing.end.by == "local" and outgoing.end.answered
