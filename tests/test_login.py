"""The login screen on first run, against the real ejabberd, and the password in the system keyring.

The keyring is keyring's own extension API: a tiny in-memory backend registered with
``keyring.set_keyring`` (present), or keyring's *fail* backend, which a headless machine has (absent).
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail
from keyring.errors import PasswordDeleteError
from textual.widgets import Checkbox, Input, Static

from tui.__main__ import saved_login
from tui.app import SwitchboardApp
from tui.passwords import SERVICE
from tui.screens.login import LoginScreen
from tui.settings import ClientSettings

from .watch import SessionWatcher


class MemoryKeyring(KeyringBackend):
    """A keyring that keeps passwords in a dict, for the length of a test."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.kept: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.kept.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.kept[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.kept.pop((service, username), None) is None:
            raise PasswordDeleteError(username)


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test's own settings file (not there yet)."""
    path = tmp_path / "client.json"
    monkeypatch.setenv("SWITCHBOARD_CLIENT_CONFIG", str(path))
    return path


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    before = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(before)


@pytest.fixture
def no_keyring() -> Iterator[None]:
    before = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(before)


def free_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def fill_in(pilot, jid: str, password: str, host: str, port: int, ca_file: Path | None,
                  remember: bool = False) -> None:
    """Type the form field by field, as a user does, and press Enter."""
    screen = pilot.app.screen
    assert isinstance(screen, LoginScreen)
    fields = {"#login-jid": jid, "#login-password": password, "#login-host": host,
              "#login-port": str(port), "#login-ca-file": str(ca_file or "")}
    for selector, text in fields.items():
        field = screen.query_one(selector, Input)
        field.focus()
        field.clear()
        await pilot.press(*text) if text else None
    if remember:
        screen.query_one("#login-remember", Checkbox).focus()
        await pilot.press("space")
    screen.query_one("#login-password", Input).focus()
    await pilot.press("enter")
    await asyncio.wait_for(pilot.app.workers.wait_for_complete(), 30)
    await pilot.pause()


def message(app: SwitchboardApp) -> str:
    return str(app.screen.query_one("#login-message", Static).render())


async def test_first_run_logs_in_saves_account_and_next_start_skips_login(
        make_account, stack_settings, config_file, memory_keyring):
    alice = make_account("alice")
    app = SwitchboardApp(None)
    async with app.run_test(size=(100, 30)) as pilot:
        assert isinstance(app.screen, LoginScreen)
        assert not app.screen.query_one("#login-remember", Checkbox).disabled
        await fill_in(pilot, str(alice.jid), alice.password, stack_settings.bind_ip,
                      stack_settings.c2s_port, stack_settings.ca_file, remember=True)
        assert app.screen is app.main_screen, message(app)
        assert app.session.state == "online"

    saved = json.loads(config_file.read_text())
    assert saved["account"]["jid"] == str(alice.jid)
    assert saved["account"]["port"] == stack_settings.c2s_port
    assert saved["account"]["password_in_keyring"] is True
    assert alice.password not in config_file.read_text()
    assert memory_keyring.kept[(SERVICE, str(alice.jid))] == alice.password

    account = saved_login(ClientSettings.load())  # the next start: straight in
    assert account is not None and account.password == alice.password
    again = SwitchboardApp(account)
    watch = SessionWatcher(again.session)
    async with again.run_test(size=(100, 30)) as pilot:
        await watch.until(lambda: again.session.state == "online", what="online again")
        await pilot.pause()
        assert again.screen is again.main_screen


async def test_wrong_password_says_so_and_stays(make_account, stack_settings, config_file,
                                                memory_keyring):
    alice = make_account("alice")
    app = SwitchboardApp(None)
    async with app.run_test(size=(100, 30)) as pilot:
        await fill_in(pilot, str(alice.jid), "not-the-password", stack_settings.bind_ip,
                      stack_settings.c2s_port, stack_settings.ca_file, remember=True)
        assert isinstance(app.screen, LoginScreen)
        assert "refused the password" in message(app)
        assert "Check the account and the password" in message(app)
        assert not app.screen.query_one("#login-submit").disabled  # ready for another try

        # the right password on the same screen then gets in
        password = app.screen.query_one("#login-password", Input)
        password.focus()
        password.clear()
        await pilot.press(*alice.password, "enter")
        await asyncio.wait_for(app.workers.wait_for_complete(), 30)
        await pilot.pause()
        assert app.screen is app.main_screen
    assert not memory_keyring.kept or memory_keyring.kept == {(SERVICE, str(alice.jid)): alice.password}


async def test_unreachable_server_says_so_and_stays(make_account, stack_settings, config_file,
                                                    no_keyring):
    app = SwitchboardApp(None)
    async with app.run_test(size=(100, 30)) as pilot:
        await fill_in(pilot, "alice@localhost", "secret", "127.0.0.1", free_port(), None)
        assert isinstance(app.screen, LoginScreen)
        assert "Cannot reach the server" in message(app)
        assert "host and port" in message(app)
    assert not config_file.exists()


async def test_form_problems_are_said_before_connecting(config_file, no_keyring):
    app = SwitchboardApp(None)
    async with app.run_test(size=(100, 30)) as pilot:
        await fill_in(pilot, "alice", "secret", "", 5222, None)
        assert "name@domain" in message(app)
        await fill_in(pilot, "alice@example.org", "", "", 5222, None)
        assert "password" in message(app)
        await fill_in(pilot, "alice@example.org", "secret", "", 5222, Path("/nonexistent/ca.pem"))
        assert "There is no file" in message(app)
        host = app.screen.query_one("#login-host", Input)
        assert host.placeholder == "example.org"  # the server defaults to the JID's domain


async def test_without_keyring_the_checkbox_says_why_and_no_password_is_kept(
        make_account, stack_settings, config_file, no_keyring):
    alice = make_account("alice")
    app = SwitchboardApp(None)
    async with app.run_test(size=(100, 30)) as pilot:
        assert app.screen.query_one("#login-remember", Checkbox).disabled
        assert "No system keyring" in str(app.screen.query_one("#login-keyring", Static).render())
        await fill_in(pilot, str(alice.jid), alice.password, stack_settings.bind_ip,
                      stack_settings.c2s_port, stack_settings.ca_file, remember=True)
        assert app.screen is app.main_screen, message(app)
    text = config_file.read_text()
    assert alice.password not in text
    assert json.loads(text)["account"]["password_in_keyring"] is False

    assert saved_login(ClientSettings.load()) is None  # the next start asks for the password only
    again = SwitchboardApp(None)
    async with again.run_test(size=(100, 30)) as pilot:
        screen = again.screen
        assert isinstance(screen, LoginScreen)
        assert screen.query_one("#login-jid", Input).value == str(alice.jid)
        assert screen.query_one("#login-password", Input).has_focus
        await pilot.press(*alice.password, "enter")
        await asyncio.wait_for(again.workers.wait_for_complete(), 30)
        await pilot.pause()
        assert again.screen is again.main_screen, message(again)


def test_login_screen_snapshot(snap_compare, config_file, no_keyring):
    assert snap_compare(SwitchboardApp(None), terminal_size=(100, 30))
