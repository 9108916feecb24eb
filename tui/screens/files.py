"""Files in conversations (CH7): Ctrl+T sends a file to the open contact or room (a path prompt
that completes names with Tab), Ctrl+L lists the files of the open conversation, where d or Enter
downloads the highlighted one to the download directory. Ctrl+G cancels the newest upload or
download of the open conversation (in the list, x or Ctrl+G cancels the highlighted file's
download). All are in the command palette.

The screens only ask the session (:class:`~tui.session.files.FileService`) and show its answers;
errors come back as :class:`~tui.session.files.FileError` texts that say what to do next.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tui.session import ChatSession
from tui.session.attachment import FileState, attachment_for, human_size
from tui.session.events import MessageChanged, SessionEvent
from tui.session.files import FileError, Transfer, TransferCancelled, TransferChanged
from tui.session.model import ChatMessage, Direction
from tui.widgets.chat.file_entry import TerminalPictures, entry_lines, preview_lines, status_line

from .commands import Command
from .room_dialogs import DIALOG_CSS

if TYPE_CHECKING:
    from textual.screen import Screen

    _Base = Screen[None]
else:
    _Base = object

log = logging.getLogger(__name__)

FILE_BINDINGS = [
    Binding("ctrl+t", "attach_file", "Send file"),
    Binding("ctrl+l", "files", "Files", show=False),
    Binding("ctrl+g", "cancel_transfer", "Cancel transfer"),
]
"""Keys of the main screen for files; the composer binds none, so they work while typing."""

FILE_ACTIONS = ("attach_file", "files")
"""Actions that need an open conversation."""


class PathSuggester(Suggester):
    """Completes the path typed so far with the first matching name in its folder."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        """``~/Doc`` → ``~/Documents/``; None when nothing (or more than the typed text) matches."""
        if not value:
            return None
        typed = Path(os.path.expanduser(value))
        folder, prefix = (typed, "") if value.endswith("/") else (typed.parent, typed.name)
        try:
            names = sorted(entry.name for entry in os.scandir(folder)
                           if entry.name.startswith(prefix) and (prefix.startswith(".")
                                                                 or not entry.name.startswith(".")))
        except OSError:
            return None
        if not names:
            return None
        rest = names[0][len(prefix):]
        suffix = "/" if (folder / names[0]).is_dir() else ""
        return value + rest + suffix if rest or suffix else None


class AttachDialog(ModalScreen[Path | None]):
    """Ask for the file to send; Tab completes, Enter checks the path and confirms, Esc cancels.

    A path that is missing, a folder or unreadable is said at once, and the dialog stays open."""

    DEFAULT_CSS = DIALOG_CSS.format(name="AttachDialog") + """
    AttachDialog #attach-error { color: $error; }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel"),
                Binding("tab", "complete", "Complete", priority=True, show=False)]

    def __init__(self, to_name: str, limit: str = "", title: str = "", verb: str = "send") -> None:
        """``title``: what the dialog asks (default: send a file to ``to_name``); ``verb``: what
        Enter does."""
        super().__init__()
        self.to_name = to_name
        self.limit = limit
        self.heading = title or f"Send a file to {to_name}"
        self.verb = verb

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.heading, style="bold"))
            yield Input(placeholder="Path, e.g. ~/Documents/report.pdf", suggester=PathSuggester(),
                        id="attach-path")
            yield Static("", id="attach-error")
            limit = f" · the server takes files up to {self.limit}" if self.limit else ""
            yield Static(f"Tab: complete · Enter: {self.verb} · Esc: cancel{limit}", classes="hint")

    def action_complete(self) -> None:
        """Take the suggested completion (Tab)."""
        field = self.query_one(Input)
        suggestion = field._suggestion
        if suggestion and suggestion != field.value:
            field.value = suggestion
            field.cursor_position = len(suggestion)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        from tui.session.files import FileService

        try:
            self.dismiss(FileService.check(event.value.strip().strip("'\"")))
        except FileError as error:
            self.query_one("#attach-error", Static).update(str(error))

    def action_cancel(self) -> None:
        self.dismiss(None)


