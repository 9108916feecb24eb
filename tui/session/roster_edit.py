"""Changing my roster (CO1): contact groups — create, rename, move contacts between them — and adding
a contact found in the directory.

Groups exist only through the contacts in them (RFC 6121 §2.1.2.2): creating a group puts
contacts into it, renaming one changes every contact in it. Each change is a roster set; the
server pushes the result to every device of mine (the session's roster then changes by itself).
Groups the administrator shares with everyone (ejabberd's shared roster) are not mine to change:
the server keeps adding them to their contacts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from slixmpp import JID
from slixmpp.exceptions import IqError, IqTimeout

if TYPE_CHECKING:
    from .client import ChatSession
    from .model import Contact

TIMEOUT = 15


class RosterError(Exception):
    """A roster change failed; the text says why and what to do next."""


def listed_group(contact: Contact) -> str:
    """The group a contact is listed under (the first by name), empty when it has none."""
    return min(contact.groups, key=str.casefold) if contact.groups else ""


def groups_of(contacts: Iterable[Contact]) -> dict[str, int]:
    """Every group with how many contacts are in it."""
    counts: dict[str, int] = {}
    for contact in contacts:
        for group in contact.groups:
            counts[group] = counts.get(group, 0) + 1
    return counts


async def set_groups(session: ChatSession, jid: str, groups: Iterable[str]) -> None:
    """Put the contact ``jid`` into exactly ``groups``."""
    wanted = sorted({g.strip() for g in groups if g.strip()}, key=str.casefold)
    try:
        await _roster_set(session, jid, groups=wanted)
    except (IqError, IqTimeout) as exc:
        raise _refused(exc, f"change the groups of {jid}") from None


async def move(session: ChatSession, jid: str, group: str) -> None:
    """Move a contact from the group it is listed under into ``group`` (a new name creates it)."""
    contact = session.contacts.get(jid)
    if contact is None:
        raise RosterError(f"{jid} is not among your contacts; add them first.")
    group = group.strip()
    if not group:
        raise RosterError("Give the group a name.")
    old = listed_group(contact)
    await set_groups(session, jid, [g for g in contact.groups if g != old] + [group])


async def create(session: ChatSession, group: str, members: Iterable[str]) -> None:
    """A new group ``group`` with ``members`` in it (each keeps its other groups)."""
    group = group.strip()
    members = list(members)
    if not group:
        raise RosterError("Give the group a name.")
    if not members:
        raise RosterError("A group exists through its contacts: choose at least one.")
    for jid in members:
        contact = session.contacts.get(jid)
        await set_groups(session, jid, [*(contact.groups if contact else ()), group])


async def rename(session: ChatSession, old: str, new: str) -> None:
    """Rename the group ``old`` to ``new`` for every contact in it."""
    new = new.strip()
    if not new:
        raise RosterError("Give the group a new name.")
    members = [c for c in session.contacts.values() if old in c.groups]
    if not members:
        raise RosterError(f"No contact is in the group {old}.")
    for contact in members:
        await set_groups(session, contact.jid, [new if g == old else g for g in contact.groups])


async def add_contact(session: ChatSession, jid: str, name: str = "", group: str = "") -> None:
    """Add ``jid`` to my contacts and ask to see their presence (they are asked to agree)."""
    bare = JID(jid).bare
    if bare == session.jid.bare:
        raise RosterError("That is your own address.")
    try:
        await _roster_set(session, bare, name=name, groups=[group] if group else [])
    except (IqError, IqTimeout) as exc:
        raise _refused(exc, f"add {bare}") from None
    session.stream.send_presence(pto=bare, ptype="subscribe")


async def _roster_set(session: ChatSession, jid: str, **changes: object) -> None:
    """A roster set of ``changes`` (name, groups) to ``jid``'s item, answered by the server."""
    pending = session.stream.update_roster(JID(jid), timeout=TIMEOUT, **changes)
    if pending is not None:
        await pending


def _refused(exc: Exception, what: str) -> RosterError:
    if isinstance(exc, IqTimeout):
        return RosterError(f"Cannot {what}: the server did not answer; check the connection and try "
                           "again.")
    condition = exc.iq["error"]["condition"] if isinstance(exc, IqError) else ""
    text = exc.iq["error"]["text"] if isinstance(exc, IqError) else ""
    return RosterError(f"Cannot {what}: the server said {text or condition or 'no'}. Try again; if it "
                       "keeps failing, ask the administrator.")
