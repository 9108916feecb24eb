"""The Switchboard terminal client."""

from __future__ import annotations

import datetime as dt
import time

from textual.app import App
from textual.events import Event, Key, MouseDown, MouseScrollDown, MouseScrollUp

from tui.messages import SessionUpdate
from tui.screens import MainScreen
from tui.session import Account, ChatSession, events

STARTED_NS = time.perf_counter_ns()


class SwitchboardApp(App[None]):
    """Presence, contacts and chat for one XMPP account."""

    CSS_PATH = "app.tcss"
    TITLE = "Switchboard"

    def __init__(self, account: Account, *, autoconnect: bool = True, idle_after: float = 300.0) -> None:
        """``autoconnect=False`` leaves starting the session to the caller (tests, demos);
        ``idle_after`` seconds without a key or click turn *available* into *away* (0: never)."""
        super().__init__()
        self.autoconnect = autoconnect
        self.idle_after = idle_after
        self._last_activity = time.monotonic()
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
        if self.idle_after > 0:
            self.set_interval(min(5.0, self.idle_after / 3), self._check_idle)
        self.ready_ms = (time.perf_counter_ns() - STARTED_NS) / 1e6
        if self.autoconnect:
            self.run_worker(self._connect(), name="connect", exclusive=True)

    async def on_event(self, event: Event) -> None:
        if isinstance(event, (Key, MouseDown, MouseScrollDown, MouseScrollUp)):
            self._last_activity = time.monotonic()
            if self.session.idle_since is not None:
                self.session.back_from_idle()
        await super().on_event(event)

    def _check_idle(self) -> None:
        idle = time.monotonic() - self._last_activity
        if self.session.state == "online" and idle >= self.idle_after:
            self.session.go_idle(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=idle))

    async def _connect(self) -> None:
        try:
            await self.session.start()
        except ConnectionError as exc:
            self.notify(f"{exc}", title="Cannot log in", severity="error", timeout=60)

    async def on_unmount(self) -> None:
        await self.session.stop()
