"""ejabberd's message archive, read-only: the journal's source of what users said and called.

The ``archive`` table holds every archived stanza of every local user (``username`` is the local
part) and of every room (``username`` is the room JID), with an increasing ``id``. The journal
reads it from a stored cursor, so rows written while the component was down are caught up and
rows are never applied twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from xml.etree import ElementTree

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

JMI = ("urn:xmpp:jingle-message:0", "urn:xmpp:jingle:jingle-message:0")
RTP = "urn:xmpp:jingle:apps:rtp:1"
MEDIA_CONTENT = "urn:switchboard:media-content:0"
"""RFC 4796's SDP ``a=content`` for an RTP description (docs/protocol.md); ``slides`` is a screen."""
JINGLE_CONTENT = "urn:switchboard:jingle-content:0"
"""A screen share added to a running call, told in XEP-0353's words (docs/protocol.md)."""
CORRECTION = "{urn:xmpp:message-correct:0}replace"


@dataclass(frozen=True)
class CallSignal:
    """A Jingle Message Initiation step (XEP-0353) found in the archive."""

    action: str  # propose, ringing, proceed, accept, reject, retract, finish
    session: str
    media: tuple[str, ...] = ()
    reason: str = ""
    screen: bool = False
    """A proposed video is a shared screen (marked ``slides``, see :data:`MEDIA_CONTENT`)."""


@dataclass(frozen=True)
class ArchivedStanza:
    """One archive row, decoded."""

    id: int
    archive: str
    """Whose archive: ``alice@localhost`` or a room JID."""
    room: bool
    peer: str
    """Bare JID of the other party (for a room row: the sender)."""
    nick: str
    when: dt.datetime
    outgoing: bool
    """Sent by the archive's owner (for a room row: always False)."""
    body: str
    correction: bool
    call: CallSignal | None
    sender: str = ""
    """For a room row: the full JID of the local or remote user who said it."""


def decode(row_id: int, username: str, timestamp_us: int, bare_peer: str, xml: str, kind: str,
           nick: str, domain: str, peer: str = "") -> ArchivedStanza | None:
    """Decode an archive row; None for rows the journal does not use (unparsable ones included)."""
    try:
        element = ElementTree.fromstring(xml)
    except ElementTree.ParseError:
        return None
    room = kind == "groupchat"
    owner = username if "@" in username else f"{username}@{domain}"
    sender = (element.get("from") or "").split("/")[0]
    when = dt.datetime.fromtimestamp(timestamp_us / 1_000_000, dt.UTC)
    body_element = element.find("{jabber:client}body")
    body = body_element.text or "" if body_element is not None else ""
    call = None
    for namespace in (*JMI, JINGLE_CONTENT):
        for action in ("propose", "ringing", "proceed", "accept", "reject", "retract", "finish"):
            step = element.find(f"{{{namespace}}}{action}")
            if step is not None:
                descriptions = list(step.iter(f"{{{RTP}}}description"))
                media = tuple(d.get("media", "") for d in descriptions)
                screen = any(d.get("media") == "video" and any(
                    c.get("value") == "slides" for c in d.iter(f"{{{MEDIA_CONTENT}}}content"))
                    for d in descriptions)
                reason = ""
                reason_element = step.find("{urn:xmpp:jingle:1}reason")
                if reason_element is not None and len(reason_element):
                    reason = reason_element[0].tag.split("}")[-1]
                call = CallSignal(action, step.get("id", ""), media, reason, screen)
                break
        if call:
            break
    if not body and call is None:
        return None
    return ArchivedStanza(
        id=row_id, archive=owner, room=room, peer=bare_peer, nick=nick or "", when=when,
        outgoing=not room and sender == owner, body=body,
        correction=element.find(CORRECTION) is not None, call=call, sender=peer if room else "")


class ArchiveReader:
    """Reads archive rows after a cursor, in id order, in batches."""

    def __init__(self, engine: AsyncEngine, domain: str) -> None:
        self.engine = engine
        self.domain = domain

    async def after(self, cursor: int, limit: int = 1000) -> tuple[list[ArchivedStanza], int]:
        """Decoded stanzas with ids above ``cursor`` and the id of the last row read."""
        async with self.engine.connect() as connection:
            rows = (await connection.execute(text(
                "SELECT id, username, timestamp, bare_peer, xml, kind, nick, peer FROM archive "
                "WHERE id > :cursor ORDER BY id LIMIT :limit"),
                {"cursor": cursor, "limit": limit})).all()
        decoded = [decode(r[0], r[1], r[2], r[3], r[4], r[5] or "chat", r[6] or "", self.domain, r[7] or "")
                   for r in rows]
        return [d for d in decoded if d is not None], (rows[-1][0] if rows else cursor)