def file_option(message: ChatMessage, names: dict[str, str]) -> Option:
    """One row of the files list: the file entry's first line, who shared it when, where it is."""
    attachment = attachment_for(message)
    assert attachment is not None
    outgoing = message.direction is Direction.OUTGOING
    who = "me" if outgoing else message.nick or names.get(message.sender, message.sender.split("@")[0])
    title = entry_lines(attachment, outgoing)[0]
    when = message.time.astimezone().strftime("%d %b %H:%M")
    prompt = Text.assemble(title, "\n   ", (f"{who} · {when} · ", "dim"),
                           status_line(attachment, outgoing, hint=""))
    return Option(prompt, id=message.id)


class FilesScreen(ModalScreen[None]):
    """The files of one conversation, newest first, with the picture of the highlighted image."""

    DEFAULT_CSS = """
    FilesScreen { align: center middle; }
    FilesScreen > Vertical { width: 96%; max-width: 120; height: 80%; border: tall $accent;
                             background: $surface; padding: 0 1; }
    FilesScreen OptionList { width: 1fr; height: 1fr; }
    FilesScreen #files-picture { width: 36; height: 1fr; padding: 0 1; }
    FilesScreen .hint { color: $text-muted; }
    """

    BINDINGS = [Binding("d,enter", "download", "Download"),
                Binding("x,ctrl+g", "cancel_transfer", "Cancel transfer"),
                Binding("escape", "dismiss", "Close")]

    def __init__(self, session: ChatSession, jid: str, title: str) -> None:
        super().__init__()
        self.session = session
        self.jid = jid
        self.title_text = title
        self._unsubscribe: Callable[[], None] | None = None
        self._stale = False

    @property
    def files(self) -> list[ChatMessage]:
        """The conversation's files, newest first."""
        return list(reversed(self.session.files.files_in(self.session.conversation(self.jid))))

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.title_text, style="bold"), id="files-title")
            with Horizontal():
                yield OptionList(id="files-list")
                yield Static("", id="files-picture")
            yield Static(f"d / Enter: download to {self.session.files.download_dir} · x: cancel · "
                         "Esc: close", classes="hint", id="files-hint")

    def on_mount(self) -> None:
        self._unsubscribe = self.session.subscribe(self._on_event)
        self._fill()
        files = self.query_one(OptionList)
        if files.option_count:
            files.highlighted = 0
        files.focus()
        for message in self.files:  # sizes of files shared before this run (history)
            self.session.files.probe(self.jid, message)

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()

    def _on_event(self, event: SessionEvent) -> None:
        if isinstance(event, (MessageChanged, TransferChanged)) and not self._stale:
            self._stale = True
            self.call_later(self._fill)

    def _fill(self) -> None:
        self._stale = False
        files = self.query_one(OptionList)
        keep = files.highlighted
        names = {c.jid: c.display_name for c in self.session.contacts.values()}
        files.set_options([file_option(m, names) for m in self.files])
        if not files.option_count:
            files.add_option(Option(Text("No files in this conversation yet; Ctrl+T sends one.",
                                         style="dim italic"), disabled=True))
        elif keep is not None:
            files.highlighted = min(keep, files.option_count - 1)
        self._show_picture()

    def on_option_list_option_highlighted(self, _event: OptionList.OptionHighlighted) -> None:
        self._show_picture()

    def on_option_list_option_selected(self, _event: OptionList.OptionSelected) -> None:
        self.action_download()

    def _highlighted(self) -> ChatMessage | None:
        option = self.query_one(OptionList).highlighted_option
        if option is None or option.id is None:
            return None
        return self.session.conversation(self.jid).by_id.get(option.id)

    def _show_picture(self) -> None:
        message = self._highlighted()
        attachment = attachment_for(message) if message is not None else None
        picture = self.query_one("#files-picture", Static)
        if attachment is None or not attachment.is_image:
            picture.update("")
        elif attachment.preview is not None and not TerminalPictures.note:
            picture.update(Text("\n").join(preview_lines(attachment.preview)))
        else:
            picture.update(Text(TerminalPictures.note or attachment.preview_note or
                                "no picture yet: d downloads it", style="dim italic"))

    def action_download(self) -> None:
        """Save the highlighted file in the download directory, with progress in the list."""
        message = self._highlighted()
        attachment = attachment_for(message) if message is not None else None
        if message is None or attachment is None:
            return
        if attachment.state is FileState.SAVED and attachment.local_path is not None \
                and attachment.local_path.exists():
            self.notify(f"{attachment.name} is here already: {attachment.local_path}", title="Files")
            return
        session, jid = self.session, self.jid

        async def download() -> None:
            try:
                path = await session.files.download(jid, message)
            except TransferCancelled as cancelled:
                self.app.notify(str(cancelled), title="Download cancelled")
                return
            except FileError as error:
                self.app.notify(str(error), title="Download failed", severity="error", timeout=20)
                return
            self.app.notify(f"{attachment.name} ({human_size(attachment.size)}) saved to {path}",
                            title="Download finished", timeout=10)

        self.app.run_worker(download(), group="files")

    def action_cancel_transfer(self) -> None:
        """Cancel the highlighted file's download, else the newest transfer of the conversation."""
        message = self._highlighted()
        attachment = attachment_for(message) if message is not None else None
        running = self.session.files.running(self.jid)
        mine = [t for t in running if attachment is not None and not t.upload
                and t.url == attachment.url]
        cancel_newest(self.session, mine or running, self.notify)


