"""Rooms, then contacts by group with presence colour, absence note and unread count (a virtualised
list): the conversations list."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option, OptionDoesNotExist

from tui.session.model import Contact, Invitation, Room, Show

from .room_entry import invitation_prompt, room_prompt

PRESENCE_COLOURS = {
    Show.CHAT: "bright_green",
    Show.AVAILABLE: "green",
    Show.AWAY: "yellow",
    Show.XA: "dark_orange",
    Show.DND: "red",
    Show.OFFLINE: "grey50",
}

UNGROUPED = "Contacts"
DEFAULT_WIDTH = 30


def presence_dot(show: Show) -> Text:
    """A coloured bullet for a presence state."""
    return Text("●", style=PRESENCE_COLOURS[show])


class RosterList(OptionList):
    """The roster, with my rooms on top. Option ids are the contacts' and rooms' bare JIDs; section
    and group headers are disabled options."""

    DEFAULT_CSS = """
    RosterList, RosterList:focus {
        width: 30;  /* DEFAULT_WIDTH */
        height: 1fr;
        border: none;
        border-right: vkey $panel-lighten-2;
        background: $surface;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._contacts: dict[str, Contact] = {}
        self._unread: dict[str, int] = {}
        self._listed: set[str] = set()
        self._rooms: dict[str, Room] = {}
        self._invitations: dict[str, Invitation] = {}
        self.hide_offline = False
        """Leave out offline contacts (unless they have unread messages)."""
        self._pinned: set[str] = set()
        self._muted: set[str] = set()
        self._filter = ""

    def prompt(self, contact: Contact) -> Text:
        """How one contact reads: dot, name, unread count, state and note."""
        text = Text.assemble(presence_dot(contact.show), " ", (contact.display_name, "bold"))
        unread = self._unread.get(contact.jid, 0)
        if unread:
            text.append(f" ({unread})", style="bold reverse")
        detail = Text(contact.show.label + (f" — {contact.status}" if contact.status else ""),
                      style="dim")
        # one line, indented under the name (no-break spaces survive the list's wrapping)
        detail.truncate(max(8, (self.size.width or DEFAULT_WIDTH) - 5), overflow="ellipsis")
        text.append("\n\u00a0\u00a0")
        text.append_text(detail)
        return self._muted_look(contact.jid, text)

    def _muted_look(self, jid: str, text: Text) -> Text:
        """A muted conversation's entry: greyed after its presence dot, saying so after the name."""
        if jid in self._muted:
            end = text.plain.find("\n") % (len(text.plain) + 1)
            text = text[:end] + Text(" (muted)", style="italic") + text[end:]
            text.stylize("not bold grey50", 2)
        return text

    def set_marks(self, pinned: set[str], muted: set[str]) -> None:
        """List ``pinned`` conversations first and show ``muted`` ones dimmed."""
        if (pinned, muted) != (self._pinned, self._muted):
            self._pinned, self._muted = set(pinned), set(muted)
            self.set_contacts(self._contacts.values())

    def set_filter(self, text: str) -> None:
        """List only contacts and rooms whose name or user part of the address contains ``text``
        (any case)."""
        if text.strip().casefold() != self._filter:
            self._filter = text.strip().casefold()
            self.set_contacts(self._contacts.values())

    def _matches(self, *names: str) -> bool:
        return not self._filter or any(self._filter in name.casefold() for name in names)

    def set_contacts(self, contacts: Iterable[Contact]) -> None:
        """Rebuild the list: groups in name order, contacts by name, keeping the highlight."""
        highlighted = self.highlighted_option.id if self.highlighted_option else None
        self._contacts = {c.jid: c for c in contacts}
        groups: dict[str, list[Contact]] = {}
        pinned: list[tuple[str, Option]] = []  # by name
        for contact in self._contacts.values():
            if not self._shown(contact):
                continue
            if contact.jid in self._pinned:
                pinned.append((contact.display_name, Option(self.prompt(contact), id=contact.jid)))
                continue
            for group in contact.groups or (UNGROUPED,):
                groups.setdefault(group, []).append(contact)
        rooms = [r for r in sorted(self._rooms.values(), key=lambda r: r.display_name.casefold())
                 if self._matches(r.display_name, r.jid.split("@")[0])]
        pinned += [(r.display_name, Option(self._room_prompt(r), id=r.jid))
                   for r in rooms if r.jid in self._pinned]
        rooms = [r for r in rooms if r.jid not in self._pinned]
        invitations = [i for i in self._invitations.values() if self._matches(i.room.split("@")[0])]
        options: list[Option] = []
        if pinned:
            options.append(Option(Text("Pinned", style="bold underline"), disabled=True))
            options += [option for _name, option in sorted(pinned, key=lambda p: p[0].casefold())]
        if rooms or invitations:
            options.append(Option(Text("Rooms", style="bold underline"), disabled=True))
            width = self.size.width or DEFAULT_WIDTH
            for invitation in invitations:
                inviter = self._contacts.get(invitation.inviter)
                options.append(Option(invitation_prompt(
                    invitation, inviter.display_name if inviter else invitation.inviter, width),
                    id=invitation.room))
            for room in rooms:
                options.append(Option(self._room_prompt(room), id=room.jid))
        seen = {o.id for _name, o in pinned
                if o.id is not None and o.id in self._contacts and o.id not in self._rooms}
        for group in sorted(groups, key=str.casefold):
            options.append(Option(Text(group, style="bold underline"), disabled=True))
            for contact in sorted(groups[group], key=lambda c: c.display_name.casefold()):
                # a contact in several groups is listed under the first; ids must be unique
                if contact.jid in seen:
                    continue
                seen.add(contact.jid)
                options.append(Option(self.prompt(contact), id=contact.jid))
        if self._filter and len(options) == 0:
            options.append(Option(Text("No match here — Enter asks the server's directory",
                                       style="dim italic"), disabled=True))
        self.set_options(options)
        self._listed = seen
        if highlighted and (highlighted in seen or highlighted in self._rooms
                            or highlighted in self._invitations) and self._has(highlighted):
            self.highlighted = self.get_option_index(highlighted)
        elif (seen or self._filter) and self.highlighted is None:
            self.highlighted = next((i for i, o in enumerate(options) if not o.disabled), None)

    def _has(self, option_id: str) -> bool:
        try:
            self.get_option(option_id)
        except OptionDoesNotExist:
            return False
        return True

    def _visible(self, contact: Contact) -> bool:
        return (not self.hide_offline or contact.show is not Show.OFFLINE
                or bool(self._unread.get(contact.jid)))

    def _shown(self, contact: Contact) -> bool:
        # a room's address in the roster (slixmpp keeps an item for whoever sent presence, rooms
        # too) is listed once: as the room
        return (contact.jid not in self._rooms and contact.jid not in self._invitations
                and self._visible(contact)
                and self._matches(contact.display_name, contact.jid.split("@")[0]))

    def update_contact(self, contact: Contact) -> None:
        """Redraw one contact after a presence change (or list it again, or leave it out)."""
        self._contacts[contact.jid] = contact
        shown = self._shown(contact)
        if shown != (contact.jid in self._listed):
            self.set_contacts(self._contacts.values())
            return
        if shown:
            with contextlib.suppress(OptionDoesNotExist):  # not listed yet: the next rebuild shows it
                self.replace_option_prompt(contact.jid, self.prompt(contact))

    def _room_prompt(self, room: Room) -> Text:
        return self._muted_look(room.jid, room_prompt(room, self._unread.get(room.jid, 0),
                                                      self.size.width or DEFAULT_WIDTH))

    def set_rooms(self, rooms: Iterable[Room], invitations: Iterable[Invitation] = ()) -> None:
        """List ``rooms`` and unanswered ``invitations`` above the contacts, keeping the highlight."""
        self._rooms = {room.jid: room for room in rooms}
        self._invitations = {i.room: i for i in invitations if i.room not in self._rooms}
        self.set_contacts(self._contacts.values())

    def update_room(self, room: Room) -> None:
        """Redraw one room's entry (its state, participants count or name changed)."""
        if room.jid in self._rooms:
            with contextlib.suppress(OptionDoesNotExist):
                self.replace_option_prompt(room.jid, self._room_prompt(room))

    def set_unread(self, unread: Mapping[str, int]) -> None:
        """Show unread counts next to contacts and rooms."""
        changed = {jid for jid in set(unread) | set(self._unread)
                   if unread.get(jid, 0) != self._unread.get(jid, 0)}
        self._unread = dict(unread)
        for jid in changed:
            if jid in self._rooms:
                self.update_room(self._rooms[jid])
            elif jid in self._contacts:
                self.update_contact(self._contacts[jid])
