"""Screen sharing dialogs (AV3): choose which screen to show, and answer the other side's share
or request. Each is a short list: arrows and Enter choose, Esc cancels (or declines)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

DECLINE = "decline"
VIEW = "view"


class ScreenChoice(ModalScreen[str | None]):
    """A question and its choices (id, label); dismissed with the chosen id, or None on Esc."""

    DEFAULT_CSS = """
    ScreenChoice { align: center middle; }
    ScreenChoice #screen-choice { width: 70; max-width: 100%; height: auto; max-height: 100%;
                                  border: tall $accent; background: $surface; padding: 0 1; }
    ScreenChoice OptionList { height: auto; max-height: 10; }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, choices: list[tuple[str, str]], *, note: str = "",
                 escape: str = "Esc cancels") -> None:
        super().__init__()
        self.question, self.choices, self.note, self.escape = question, choices, note, escape

    def compose(self) -> ComposeResult:
        with Vertical(id="screen-choice"):
            yield Static(Text(self.question, style="bold"), id="screen-question")
            if self.note:
                yield Static(Text(self.note, style="dim italic"), id="screen-note")
            yield OptionList(*(Option(label, id=key) for key, label in self.choices),
                             id="screen-choices")
            yield Static(Text(f"arrows and Enter choose · {self.escape}", style="dim"))

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
