"""Jingle ↔ SDP without a network: stanzas shaped like the XEP examples and like what
Conversations, Dino and a browser (StanzaJS) send, checked against aiortc itself."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack
from aiortc.sdp import SessionDescription

from xmpp_components.plugins.jingle.media import TestPatternTrack
from xmpp_components.plugins.jingle.model import (
    Candidate,
    Content,
    JingleFormatError,
    Transport,
    content_to_xml,
    contents_from_jingle,
    group_from_jingle,
    group_to_xml,
    reason_from_jingle,
)
from xmpp_components.plugins.jingle.sdp import (
    candidate_to_aiortc,
    direction_to_senders,
    jingle_to_sdp,
    sdp_to_jingle,
    senders_to_direction,
)

FINGERPRINT = ("A7:7D:11:C9:2B:5F:3E:F1:44:C2:7A:6A:3D:10:E5:5F:29:9B:3C:4D:A0:6B:99:"
               "8E:63:1F:2C:70:4F:11:0D:E2")

DTLS_ACTPASS = (f"<fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash='sha-256' setup='actpass'>"
                f"{FINGERPRINT}</fingerprint>")

# Conversations (libwebrtc underneath): mids as content names, BUNDLE, many codecs aiortc lacks
CONVERSATIONS_OFFER = f"""
<jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='c0nv3rs4t10n5'
        initiator='romeo@example.net/Conversations.abcd'>
  <group xmlns='urn:xmpp:jingle:apps:grouping:0' semantics='BUNDLE'><content name='0'/></group>
  <content creator='initiator' name='0'>
    <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'>
      <payload-type id='111' name='opus' clockrate='48000' channels='2'>
        <parameter name='minptime' value='10'/>
        <parameter name='useinbandfec' value='1'/>
        <rtcp-fb xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' type='transport-cc'/>
      </payload-type>
      <payload-type id='63' name='red' clockrate='48000' channels='2'>
        <parameter name='111/111'/>
      </payload-type>
      <payload-type id='9' name='G722' clockrate='8000'/>
      <payload-type id='102' name='ILBC' clockrate='8000'/>
      <payload-type id='0' name='PCMU' clockrate='8000'/>
      <payload-type id='8' name='PCMA' clockrate='8000'/>
      <payload-type id='13' name='CN' clockrate='8000'/>
      <payload-type id='110' name='telephone-event' clockrate='48000'/>
      <payload-type id='126' name='telephone-event' clockrate='8000'/>
      <rtp-hdrext xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0' id='1'
                  uri='urn:ietf:params:rtp-hdrext:ssrc-audio-level'/>
      <rtp-hdrext xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0' id='4'
                  uri='urn:ietf:params:rtp-hdrext:sdes:mid'/>
      <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='3370142314'>
        <parameter name='cname' value='qWvK8mM2Yf0'/>
        <parameter name='msid' value='my-media-stream my-audio-track'/>
      </source>
      <rtcp-mux/>
    </description>
    <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='8hhy' pwd='asd88fgpdd777uzjYhagZg'>
      {DTLS_ACTPASS}
      <candidate component='1' foundation='2873563532' generation='0' id='c1' ip='127.0.0.1'
                 network='1' port='50001' priority='2122260223' protocol='udp' type='host'/>
    </transport>
  </content>
</jingle>"""

# a browser endpoint (StanzaJS): no initiator attribute, prefixes, sparse candidates
BROWSER_OFFER = f"""
<jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='br0ws3r'
        xmlns:rtcpf='urn:xmpp:jingle:apps:rtp:rtcp-fb:0'
        xmlns:rtph='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0'>
  <group xmlns='urn:xmpp:jingle:apps:grouping:0' semantics='BUNDLE'>
    <content name='0'/><content name='1'/>
  </group>
  <content creator='initiator' name='0'>
    <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'>
      <payload-type id='111' name='opus' clockrate='48000' channels='2'>
        <parameter name='useinbandfec' value='1'/><rtcpf:rtcp-fb type='transport-cc'/>
      </payload-type>
      <payload-type id='63' name='red' clockrate='48000' channels='2'>
        <parameter name='111/111'/>
      </payload-type>
      <rtph:rtp-hdrext id='1' uri='urn:ietf:params:rtp-hdrext:ssrc-audio-level'/>
      <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='11111'>
        <parameter name='cname' value='browser'/>
      </source>
      <stream xmlns='urn:xmpp:jingle:apps:rtp:msid:0' id='stream-a' track='track-a'/>
      <rtcp-mux/>
    </description>
    <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='bRws' pwd='browserpassword12345678'>
      {DTLS_ACTPASS}
    </transport>
  </content>
  <content creator='initiator' name='1'>
    <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='video'>
      <payload-type id='96' name='VP8' clockrate='90000'>
        <rtcpf:rtcp-fb type='nack'/><rtcpf:rtcp-fb type='nack' subtype='pli'/>
        <rtcpf:rtcp-fb type='ccm' subtype='fir'/>
      </payload-type>
      <payload-type id='97' name='rtx' clockrate='90000'><parameter name='apt' value='96'/></payload-type>
      <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='22222'/>
      <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='22223'/>
      <ssrc-group xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' semantics='FID'>
        <source ssrc='22222'/><source ssrc='22223'/>
      </ssrc-group>
      <rtcp-mux/>
    </description>
    <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='bRws' pwd='browserpassword12345678'>
      {DTLS_ACTPASS}
    </transport>
  </content>
