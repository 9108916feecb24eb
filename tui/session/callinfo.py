"""What the call widgets see of a call: plain snapshots and the event that carries them.

Kept apart from :mod:`tui.session.calls` so that the widgets (and the client's cold start) do not
import aiortc.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .events import SessionEvent


@dataclass(frozen=True)
class CallInfo:
    """What the call widgets show about one call."""

    sid: str
    peer: str
    device: str
    outgoing: bool
    video: bool
    state: str
    remote_ringing: bool = False
    duration: float = 0.0
    answered: bool = False
    on_hold: bool = False
    held_by_peer: bool = False
    muted: bool = False
    camera_off: bool = False
    peer_muted: bool = False
    ended: str = ""
    """Empty while the call runs; then how it ended, in words."""
    round_trip_ms: float | None = None
    loss: float = 0.0
    codecs: dict[str, str] = field(default_factory=dict)
    peer_level: float = 0.0
    """RMS level 0 … 1 of what the peer sends, so a call without speakers still shows sound."""
    media_note: str = ""
    sharing: bool = False
    """We show the peer one of our screens (AV3)."""
    viewing: bool = False
    """We see the peer's screen."""
    share_waiting: bool = False
    """Our screen share or request waits for the peer's answer."""
    share_offered: str = ""
    """What the peer proposes and waits for our answer on: ``show`` (its screen to us),
    ``request`` (ours to it), or empty."""
    share_offered_name: str = ""
    """The proposal's content name, to answer it."""


@dataclass(frozen=True)
class CallChanged(SessionEvent):
    """A call started ringing, connected, changed (hold, mute, quality) or ended."""

    call: CallInfo


class CannotTakeCalls(Exception):
    """Every device of the contact online now says it takes no calls."""

    def __init__(self, jid: str, devices: list[str]) -> None:
        self.jid = jid
        self.devices = devices
        super().__init__(f"{jid} cannot take calls: no device of it online "
                         f"({', '.join(devices)}) supports Jingle audio calls (XEP-0167). "
                         "Send a message instead.")
