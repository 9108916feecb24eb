"""The running call, above the conversation: who, state, duration, connection quality, and keys.

It takes :class:`~tui.session.calls.CallInfo` snapshots; it never touches the call itself.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.session.callinfo import CallInfo

KEYS = "F7 mute · F6 hold · F4 camera · F9 hang up"


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _meter(level: float, width: int = 5) -> str:
    filled = min(width, round(level * 4 * width))  # speech sits well below full scale
    return "▮" * filled + "▯" * (width - filled)


def describe(info: CallInfo, name: str) -> Text:
    """The panel's text for ``info``; ``name`` is how the roster names the peer."""
    kind = "Video call" if info.video else "Call"
    text = Text.assemble(("📞 ", ""), (f"{kind} with {name}", "bold"))
    address = Text(f"  <{info.peer}>", style="dim")  # last on the line: the first to be cut
    if info.ended:
        text.append(f"  — {info.ended}", style="italic")
        return text.append_text(address)
    state = {
        "proposing": "calling…",
        "ringing": "ringing at the other end…" if info.outgoing else "rings here (F8 answers)",
        "connecting": "connecting…",
        "active": f"connected {_clock(info.duration)}",
    }.get(info.state, info.state)
    text.append(f"  {state}", style="green" if info.state == "active" else "yellow")
    flags = [label for on, label in ((info.muted, "mic off"), (info.camera_off and info.video,
             "camera off"), (info.on_hold and not info.held_by_peer, "on hold"),
             (info.held_by_peer, "held by the other side"), (info.peer_muted, "they muted"),
             (info.sharing, "sharing your screen"), (info.viewing, "seeing their screen"),
             (info.share_waiting, "screen share asked…")) if on]
    if flags:
        text.append("  [" + ", ".join(flags) + "]", style="bold magenta")
    text.append_text(address)
    if info.state == "active":
        codecs = " ".join(info.codecs.values())
        rtt = f"{info.round_trip_ms:.0f} ms" if info.round_trip_ms is not None else "—"
        text.append(f"\n{_meter(info.peer_level)} they · {codecs} · rtt {rtt} · "
                    f"loss {info.loss:.1%}", style="dim")
    if info.media_note:
        text.append(f"\n{info.media_note}", style="dim italic")
    text.append(f"\n{KEYS}", style="dim")
    return text


class CallPanel(Static):
    """A few lines about the running call; hidden when there is none."""

    DEFAULT_CSS = """
    CallPanel { height: auto; max-height: 5; padding: 0 1; background: $boost; display: none;
                text-wrap: nowrap; text-overflow: ellipsis; }
    CallPanel.-active { display: block; }
    """

    def show_call(self, info: CallInfo | None, name: str = "") -> None:
        """Show ``info`` (``None`` hides the panel)."""
        self.set_class(info is not None, "-active")
        if info is not None:
            self.update(describe(info, name or info.peer))
