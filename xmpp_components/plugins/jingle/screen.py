"""Screen capture for screen sharing: the screens (monitors) of an X display, and a video track
that reads one of them with ``mss`` at a modest frame rate.

``mss`` talks to the X server through ctypes; a capture takes a few milliseconds for a full-HD
screen, so it runs in a thread of its own (one per track, since an X connection belongs to the
thread that opened it). Wayland sessions without XWayland cannot be captured this way.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame

from .media import VIDEO_CLOCK, pace


@dataclass(frozen=True)
class Screen:
    """One monitor of a display, as ``mss`` numbers them (1 … n; 0 is all of them at once)."""

    index: int
    left: int
    top: int
    width: int
    height: int
    name: str = ""

    @property
    def label(self) -> str:
        """How a chooser shows it: ``Screen 2 — 1920×1080 at +1920+0 (HDMI-1)``."""
        name = f" ({self.name})" if self.name else ""
        return f"Screen {self.index} — {self.width}×{self.height} at +{self.left}+{self.top}{name}"


class CaptureUnavailable(RuntimeError):
    """No display to capture, or the display refused us; the message says which and why."""


def _open(display: str | None) -> Any:
    import mss

    try:
        return mss.MSS(display=display) if display else mss.MSS()
    except Exception as error:  # mss.exception.ScreenShotError, or the X library missing
        raise CaptureUnavailable(f"cannot open the display {display or os.environ.get('DISPLAY')}"
                                 f": {error}") from None


def list_screens(display: str | None = None) -> list[Screen]:
    """The monitors of ``display`` (default: ``$DISPLAY``); :class:`CaptureUnavailable` when
    there is no X display to capture."""
    if not (display or os.environ.get("DISPLAY")):
        raise CaptureUnavailable("no X display: DISPLAY is not set"
                                 + (" (a Wayland session without XWayland cannot be captured)"
                                    if os.environ.get("WAYLAND_DISPLAY") else ""))
    with _open(display) as capture:
        monitors = capture.monitors
    return [Screen(i, m["left"], m["top"], m["width"], m["height"], str(m.get("output", "")))
            for i, m in enumerate(monitors) if i > 0]


class ScreenTrack(MediaStreamTrack):
    """What one screen shows, as video: ``fps`` frames a second, at most ``max_width`` wide."""

    kind = "video"

    def __init__(self, screen: Screen, *, display: str | None = None, fps: float = 5.0,
                 max_width: int = 1280) -> None:
        super().__init__()
        self.screen, self.display, self.fps = screen, display, fps
        scale = min(1.0, max_width / screen.width)
        self.size = (max(2, int(screen.width * scale) // 2 * 2),
                     max(2, int(screen.height * scale) // 2 * 2))
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="screen-capture")
        self._capture: Any = None
        self._start: float | None = None
        self._count = 0

    def _grab(self) -> np.ndarray:
        if self._capture is None:
            self._capture = _open(self.display)
        area = {"left": self.screen.left, "top": self.screen.top, "width": self.screen.width,
                "height": self.screen.height}
        return np.asarray(self._capture.grab(area))

    def _release(self) -> None:
        if self._capture is not None:
            self._capture.close()
            self._capture = None

    async def recv(self) -> VideoFrame:
        """The screen now, due ``1/fps`` after the previous frame."""
        if self.readyState != "live":
            raise MediaStreamError
        self._start = await pace(self._start, self._count / self.fps)
        try:
            pixels = await asyncio.get_running_loop().run_in_executor(self._thread, self._grab)
        except RuntimeError:  # stopped meanwhile (executor shut down), or the display went away
            raise MediaStreamError from None
        frame = VideoFrame.from_ndarray(pixels, format="bgra")
        if (frame.width, frame.height) != self.size:
            frame = frame.reformat(width=self.size[0], height=self.size[1], format="yuv420p")
        frame.pts = int(self._count * VIDEO_CLOCK / self.fps)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self._count += 1
        return frame

    def stop(self) -> None:
        """Stop capturing and close the X connection (in its own thread)."""
        super().stop()
        with contextlib.suppress(RuntimeError):  # already shut down
            self._thread.submit(self._release)
        self._thread.shutdown(wait=False)
