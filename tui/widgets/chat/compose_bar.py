"""The line above the composer: what is being written (a reply, a correction) and who is typing.

Hidden while there is nothing to say, so the messages keep the line.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class ComposeBar(Static):
    """*Replying to Bob: “…”* or *Correcting your message* on the left, *Bob is typing…* on the right."""

    DEFAULT_CSS = """
    ComposeBar {
        height: 1;
        padding: 0 1;
        display: none;
        background: $boost;
    }
    ComposeBar.-shown {
        display: block;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.context = Text()
        self.typing = ""

    def show_context(self, context: Text | str) -> None:
        """What the composer's text is (empty: a new message)."""
        self.context = Text(context) if isinstance(context, str) else context
        self._redraw()

    def show_typing(self, typing: str) -> None:
        """Who is typing (empty: nobody)."""
        self.typing = typing
        self._redraw()

    def _redraw(self) -> None:
        line = self.context.copy()
        line.no_wrap, line.overflow = True, "ellipsis"
        if self.typing:
            if line:
                line.append("   ")
            line.append(self.typing, style="italic green")
        self.update(line)
        self.set_class(bool(line), "-shown")
