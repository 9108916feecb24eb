"""Cancelling a file transfer (CH7) against a real ejabberd of this module's own, whose upload
links lead through a relay (:mod:`tests.netcut`) in front of its HTTP listener: holding the relay
keeps an upload or download under way for as long as the test needs, without any sleep. Bob is a
bare slixmpp client, the other side that must see nothing broken."""

from __future__ import annotations

import asyncio
import contextlib
import io
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from slixmpp import JID

from tui.app import SwitchboardApp
from tui.screens.files import FilesScreen
from tui.session import Account as SessionAccount
from tui.session import Show
from tui.session.attachment import FileState
from xmpp_components.stack.ejabberd import EjabberdServer
from xmpp_components.stack.settings import StackSettings, private_settings

from .clients import RawClient
from .conftest import Account
from .netcut import Relay
from .test_files import downloads  # noqa: F401  (the fixture)
from .watch import SessionWatcher

SIZE = 16_000_000
"""Bytes of the file moved: several times what the socket buffers before a held relay take."""


class UploadThroughRelay(StackSettings):
    """A private stack whose upload and download links name the relay's port, not ejabberd's."""

    relay_port: int = 0

    @property
    def upload_url(self) -> str:
        """The relay in front of ejabberd's HTTP listener."""
        return f"http://{self.bind_ip}:{self.relay_port}/upload"


@pytest.fixture(scope="module")
async def relayed(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[EjabberdServer, Relay]]:
    """The module's ejabberd and the relay its upload links lead through."""
    base = private_settings(tmp_path_factory.mktemp("relayed-upload"))
    relay = Relay(base.bind_ip, base.http_port, buffer=65536)
    await relay.start()
    server = EjabberdServer(UploadThroughRelay(**base.model_dump(), relay_port=relay.port))
    await asyncio.to_thread(server.start)
    yield server, relay
    await relay.close()
    await asyncio.to_thread(server.stop)


@pytest.fixture
async def link(relayed: tuple[EjabberdServer, Relay]) -> AsyncIterator[Relay]:
    """The relay, passing bytes again after the test."""
    yield relayed[1]
    relayed[1].flow()


@contextlib.asynccontextmanager
async def chatting(server: EjabberdServer) -> AsyncIterator[tuple[SwitchboardApp, object, SessionWatcher,
                                                                    RawClient, Account, Account]]:
    """Alice in our client with the conversation with bob open; bob online in a bare client."""
    accounts = []
    for prefix in ("alice", "bob"):
        user, password = f"{prefix}-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
        server.register(user, password)
        accounts.append(Account(JID(f"{user}@{server.settings.domain}"), password))
    alice, bob = accounts
    server.ensure_group(f"team-{uuid.uuid4().hex[:6]}", "Team", [alice.jid.user, bob.jid.user])
    s = server.settings
    peer = RawClient(f"{bob.jid.bare}/raw", bob.password, s, plugins=("xep_0066", "xep_0363"))
    await peer.start()
    app = SwitchboardApp(SessionAccount(str(alice.jid), alice.password, s.bind_ip, s.c2s_port, s.ca_file))
    watch = SessionWatcher(app.session)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await watch.until(lambda: app.session.state == "online", what="alice online")
            await watch.until(lambda: bob.jid.bare in app.session.contacts
                              and app.session.contacts[bob.jid.bare].show is Show.AVAILABLE,
                              what="bob online")
            app.main_screen.open_conversation(bob.jid.bare)
            await pilot.pause()
            yield app, pilot, watch, peer, alice, bob
    finally:
        await peer.stop()


async def test_an_upload_cancelled_midway_shares_nothing(
        relayed, link, downloads, tmp_path: Path) -> None:  # noqa: F811
    server, _ = relayed
    backup = tmp_path / "backup.tar"
    with backup.open("wb") as sparse:
        sparse.truncate(SIZE)
    async with chatting(server) as (app, pilot, watch, peer, alice, bob):
        session = app.session
        screen = app.main_screen
        assert not screen.check_action("cancel_transfer", ())  # nothing to cancel yet
        link.hold()  # the upload's bytes stop in the relay: it stays under way
        await pilot.press("ctrl+t", *str(backup), "enter")
        transfer = await watch.until(
            lambda: next((t for t in session.files.running(bob.jid.bare) if t.done), None),
            what="the upload under way")
        await pilot.pause()
        assert screen.check_action("cancel_transfer", ())
        assert "Cancel transfer" in {b.binding.description for b in screen.active_bindings.values()
                                     if b.enabled and b.binding.show}
        await pilot.press("ctrl+g")
        await watch.until(lambda: transfer.state == "cancelled", what="upload cancelled")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert 0 < transfer.done < SIZE
        assert any(n.title == "Upload cancelled" and "Nothing was sent" in n.message
                   for n in app._notifications)
        assert not screen.check_action("cancel_transfer", ())
        assert not session.conversation(bob.jid.bare).messages

        link.flow()
        await link.until_idle()  # what the relay held reached ejabberd, then the cut connection
        # ejabberd serves the part it got under the slot's address until it sees the connection
        # cut, then deletes it (docs/decisions.md); what matters here is that nobody is told it
        session.send_chat(bob.jid.bare, "never mind, I will bring it on a stick")
        first = await asyncio.wait_for(peer.inbox.get(), 15)  # nothing came before it
        assert first["body"] == "never mind, I will bring it on a stick" and not first["oob"]["url"]
        assert transfer.url not in {m.body for m in session.conversation(bob.jid.bare).messages}


async def test_a_download_cancelled_midway_removes_the_partial_file_and_can_be_done_again(
        relayed, link, downloads) -> None:  # noqa: F811
    server, _ = relayed
    content = b"\x00" * SIZE
    async with chatting(server) as (app, pilot, watch, peer, alice, bob):
        url = await peer.plugin["xep_0363"].upload_file(
            "site-photos.zip", size=SIZE, content_type="application/zip",
            input_file=io.BytesIO(content), timeout=30)
        shared = peer.make_message(mto=JID(alice.jid.bare), mbody=url, mtype="chat")
        shared["oob"]["url"] = url
        shared.send()
        conversation = app.session.conversation(bob.jid.bare)
        await watch.until(lambda: conversation.messages
                          and conversation.messages[-1].attachment is not None
                          and conversation.messages[-1].attachment.size == SIZE,
                          what="bob's file with its size")
        attachment = conversation.messages[-1].attachment
        part = downloads / "site-photos.zip.part"

        link.hold(after=1_000_000)  # a megabyte gets through, then the download stands still
        await pilot.press("ctrl+l")
        assert isinstance(app.screen, FilesScreen)
        await pilot.press("d")
        await watch.until(lambda: attachment.state is FileState.DOWNLOADING and attachment.done,
                          what="the download under way")
        assert part.stat().st_size > 0
        await pilot.press("x")
        await watch.until(lambda: attachment.state is FileState.REMOTE, what="download cancelled")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not part.exists() and not (downloads / "site-photos.zip").exists()
        assert any(n.title == "Download cancelled" for n in app._notifications)
        (cancelled,) = [t for t in app.session.files.transfers.values() if not t.upload]
        assert cancelled.state == "cancelled" and 0 < cancelled.done < SIZE
        assert "x: cancel" in str(app.screen.query_one("#files-hint").render())

        link.flow()
        await pilot.press("d")
        await watch.until(lambda: attachment.state is FileState.SAVED, timeout=30,
                          what="downloaded after all")
        saved = downloads / "site-photos.zip"
        assert attachment.local_path == saved and saved.stat().st_size == SIZE
        assert saved.read_bytes() == content
