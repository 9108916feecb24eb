"""Jingle RTP sessions as plain data, read from and written to XML.

One :class:`Content` per media stream (XEP-0166) with its RTP description (XEP-0167), header
extensions and feedback (XEP-0293/0294), sources (XEP-0339), ICE-UDP transport (XEP-0176) and
DTLS fingerprint (XEP-0320); :class:`Group` is XEP-0338 bundling. Parsing is lenient in the ways
real peers need (see ``shared/INTEROP.md``): namespace prefixes, candidates without ``id`` /
``generation`` / ``network``, ``rel-addr`` without ``rel-port``, ``<parameter>`` without ``value``,
``transport-info`` with a ``ufrag`` but no ``pwd``, and the non-standard ``<gathering-complete/>``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

NS_JINGLE = "urn:xmpp:jingle:1"
NS_RTP = "urn:xmpp:jingle:apps:rtp:1"
NS_RTP_INFO = "urn:xmpp:jingle:apps:rtp:info:1"
NS_RTCP_FB = "urn:xmpp:jingle:apps:rtp:rtcp-fb:0"
NS_HDREXT = "urn:xmpp:jingle:apps:rtp:rtp-hdrext:0"
NS_SSMA = "urn:xmpp:jingle:apps:rtp:ssma:0"
NS_ICE = "urn:xmpp:jingle:transports:ice-udp:1"
NS_DTLS = "urn:xmpp:jingle:apps:dtls:0"
NS_GROUPING = "urn:xmpp:jingle:apps:grouping:0"
NS_ERRORS = "urn:xmpp:jingle:errors:1"
#: RFC 4796's SDP ``a=content`` for an RTP description (``slides`` marks a shared screen); ours,
#: as no XEP carries it (docs/protocol.md)
NS_MEDIA_CONTENT = "urn:switchboard:media-content:0"
SLIDES = "slides"

#: ``<reason>`` conditions of XEP-0166 §7.4.
REASONS = frozenset({
    "alternative-session", "busy", "cancel", "connectivity-error", "decline", "expired",
    "failed-application", "failed-transport", "general-error", "gone", "incompatible-parameters",
    "media-error", "security-error", "success", "timeout", "unsupported-applications",
    "unsupported-transports",
})


class JingleFormatError(ValueError):
    """A Jingle payload we cannot use; the message says what is wrong, for the stanza error."""


class JingleError(Exception):
    """A Jingle request we answer with an error: condition, text, optional Jingle condition."""

    def __init__(self, condition: str, text: str, jingle_condition: str | None = None) -> None:
        super().__init__(text)
        self.condition, self.text, self.jingle_condition = condition, text, jingle_condition


@dataclass
class PayloadType:
    """One codec offered or accepted (``<payload-type>``)."""

    id: int
    name: str
    clockrate: int | None = None
    channels: int = 1
    parameters: dict[str, str | None] = field(default_factory=dict)
    feedback: list[tuple[str, str | None]] = field(default_factory=list)


@dataclass
class HeaderExtension:
    """An RTP header extension (XEP-0294)."""

    id: int
    uri: str
    senders: str | None = None


@dataclass
class Source:
    """A synchronisation source and its parameters (XEP-0339), e.g. ``cname``, ``msid``."""

    ssrc: int
    parameters: dict[str, str | None] = field(default_factory=dict)


@dataclass
class SourceGroup:
    """``<ssrc-group>``: e.g. FID for a video stream and its retransmissions."""

    semantics: str
    ssrcs: list[int]


@dataclass
class Candidate:
    """An ICE candidate (XEP-0176)."""

    component: int
    foundation: str
    ip: str
    port: int
    priority: int
    protocol: str = "udp"
    type: str = "host"
    generation: int = 0
    id: str | None = None
    network: int | None = None
    rel_addr: str | None = None
    rel_port: int | None = None
    tcptype: str | None = None


@dataclass
class Fingerprint:
    """The DTLS certificate fingerprint and setup role (XEP-0320)."""

    hash: str
    value: str
    setup: str


@dataclass
class Transport:
    """ICE-UDP credentials and candidates, and the DTLS fingerprints, of one content."""

    ufrag: str | None = None
    pwd: str | None = None
    candidates: list[Candidate] = field(default_factory=list)
    fingerprints: list[Fingerprint] = field(default_factory=list)
    gathering_complete: bool = False


@dataclass
class Content:
    """One media stream of a session."""

    name: str
    creator: str = "initiator"
    senders: str = "both"
    media: str = "audio"
    payload_types: list[PayloadType] = field(default_factory=list)
    header_extensions: list[HeaderExtension] = field(default_factory=list)
    feedback: list[tuple[str, str | None]] = field(default_factory=list)
    rtcp_mux: bool = False
    sources: list[Source] = field(default_factory=list)
    source_groups: list[SourceGroup] = field(default_factory=list)
    transport: Transport | None = None
    media_content: str | None = None
    """RFC 4796's content label of the stream, e.g. ``slides`` for a shared screen."""

    @property
    def screen(self) -> bool:
        """A shared screen: a video marked ``slides``."""
        return self.media == "video" and self.media_content == SLIDES


