"""The participants panel of the open room: its picture (or initials), who is present (nick, role,
presence), who is a member but away. Option ids are the participants' bare JIDs where the room
shows them."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.binding import Binding
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tui.session.attachment import Preview
from tui.session.model import Room, Show
from tui.widgets.avatar import avatar_lines
from tui.widgets.roster import presence_dot

ROLE_ORDER = {"moderator": 0, "participant": 1, "visitor": 2}


class ParticipantList(OptionList):
    """Occupants by role, then members who are not in the room. Its keys act on the open room."""

    DEFAULT_CSS = """
    ParticipantList, ParticipantList:focus {
        width: 30;
        height: 1fr;
        border: none;
        border-right: vkey $panel-lighten-2;
        background: $surface;
    }
    """

    BINDINGS = [
        Binding("a", "screen.invite", "Add"),
        Binding("x,delete", "screen.remove_participant", "Remove"),
        Binding("r", "screen.rename_room", "Rename"),
        Binding("l", "screen.leave_room", "Leave"),
        Binding("p", "screen.room_picture", "Picture", show=False),
        Binding("escape", "screen.focus_roster", "Back"),  # the panel's keys replace the screen's
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.room_jid: str | None = None

    @property
    def highlighted_jid(self) -> str | None:
        """The bare JID of the highlighted participant, if the room shows it."""
        option = self.highlighted_option
        return option.id if option is not None else None

    def show_room(self, room: Room, names: Mapping[str, str], picture: Preview | None = None) -> None:
        """List ``room``'s participants under its ``picture`` (its initials without one);
        ``names`` are roster names by bare JID."""
        keep = self.highlighted_jid if self.room_jid == room.jid else None
        self.room_jid = room.jid
        width = max(8, (self.size.width or 30) - 3)
        title = Text(room.display_name, style="bold")
        title.truncate(width, overflow="ellipsis")
        head = Text("\n").join([*avatar_lines(room.display_name, picture), title])
        options: list[Option] = [Option(head, disabled=True)]
        present = sorted(room.occupants.values(),
                         key=lambda o: (ROLE_ORDER.get(o.role, 3), o.nick.casefold()))
        options.append(Option(Text(f"Present ({len(present)})", style="underline"), disabled=True))
        seen: set[str] = set()
        for occupant in present:
            line = Text.assemble(presence_dot(occupant.show), " ", (occupant.nick, "bold"))
            if occupant.nick == room.nick:
                line.append(" (me)", style="dim")
            tag = occupant.affiliation if occupant.affiliation in ("owner", "admin") else ""
            if occupant.role == "visitor":
                tag = "visitor"
            if tag:
                line.append(f" {tag}", style="italic")
            if occupant.status:
                line.append(f" — {occupant.status}", style="dim")
            line.truncate(width, overflow="ellipsis")
            unique = occupant.jid and occupant.jid not in seen
            options.append(Option(line, id=occupant.jid if unique else None))
            if occupant.jid:
                seen.add(occupant.jid)
        away = sorted((jid for jid in room.members if jid not in seen),
                      key=lambda j: names.get(j, j).casefold())
        if away:
            options.append(Option(Text(f"Not here ({len(away)})", style="underline"), disabled=True))
        for jid in away:
            line = Text.assemble(presence_dot(Show.OFFLINE), " ", names.get(jid, jid.split("@")[0]),
                                 (f" {room.members[jid]}", "italic dim"))
            line.truncate(width, overflow="ellipsis")
            options.append(Option(line, id=jid))
        self.set_options(options)
        selectable = [i for i, o in enumerate(options) if not o.disabled]
        if keep is not None and any(o.id == keep for o in options):
            self.highlighted = self.get_option_index(keep)
        elif selectable:
            self.highlighted = selectable[0]
