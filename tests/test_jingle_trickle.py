"""Trickle ICE from us to the peer (XEP-0176): session-initiate / session-accept first, our
candidates after them in transport-info, then the end of candidates — through the real ejabberd
with its STUN/TURN (XEP-0215), media on loopback.

What each side receives is read off its own stream by a raw slixmpp handler next to the plugin's.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from typing import Any

from aiortc import RTCConfiguration, RTCIceGatherer, RTCPeerConnection, RTCSessionDescription
from aiortc.rtcicetransport import RTCIceTransport
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from xmpp_components.plugins.jingle import Call, CallState
from xmpp_components.plugins.jingle.gathering import watch_gathering
from xmpp_components.plugins.jingle.media import AudioProbe, ToneTrack
from xmpp_components.plugins.jingle.model import (
    Content,
    content_to_xml,
    contents_from_jingle,
    group_from_jingle,
    group_to_xml,
)
from xmpp_components.plugins.jingle.sdp import jingle_to_sdp, sdp_to_jingle

from .phones import Phone
from .test_calls import established

JINGLE_IQ = MatchXPath("{jabber:client}iq/{urn:xmpp:jingle:1}jingle")


class JingleLog:
    """The Jingle requests one stream receives, in order, as (action, contents)."""

    def __init__(self, client: Any) -> None:
        self.seen: list[tuple[str, list[Content]]] = []
        self.candidates_ended = asyncio.Event()
        client.register_handler(Callback("jingle log", JINGLE_IQ, self._on_iq))

    def _on_iq(self, iq: Any) -> None:
        if iq["type"] != "set":
            return
        jingle = iq.xml.find("{urn:xmpp:jingle:1}jingle")
        action, contents = jingle.get("action", ""), contents_from_jingle(jingle)
        self.seen.append((action, contents))
        if action == "transport-info" and any(c.transport and c.transport.gathering_complete
                                              for c in contents):
            self.candidates_ended.set()

    async def until_candidates_end(self) -> None:
        await asyncio.wait_for(self.candidates_ended.wait(), 15)

    def of(self, *actions: str) -> list[tuple[str, list[Content]]]:
        return [(action, contents) for action, contents in self.seen if action in actions]


def candidates(contents: list[Content]) -> list[tuple[str, str, int]]:
    return [(c.type, c.ip, c.port) for content in contents if content.transport
            for c in content.transport.candidates]


def gathered(call: Call) -> set[tuple[str, str, int]]:
    """Every candidate of the call's local description (once gathering is over)."""
    assert call.pc is not None and call.pc.localDescription is not None
    contents, _ = sdp_to_jingle(call.pc.localDescription.sdp, author_is_initiator=call.outgoing)
    return set(candidates(contents))


def assert_trickled(log: JingleLog, session_action: str, sender: Call) -> None:
    """``log`` saw ``session_action`` first with some candidates at most, then each remaining
    candidate of ``sender`` once in a transport-info of its own with the session's credentials,
    then the end of candidates."""
    (first, session), *rest = log.of(session_action, "transport-info")
    assert first == session_action
    infos = [contents for action, contents in rest]
    assert infos and all(action == "transport-info" for action, _ in rest)
    credentials = {(c.name, c.transport.ufrag, c.transport.pwd) for c in session if c.transport}
    for contents in infos:
        assert all(c.transport and (c.name, c.transport.ufrag, c.transport.pwd) in credentials
                   for c in contents), "a transport-info must repeat the content's ufrag and pwd"
    *with_candidates, end = infos
    assert all(len(candidates(contents)) == 1 for contents in with_candidates)
    assert not candidates(end) and all(c.transport and c.transport.gathering_complete
                                       for c in end)
    told = candidates(session) + [c for contents in with_candidates for c in candidates(contents)]
    assert len(told) == len(set(told)), "no candidate is sent twice"
    assert set(told) == gathered(sender)
    assert len(candidates(session)) < len(told), "the session must not wait for all candidates"
    assert {kind for kind, _ip, _port in told} == {"host", "srflx", "relay"}
    assert {ip for _kind, ip, _port in told} == {"127.0.0.1"}, "media must stay on loopback"


