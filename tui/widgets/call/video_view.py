"""Received video at terminal resolution: each cell shows two pixels with the upper half block.

A 40×12 cell view shows a 40×24 pixel picture — enough to see that someone is there and moving.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

if TYPE_CHECKING:  # numpy is loaded with the call stack, not at start-up
    import numpy as np

UPPER_HALF = "▀"


class VideoView(Widget):
    """The newest frame given to :meth:`set_frame`, or a note when there is none."""

    DEFAULT_CSS = """
    VideoView { width: 40; height: 12; display: none; }
    VideoView.-active { display: block; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._frame: np.ndarray | None = None
        self.note = "waiting for video…"
        self.label = ""
        """What the picture is (e.g. a shared screen), on the top line; empty: no label line."""

    @property
    def pixel_size(self) -> tuple[int, int]:
        """(width, height) in pixels of the picture this view shows."""
        return self.size.width, (self.size.height - (1 if self.label else 0)) * 2

    def set_frame(self, frame: np.ndarray | None) -> None:
        """Show ``frame`` (height × width × RGB, already :attr:`pixel_size`)."""
        self._frame = frame
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if self.label:
            if y == 0:
                return Strip([Segment(self.label[:width].ljust(width), Style(reverse=True))])
            y -= 1
        frame = self._frame
        if frame is None or frame.shape[0] < 2 * y + 2 or frame.shape[1] < width:
            text = self.note if y == self.size.height // 2 else ""
            return Strip([Segment(text.center(width)[:width], Style(dim=True))])
        top, bottom = frame[2 * y], frame[2 * y + 1]
        segments = [Segment(UPPER_HALF, Style.from_color(
            _colour(top[x]), _colour(bottom[x]))) for x in range(width)]
        return Strip(segments, width)


def _colour(pixel: np.ndarray) -> Color:
    return Color.from_rgb(int(pixel[0]), int(pixel[1]), int(pixel[2]))
