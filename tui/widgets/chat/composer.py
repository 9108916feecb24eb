"""Where the user types: Enter sends, Alt+Enter / Shift+Enter / Ctrl+J insert a line break.

In an empty box ↑ asks to correct my last message (as in Conversations and Gajim); Shift+Tab goes to
the messages to pick one; Tab completes a nickname in a room; Esc drops a reply or correction being
written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

from tui.session.mentions import completions

NEWLINE_KEYS = frozenset({"shift+enter", "alt+enter", "ctrl+j"})


class Composer(TextArea):
    """A multi-line input that submits on Enter."""

    DEFAULT_CSS = """
    Composer {
        height: auto;
        max-height: 8;
        min-height: 3;
    }
    """

    BINDINGS = [Binding("shift+tab", "pick_message", "Pick message", show=False)]  # the placeholder says it

    @dataclass
    class Submitted(Message):
        """The user pressed Enter with some text."""

        composer: Composer
        text: str

    class EditLast(Message):
        """↑ in the empty box: the user wants to correct their last message."""

    class PickMessage(Message):
        """The user wants to choose a message to act on."""

    class Dismissed(Message):
        """Esc while replying or correcting: drop that (the text stays)."""

    def __init__(self, *, id: str | None = None, placeholder: str = "") -> None:
        super().__init__(id=id, soft_wrap=True, show_line_numbers=False, tab_behavior="focus",
                         placeholder=placeholder)
        self.context = ""
        """What the text being written is (a reply, a correction); empty for a new message."""
        self.nicks: Callable[[], Iterable[str]] | None = None
        """The nicknames Tab completes (the open room's occupants); None outside rooms."""
        self._cycle: tuple[int, list[str], int, str] | None = None  # start, options, which, text

    def on_mount(self) -> None:
        self.watch(self.screen, "stack_updates", self._covered_or_back, init=False)

    def _covered_or_back(self) -> None:
        """While a window covers the screen the cursor stays shown, as Textual's Input does: the
        text area only stops its blinking there, so the cursor stayed in whatever half of a blink
        the window found it (shown under one window, gone under the next), and blinks again when
        the screen is back on top."""
        self.cursor_blink = self.screen.is_active

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            text = self.text.strip("\n")
            if text.strip():
                self.post_message(self.Submitted(self, text))
                self.clear()
            return
        if event.key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        if (event.key == "up" and not self.text) or (event.key == "escape" and self.context) \
                or (event.key == "tab" and self._complete()):
            event.stop()
            event.prevent_default()
            if event.key != "tab":
                self.post_message(self.EditLast() if event.key == "up" else self.Dismissed())
            return
        self._cycle = None
        await super()._on_key(event)

    def _complete(self) -> bool:
        """Tab: complete the nickname before the cursor; again: the next one that fits."""
        if self.nicks is None:
            return False
        row, column = self.cursor_location
        line = self.document.get_line(row)
        if self._cycle is not None and self._cycle[3] == self.text:
            start, options, which, _ = self._cycle
            end, which = start + len(options[which]), (which + 1) % len(options)
        else:
            found = completions(line[:column], self.nicks())
            if found is None:
                return False
            (start, options), which, end = found, 0, column
        self.replace(options[which], (row, start), (row, end))
        self._cycle = (start, options, which, self.text)
        return True

    def action_pick_message(self) -> None:
        """Go to the messages to choose one."""
        self.post_message(self.PickMessage())
