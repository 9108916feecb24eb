"""Audio/video calls between two XMPP sessions through the real ejabberd, media on loopback.

Each side is a bare slixmpp client with the ``sb_jingle`` plugin; STUN/TURN credentials come from
ejabberd (XEP-0215); host candidates are pinned to 127.0.0.1 so media never leaves loopback.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from slixmpp.exceptions import IqError
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

import xmpp_components.plugins.jingle  # noqa: F401  (registers sb_jingle)
from xmpp_components.plugins.jingle import Call, CallState
from xmpp_components.plugins.jingle.media import AudioProbe, TestPatternTrack, ToneTrack, VideoProbe
from xmpp_components.plugins.jingle.model import (
    Transport,
    content_to_xml,
    contents_from_jingle,
    group_from_jingle,
    group_to_xml,
    transport_to_xml,
)
from xmpp_components.plugins.jingle.sdp import jingle_to_sdp, sdp_to_jingle

from .phones import Phone


async def established(caller: Phone, callee: Phone, audio_hz: tuple[float, float] = (440, 660),
                      video: bool = False) -> tuple[Call, Call]:
    """Alice calls bob's bare JID with JMI, bob answers; both calls are active."""
    outgoing = await caller.jingle.call(
        callee.jid.bare, audio=ToneTrack(audio_hz[0]), video=TestPatternTrack() if video else None)
    incoming = await callee.ringing()
    assert incoming.state is CallState.RINGING
    await incoming.accept(audio=ToneTrack(audio_hz[1]), video=TestPatternTrack() if video else None)
    assert await outgoing.wait_state(CallState.ACTIVE) is CallState.ACTIVE
    assert await incoming.wait_state(CallState.ACTIVE) is CallState.ACTIVE
    return outgoing, incoming


async def test_audio_call_carries_each_side_s_tone(pair, phone) -> None:
    alice_account, bob_account = pair
    alice, bob = await phone(alice_account), await phone(bob_account)
    outgoing, incoming = await established(alice, bob)

    at_bob = AudioProbe(await incoming.wait_remote_track("audio"))
    at_alice = AudioProbe(await outgoing.wait_remote_track("audio"))
    await at_bob.wait_frames(75)  # 1.5 s of audio, so a 1 s window holds only the steady tone
    await at_alice.wait_frames(75)
    assert abs(at_bob.peak_frequency(1.0) - 440) <= 5
    assert abs(at_alice.peak_frequency(1.0) - 660) <= 5
    assert outgoing.codecs["audio"].lower().startswith("opus")
    quality = await outgoing.quality()
    assert quality.packets_received > 0
    for call in (outgoing, incoming):
        assert call.pc is not None and call.pc.localDescription is not None
        addresses = {line.split()[4] for line in call.pc.localDescription.sdp.splitlines()
                     if line.startswith("a=candidate:")}
        assert addresses == {"127.0.0.1"}, "media must stay on loopback"

    await outgoing.hangup()
    assert await incoming.wait_state(CallState.ENDED) is CallState.ENDED
    assert incoming.end is not None and incoming.end.by == "peer" and incoming.end.answered
    await at_bob.stop()
    await at_alice.stop()


async def quiet(probe: AudioProbe | VideoProbe, window: float = 0.6, attempts: int = 10) -> bool:
    """True once no frame arrives for ``window`` seconds (frames in flight may drain first)."""
    for _ in range(attempts):
        try:
            await probe.wait_frames(1, timeout=window)
        except TimeoutError:
            return True
    return False


async def until(call: Call, predicate: Callable[[Call], bool], timeout: float = 10) -> None:
    """Wait until ``predicate(call)`` holds after one of the call's changes."""
    changed = asyncio.Event()
    call.listeners.append(lambda _c: changed.set())
    async def reached() -> None:
        while not predicate(call):
            changed.clear()
            await changed.wait()
    await asyncio.wait_for(reached(), timeout)


async def test_video_call_shows_frames_both_ways(pair, phone) -> None:
    alice, bob = [await phone(a) for a in pair]
    outgoing, incoming = await established(alice, bob, video=True)
    assert outgoing.media == ("audio", "video") and incoming.media == ("audio", "video")
    at_bob = VideoProbe(await incoming.wait_remote_track("video"))
    at_alice = VideoProbe(await outgoing.wait_remote_track("video"))
    await at_bob.wait_frames(10)
    await at_alice.wait_frames(10)
    assert at_bob.last is not None and (at_bob.last.width, at_bob.last.height) == (320, 240)
    assert outgoing.codecs["video"].split("/")[0] in ("VP8", "H264")
    await at_bob.stop()
    await at_alice.stop()