</jingle>"""

# ... whose candidates trickle afterwards: ufrag but no pwd, relay without rel-port, the end
BROWSER_TRICKLE = """
<jingle xmlns='urn:xmpp:jingle:1' action='transport-info' sid='br0ws3r'>
  <content creator='initiator' name='0'>
    <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='bRws'>
      <candidate component='1' foundation='1' ip='127.0.0.1' port='40000' priority='2113937151'
                 protocol='udp' type='host'/>
      <candidate component='1' foundation='3' ip='127.0.0.1' port='40010' priority='33562623'
                 protocol='udp' type='relay' rel-addr='0.0.0.0'/>
      <gathering-complete/>
    </transport>
  </content>
</jingle>"""

# Dino (libnice/GStreamer): media names as content names, no BUNDLE
DINO_OFFER = f"""
<jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='d1n0' initiator='juliet@example.org/dino.1'>
  <content creator='initiator' name='audio' senders='both'>
    <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'>
      <payload-type id='96' name='opus' clockrate='48000' channels='2'>
        <parameter name='useinbandfec' value='1'/>
      </payload-type>
      <payload-type id='0' name='PCMU' clockrate='8000'/>
      <rtp-hdrext xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0' id='1'
                  uri='urn:ietf:params:rtp-hdrext:ssrc-audio-level'/>
      <rtcp-mux/>
    </description>
    <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='d1No' pwd='dinopasswordabcdefghij'>
      {DTLS_ACTPASS}
      <candidate component='1' foundation='1' generation='0' id='x1' ip='127.0.0.1' network='0'
                 port='41000' priority='2013266431' protocol='udp' type='host'/>
    </transport>
  </content>
</jingle>"""

# XEP-0167 Example 1 in substance: ICE-UDP, but no DTLS fingerprint (XEP-0320 came later)
XEP_0167_EXAMPLE = """
<jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' initiator='romeo@montague.lit/orchard'
        sid='a73sjjvkla37jfea'>
  <content creator='initiator' name='voice'>
    <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'>
      <payload-type id='96' name='speex' clockrate='16000'/>
      <payload-type id='97' name='speex' clockrate='8000'/>
      <payload-type id='18' name='G729'/>
      <payload-type id='0' name='PCMU'/>
      <payload-type id='103' name='L16' clockrate='16000' channels='2'/>
      <payload-type id='98' name='x-ISAC' clockrate='8000'/>
    </description>
    <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' pwd='asd88fgpdd777uzjYhagZg' ufrag='8hhy'>
      <candidate component='1' foundation='1' generation='0' id='el0747fg11' ip='10.0.1.1'
                 network='1' port='8998' priority='2130706431' protocol='udp' type='host'/>
    </transport>
  </content>
