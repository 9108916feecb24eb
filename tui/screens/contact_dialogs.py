"""Dialogs for contacts and messages: choose or name a contact group, people found in the server's
directory, whom to forward a message to. They return plain values; the main screen hands them to
the session."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tui.session import ChatSession
from tui.session.directory import DirectoryEntry, DirectoryError, find_people

from .room_dialogs import DIALOG_CSS, PeopleDialog


class GroupChooser(ModalScreen[str | None]):
    """Choose a contact group (arrows, Enter) or, when ``allow_new``, type the name of a new one."""

    DEFAULT_CSS = DIALOG_CSS.format(name="GroupChooser") + """
    GroupChooser OptionList { height: auto; max-height: 12; }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, groups: Mapping[str, int], *, allow_new: bool) -> None:
        super().__init__()
        self.title_text = title
        self.groups = dict(groups)
        self.allow_new = allow_new

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.title_text, style="bold"))
            if self.allow_new:
                yield Input(placeholder="New group name, or choose one below", id="group-name")
            if self.groups:
                yield OptionList(*(Option(Text.assemble((group, "bold"), f"  {count} contacts"), id=group)
                                   for group, count in sorted(self.groups.items(),
                                                              key=lambda g: g[0].casefold())))
            hint = "Enter: choose · Tab: next field · Esc: cancel" if self.allow_new else \
                "Enter: choose · Esc: cancel"
            yield Static(hint, classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.dismiss(event.value.strip())

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ForwardDialog(PeopleDialog):
    """Whom to forward a message to: pick contacts with Space, Ctrl+S sends."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"),
                Binding("ctrl+s", "confirm", "Forward", priority=True)]


class DirectoryResults(ModalScreen[DirectoryEntry | None]):
    """People in the server's directory matching what was typed; Enter adds the highlighted one
    as a contact, Esc closes."""

    DEFAULT_CSS = DIALOG_CSS.format(name="DirectoryResults") + """
    DirectoryResults OptionList { height: auto; max-height: 14; }
    """

    BINDINGS = [Binding("escape", "cancel", "Close")]

    def __init__(self, session: ChatSession, text: str) -> None:
        super().__init__()
        self.session = session
        self.text = text
        self.entries: list[DirectoryEntry] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text.assemble(("Directory: ", "bold"), (self.text, "bold cyan")))
            yield Static(Text("Searching…", style="italic"), id="directory-status")
            yield OptionList(id="directory-people")
            yield Static("Enter: add as contact · Esc: close", classes="hint")

    def on_mount(self) -> None:
        self.query_one(OptionList).display = False
        self.search()

    @work(exclusive=True)
    async def search(self) -> None:
        """Ask the directory and list what it found."""
        status = self.query_one("#directory-status", Static)
        try:
            self.entries = await find_people(self.session, self.text)
        except DirectoryError as exc:
            status.update(Text(str(exc), style="red"))
            return
        known = set(self.session.contacts) | {self.session.jid.bare}
        if not self.entries:
            status.update(Text(f"Nobody in the directory matches “{self.text}”. It lists people who "
                               "published a vCard; try the start of a name or user name.",
                               style="italic"))
            return
        status.update(f"{len(self.entries)} found")
        people = self.query_one(OptionList)
        people.set_options([Option(Text.assemble(
            (entry.display_name, "bold"), "  ", (entry.jid, "dim"),
            ("  already a contact" if entry.jid in known else "", "italic green")), id=entry.jid)
            for entry in self.entries])
        people.display = True
        people.highlighted = 0
        people.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(next(e for e in self.entries if e.jid == event.option.id))

    def action_cancel(self) -> None:
        self.dismiss(None)
