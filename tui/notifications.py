"""Notifications of the terminal client (CH12): a toast, the terminal bell and, where the desktop has
a notification service, a desktop notification for each notice the session's rules give.

:class:`Notifier` belongs to the app; :class:`~tui.session.notifications.NoticeRules` decides what is
news. Notices of one turn of the event loop about the same conversation become one (a burst of
messages rings once). :class:`DesktopNotifier` finds ``notify-send`` or the freedesktop
notification service on D-Bus, and says why not when there is neither. Message text never reaches
the log.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from tui.screens.commands import ActionCommands, Command
from tui.session import ChatSession
from tui.session.events import SessionEvent
from tui.session.notifications import Notice, NoticeRules
from xmpp_components.base.background import Background

if TYPE_CHECKING:
    from textual.app import App

    from tui.settings import NotificationSettings

log = logging.getLogger(__name__)

APP_NAME = "Switchboard"
DESKTOP_TIMEOUT = 10.0
KIND_LABELS = {"messages": "new chat messages", "rooms": "new room messages",
               "mentions": "mentions of me in rooms", "calls": "missed calls"}
"""The per-kind switches of the settings, and how they read in the palette."""


def _gvariant_string(text: str) -> str:
    """``text`` as a GVariant string literal, for ``gdbus call``."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


