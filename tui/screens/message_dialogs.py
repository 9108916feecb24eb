"""Dialogs for a chosen message: the reaction picker. It returns a plain value; the main screen
hands it to the session."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tui.session.reactions import QUICK

from .room_dialogs import DIALOG_CSS


class ReactionPicker(ModalScreen[str | None]):
    """Pick an emoji for the chosen message: a digit, or the arrows and Enter; one I gave already
    is marked and choosing it again takes it back. Esc: none."""

    DEFAULT_CSS = DIALOG_CSS.format(name="ReactionPicker") + """
    ReactionPicker > Vertical { width: 40; }
    ReactionPicker OptionList { height: auto; max-height: 10; }
    """

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel"),
                *(Binding(str(n), f"pick({n - 1})", show=False) for n in range(1, len(QUICK) + 1))]

    def __init__(self, mine: tuple[str, ...]) -> None:
        """``mine``: the emojis I gave the message already."""
        super().__init__()
        self.mine = mine

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("React with", style="bold"))
            yield OptionList(*(Option(Text.assemble(
                (f"{n}  ", "dim"), emoji, ("  ✓ yours: again takes it back", "green")
                if emoji in self.mine else ""), id=emoji) for n, emoji in enumerate(QUICK, 1)))
            yield Static("1–8 or Enter: react · Esc: cancel", classes="hint")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_pick(self, index: int) -> None:
        """A digit: that emoji."""
        self.dismiss(QUICK[index])

    def action_dismiss_none(self) -> None:
        """Esc: no reaction."""
        self.dismiss(None)