@dataclass
class Group:
    """XEP-0338 grouping, in practice ``BUNDLE``."""

    semantics: str
    contents: list[str]


@dataclass
class Reason:
    """Why a session ended (``<reason>``)."""

    condition: str = "success"
    text: str | None = None


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _int(value: str | None, what: str, default: int | None = None) -> int:
    if value is None or value == "":
        if default is None:
            raise JingleFormatError(f"{what} is missing")
        return default
    try:
        return int(value)
    except ValueError:
        raise JingleFormatError(f"{what} must be a number, not {value!r}") from None


def _feedback_from(parent: ET.Element) -> list[tuple[str, str | None]]:
    return [(fb.get("type", ""), fb.get("subtype") or None)
            for fb in parent.findall(_q(NS_RTCP_FB, "rtcp-fb"))]


def _parameters_from(parent: ET.Element, ns: str) -> dict[str, str | None]:
    return {p.get("name", ""): p.get("value") for p in parent.findall(_q(ns, "parameter"))}


def transport_from_xml(element: ET.Element) -> Transport:
    """Read an ICE-UDP ``<transport>``."""
    transport = Transport(ufrag=element.get("ufrag"), pwd=element.get("pwd"))
    for c in element.findall(_q(NS_ICE, "candidate")):
        ip = c.get("ip")
        if not ip:
            raise JingleFormatError("an ICE candidate has no ip")
        rel_port = c.get("rel-port")
        transport.candidates.append(Candidate(
            component=_int(c.get("component"), "candidate component", 1),
            foundation=c.get("foundation") or "0",
            ip=ip,
            port=_int(c.get("port"), "candidate port"),
            priority=_int(c.get("priority"), "candidate priority"),
            protocol=(c.get("protocol") or "udp").lower(),
            type=c.get("type") or "host",
            generation=_int(c.get("generation"), "candidate generation", 0),
            id=c.get("id"),
            network=int(c.get("network") or "") if (c.get("network") or "").isdigit() else None,
            rel_addr=c.get("rel-addr"),
            rel_port=int(rel_port) if rel_port and rel_port.isdigit() else None,
            tcptype=c.get("tcptype"),
        ))
    for fp in element.findall(_q(NS_DTLS, "fingerprint")):
        if fp.text and fp.text.strip():
            transport.fingerprints.append(Fingerprint(
                hash=fp.get("hash", "sha-256"), value=fp.text.strip(),
                setup=fp.get("setup", "actpass")))
    transport.gathering_complete = any(
        child.tag.endswith("}gathering-complete") for child in element)
    return transport


def content_from_xml(element: ET.Element) -> Content:
    """Read a ``<content>``; contents with another application or transport are refused."""
    name = element.get("name")
    if not name:
        raise JingleFormatError("a <content/> has no name")
    content = Content(name=name, creator=element.get("creator", "initiator"),
                      senders=element.get("senders", "both"))
    description = element.find(_q(NS_RTP, "description"))
    if description is not None:
        content.media = description.get("media", "audio")
        for pt in description.findall(_q(NS_RTP, "payload-type")):
            content.payload_types.append(PayloadType(
                id=_int(pt.get("id"), "payload-type id"),
                name=pt.get("name") or "",
                clockrate=_int(pt.get("clockrate"), "clockrate", 0) or None,
                channels=_int(pt.get("channels"), "channels", 1),
                parameters=_parameters_from(pt, NS_RTP),
                feedback=_feedback_from(pt),
            ))
        content.header_extensions = [
            HeaderExtension(id=_int(h.get("id"), "rtp-hdrext id"), uri=h.get("uri", ""),
                            senders=h.get("senders"))
            for h in description.findall(_q(NS_HDREXT, "rtp-hdrext"))]
        content.feedback = _feedback_from(description)
        content.rtcp_mux = description.find(_q(NS_RTP, "rtcp-mux")) is not None
        label = description.find(_q(NS_MEDIA_CONTENT, "content"))
        content.media_content = label.get("value") if label is not None else None
        content.sources = [
            Source(ssrc=_int(s.get("ssrc"), "source ssrc"),
                   parameters=_parameters_from(s, NS_SSMA))
            for s in description.findall(_q(NS_SSMA, "source"))]
        content.source_groups = [
            SourceGroup(semantics=g.get("semantics", ""),
                        ssrcs=[_int(s.get("ssrc"), "ssrc-group source")
                               for s in g.findall(_q(NS_SSMA, "source"))])
            for g in description.findall(_q(NS_SSMA, "ssrc-group"))]
    transport = element.find(_q(NS_ICE, "transport"))
    if transport is not None:
        content.transport = transport_from_xml(transport)
    return content


def contents_from_jingle(jingle: ET.Element) -> list[Content]:
    """Every ``<content>`` of a ``<jingle>`` element."""
    return [content_from_xml(c) for c in jingle.findall(_q(NS_JINGLE, "content"))]