@dataclass
class DesktopNotifier:
    """How this machine shows desktop notifications, or why it cannot."""

    command: str | None
    """``notify-send`` or ``gdbus`` (its full path), None when there is no way."""
    reason: str = ""
    """Why there are no desktop notifications (empty when there are)."""

    SEARCH_PATH: ClassVar[str | None] = None
    """Where to look for the programs (None: ``PATH``); tests point it elsewhere."""

    @property
    def available(self) -> bool:
        """Whether desktop notifications can be sent."""
        return self.command is not None

    @classmethod
    async def detect(cls) -> DesktopNotifier:
        """Look for a session bus with a notification service, and a program that talks to it."""
        notify_send = shutil.which("notify-send", path=cls.SEARCH_PATH)
        gdbus = shutil.which("gdbus", path=cls.SEARCH_PATH)
        runtime = os.environ.get("XDG_RUNTIME_DIR", f"/run/user/{os.getuid()}")
        if not os.environ.get("DBUS_SESSION_BUS_ADDRESS") and not os.path.exists(f"{runtime}/bus"):
            return cls(None, "no desktop session here (no D-Bus session bus: DBUS_SESSION_BUS_ADDRESS "
                             "is not set); toasts and the bell still work")
        if notify_send is None and gdbus is None:
            return cls(None, "neither notify-send nor gdbus is installed; install libnotify-bin "
                             "(notify-send) for desktop notifications")
        if gdbus is not None and not await cls._service_runs(gdbus):
            return cls(None, "no notification service runs on the desktop's D-Bus; start one "
                             "(your desktop's, or e.g. dunst) for desktop notifications")
        return cls(notify_send or gdbus)

    @staticmethod
    async def _service_runs(gdbus: str) -> bool:
        process = await asyncio.create_subprocess_exec(
            gdbus, "call", "--session", "--dest", "org.freedesktop.DBus",
            "--object-path", "/org/freedesktop/DBus", "--method", "org.freedesktop.DBus.NameHasOwner",
            "org.freedesktop.Notifications", stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL)
        try:
            out, _ = await asyncio.wait_for(process.communicate(), DESKTOP_TIMEOUT)
        except TimeoutError:
            process.kill()
            return False
        return process.returncode == 0 and b"true" in out

    async def send(self, title: str, text: str) -> None:
        """Show a desktop notification; a failure turns desktop notifications off with the reason."""
        if self.command is None:
            return
        if os.path.basename(self.command) == "notify-send":
            argv = [self.command, f"--app-name={APP_NAME}", "--", title, text]
        else:
            argv = [self.command, "call", "--session", "--dest", "org.freedesktop.Notifications",
                    "--object-path", "/org/freedesktop/Notifications",
                    "--method", "org.freedesktop.Notifications.Notify", _gvariant_string(APP_NAME), "0",
                    '""', _gvariant_string(title), _gvariant_string(text), "[]", "{}", "-1"]
        try:
            process = await asyncio.create_subprocess_exec(
                *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
            _, error = await asyncio.wait_for(process.communicate(), DESKTOP_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            self.command, self.reason = None, f"the desktop notification failed ({exc}); turned off"
            return
        if process.returncode != 0:
            first = (error.decode(errors="replace").strip().splitlines() or ["no reason given"])[0]
            self.command, self.reason = None, f"the desktop refused a notification ({first}); turned off"
            log.info("desktop notifications off: %s", first)


class Notifier:
    """Shows the session's notices as toasts, with the bell and on the desktop, as the settings say."""

    def __init__(self, app: App[None], session: ChatSession,
                 looking_at: Callable[[str], bool]) -> None:
        """``looking_at(jid)``: whether the user sees that conversation now (no notice then)."""
        self.app = app
        self._settings: NotificationSettings | None = None
        self.rules = NoticeRules(session, lambda: self.settings, looking_at)
        self.desktop: DesktopNotifier | None = None
        """None until :meth:`detect_desktop` ran (on the first notice, or the settings screen)."""
        self.shown: list[Notice] = []
        """Every notice shown in this run, oldest first."""
        self.bells = 0
        """How often the bell rang."""
        self._pending: dict[tuple[str, str], Notice] = {}
        self._background = Background()
        self._unsubscribe = session.subscribe(self._on_event)

    def close(self) -> None:
        """Stop listening to the session (logged out): nothing more of it is shown, not even the
        notices of the current turn."""
        self._unsubscribe()
        self._pending.clear()

    @property
    def settings(self) -> NotificationSettings:
        """The notification settings (read from the settings file on first use)."""
        if self._settings is None:
            from tui.settings import ClientSettings  # pydantic: not at start-up

            self._settings = ClientSettings.load().notifications
        return self._settings

    def save(self, settings: NotificationSettings) -> str:
        """Use ``settings`` from now on and write them to the settings file; returns the file."""
        from tui.settings import ClientSettings

        self._settings = settings
        saved = ClientSettings.load()
        saved.notifications = settings
        return str(saved.save())

    def toggle(self, kind: str) -> bool:
        """Flip one switch of the settings (a kind, ``preview``, ``bell`` or ``desktop``), save, and
        return its new value."""
        value = not getattr(self.settings, kind)
        self.save(self.settings.model_copy(update={kind: value}))
        return value

    async def detect_desktop(self) -> DesktopNotifier:
        """Find out (once) whether desktop notifications work here."""
        if self.desktop is None:
            self.desktop = await DesktopNotifier.detect()
        return self.desktop

    async def idle(self) -> None:
        """Wait until the desktop notifications under way are sent."""
        await self._background.wait()

    def _on_event(self, event: SessionEvent) -> None:
        notice = self.rules.notice(event)
        if notice is None:
            return
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        key = (notice.kind, notice.jid)
        earlier = self._pending.get(key)
        self._pending[key] = earlier.merged(notice) if earlier is not None else notice

    def _flush(self) -> None:
        notices, self._pending = list(self._pending.values()), {}
        settings = self.settings
        for notice in notices:
            self.shown.append(notice)
            self.app.notify(notice.text, title=notice.title, timeout=8,
                            severity="warning" if notice.kind in ("calls", "mentions") else "information")
            if settings.desktop:
                self._spawn(self._to_desktop(notice))
        if notices and settings.bell:
            self.bells += 1
            self.app.bell()

    async def _to_desktop(self, notice: Notice) -> None:
        desktop = await self.detect_desktop()
        await desktop.send(notice.title, notice.text)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        self._background.spawn(work)


class NotificationCommands(ActionCommands):
    """Notification switches in the command palette, and the settings screen."""

    @property
    def _notifier(self) -> Notifier | None:
        notifier = getattr(self.app, "notifier", None)
        return notifier if isinstance(notifier, Notifier) else None

    def commands(self) -> list[Command]:
        """The notification settings screen, and one command per switch saying what it turns."""
        notifier = self._notifier
        if notifier is None:
            return []
        settings = notifier.settings

        def flip(kind: str, label: str) -> Callable[[], None]:
            def run() -> None:
                on = notifier.toggle(kind)
                self.app.notify(f"Notifications for {label}: {'on' if on else 'off'}.",
                                title="Notifications")
            return run

        commands: list[Command] = [
            ("Notification settings", "What notifies you, with or without the text; bell and desktop",
             lambda: self._open_settings(notifier))]
        switches = {**KIND_LABELS, "preview": "message text (preview)", "bell": "the terminal bell",
                    "desktop": "desktop notifications"}
        for kind, label in switches.items():
            state = "off" if getattr(settings, kind) else "on"
            commands.append((f"Notifications: turn {state} {label}",
                             f"Now {'on' if state == 'off' else 'off'}; saved in the settings file",
                             flip(kind, label)))
        return commands

    def _open_settings(self, notifier: Notifier) -> None:
        from tui.screens.notification_settings import NotificationSettingsScreen

        self.app.push_screen(NotificationSettingsScreen(notifier))