async def test_hold_stops_media_both_ways_and_unhold_resumes(pair, phone) -> None:
    alice, bob = [await phone(a) for a in pair]
    outgoing, incoming = await established(alice, bob)
    at_bob = AudioProbe(await incoming.wait_remote_track("audio"))
    at_alice = AudioProbe(await outgoing.wait_remote_track("audio"))
    await at_bob.wait_frames(10)
    assert at_bob.level() > 0.05

    await outgoing.hold()
    await until(incoming, lambda c: c.remote_hold)
    assert await quiet(at_bob) and await quiet(at_alice)
    assert at_bob.level() == 0.0 and at_alice.level() == 0.0  # the meters fall, not freeze

    await outgoing.unhold()
    await until(incoming, lambda c: not c.remote_hold)
    await at_bob.wait_frames(60)
    await at_alice.wait_frames(60)
    assert abs(at_bob.peak_frequency(1.0) - 440) <= 5
    assert abs(at_alice.peak_frequency(1.0) - 660) <= 5
    await at_bob.stop()
    await at_alice.stop()


async def test_mute_is_signalled_and_silences_only_that_direction(pair, phone) -> None:
    alice, bob = [await phone(a) for a in pair]
    outgoing, incoming = await established(alice, bob)
    at_bob = AudioProbe(await incoming.wait_remote_track("audio"))
    at_alice = AudioProbe(await outgoing.wait_remote_track("audio"))
    await incoming.mute("audio")
    await until(outgoing, lambda c: "audio" in c.remote_muted)
    assert await quiet(at_alice)
    await at_bob.wait_frames(25)  # alice still speaks
    await incoming.unmute("audio")
    await until(outgoing, lambda c: "audio" not in c.remote_muted)
    await at_alice.wait_frames(60)
    assert abs(at_alice.peak_frequency(1.0) - 660) <= 5
    await at_bob.stop()
    await at_alice.stop()


async def test_rejected_call_ends_for_the_caller(pair, phone) -> None:
    alice, bob = [await phone(a) for a in pair]
    outgoing = await alice.jingle.call(bob.jid.bare, audio=ToneTrack())
    incoming = await bob.ringing()
    await until(outgoing, lambda c: c.remote_ringing)
    await incoming.reject()
    await outgoing.wait_state(CallState.ENDED)
    assert outgoing.end is not None
    assert (outgoing.end.condition, outgoing.end.by, outgoing.end.answered) == ("decline", "peer", False)
    assert not alice.jingle.calls and not bob.jingle.calls


async def test_cancelled_call_is_missed_at_the_callee(pair, phone) -> None:
    alice, bob = [await phone(a) for a in pair]
    outgoing = await alice.jingle.call(bob.jid.bare, audio=ToneTrack())
    incoming = await bob.ringing()
    await outgoing.hangup()
    await incoming.wait_state(CallState.ENDED)
    assert incoming.end is not None and incoming.end.missed and incoming.end.by == "peer"


async def test_unanswered_call_is_withdrawn_after_the_ring_timeout(pair, phone) -> None:
    alice_account, bob_account = pair
    alice, bob = await phone(alice_account, ring_timeout=1.0), await phone(bob_account)
    outgoing = await alice.jingle.call(bob.jid.bare, audio=ToneTrack())
    incoming = await bob.ringing()
    await incoming.wait_state(CallState.ENDED)
    assert outgoing.end is not None and outgoing.end.condition == "timeout"
    assert incoming.end is not None and incoming.end.missed


async def test_devices_for_calls_tells_a_phone_from_a_chat_only_device(pair, phone,
                                                                      raw_client) -> None:
    """Bob online on a device with calls and on one without (disco#info, as caps announce it):
    alice's plugin lists both as online and only the first as taking calls."""
    alice = await phone(pair[0])
    bob = pair[1].jid.bare
    roster = alice.client.client_roster
    both_online = asyncio.Event()

    def check(_presence: object) -> None:
        if len(roster.presence(bob)) == 2:
            both_online.set()

    alice.client.add_event_handler("presence_available", check)
    await phone(pair[1], resource="desk")
    await raw_client(pair[1], resource="chat-only")
    check(None)
    await asyncio.wait_for(both_online.wait(), 10)
    online, taking = await alice.jingle.devices_for_calls(bob)
    assert sorted(device.resource for device in online) == ["chat-only", "desk"]
    assert [device.resource for device in taking] == ["desk"]


