"""A virtualised view of one conversation: only the lines on screen are drawn.

The log keeps no widget per message. It renders each message into strips when they are first
needed (cached per message and width), and maps screen lines to messages through a table of
line offsets, so a long history scrolls as fast as a short one.
"""

from __future__ import annotations

import bisect
import datetime as dt

from rich.console import Group
from rich.padding import Padding
from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.session.model import ChatMessage, Conversation, Delivery, Direction


def _clock(when: dt.datetime | None) -> str:
    return when.astimezone().strftime("%H:%M:%S") if when else ""


def delivery_label(message: ChatMessage) -> Text:
    """The ticks of an outgoing message, each step with its time."""
    if message.direction is Direction.INCOMING:
        return Text()
    if message.delivery is Delivery.FAILED:
        return Text(f"✗ not sent: {message.error}", style="bold red")
    if message.delivery is Delivery.PENDING:
        return Text("… sending", style="dim")
    parts = [Text(f"✓ sent {_clock(message.sent_at)}", style="dim")]
    if message.delivered_at:
        parts.append(Text(f"✓✓ delivered {_clock(message.delivered_at)}", style="green"))
    if message.read_at:
        parts.append(Text(f"read {_clock(message.read_at)}", style="bold dodger_blue2"))
    return Text(" · ").join(parts)


class MessageLog(ScrollView, can_focus=True):
    """The history of one :class:`~tui.session.model.Conversation`, newest at the bottom."""

    DEFAULT_CSS = """
    MessageLog {
        background: $surface;
        scrollbar-gutter: stable;
        overflow-x: hidden;
    }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.conversation: Conversation | None = None
        self.names: dict[str, str] = {}
        self._starts: list[int] = []  # first virtual line of each message
        self._total = 0
        self._width = 0
        self._cache: LRUCache[tuple[int, int], list[Strip]] = LRUCache(1024)

    # --- what is shown -------------------------------------------------------------------------

    def show(self, conversation: Conversation | None, names: dict[str, str] | None = None) -> None:
        """Display ``conversation`` (None for nothing), scrolled to its newest message."""
        self.conversation = conversation
        self.names = names or {}
        self._cache.clear()
        self._relayout(0)
        self.scroll_end(animate=False, immediate=True)

    def message_added(self, index: int) -> None:
        """A message was appended; follow it when the view was at the bottom."""
        at_bottom = self.is_vertical_scroll_end or self.max_scroll_y == 0
        self._relayout(index)
        if at_bottom:
            self.scroll_end(animate=False, immediate=True)

    def message_changed(self, message: ChatMessage) -> None:
        """A message's ticks or text changed: redraw it (and what follows, if it grew)."""
        if self.conversation is None:
            return
        index = self.conversation.index_of(message)
        self._cache.discard((index, self._width))
        self._relayout(index)

    def lines_of(self, message: ChatMessage) -> list[str]:
        """The plain text of ``message`` as the log shows it (for tests and copy)."""
        assert self.conversation is not None
        index = self.conversation.index_of(message)
        return [strip.text.rstrip() for strip in self._strips(index)]

    # --- layout ---------------------------------------------------------------------------------

    def _relayout(self, first: int) -> None:
        messages = self.conversation.messages if self.conversation else []
        width = max(1, self.scrollable_content_region.width or self.size.width or 80)
        if width != self._width:
            self._width, first = width, 0
            self._cache.clear()
        del self._starts[first:]
        line = self._starts[-1] + len(self._strips(first - 1)) if first > 0 else 0
        for index in range(first, len(messages)):
            self._starts.append(line)
            line += len(self._strips(index))
        self._total = line
        self.virtual_size = Size(width, line)
        self.refresh()

    def on_resize(self) -> None:
        self._relayout(0)

    def _strips(self, index: int) -> list[Strip]:
        key = (index, self._width)
        strips = self._cache.get(key)
        if strips is None:
            assert self.conversation is not None
            strips = self._cache[key] = self._render_message(self.conversation.messages[index])
        return strips

    def _render_message(self, message: ChatMessage) -> list[Strip]:
        outgoing = message.direction is Direction.OUTGOING
        sender = "me" if outgoing else self.names.get(message.sender, message.sender.split("@")[0])
        who = Text.assemble((message.time.astimezone().strftime("%H:%M"), "dim"), " ",
                            (sender, "bold cyan" if outgoing else "bold magenta"))
        ticks = delivery_label(message)
        gap = self._width - who.cell_len - ticks.cell_len
        if gap >= 1:  # ticks right-aligned on the header line
            header: list[Text] = [Text.assemble(who, " " * gap, ticks)]
        else:  # too narrow: ticks on a line of their own, never broken mid-time
            ticks.justify, ticks.no_wrap, ticks.overflow = "right", True, "ellipsis"
            header = [who, ticks]
        body = Padding(Text(message.body), (0, 0, 0, 2))
        console = self.app.console
        options = console.options.update_width(self._width)
        lines = console.render_lines(Group(*header, body, Text("")), options, pad=False)
        return [Strip(line) for line in lines]

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        line = scroll_y + y
        width = self.scrollable_content_region.width
        style = self.rich_style
        if self.conversation is None or line >= self._total or not self._starts:
            return Strip.blank(width, style)
        index = bisect.bisect_right(self._starts, line) - 1
        strips = self._strips(index)
        offset = line - self._starts[index]
        strip = strips[offset] if offset < len(strips) else Strip.blank(width, style)
        return strip.crop_extend(scroll_x, scroll_x + width, style).apply_style(Style())
