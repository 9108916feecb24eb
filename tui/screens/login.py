"""The login screen: account and server on first run, when the saved password is not at hand or
the server refused it, and after logging out (then another account may log in).

JID and password; the server's host and port default to the JID's domain and 5222; an optional CA
file for a server with a private certificate authority; "remember password" keeps it in the system
keyring, and is disabled, with the reason, where there is none. A failed login says what went wrong
and what to try, and the screen stays.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Input, Static

from tui.session import Account
from tui.settings import AccountSettings
from tui.widgets.key_footer import KeyFooter


@dataclass(frozen=True)
class LoginRequest:
    """What the user filled in: the account to try, and whether to keep its password."""

    account: Account
    remember_password: bool


LoginAttempt = Callable[[LoginRequest], Awaitable[str]]
"""Tries a login; returns what went wrong and what to do next, or "" once logged in."""


def server_of(jid: str) -> str:
    """The domain of ``jid``: where its server is found unless told otherwise."""
    return jid.partition("@")[2].partition("/")[0]


def account_settings(account: Account, password_in_keyring: bool = False) -> AccountSettings:
    """How the settings file keeps ``account`` (its host only where it is not the JID's domain)."""
    host = "" if account.host == server_of(account.jid) else account.host
    return AccountSettings(jid=account.jid, host=host, port=account.port, ca_file=account.ca_file,
                           password_in_keyring=password_in_keyring)


class LoginScreen(Screen[None]):
    """Account, password and server; Enter or the button logs in."""

    DEFAULT_CSS = """
    LoginScreen { align: center middle; }
    LoginScreen > Vertical { width: 72; max-width: 100%; height: auto; max-height: 100%;
                             overflow-y: auto; border: tall $accent; background: $surface;
                             padding: 0 1; }
    LoginScreen Horizontal { height: auto; }
    LoginScreen .label { width: 14; padding: 1 0 0 0; text-style: bold; }
    LoginScreen Input { width: 1fr; }
    LoginScreen #login-port { width: 12; }
    LoginScreen .hint { color: $text-muted; }
    LoginScreen #login-keyring { color: $text-muted; padding: 0 0 0 4; }
    LoginScreen #login-message { display: none; }
    LoginScreen #login-message.shown { display: block; }
    LoginScreen #login-message.error { color: $error; }
    LoginScreen Button { margin: 1 0 0 0; }
    """

    BINDINGS = [Binding("ctrl+q", "app.quit", "Quit")]

    def __init__(self, attempt: LoginAttempt, keyring_reason: str,
                 saved: AccountSettings | None = None, message: str = "",
                 error: bool = False) -> None:
        """``keyring_reason``: why no password can be remembered here ("" where it can);
        ``saved``: the account to fill in (of the settings file, or the one just logged out);
        ``message``: what to say first (``error``: a failure, e.g. a refused password)."""
        super().__init__()
        self.attempt = attempt
        self.keyring_reason = keyring_reason
        self.saved = saved
        self.message = message
        self.error = error

    def compose(self) -> ComposeResult:
        saved = self.saved
        with Vertical():
            yield Static(Text("Log in to Switchboard", style="bold"))
            yield Static("", id="login-message")  # on top: read first, also where the form scrolls
            with Horizontal():
                yield Static("Account", classes="label")
                yield Input(saved.jid if saved else "", placeholder="alice@example.org",
                            id="login-jid")
            with Horizontal():
                yield Static("Password", classes="label")
                yield Input(password=True, placeholder="the account's password", id="login-password")
            with Horizontal():
                yield Static("Server", classes="label")
                yield Input(saved.host if saved else "", placeholder="the account's domain",
                            id="login-host")
                yield Input(str(saved.port) if saved else "5222", type="integer",
                            placeholder="5222", id="login-port")
            with Horizontal():
                yield Static("CA file", classes="label")
                yield Input(str(saved.ca_file) if saved and saved.ca_file else "",
                            placeholder="optional: certificate of a private server", id="login-ca-file")
            yield Checkbox("Remember password in the system keyring", id="login-remember",
                           value=bool(saved and saved.password_in_keyring and not self.keyring_reason),
                           disabled=bool(self.keyring_reason))
            yield Static(self.keyring_reason, id="login-keyring")
            yield Button("Log in", variant="primary", id="login-submit")
            yield Static("Tab: next field · Enter: log in · Ctrl+Q: quit", classes="hint")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#login-password" if self.saved else "#login-jid", Input).focus()
        if self.message:
            self.say(self.message, self.error)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "login-jid":
            domain = server_of(event.value.strip())
            self.query_one("#login-host", Input).placeholder = domain or "the account's domain"

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self.log_in()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "login-submit":
            self.log_in()

    def say(self, text: str, error: bool = False) -> None:
        """Show ``text`` under the form (in the error colour for a failure)."""
        message = self.query_one("#login-message", Static)
        message.update(text)
        message.set_class(error, "error")
        message.set_class(bool(text), "shown")

    def request(self) -> LoginRequest | str:
        """The filled-in form as a request, or what is missing."""
        jid = self.query_one("#login-jid", Input).value.strip()
        password = self.query_one("#login-password", Input).value
        host = self.query_one("#login-host", Input).value.strip()
        port_text = self.query_one("#login-port", Input).value.strip() or "5222"
        ca_text = self.query_one("#login-ca-file", Input).value.strip()
        user, _, domain = jid.partition("@")
        if not user or not domain or "@" in domain:
            return "Type the account as name@domain, e.g. alice@example.org."
        if not password:
            return "Type the account's password."
        port = int(port_text) if port_text.isdigit() else 0
        if not 0 < port < 65536:
            return "The port is a number from 1 to 65535; XMPP servers usually listen on 5222."
        ca_file = Path(ca_text).expanduser() if ca_text else None
        if ca_file is not None and not ca_file.is_file():
            return f"There is no file {ca_file}; give the server's CA certificate, or leave it empty."
        remember = self.query_one("#login-remember", Checkbox)
        return LoginRequest(Account(jid, password, host or server_of(jid), port, ca_file),
                            remember.value and not remember.disabled)

    def log_in(self) -> None:
        """Check the form and try it; a failure is shown and the screen stays."""
        button = self.query_one("#login-submit", Button)
        if button.disabled:
            return  # a try is under way
        request = self.request()
        if isinstance(request, str):
            self.say(request, error=True)
            return
        button.disabled = True
        self.say(f"Connecting to {request.account.host}:{request.account.port}…")

        async def run() -> None:
            problem = await self.attempt(request)
            if problem and self.is_attached:
                button.disabled = False
                self.say(problem, error=True)

        # the app's worker: a successful login replaces this screen, which would cancel its own
        self.app.run_worker(run(), group="login", exclusive=True)
