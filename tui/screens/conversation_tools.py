"""The main screen's tools for conversations and contacts: search messages (Ctrl+F, CH8), the search
field above the list (/, filters as you type, Enter asks the server's directory), pin (p) and mute
(m) conversations (CH10), export (x), forward (f) and copy (c) a message (CH9), and contact groups
(o moves the highlighted contact; new and renamed groups in the palette, CO1). Every one of them
is also in the command palette (Ctrl+P).

The screen only asks the session and shows its answers; errors come back as texts that say what to
do next.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from textual.binding import Binding
from textual.widgets import Input

from tui.session import ChatSession, events
from tui.session.model import ChatMessage
from tui.session.pins import PinError, PinsChanged
from tui.widgets.chat import MessageLog
from tui.widgets.roster import RosterList
from tui.widgets.roster.roster_filter import RosterFilter

from .background import run_reported
from .commands import Command

if TYPE_CHECKING:
    from textual.screen import Screen

    from tui.session.directory import DirectoryEntry
    from tui.session.message_index import Hit as SearchHit

    _Base = Screen[None]
else:
    _Base = object

T = TypeVar("T")

TOOL_BINDINGS = [
    Binding("ctrl+f", "search_messages", "Search", priority=True),
    Binding("slash", "filter", "Filter", show=False),
    Binding("p", "pin", "Pin", show=False),
    Binding("m", "mute", "Mute", show=False),
    Binding("x", "export", "Export", show=False),
    Binding("f", "forward", "Forward", show=False),
    Binding("c", "copy_message", "Copy", show=False),
    Binding("o", "move_to_group", "Move to group", show=False),
]
"""Keys of the main screen for these tools; Ctrl+F works while typing too (hence priority)."""

MESSAGE_ACTIONS = ("export", "forward", "copy_message")
"""Actions that need an open conversation."""

class ConversationTools(_Base):
    """Search, pins, export, forwarding, copying and contact groups for the main screen (mixed in)."""

    session: ChatSession
    open_jid: str | None

    if TYPE_CHECKING:  # provided by the main screen and its room actions

        def open_conversation(self, jid: str) -> None: ...

        def select_room(self, jid: str) -> bool: ...

    # --- state ------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Message actions only with an open conversation (hidden from the footer otherwise)."""
        if action in MESSAGE_ACTIONS:
            return self.open_jid is not None
        return super().check_action(action, parameters)

    def _tool_target(self) -> str | None:
        """What p and m act on: the highlighted entry while the list has the focus, else the open
        conversation."""
        roster = self.query_one(RosterList)
        option = roster.highlighted_option
        if roster.has_focus and option is not None and option.id:
            return option.id
        return self.open_jid or (option.id if option is not None else None)

    def _tool_name(self, jid: str) -> str:
        room = self.session.rooms.by_jid.get(jid)
        contact = self.session.contacts.get(jid)
        return room.display_name if room else contact.display_name if contact else jid

    def selected_message(self) -> ChatMessage | None:
        """The message export, forward and copy act on: the one selected in the conversation
        view, or its newest when none is selected."""
        if self.open_jid is None:
            return None
        chosen = self.query_one(MessageLog).selected
        if chosen is not None:
            return chosen
        messages = self.session.conversation(self.open_jid).messages
        return messages[-1] if messages else None

    def tool_commands(self) -> list[Command]:
        """The tools that apply now, for the command palette: (title, help, callback)."""
        commands: list[Command] = [
            ("Search messages", "Find words in every conversation and jump there (Ctrl+F)",
             self.action_search_messages),
            ("Search contacts and directory", "Filter the list as you type; Enter asks the server's "
             "directory (/)", self.action_filter),
            ("New contact group", "Name a group and choose who is in it", self.action_new_group),
            ("Rename contact group", "Give a group a new name for every contact in it",
             self.action_rename_group),
            ("Move contact to group", "Move the highlighted contact into another or a new group (o)",
             self.action_move_to_group)]
        target = self._tool_target()
        if target is not None:
            pins = self.session.pins
            name = self._tool_name(target)
            commands += [
                (f"{'Unpin' if pins.is_pinned(target) else 'Pin'} {name}",
                 "Pinned conversations come first, on every device (p)", self.action_pin),
                (f"{'Unmute' if pins.is_muted(target) else 'Mute'} {name}",
                 "Muted chats stay quiet, muted rooms tell only mentions; on every device (m)",
                 self.action_mute)]
        if self.open_jid is not None:
            commands += [
                ("Export conversation", "Write the open conversation as CSV and Markdown (x)",
                 self.action_export),
                ("Forward message", "Send the selected (or newest) message on to contacts (f)",
                 self.action_forward),
                ("Copy message", "Copy the selected (or newest) message to the clipboard (c)",
                 self.action_copy_message)]
        return commands

    def _tool_run(self, work: Coroutine[Any, Any, T], title: str,
                  then: Callable[[T], object] | None = None) -> None:
        """Run a session call in the background; its error is shown as a notification."""
        from tui.session.export import ExportError
        from tui.session.roster_edit import RosterError

        run_reported(self, work, title, (PinError, RosterError, ExportError), then,
                     group="conversation-tools")

    def _tool_online(self) -> bool:
        if self.session.state == "online":
            return True
        self.notify("Not connected: this needs the server. Try again once the top line says online.",
                    severity="warning")
        return False

    # --- search -----------------------------------------------------------------------------------

    def action_search_messages(self) -> None:
        """Open the message search; choosing a hit opens its conversation there."""
        from .search import SearchScreen

        self.app.push_screen(SearchScreen(self.session), self.show_hit)

    def show_hit(self, hit: SearchHit | None) -> None:
        """Open the conversation of ``hit`` and show its message."""
        if hit is None:
            return
        jid = hit.message.conversation
        if not self.select_room(jid):
            self.open_conversation(jid)
        found = hit.message

        def show(message: ChatMessage | None) -> None:
            if message is None:
                self.notify(f"That message is from {found.time.astimezone():%d %b %Y %H:%M} and could "
                            "not be brought into the conversation here (older than the history "
                            "loaded, or not connected); its text is in the search.", title="Search")
                return
            log_view = self.query_one(MessageLog)
            if self.open_jid == jid:
                log_view.select(message)
                log_view.focus()  # the view shows its selection while it has the focus

        self._tool_run(self.session.search.bring_in(jid, found.message_id, found.time), "Search", show)

    def action_filter(self) -> None:
        """Into the search field above the list."""
        self.query_one(RosterFilter).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if isinstance(event.input, RosterFilter):
            self.query_one(RosterList).set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if not isinstance(event.input, RosterFilter) or not event.value.strip():
            return
        event.stop()
        if not self._tool_online():
            return
        from .contact_dialogs import DirectoryResults

        def chosen(entry: DirectoryEntry | None) -> None:
            if entry is not None:
                self.add_contact(entry)

        self.app.push_screen(DirectoryResults(self.session, event.value.strip()), chosen)

    def add_contact(self, entry: DirectoryEntry) -> None:
        """Add someone found in the directory to my contacts."""
        from tui.session import roster_edit

        if entry.jid in self.session.contacts:
            self.notify(f"{entry.display_name} is already a contact.")
            return
        self._tool_run(roster_edit.add_contact(self.session, entry.jid, entry.name or entry.nick),
                  "Add contact", lambda _r: self.notify(
                      f"{entry.display_name} is now a contact; they are asked to share their presence.",
                      title="Add contact"))

    # --- pins ---------------------------------------------------------------------------------------

    def action_pin(self) -> None:
        """Pin or unpin the highlighted (or open) conversation."""
        target = self._tool_target()
        if target is None or not self._tool_online():
            return
        self._tool_run(self.session.pins.set_pinned(target, not self.session.pins.is_pinned(target)), "Pin")

    def action_mute(self) -> None:
        """Mute or unmute the highlighted (or open) conversation."""
        target = self._tool_target()
        if target is None or not self._tool_online():
            return
        self._tool_run(self.session.pins.set_muted(target, not self.session.pins.is_muted(target)), "Mute")

    def show_marks(self) -> None:
        """Pinned first, muted dimmed, as the session knows them now."""
        pins = self.session.pins
        self.query_one(RosterList).set_marks(pins.pinned, pins.muted)

    def on_tool_event(self, event: events.SessionEvent) -> bool:
        """Handle the session events of these tools; False for any other event."""
        if isinstance(event, PinsChanged):
            self.show_marks()
            return True
        return False

    # --- export, forward, copy ---------------------------------------------------------------------

    def action_export(self) -> None:
        """Export the open conversation to CSV and Markdown and say where the files are."""
        from tui.session.export import ExportedFiles, export_conversation

        if self.open_jid is None:
            return

        def done(files: ExportedFiles) -> None:
            self.notify(f"{files.count} messages written to\n{files.csv}\n{files.markdown}",
                        title="Exported", timeout=30)

        self._tool_run(export_conversation(self.session, self.open_jid), "Export", done)

    def action_forward(self) -> None:
        """Forward the selected (or newest) message to contacts chosen in a picker."""
        from tui.session.export import ExportError, forward

        from .contact_dialogs import ForwardDialog

        source, message = self.open_jid, self.selected_message()
        if source is None or message is None or message.retracted:
            self.notify("There is no message here to forward" + (" (that one was retracted)."
                        if message is not None and message.retracted else "."), severity="warning")
            return
        if not self._tool_online():
            return

        def send(choice: tuple[str, list[str]] | None) -> None:
            if choice is None or source is None or message is None:
                return
            try:
                sent = forward(self.session, source, message, choice[1])
            except ExportError as exc:
                self.notify(str(exc), title="Forward", severity="error", timeout=15)
                return
            names = ", ".join(self._tool_name(jid) for jid in choice[1])
            self.notify(f"Forwarded to {names}." if sent else "Forwarded to nobody.", title="Forward")

        preview = message.body if len(message.body) <= 60 else message.body[:59] + "…"
        self.app.push_screen(ForwardDialog(f"Forward “{preview}” to…", self.session.contacts.values(),
                                           ask_name=False, exclude={source}), send)

    def action_copy_message(self) -> None:
        """Copy the selected (or newest) message's text to the clipboard (OSC 52)."""
        message = self.selected_message()
        if message is None or message.retracted:
            self.notify("There is no message here to copy" + (" (that one was retracted)."
                        if message is not None and message.retracted else "."), severity="warning")
            return
        self.app.copy_to_clipboard(message.body)
        excerpt = message.body if len(message.body) <= 50 else message.body[:49] + "…"
        self.notify(f"Copied “{excerpt}” (through the terminal, OSC 52: it must allow clipboard "
                    "access)", title="Copy")

    # --- contact groups ------------------------------------------------------------------------------

    def _tool_groups(self) -> dict[str, int]:
        from tui.session.roster_edit import groups_of

        return groups_of(self.session.contacts.values())

    def action_move_to_group(self) -> None:
        """Move the highlighted contact into another group, or a new one typed in."""
        from tui.session import roster_edit

        from .contact_dialogs import GroupChooser

        option = self.query_one(RosterList).highlighted_option
        contact = self.session.contacts.get(option.id) if option is not None and option.id else None
        if contact is None:
            self.notify("Highlight a contact in the list first, then press o.", severity="warning")
            return
        if not self._tool_online():
            return
        current = roster_edit.listed_group(contact)
        groups = {g: n for g, n in self._tool_groups().items() if g != current}

        def move(group: str | None) -> None:
            if group:
                self._tool_run(roster_edit.move(self.session, contact.jid, group), "Move contact")

        self.app.push_screen(GroupChooser(f"Move {contact.display_name} from {current or 'no group'} to…",
                                          groups, allow_new=True), move)

    def action_new_group(self) -> None:
        """A new group: its name, then who is in it."""
        from tui.session import roster_edit

        from .room_dialogs import NamePrompt, PeopleDialog

        if not self._tool_online():
            return

        def members(name: str | None) -> None:
            if not name:
                return

            def create(choice: tuple[str, list[str]] | None) -> None:
                if choice is not None:
                    self._tool_run(roster_edit.create(self.session, name, choice[1]), "New group")

            self.app.push_screen(PeopleDialog(f"Who is in {name}?", self.session.contacts.values(),
                                              ask_name=False), create)

        self.app.push_screen(NamePrompt("Name of the new contact group"), members)

    def action_rename_group(self) -> None:
        """Rename a group for every contact in it."""
        from tui.session import roster_edit

        from .contact_dialogs import GroupChooser
        from .room_dialogs import NamePrompt

        groups = self._tool_groups()
        if not groups:
            self.notify("You have no contact groups yet; New contact group makes one.", severity="warning")
            return
        if not self._tool_online():
            return

        def rename(old: str | None) -> None:
            if not old:
                return

            def to(new: str | None) -> None:
                if new and new != old:
                    self._tool_run(roster_edit.rename(self.session, old, new), "Rename group")

            self.app.push_screen(NamePrompt(f"New name for {old}", old), to)

        self.app.push_screen(GroupChooser("Rename which group?", groups, allow_new=False), rename)

