"""calls.<domain>: telephony call control (lines, forwarding, hold, conference, transfer)."""

from .component import CallsComponent

__all__ = ["CallsComponent"]
