"""A virtualised view of one conversation: only the lines on screen are drawn.

The log keeps no widget per message. It lays out a window of the newest messages (heights are
measured arithmetically, without rendering), renders a message into strips only when one of its
lines is on screen (cached per message and width), and pages older messages into the window when
the view reaches its top — so opening a conversation of 100,000 messages costs what opening one
of a thousand does.
"""

from __future__ import annotations

import bisect
import datetime as dt
import time
from itertools import accumulate

from rich._wrap import divide_line
from rich.cells import cell_len
from rich.console import Group
from rich.padding import Padding
from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.geometry import Offset, Region, Size
from textual.strip import Strip
from textual.timer import Timer

from tui.session.model import ChatMessage, Conversation, Delivery, Direction

from . import message_extras as extras
from .file_entry import body_plain, body_text
from .selection import SelectableLog

WINDOW = 1000
"""Newest messages laid out when a conversation opens."""

PAGE = 500
"""Older messages added to the window each time the view reaches its top."""

GROW_EVERY = 0.25
"""Seconds between growths of the view while messages pour in (the first of a run shows at
once). Each growth redraws the whole view with the newest messages, 10-15 ms of the event loop;
four a second keep a flood readable and leave the loop to the keys."""

BODY_INDENT = 2


def _clock(when: dt.datetime | None) -> str:
    return when.astimezone().strftime("%H:%M:%S") if when else ""


def delivery_parts(message: ChatMessage, compact: bool = False) -> list[tuple[str, str]]:
    """The ticks of an outgoing message as (text, style) parts, each step with its time, or what
    I did to a message while offline that waits to go out; ``compact`` drops the words *sent* and
    *delivered* (the ticks say it) for narrow views."""
    waiting = [(f"⏳ {what} queued", "yellow") for what in dict.fromkeys(message.queued)]
    if message.direction is Direction.INCOMING:
        return waiting
    if message.delivery is Delivery.QUEUED and message.retracted:
        return [("⊘ never sent", "dim")]
    if waiting:  # what I did to it offline says more than its ticks
        return waiting
    if message.delivery is Delivery.FAILED:
        return [(f"✗ not sent: {message.error}", "bold red")]
    if message.delivery is Delivery.PENDING:
        return [("… sending", "dim")]
    if message.delivery is Delivery.QUEUED:
        return [("⏳ queued" if compact else "⏳ queued, sent when online", "yellow")]
    if message.in_room:  # the room reflected it; receipts do not exist there, read markers do
        parts = [(f"✓ {'' if compact else 'sent to room '}{_clock(message.sent_at)}", "dim")]
        if message.read_by:
            parts.append((f"read by {_readers(message.read_by, compact)}", "bold dodger_blue2"))
        return parts
    sent, delivered = ("", "") if compact else ("sent ", "delivered ")
    parts = [(f"✓ {sent}{_clock(message.sent_at)}", "dim")]
    if message.delivered_at:
        parts.append((f"✓✓ {delivered}{_clock(message.delivered_at)}", "green"))
    if message.read_at:
        parts.append((f"read {_clock(message.read_at)}", "bold dodger_blue2"))
    return parts


def _readers(nicks: list[str], compact: bool) -> str:
    if compact:
        return str(len(nicks))
    return ", ".join(nicks) if len(nicks) <= 2 else f"{nicks[0]}, {nicks[1]} +{len(nicks) - 2}"


SEPARATOR = " · "


def delivery_label(message: ChatMessage, compact: bool = False) -> Text:
    """The ticks of an outgoing message as styled text."""
    return Text(SEPARATOR).join(Text(text, style=style)
                                for text, style in delivery_parts(message, compact))


