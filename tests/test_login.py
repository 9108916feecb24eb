"""The login screen on first run, after a refused saved password and after logging out (another
account then logs in), against the real ejabberd, and the password in the system keyring.

The keyring is a real backend registered with ``keyring.set_keyring``: keyrings.alt's plain-file
keyring in the test's directory (present), or keyring's *fail* backend, which a headless machine
has (absent).
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail
from keyrings.alt.file import PlaintextKeyring
from textual.widgets import Checkbox, Input, Static

from tui.__main__ import saved_login
from tui.app import SwitchboardApp
from tui.passwords import SERVICE
from tui.screens.login import LoginScreen
from tui.settings import ClientSettings

from .watch import SessionWatcher


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test's own settings file (not there yet)."""
    path = tmp_path / "client.json"
    monkeypatch.setenv("SWITCHBOARD_CLIENT_CONFIG", str(path))
    return path


@pytest.fixture
def file_keyring(tmp_path: Path) -> Iterator[PlaintextKeyring]:
    """keyrings.alt's plain-file keyring, its file in the test's directory."""
    before = keyring.get_keyring()
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring.cfg")
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
        make_account, stack_settings, config_file, file_keyring):
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
    assert file_keyring.get_password(SERVICE, str(alice.jid)) == alice.password

    account = saved_login(ClientSettings.load())  # the next start: straight in
    assert account is not None and account.password == alice.password
    again = SwitchboardApp(account)
    watch = SessionWatcher(again.session)
    async with again.run_test(size=(100, 30)) as pilot:
        await watch.until(lambda: again.session.state == "online", what="online again")
        await pilot.pause()
        assert again.screen is again.main_screen


async def test_wrong_password_says_so_and_stays(make_account, stack_settings, config_file,
                                                file_keyring):
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
    assert file_keyring.get_password(SERVICE, str(alice.jid)) in (None, alice.password)


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


async def test_refused_saved_password_goes_back_to_the_login_screen(
        make_account, stack_settings, config_file, file_keyring):
    alice = make_account("alice")
    ClientSettings.model_validate({"account": {
        "jid": str(alice.jid), "host": stack_settings.bind_ip, "port": stack_settings.c2s_port,
        "ca_file": str(stack_settings.ca_file), "password_in_keyring": True}}).save()
    file_keyring.set_password(SERVICE, str(alice.jid), "the-old-password")  # changed elsewhere since

    account = saved_login(ClientSettings.load())
    assert account is not None and account.password == "the-old-password"
    app = SwitchboardApp(account)
    async with app.run_test(size=(100, 30)) as pilot:
        await asyncio.wait_for(app.workers.wait_for_complete(), 30)  # the connect attempt
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, LoginScreen), type(screen).__name__
        assert f"refused the password for {alice.jid} — type it again" in message(app)
        assert screen.query_one("#login-jid", Input).value == str(alice.jid)
        assert screen.query_one("#login-port", Input).value == str(stack_settings.c2s_port)
        assert screen.query_one("#login-password", Input).has_focus
        assert screen.query_one("#login-remember", Checkbox).value  # kept in the keyring again
        with pytest.raises(AttributeError):
            app.session  # noqa: B018 — the refused session is gone

        await pilot.press(*alice.password, "enter")
        await asyncio.wait_for(app.workers.wait_for_complete(), 30)
        await pilot.pause()
        assert app.screen is app.main_screen, message(app)
        assert app.session.state == "online"
    assert file_keyring.get_password(SERVICE, str(alice.jid)) == alice.password


async def run_palette(pilot, command: str) -> None:
    """Run ``command`` from the command palette, as a user types it."""
    await pilot.press("ctrl+p", *command)
    await pilot.app.workers.wait_for_complete()  # the palette's search
    await pilot.press("enter")
    await asyncio.wait_for(pilot.app.workers.wait_for_complete(), 30)
    await pilot.pause()


