"""The incoming-call window: who calls — name, address, phone number, initials — before answering.

F8 answers (with the camera for a video call), Shift+F8 answers with the camera, F9 declines, as
in the ProCall guide; Esc only closes the window, and the call keeps ringing in the call panel.
The terminal bell rings every two seconds while the window is open. The window closes by itself
when the call stops ringing here (cancelled, or answered on another device).
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.messages import SessionUpdate, SessionView
from tui.session import ChatSession
from tui.session.callinfo import CallChanged, CallInfo

from .card import initials

RING_EVERY = 2.0


class IncomingCall(SessionView, ModalScreen[str | None]):
    """Ask the user about a call that rings here; dismissed with "answer", "answer-with-camera",
    "decline" or None."""

    DEFAULT_CSS = """
    IncomingCall { align: center top; }
    IncomingCall #incoming { width: 60; height: auto; margin-top: 2; border: thick $warning;
                             background: $surface; padding: 0 1; }
    """

    BINDINGS = [
        Binding("f8", "answer", "Answer"),
        Binding("shift+f8", "answer_with_camera", "Answer with camera", show=False),
        Binding("f9", "decline", "Decline"),
        Binding("escape", "close", "Close (keeps ringing)"),
    ]

    def __init__(self, session: ChatSession, call: CallInfo, *, ring: bool = True) -> None:
        super().__init__()
        self.session = session
        self.call = call
        self.ring = ring
        self.number = ""

    def compose(self) -> ComposeResult:
        with Vertical(id="incoming"):
            yield Static(id="incoming-who")
            yield Static(Text("F8 answer · F9 decline · Esc close", style="dim"), id="incoming-keys")

    def on_mount(self) -> None:
        self._show()
        if self.ring:
            self.app.bell()
            self.set_interval(RING_EVERY, self.app.bell)
        self.load_number()

    def _show(self) -> None:
        contact = self.session.contacts.get(self.call.peer)
        name = contact.display_name if contact else self.call.peer.split("@")[0]
        kind = "Video call" if self.call.video else "Call"
        text = Text.assemble((f" {initials(name)} ", "reverse bold"), "  ", (f"{kind} from ", ""),
                             (name, "bold"), "\n", (self.call.peer, "dim"),
                             (f"  on {self.call.device.split('/', 1)[-1]}" if "/" in self.call.device
                              else "", "dim"))
        if self.number:
            text.append(f"\n☎ {self.number}")
        self.query_one("#incoming-who", Static).update(text)

    @work(exclusive=True)
    async def load_number(self) -> None:
        """The caller's phone number from their business card, when they publish one."""
        if self.session.state != "online":
            return
        card = await self.session.card(self.call.peer)
        numbers = [value for key, value in card.items() if key.startswith("phone")]
        if numbers:
            self.number = numbers[0]
            self._show()

    def on_session_update(self, update: SessionUpdate) -> None:
        event = update.event
        if isinstance(event, CallChanged) and event.call.sid == self.call.sid \
                and event.call.state != "ringing":
            self.dismiss(None)

    def action_answer(self) -> None:
        self.dismiss("answer")

    def action_answer_with_camera(self) -> None:
        """Shift+F8, as on the main screen: answer and send the camera, for an audio call too."""
        self.dismiss("answer-with-camera")

    def action_decline(self) -> None:
        self.dismiss("decline")

    def action_close(self) -> None:
        self.dismiss(None)
