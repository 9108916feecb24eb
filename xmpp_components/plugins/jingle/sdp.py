"""SDP ↔ Jingle for aiortc's offer/answer.

aiortc speaks SDP; XMPP peers speak Jingle. Both directions go through aiortc's own SDP model
(:class:`aiortc.sdp.SessionDescription`) so that what aiortc writes is read field by field and
what aiortc reads is built from typed fields, never from string surgery. Content names are SDP
mids, as browsers, Conversations and Dino use them.

``senders`` is in Jingle roles while SDP directions are from the author's point of view, so every
conversion takes the role (``"initiator"`` / ``"responder"``) of the side that wrote it.
"""

from __future__ import annotations

import uuid

from aiortc import RTCIceCandidate
from aiortc.rtcdtlstransport import RTCDtlsFingerprint, RTCDtlsParameters
from aiortc.rtcicetransport import RTCIceParameters
from aiortc.rtcrtpparameters import (
    RTCRtcpFeedback,
    RTCRtpCodecParameters,
    RTCRtpHeaderExtensionParameters,
)
from aiortc.sdp import (
    DTLS_ROLE_SETUP,
    DTLS_SETUP_ROLE,
    GroupDescription,
    MediaDescription,
    SessionDescription,
    SsrcDescription,
    parameters_from_sdp,
    parameters_to_sdp,
)

from .model import (
    Candidate,
    Content,
    Fingerprint,
    Group,
    HeaderExtension,
    JingleFormatError,
    PayloadType,
    Source,
    SourceGroup,
    Transport,
)

_DIRECTION_OF_AUTHOR = {
    ("both", True): "sendrecv", ("both", False): "sendrecv",
    ("none", True): "inactive", ("none", False): "inactive",
    ("initiator", True): "sendonly", ("initiator", False): "recvonly",
    ("responder", True): "recvonly", ("responder", False): "sendonly",
}
_SOURCE_KEYS = ("cname", "msid", "mslabel", "label")


def senders_to_direction(senders: str, author_is_initiator: bool) -> str:
    """The SDP direction, seen by the author, of a content with these Jingle ``senders``."""
    try:
        return _DIRECTION_OF_AUTHOR[(senders, author_is_initiator)]
    except KeyError:
        raise JingleFormatError(f"senders must be both, initiator, responder or none, "
                                f"not {senders!r}") from None


def direction_to_senders(direction: str | None, author_is_initiator: bool) -> str:
    """The Jingle ``senders`` of an SDP direction written by the author."""
    for (senders, initiator), value in _DIRECTION_OF_AUTHOR.items():
        if initiator == author_is_initiator and value == (direction or "sendrecv"):
            return senders
    raise JingleFormatError(f"unknown SDP direction {direction!r}")


def candidate_to_aiortc(candidate: Candidate, mid: str, index: int) -> RTCIceCandidate:
    """A Jingle candidate as aiortc's :class:`RTCIceCandidate` for ``mid``.

    A related address without a port (browsers send ``rel-addr="0.0.0.0"`` alone) is dropped:
    it only informs, and SDP cannot carry half of it."""
    related = candidate.rel_addr if candidate.rel_port is not None else None
    return RTCIceCandidate(
        component=candidate.component, foundation=candidate.foundation, ip=candidate.ip,
        port=candidate.port, priority=candidate.priority, protocol=candidate.protocol,
        type=candidate.type, relatedAddress=related,
        relatedPort=candidate.rel_port if related else None,
        sdpMid=mid, sdpMLineIndex=index, tcpType=candidate.tcptype)


def candidate_from_aiortc(candidate: RTCIceCandidate) -> Candidate:
    """aiortc's candidate as a Jingle one, with the ``id`` XEP-0176 asks for."""
    return Candidate(
        component=candidate.component, foundation=candidate.foundation, ip=candidate.ip,
        port=candidate.port, priority=candidate.priority, protocol=candidate.protocol.lower(),
        type=candidate.type, generation=0, id=uuid.uuid4().hex[:10],
        rel_addr=candidate.relatedAddress, rel_port=candidate.relatedPort,
        tcptype=candidate.tcpType)


