"""Dialogs for rooms: a new room with its people, a room from a contact group, adding people,
renaming, and yes/no questions (leave, remove, answer an invitation). They return plain values;
the main screen hands them to the session."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, SelectionList, Static
from textual.widgets.option_list import Option

from tui.session.model import Contact

DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 68; height: auto; max-height: 22; border: tall $accent;
                    background: $surface; padding: 0 1; }}
{name} .hint {{ color: $text-muted; }}
"""


def _people(contacts: Iterable[Contact], exclude: set[str]) -> list[tuple[Text, str]]:
    return [(Text.assemble((c.display_name, "bold"), "  ", (c.jid, "dim")), c.jid)
            for c in sorted(contacts, key=lambda c: c.display_name.casefold()) if c.jid not in exclude]


class PeopleDialog(ModalScreen[tuple[str, list[str]] | None]):
    """Pick people (Space) and, for a new room, type its name; Ctrl+S confirms, Esc cancels.

    Returns the name (empty when not asked) and the chosen bare JIDs."""

    DEFAULT_CSS = DIALOG_CSS.format(name="PeopleDialog") + """
    PeopleDialog SelectionList { height: auto; max-height: 12; }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel"),
                Binding("ctrl+s", "confirm", "Create / add", priority=True)]

    def __init__(self, title: str, contacts: Iterable[Contact], *, ask_name: bool,
                 exclude: Iterable[str] = ()) -> None:
        super().__init__()
        self.title_text = title
        self.ask_name = ask_name
        self.choices = _people(contacts, set(exclude))

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.title_text, style="bold"))
            if self.ask_name:
                yield Input(placeholder="Room name, e.g. Sales Team", id="room-name")
            if self.choices:
                yield SelectionList[str](*self.choices, id="room-people")
            else:
                yield Static("No contacts to choose from.", classes="hint")
            yield Static("Tab: next field · Space: pick · Ctrl+S: done · Esc: cancel", classes="hint")

    def on_mount(self) -> None:
        first = self.query("#room-name, #room-people").first()
        first.focus()

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        if self.choices:
            self.query_one(SelectionList).focus()
        else:
            self.action_confirm()

    def action_confirm(self) -> None:
        name = self.query_one(Input).value.strip() if self.ask_name else ""
        if self.ask_name and not name:
            self.notify("Give the room a name first.", severity="warning")
            self.query_one(Input).focus()
            return
        people = list(self.query_one(SelectionList).selected) if self.choices else []
        if not self.ask_name and not people:
            self.notify("Pick someone with Space first, or Esc to cancel.", severity="warning")
            return
        self.dismiss((name, people))

    def action_cancel(self) -> None:
        self.dismiss(None)


class GroupPicker(ModalScreen[str | None]):
    """Choose a contact group (arrows, Enter): a room of that name with all its contacts."""

    DEFAULT_CSS = DIALOG_CSS.format(name="GroupPicker") + """
    GroupPicker OptionList { height: auto; max-height: 14; }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, groups: dict[str, int]) -> None:
        super().__init__()
        self.groups = groups

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Room from a contact group — Enter creates it and invites everyone",
                              style="bold"))
            yield OptionList(*(Option(Text.assemble((group, "bold"), f"  {count} contacts"), id=group)
                               for group, count in sorted(self.groups.items(),
                                                          key=lambda g: g[0].casefold())))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class NamePrompt(ModalScreen[str | None]):
    """One line of text (a room's new name); Enter confirms, Esc cancels."""

    DEFAULT_CSS = DIALOG_CSS.format(name="NamePrompt")

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, value: str = "") -> None:
        super().__init__()
        self.question = question
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.question, style="bold"))
            yield Input(value=self.value)
            yield Static("Enter: done · Esc: cancel", classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class Question(ModalScreen[str | None]):
    """A yes/no question: Enter answers ``yes``, D answers ``no`` (when there is a no, e.g.
    declining an invitation), Esc answers None (not now)."""

    DEFAULT_CSS = DIALOG_CSS.format(name="Question")

    BINDINGS = [Binding("enter", "answer('yes')", "Yes"), Binding("d", "answer('no')", "No"),
                Binding("escape", "answer('')", "Cancel")]

    def __init__(self, text: Text | str, yes: str, no: str | None = None) -> None:
        """``yes`` and ``no`` say what Enter and D do, e.g. ``"join"`` and ``"decline"``."""
        super().__init__()
        self.text = text
        self.yes = yes
        self.no = no

    def compose(self) -> ComposeResult:
        hint = f"Enter: {self.yes}" + (f" · D: {self.no}" if self.no else "") + " · Esc: cancel"
        with Vertical():
            yield Static(self.text)
            yield Static(hint, classes="hint")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action == "answer" and parameters == ("no",) and self.no is None)

    def action_answer(self, answer: str) -> None:
        self.dismiss(answer or None)
