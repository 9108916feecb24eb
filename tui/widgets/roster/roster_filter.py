"""The search field above the conversations list: typing filters the list, Enter asks the server's
directory, Down goes into the list."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import Input


class RosterFilter(Input):
    """One line; the main screen filters the list as it changes and searches the directory on Enter."""

    DEFAULT_CSS = """
    RosterFilter, RosterFilter:focus {
        width: 30;  /* the list's width */
        height: 1;
        border: none;
        padding: 0 1;
        background: $boost;
    }
    RosterFilter:focus { background: $accent 30%; }
    """

    BINDINGS = [Binding("down", "screen.focus_roster", "Contacts", show=False),
                Binding("escape", "clear_or_leave", "Clear", show=False)]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(placeholder="/ Search contacts, rooms", id=id)

    async def action_clear_or_leave(self) -> None:
        """Esc: clear the field; on an empty field, back to the list."""
        if self.value:
            self.value = ""
        else:
            await self.screen.run_action("focus_roster")
