"""The Switchboard terminal client."""

from __future__ import annotations

import time

from textual.app import App

from tui.messages import SessionUpdate
from tui.screens import MainScreen
from tui.session import Account, ChatSession, events

STARTED_NS = time.perf_counter_ns()


class SwitchboardApp(App[None]):
    """Presence, contacts and chat for one XMPP account."""

    CSS_PATH = "app.tcss"
    TITLE = "Switchboard"

    def __init__(self, account: Account, *, autoconnect: bool = True) -> None:
        """``autoconnect=False`` leaves starting the session to the caller (tests, demos)."""
        super().__init__()
        self.autoconnect = autoconnect
        self.session = ChatSession(account)
        self.main_screen = MainScreen(self.session)
        self.session.subscribe(self._forward)
        self.ready_ms: float | None = None

    def _forward(self, event: events.SessionEvent) -> None:
        self.main_screen.post_message(SessionUpdate(event))
        if len(self.screen_stack) > 1 and self.screen is not self.main_screen:  # e.g. the journal
            self.screen.post_message(SessionUpdate(event))

    async def on_mount(self) -> None:
        await self.push_screen(self.main_screen)
        self.ready_ms = (time.perf_counter_ns() - STARTED_NS) / 1e6
        if self.autoconnect:
            self.run_worker(self._connect(), name="connect", exclusive=True)

    async def _connect(self) -> None:
        try:
            await self.session.start()
        except ConnectionError as exc:
            self.notify(f"{exc}", title="Cannot log in", severity="error", timeout=60)

    async def on_unmount(self) -> None:
        await self.session.stop()