</jingle>"""


def parse(xml: str) -> ET.Element:
    return ET.fromstring(xml)


async def answer_with_aiortc(offer_sdp: str, *, video: bool = False) -> tuple[str, RTCPeerConnection]:
    """Let aiortc take ``offer_sdp`` as a remote offer and answer it."""
    pc = RTCPeerConnection()
    await pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
    pc.addTrack(AudioStreamTrack())
    if video:
        pc.addTrack(TestPatternTrack())
    await pc.setLocalDescription(await pc.createAnswer())
    return pc.localDescription.sdp, pc


@pytest.mark.parametrize("senders,author_is_initiator,direction", [
    ("both", True, "sendrecv"), ("both", False, "sendrecv"), ("none", True, "inactive"),
    ("initiator", True, "sendonly"), ("initiator", False, "recvonly"),
    ("responder", True, "recvonly"), ("responder", False, "sendonly"),
])
def test_senders_map_to_directions_from_the_author_s_side(senders, author_is_initiator, direction):
    assert senders_to_direction(senders, author_is_initiator) == direction
    assert direction_to_senders(direction, author_is_initiator) == senders


async def test_a_conversations_offer_is_answered_by_aiortc_with_opus() -> None:
    jingle = parse(CONVERSATIONS_OFFER)
    contents = contents_from_jingle(jingle)
    red = contents[0].payload_types[1]
    assert red.parameters == {"111/111": None}
    sdp = jingle_to_sdp(contents, group_from_jingle(jingle), author_is_initiator=True)
    parsed = SessionDescription.parse(sdp)
    audio = parsed.media[0]
    assert audio.rtp.muxId == "0" and audio.rtcp_mux and audio.direction == "sendrecv"
    assert audio.ice.usernameFragment == "8hhy" and audio.dtls.role == "auto"
    assert audio.ssrc[0].ssrc == 3370142314 and audio.ssrc[0].cname == "qWvK8mM2Yf0"
    assert [c.ip for c in audio.ice_candidates] == ["127.0.0.1"]

    answer_sdp, pc = await answer_with_aiortc(sdp)
    answer, group = sdp_to_jingle(answer_sdp, author_is_initiator=False, creators={"0": "initiator"})
    await pc.close()
    assert group is not None and group.contents == ["0"]
    (content,) = answer
    assert (content.name, content.creator, content.senders) == ("0", "initiator", "both")
    assert content.payload_types[0].name.lower() == "opus" and content.payload_types[0].id == 111
    assert content.transport is not None
    assert {fp.setup for fp in content.transport.fingerprints} == {"active"}
    assert content.transport.candidates and all(c.id for c in content.transport.candidates)


async def test_a_browser_offer_and_its_trickled_candidates_are_accepted() -> None:
    jingle = parse(BROWSER_OFFER)
    assert jingle.get("initiator") is None
    contents = contents_from_jingle(jingle)
    assert contents[0].payload_types[0].feedback == [("transport-cc", None)]  # prefixed rtcp-fb
    assert contents[0].header_extensions[0].uri.endswith("ssrc-audio-level")  # prefixed hdrext
    assert contents[1].source_groups[0].ssrcs == [22222, 22223]
    assert contents[0].transport is not None and not contents[0].transport.candidates
    sdp = jingle_to_sdp(contents, group_from_jingle(jingle), author_is_initiator=True)
    _answer, pc = await answer_with_aiortc(sdp, video=True)

    (trickled,) = contents_from_jingle(parse(BROWSER_TRICKLE))
    assert trickled.transport is not None
    assert trickled.transport.pwd is None and trickled.transport.gathering_complete
    relay = trickled.transport.candidates[1]
    assert (relay.type, relay.rel_addr, relay.rel_port, relay.id, relay.generation) == \
        ("relay", "0.0.0.0", None, None, 0)
    for candidate in trickled.transport.candidates:
        await pc.addIceCandidate(candidate_to_aiortc(candidate, "0", 0))
    await pc.addIceCandidate(None)
    await pc.close()


def shape(element: ET.Element) -> tuple[object, ...]:
    """An element's name, attributes and children, whatever prefixes it was written with."""
    return element.tag, sorted(element.attrib.items()), [shape(child) for child in element]


def test_our_trickled_transport_info_carries_credentials_and_no_description() -> None:
    candidate = Candidate(component=1, foundation="1", ip="127.0.0.1", port=50000,
                          priority=2130706431, id="abc")
    found = content_to_xml(Content(name="0", transport=Transport(
        ufrag="8hhy", pwd="asd88fgpdd777uzjYhagZg", candidates=[candidate])),
        with_description=False)
    end = content_to_xml(Content(name="0", transport=Transport(
        ufrag="8hhy", pwd="asd88fgpdd777uzjYhagZg", gathering_complete=True)),
        with_description=False)
    ice = "urn:xmpp:jingle:transports:ice-udp:1"
    assert shape(found) == shape(parse(
        f"<content xmlns='urn:xmpp:jingle:1' creator='initiator' name='0'>"
        f"<transport xmlns='{ice}' ufrag='8hhy' pwd='asd88fgpdd777uzjYhagZg'>"
        f"<candidate component='1' foundation='1' generation='0' id='abc' ip='127.0.0.1'"
        f" port='50000' priority='2130706431' protocol='udp' type='host'/></transport></content>"))
    assert shape(end) == shape(parse(
        f"<content xmlns='urn:xmpp:jingle:1' creator='initiator' name='0'>"
        f"<transport xmlns='{ice}' ufrag='8hhy' pwd='asd88fgpdd777uzjYhagZg'>"
        f"<gathering-complete/></transport></content>"))
    read = contents_from_jingle(parse(
        "<jingle xmlns='urn:xmpp:jingle:1' action='transport-info' sid='s'>"
        + ET.tostring(end, encoding="unicode") + "</jingle>"))
    assert read[0].transport is not None and read[0].transport.gathering_complete