async def test_log_out_then_another_account_logs_in_without_the_first_ones_state(
        pair, make_account, raw_client, stack_settings, config_file, file_keyring):
    alice, bob = pair
    carol = make_account("carol")  # a stranger who writes to alice only
    app = SwitchboardApp(None)
    async with app.run_test(size=(100, 30)) as pilot:
        await fill_in(pilot, str(alice.jid), alice.password, stack_settings.bind_ip,
                      stack_settings.c2s_port, stack_settings.ca_file, remember=True)
        assert app.screen is app.main_screen, message(app)
        first = app.session
        watch = SessionWatcher(first)

        bob_phone = await raw_client(bob, "phone")  # watches alice's presence
        seen: dict[str, asyncio.Future[str]] = {
            kind: asyncio.get_running_loop().create_future() for kind in ("available", "unavailable")}
        for kind, future in seen.items():
            bob_phone.add_event_handler(f"presence_{kind}", lambda p, f=future: (
                p["from"].bare == alice.jid.bare and not f.done() and f.set_result(str(p["from"]))))
        first.set_presence(first.me.show)  # bob's new device hears alice is there
        alice_device = await asyncio.wait_for(seen["available"], 10)

        carol_pc = await raw_client(carol, "pc")
        carol_pc.send_message(mto=alice.jid.bare, mbody="alice-only secret", mtype="chat")
        await watch.until(lambda: carol.jid.bare in first.conversations, what="carol's message")
        await watch.until(lambda: app.notifier.shown, what="the toast of carol's message")
        assert await first.search.search("secret")  # it is in alice's search index

        first_outbox = first.outbox.store.path
        await run_palette(pilot, "Log out")
        screen = app.screen
        assert isinstance(screen, LoginScreen), type(screen).__name__
        assert f"Logged out of {alice.jid}" in message(app)
        assert screen.query_one("#login-jid", Input).value == str(alice.jid)
        assert await asyncio.wait_for(seen["unavailable"], 10) == alice_device
        assert first.state == "offline" and first.stream.transport is None  # the stream is closed
        assert file_keyring.get_password(SERVICE, str(alice.jid)) == alice.password  # kept
        with pytest.raises(AttributeError):
            app.notifier  # noqa: B018 — the notifier went with the session

        await fill_in(pilot, str(bob.jid), bob.password, stack_settings.bind_ip,
                      stack_settings.c2s_port, stack_settings.ca_file)
        assert app.screen is app.main_screen, message(app)
        second = app.session
        assert second is not first and second.jid.bare == bob.jid.bare
        assert carol.jid.bare not in second.conversations and carol.jid.bare not in second.contacts
        roster_ids = [o.id for o in app.main_screen.query_one("#roster").options if o.id]
        assert carol.jid.bare not in roster_ids and alice.jid.bare in roster_ids
        assert not await second.search.search("secret")  # bob's own index
        assert not second.outbox.store.waiting()
        assert second.outbox.store.path != first_outbox
        assert app.notifier.shown == []

        carol_pc.send_message(mto=alice.jid.bare, mbody="another secret", mtype="chat")
        bob_phone.send_message(mto=bob.jid.bare, mbody="note to self", mtype="chat")
        await SessionWatcher(second).until(
            lambda: any("note to self" in m.body for c in second.conversations.values()
                        for m in c.messages), what="bob's own message")
        await pilot.pause()
        assert all("secret" not in n.text for n in app.notifier.shown)
        assert first.conversations[carol.jid.bare].messages[-1].body == "alice-only secret"

    saved = json.loads(config_file.read_text())  # the next start is bob's
    assert saved["account"]["jid"] == str(bob.jid)


async def test_log_out_and_forget_the_password(make_account, stack_settings, config_file,
                                               file_keyring):
    alice = make_account("alice")
    app = SwitchboardApp(None)
    async with app.run_test(size=(100, 30)) as pilot:
        await fill_in(pilot, str(alice.jid), alice.password, stack_settings.bind_ip,
                      stack_settings.c2s_port, stack_settings.ca_file, remember=True)
        assert file_keyring.get_password(SERVICE, str(alice.jid)) == alice.password
        await run_palette(pilot, "Log out and forget the password")
        assert isinstance(app.screen, LoginScreen)
        assert "forgot its password" in message(app)
        assert not app.screen.query_one("#login-remember", Checkbox).value
    assert file_keyring.get_password(SERVICE, str(alice.jid)) is None
    assert json.loads(config_file.read_text())["account"]["password_in_keyring"] is False
    assert saved_login(ClientSettings.load()) is None  # the next start asks for it


def test_login_screen_snapshot(snap_compare, config_file, no_keyring):
    assert snap_compare(SwitchboardApp(None), terminal_size=(100, 30))
