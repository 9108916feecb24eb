"""Set my presence and absence note (PR1, PR2), as any client sees them."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tui.session.model import Show
from tui.widgets.roster import presence_dot

CHOICES = (Show.AVAILABLE, Show.AWAY, Show.DND, Show.XA, Show.OFFLINE)


class PresenceDialog(ModalScreen[tuple[Show, str] | None]):
    """Pick a state (arrows, Enter), then type an optional note and press Enter to set both;
    Esc cancels."""

    DEFAULT_CSS = """
    PresenceDialog { align: center middle; }
    PresenceDialog #presence-dialog { width: 66; height: 16; border: tall $accent; background: $surface; }
    PresenceDialog OptionList { height: 7; }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, show: Show, note: str) -> None:
        super().__init__()
        self.show_state = show
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(id="presence-dialog"):
            yield Static("My presence — arrows and Enter to choose, then the note and Enter")
            yield OptionList(*(Option(Text.assemble(presence_dot(s), " ", s.label), id=s.value)
                               for s in CHOICES),
                             id="presence-choices")
            yield Input(value=self.note, placeholder="Absence note, e.g. Sales meeting until 10:30",
                        id="presence-note")

    def on_mount(self) -> None:
        choices = self.query_one(OptionList)
        choices.highlighted = CHOICES.index(self.show_state) if self.show_state in CHOICES else 0
        choices.focus()

    def on_option_list_option_selected(self, _event: OptionList.OptionSelected) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        choices = self.query_one(OptionList)
        index = choices.highlighted or 0
        self.dismiss((CHOICES[index], event.value.strip()))

    def action_cancel(self) -> None:
        self.dismiss(None)