async def test_callee_on_two_devices_one_answers_the_other_stops_ringing(pair, phone) -> None:
    alice_account, bob_account = pair
    alice = await phone(alice_account)
    desk, mobile = await phone(bob_account, "desk"), await phone(bob_account, "mobile")
    outgoing = await alice.jingle.call(desk.jid.bare, audio=ToneTrack())
    at_desk, at_mobile = await desk.ringing(), await mobile.ringing()
    assert at_desk.sid == at_mobile.sid == outgoing.sid
    await at_mobile.accept(audio=ToneTrack(660))
    await at_desk.wait_state(CallState.ENDED)
    assert at_desk.end is not None and at_desk.end.by == "elsewhere"
    assert await outgoing.wait_state(CallState.ACTIVE) is CallState.ACTIVE
    assert outgoing.peer == mobile.jid


async def test_peer_vanishing_mid_call_ends_the_call_and_frees_everything(pair, phone) -> None:
    alice, bob = [await phone(a) for a in pair]
    outgoing, incoming = await established(alice, bob)
    assert bob.client.transport is not None
    bob.client.transport.abort()  # the network goes, no goodbye
    await outgoing.wait_state(CallState.ENDED, timeout=20)
    assert outgoing.end is not None and outgoing.end.condition == "gone"
    await outgoing.closed()
    assert outgoing.pc is not None and outgoing.pc.connectionState == "closed"
    await incoming.hangup()
    await incoming.closed()


async def test_a_proposal_delivered_late_from_offline_storage_does_not_ring(pair, phone,
                                                                             raw_client) -> None:
    alice_account, bob_account = pair
    bob = await phone(bob_account)
    alice = await raw_client(alice_account, "old")
    late = alice.make_message(mto=bob.jid, mtype="chat")
    late.append(ET.fromstring(
        "<propose xmlns='urn:xmpp:jingle-message:0' id='late-call'>"
        "<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'/></propose>"))
    late.append(ET.fromstring("<delay xmlns='urn:xmpp:delay' stamp='2026-01-01T10:00:00Z'/>"))
    late.send()
    fresh = alice.make_message(mto=bob.jid, mtype="chat")
    fresh.append(ET.fromstring(
        "<propose xmlns='urn:xmpp:jingle-message:0' id='fresh-call'>"
        "<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'/></propose>"))
    fresh.send()
    first = await bob.ringing()
    assert first.sid == "fresh-call"
    await first.reject()


def browser_dialect(jingle: ET.Element) -> None:
    """Make our Jingle look like a browser's (StanzaJS): no initiator, sparse candidates."""
    jingle.attrib.pop("initiator", None)
    for candidate in jingle.iter("{urn:xmpp:jingle:transports:ice-udp:1}candidate"):
        for attribute in ("id", "generation", "network"):
            candidate.attrib.pop(attribute, None)