async def test_a_dino_offer_without_bundle_is_answered() -> None:
    jingle = parse(DINO_OFFER)
    contents = contents_from_jingle(jingle)
    assert group_from_jingle(jingle) is None
    sdp = jingle_to_sdp(contents, None, author_is_initiator=True)
    answer_sdp, pc = await answer_with_aiortc(sdp)
    await pc.close()
    answer, group = sdp_to_jingle(answer_sdp, author_is_initiator=False)
    assert answer[0].name == "audio" and (group is None or group.contents == ["audio"])
    assert answer[0].payload_types[0].name.lower() == "opus"


def test_an_offer_without_dtls_is_refused_with_a_reason() -> None:
    jingle = parse(XEP_0167_EXAMPLE)
    contents = contents_from_jingle(jingle)
    assert contents[0].payload_types[2].clockrate is None  # static G729 without clockrate
    with pytest.raises(JingleFormatError, match="DTLS"):
        jingle_to_sdp(contents, None, author_is_initiator=True)


def test_a_candidate_without_port_is_refused_with_a_reason() -> None:
    broken = DINO_OFFER.replace("port='41000' ", "")
    with pytest.raises(JingleFormatError, match="candidate port is missing"):
        contents_from_jingle(parse(broken))


async def test_aiortc_offers_survive_the_trip_through_jingle_xml() -> None:
    pc = RTCPeerConnection()
    pc.addTrack(AudioStreamTrack())
    pc.addTrack(TestPatternTrack())
    await pc.setLocalDescription(await pc.createOffer())
    original = SessionDescription.parse(pc.localDescription.sdp)
    await pc.close()
    contents, group = sdp_to_jingle(pc.localDescription.sdp, author_is_initiator=True)
    assert group is not None
    wire = ET.Element("{urn:xmpp:jingle:1}jingle")
    wire.append(group_to_xml(group))
    for content in contents:
        wire.append(content_to_xml(content))
    back = SessionDescription.parse(jingle_to_sdp(
        contents_from_jingle(parse(ET.tostring(wire, encoding="unicode"))), group_from_jingle(wire),
        author_is_initiator=True))
    assert [g.items for g in back.group] == [g.items for g in original.group]
    for before, after in zip(original.media, back.media, strict=True):
        assert after.kind == before.kind and after.rtp.muxId == before.rtp.muxId
        assert [(c.mimeType, c.clockRate, c.channels, c.payloadType, c.parameters)
                for c in after.rtp.codecs] == \
               [(c.mimeType, c.clockRate, c.channels, c.payloadType, c.parameters)
                for c in before.rtp.codecs]
        assert [(f.type, f.parameter) for c in after.rtp.codecs for f in c.rtcpFeedback] == \
               [(f.type, f.parameter) for c in before.rtp.codecs for f in c.rtcpFeedback]
        assert [(h.id, h.uri) for h in after.rtp.headerExtensions] == \
               [(h.id, h.uri) for h in before.rtp.headerExtensions]
        assert after.ice.usernameFragment == before.ice.usernameFragment
        assert after.ice.password == before.ice.password
        assert [(f.algorithm, f.value) for f in after.dtls.fingerprints] == \
               [(f.algorithm, f.value) for f in before.dtls.fingerprints]
        assert after.dtls.role == before.dtls.role
        assert [(c.ip, c.port, c.priority, c.type) for c in after.ice_candidates] == \
               [(c.ip, c.port, c.priority, c.type) for c in before.ice_candidates]
        assert [s.ssrc for s in after.ssrc] == [s.ssrc for s in before.ssrc]
        assert [(g.semantic, g.items) for g in after.ssrc_group] == \
               [(g.semantic, g.items) for g in before.ssrc_group]
        assert after.direction == before.direction and after.rtcp_mux == before.rtcp_mux


def test_a_terminate_with_a_bare_success_reason_is_read() -> None:
    reason = reason_from_jingle(parse(
        "<jingle xmlns='urn:xmpp:jingle:1' action='session-terminate' sid='x'>"
        "<reason><success/></reason></jingle>"))
    assert reason is not None and (reason.condition, reason.text) == ("success", None)


async def test_a_source_left_unread_during_hold_does_not_send_what_it_missed_at_once() -> None:
    from xmpp_components.plugins.jingle.media import ToneTrack

    track = ToneTrack()
    await track.recv()
    assert track._start is not None
    track._start -= 2.0  # as if the sender had paused for two seconds (hold)
    began = time.monotonic()
    for _ in range(5):
        await track.recv()
    assert time.monotonic() - began >= 0.07  # paced at 20 ms, not 100 frames of catching up
