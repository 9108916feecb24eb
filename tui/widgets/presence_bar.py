"""The top line: who I am, my presence and absence note, and the connection state."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.session.model import Show
from tui.widgets.roster import presence_dot

CONNECTION_STYLES = {"online": "green", "connecting": "yellow", "offline": "red"}


class PresenceBar(Static):
    """One line: ``● alice@localhost  available — note        online``."""

    DEFAULT_CSS = """
    PresenceBar {
        dock: top;
        height: 1;
        background: $panel;
        padding: 0 1;
    }
    """

    def __init__(self, jid: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.jid = jid
        self.show_state = Show.AVAILABLE
        self.note = ""
        self.connection = "connecting"
        self.detail = ""
        self._redraw()

    def set_presence(self, show: Show, note: str) -> None:
        """My own presence changed."""
        self.show_state, self.note = show, note
        self._redraw()

    def set_connection(self, state: str, detail: str = "") -> None:
        """The connection state changed (``connecting``, ``online``, ``offline``)."""
        self.connection, self.detail = state, detail
        self._redraw()

    def _redraw(self) -> None:
        shown = self.show_state if self.connection == "online" else Show.OFFLINE
        text = Text.assemble(presence_dot(shown), " ", (self.jid, "bold"), "  ",
                             self.show_state.label)
        if self.note:
            text.append(f" — {self.note}", style="italic")
        text.append("   ")
        text.append(self.connection, style=CONNECTION_STYLES.get(self.connection, ""))
        if self.detail and self.connection != "online":
            text.append(f" ({self.detail})", style="dim")
        self.update(text)