def _codec(media: str, pt: PayloadType, shared_feedback: list[tuple[str, str | None]]
           ) -> RTCRtpCodecParameters:
    if not pt.name or not pt.clockrate:
        raise JingleFormatError(f"payload-type {pt.id} needs a name and a clockrate "
                                f"(only static types may omit them)")
    fmtp = parameters_to_sdp(dict(pt.parameters))
    return RTCRtpCodecParameters(
        mimeType=f"{media}/{pt.name}", clockRate=pt.clockrate,
        channels=pt.channels if media == "audio" else None, payloadType=pt.id,
        rtcpFeedback=[RTCRtcpFeedback(type=kind, parameter=sub)
                      for kind, sub in [*pt.feedback, *shared_feedback]],
        parameters=parameters_from_sdp(fmtp) if fmtp else {})


_STATIC_PAYLOADS = {0: ("PCMU", 8000), 8: ("PCMA", 8000), 9: ("G722", 8000)}


def _media_from_content(content: Content, index: int, author_is_initiator: bool) -> MediaDescription:
    transport = content.transport
    if transport is None or not transport.ufrag or not transport.pwd:
        raise JingleFormatError(f"content {content.name!r} needs an ICE-UDP transport with "
                                f"ufrag and pwd")
    if not transport.fingerprints:
        raise JingleFormatError(f"content {content.name!r} has no DTLS fingerprint; "
                                f"DTLS-SRTP (XEP-0320) is required")
    for pt in content.payload_types:
        if (not pt.name or not pt.clockrate) and pt.id in _STATIC_PAYLOADS:
            pt.name, pt.clockrate = _STATIC_PAYLOADS[pt.id]
    first = transport.candidates[0] if transport.candidates else None
    media = MediaDescription(kind=content.media, port=first.port if first else 9,
                             profile="UDP/TLS/RTP/SAVPF",
                             fmt=[pt.id for pt in content.payload_types])
    media.host = first.ip if first else "0.0.0.0"
    media.direction = senders_to_direction(content.senders, author_is_initiator)
    media.rtp.muxId = content.name
    media.rtp.codecs = [_codec(content.media, pt, content.feedback) for pt in content.payload_types]
    media.rtp.headerExtensions = [RTCRtpHeaderExtensionParameters(id=h.id, uri=h.uri)
                                  for h in content.header_extensions]
    media.rtcp_port, media.rtcp_host, media.rtcp_mux = 9, "0.0.0.0", content.rtcp_mux
    media.ssrc = [SsrcDescription(ssrc=s.ssrc, **{k: v for k, v in s.parameters.items()
                                                  if k in _SOURCE_KEYS})
                  for s in content.sources]
    media.ssrc_group = [GroupDescription(semantic=g.semantics, items=list(g.ssrcs))
                        for g in content.source_groups]
    msids = [s.parameters["msid"] for s in content.sources if s.parameters.get("msid")]
    media.msid = msids[0] if msids else None
    media.ice = RTCIceParameters(usernameFragment=transport.ufrag, password=transport.pwd)
    media.ice_candidates = [candidate_to_aiortc(c, content.name, index)
                            for c in transport.candidates]
    media.ice_candidates_complete = transport.gathering_complete
    setups = {fp.setup for fp in transport.fingerprints}
    if len(setups) != 1 or next(iter(setups)) not in DTLS_SETUP_ROLE:
        raise JingleFormatError(f"content {content.name!r}: fingerprint setup must be one of "
                                f"actpass, active, passive")
    media.dtls = RTCDtlsParameters(
        fingerprints=[RTCDtlsFingerprint(algorithm=fp.hash, value=fp.value)
                      for fp in transport.fingerprints],
        role=DTLS_SETUP_ROLE[setups.pop()])
    return media


def jingle_to_sdp(contents: list[Content], group: Group | None, *, author_is_initiator: bool) -> str:
    """The SDP that the author of these Jingle contents would have written."""
    if not contents:
        raise JingleFormatError("the session has no <content/>")
    session = SessionDescription()
    session.origin = "- 0 0 IN IP4 0.0.0.0"
    if group is not None:
        session.group.append(GroupDescription(semantic=group.semantics, items=list(group.contents)))
    session.msid_semantic.append(GroupDescription(semantic="WMS", items=["*"]))
    session.media = [_media_from_content(c, i, author_is_initiator) for i, c in enumerate(contents)]
    return str(session)