class MessageLog(SelectableLog, can_focus=True):
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
        self._first = 0  # index of the oldest message in the laid-out window
        self._heights: list[int] = []  # per window message
        self._starts: list[int] = [0]  # first line of each window message, plus the total
        self._width = 0
        self._cache: LRUCache[tuple[int, int], list[Strip]] = LRUCache(512)
        self._growth: Timer | None = None
        self._grown_at = 0.0
        self._follow = True
        self._paint: tuple[Offset, int, Style] | None = None

    # --- what is shown -------------------------------------------------------------------------

    def show(self, conversation: Conversation | None, names: dict[str, str] | None = None) -> None:
        """Display ``conversation`` (None for nothing), scrolled to its newest message."""
        self.conversation = conversation
        self.names = names or {}
        self._cache.clear()
        count = len(conversation.messages) if conversation else 0
        self._first = max(0, count - WINDOW)
        self._layout()
        self.scroll_end(animate=False)

    def message_added(self, index: int) -> None:
        """A message was appended; follow it when the view was at the bottom."""
        assert self.conversation is not None
        known = self._first + len(self._heights)
        if index < known:
            return  # a re-layout since the message arrived has measured it already
        if self._growth is None:  # the first of a run: follow it if the view was at the bottom
            self._follow = self.is_vertical_scroll_end or self.max_scroll_y == 0
        for message in self.conversation.messages[known:index + 1]:
            self._heights.append(self._measure(message))
            self._starts.append(self._starts[-1] + self._heights[-1])
        # During a burst grow at most every GROW_EVERY seconds, so keys typed meanwhile still
        # show at once.
        wait = self._grown_at + GROW_EVERY - time.monotonic()
        if wait <= 0:
            self._grow()
        elif self._growth is None:
            self._growth = self.set_timer(wait, self._grow)

    def _grow(self) -> None:
        """Show the messages added since the last growth."""
        self._growth = None
        self._grown_at = time.monotonic()
        self._resize_virtual()
        if self._follow:  # at once: the next message asks whether the view is at the bottom
            self.scroll_end(animate=False, immediate=True)

    def message_changed(self, message: ChatMessage) -> None:
        """A message's ticks or text changed: redraw it (and move what follows, if it grew)."""
        if self.conversation is None:
            return
        index = self.conversation.index_of(message)
        if index < self._first:
            return
        self._cache.discard((index, self._width))
        if message.corrected or message.retracted:  # replies quoting it show its new text
            refs = {message.id, message.room_id} - {""}
            for other, reply in enumerate(self.conversation.messages[self._first:], self._first):
                if reply.reply_to in refs:
                    self._cache.discard((other, self._width))
        height = self._measure(message)
        if height != self._heights[index - self._first]:
            self._heights[index - self._first] = height
            self._starts = [0, *accumulate(self._heights)]
            self._resize_virtual()
        self.refresh()

    def messages_prepended(self, count: int) -> None:
        """``count`` older messages were put in front of the conversation (history paged in from
        the server): lay the window out again where it was, then show them above it if the view
        is at its top."""
        if self.conversation is None:
            return
        self._first += count
        self._cache.clear()
        self._layout()
        if self.scroll_y <= 0:
            self._page_in_older()

    def lines_of(self, message: ChatMessage) -> list[str]:
        """The plain text of ``message`` as the log shows it (for tests and copy)."""
        assert self.conversation is not None
        index = self.conversation.index_of(message)
        return [strip.text.rstrip() for strip in self._strips(index)]

    # --- layout ---------------------------------------------------------------------------------

    def _content_width(self) -> int:
        return max(1, self.scrollable_content_region.width or self.size.width or 80)

    def _layout(self) -> None:
        """Measure every message of the window at the current width."""
        self._width = self._content_width()
        messages = self.conversation.messages[self._first:] if self.conversation else []
        self._heights = [self._measure(message) for message in messages]
        self._starts = [0, *accumulate(self._heights)]
        self._resize_virtual()

    def _resize_virtual(self) -> None:
        size = Size(self._width, self._starts[-1])
        if size != self.virtual_size and self.is_mounted and size.width == self.virtual_size.width:
            # Only the scrollable height changed: the view's own size and place stay, so update
            # its scrollbars instead of re-laying out the whole screen (10-20 ms a time), as
            # Textual does itself for sizes it learns without a layout.
            self.set_reactive(MessageLog.virtual_size, size)
            self._scroll_update(size)
        else:
            self.virtual_size = size
        self.refresh()

    def on_resize(self) -> None:
        if self._content_width() != self._width:
            self._cache.clear()
            at_bottom = self.is_vertical_scroll_end
            self._layout()
            if at_bottom:
                self.scroll_end(animate=False)

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if new <= 0 and self._first > 0:
            self._page_in_older()

    def _page_in_older(self) -> None:
        """Add up to :data:`PAGE` older messages above the window, keeping the view still."""
        assert self.conversation is not None
        start = max(0, self._first - PAGE)
        older = [self._measure(m) for m in self.conversation.messages[start:self._first]]
        self._first = start
        self._heights[:0] = older
        self._starts = [0, *accumulate(self._heights)]
        self._resize_virtual()
        self.scroll_to(y=sum(older), animate=False, immediate=True)

    def _header_fits(self, message: ChatMessage, who_width: int) -> bool:
        """Whether the full ticks fit right of the sender; if not, compact ticks get a line."""
        parts = delivery_parts(message)
        ticks = sum(cell_len(text) for text, _ in parts) + len(SEPARATOR) * max(0, len(parts) - 1)
        return who_width + 1 + ticks <= self._width

    def _sender_name(self, message: ChatMessage) -> str:
        return message.nick or self.names.get(message.sender, message.sender.split("@")[0])

    def _who(self, message: ChatMessage) -> Text:
        outgoing = message.direction is Direction.OUTGOING
        sender = "me" if outgoing else self._sender_name(message)
        who = Text.assemble((message.time.astimezone().strftime("%H:%M"), "dim"), " ",
                            (sender, "bold cyan" if outgoing else "bold magenta"))
        if message.corrected:
            who.append(" ✎", style="dim")
        return who

    def _measure(self, message: ChatMessage) -> int:
        """Lines ``message`` takes at the current width, computed without rendering it."""
        sender = self._sender_name(message)
        who_width = 6 + (2 if message.direction is Direction.OUTGOING else cell_len(sender))
        who_width += 2 if message.corrected else 0
        header = 1 if self._header_fits(message, who_width) else 2
        body_width = max(1, self._width - BODY_INDENT)
        body = sum(len(divide_line(line, body_width, fold=True)) + 1
                   for line in extras.body_plain(message, body_plain(message), sender).split("\n"))
        reactions = extras.reactions(message, self.names, self.me)
        body += 1 if extras.quote(message, None, self.names, self.me) else 0
        body += len(divide_line(reactions.plain, body_width, fold=True)) + 1 if reactions else 0
        return header + body + 1  # a blank line after each message

    def _strips(self, index: int) -> list[Strip]:
        key = (index, self._width)
        strips = self._cache.get(key)
        if strips is None:
            assert self.conversation is not None
            strips = self._cache[key] = self._render_message(self.conversation.messages[index])
        return strips

    def _render_message(self, message: ChatMessage) -> list[Strip]:
        who = self._who(message)
        if self._header_fits(message, who.cell_len):  # ticks right-aligned on the header line
            ticks = delivery_label(message)
            header: list[Text] = [Text.assemble(who, " " * (self._width - who.cell_len - ticks.cell_len),
                                                ticks)]
        else:  # narrow: compact ticks on a line of their own, never broken mid-time
            ticks = delivery_label(message, compact=True)
            ticks.justify, ticks.no_wrap, ticks.overflow = "right", True, "ellipsis"
            header = [who, ticks]
        body = Padding(extras.body(message, body_text(message), self._sender_name(message)),
                       (0, 0, 0, BODY_INDENT))
        quote = extras.quote(message, self.conversation, self.names, self.me)
        reactions = extras.reactions(message, self.names, self.me)
        around = [Padding(part, (0, 0, 0, BODY_INDENT)) if part else None for part in (quote, reactions)]
        parts = [*header, around[0], body, around[1], Text("")]
        console = self.app.console
        options = console.options.update_width(self._width)
        lines = console.render_lines(Group(*(p for p in parts if p is not None)), options, pad=False)
        return [Strip(line) for line in lines]

    def render_lines(self, crop: Region) -> list[Strip]:
        # what every line of one paint shares, worked out once per paint rather than per line
        self._paint = (self.scroll_offset, self.scrollable_content_region.width, self.rich_style)
        try:
            return super().render_lines(crop)
        finally:
            self._paint = None

    def render_line(self, y: int) -> Strip:
        (scroll_x, scroll_y), width, style = self._paint or (
            self.scroll_offset, self.scrollable_content_region.width, self.rich_style)
        line = scroll_y + y
        if self.conversation is None or line >= self._starts[-1]:
            return Strip.blank(width, style)
        relative = bisect.bisect_right(self._starts, line) - 1
        strips = self._strips(self._first + relative)
        if len(strips) != self._heights[relative]:  # measuring and rendering disagreed: trust
            self._heights[relative] = len(strips)     # the rendering, and redraw consistently
            self._starts = [0, *accumulate(self._heights)]
            self._resize_virtual()
        offset = line - self._starts[relative]
        strip = strips[offset] if offset < len(strips) else Strip.blank(width, style)
        strip = strip.crop_extend(scroll_x, scroll_x + width, style)
        return self.mark_selected(strip, self.conversation.messages[self._first + relative])