async def test_the_caller_sends_session_initiate_before_its_candidates(pair, phone) -> None:
    alice, bob = [await phone(a) for a in pair]
    at_bob = JingleLog(bob.client)
    outgoing = await alice.jingle.call(bob.jid, audio=ToneTrack(440), jmi=False)
    incoming = await bob.ringing()
    await incoming.accept(audio=ToneTrack(660))
    assert await outgoing.wait_state(CallState.ACTIVE) is CallState.ACTIVE
    await at_bob.until_candidates_end()
    assert_trickled(at_bob, "session-initiate", outgoing)
    initiate = at_bob.of("session-initiate")[0][1]
    assert "relay" not in {kind for kind, _ip, _port in candidates(initiate)}

    listening = AudioProbe(await incoming.wait_remote_track("audio"))
    await listening.wait_frames(75)
    assert abs(listening.peak_frequency(1.0) - 440) <= 5
    await listening.stop()


async def test_the_callee_sends_session_accept_before_its_candidates(pair, phone) -> None:
    alice, bob = [await phone(a) for a in pair]
    at_alice = JingleLog(alice.client)
    outgoing, incoming = await established(alice, bob)
    await at_alice.until_candidates_end()
    assert_trickled(at_alice, "session-accept", incoming)
    assert not candidates(at_alice.of("session-accept")[0][1]), \
        "the answer leaves before the callee gathers"

    listening = AudioProbe(await outgoing.wait_remote_track("audio"))
    await listening.wait_frames(75)
    assert abs(listening.peak_frequency(1.0) - 660) <= 5
    await listening.stop()


async def test_relay_only_calls_trickle_only_relay_candidates(pair, phone) -> None:
    alice_account, bob_account = pair
    alice = await phone(alice_account, ice_transport_policy="relay")
    bob = await phone(bob_account, ice_transport_policy="relay")
    at_alice, at_bob = JingleLog(alice.client), JingleLog(bob.client)
    outgoing, incoming = await established(alice, bob)
    await at_alice.until_candidates_end()
    await at_bob.until_candidates_end()
    for log in (at_alice, at_bob):
        told = [c for _, contents in log.seen for c in candidates(contents)]
        assert told and {kind for kind, _ip, _port in told} == {"relay"}
    # alice gathers while bob's phone rings, so her relay candidate may ride in session-initiate;
    # bob answers before he gathers
    first_info = at_alice.of("transport-info")[0][1]
    assert [kind for kind, _ip, _port in candidates(first_info)] == ["relay"]
    listening = AudioProbe(await incoming.wait_remote_track("audio"))
    await listening.wait_frames(75)
    assert abs(listening.peak_frequency(1.0) - 440) <= 5
    await listening.stop()


async def test_without_trickle_the_session_carries_every_candidate(pair, phone) -> None:
    alice_account, bob_account = pair
    alice = await phone(alice_account, trickle=False)
    bob = await phone(bob_account, trickle=False)
    at_alice, at_bob = JingleLog(alice.client), JingleLog(bob.client)
    outgoing, incoming = await established(alice, bob)
    listening = AudioProbe(await incoming.wait_remote_track("audio"))
    await listening.wait_frames(75)  # the call runs: every candidate had its chance to be sent
    await listening.stop()
    for log, sender, action in ((at_bob, outgoing, "session-initiate"),
                                (at_alice, incoming, "session-accept")):
        assert not log.of("transport-info")
        assert set(candidates(log.of(action)[0][1])) == gathered(sender)


