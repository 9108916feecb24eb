"""Who is in which room, from what ejabberd shows the journal: the rooms' presences and messages
that local users receive (``mod_service_log`` copies), and the occupant presences ejabberd sends
the component itself. Pure functions over ElementTree, no network.

A room message then counts in the room entry of every local user in the room (see
:meth:`JournalStore.ingest`), not only of those who spoke.

Only a user's own stanzas say she entered (her self-presence, the room messages she gets): they
reach the journal in the order her session handled them. Others' views of her (another
occupant's copy, ejabberd's presence to the component) come from other processes and may
arrive late, so they only ever say she left — the only news of a dropped session.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree import ElementTree

MUC_USER = "http://jabber.org/protocol/muc#user"
SELF_PRESENCE = "110"
NICK_CHANGE = "303"


@dataclass(frozen=True)
class RoomPresence:
    """A local user entering or leaving a room."""

    room: str
    """The room's bare JID."""
    occupant: str
    """The user's full JID; empty when the room named only her nick (she left)."""
    nick: str | None
    """Her nick in the room; None when the stanza did not say it."""
    present: bool


def _split(jid: str) -> tuple[str, str]:
    bare, _, resource = jid.partition("/")
    return bare, resource


def _local(jid: str, domain: str) -> bool:
    return _split(jid)[0].endswith("@" + domain)


def room_presences(stanza: ElementTree.Element, domain: str) -> list[RoomPresence]:
    """What ``stanza`` says about local users in rooms: a presence or message a local user
    received from a room (a service-log copy), or an occupant presence from a room."""
    kind = stanza.tag.rsplit("}", 1)[-1]
    sender, nick = _split(stanza.get("from", ""))
    recipient = stanza.get("to", "")
    if not nick:
        return []
    if kind == "message":  # she got a room message (history on joining included): she is there
        if (stanza.get("type") == "groupchat" and _local(recipient, domain)
                and stanza.find("{*}body") is not None):
            return [RoomPresence(sender, recipient, None, True)]
        return []
    if kind != "presence":
        return []
    leaving = stanza.get("type") in ("unavailable", "error")
    user = stanza.find(f"{{{MUC_USER}}}x")
    if user is None:  # a join refused (error) is the only plain room presence that matters
        return ([RoomPresence(sender, recipient, None, False)]
                if stanza.get("type") == "error" and _local(recipient, domain) else [])
    codes = {status.get("code") for status in user.iter(f"{{{MUC_USER}}}status")}
    if leaving and NICK_CHANGE in codes:
        return []  # the same occupant comes back at once under the new nick
    if SELF_PRESENCE in codes and _local(recipient, domain):
        return [RoomPresence(sender, recipient, nick, not leaving)]
    if not leaving:
        return []
    item = user.find(f"{{{MUC_USER}}}item")
    occupant = item.get("jid", "") if item is not None else ""
    if occupant and "/" in occupant and _local(occupant, domain):
        return [RoomPresence(sender, occupant, nick, False)]
    return [RoomPresence(sender, "", nick, False)]  # the room hid who it was: the nick says
