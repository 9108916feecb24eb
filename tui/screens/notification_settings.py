"""Notification settings (CH12): one switch per kind (chat messages, room messages, mentions, missed
calls), the message text on or off, the bell and desktop notifications — with the reason when this
machine has no desktop notification service. Each switch applies and is saved at once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Static, Switch

if TYPE_CHECKING:
    from tui.notifications import Notifier

SWITCHES = ("messages", "rooms", "mentions", "calls", "preview", "bell", "desktop")
LABELS = {"messages": "Chat messages", "rooms": "Room messages", "mentions": "Mentions of me",
          "calls": "Missed calls", "preview": "Show message text", "bell": "Terminal bell",
          "desktop": "Desktop notifications"}


class NotificationSettingsScreen(ModalScreen[None]):
    """The switches of :class:`~tui.settings.NotificationSettings`; Esc closes."""

    DEFAULT_CSS = """
    NotificationSettingsScreen { align: center middle; }
    NotificationSettingsScreen > Vertical { width: 76; height: auto; max-height: 30;
                                            border: tall $accent; background: $surface; padding: 0 1; }
    NotificationSettingsScreen Horizontal { height: auto; }
    NotificationSettingsScreen Switch, NotificationSettingsScreen Switch:focus {
        border: none; padding: 0; margin: 0 1 0 0; height: 1; }
    NotificationSettingsScreen Horizontal:focus-within .label { color: $accent; }
    NotificationSettingsScreen .label { width: 22; text-style: bold; }
    NotificationSettingsScreen .help { width: 1fr; color: $text-muted; }
    NotificationSettingsScreen .hint { color: $text-muted; margin-top: 1; }
    """

    BINDINGS = [Binding("escape", "dismiss", "Close"),
                Binding("down", "app.focus_next", "Next", show=False),
                Binding("up", "app.focus_previous", "Previous", show=False)]

    def __init__(self, notifier: Notifier) -> None:
        super().__init__()
        self.notifier = notifier

    def compose(self) -> ComposeResult:
        settings = self.notifier.settings
        fields = type(settings).model_fields
        with Vertical():
            yield Static(Text("Notifications", style="bold"))
            for name in SWITCHES:
                with Horizontal():
                    yield Switch(getattr(settings, name), id=f"notify-{name}")
                    yield Static(LABELS[name], classes="label")
                    yield Static(" ".join((fields[name].description or "").split()), classes="help")
            yield Static("", id="notify-desktop-state")
            yield Static("Tab / arrows: move · Space: switch (saved at once) · Esc: close",
                         classes="hint")

    async def on_mount(self) -> None:
        self.query_one(Switch).focus()
        desktop = await self.notifier.detect_desktop()
        state = self.query_one("#notify-desktop-state", Static)
        if desktop.available:
            state.update(Text(f"Desktop notifications go through {desktop.command}.", style="green"))
        else:
            state.update(Text(f"No desktop notifications: {desktop.reason}.", style="yellow"))

    def on_switch_changed(self, event: Switch.Changed) -> None:
        name = (event.switch.id or "").removeprefix("notify-")
        if name in SWITCHES and getattr(self.notifier.settings, name) != event.value:
            self.notifier.save(self.notifier.settings.model_copy(update={name: event.value}))
