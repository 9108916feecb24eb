"""Choosing one message of the conversation with the keyboard, to act on it.

Focusing the message view (Shift+Tab from the composer) selects the newest message; ↑/↓ (or k/j)
move the selection, Home/End jump to the oldest/newest loaded, and the keys of Discord and Slack act
on it: **r** reply, **+** react, **e** edit (your last message), **Del** retract (yours), **Esc** back
to the composer. The view only says what was chosen (:class:`SelectableLog.Chosen`); the screen does
it. Reaching the oldest message asks for older history (:class:`SelectableLog.ReachedTop`).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.style import Style
from textual.binding import Binding
from textual.geometry import Region
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.session.model import ChatMessage, Conversation

MESSAGE_ACTIONS = {"reply": "Reply", "react": "React", "edit": "Edit", "retract": "Retract"}
"""What can be done to a selected message, with the name the footer shows."""


class SelectableLog(ScrollView):
    """The part of the message view that keeps a selected message and its keys."""

    COMPONENT_CLASSES = {"message-log--selected"}
    DEFAULT_CSS = """
    SelectableLog > .message-log--selected {
        background: $accent 25%;
    }
    """

    BINDINGS = [
        Binding("up,k", "move(-1)", "Older", show=False),
        Binding("down,j", "move(1)", "Newer", show=False),
        Binding("home", "jump(0)", "Oldest", show=False),
        Binding("end", "jump(-1)", "Newest", show=False),
        Binding("r", "choose('reply')", "Reply"),
        Binding("plus,equals_sign", "choose('react')", "React", key_display="+"),
        Binding("e", "choose('edit')", "Edit"),
        Binding("delete", "choose('retract')", "Retract"),
        Binding("escape", "leave", "Back"),
    ]

    @dataclass
    class Chosen(Message):
        """The user wants ``action`` (a key of :data:`MESSAGE_ACTIONS`) done to ``message``."""

        message: ChatMessage
        action: str

    class ReachedTop(Message):
        """The oldest message here is on screen: time for older history, if there is any."""

    class Left(Message):
        """The user is done choosing (Esc): back to the composer."""

    conversation: Conversation | None
    _first: int
    _starts: list[int]
    _heights: list[int]

    selected: ChatMessage | None = None
    """The chosen message while the view has focus."""
    me: str = ""
    """My bare JID: my reactions read *me*."""

    def _page_in_older(self) -> None:
        """Lay out older messages of the conversation above the window (the message view does)."""
        raise NotImplementedError

    def _index(self, message: ChatMessage | None) -> int | None:
        if message is None or self.conversation is None:
            return None
        try:
            return self.conversation.index_of(message)
        except ValueError:
            return None

    def select(self, message: ChatMessage | None) -> None:
        """Select ``message`` (None: nothing) and scroll it into view."""
        self.selected = message
        index = self._index(message)
        while index is not None and index < self._first:
            self._page_in_older()
        if index is not None:
            relative = index - self._first
            if relative < len(self._heights):
                self.scroll_to_region(Region(0, self._starts[relative], 1, self._heights[relative]),
                                      animate=False, immediate=True)
        self.refresh()

    def on_focus(self) -> None:
        """Entering the view selects the newest message."""
        if self._index(self.selected) is None and self.conversation and self.conversation.messages:
            self.select(self.conversation.messages[-1])

    def action_move(self, step: int) -> None:
        """Select the older (-1) or newer (+1) neighbour."""
        if self.conversation is None or not self.conversation.messages:
            return
        index = self._index(self.selected)
        target = len(self.conversation.messages) - 1 if index is None else index + step
        if target < 0:
            self.post_message(self.ReachedTop())
            return
        if target < len(self.conversation.messages):
            self.select(self.conversation.messages[target])

    def action_jump(self, where: int) -> None:
        """Select the oldest loaded (0) or the newest (-1) message."""
        if self.conversation and self.conversation.messages:
            self.select(self.conversation.messages[where])
            if where == 0:
                self.post_message(self.ReachedTop())

    def action_choose(self, action: str) -> None:
        """Ask the screen to do ``action`` to the selected message."""
        if self.selected is not None and self._index(self.selected) is not None:
            self.post_message(self.Chosen(self.selected, action))

    def action_leave(self) -> None:
        """Stop choosing."""
        self.selected = None
        self.refresh()
        self.post_message(self.Left())

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if new <= 0 < old and self._first == 0 and self.conversation and self.conversation.messages:
            self.post_message(self.ReachedTop())

    def mark_selected(self, strip: Strip, message: ChatMessage) -> Strip:
        """``strip`` of ``message``, highlighted when it is the selected one."""
        if message is not self.selected:
            return strip
        background = self.get_component_rich_style("message-log--selected")
        return strip.apply_style(Style(bgcolor=background.bgcolor))