async def test_a_browser_style_endpoint_without_jmi_and_with_trickle_can_call_us(
        pair, phone, raw_client, make_account) -> None:
    alice_account, bob_account = pair
    bob = await phone(bob_account)
    browser = await raw_client(alice_account, "browser")
    pc = RTCPeerConnection()  # no STUN/TURN: host candidates, pinned to loopback by bob's plugin
    pc.addTrack(ToneTrack(523))
    await pc.setLocalDescription(await pc.createOffer())
    contents, group = sdp_to_jingle(pc.localDescription.sdp, author_is_initiator=True)
    trickled = [(c.name, c.transport.candidates) for c in contents if c.transport]
    for content in contents:
        assert content.transport is not None
        content.transport.candidates, content.transport.gathering_complete = [], False

    accepted: asyncio.Future[ET.Element] = asyncio.get_running_loop().create_future()

    seen: list[str] = []

    def on_iq(iq: Any) -> None:
        jingle = iq.xml.find("{urn:xmpp:jingle:1}jingle")
        if jingle is not None:
            seen.append(jingle.get("action", "") + "".join(
                "/" + child.tag.rsplit("}", 1)[-1] for child in jingle
                if child.tag.startswith("{urn:xmpp:jingle:apps:rtp:info:1}")))
        if jingle is not None and jingle.get("action") == "session-accept" and not accepted.done():
            accepted.set_result(jingle)
        iq.reply().send()

    browser.register_handler(Callback("jingle", MatchXPath("{jabber:client}iq/{urn:xmpp:jingle:1}jingle"),
                                      on_iq))

    initiate = browser.make_iq_set(ito=bob.jid)
    jingle = ET.SubElement(initiate.xml, "{urn:xmpp:jingle:1}jingle", action="session-initiate",
                           sid="browser-call")
    if group:
        jingle.append(group_to_xml(group))
    for content in contents:
        jingle.append(content_to_xml(content))
    browser_dialect(jingle)
    await initiate.send(timeout=10)
    incoming = await bob.ringing()
    assert incoming.sid == "browser-call" and not incoming.jmi
    await incoming.accept(audio=ToneTrack(660))

    for name, candidates in trickled:  # candidates after session-initiate, as a browser does
        info = browser.make_iq_set(ito=bob.jid)
        node = ET.SubElement(info.xml, "{urn:xmpp:jingle:1}jingle", action="transport-info",
                             sid="browser-call")
        content_node = ET.SubElement(node, "{urn:xmpp:jingle:1}content", creator="initiator",
                                     name=name)
        transport = transport_to_xml(Transport(candidates=candidates), with_credentials=False)
        transport.set("ufrag", contents[0].transport.ufrag or "")
        ET.SubElement(transport, "{urn:xmpp:jingle:transports:ice-udp:1}gathering-complete")
        content_node.append(transport)
        browser_dialect(node)
        await info.send(timeout=10)

    answer = await asyncio.wait_for(accepted, 10)
    assert seen[:2] == ["session-info/ringing", "session-accept"]
    await pc.setRemoteDescription(RTCSessionDescription(
        jingle_to_sdp(contents_from_jingle(answer), group_from_jingle(answer),
                      author_is_initiator=False), "answer"))
    assert await incoming.wait_state(CallState.ACTIVE) is CallState.ACTIVE
    at_bob = AudioProbe(await incoming.wait_remote_track("audio"))
    await at_bob.wait_frames(75)
    assert abs(at_bob.peak_frequency(1.0) - 523) <= 5

    stranger = await raw_client(make_account("mallory"), "x")
    probe = stranger.make_iq_set(ito=bob.jid)
    ET.SubElement(probe.xml, "{urn:xmpp:jingle:1}jingle", action="session-terminate",
                  sid="browser-call")
    with pytest.raises(IqError) as refused:
        await probe.send(timeout=10)
    assert refused.value.iq["error"]["condition"] == "item-not-found"
    assert refused.value.iq.xml.find(".//{urn:xmpp:jingle:errors:1}unknown-session") is not None
    assert incoming.state is CallState.ACTIVE

    terminate = browser.make_iq_set(ito=bob.jid)
    ET.SubElement(ET.SubElement(ET.SubElement(
        terminate.xml, "{urn:xmpp:jingle:1}jingle", action="session-terminate", sid="browser-call"),
        "{urn:xmpp:jingle:1}reason"), "{urn:xmpp:jingle:1}success")
    await terminate.send(timeout=10)
    await incoming.wait_state(CallState.ENDED)
    assert incoming.end is not None and (incoming.end.condition, incoming.end.by) == ("success", "peer")
    await at_bob.stop()
    await pc.close()


async def test_a_broken_offer_is_refused_with_a_text_saying_what_is_wrong(pair, phone,
                                                                          raw_client) -> None:
    alice_account, bob_account = pair
    bob = await phone(bob_account)
    alice = await raw_client(alice_account, "broken")
    iq = alice.make_iq_set(ito=bob.jid)
    jingle = ET.SubElement(iq.xml, "{urn:xmpp:jingle:1}jingle", action="session-initiate", sid="b")
    content = ET.SubElement(jingle, "{urn:xmpp:jingle:1}content", creator="initiator", name="0")
    ET.SubElement(content, "{urn:xmpp:jingle:apps:rtp:1}description", media="audio")
    transport = ET.SubElement(content, "{urn:xmpp:jingle:transports:ice-udp:1}transport",
                              ufrag="u", pwd="p")
    ET.SubElement(transport, "{urn:xmpp:jingle:transports:ice-udp:1}candidate", ip="127.0.0.1",
                  priority="1", component="1")
    with pytest.raises(IqError) as refused:
        await iq.send(timeout=10)
    assert refused.value.iq["error"]["condition"] == "bad-request"
    assert "candidate port is missing" in refused.value.iq["error"]["text"]
    assert not bob.jingle.calls


