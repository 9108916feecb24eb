"""The stanzas of Jingle RTP sessions and Jingle Message Initiation, for slixmpp routing.

Only the envelope is an :class:`~slixmpp.xmlstream.ElementBase`; contents are read and written by
:mod:`.model`, which tolerates the dialects real peers send.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from slixmpp.xmlstream import ElementBase

from .model import NS_JINGLE, NS_MEDIA_CONTENT, NS_RTP, SLIDES

NS_JMI = "urn:xmpp:jingle-message:0"
#: what some older clients use for XEP-0353
NS_JMI_LEGACY = "urn:xmpp:jingle:jingle-message:0"
NS_HINTS = "urn:xmpp:hints"
JMI_ACTIONS = ("propose", "ringing", "proceed", "accept", "reject", "retract", "finish")
#: ours: a screen share added to a running call, told to the archive in JMI's words
NS_JINGLE_CONTENT = "urn:switchboard:jingle-content:0"


class Jingle(ElementBase):
    """``<jingle xmlns="urn:xmpp:jingle:1">`` in an IQ (XEP-0166)."""

    name = "jingle"
    namespace = NS_JINGLE
    plugin_attrib = "jingle"
    interfaces = {"action", "sid", "initiator", "responder"}


def jmi_element(action: str, sid: str, media: tuple[str, ...] = (), *, screen: bool = False,
                namespace: str = NS_JMI) -> ET.Element:
    """A XEP-0353 element; ``propose`` carries one RTP description per medium, its video marked
    as a shared screen (RFC 4796 ``slides``) when ``screen``. ``namespace`` is
    :data:`NS_JINGLE_CONTENT` for the record of a screen share added to a running call."""
    element = ET.Element(f"{{{namespace}}}{action}", id=sid)
    for kind in media:
        description = ET.SubElement(element, f"{{{NS_RTP}}}description", media=kind)
        if screen and kind == "video":
            ET.SubElement(description, f"{{{NS_MEDIA_CONTENT}}}content", value=SLIDES)
    return element


def jmi_of(xml: ET.Element) -> tuple[str, ET.Element] | None:
    """The JMI action and element carried directly by a ``<message>``, if any."""
    for child in xml:
        namespace, _, local = child.tag[1:].partition("}")
        if namespace in (NS_JMI, NS_JMI_LEGACY) and local in JMI_ACTIONS:
            return local, child
    return None


def store_hint() -> ET.Element:
    """``<store/>`` (XEP-0334): JMI messages have no body but must reach MAM and carbons."""
    return ET.Element(f"{{{NS_HINTS}}}store")
