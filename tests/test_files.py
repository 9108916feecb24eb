"""Files both ways through the real ejabberd (CH7): alice in our client, bob a bare slixmpp client we
did not write, which uploads with slixmpp's own XEP-0363 plugin and downloads over plain HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import struct
import urllib.request
import zlib
from urllib.parse import urlsplit

import pytest
from slixmpp import JID

from tui.app import SwitchboardApp
from tui.screens.files import AttachDialog, FilesScreen
from tui.session import Show
from tui.session.attachment import FileState
from tui.session.files import TransferChanged
from tui.settings import ClientSettings, FileSettings
from tui.widgets.chat import MessageLog

from .conftest import session_account
from .watch import SessionWatcher


def png(width: int, height: int) -> bytes:
    """A small RGB picture: red rising to the right, green downwards."""
    rows = b"".join(b"\x00" + b"".join(bytes((x * 255 // width, y * 255 // height, 90))
                                       for x in range(width)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def fetch(url: str) -> bytes:
    """GET from the stack's own HTTP listener (loopback only)."""
    assert urlsplit(url).hostname == "127.0.0.1", url
    with urllib.request.urlopen(url, timeout=10) as response:
        return bytes(response.read())


@pytest.fixture
def downloads(tmp_path, monkeypatch):
    """Alice's client saves downloads here (its settings file names the folder)."""
    folder = tmp_path / "downloads"
    path = tmp_path / "client.json"
    ClientSettings(files=FileSettings(download_dir=folder)).save_to(path)
    monkeypatch.setenv("SWITCHBOARD_CLIENT_CONFIG", str(path))
    return folder


@contextlib.asynccontextmanager
async def chatting(alice, bob, settings, raw_client, *bob_plugins: str):
    """Alice in our client with the conversation with bob open; bob online in a bare client."""
    peer = await raw_client(bob, plugins=bob_plugins)
    app = SwitchboardApp(session_account(alice, settings))
    watch = SessionWatcher(app.session)
    async with app.run_test(size=(100, 30)) as pilot:
        await watch.until(lambda: app.session.state == "online", what="alice online")
        await watch.until(lambda: bob.jid.bare in app.session.contacts
                          and app.session.contacts[bob.jid.bare].show is Show.AVAILABLE, what="bob online")
        app.main_screen.open_conversation(bob.jid.bare)
        await pilot.pause()
        yield app, pilot, watch, peer


def log_text(app: SwitchboardApp) -> str:
    log = app.main_screen.query_one(MessageLog)
    assert log.conversation is not None
    return "\n".join("\n".join(log.lines_of(m)) for m in log.conversation.messages)


async def test_we_send_a_file_with_progress_and_a_foreign_client_downloads_the_same_bytes(
        pair, raw_client, stack_settings, downloads, tmp_path):
    alice, bob = pair
    content = os.urandom(3_000_000)
    report = tmp_path / "quarterly report.bin"
    report.write_bytes(content)
    async with chatting(alice, bob, stack_settings, raw_client) as (app, pilot, watch, peer):
        seen: list[tuple[int, str]] = []  # (bytes sent, state) as each progress event came
        app.session.subscribe(lambda e: isinstance(e, TransferChanged)
                              and seen.append((e.transfer.done, e.transfer.state)))
        await pilot.press("ctrl+t")
        assert isinstance(app.screen, AttachDialog)
        await pilot.press(*str(tmp_path / "quarterly"), "tab", "enter")  # Tab completes the name
        received = await asyncio.wait_for(peer.inbox.get(), 20)

        url = received["body"]
        assert received["oob"]["url"] == url  # XEP-0066: other clients show a file
        assert url.endswith("/quarterly_report.bin")  # ejabberd's name for it
        assert await asyncio.to_thread(fetch, url) == content

        assert seen[0] == (0, "running") and seen[-1] == (len(content), "done")
        steps = [done for done, _state in seen]
        assert len(set(steps)) > 20 and steps == sorted(steps)  # progress moved in steps, forwards
        message = app.session.conversation(bob.jid.bare).messages[-1]
        assert message.attachment is not None and message.attachment.size == len(content)
        await pilot.pause()
        shown = log_text(app)
        assert "📎 quarterly report.bin" in shown and "3.0 MB" in shown