async def test_a_peer_refusing_our_transport_infos_still_gets_the_call(pair, phone,
                                                                      raw_client) -> None:
    """A peer that cannot take trickled candidates answers every transport-info with an error;
    the call goes on, and ICE finds us through our own connectivity checks."""
    alice_account, bob_account = pair
    alice = await phone(alice_account)
    peer = await raw_client(bob_account, "strict")  # a client we did not write, by hand
    initiated: asyncio.Future[ET.Element] = asyncio.get_running_loop().create_future()
    refused: list[list[Content]] = []

    def on_iq(iq: Any) -> None:
        jingle = iq.xml.find("{urn:xmpp:jingle:1}jingle")
        if iq["type"] != "set":
            return
        if jingle.get("action") == "transport-info":
            refused.append(contents_from_jingle(jingle))
            reply = iq.reply(clear=True)
            reply["type"] = "error"
            reply["error"]["type"] = "cancel"
            reply["error"]["condition"] = "feature-not-implemented"
            reply["error"]["text"] = "candidates after session-initiate are not supported"
            reply.send()
            return
        iq.reply().send()
        if jingle.get("action") == "session-initiate" and not initiated.done():
            initiated.set_result(jingle)

    peer.register_handler(Callback("strict jingle", JINGLE_IQ, on_iq))
    outgoing = await alice.jingle.call(peer.boundjid, audio=ToneTrack(440), jmi=False)
    offer = await asyncio.wait_for(initiated, 10)
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # host candidates on 127.0.0.1
    try:
        await pc.setRemoteDescription(RTCSessionDescription(jingle_to_sdp(
            contents_from_jingle(offer), group_from_jingle(offer), author_is_initiator=True),
            "offer"))
        pc.addTrack(ToneTrack(660))
        await pc.setLocalDescription(await pc.createAnswer())
        answer, group = sdp_to_jingle(pc.localDescription.sdp, author_is_initiator=False)
        accept = peer.make_iq_set(ito=alice.jid)
        node = ET.SubElement(accept.xml, "{urn:xmpp:jingle:1}jingle", action="session-accept",
                             sid=outgoing.sid)
        for content in answer:
            node.append(content_to_xml(content))
        if group:
            node.append(group_to_xml(group))
        await accept.send(timeout=10)

        assert await outgoing.wait_state(CallState.ACTIVE) is CallState.ACTIVE
        listening = AudioProbe(await outgoing.wait_remote_track("audio"))
        await listening.wait_frames(75)
        assert abs(listening.peak_frequency(1.0) - 660) <= 5
        await listening.stop()
        assert refused and outgoing.state is CallState.ACTIVE
    finally:
        await pc.close()


async def test_gathering_reports_each_candidate_while_aioice_gathers(pair, phone) -> None:
    """The one adaptation of aioice (0.13): fails when aioice stops calling the functions
    :mod:`gathering` wraps, since then nothing is reported before gathering ends."""
    alice: Phone = await phone(pair[0])
    servers, _policy = await alice.jingle.ice_configuration()
    watched, unwatched = RTCIceGatherer(iceServers=servers), RTCIceGatherer(iceServers=servers)
    found: list[tuple[str, str, int]] = []
    stop = watch_gathering(watched, lambda c: found.append((c.type, c.ip, c.port)))
    try:
        await asyncio.gather(watched.gather(), unwatched.gather())
    finally:
        stop()
    try:
        assert found[0][0] == "host", "a host candidate is known as soon as its socket is"
        assert sorted(found) == sorted((c.type, c.ip, c.port)
                                       for c in watched.getLocalCandidates())
        assert {kind for kind, _ip, _port in found} == {"host", "srflx", "relay"}
        assert {c.type for c in unwatched.getLocalCandidates()} == {"host", "srflx", "relay"}
        assert not set(found) & {(c.type, c.ip, c.port) for c in unwatched.getLocalCandidates()}
    finally:
        await RTCIceTransport(watched).stop()
        await RTCIceTransport(unwatched).stop()
