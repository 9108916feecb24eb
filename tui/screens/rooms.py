"""The rooms half of the main screen (CH3): create a room (n) or one from a contact group (g), answer
invitations from the rooms list, the room panel (F5) with its picture and participants and the keys
that add (a), remove (x), rename (r), set the picture (p) and leave (l); every one of them is also
in the command palette (Ctrl+P).

The screen only asks the session (:class:`~tui.session.rooms.RoomService`) and shows its answers;
errors come back as :class:`~tui.session.rooms.RoomError` texts that say what to do next.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from rich.text import Text
from textual.binding import Binding
from textual.widgets import Static

from tui.session import ChatSession, events
from tui.session.attachment import Preview
from tui.session.model import Room
from tui.session.rooms import RoomError
from tui.widgets.chat import Composer, MessageLog
from tui.widgets.rooms import ParticipantList
from tui.widgets.roster import RosterList

from .background import run_reported
from .room_dialogs import GroupPicker, NamePrompt, PeopleDialog, Question

if TYPE_CHECKING:
    from textual.screen import Screen

    _Base = Screen[None]
else:
    _Base = object

log = logging.getLogger(__name__)

T = TypeVar("T")

ROOM_BINDINGS = [
    Binding("n", "new_room", "New room"),
    Binding("g", "room_from_group", "Room from group", show=False),
    Binding("f5", "room_panel", "Room"),
]
"""Keys of the main screen for rooms; the room panel has its own (a, x, r, l)."""

ROOM_ACTIONS = ("room_panel", "invite", "remove_participant", "rename_room", "room_picture",
                "leave_room")
"""Actions that need an open room."""

NO_CONVERSATION = "Choose a contact or room and press Enter to chat."


def room_title(room: Room) -> Text:
    """The conversation title of a room: name, who is there, the subject."""
    title = Text.assemble(("Room ", "dim"), ("# ", "bold cyan"), (room.display_name, "bold"), "  ")
    if room.joined:
        title.append(f"{len(room.occupants)} present", style="green")
    else:
        title.append("not joined", style="italic yellow")
    if room.subject:
        title.append(f" — {room.subject}", style="italic")
    return title


class RoomActions(_Base):
    """Room keys, dialogs and session events for the main screen (mixed into it)."""

    session: ChatSession
    open_jid: str | None

    def open_conversation(self, jid: str) -> None:
        """Provided by the main screen."""
        raise NotImplementedError

    # --- state ------------------------------------------------------------------------------------

    @property
    def open_room(self) -> Room | None:
        """The room whose conversation is open, if a room's is."""
        return self.session.rooms.by_jid.get(self.open_jid) if self.open_jid else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Room keys only where there is an open room (hidden from the footer otherwise)."""
        if action in ROOM_ACTIONS:
            return self.open_room is not None
        return True

    def room_commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        """The room actions that apply now, for the command palette: (title, help, callback)."""
        commands: list[tuple[str, str, Callable[[], object]]] = [
            ("New room", "Create a members-only room with a name and people (n)", self.action_new_room),
            ("Room from group", "A room named after a contact group, everyone invited (g)",
             self.action_room_from_group)]
        for invitation in self.session.rooms.invitations.values():
            commands.append((f"Answer invitation to {invitation.room.split('@')[0]}",
                             f"from {invitation.inviter}: join or decline",
                             partial(self.answer_invitation, invitation.room)))
        if self.open_room is not None:
            commands += [
                ("Room participants", "Show who is in the open room (F5)", self.action_room_panel),
                ("Add people to the room", "Make contacts members and invite them (a in the panel)",
                 self.action_invite),
                ("Remove participant", "Take away the highlighted participant's membership "
                 "(x in the panel)", self.action_remove_participant),
                ("Rename room", "Give the open room a new name (r in the panel)", self.action_rename_room),
                ("Set room picture", "Owners: the room's avatar, from a picture file (p in the panel)",
                 self.action_room_picture),
                ("Leave room", "Leave the open room and drop its bookmark (l in the panel)",
                 self.action_leave_room)]
        return commands

    def _names(self) -> dict[str, str]:
        return {c.jid: c.display_name for c in self.session.contacts.values()}

    def _picture(self, room: Room) -> Preview | None:
        avatar = self.session.room_avatars.by_room.get(room.jid)
        return avatar.preview if avatar is not None else None

    def _run(self, work: Coroutine[Any, Any, T], then: Callable[[T], object] | None = None) -> None:
        """Run a room action in the background; its error is shown as a notification."""
        run_reported(self, work, "Rooms", (RoomError,), then, group="rooms")

    def _needs_online(self) -> bool:
        if self.session.state == "online":
            return True
        self.notify("Not connected: rooms need the server. Try again once the top line says online.",
                    severity="warning")
        return False

    # --- creating -----------------------------------------------------------------------------------

    def action_new_room(self) -> None:
        """A new room: name and people in one dialog."""
        if not self._needs_online():
            return

        def create(choice: tuple[str, list[str]] | None) -> None:
            if choice is not None:
                name, people = choice
                self._run(self.session.rooms.create(name, people), self._opened)

        self.app.push_screen(PeopleDialog("New room — its name and who is in it",
                                          self.session.contacts.values(), ask_name=True), create)

    def action_room_from_group(self) -> None:
        """A room named after a contact group, with all its contacts, in one step."""
        if not self._needs_online():
            return
        groups: dict[str, int] = {}
        for contact in self.session.contacts.values():
            for group in contact.groups:
                groups[group] = groups.get(group, 0) + 1
        if not groups:
            self.notify("You have no contact groups yet; n creates a room with chosen people.",
                        severity="warning")
            return

        def create(group: str | None) -> None:
            if group:
                self._run(self.session.rooms.create_from_group(group), self._opened)

        self.app.push_screen(GroupPicker(groups), create)

    def _opened(self, room: Room) -> None:
        self.open_conversation(room.jid)

    # --- selecting rooms and invitations ------------------------------------------------------------

    def select_room(self, jid: str) -> bool:
        """Enter on a room or invitation in the list; False when ``jid`` is neither."""
        rooms = self.session.rooms
        if jid in rooms.invitations:
            self.answer_invitation(jid)
            return True
        room = rooms.by_jid.get(jid)
        if room is None:
            return False
        self.open_conversation(jid)
        if not room.joined and self._needs_online():
            self._run(rooms.join(jid))
        return True

    def answer_invitation(self, jid: str) -> None:
        """Ask whether to join the room of a pending invitation."""
        invitation = self.session.rooms.invitations.get(jid)
        if invitation is None:
            return
        inviter = self._names().get(invitation.inviter, invitation.inviter)
        text = Text.assemble((inviter, "bold"), " invites you to the room ", (jid, "bold"))
        if invitation.reason:
            text.append(f"\n“{invitation.reason}”", style="italic")

        def answered(answer: str | None) -> None:
            if answer == "yes" and self._needs_online():
                self._run(self.session.rooms.accept(jid), self._opened)
            elif answer == "no":
                self.session.rooms.decline(jid)
                self._rooms_changed()

        self.app.push_screen(Question(text, "join", "decline"), answered)

    # --- the open room ------------------------------------------------------------------------------

    def action_room_panel(self) -> None:
        """Show the open room's participants in place of the contacts (again: back)."""
        room = self.open_room
        if room is None:
            return
        panel = self.query_one(ParticipantList)
        if panel.display and panel.has_focus:
            self.hide_room_panel()
            self.query_one(RosterList).focus()
            return
        panel.show_room(room, self._names(), self._picture(room))
        self.query_one(RosterList).display = False
        panel.display = True
        panel.focus()
        if self.session.state == "online" and room.joined:  # a new picture set elsewhere
            self._run(self.session.room_avatars.refresh(room.jid))

    def hide_room_panel(self) -> None:
        """Back to the contacts list."""
        self.query_one(ParticipantList).display = False
        self.query_one(RosterList).display = True

    def action_invite(self) -> None:
        """Add contacts to the open room."""
        room = self.open_room
        if room is None or not self._needs_online():
            return

        def invite(choice: tuple[str, list[str]] | None) -> None:
            if choice is not None and room.jid in self.session.rooms:
                self._run(self.session.rooms.invite(room.jid, choice[1]))

        exclude = {*room.members, self.session.jid.bare}
        self.app.push_screen(PeopleDialog(f"Add people to {room.display_name}",
                                          self.session.contacts.values(), ask_name=False,
                                          exclude=exclude), invite)

    def action_remove_participant(self) -> None:
        """Take the highlighted participant's membership away (they leave a members-only room)."""
        room = self.open_room
        panel = self.query_one(ParticipantList)
        if room is None or not self._needs_online():
            return
        jid = panel.highlighted_jid if panel.display else None
        if jid is None:
            self.notify("Open the room panel (F5), highlight the participant, then press x.",
                        severity="warning")
            return
        if jid == self.session.jid.bare:
            self.notify("That is you: l leaves the room.", severity="warning")
            return
        name = self._names().get(jid, jid)

        def remove(answer: str | None) -> None:
            if answer == "yes":
                self._run(self.session.rooms.remove(room.jid, jid))

        self.app.push_screen(Question(Text.assemble("Remove ", (name, "bold"), " from ",
                                                    (room.display_name, "bold"), "?"), "remove"),
                             remove)

    def action_rename_room(self) -> None:
        """Give the open room a new name."""
        room = self.open_room
        if room is None or not self._needs_online():
            return

        def rename(name: str | None) -> None:
            if name and room.jid in self.session.rooms:
                self._run(self.session.rooms.rename(room.jid, name))

        self.app.push_screen(NamePrompt(f"New name for {room.display_name}", room.name), rename)

    def action_room_picture(self) -> None:
        """Owners: make a picture file the open room's avatar."""
        from tui.session.attachment import human_size
        from tui.session.room_avatars import MOST_BYTES

        from .files import AttachDialog

        room = self.open_room
        if room is None or not self._needs_online():
            return
        if room.my_affiliation != "owner":
            self.notify(f"Only an owner of {room.display_name} can set its picture.",
                        severity="warning")
            return

        def chosen(path: object) -> None:
            if path is not None and room.jid in self.session.rooms:
                self._run(self.session.room_avatars.publish(room.jid, str(path)),
                          lambda _avatar: self.notify(f"{room.display_name} has a new picture."))

        self.app.push_screen(AttachDialog(room.display_name, title=f"A picture for "
                                          f"{room.display_name} (PNG or JPEG, at most "
                                          f"{human_size(MOST_BYTES)})",
                                          verb="set it"), chosen)

    def action_leave_room(self) -> None:
        """Leave the open room (and drop its bookmark, on every device)."""
        room = self.open_room
        if room is None:
            return

        def leave(answer: str | None) -> None:
            if answer == "yes":
                self._run(self.session.rooms.leave(room.jid))

        self.app.push_screen(Question(Text.assemble(
            "Leave ", (room.display_name, "bold"), "? It goes from your list on every device; "
            "a member can invite you back."), "leave"), leave)

    def close_room(self) -> None:
        """The open room is gone: show no conversation."""
        self.open_jid = None
        self.query_one(MessageLog).show(None)
        self.query_one("#conversation-title", Static).update(NO_CONVERSATION)
        self.query_one(Composer).disabled = True
        self.hide_room_panel()
        self.query_one(RosterList).focus()

    # --- session events -----------------------------------------------------------------------------

    def _rooms_changed(self) -> None:
        rooms = self.session.rooms
        self.query_one(RosterList).set_rooms(rooms.by_jid.values(), rooms.invitations.values())
        if self.open_jid is not None and self.open_jid not in self.session.contacts \
                and self.open_jid not in rooms:
            self.close_room()
        self.refresh_bindings()

    def on_room_event(self, event: events.SessionEvent) -> None:
        """Keep the rooms list, the open room and its panel up to date."""
        rooms = self.session.rooms
        if isinstance(event, events.RoomsChanged):
            self._rooms_changed()
            if self.open_room is not None:
                self.query_one("#conversation-title", Static).update(room_title(self.open_room))
        elif isinstance(event, events.RoomChanged):
            room = rooms.by_jid.get(event.jid)
            if room is None:
                return
            self.query_one(RosterList).update_room(room)
            if event.jid == self.open_jid:
                self.query_one("#conversation-title", Static).update(room_title(room))
                panel = self.query_one(ParticipantList)
                if panel.display:
                    panel.show_room(room, self._names(), self._picture(room))
        elif isinstance(event, events.HistoryLoaded):
            if event.jid == self.open_jid:
                self.query_one(MessageLog).show(self.session.conversation(event.jid), self._names())
                if self.session.state == "online":
                    self.session.mark_read(event.jid)
        elif isinstance(event, events.InvitationReceived):
            invitation = event.invitation
            self._rooms_changed()
            inviter = self._names().get(invitation.inviter, invitation.inviter or "Someone")
            self.notify(f"{inviter} invites you to {invitation.room.split('@')[0]}"
                        + (f" — “{invitation.reason}”" if invitation.reason else "")
                        + ". It is in your rooms list: Enter there joins or declines.",
                        title="Room invitation", timeout=20)
            self.app.bell()
        elif isinstance(event, events.RoomNotice):
            room = rooms.by_jid.get(event.jid)
            self.notify(event.text, title=room.display_name if room else "Rooms",
                        severity="warning" if event.severity == "warning" else "information",
                        timeout=15)