async def test_a_relay_only_call_runs_through_ejabberd_s_turn_server(pair, phone) -> None:
    alice_account, bob_account = pair
    alice = await phone(alice_account, ice_transport_policy="relay")
    bob = await phone(bob_account, ice_transport_policy="relay")
    servers, _policy = await alice.jingle.ice_configuration()
    assert any(s.urls.startswith("turn:") and s.username for s in servers)  # type: ignore[union-attr]
    outgoing, incoming = await established(alice, bob)
    assert outgoing.pc is not None and outgoing.pc.localDescription is not None
    assert "typ relay" in outgoing.pc.localDescription.sdp
    assert "typ host" not in outgoing.pc.localDescription.sdp
    at_bob = AudioProbe(await incoming.wait_remote_track("audio"))
    await at_bob.wait_frames(75)
    assert abs(at_bob.peak_frequency(1.0) - 440) <= 5
    await at_bob.stop()


async def test_a_call_to_one_device_without_jmi_rings_and_connects(pair, phone) -> None:
    alice, bob = [await phone(a) for a in pair]
    outgoing = await alice.jingle.call(bob.jid, audio=ToneTrack(), jmi=False)
    incoming = await bob.ringing()
    assert not incoming.jmi and incoming.peer == alice.jid
    await until(outgoing, lambda c: c.remote_ringing)
    await incoming.accept(audio=ToneTrack(660))
    assert await outgoing.wait_state(CallState.ACTIVE) is CallState.ACTIVE
    await incoming.hangup()
    await outgoing.wait_state(CallState.ENDED)
    assert outgoing.end is not None and outgoing.end.answered and outgoing.end.by == "peer"


async def test_a_second_device_answering_late_is_told_the_call_is_taken(pair, phone,
                                                                        raw_client) -> None:
    alice_account, bob_account = pair
    alice = await phone(alice_account)
    desk = await phone(bob_account, "desk")
    late = await raw_client(bob_account, "late")  # a client we did not write, answering by hand
    outgoing = await alice.jingle.call(desk.jid.bare, audio=ToneTrack())
    at_desk = await desk.ringing()
    await at_desk.accept(audio=ToneTrack(660))
    assert await outgoing.wait_state(CallState.ACTIVE) is CallState.ACTIVE
    finished: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    late.register_handler(Callback("finish", MatchXPath(
        "{jabber:client}message/{urn:xmpp:jingle-message:0}finish"),
        lambda m: finished.done() or finished.set_result(m)))
    proceed = late.make_message(mto=alice.jid, mtype="chat")
    proceed.append(ET.fromstring(f"<proceed xmlns='urn:xmpp:jingle-message:0' id='{outgoing.sid}'/>"))
    proceed.send()
    told = await asyncio.wait_for(finished, 10)
    assert told.xml.find(".//{urn:xmpp:jingle:1}cancel") is not None
    assert outgoing.peer == desk.jid and outgoing.state is CallState.ACTIVE


async def test_an_answered_call_that_never_connects_is_given_up(pair, phone, raw_client) -> None:
    alice_account, bob_account = pair
    bob = await phone(bob_account, connect_timeout=1.0)
    alice = await raw_client(alice_account, "silent")  # proposes, then never starts the session
    propose = alice.make_message(mto=bob.jid.bare, mtype="chat")
    propose.append(ET.fromstring("<propose xmlns='urn:xmpp:jingle-message:0' id='silent-call'>"
                                 "<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'/>"
                                 "</propose>"))
    propose.send()
    incoming = await bob.ringing()
    await incoming.accept(audio=ToneTrack())
    await incoming.wait_state(CallState.ENDED)
    assert incoming.end is not None and incoming.end.condition == "timeout"
