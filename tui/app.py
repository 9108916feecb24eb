"""The Switchboard terminal client."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.events import Event, Key, MouseDown, MouseScrollDown, MouseScrollUp
from textual.screen import Screen

from tui.messages import SessionUpdates
from tui.notifications import NotificationCommands, Notifier
from tui.screens import MainScreen
from tui.session import Account, ChatSession, events
from tui.session.callinfo import CallChanged, CallInfo, CannotTakeCalls
from tui.session.client import PasswordRefused

if TYPE_CHECKING:
    from tui.screens.login import LoginRequest, LoginScreen
    from tui.settings import AccountSettings, ClientSettings
    from xmpp_components.plugins.jingle.screen import Screen as Monitor

STARTED_NS = time.perf_counter_ns()


VIDEO_FPS = 5
"""Pictures a second in the call's video view: moving, at a few % of a core for the half blocks."""

CALL_ACTIONS = frozenset({"answer", "call_or_answer", "video_call", "hang_up", "mute", "hold",
                          "camera"})


class SwitchboardApp(App[None]):
    """Presence, contacts and chat for one XMPP account."""

    CSS_PATH = "app.tcss"
    TITLE = "Switchboard"
    COMMANDS = App.COMMANDS | {NotificationCommands}

    BINDINGS = [  # calls work from every screen, with the keys of the ProCall guide
        Binding("f8", "answer", "Answer"),
        Binding("f8", "call_or_answer", "Call"),
        Binding("shift+f8", "video_call", "Video call", show=False),
        Binding("f9", "hang_up", "Hang up"),
        Binding("f7", "mute", "Mute", priority=True),  # before the message box's F7/F6 (select
        Binding("f6", "hold", "Hold", priority=True),  # all / line), which keep them with no call
        Binding("f4", "camera", "Camera", show=False, priority=True),
    ]

    def __init__(self, account: Account | None, *, autoconnect: bool = True,
                 idle_after: float = 300.0) -> None:
        """``account=None`` starts on the login screen (its account is then saved in the settings
        file); ``autoconnect=False`` leaves starting the session to the caller (tests, demos);
        ``idle_after`` seconds without a key or click turn *available* into *away* (0: never)."""
        super().__init__()
        self.autoconnect = autoconnect
        self.idle_after = idle_after
        self._last_activity = time.monotonic()
        self._session: ChatSession | None = None
        self._main_screen: MainScreen | None = None
        self._notifier: Notifier | None = None
        self.ready_ms: float | None = None
        self._announced: set[str] = set()
        self._pending: list[events.SessionEvent] = []
        self._unsubscribe: Callable[[], None] = lambda: None
        if account is not None:
            self._begin(account)

    def _begin(self, account: Account) -> ChatSession:
        """The session for ``account``, its main screen and notifications (not connected yet)."""
        session = self._session = ChatSession(account)
        self._main_screen = MainScreen(session)
        self._unsubscribe = session.subscribe(self._forward)
        self._notifier = Notifier(self, session, self._looking_at)
        return session

    def _end(self) -> ChatSession | None:
        """Let go of the session (logout, a refused login): its events, notices and calls reach
        nothing any more, so nothing of this account shows under the next. Returns it, to stop."""
        session = self._session
        if session is None:
            return None
        self._unsubscribe()
        self._unsubscribe = lambda: None
        if self._notifier is not None:
            self._notifier.close()
        self._session = self._main_screen = self._notifier = None
        self._pending.clear()
        self._announced.clear()
        return session

    @property
    def session(self) -> ChatSession:
        """The logged-in account's session (AttributeError while the login screen is up)."""
        if self._session is None:
            raise AttributeError("not logged in yet")
        return self._session

    @property
    def main_screen(self) -> MainScreen:
        """Roster, conversations and rooms (AttributeError while the login screen is up)."""
        if self._main_screen is None:
            raise AttributeError("not logged in yet")
        return self._main_screen

    @property
    def notifier(self) -> Notifier:
        """Toasts, bell and desktop notifications for what happens elsewhere (CH12)."""
        if self._notifier is None:
            raise AttributeError("not logged in yet")
        return self._notifier

    def _looking_at(self, jid: str) -> bool:
        """Whether the user sees the conversation with ``jid`` now (then it notifies nobody)."""
        return self.app_focus and self.screen is self.main_screen and self.main_screen.open_jid == jid

    def _forward(self, event: events.SessionEvent) -> None:
        """Collect the session's events and hand them to the screens once per loop turn."""
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._deliver)
        self._pending.append(event)
        if isinstance(event, CallChanged):
            self._on_call(event.call)
            self.refresh_bindings()

    def _deliver(self) -> None:
        batch, self._pending = self._pending, []
        if self._main_screen is None:  # a login that failed
            return
        self.main_screen.post_message(SessionUpdates(batch))
        if len(self.screen_stack) > 1 and self.screen is not self.main_screen:  # e.g. the journal
            self.screen.post_message(SessionUpdates(batch))

    # --- calls ----------------------------------------------------------------------------------

    def _on_call(self, call: CallInfo) -> None:
        """A call that starts ringing here opens the incoming-call window (once); a screen the
        other side offers or asks for opens its question (once)."""
        from tui.screens.call import IncomingCall

        if call.share_offered and f"{call.sid}/{call.share_offered_name}" not in self._announced:
            self._announced.add(f"{call.sid}/{call.share_offered_name}")
            self._ask_about_share(call)
        if call.outgoing or call.state != "ringing" or call.sid in self._announced:
            return
        self._announced.add(call.sid)

        def decided(choice: str | None) -> None:
            if choice == "answer":
                self.run_worker(self.session.calls.answer(), group="calls")
            elif choice == "answer-with-camera":
                self.run_worker(self.session.calls.answer(video=True), group="calls")
            elif choice == "decline":
                self.run_worker(self.session.calls.hangup(), group="calls")

        self.push_screen(IncomingCall(self.session, call), decided)

    def _tick_calls(self) -> None:
        """Once a second during calls: duration and quality; the picture runs at
        :data:`VIDEO_FPS` while there is one to show."""
        if self._session is not None and self.session.calls_loaded and self.session.calls.calls:
            self.run_worker(self.session.calls.refresh_quality(), group="call-quality",
                            exclusive=True)
            current = self.session.calls.current
            if current is not None and (current.video or current.viewing):
                self._video_timer.resume()
                return
        self._video_timer.pause()

    def _tick_video(self) -> None:
        if self._main_screen is not None:
            self._main_screen.show_video()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The call keys work, and show in the footer, where they apply: F8 *Call* once logged
        in and no call is there, F8 *Answer* while one rings here, F9 and the keys of a running
        call while there is one (80 columns have no room for keys that do nothing)."""
        if action not in CALL_ACTIONS:
            return super().check_action(action, parameters)
        if self._session is None:
            return False
        current = self._session.calls.current if self._session.calls_loaded else None
        ringing_here = current is not None and not current.outgoing and current.state == "ringing"
        if action == "answer":
            return ringing_here
        if action in ("call_or_answer", "video_call"):
            return current is None or ringing_here
        if action in ("mute", "hold", "camera"):
            return current is not None and current.state in ("connecting", "active")
        return current is not None

    def action_answer(self) -> None:
        """F8 while a call rings here: answer it."""
        self.action_call_or_answer()

    def _calls_usable(self) -> bool:
        if self.session.state != "online":
            self.notify("Not connected: calls need the server.", severity="warning")
            return False
        return True

    def action_call_or_answer(self, video: bool = False) -> None:
        """F8: answer the call that rings here, else call the open or highlighted contact."""
        if not self._calls_usable():
            return
        current = self.session.calls.current
        if current is not None and not current.outgoing and current.state == "ringing":
            self.run_worker(self.session.calls.answer(video=video or None), group="calls")
            return
        if current is not None:
            self.notify("There is a call already: F9 hangs it up.", severity="warning")
            return
        target = self.main_screen.call_target()
        if target is None:
            self.notify("Choose a contact first, then F8 calls them.", severity="warning")
            return
        self.run_worker(self._place_call(target, video), group="calls")

    async def _place_call(self, jid: str, video: bool) -> None:
        try:
            await self.session.calls.call(jid, video=video)
        except CannotTakeCalls as error:
            self.notify(str(error), title="Call", severity="warning")
        except Exception as error:  # gathering or signalling failed: say so, never a traceback
            self.notify(f"The call could not start: {error}", title="Call", severity="error")

    def action_video_call(self) -> None:
        """Shift+F8: a video call, or answer with the camera."""
        self.action_call_or_answer(video=True)

    def action_hang_up(self) -> None:
        """F9: decline the ringing call or end the running one."""
        self.run_worker(self.session.calls.hangup(), group="calls")

    def action_mute(self) -> None:
        """F7: microphone off / on."""
        self.run_worker(self.session.calls.toggle_mute(), group="calls")

    def action_hold(self) -> None:
        """F6: hold / resume."""
        self.run_worker(self.session.calls.toggle_hold(), group="calls")

    def action_camera(self) -> None:
        """F4: camera off / on in a video call."""
        self.run_worker(self.session.calls.toggle_camera(), group="calls")

    # --- screen sharing (AV3) ------------------------------------------------------------------

    def _peer_name(self, jid: str) -> str:
        contact = self.session.contacts.get(jid)
        return contact.display_name if contact else jid.split("@")[0]

    async def _share_step(self, step: Awaitable[object]) -> None:
        """Run a screen-sharing step; what goes wrong becomes a notice, never a traceback."""
        try:
            await step
        except Exception as error:  # refused by the peer, no call, capture failed
            self.notify(f"{error}", title="Screen sharing", severity="warning")

    def _screens_or_reason(self) -> tuple[list[Monitor], str]:
        reason = screen_share_unavailable()
        if reason:
            return [], reason
        from xmpp_components.plugins.jingle.screen import CaptureUnavailable

        try:
            return self.session.calls.sources.screens(), ""
        except CaptureUnavailable as error:
            return [], f"Screen sharing is unavailable: {error}."

    def _choose_screen(self, question: str, then: Callable[[Monitor | None], None], *,
                       decline: bool = False) -> None:
        """Ask which screen (only when there are several); ``then`` gets it, or None."""
        from tui.screens.screen_share import DECLINE, ScreenChoice

        screens, reason = self._screens_or_reason()
        if len(screens) == 1 and not decline:
            then(screens[0])
            return
        choices = [(str(s.index), s.label) for s in screens]
        if decline:
            choices.append((DECLINE, "Decline"))
        if not screens and not decline:
            self.notify(reason, title="Screen sharing", severity="warning")
            return

        def chosen(key: str | None) -> None:
            then(next((s for s in screens if str(s.index) == key), None))

        self.push_screen(ScreenChoice(question, choices, note=reason,
                                      escape="Esc declines" if decline else "Esc cancels"), chosen)

    def action_share_screen(self) -> None:
        """Show the other side of the running call one of my screens."""
        if not self._calls_usable():
            return

        def share(screen: Monitor | None) -> None:
            if screen is not None:
                self.run_worker(self._share_step(self.session.calls.share_screen(screen)),
                                group="calls")

        self._choose_screen("Which screen do you want to share?", share)

    def action_request_screen(self) -> None:
        """Ask the other side of the running call to show me its screen."""
        if self._calls_usable():
            self.run_worker(self._share_step(self.session.calls.request_screen()), group="calls")

    def action_stop_sharing(self) -> None:
        """Stop the screen shown or seen in the running call."""
        async def stop() -> None:
            if not await self.session.calls.stop_sharing():
                self.notify("No screen is shared in this call.", title="Screen sharing")

        if self.session.calls_loaded:
            self.run_worker(self._share_step(stop()), group="calls")

    def _ask_about_share(self, call: CallInfo) -> None:
        from tui.screens.screen_share import DECLINE, VIEW, ScreenChoice

        name, proposal = self._peer_name(call.peer), call.share_offered_name
        if call.share_offered == "show":
            def viewed(key: str | None) -> None:
                self.run_worker(self._share_step(self.session.calls.answer_share(
                    proposal, None, accept=key == VIEW)), group="calls")

            self.push_screen(ScreenChoice(f"{name} wants to show you a screen.",
                                          [(VIEW, "View their screen"), (DECLINE, "Decline")],
                                          escape="Esc declines"), viewed)
            return

        def shown(screen: Monitor | None) -> None:
            self.run_worker(self._share_step(self.session.calls.answer_share(
                proposal, screen, accept=screen is not None)), group="calls")

        self._choose_screen(f"{name} asks to see your screen: which one?", shown, decline=True)

    def action_av_settings(self) -> None:
        """Open the audio and video settings (AV4)."""
        from tui.screens.av_settings import AVSettings

        self.push_screen(AVSettings())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if self._session is not None:
            bare = self._session.jid.bare
            yield SystemCommand("Log out", f"Go offline as {bare} and back to the login screen, "
                                "e.g. to use another account", self.action_log_out)
            yield SystemCommand("Log out and forget the password",
                                f"Log out, and drop the password of {bare} from the system keyring",
                                lambda: self.action_log_out(forget_password=True))
        yield SystemCommand("Call", "Call the open or highlighted contact (F8)",
                            self.action_call_or_answer)
        yield SystemCommand("Video call", "Video call the open or highlighted contact (Shift+F8)",
                            self.action_video_call)
        yield SystemCommand("Answer / hang up", "Answer a ringing call (F8) or end the call (F9)",
                            self.action_hang_up)
        yield SystemCommand("Mute microphone", "Microphone off or on during a call (F7)",
                            self.action_mute)
        yield SystemCommand("Hold", "Hold or resume the call (F6)", self.action_hold)
        yield SystemCommand("Camera", "Camera off or on during a video call (F4)",
                            self.action_camera)
        yield SystemCommand("Audio and video settings",
                            "Microphone, speaker, ring device, camera; test tone and level meter",
                            self.action_av_settings)
        reason = screen_share_unavailable()
        if reason:
            yield SystemCommand("Share screen (unavailable)", reason, lambda: self.notify(reason))
        else:
            yield SystemCommand("Share screen…", "Show the other side of the call one of your "
                                "screens", self.action_share_screen)
        yield SystemCommand("Request peer's screen", "Ask the other side of the call to show you "
                            "a screen", self.action_request_screen)
        yield SystemCommand("Stop sharing", "Stop the screen shown or seen in the call",
                            self.action_stop_sharing)

    async def on_mount(self) -> None:
        if self.idle_after > 0:
            self.set_interval(min(5.0, self.idle_after / 3), self._check_idle)
        self._video_timer = self.set_interval(1 / VIDEO_FPS, self._tick_video, pause=True)
        self.set_interval(1.0, self._tick_calls)
        if self._main_screen is None:
            await self.push_screen(self._login_screen())
            return
        await self.push_screen(self.main_screen)
        self.ready_ms = (time.perf_counter_ns() - STARTED_NS) / 1e6
        if self.autoconnect:
            self.run_worker(self._connect(), name="connect", exclusive=True)

    async def on_event(self, event: Event) -> None:
        if isinstance(event, (Key, MouseDown, MouseScrollDown, MouseScrollUp)):
            self._last_activity = time.monotonic()
            if self._session is not None and self._session.idle_since is not None:
                self._session.back_from_idle()
        await super().on_event(event)

    def _check_idle(self) -> None:
        idle = time.monotonic() - self._last_activity
        if self._session is not None and self._session.state == "online" and idle >= self.idle_after:
            self.session.go_idle(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=idle))

    async def _connect(self) -> None:
        try:
            await self.session.start()
        except PasswordRefused:  # a saved password that no longer works: ask for it again
            bare = self.session.jid.bare
            await self._to_login(f"The server refused the password for {bare} — type it again.",
                                 error=True)
            return
        except ConnectionError as exc:
            self.notify(f"{exc}", title="Cannot log in", severity="error", timeout=60)
            return
        # Everything built so far lives as long as the client. Left to the collector, each full
        # collection walks it again: 50-110 ms pauses while a burst of messages arrives.
        gc.freeze()
        # What arrives later (messages, mostly kept too) would, by the default thresholds, be
        # walked in a full collection every ~70,000 allocations: 15-25 ms each during a burst,
        # growing with the history held. Ten times rarer; the young generations as before.
        young, middle, _old = gc.get_threshold()
        gc.set_threshold(young, middle, 100)

    async def on_unmount(self) -> None:
        if self._session is not None:
            await self._session.stop()

    # --- the login screen: first run, logout, a refused password ----------------------------------

    def _login_screen(self, saved: AccountSettings | None = None, message: str = "",
                      error: bool = False) -> LoginScreen:
        """The login screen, filled in with ``saved`` (default: the settings file's account)."""
        from tui.passwords import keyring_unavailable
        from tui.screens.login import LoginScreen
        from tui.settings import ClientSettings

        return LoginScreen(self._log_in, keyring_unavailable(), saved or ClientSettings.load().account,
                           message, error)

    def action_log_out(self, forget_password: bool = False) -> None:
        """Log out and show the login screen (palette: *Log out*); ``forget_password`` also drops
        the password from the system keyring."""
        if self._session is not None:
            self.run_worker(self.log_out(forget_password), group="logout", exclusive=True)

    async def log_out(self, forget_password: bool = False) -> None:
        """Go offline cleanly (unavailable presence, the stream closed) and show the login screen
        with this account filled in, ready for it or another one."""
        if self._session is None:
            return
        bare = self._session.jid.bare
        note = " and forgot its password" if forget_password else ""
        await self._to_login(f"Logged out of {bare}{note}.", forget_password=forget_password)

    async def _to_login(self, message: str, error: bool = False,
                        forget_password: bool = False) -> None:
        """End the session and show the login screen with its account and ``message``."""
        from tui.screens.login import account_settings
        from tui.settings import ClientSettings

        session = self._end()
        if session is None:
            return
        if session.calls_loaded and session.calls.current is not None:
            await session.calls.hangup()
        await session.stop()
        gc.unfreeze()  # what the old account left may go now
        self.clear_notifications()
        settings = ClientSettings.load()
        saved = settings.account
        if saved is None or saved.jid != session.account.jid:
            saved = account_settings(session.account)
        if forget_password:
            from tui.passwords import forget_password as forget

            forget(session.account.jid)
            if saved.password_in_keyring:
                saved = saved.model_copy(update={"password_in_keyring": False})
                if settings.account is not None and settings.account.jid == saved.jid:
                    settings.account = saved
                    self._save(settings)
        while len(self.screen_stack) > 2:  # dialogs and screens over the main screen
            await self.pop_screen()
        await self.switch_screen(self._login_screen(saved, message, error))

    async def _log_in(self, request: LoginRequest) -> str:
        """Try the login screen's account; once in, save it (and its password only in the keyring)
        and show the main screen. Returns what went wrong and what to do next, or ""."""
        session = self._begin(request.account)
        unreachable: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        def watch(event: events.SessionEvent) -> None:  # the first failed connect ends the try
            if (isinstance(event, events.ConnectionChanged) and event.state == "connecting"
                    and event.detail.startswith("cannot reach") and not unreachable.done()):
                unreachable.set_result(event.detail)

        unsubscribe = session.subscribe(watch)
        starting = asyncio.ensure_future(session.start())
        waiting: set[asyncio.Future[object]] = {starting, unreachable}  # type: ignore[arg-type]
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            unsubscribe()
        problem = ""
        if not starting.done():
            starting.cancel()
            problem = (f"Cannot reach the server: {unreachable.result()}. Check the server's host "
                       "and port (or leave the host empty to use the account's domain).")
        elif starting.exception() is not None:
            reason = str(starting.exception())
            if isinstance(starting.exception(), PasswordRefused):
                problem = (f"The server refused the password for {session.jid.bare}. Check the "
                           "account and the password, then log in again.")
            else:
                problem = f"Cannot log in: {reason}. Check the server's host and port."
        if problem:
            self._end()
            await session.stop()
            return problem
        self._remember(request)
        await self.switch_screen(self.main_screen)
        self.ready_ms = (time.perf_counter_ns() - STARTED_NS) / 1e6
        return ""

    def _remember(self, request: LoginRequest) -> None:
        """Save the account in the settings file; its password only in the keyring, if asked."""
        from tui.passwords import forget_password, store_password
        from tui.screens.login import account_settings
        from tui.settings import ClientSettings

        account = request.account
        kept = request.remember_password and not store_password(account.jid, account.password)
        if not kept:
            forget_password(account.jid)
        settings = ClientSettings.load()
        settings.account = account_settings(account, password_in_keyring=kept)
        self._save(settings)

    def _save(self, settings: ClientSettings) -> None:
        """Write the settings file; a failure is said, not raised."""
        try:
            settings.save()
        except OSError as error:
            self.notify(f"The account could not be saved ({error.strerror}); the login screen "
                        "asks again at the next start.", title="Settings", severity="warning")


def screen_share_unavailable() -> str:
    """Why no screen can be shared here (AV3); empty where an X display can be captured."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "No display to share: neither DISPLAY nor WAYLAND_DISPLAY is set on this machine."
    if not os.environ.get("DISPLAY"):
        return ("Only X displays can be captured: this Wayland session has no XWayland "
                "(DISPLAY is not set).")
    try:
        import mss

        with mss.MSS():
            return ""
    except Exception as error:  # mss.exception.ScreenShotError: the X server refused us
        return f"The display {os.environ['DISPLAY']} cannot be captured: {error}"