def group_from_jingle(jingle: ET.Element) -> Group | None:
    """The XEP-0338 ``<group>``, if any."""
    group = jingle.find(_q(NS_GROUPING, "group"))
    if group is None:
        return None
    return Group(semantics=group.get("semantics", "BUNDLE"),
                 contents=[c.get("name", "") for c in group.findall(_q(NS_GROUPING, "content"))])


def reason_from_jingle(jingle: ET.Element) -> Reason | None:
    """The ``<reason>`` of a ``<jingle>`` (session-terminate, reject)."""
    element = jingle.find(_q(NS_JINGLE, "reason"))
    return reason_from_xml(element) if element is not None else None


def reason_from_xml(element: ET.Element) -> Reason:
    """Read a ``<reason>`` element of the Jingle namespace."""
    reason = Reason(condition="general-error")
    for child in element:
        local = child.tag.rsplit("}", 1)[-1]
        if local == "text":
            reason.text = child.text
        elif local in REASONS:
            reason.condition = local
    return reason


def _set(element: ET.Element, **attributes: object) -> None:
    for key, value in attributes.items():
        if value is not None:
            element.set(key.replace("_", "-"), str(value))


def _feedback_to(parent: ET.Element, feedback: list[tuple[str, str | None]]) -> None:
    for kind, subtype in feedback:
        _set(ET.SubElement(parent, _q(NS_RTCP_FB, "rtcp-fb")), type=kind, subtype=subtype)


def transport_to_xml(transport: Transport, *, with_credentials: bool = True) -> ET.Element:
    """Write an ICE-UDP ``<transport>``."""
    element = ET.Element(_q(NS_ICE, "transport"))
    if with_credentials:
        _set(element, ufrag=transport.ufrag, pwd=transport.pwd)
    for fp in transport.fingerprints:
        node = ET.SubElement(element, _q(NS_DTLS, "fingerprint"), hash=fp.hash, setup=fp.setup)
        node.text = fp.value
    for c in transport.candidates:
        _set(ET.SubElement(element, _q(NS_ICE, "candidate")), component=c.component,
             foundation=c.foundation, generation=c.generation, id=c.id, ip=c.ip,
             network=c.network, port=c.port, priority=c.priority, protocol=c.protocol,
             type=c.type, rel_addr=c.rel_addr, rel_port=c.rel_port, tcptype=c.tcptype)
    if transport.gathering_complete:
        ET.SubElement(element, _q(NS_ICE, "gathering-complete"))
    return element


def content_to_xml(content: Content, *, with_description: bool = True) -> ET.Element:
    """Write a ``<content>`` with its description and transport."""
    element = ET.Element(_q(NS_JINGLE, "content"), creator=content.creator, name=content.name)
    if content.senders != "both":
        element.set("senders", content.senders)
    if with_description:
        description = ET.SubElement(element, _q(NS_RTP, "description"), media=content.media)
        for pt in content.payload_types:
            node = ET.SubElement(description, _q(NS_RTP, "payload-type"))
            _set(node, id=pt.id, name=pt.name, clockrate=pt.clockrate,
                 channels=pt.channels if pt.channels != 1 else None)
            for key, value in pt.parameters.items():
                _set(ET.SubElement(node, _q(NS_RTP, "parameter")), name=key, value=value)
            _feedback_to(node, pt.feedback)
        _feedback_to(description, content.feedback)
        for ext in content.header_extensions:
            _set(ET.SubElement(description, _q(NS_HDREXT, "rtp-hdrext")), id=ext.id, uri=ext.uri,
                 senders=ext.senders)
        for group in content.source_groups:
            node = ET.SubElement(description, _q(NS_SSMA, "ssrc-group"), semantics=group.semantics)
            for ssrc in group.ssrcs:
                ET.SubElement(node, _q(NS_SSMA, "source"), ssrc=str(ssrc))
        for source in content.sources:
            node = ET.SubElement(description, _q(NS_SSMA, "source"), ssrc=str(source.ssrc))
            for key, value in source.parameters.items():
                _set(ET.SubElement(node, _q(NS_SSMA, "parameter")), name=key, value=value)
        if content.rtcp_mux:
            ET.SubElement(description, _q(NS_RTP, "rtcp-mux"))
        if content.media_content:
            ET.SubElement(description, _q(NS_MEDIA_CONTENT, "content"), value=content.media_content)
    if content.transport is not None:
        element.append(transport_to_xml(content.transport))
    return element


def group_to_xml(group: Group) -> ET.Element:
    """Write a XEP-0338 ``<group>``."""
    element = ET.Element(_q(NS_GROUPING, "group"), semantics=group.semantics)
    for name in group.contents:
        ET.SubElement(element, _q(NS_GROUPING, "content"), name=name)
    return element


def reason_to_xml(reason: Reason) -> ET.Element:
    """Write a ``<reason>``."""
    element = ET.Element(_q(NS_JINGLE, "reason"))
    ET.SubElement(element, _q(NS_JINGLE, reason.condition))
    if reason.text:
        ET.SubElement(element, _q(NS_JINGLE, "text")).text = reason.text
    return element