async def test_a_foreign_client_shares_files_and_we_list_preview_and_download_them(
        pair, raw_client, stack_settings, downloads, monkeypatch):
    alice, bob = pair
    monkeypatch.setenv("COLORTERM", "truecolor")  # a terminal that shows pictures
    content = os.urandom(700_000)
    picture = png(48, 24)
    async with chatting(alice, bob, stack_settings, raw_client, "xep_0066", "xep_0363") as (
            app, pilot, watch, peer):
        upload = peer.plugin["xep_0363"].upload_file
        # a bare URL without OOB, as some clients send it, is a file too
        url = await upload("minutes.dat", size=len(content), content_type="application/octet-stream",
                           input_file=io.BytesIO(content), timeout=10)
        peer.send_message(mto=JID(alice.jid.bare), mbody=url, mtype="chat")
        image_url = await upload("chart.png", size=len(picture), content_type="image/png",
                                 input_file=io.BytesIO(picture), timeout=10)
        shared = peer.make_message(mto=JID(alice.jid.bare), mbody=image_url, mtype="chat")
        shared["oob"]["url"] = image_url
        shared.send()

        conversation = app.session.conversation(bob.jid.bare)
        await watch.until(lambda: len(app.session.files.files_in(conversation)) == 2
                          and conversation.messages[-1].attachment.preview is not None,
                          what="both files, the picture (announced with OOB) with its preview")
        await pilot.pause()
        shown = log_text(app)
        assert "📎 minutes.dat  size unknown" in shown  # a bare link is not fetched from unasked
        assert "📎 chart.png  " in shown and "image/png" in shown
        assert "▀" * 20 in shown  # the picture, in half blocks

        await pilot.press("ctrl+l")  # opening the list asks the server for the sizes
        assert isinstance(app.screen, FilesScreen)
        await watch.until(lambda: conversation.messages[-2].attachment.size == len(content),
                          what="the size of the bare link's file")
        await pilot.pause()
        listed = [str(o.prompt) for o in app.screen.query_one("#files-list").options]
        assert "chart.png" in listed[0] and "minutes.dat" in listed[1]  # newest first
        assert "700.0 kB" in listed[1]
        await pilot.press("down", "d")
        first = conversation.messages[-2]
        await watch.until(lambda: first.attachment.state is FileState.SAVED, what="downloaded")
        saved = downloads / "minutes.dat"
        assert first.attachment.local_path == saved
        assert saved.read_bytes() == content
        assert any(isinstance(e, TransferChanged) and not e.transfer.upload and e.transfer.state == "done"
                   for e in watch.events)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert any(n.title == "Download finished" and str(saved) in n.message for n in app._notifications)
        assert "✓ saved to" in str(app.screen.query_one("#files-list").get_option_at_index(1).prompt)

        await pilot.press("d")  # the same file again: said, not downloaded twice
        await pilot.pause()
        assert sorted(p.name for p in downloads.iterdir()) == ["minutes.dat"]


async def test_missing_files_folders_and_too_large_files_say_what_to_do(
        pair, raw_client, stack_settings, downloads, tmp_path):
    alice, bob = pair
    too_large = tmp_path / "disk.img"
    with too_large.open("wb") as sparse:  # takes no space on disk
        sparse.truncate(104857600 + 1)
    async with chatting(alice, bob, stack_settings, raw_client) as (app, pilot, watch, peer):
        await pilot.press("ctrl+t", *str(tmp_path / "no-such-file.pdf"), "enter")
        dialog = app.screen
        assert isinstance(dialog, AttachDialog)  # stays open with the reason
        error = str(dialog.query_one("#attach-error").render())
        assert "There is no file" in error and "Check the path" in error
        dialog.query_one("Input").value = str(tmp_path)
        await pilot.press("enter")
        assert "is a folder; choose a file in it" in str(dialog.query_one("#attach-error").render())

        dialog.query_one("Input").value = str(too_large)
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        notes = [n.message for n in app._notifications if n.title == "File not sent"]
        assert notes and "the server takes files up to 104.9 MB" in notes[-1]
        assert "Send a smaller file" in notes[-1]
        assert peer.inbox.empty() and not app.session.conversation(bob.jid.bare).messages


async def test_a_file_gone_from_the_server_fails_with_the_next_step(pair, raw_client, stack_settings,
                                                                   downloads):
    alice, bob = pair
    gone = f"{stack_settings.upload_url}/0000deadbeef/expired.pdf"
    async with chatting(alice, bob, stack_settings, raw_client) as (app, pilot, watch, peer):
        peer.send_message(mto=JID(alice.jid.bare), mbody=gone, mtype="chat")
        conversation = app.session.conversation(bob.jid.bare)
        await watch.until(lambda: conversation.messages and conversation.messages[-1].attachment,
                          what="file received")
        await pilot.press("ctrl+l", "d")
        message = conversation.messages[-1]
        await watch.until(lambda: message.attachment.state is FileState.FAILED, what="download failed")
        assert "HTTP 404" in message.attachment.error and "ask the sender" in message.attachment.error
        assert not downloads.exists() or not list(downloads.iterdir())  # no half file left
        await app.workers.wait_for_complete()
        assert any(n.title == "Download failed" for n in app._notifications)