def cancel_newest(session: ChatSession, transfers: list[Transfer],
                  notify: Callable[..., object]) -> None:
    """Cancel the last of ``transfers`` (whoever started it tells how it ended), or ``notify``
    that nothing runs."""
    if transfers:
        session.files.cancel(transfers[-1].id)
    else:
        notify("No upload or download is running here.", severity="warning")


class FileActions(_Base):
    """File keys and dialogs for the main screen (mixed into it)."""

    session: ChatSession
    open_jid: str | None

    def on_mount(self) -> None:
        """Learn whether this terminal can show pictures (file entries then say why not)."""
        TerminalPictures.check(self.app.no_color, self.app.console.color_system)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """File keys only with an open conversation (hidden from the footer otherwise); cancel
        only while an upload or download of it runs."""
        if action == "cancel_transfer":
            return self.open_jid is not None and bool(self.session.files.running(self.open_jid))
        if action in FILE_ACTIONS:
            return self.open_jid is not None
        return super().check_action(action, parameters)

    def file_commands(self) -> list[Command]:
        """The file actions that apply now, for the command palette: (title, help, callback)."""
        if self.open_jid is None:
            return []
        commands: list[Command] = [
            ("Send a file", "Upload a file and share it in the open conversation (Ctrl+T)",
             self.action_attach_file),
            ("Files of this conversation", "List the files shared here; d downloads one (Ctrl+L)",
             self.action_files)]
        if self.session.files.running(self.open_jid):
            commands.append(("Cancel file transfer", "Stop the newest upload or download here; "
                             "nothing half-sent is shared, no partial file kept here (Ctrl+G)",
                             self.action_cancel_transfer))
        return commands

    def _peer_name(self, jid: str) -> str:
        room = self.session.rooms.by_jid.get(jid)
        if room is not None:
            return room.display_name
        contact = self.session.contacts.get(jid)
        return contact.display_name if contact is not None else jid

    def action_attach_file(self) -> None:
        """Ctrl+T: ask for a file and send it to the open conversation."""
        jid = self.open_jid
        if jid is None:
            return
        if self.session.state != "online":
            self.notify("Not connected: files need the server. Try again once the top line says "
                        "online.", severity="warning")
            return
        service = self.session.files._service
        limit = human_size(service.max_size) if service and service.max_size else ""
        session = self.session

        async def send(path: Path) -> None:
            try:
                await session.files.send(jid, path)
            except TransferCancelled as cancelled:
                self.app.notify(f"{cancelled} Nothing was sent.", title="Upload cancelled")
            except FileError as error:
                self.app.notify(str(error), title="File not sent", severity="error", timeout=20)
            except Exception:  # never a traceback in front of the user
                log.exception("sending a file failed")
                self.app.notify("The file was not sent (unexpected error); try again, and if it keeps "
                                "failing, restart the client.", title="File not sent",
                                severity="error", timeout=20)

        def chosen(path: Path | None) -> None:
            if path is not None:
                self.app.run_worker(send(path), group="files")

        self.app.push_screen(AttachDialog(self._peer_name(jid), limit), chosen)

    def action_cancel_transfer(self) -> None:
        """Ctrl+G: cancel the newest upload or download of the open conversation."""
        if self.open_jid is not None:
            cancel_newest(self.session, self.session.files.running(self.open_jid), self.notify)

    def action_files(self) -> None:
        """Ctrl+L: the files of the open conversation."""
        if self.open_jid is None:
            return
        self.app.push_screen(FilesScreen(self.session, self.open_jid,
                                         f"Files with {self._peer_name(self.open_jid)}"))