def _content_from_media(media: MediaDescription, author_is_initiator: bool,
                        creators: dict[str, str]) -> Content:
    mid = str(media.rtp.muxId)
    content = Content(name=mid, creator=creators.get(mid, "initiator"), media=media.kind,
                      senders=direction_to_senders(media.direction, author_is_initiator),
                      rtcp_mux=media.rtcp_mux)
    for codec in media.rtp.codecs:
        channels = codec.channels or 1
        content.payload_types.append(PayloadType(
            id=int(codec.payloadType or 0), name=codec.name, clockrate=codec.clockRate,
            channels=channels,
            parameters={k: None if v is None else str(v) for k, v in codec.parameters.items()},
            feedback=[(fb.type, fb.parameter) for fb in codec.rtcpFeedback]))
    content.header_extensions = [HeaderExtension(id=h.id, uri=h.uri)
                                 for h in media.rtp.headerExtensions]
    content.sources = [
        Source(ssrc=s.ssrc, parameters={k: getattr(s, k) for k in _SOURCE_KEYS
                                        if getattr(s, k) is not None})
        for s in media.ssrc]
    if media.msid:
        for source in content.sources:
            source.parameters.setdefault("msid", media.msid)
    content.source_groups = [SourceGroup(g.semantic, [int(x) for x in g.items])
                             for g in media.ssrc_group]
    assert media.ice is not None and media.dtls is not None
    content.transport = Transport(
        ufrag=media.ice.usernameFragment, pwd=media.ice.password,
        candidates=[candidate_from_aiortc(c) for c in media.ice_candidates],
        fingerprints=[Fingerprint(hash=fp.algorithm, value=fp.value,
                                  setup=DTLS_ROLE_SETUP[media.dtls.role])
                      for fp in media.dtls.fingerprints],
        gathering_complete=media.ice_candidates_complete)
    return content


def sdp_to_jingle(sdp: str, *, author_is_initiator: bool, creators: dict[str, str] | None = None
                  ) -> tuple[list[Content], Group | None]:
    """Jingle contents and bundle group for an SDP written by aiortc.

    ``creators`` maps content names to the creator the offer gave them (answers keep them)."""
    session = SessionDescription.parse(sdp)
    contents = [_content_from_media(m, author_is_initiator, creators or {}) for m in session.media
                if m.kind in ("audio", "video")]
    bundle = next((g for g in session.group if g.semantic == "BUNDLE"), None)
    group = Group(semantics="BUNDLE", contents=[str(x) for x in bundle.items]) if bundle else None
    return contents, group


def renegotiated_sdp(previous: str, added: list[Content], order: list[str], *,
                     author_is_initiator: bool, inactive: set[str],
                     answer_to_role: str | None = None) -> str:
    """The peer's description after a content change (XEP-0166 ``content-add``/``-accept``):
    its previous SDP ``previous`` with the m-lines of ``added`` appended, all in ``order`` (the
    mids of the offer), ``inactive`` ones switched off, one BUNDLE of all.

    For an answer, ``answer_to_role`` is our DTLS role (``client``/``server``): a previous
    description that was the peer's offer may still say ``actpass``, and the answer must say
    the role opposite ours."""
    session = SessionDescription.parse(previous)
    media = {str(m.rtp.muxId): m for m in session.media}
    for content in added:
        media[content.name] = _media_from_content(content, order.index(content.name),
                                                  author_is_initiator)
    missing = [name for name in order if name not in media]
    if missing:
        raise JingleFormatError(f"content {missing[0]!r} is missing")
    session.media = [media[name] for name in order]
    for m in session.media:
        if m.rtp.muxId in inactive:
            m.direction = "inactive"
        if answer_to_role and m.dtls is not None and m.dtls.role == "auto":
            m.dtls.role = "server" if answer_to_role == "client" else "client"
    session.group = [GroupDescription(semantic="BUNDLE", items=list(order))]
    return str(session)

def dtls_role(sdp: str) -> str:
    """The DTLS role (``client``, ``server`` or ``auto``) an SDP's first m-line gives its author."""
    session = SessionDescription.parse(sdp)
    first = next((m for m in session.media if m.dtls is not None), None)
    return first.dtls.role if first is not None and first.dtls is not None else "auto"


def bundle_transport(sdp: str) -> Transport:
    """The ICE credentials and fingerprints of the first m-line (the BUNDLE transport), without
    candidates: what a content added to a bundled session carries."""
    session = SessionDescription.parse(sdp)
    media = session.media[0]
    assert media.ice is not None and media.dtls is not None
    return Transport(ufrag=media.ice.usernameFragment, pwd=media.ice.password,
                     fingerprints=[Fingerprint(hash=fp.algorithm, value=fp.value,
                                               setup=DTLS_ROLE_SETUP[media.dtls.role])
                                   for fp in media.dtls.fingerprints])
