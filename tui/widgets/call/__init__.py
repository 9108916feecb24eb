"""The call panel and the video view shown during a call."""

from .call_panel import CallPanel
from .video_view import VideoView

__all__ = ["CallPanel", "VideoView"]
